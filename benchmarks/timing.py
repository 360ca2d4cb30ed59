"""Timing helpers the benchmark scripts share: one module, not one script importing
another (`from timing import ...` works since each script runs from this folder).

LiteRT-specific ones take a .tflite path; nothing here imports TensorFlow.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import numpy as np


def median_us(call, repeats: int = 3000) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def one_thread_interpreter(model_file: str | Path):
    """A LiteRT interpreter at 1 thread with a zero input set, ready to `invoke()`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_file), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    return interpreter


def invoke_us_in_turns(interpreters: list, rounds: int, warmup: int, repeats: int) -> list[float]:
    """Median `invoke()` us of each interpreter over `rounds` turns in which each is
    warmed up and timed once: this machine's speed drifts within minutes, and turns
    give every model the same minutes."""
    samples: list[list[float]] = [[] for _ in interpreters]
    for _ in range(rounds):
        for index, interpreter in enumerate(interpreters):
            for _ in range(warmup):
                interpreter.invoke()
            samples[index].append(median_us(interpreter.invoke, repeats=repeats))
    return [statistics.median(times) for times in samples]


def cached_int8_peak() -> float | None:
    """This machine's int8 GMAC/s at 1 thread as `emoedge bench` measured and cached it
    (None before the first bench here)."""
    from emoedge.bench.fingerprint import device_fingerprint, fingerprint_slug
    from emoedge.cache import cache_dir

    cached = cache_dir("bench") / f"peak-{fingerprint_slug(device_fingerprint())}.json"
    return json.loads(cached.read_text()).get("int8_1t_gmacs") if cached.is_file() else None
