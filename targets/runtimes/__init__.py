"""Inference runtimes, one module each, chosen by the name a build manifest gives.

Modules are imported lazily: a Pi with only LiteRT installed never touches the
OpenVINO or ONNX Runtime modules.
"""

from __future__ import annotations

import importlib

from emoedge.build import Build
from emoedge.errors import UserInputError
from emoedge.targets.runtimes.base import Runtime

RUNTIMES: dict[str, str] = {
    "litert": "emoedge.targets.runtimes.litert:LiteRTRuntime",
    "openvino": "emoedge.targets.runtimes.openvino:OpenVINORuntime",
    "onnxruntime": "emoedge.targets.runtimes.onnxruntime:OnnxRuntime",
}


def runtime_class(name: str) -> type[Runtime]:
    try:
        module_name, class_name = RUNTIMES[name].split(":")
    except KeyError:
        raise UserInputError(
            f"unknown runtime {name!r}; expected one of: {', '.join(RUNTIMES)}"
        ) from None
    return getattr(importlib.import_module(module_name), class_name)


def load_runtime(build: Build, name: str | None = None, threads: int | None = None) -> Runtime:
    """The runtime the manifest names (or `name`), loaded with the build's model."""
    runtime = runtime_class(name or build.runtime["name"])(threads=threads)
    return runtime.load(build)


__all__ = ["RUNTIMES", "Runtime", "load_runtime", "runtime_class"]
