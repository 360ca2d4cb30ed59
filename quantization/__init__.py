"""Post-training quantization, one module per model format, chosen by format name.

Backends load lazily: asking for "tflite" never imports OpenVINO or NNCF. What a
format is (suffix, runtime, precisions, options) is the format table's
(`emoedge.targets.formats`); this registry only says which class converts to it.
"""

from __future__ import annotations

from emoedge.lazy import load_registered
from emoedge.quantization.base import (
    Artifact,
    CalibrationSet,
    ConvertRequest,
    Quantizer,
)

QUANTIZERS: dict[str, str] = {
    "tflite": "emoedge.quantization.tflite:TFLiteQuantizer",
    "openvino": "emoedge.quantization.openvino:OpenVINOQuantizer",
    "onnx": "emoedge.quantization.onnx:ONNXQuantizer",
}


def quantizer_class(fmt: str) -> type[Quantizer]:
    return load_registered(QUANTIZERS, fmt, "model format")


def get_quantizer(fmt: str) -> Quantizer:
    return quantizer_class(fmt)()


__all__ = [
    "QUANTIZERS",
    "Artifact",
    "CalibrationSet",
    "ConvertRequest",
    "Quantizer",
    "get_quantizer",
    "quantizer_class",
]
