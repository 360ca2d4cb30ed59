"""Native libraries' own stderr, kept for the debug log.

TensorFlow, its converters and LiteRT print from C++ straight to file descriptor
2, past Python's logging. Standard library only, apart from `emoedge.tf_env`, so
the device side (LiteRT's XNNPACK notice) uses it without TensorFlow anywhere in
its import graph (the import-linter contracts in pyproject.toml check that).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_native_stderr_captured(action: Callable[[], T]) -> T:
    """Run `action` with file descriptor 2 pointing at a temporary file: for the
    C++ side of TensorFlow and its converters, which print past Python's logging."""
    if os.environ.get("EMOEDGE_TF_LOGS") == "1":
        return action()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        failed = True
        try:
            result = action()
            failed = False
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            text = captured.read().decode(errors="replace").strip()
            if text and failed:
                sys.stderr.write(text + "\n")
            elif text:
                name = getattr(action, "__qualname__", repr(action))
                log.debug("%s wrote to stderr:\n%s", name, text)
    return result
