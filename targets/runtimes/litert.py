"""LiteRT (the TFLite interpreter) with its default XNNPACK delegate: the Pi's runtime.

An int8 model takes int8 pixels: the float batch from `preprocess` is quantized
with the input tensor's own scale and zero point, and the int8 output is
dequantized with the output tensor's, so callers always see float probabilities.

LiteRT announces its CPU delegate ("INFO: Created TensorFlow Lite XNNPACK delegate
for CPU.") from C++ straight to file descriptor 2, past Python's logging, the first
time a process applies it; `allocated_interpreter` sends that line to the debug log
(`emoedge --verbose`), for the BlazeFace detector too.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes.base import Runtime, dequantize_output, quantize_input

log = logging.getLogger(__name__)

_delegate_announced = False  # set once an allocation in this process has succeeded


def allocated_interpreter(model_path: Path, threads: int | None = None):
    """A LiteRT interpreter for `model_path` with its tensors allocated.

    XNNPACK is applied, and its one INFO line printed, in the process's first
    successful `allocate_tensors`. Only that first load runs with stderr captured
    (`with_native_stderr_captured`: to the debug log, or printed after all if the
    load fails), so a later one, such as a daemon's reload while other threads run,
    never hides anything else written to stderr. Raises what LiteRT raises
    (ValueError, RuntimeError) for a file it cannot load; callers name the file.
    """
    global _delegate_announced
    from ai_edge_litert.interpreter import Interpreter

    def create_litert_interpreter():
        interpreter = Interpreter(model_path=str(model_path), num_threads=threads)
        interpreter.allocate_tensors()
        return interpreter

    if _delegate_announced:
        return create_litert_interpreter()
    from emoedge.native_stderr import with_native_stderr_captured

    interpreter = with_native_stderr_captured(create_litert_interpreter)
    _delegate_announced = True
    return interpreter


class LiteRTRuntime(Runtime):
    name = "litert"

    def __init__(self, threads: int | None = None) -> None:
        super().__init__(threads)
        self._interpreter = None
        self._batch = 0

    def load(self, build: Build) -> LiteRTRuntime:
        try:
            import ai_edge_litert.interpreter  # noqa: F401 - only to name a missing install
        except ImportError as exc:  # pragma: no cover - depends on the device install
            raise UserInputError(
                "LiteRT is not installed: pip install ai-edge-litert (or emoedge[rpi])"
            ) from exc
        path = build.path("model")
        try:
            self._interpreter = allocated_interpreter(path, self.threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{path}: LiteRT cannot load this model ({exc})") from exc
        self.build = build
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = int(self._input["shape"][0])
        return self

    def io_shape(self) -> tuple[tuple[int | None, ...], int | None]:
        return tuple(int(v) for v in self._input["shape"][1:]), int(self._output["shape"][-1])

    def _resize(self, batch: int) -> None:
        shape = list(self._input["shape"])
        shape[0] = batch
        self._interpreter.resize_tensor_input(self._input["index"], shape, strict=False)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._output = self._interpreter.get_output_details()[0]
        self._batch = batch

    def _predict(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) != self._batch:
            self._resize(len(batch))
        dtype = np.dtype(self._input["dtype"])
        if dtype.kind in "iu":
            scale, zero_point = self._input["quantization"]
            batch = quantize_input(batch, scale, zero_point, dtype)
        self._interpreter.set_tensor(self._input["index"], batch)
        self._interpreter.invoke()
        result = self._interpreter.get_tensor(self._output["index"])
        if np.dtype(self._output["dtype"]).kind in "iu":
            scale, zero_point = self._output["quantization"]
            result = dequantize_output(result, scale, zero_point)
        return result

    def describe(self) -> dict:
        return {**super().describe(), "delegate": "XNNPACK (default)"}
