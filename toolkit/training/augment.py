"""Training-time augmentation as Keras layers, applied to batches inside tf.data.

Flip, small rotation, shift/zoom and brightness/contrast: the variation a face
detector's crops show on a device. Inputs are already in the model's scale
(-1..1 or 0..1), so brightness works in that range.
"""

from __future__ import annotations


def make_augmenter(seed: int, value_range: tuple[float, float] = (-1.0, 1.0)):
    import keras
    from keras import layers

    return keras.Sequential(
        [
            layers.RandomFlip("horizontal", seed=seed),
            layers.RandomRotation(0.04, fill_mode="nearest", seed=seed + 1),
            layers.RandomTranslation(0.08, 0.08, fill_mode="nearest", seed=seed + 2),
            layers.RandomZoom((-0.1, 0.1), fill_mode="nearest", seed=seed + 3),
            layers.RandomContrast(0.3, value_range=value_range, seed=seed + 4),
            layers.RandomBrightness(0.15, value_range=value_range, seed=seed + 5),
        ],
        name="augment",
    )
