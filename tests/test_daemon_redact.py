"""Credentials in URLs never reach what the daemon shows or logs."""

from __future__ import annotations

import io
import logging

from emoedge.daemon.redact import RedactingFilter, install_log_redaction, redact


def test_redact_hides_passwords_and_lone_tokens_keeps_the_rest():
    assert redact("rtsp://admin:hunter2@10.0.0.5:554/s1") == "rtsp://admin:***@10.0.0.5:554/s1"
    assert redact("cannot open stream rtsp://u:p@ss@cam/x (timeout)") == (
        "cannot open stream rtsp://u:***@cam/x (timeout)"
    )
    assert redact("https://ghp_TOKEN@host/feed") == "https://***@host/feed"
    assert redact("rtsp://10.0.0.5/s1 and /dev/video0 and user@example.com") == (
        "rtsp://10.0.0.5/s1 and /dev/video0 and user@example.com"
    )


def test_log_records_are_redacted_on_the_handler_messages_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("emoedge.test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        install_log_redaction(logger)
        install_log_redaction(logger)  # idempotent
        assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
        logger.warning("source %s: failed", "rtsp://admin:hunter2@cam/1")
        try:
            raise OSError("cannot open rtsp://admin:hunter2@cam/1")
        except OSError:
            logger.exception("reader failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "hunter2" not in text
    assert "source rtsp://admin:***@cam/1: failed" in text
    assert "OSError: cannot open rtsp://admin:***@cam/1" in text
