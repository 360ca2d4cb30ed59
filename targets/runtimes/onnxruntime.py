"""ONNX Runtime: the Jetson runtime (TensorRT, then CUDA, then CPU), CPU elsewhere.

The provider list comes from the build manifest and is filtered by what this
onnxruntime wheel offers, so the same build runs on a Jetson's GPU and on a
laptop's CPU. QDQ int8 models keep float inputs and outputs.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from emoedge.cache import cache_dir
from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.cpu import int8_sums_saturate, is_x86
from emoedge.targets.manifest import Build
from emoedge.targets.pipeline_config import PipelineConfig
from emoedge.targets.runtimes.base import Runtime

log = logging.getLogger(__name__)

DEFAULT_PROVIDERS = ("CPUExecutionProvider",)
GPU_PROVIDERS = ("TensorrtExecutionProvider", "CUDAExecutionProvider")
# Faces per GPU call: every call is padded to this batch (see OnnxRuntime.load), the
# pipeline's default cap on faces a frame (--max-faces), so a default frame is one call.
GPU_BATCH: int = PipelineConfig().max_faces


def provider_entry(provider: str, build: Build) -> str | tuple[str, dict[str, str]]:
    """A provider with the options it needs here. TensorRT builds an engine for the
    model on first load, which takes long on a Jetson; cached per model file under
    the emoedge cache (the build folder is checksummed, so nothing is written there),
    a restart loads it instead. fp16 builds let TensorRT use fp16 kernels."""
    if provider != "TensorrtExecutionProvider":
        return provider
    options: dict[str, str] = {}
    folder = cache_dir("tensorrt", build.files["model"].sha256[:16])
    try:
        folder.mkdir(parents=True, exist_ok=True)  # made here: the provider may not make parents
        options.update(trt_engine_cache_enable="True", trt_engine_cache_path=str(folder))
    except OSError as exc:
        log.warning("no TensorRT engine cache (%s): each start builds the engine again", exc)
    if build.manifest.precision == "fp16":
        options["trt_fp16_enable"] = "True"
    return provider, options


def _provider_name(entry: str | tuple[str, dict[str, str]]) -> str:
    return entry if isinstance(entry, str) else entry[0]


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
        options = build.runtime.options
        wanted = self.requested_providers or options.get("providers") or list(DEFAULT_PROVIDERS)
        available = set(ort.get_available_providers())
        self.providers = [p for p in wanted if p in available] or ["CPUExecutionProvider"]
        session_options = ort.SessionOptions()
        session_options.intra_op_num_threads = int(self.threads)
        # Idle pool threads would spin after each call and take the cores the
        # face detector needs next (its detect time tripled on 2 cores).
        session_options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session_options.log_severity_level = 3
        self._unfused = self._int8_kernels_would_clip(build)
        if self._unfused:
            # Keep the QDQ graph unfused: float convolutions between quantize and
            # dequantize steps compute what TensorRT's int8 does, without the clipped
            # int16 sums of the fused kernels (emoedge.targets.cpu).
            session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        self._session_options = session_options
        self.build = build
        self._session = self._open([provider_entry(p, build) for p in self.providers])
        self._input = self._session.get_inputs()[0]
        self._fixed_batch = self._input.shape[0] if isinstance(self._input.shape[0], int) else None
        if self._fixed_batch is None and self._session.get_providers()[0] in GPU_PROVIDERS:
            self._use_one_gpu_batch()
        self._hint_when_int8_lost_tensorrt()
        log.debug("onnxruntime providers: %s", self._session.get_providers())
        return self

    def io_shape(self) -> tuple[tuple[int | None, ...], int | None]:
        def static(dim):
            return dim if isinstance(dim, int) else None

        classes = static(self._session.get_outputs()[0].shape[-1])
        return tuple(static(d) for d in self._input.shape[1:]), classes

    def _int8_kernels_would_clip(self, build: Build) -> bool:
        """An int8 build bound for the CPU provider of an x86 CPU without VNNI."""
        if build.manifest.precision != "int8" or self.providers[0] != "CPUExecutionProvider":
            return False
        return int8_sums_saturate()

    def _hint_when_int8_lost_tensorrt(self) -> None:
        """An int8 (QDQ) build is for TensorRT, which turns it into int8 kernels.
        Elsewhere much of it runs in float between quantize and dequantize steps:
        - the CUDA provider: on an H100 the slowest jetson build there, 1.7-2.7 ms a
          call against 0.5-1.1 for fp16 and fp32
          (benchmarks/results/onnxruntime_providers_2026-11-27.md);
        - the CPU provider on x86, whose kernels convert int8 activations to uint8
          except where a tensor feeds two branches: 2.2x / 2.1x the fp32 build's time
          (benchmarks/results/int8_per_face_2026-11-27.md). Said at INFO: running a
          jetson build on an x86 host to try it is fine, its speed there is not the
          Jetson's."""
        if self.build.manifest.precision != "int8":
            return
        running = self._session.get_providers()[0]
        if "TensorrtExecutionProvider" in self.providers and running == "CUDAExecutionProvider":
            log.warning(
                "int8 build running without TensorRT: on the CUDA provider an fp16 build "
                "is faster (emoedge export --target jetson --precision fp16)"
            )
        elif running == "CPUExecutionProvider" and is_x86():
            log.info(
                "int8 ONNX build on an x86 CPU: ONNX Runtime runs part of it in float here, "
                "slower than the fp32 build; for x86 machines export --target x86 (OpenVINO)"
            )
            if self._unfused:
                log.info(
                    "this CPU has no VNNI, so its fused int8 kernels would clip sums at int16: "
                    "the build runs unfused (exact)"
                )

    def _use_one_gpu_batch(self) -> None:
        """On a GPU every call runs at one batch size, padded, and that size runs once
        here. The CUDA provider searches cuDNN's convolution algorithms again each
        time the batch size differs from the last call's, revisits included: 0.4-3.7 s
        per change on an H100, while 16 faces cost what one does (0.50 vs 0.43 ms,
        mini_xception fp32). The pipeline's face count changes from frame to frame,
        so without this a video would stall for seconds whenever someone enters or leaves
        (benchmarks/results/onnxruntime_providers_2026-11-27.md). TensorRT likewise
        builds one engine for one shape instead of one per new batch size."""
        self._fixed_batch = GPU_BATCH
        shape = [GPU_BATCH, *(d if isinstance(d, int) else 1 for d in self._input.shape[1:])]
        started = time.perf_counter()
        self._run(np.zeros(shape, np.float32))
        log.info(
            "%s ready for batches of %d faces (warm-up %.1f s)",
            self._session.get_providers()[0],
            GPU_BATCH,
            time.perf_counter() - started,
        )

    def _open(self, entries: list):
        """A session on the first provider that starts. ONNX Runtime's own fallback
        prints a banner to stdout, which carries `emoedge run --json -`, and says
        nothing in the log; here each provider that cannot start (TensorRT without
        its libraries, CUDA without cuDNN) is logged and the next one tried."""
        import onnxruntime as ort
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        path = self.build.path("model")
        model_errors = tuple(
            getattr(ort_errors, name)
            for name in ("InvalidProtobuf", "NoSuchFile", "NoModel", "InvalidGraph")
            if hasattr(ort_errors, name)
        )
        while True:
            try:
                return ort.InferenceSession(
                    str(path),
                    sess_options=self._session_options,
                    providers=entries,
                    enable_fallback=0,
                )
            except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf types
                if isinstance(exc, model_errors) or len(entries) == 1:
                    raise ModelFileError(
                        f"{path}: ONNX Runtime cannot load this model ({exc})"
                    ) from exc
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                log.warning(
                    "%s could not start, trying %s: %s",
                    _provider_name(entries[0]),
                    _provider_name(entries[1]),
                    reason,
                )
                entries = entries[1:]

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """One call; a provider that fails mid-run (EPFail) hands over to the next,
        once per provider, as on loading."""
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors

        try:
            return self._session.run(None, {self._input.name: batch})[0]
        except ort_errors.EPFail as exc:
            active = self._session.get_providers()
            if len(active) == 1:
                raise
            log.warning("%s failed while running, going on with %s: %s", active[0], active[1], exc)
            entries = [provider_entry(p, self.build) for p in active[1:]]
            self._session = self._open(entries)
            return self._session.run(None, {self._input.name: batch})[0]

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        if self._fixed_batch and len(batch) != self._fixed_batch:
            # A model exported with a fixed batch, or a GPU session: run it slice by
            # slice, padding the last.
            step = self._fixed_batch
            parts = []
            for start in range(0, len(batch), step):
                chunk = batch[start : start + step]
                padded = np.zeros((step, *batch.shape[1:]), np.float32)
                padded[: len(chunk)] = chunk
                parts.append(self._run(padded)[: len(chunk)])
            return np.concatenate(parts)
        return self._run(batch)

    def describe(self) -> dict:
        providers = self._session.get_providers() if self._session else self.providers
        return {**super().describe(), "providers": providers}
