"""ONNX Runtime: the Jetson runtime (TensorRT, then CUDA, then CPU), CPU elsewhere.

The provider list comes from the build manifest and is filtered by what this
onnxruntime wheel offers, so the same build runs on a Jetson's GPU and on a
laptop's CPU. QDQ int8 models keep float inputs and outputs.
"""

from __future__ import annotations

import logging

import numpy as np

from emoedge.build import Build
from emoedge.cache import cache_dir
from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.runtimes.base import Runtime

log = logging.getLogger(__name__)

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


def provider_entry(provider: str, build: Build) -> str | tuple[str, dict[str, str]]:
    """A provider with the options it needs here. TensorRT builds an engine for the
    model on first load, which takes long on a Jetson; cached per model file under
    the emoedge cache (the build folder is checksummed, so nothing is written there),
    a restart loads it instead. fp16 builds let TensorRT use fp16 kernels."""
    if provider != "TensorrtExecutionProvider":
        return provider
    options: dict[str, str] = {}
    folder = cache_dir("tensorrt", build.files["model"]["sha256"][:16])
    try:
        folder.mkdir(parents=True, exist_ok=True)  # made here: the provider may not make parents
        options.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(folder))
    except OSError as exc:
        log.warning("no TensorRT engine cache (%s): each start builds the engine again", exc)
    if build.manifest.get("precision") == "fp16":
        options["trt_fp16_enable"] = "True"
    return provider, options


class OnnxRuntime(Runtime):
    name = "onnxruntime"

    def __init__(self, threads: int | None = None, providers: list[str] | None = None) -> None:
        super().__init__(threads)
        self.requested_providers = providers
        self.providers: list[str] = []
        self._session = None

    def load(self, build: Build) -> OnnxRuntime:
        try:
            import onnxruntime as ort
        except ImportError as exc:  # pragma: no cover - depends on the device install
            raise UserInputError("ONNX Runtime is not installed: pip install onnxruntime") from exc
        path = build.path("model")
        options = build.runtime.get("options", {}) if build.manifest.get("runtime") else {}
        wanted = self.requested_providers or options.get("providers") or list(DEFAULT_PROVIDERS)
        available = set(ort.get_available_providers())
        self.providers = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = int(self.threads)
        # Idle pool threads would spin after each call and take the cores the
        # face detector needs next (its detect time tripled on 2 cores).
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session_options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(
                str(path),
                sess_options=session_options,
                providers=[provider_entry(p, build) for p in self.providers],
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
            raise ModelFileError(f"{path}: ONNX Runtime cannot load this model ({exc})") from exc
        self._input = self._session.get_inputs()[0]
        self._fixed_batch = self._input.shape[0] if isinstance(self._input.shape[0], int) else None
        self.build = build
        log.debug("onnxruntime providers: %s", self._session.get_providers())
        return self

    def predict(self, batch: np.ndarray) -> np.ndarray:
        if self._session is None:
            raise RuntimeError("OnnxRuntime.predict before load")
        batch = np.ascontiguousarray(batch, dtype=np.float32)
        if batch.ndim == 3:
            batch = batch[None]
        if self._fixed_batch and len(batch) != self._fixed_batch:
            # A model exported with a fixed batch: run it slice by slice, padding the last.
            step = self._fixed_batch
            parts = []
            for start in range(0, len(batch), step):
                chunk = batch[start : start + step]
                padded = np.zeros((step, *batch.shape[1:]), np.float32)
                padded[: len(chunk)] = chunk
                parts.append(self._session.run(None, {self._input.name: padded})[0][: len(chunk)])
            if not parts:
                return np.zeros((0, 8), np.float32)
            return np.concatenate(parts).astype(np.float32).reshape(len(batch), -1)
        result = self._session.run(None, {self._input.name: batch})[0]
        return np.asarray(result, dtype=np.float32).reshape(len(batch), -1)

    def describe(self) -> dict:
        providers = self._session.get_providers() if self._session else self.providers
        return {**super().describe(), "providers": providers}
