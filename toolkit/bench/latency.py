"""Classifier latency: one face per call (the common case on a camera), after warm-up."""

from __future__ import annotations

import time

import numpy as np


def measure_latency(predict, faces: np.ndarray, warmup: int, iterations: int) -> dict:
    """p50/p95/mean in ms of `predict` on single-face batches cycling through `faces`."""
    for i in range(warmup):
        predict(faces[i % len(faces)][None])
    samples = np.empty(iterations)
    for i in range(iterations):
        face = faces[i % len(faces)][None]
        start = time.perf_counter()
        predict(face)
        samples[i] = (time.perf_counter() - start) * 1000.0
    return {
        "p50_ms": float(np.percentile(samples, 50)),
        "p95_ms": float(np.percentile(samples, 95)),
        "mean_ms": float(samples.mean()),
        "iterations": iterations,
        "warmup": warmup,
    }
