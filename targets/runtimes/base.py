"""The runtime interface: load a build, turn preprocessed faces into probabilities."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

import numpy as np

from emoedge.build import Build


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

    @abstractmethod
    def predict(self, batch: np.ndarray) -> np.ndarray: ...

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
