"""OpenVINO on the CPU plugin: the x86 runtime, reading `model.xml` + `model.bin`.

The precision hint is set to f32 explicitly: on CPUs with AMX/AVX512-BF16 the
plugin otherwise runs float layers in bf16, which shifts results away from what
export measured.
"""

from __future__ import annotations

import logging

import numpy as np

from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes.base import Runtime

log = logging.getLogger(__name__)


class OpenVINORuntime(Runtime):
    name = "openvino"

    def __init__(self, threads: int | None = None, device: str = "CPU") -> None:
        super().__init__(threads)
        self.device = device
        self._request = None
        self._single = None

    def load(self, build: Build) -> OpenVINORuntime:
        try:
            import openvino as ov
        except ImportError as exc:  # pragma: no cover - depends on the device install
            raise UserInputError("OpenVINO is not installed: pip install openvino") from exc
        xml = build.path("model")
        weights = build.path("weights") if "weights" in build.files else xml.with_suffix(".bin")
        options = build.runtime.options
        config = {
            "INFERENCE_PRECISION_HINT": str(options.get("inference_precision_hint", "f32")),
            "INFERENCE_NUM_THREADS": int(self.threads),
        }
        core = ov.Core()
        try:
            model = core.read_model(str(xml), str(weights))
            self._compiled = core.compile_model(model, self.device, config)
            self._single = self._compile_for_one_face(core, model, config)
        except RuntimeError as exc:
            raise ModelFileError(f"{xml}: OpenVINO cannot load this model ({exc})") from exc
        self._request = self._compiled.create_infer_request()
        self._output = self._compiled.output(0)
        self.build = build
        return self

    def io_shape(self) -> tuple[tuple[int | None, ...], int | None]:
        def static(dims):
            return tuple(None if d.is_dynamic else d.get_length() for d in dims)

        face = static(list(self._compiled.input(0).get_partial_shape())[1:])
        return face, static(list(self._output.get_partial_shape()))[-1]

    def _compile_for_one_face(self, core, model, config):
        """A second copy compiled for batch 1, with its input bound once to a buffer
        the face is copied into, for the most common frame (one face). With the batch
        left dynamic the CPU plugin infers shapes on every call: `predict` took
        180 / 191 us for one face (mini_xception / mobilenet_v2 int8, 1 thread), and
        143 / 126 through this copy (benchmarks/results/openvino_static_batch_2026-11-27.md).
        None when the batch is already fixed or another dimension is not."""
        import openvino as ov

        dims = list(model.input(0).get_partial_shape())
        if not dims[0].is_dynamic or any(dim.is_dynamic for dim in dims[1:]):
            return None
        shape = [1, *(dim.get_length() for dim in dims[1:])]
        single = model.clone()
        single.reshape(shape)
        request = core.compile_model(single, self.device, config).create_infer_request()
        face = np.zeros(shape, np.float32)
        request.set_input_tensor(ov.Tensor(face, shared_memory=True))
        return request, face, request.get_output_tensor()

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) == 1 and self._single is not None:
            request, face, output = self._single
            np.copyto(face, batch.reshape(face.shape))
            request.infer()
            # Copied out: the next call writes the same output buffer.
            return np.array(output.data, dtype=np.float32).reshape(1, -1)
        return self._request.infer({0: batch})[self._output]

    def describe(self) -> dict:
        return {**super().describe(), "device": self.device, "precision_hint": "f32"}
