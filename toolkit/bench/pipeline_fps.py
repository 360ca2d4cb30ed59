"""End-to-end FPS of a build's whole pipeline on a fixed sequence of photos.

Each frame is read from disk (decode counts), then detect, crop + classify and
smooth run through `Pipeline` exactly as `emoedge run` does. The photos are
visited in sorted order, every pass the same, so two variants (and the peer)
see identical frames. `other` is what the stages' own timers do not cover.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

from emoedge.errors import UserInputError


def frame_paths(folder: Path, limit: int | None = None) -> list[Path]:
    from emoedge.data.images import IMAGE_SUFFIXES, is_image_file

    folder = Path(folder)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: frames folder not found")
    paths = sorted(p for p in folder.iterdir() if is_image_file(p))
    if not paths:
        raise UserInputError(f"{folder}: no photos ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return paths[:limit] if limit else paths


def read_frame(path: Path):
    import cv2

    from emoedge.data.images import read_image

    return read_image(path, cv2.IMREAD_COLOR)


def summarise(
    frames: int,
    faces: int,
    wall_s: float,
    stages: dict[str, float],
    pass_seconds: list[float] | None = None,
) -> dict:
    """FPS is the median over passes: one pass over the photos lasts a fraction of
    a second, and a single scheduler hiccup in it moved a whole row by 10-20%."""
    covered = sum(stages.values())
    stages = {**stages, "other": max(0.0, wall_s * 1000.0 - covered)}
    total = sum(stages.values()) or 1.0
    pass_seconds = pass_seconds or [wall_s]
    per_pass = frames / len(pass_seconds)
    pass_fps = [per_pass / seconds if seconds > 0 else 0.0 for seconds in pass_seconds]
    return {
        "frames": frames,
        "faces": faces,
        "seconds": wall_s,
        "fps": float(statistics.median(pass_fps)),
        "pass_fps": pass_fps,
        "ms_per_frame": wall_s * 1000.0 / max(frames, 1),
        "stage_ms": {k: v / max(frames, 1) for k, v in stages.items()},
        "stage_share": {k: v / total for k, v in stages.items()},
    }


def timed_passes(
    paths: list[Path],
    passes: int,
    stage_names: tuple[str, ...],
    step: Callable[[object], tuple[int, dict[str, float]]],
) -> dict:
    """One timing loop for our pipeline and the peer, so both rows count decode,
    frames and passes alike; `step(image)` returns (faces found, {stage: ms})."""
    stages = dict.fromkeys(("decode", *stage_names), 0.0)
    frames = faces = 0
    pass_seconds = []
    start = time.perf_counter()
    for _ in range(passes):
        pass_start = time.perf_counter()
        for path in paths:
            t0 = time.perf_counter()
            image = read_frame(path)
            stages["decode"] += (time.perf_counter() - t0) * 1000.0
            found, timings = step(image)
            for name, ms in timings.items():
                stages[name] += ms
            frames += 1
            faces += found
        pass_seconds.append(time.perf_counter() - pass_start)
    return summarise(frames, faces, time.perf_counter() - start, stages, pass_seconds)


def pipeline_fps(
    build: Path, paths: list[Path], passes: int = 1, warmup: int = 3, threads: int | None = None
) -> dict:
    from emoedge.targets.pipeline import Pipeline

    pipeline = Pipeline.from_build(build, threads=threads, smoothing="ema")
    for path in paths[:warmup]:
        pipeline(read_frame(path))
    pipeline.reset()

    def step(image) -> tuple[int, dict[str, float]]:
        result = pipeline(image)
        timings = result.timings
        return len(result.faces), {
            "detect": timings["detect"],
            "classify": timings["classify"],
            "smooth": timings["track"],
        }

    summary = timed_passes(paths, passes, ("detect", "classify", "smooth"), step)
    summary["detector"] = pipeline.detector.name
    return summary
