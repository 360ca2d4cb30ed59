"""Training-time augmentation: one random affine warp per image, then photometric
jitter and random erasing, applied to whole batches inside tf.data.

Why not Keras' preprocessing layers: RandomRotation, RandomTranslation and
RandomZoom each resample the image (three warps and three interpolations per
face), and ran as one serial map; on 2 CPU cores that stage cost as much as the
model's own forward pass at 48x48. Composing flip, rotation, shear, zoom and
shift into one 3x3 matrix per image gives the same distribution of geometry
with a single `ImageProjectiveTransformV3` call.

Inputs are already in the model's scale (-1..1 or 0..1); brightness, contrast
and the erased patch work in that range. Borders are filled with the nearest
pixel (a face crop's edge continues, it does not turn black).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from emoedge.errors import UserInputError


@dataclass(frozen=True)
class AugmentPolicy:
    """Ranges of the random transforms; each is drawn uniformly per image.

    `rotation_degrees` ± around the centre, `shear` ± (x shift per unit of y),
    `zoom` ± relative scale, `shift` ± fraction of the side, `flip` horizontal
    with probability 0.5; `brightness` ± fraction of the value range,
    `contrast` ± relative; `erase` the probability of blanking one rectangle of
    2-20% of the face (random erasing, Zhong et al. 2020).
    """

    rotation_degrees: float = 0.0
    shear: float = 0.0
    zoom: float = 0.0
    shift: float = 0.0
    flip: bool = True
    brightness: float = 0.0
    contrast: float = 0.0
    erase: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


# "mild" is the zoo's recipe until 2026-12 (rotation 0.04 turn, shift 0.08, zoom
# 0.1, contrast 0.3, brightness 0.15); "strong" approaches the public 0.17M-param
# FER+ recipe (rotation 30, shift/shear/zoom 0.2) scaled back for a 60k model.
AUGMENT_POLICIES: dict[str, AugmentPolicy | None] = {
    "none": None,
    "mild": AugmentPolicy(
        rotation_degrees=14.4, zoom=0.1, shift=0.08, brightness=0.15, contrast=0.3
    ),
    "strong": AugmentPolicy(
        rotation_degrees=20.0,
        shear=0.1,
        zoom=0.15,
        shift=0.1,
        brightness=0.2,
        contrast=0.3,
        erase=0.25,
    ),
}


def augment_policy(name: str) -> AugmentPolicy | None:
    try:
        return AUGMENT_POLICIES[name]
    except KeyError:
        known = ", ".join(AUGMENT_POLICIES)
        raise UserInputError(f"unknown augmentation {name!r}; expected one of: {known}") from None


def make_augmenter(
    policy: AugmentPolicy, seed: int, value_range: tuple[float, float] = (-1.0, 1.0)
):
    """A function (batch NHWC float32) -> augmented batch, for `Dataset.map`."""
    import tensorflow as tf

    low, high = value_range
    span = high - low
    generator = tf.random.Generator.from_seed(seed)

    def uniform(n, limit):
        return generator.uniform([n], -limit, limit)

    # plain TensorFlow ops and Python-level branches on the policy: nothing for
    # AutoGraph to convert (it warns that it cannot, on every run, otherwise)
    @tf.autograph.experimental.do_not_convert
    def augment(images):
        n = tf.shape(images)[0]
        height = tf.cast(tf.shape(images)[1], tf.float32)
        width = tf.cast(tf.shape(images)[2], tf.float32)
        angle = uniform(n, policy.rotation_degrees * math.pi / 180.0)
        shear = uniform(n, policy.shear)
        scale = 1.0 + uniform(n, policy.zoom)
        flip = tf.where(generator.uniform([n]) < 0.5, -1.0, 1.0) if policy.flip else tf.ones([n])
        cos, sin = tf.cos(angle), tf.sin(angle)
        # output pixel -> input pixel: zoom . rotation . shear . flip about the centre
        m00 = scale * cos * flip
        m01 = scale * (cos * shear - sin)
        m10 = scale * sin * flip
        m11 = scale * (sin * shear + cos)
        cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
        tx = uniform(n, policy.shift) * width
        ty = uniform(n, policy.shift) * height
        a2 = cx - m00 * cx - m01 * cy + tx
        b2 = cy - m10 * cx - m11 * cy + ty
        zeros = tf.zeros([n])
        transforms = tf.stack([m00, m01, a2, m10, m11, b2, zeros, zeros], axis=1)
        out = tf.raw_ops.ImageProjectiveTransformV3(
            images=images,
            transforms=transforms,
            output_shape=tf.shape(images)[1:3],
            fill_value=0.0,
            interpolation="BILINEAR",
            fill_mode="NEAREST",
        )
        if policy.contrast:
            factor = tf.reshape(1.0 + uniform(n, policy.contrast), [-1, 1, 1, 1])
            mean = tf.reduce_mean(out, axis=[1, 2, 3], keepdims=True)
            out = (out - mean) * factor + mean
        if policy.brightness:
            out = out + tf.reshape(uniform(n, policy.brightness * span), [-1, 1, 1, 1])
        if policy.erase:
            out = _erase(generator, out, policy.erase, (low + high) / 2.0, height, width)
        return tf.clip_by_value(out, low, high)

    return augment


def _erase(generator, images, probability: float, fill: float, height, width):
    """Blank one rectangle (2-20% of the area, aspect 0.3-3.3) in a share of the images."""
    import tensorflow as tf

    n = tf.shape(images)[0]
    area = generator.uniform([n], 0.02, 0.2) * height * width
    log_aspect = generator.uniform([n], math.log(0.3), math.log(1 / 0.3))
    aspect = tf.exp(log_aspect)
    half_h = tf.sqrt(area * aspect) / 2.0
    half_w = tf.sqrt(area / aspect) / 2.0
    centre_y = generator.uniform([n]) * height
    centre_x = generator.uniform([n]) * width
    rows = tf.reshape(tf.range(height), [1, -1, 1, 1])
    cols = tf.reshape(tf.range(width), [1, 1, -1, 1])
    inside = (
        tf.abs(rows - tf.reshape(centre_y, [-1, 1, 1, 1])) < tf.reshape(half_h, [-1, 1, 1, 1])
    ) & (tf.abs(cols - tf.reshape(centre_x, [-1, 1, 1, 1])) < tf.reshape(half_w, [-1, 1, 1, 1]))
    chosen = tf.reshape(generator.uniform([n]) < probability, [-1, 1, 1, 1])
    return tf.where(inside & chosen, tf.cast(fill, images.dtype), images)
