"""FPS against the peer in alternating turns: a ratio that slow minutes cannot move.

Each variant's own FPS row comes from its own process, one after the other, and
this machine ran the same rounds up to ~25% slower in some minutes than in
others (benchmarks/results/classifier_threads_2026-11-27.md). A row and the
peer, measured minutes apart, can then differ by that much for reasons of
neither. Here one build and the peer are loaded into one process (a process per
build: with all runtimes in one process, OpenVINO and ONNX Runtime builds ran
25-35% below their own rows) and take turns, the order alternating from round
to round. Every turn lasts about as long as one of the peer's passes (ours runs
as many whole passes as fit), starts with a few unrecorded frames, and has no
pause before it (a pause let thread pools fall asleep and slowed our short
passes more than the peer's long one). The ratio is taken per round, between
turns a second apart, and the median over rounds is reported with its spread.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from emoedge.bench.pipeline_fps import read_frame

PEER = "fer-tflite"
TURN_WARMUP_FRAMES = 5


def _passes_fps(run: Callable, frames: list[Path], passes: int) -> float:
    start = time.perf_counter()
    for _ in range(passes):
        for path in frames:
            run(read_frame(path))
    return passes * len(frames) / (time.perf_counter() - start)


def race(job: dict) -> dict:
    """Per-round FPS of the build `job["build"]` (under `job["key"]`) and of the peer."""
    from emoedge.bench.peer import _make
    from emoedge.targets.pipeline import Pipeline

    frames = [Path(p) for p in job["frames"]]
    pipeline = Pipeline.from_build(Path(job["build"]), smoothing="ema")
    runners: dict[str, Callable] = {
        job["key"]: pipeline,
        PEER: _make(use_tflite=True).detect_emotions,
    }
    pass_seconds = {
        name: len(frames) / _passes_fps(run, frames, 1) for name, run in runners.items()
    }
    longest = max(pass_seconds.values())
    passes = {name: max(1, round(longest / seconds)) for name, seconds in pass_seconds.items()}
    names = list(runners)
    fps: dict[str, list[float]] = {name: [] for name in names}
    for round_index in range(job["rounds"]):
        order = names if round_index % 2 == 0 else names[::-1]
        for name in order:
            if runners[name] is pipeline:
                pipeline.reset()  # each turn starts with no face tracks, as the first did
            for path in frames[:TURN_WARMUP_FRAMES]:
                runners[name](read_frame(path))
            fps[name].append(_passes_fps(runners[name], frames, passes[name]))
    ratio = [ours / peer for ours, peer in zip(fps[job["key"]], fps[PEER], strict=True)]
    return {
        "peer": PEER,
        "rounds": job["rounds"],
        "frames": len(frames),
        "passes_per_turn": passes,
        "fps": fps,
        "ratio": ratio,
        "ratio_median": statistics.median(ratio),
    }
