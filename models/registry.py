"""A name -> builder registry, in the spirit of timm's: architectures register themselves.

Builders take keyword options (input size, width, classes) and return an
uncompiled Keras model whose input is the output of `emoedge.data.preprocess`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from emoedge.data.preprocess import PreprocessSpec
from emoedge.errors import UserInputError
from emoedge.labels import NUM_CLASSES


@dataclass(frozen=True)
class ModelSpec:
    """A registered architecture: how to build it and how its inputs are prepared."""

    name: str
    builder: Callable[..., Any]
    description: str
    default_input: PreprocessSpec
    options: dict[str, Any] = field(default_factory=dict)


_REGISTRY: dict[str, ModelSpec] = {}
# Modules that register architectures when imported; kept lazy so that listing
# names never imports TensorFlow.
_ARCHITECTURE_MODULES = ("emoedge.models.mini_xception", "emoedge.models.mobilenet_v2")


def register_model(spec: ModelSpec) -> ModelSpec:
    _REGISTRY[spec.name] = spec
    return spec


def _load_all() -> None:
    for module in _ARCHITECTURE_MODULES:
        importlib.import_module(module)


def list_models() -> list[ModelSpec]:
    _load_all()
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def get_spec(name: str) -> ModelSpec:
    _load_all()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise UserInputError(f"unknown model {name!r}; known models: {known}") from None


def build_model(
    name: str,
    input_size: int | None = None,
    num_classes: int = NUM_CLASSES,
    **options: Any,
):
    """Build an untrained Keras model by registry name.

    `input_size` overrides the architecture's default square input; other options
    go to the builder (e.g. `alpha` for MobileNetV2).
    """
    spec = get_spec(name)
    preprocess = spec.default_input
    if input_size is not None:
        preprocess = PreprocessSpec(
            height=input_size,
            width=input_size,
            channels=preprocess.channels,
            scale=preprocess.scale,
            margin=preprocess.margin,
        )
    merged = {**spec.options, **options}
    return spec.builder(input_shape=preprocess.input_shape, num_classes=num_classes, **merged)


def with_input_size(model, height: int, width: int):
    """The same trained model taking `height`x`width` inputs: progressive resizing
    (train small and cheap, finish larger) fine-tunes a model at a new input size.
    Convolution weights do not depend on the input size, so the architecture is
    rebuilt from the model's own config with its input layers resized and the
    weights copied across; nothing about the architecture is re-stated, so any
    model whose weights fit (global pooling before the head) can be resized. The
    layers' recorded build shapes are dropped: they are the old size's."""

    def resized(node):
        if isinstance(node, dict):
            out = {}
            for key, value in node.items():
                if key == "build_config":
                    continue
                if key == "batch_shape" and isinstance(value, list | tuple) and len(value) == 4:
                    value = [value[0], height, width, value[3]]
                out[key] = resized(value)
            return out
        if isinstance(node, list | tuple):
            return [resized(value) for value in node]
        return node

    try:
        rebuilt = model.__class__.from_config(resized(model.get_config()))
        rebuilt.set_weights(model.get_weights())
    except ValueError as exc:  # a Flatten before the head ties the weights to one size
        raise UserInputError(
            f"{model.name} cannot take {height}x{width} inputs: its weights depend on "
            f"its input size ({exc})"
        ) from exc
    return rebuilt


def count_macs(model) -> int:
    """Multiply-accumulates of one forward pass, counted from the layer shapes.

    Counts convolutions (plain, depthwise, separable) and dense layers, which hold
    all but a negligible share of the work in these architectures.
    """
    return sum(layer_macs(layer) for layer in model.layers)


def layer_macs(layer) -> int:
    """One layer's share of `count_macs` (a nested backbone counts all of its own)."""
    import keras

    if isinstance(layer, keras.Model):  # a nested backbone, e.g. keras.applications
        return count_macs(layer)
    if isinstance(layer, keras.layers.SeparableConv2D):
        out_h, out_w, out_c = layer.output.shape[1:]
        kh, kw = layer.kernel_size
        in_c = layer.input.shape[-1]
        return int(out_h * out_w * (kh * kw * in_c + in_c * out_c))
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        out_h, out_w, out_c = layer.output.shape[1:]
        kh, kw = layer.kernel_size
        return int(out_h * out_w * kh * kw * out_c)
    if isinstance(layer, keras.layers.Conv2D):
        out_h, out_w, out_c = layer.output.shape[1:]
        kh, kw = layer.kernel_size
        in_c = layer.input.shape[-1]
        return int(out_h * out_w * kh * kw * in_c * out_c // layer.groups)
    if isinstance(layer, keras.layers.Dense):
        return int(layer.input.shape[-1] * layer.units)
    return 0
