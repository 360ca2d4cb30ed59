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


def quantize_input(batch: np.ndarray, scale: float, zero_point: int, dtype) -> np.ndarray:
    info = np.iinfo(dtype)
    q = np.round(batch / scale) + zero_point
    return np.clip(q, info.min, info.max).astype(dtype)


def dequantize_output(values: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    return (values.astype(np.float32) - zero_point) * scale
