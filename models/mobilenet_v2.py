"""MobileNetV2 (keras.applications, weights=None) on grayscale faces.

No ImageNet weights can be downloaded here, so it trains from scratch; the width
multiplier `alpha` and the input size trade accuracy for the int8 size budget.
"""

from __future__ import annotations

from emoedge.data.preprocess import PreprocessSpec
from emoedge.models.registry import ModelSpec, register_model


def build_mobilenet_v2(
    input_shape: tuple[int, int, int] = (64, 64, 1),
    num_classes: int = 8,
    alpha: float = 0.5,
    dropout: float = 0.2,
    bn_momentum: float = 0.99,
):
    import keras
    from keras import layers

    inputs = keras.Input(shape=input_shape, name="image")
    backbone = keras.applications.MobileNetV2(
        input_shape=input_shape,
        alpha=alpha,
        include_top=False,
        weights=None,
        pooling="avg",
    )
    # keras.applications uses BatchNorm momentum 0.999, tuned for ImageNet-length
    # runs; from scratch on FER+ (~400 steps an epoch) the moving statistics lag
    # so far behind that validation predicts one class for epochs.
    for layer in backbone.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = bn_momentum
    x = backbone(inputs)
    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    outputs = layers.Dense(num_classes, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name=f"mobilenet_v2_{alpha:g}")


register_model(
    ModelSpec(
        name="mobilenet_v2",
        builder=build_mobilenet_v2,
        description="MobileNetV2 from scratch, width 0.5, grayscale 64x64 (both configurable)",
        default_input=PreprocessSpec(height=64, width=64, channels=1, scale="symmetric"),
        options={"alpha": 0.5},
    )
)
