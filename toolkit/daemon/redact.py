"""Credentials in URLs, kept out of everything the daemon shows or logs.

An IP camera is usually `rtsp://admin:password@192.168.1.20/stream`: the config
needs the password, but /v1/status, `emoedge daemon check`, the journal and
systemd's STATUS= line are read by people and tools that must not learn it.
The source's own modules (OpenCV readers) put the URL into their messages and
logs too, so the daemon redacts twice: the texts it builds (`redact`) and every
log record on its handlers (`RedactingFilter`), whichever module logged it.
"""

from __future__ import annotations

import logging
import re

#: scheme://userinfo@ — greedy up to the last "@" before the path, so a password
#: typed with a raw "@" in it is hidden whole.
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/\s?#]*)@")


def _hide(match: re.Match[str]) -> str:
    user, sep, _password = match.group(2).partition(":")
    # user:password keeps the user (it helps to know which account); a lone
    # userinfo may itself be a token, so it goes whole.
    return f"{match.group(1)}{user}:***@" if sep else f"{match.group(1)}***@"


def redact(text: str) -> str:
    """`text` with the password (or lone token) of every URL in it replaced by ***."""
    return _USERINFO.sub(_hide, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message and traceback with `redact` before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install_log_redaction(logger: logging.Logger | None = None) -> None:
    """Add `RedactingFilter` to every handler of `logger` (the root logger by default).

    On the handlers, not the logger: a logger's filters do not see records that
    propagate up from other loggers (OpenCV's reader logs under emoedge.targets).
    """
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
