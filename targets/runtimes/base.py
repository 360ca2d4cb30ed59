"""The runtime interface: load a build, turn preprocessed faces into probabilities."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

from emoedge.targets.manifest import Build


class Runtime(ABC):
    """One inference engine. `predict` takes float32 (N, H, W, C) from `preprocess`
    and returns float32 (N, num_classes) probabilities; quantizing an int8 input is
    the runtime's job, using the scale and zero point the model itself carries."""

    name: str = "base"

    def __init__(self, threads: int | None = None) -> None:
        # None or 0: every core the process may use. More threads than cores (a Pi
        # profile's 4 on a 2-core box) only adds contention, so the count is capped.
        cores = len(os.sched_getaffinity(0))
        self.threads = min(threads or cores, cores)
        self.build: Build | None = None

    @abstractmethod
    def load(self, build: Build) -> Runtime: ...

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Probabilities for a batch, or for one face given as (H, W, C). Every
        runtime opens the same way: float32, C-contiguous (what the engines read
        without a copy), at least one face (an empty batch never reaches an engine
        that cannot take one), one row per face out."""
        if self.build is None:
            raise RuntimeError(f"{type(self).__name__}.predict before load")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        if len(batch) == 0:
            return np.zeros((0, len(self.build.labels)), np.float32)
        return np.asarray(self._predict(batch), dtype=np.float32).reshape(len(batch), -1)

    @abstractmethod
    def _predict(self, batch: np.ndarray) -> np.ndarray:
        """The engine's call on a float32 (N, H, W, C) batch with N >= 1."""

    def io_shape(self) -> tuple[tuple[int | None, ...], int | None]:
        """The loaded model's declared input per face (H, W, C; None where dynamic)
        and its number of outputs per face (None when dynamic)."""
        raise NotImplementedError

    def check_against_manifest(self) -> None:
        """Refuse a model that cannot be what its manifest says: fed the manifest's
        crops, a model for another input size or label count failed at the first
        face with the engine's own traceback, or (OpenVINO, one face) took a
        same-sized buffer of another layout and answered wrongly without an error."""
        from emoedge.errors import ManifestError

        build = self.build
        face, classes = self.io_shape()
        # a bare model file (`emoedge compare`) has no preprocessing of its own to
        # hold the model to; its labels still are
        recorded = build.manifest.preprocess
        expected = face if recorded is None else build.preprocess.input_shape
        if len(face) != len(expected) or any(
            d is not None and d != e for d, e in zip(face, expected, strict=False)
        ):
            shown = "x".join("?" if d is None else str(d) for d in face)
            raise ManifestError(
                f"{build.root}: the model takes {shown} inputs, the manifest's preprocessing "
                f"{'x'.join(map(str, expected))}; rebuild it with emoedge export"
            )
        if classes is not None and classes != len(build.labels):
            raise ManifestError(
                f"{build.root}: the model has {classes} outputs, the manifest "
                f"{len(build.labels)} labels; rebuild it with emoedge export"
            )

    def describe(self) -> dict:
        return {"runtime": self.name, "threads": self.threads}


# Wider than float32's error on a half step (~1e-5 of a step), far below anything
# that matters for inputs that do not sit on half steps.
HALF_STEP_TOLERANCE = 1e-3


def quantize_input(batch: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    """Float model input to the model's integer codes, rounding half a step up.

    Not numpy's round-half-to-even: the symmetric preprocessing (pixel / 127.5 - 1)
    puts every gray level exactly half a step between two int8 codes (scale 2/255
    and an integer zero point, which is what the TFLite converter picks for -1..1),
    and rounding those halves to even, under float32 error, sent 41 of the 256
    levels onto a neighbour's code. Rounding them up keeps 256 levels on 256 codes
    (code = pixel - 128), at a constant offset of half a step.
    """
    info = np.iinfo(dtype)
    steps = np.asarray(batch, dtype=np.float64) / scale
    q = np.floor(steps + 0.5 + HALF_STEP_TOLERANCE) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (values.astype(np.float32) - zero_point) * scale
