"""OpenVINO on the CPU plugin: the x86 runtime, reading `model.xml` + `model.bin`.

The precision hint is set to f32 explicitly: on CPUs with AMX/AVX512-BF16 the
plugin otherwise runs float layers in bf16, which shifts results away from what
export measured.
"""

from __future__ import annotations

import logging

import numpy as np

from emoedge.build import Build
from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.runtimes.base import Runtime

log = logging.getLogger(__name__)


class OpenVINORuntime(Runtime):
    name = "openvino"

    def __init__(self, threads: int | None = None, device: str = "CPU") -> None:
        super().__init__(threads)
        self.device = device
        self._request = None

    def load(self, build: Build) -> OpenVINORuntime:
        try:
            import openvino as ov
        except ImportError as exc:  # pragma: no cover - depends on the device install
            raise UserInputError("OpenVINO is not installed: pip install openvino") from exc
        xml = build.path("model")
        weights = build.path("weights") if "weights" in build.files else xml.with_suffix(".bin")
        options = build.runtime.get("options", {}) if build.manifest.get("runtime") else {}
        config = {
            "INFERENCE_PRECISION_HINT": str(options.get("inference_precision_hint", "f32")),
            "INFERENCE_NUM_THREADS": int(self.threads),
        }
        core = ov.Core()
        try:
            model = core.read_model(str(xml), str(weights))
            self._compiled = core.compile_model(model, self.device, config)
        except RuntimeError as exc:
            raise ModelFileError(f"{xml}: OpenVINO cannot load this model ({exc})") from exc
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.output(0)
        self.build = build
        return self

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if self._request is None:
            raise RuntimeError("OpenVINORuntime.predict before load")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        if len(batch) == 0:
            return np.zeros((0, int(self._output.get_partial_shape()[-1].get_length())), np.float32)
        result = self._request.infer({0: batch})[self._output]
        return np.asarray(result, dtype=np.float32).reshape(len(batch), -1)

    def describe(self) -> dict:
        return {**super().describe(), "device": self.device, "precision_hint": "f32"}
