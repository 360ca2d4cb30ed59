"""The one table of model formats: suffix, runtime, precisions, targets, quantizer options.

Every fact that ties a format to something else is written here and nowhere
else: export picks the quantizer and the manifest's runtime from it, compare
recognises a bare model file by its suffix, bench and doctor find the runtime's
Python module, and the target profiles take their format from the row that
names them. It lives on the device side because a device reads builds by it
(which runtime loads this format); it is plain data, so reading it imports no
runtime and no converter.

A quantizer option a format does not take is refused here (`check_options`),
before anything is converted: an OpenVINO-only argument given for a TFLite
build is an error, not silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from emoedge.errors import UserInputError, pick


@dataclass(frozen=True)
class ModelFormat:
    """One model format and everything that depends on it.

    `options` maps each quantizer option the format takes (beyond the interface's
    own `per_channel`) to the precisions it applies to; `companions` are files
    the model file needs beside it, by role and suffix (OpenVINO's weights).
    """

    name: str
    suffix: str
    runtime: str  # the name a manifest gives and `emoedge.targets.runtimes` loads
    runtime_module: str  # the Python module that runtime needs installed
    precisions: tuple[str, ...]
    targets: tuple[str, ...] = ()  # target profiles that ship this format
    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    companions: Mapping[str, str] = field(default_factory=dict)

    def check_precision(self, precision: str) -> None:
        if precision not in self.precisions:
            raise UserInputError(
                f"{self.name} does not support precision {precision!r}; "
                f"expected one of: {', '.join(self.precisions)}"
            )

    def check_options(self, precision: str, options: Mapping[str, Any]) -> None:
        """Refuse an option this format, at this precision, does not take.

        `per_channel` belongs to every int8 quantizer (`ConvertRequest.per_channel`);
        the rest are the format's own, listed in `options`."""
        accepted = {"per_channel": ("int8",), **self.options}
        for name in options:
            if name not in accepted:
                takes = ", ".join(sorted(accepted))
                raise UserInputError(
                    f"{self.name} quantization does not take option {name!r}; it takes: {takes}"
                )
            if precision not in accepted[name]:
                raise UserInputError(
                    f"{self.name} option {name!r} applies to {', '.join(accepted[name])}, "
                    f"not {precision}"
                )


_INT8 = ("int8",)

FORMATS: Mapping[str, ModelFormat] = MappingProxyType(
    {
        row.name: row
        for row in (
            # The float model itself: benched beside the builds, shipped to no device.
            ModelFormat("keras", ".keras", "keras", "keras", ("fp32",)),
            ModelFormat(
                "tflite",
                ".tflite",
                "litert",
                "ai_edge_litert",
                ("int8", "fp16", "fp32"),
                targets=("rpi",),
            ),
            ModelFormat(
                "openvino",
                ".xml",
                "openvino",
                "openvino",
                ("int8", "fp16", "fp32"),
                targets=("x86",),
                options={
                    "accuracy_control": _INT8,
                    "validation": _INT8,
                    "max_drop": _INT8,
                    "fast_bias_correction": _INT8,
                },
                companions={"weights": ".bin"},
            ),
            ModelFormat(
                "onnx",
                ".onnx",
                "onnxruntime",
                "onnxruntime",
                ("int8", "fp16", "fp32"),
                targets=("jetson",),
                options={"symmetric_activations": _INT8},
            ),
        )
    }
)


def get_format(name: str) -> ModelFormat:
    return pick(FORMATS, name, "model format")


def format_for_suffix(suffix: str) -> ModelFormat | None:
    """The device format a bare model file of this suffix is (never Keras), or None."""
    for row in FORMATS.values():
        if row.targets and row.suffix == suffix.lower():
            return row
    return None


def format_for_target(target: str) -> ModelFormat:
    """The format a target profile ships."""
    for row in FORMATS.values():
        if target in row.targets:
            return row
    raise UserInputError(f"no model format is shipped to target {target!r}")


def runtime_module(runtime: str) -> str:
    """The Python module a runtime (by its manifest name) needs."""
    for row in FORMATS.values():
        if row.runtime == runtime:
            return row.runtime_module
    raise UserInputError(f"unknown runtime {runtime!r}")
