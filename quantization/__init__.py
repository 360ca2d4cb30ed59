"""Post-training quantization, one module per model format, chosen by format name.

Backends load lazily: asking for "tflite" never imports OpenVINO or NNCF.
"""

from __future__ import annotations

import importlib

from emoedge.errors import UserInputError
from emoedge.quantization.base import (
    PRECISIONS,
    Artifact,
    CalibrationSet,
    Quantizer,
)

QUANTIZERS: dict[str, str] = {
    "tflite": "emoedge.quantization.tflite:TFLiteQuantizer",
    "openvino": "emoedge.quantization.openvino:OpenVINOQuantizer",
    "onnx": "emoedge.quantization.onnx:ONNXQuantizer",
}


def quantizer_class(fmt: str) -> type[Quantizer]:
    try:
        module_name, class_name = QUANTIZERS[fmt].split(":")
    except KeyError:
        raise UserInputError(
            f"unknown model format {fmt!r}; expected one of: {', '.join(QUANTIZERS)}"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def get_quantizer(fmt: str) -> Quantizer:
    return quantizer_class(fmt)()


__all__ = [
    "PRECISIONS",
    "QUANTIZERS",
    "Artifact",
    "CalibrationSet",
    "Quantizer",
    "get_quantizer",
    "quantizer_class",
]
