"""Run one measurement in a fresh spawned process and report its peak resident memory.

A process per variant keeps one variant's memory (TensorFlow, a runtime's
arenas) out of the next one's figure, and a crash in one runtime out of the
table: it becomes that row's failure reason.
"""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any


def peak_rss_mb() -> float | None:
    """This process's peak resident set (VmHWM) in MiB, from /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def quiet_library_notices() -> None:
    """Silence notices the libraries print on every run, not about the measurement:
    the peer builds a `tf.lite.Interpreter` (deprecated in favour of LiteRT's) and
    Keras models are called with bare arrays rather than dicts of named inputs."""
    warnings.filterwarnings("ignore", message=r"(?s).*tf\.lite\.Interpreter is deprecated")
    warnings.filterwarnings("ignore", message="The structure of `inputs` doesn't match")


def _child(func: Callable[..., dict], args: tuple) -> dict:
    quiet_library_notices()
    result = func(*args)
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_isolated(func: Callable[..., dict], *args: Any) -> dict:
    """`func(*args)` in a spawned child; its dict gains `peak_rss_mb`.

    Exceptions come back as themselves; a child that dies (segfault, OOM kill)
    raises `RuntimeError` naming how it ended.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        try:
            return pool.submit(_child, func, args).result()
        except BrokenProcessPool as exc:
            raise RuntimeError(f"measurement process died ({exc})") from None
