"""The `emoedge` command line: one module per command group, wired together here.

Only the CLI turns exceptions into exit codes (`common.user_errors`): a
`UserInputError` becomes one red line and exit code 2, with no traceback.
"""

from __future__ import annotations

import importlib
import logging

import typer
from rich.logging import RichHandler

from emoedge.cli.common import console

HELP = """Facial emotion recognition from FER+ training to int8 builds on edge devices.

The flow, one command per step:

\b
  1. emoedge data inspect DIR      look at a FER+ (or folder-per-class) dataset
  2. emoedge train                 train mini_xception or mobilenet_v2 on FER+
  3. emoedge evaluate MODEL        accuracy, macro-F1, confusion matrix on a split
  4. emoedge export --target T     quantize to int8 and write a build for rpi | jetson | x86
  5. emoedge compare FLOAT QUANT   what int8 costs, per class
  6. emoedge run BUILD --source S  detect, classify and track faces on a device
  7. emoedge bench                 size, accuracy, latency and FPS per format
  8. emoedge daemon run CONFIG     the long-lived device service (HTTP, MQTT, event log)

On a device, `emoedge doctor BUILD` first: does this install run that build?

Models are a .keras file or zoo:<name> (see `emoedge models list`).
"""

app = typer.Typer(
    help=HELP,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

# Command modules register themselves on `app` when imported. A module whose
# optional dependencies are missing still leaves the rest of the CLI usable.
COMMAND_MODULES = (
    "emoedge.cli.data",
    "emoedge.cli.train",
    "emoedge.cli.evaluate",
    "emoedge.cli.models",
    "emoedge.cli.export",
    "emoedge.cli.compare",
    "emoedge.cli.run",
    "emoedge.cli.bench",
    "emoedge.cli.daemon",
    "emoedge.cli.doctor",
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug detail."),
) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False)
    if not verbose:
        handler.addFilter(_ours_or_a_warning)
        _quiet_opencv()
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[handler],
        force=True,
    )


def _ours_or_a_warning(record: logging.LogRecord) -> bool:
    """Without --verbose, other libraries' INFO stays out of the way: the converters
    (TensorFlow, tf2onnx, ONNX Runtime's quantizer, some through the root logger) log
    every step of every export at INFO."""
    return record.levelno >= logging.WARNING or record.name.startswith("emoedge")


def _quiet_opencv() -> None:
    """OpenCV's native warnings ("Stream timeout triggered" before a stream fails to
    open) and FFmpeg's own log lines ("[tcp @ 0x...] Connection refused") go straight
    to stderr; our own message names the problem. FFmpeg reads its level when OpenCV
    first opens a capture, so setting it here, before any, is in time;
    OPENCV_FFMPEG_LOGLEVEL set by the user wins."""
    import os

    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET


for _module in COMMAND_MODULES:
    importlib.import_module(_module)


def main() -> None:
    """Console entry point (`emoedge`)."""
    app()
