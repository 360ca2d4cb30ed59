"""Inference runtimes, one module each, chosen by the name a build manifest gives.

Modules are imported lazily: a Pi with only LiteRT installed never touches the
OpenVINO or ONNX Runtime modules.
"""

from __future__ import annotations

from emoedge.lazy import load_registered
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes.base import Runtime

RUNTIMES: dict[str, str] = {
    "litert": "emoedge.targets.runtimes.litert:LiteRTRuntime",
    "openvino": "emoedge.targets.runtimes.openvino:OpenVINORuntime",
    "onnxruntime": "emoedge.targets.runtimes.onnxruntime:OnnxRuntime",
}


def runtime_class(name: str) -> type[Runtime]:
    return load_registered(RUNTIMES, name, "runtime")


def load_runtime(build: Build, name: str | None = None, threads: int | None = None) -> Runtime:
    """The runtime the manifest names (or `name`), loaded with the build's model."""
    runtime = runtime_class(name or build.runtime.name)(threads=threads).load(build)
    runtime.check_against_manifest()
    return runtime


__all__ = ["RUNTIMES", "Runtime", "load_runtime", "runtime_class"]
