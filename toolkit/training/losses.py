"""Losses and class weights for FER+'s skewed classes (contempt and disgust are <1%)."""

from __future__ import annotations

import numpy as np

from emoedge.labels import NUM_CLASSES


def class_weights(labels: np.ndarray, scheme: str) -> np.ndarray:
    """Per-class weights, mean 1 over the samples.

    'balanced' is inverse frequency; 'sqrt' its square root, which helps the rare
    classes without letting 116 disgust images dominate the gradient.
    """
    counts = np.bincount(labels, minlength=NUM_CLASSES).astype(np.float64)
    counts = np.maximum(counts, 1)
    if scheme == "none":
        weights = np.ones(NUM_CLASSES)
    elif scheme == "balanced":
        weights = counts.sum() / (NUM_CLASSES * counts)
    elif scheme == "sqrt":
        weights = np.sqrt(counts.sum() / (NUM_CLASSES * counts))
    else:
        raise ValueError(scheme)
    weights /= (weights[labels]).mean()
    return weights.astype(np.float32)


def make_loss(name: str, label_smoothing: float = 0.0):
    import keras

    if name in ("soft_ce", "ce"):
        return keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing)
    if name == "focal":
        return keras.losses.CategoricalFocalCrossentropy(gamma=2.0, label_smoothing=label_smoothing)
    raise ValueError(name)
