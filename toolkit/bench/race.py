"""FPS against the peer with passes alternating in one process: a ratio slow minutes cannot move.

Each variant's own FPS row comes from its own process, one after the other, and
this machine ran the same rounds up to ~25% slower in some minutes than in
others (benchmarks/results/classifier_threads_2026-11-27.md). Two rows measured
minutes apart, or a row and the peer, can then differ by that much for reasons
of neither. Here every int8 build and the peer are loaded into one process and
each round runs one pass over the photos for each of them in turn, the order
rotating from round to round, after one unrecorded pass each; a ratio is taken
between passes seconds apart, per round, and the median over rounds is reported
with its spread.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from emoedge.bench.pipeline_fps import read_frame

PEER = "fer-tflite"


# Before each pass: lets the previous contender's runtime threads stop spinning, so
# that one runtime's idle pool does not slow the next one's pass.
SETTLE_S = 0.1


def _one_pass(run: Callable, frames: list[Path]) -> float:
    time.sleep(SETTLE_S)
    start = time.perf_counter()
    for path in frames:
        run(read_frame(path))
    return len(frames) / (time.perf_counter() - start)


def race(job: dict) -> dict:
    """Per-round FPS of each build in `job["builds"]` ({key: path}) and of the peer."""
    from emoedge.bench.peer import _make
    from emoedge.targets.pipeline import Pipeline

    frames = [Path(p) for p in job["frames"]]
    runners: dict[str, Callable] = {}
    for key, build in job["builds"].items():
        pipeline = Pipeline.from_build(Path(build), smoothing="ema")
        runners[key] = pipeline
    runners[PEER] = _make(use_tflite=True).detect_emotions
    names = list(runners)
    for name in names:  # one unrecorded pass each: the first pass after loading ran slow for all
        _one_pass(runners[name], frames)
    fps: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(job["rounds"]):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            if isinstance(runners[name], Pipeline):
                runners[name].reset()
            fps[name].append(_one_pass(runners[name], frames))
    ratios = {
        name: [ours / peer for ours, peer in zip(fps[name], fps[PEER], strict=True)]
        for name in names
        if name != PEER
    }
    return {
        "peer": PEER,
        "rounds": job["rounds"],
        "frames": len(frames),
        "fps": fps,
        "ratio": ratios,
        "ratio_median": {name: statistics.median(values) for name, values in ratios.items()},
    }
