"""Why the int8 classifiers sit 5-20x above their compute floor (the latency goal: int8 within 2x of it):
is it a per-call cost that batching would hide, or the layers themselves? And why
is the jetson int8 build slower than its fp32 on an x86 CPU?

1. Per-face time of each build's own runtime (`predict`, 1 thread) at batch 1, 4,
   16 and 64, every row timed in turns (median of 5 rounds). A fixed cost per call
   would shrink per face as the batch grows.
2. For ONNX builds: which nodes ONNX Runtime's CPU optimizer fused into QLinear*
   kernels and which it left in float between Dequantize/Quantize pairs.
3. With `--u8-from FP32_BUILD --data FERPLUS`: the same float ONNX quantized as the
   build's int8 is (same calibration sample, per-channel int8 weights, 99.99th
   percentile) but with asymmetric uint8 activations, ONNX Runtime's layout for x86
   CPUs, which TensorRT does not take: its fusion, per-face time and FER+ valid
   accuracy beside the build's.

    python benchmarks/int8_per_face.py BUILD [BUILD ...] [--u8-from FP32_BUILD --data DIR]

Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import collections
import logging
import statistics
import tempfile
from pathlib import Path

import numpy as np
from timing import median_us  # the benchmarks' shared helpers, same folder

from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime

BATCHES = (1, 4, 16, 64)
FACES_PER_TIMING = 1024
ROUNDS = 5


def per_face_us(predict, shape: tuple[int, ...], batch: int) -> float:
    faces = np.random.default_rng(0).uniform(0, 1, (batch, *shape)).astype(np.float32)
    for _ in range(20):
        predict(faces)
    return median_us(lambda: predict(faces), repeats=max(30, FACES_PER_TIMING // batch)) / batch


def timed_in_turns(rows: list[tuple], rounds: int = ROUNDS) -> list[list[float]]:
    """Per-face us of every row at every batch size, the median of `rounds` turns in
    which every row and batch size is timed once: this machine's speed drifts by tens
    of percent within minutes, and turns give every row the same minutes."""
    samples = [[[] for _ in BATCHES] for _ in rows]
    for _ in range(rounds):
        for row, (_, predict, _, build) in enumerate(rows):
            shape = build.manifest.input.shape[1:]
            for column, batch in enumerate(BATCHES):
                samples[row][column].append(per_face_us(predict, shape, batch))
    return [[statistics.median(cell) for cell in row] for row in samples]


def optimized_census(model_path: Path) -> dict[str, int]:
    """Op counts of the graph ONNX Runtime's CPU provider really runs."""
    import onnx
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = ort.SessionOptions()
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        options.log_severity_level = 3
        ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        nodes = onnx.load(options.optimized_model_filepath).graph.node
    return dict(collections.Counter(node.op_type for node in nodes))


def describe_census(census: dict[str, int]) -> str:
    fused = sum(n for op, n in census.items() if op.startswith("QLinear"))
    float_compute = {op: census.get(op, 0) for op in ("Conv", "Add", "Relu") if census.get(op)}
    pairs = census.get("QuantizeLinear", 0), census.get("DequantizeLinear", 0)
    left = ", ".join(f"{n} {op}" for op, n in float_compute.items()) or "none"
    return f"{fused} QLinear* nodes; float: {left}; Q/DQ: {pairs[0]}/{pairs[1]}"


class OnnxSession:
    """A bare CPU session at 1 thread, as the runtime opens it, for a file outside a build."""

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self._name = self._session.get_inputs()[0].name

    def predict(self, batch: np.ndarray) -> np.ndarray:
        return self._session.run(None, {self._name: batch})[0]


def quantize_u8(fp32_build: Build, data: str, out: Path) -> None:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from emoedge.quantization.base import CalibrationSet, stdout_to_debug_log
    from emoedge.quantization.onnx import CALIBRATION_PERCENTILE, _Reader

    calibration = CalibrationSet.from_ferplus(data, fp32_build.preprocess)
    prepared = out.with_suffix(".prepared.onnx")
    quant_pre_process(str(fp32_build.path("model")), str(prepared), skip_symbolic_shape=False)
    with stdout_to_debug_log(logging.getLogger(__name__), "ONNX Runtime calibrator"):
        quantize_static(
            str(prepared),
            str(out),
            _Reader(calibration, OnnxSession(prepared)._name),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"ActivationSymmetric": False, "CalibPercentile": CALIBRATION_PERCENTILE},
        )


def valid_accuracy(predict, spec, data: str) -> float:
    from emoedge.bench.accuracy import scores
    from emoedge.data.ferplus import load_ferplus
    from emoedge.evaluation import predict_faceset

    faces = load_ferplus(data, "valid", "majority")
    return scores(predict_faceset(predict, faces, spec), faces.labels)["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+")
    parser.add_argument("--u8-from", help="fp32 jetson build to quantize with uint8 activations")
    parser.add_argument("--data", help="FER+ root (calibration and valid accuracy for --u8-from)")
    args = parser.parse_args()
    if args.u8_from and not args.data:
        parser.error("--u8-from needs --data (calibration and valid accuracy)")

    # (name, predict, model file, build whose preprocessing and input shape apply)
    rows = []
    for folder in args.builds:
        build = Build.load(folder)
        runtime = load_runtime(build, threads=1)
        rows.append((Path(folder).name, runtime.predict, build.path("model"), build))
    if args.u8_from:
        fp32 = Build.load(args.u8_from)
        u8_model = Path(tempfile.mkdtemp(prefix="emoedge-u8-")) / "model_u8.onnx"
        quantize_u8(fp32, args.data, u8_model)
        name = f"{Path(args.u8_from).name} as uint8 QDQ"
        rows.append((name, OnnxSession(u8_model).predict, u8_model, fp32))

    print("| build | " + " | ".join(f"batch {b} us/face" for b in BATCHES) + " | fused on CPU |")
    print("|---|" + "---:|" * len(BATCHES) + "---|")
    accuracies = {}
    for (name, predict, model, build), times in zip(rows, timed_in_turns(rows), strict=True):
        onnx_model = model.suffix == ".onnx"
        fused = describe_census(optimized_census(model)) if onnx_model else ""
        print(f"| {name} | " + " | ".join(f"{t:.1f}" for t in times) + f" | {fused} |")
        if args.data and onnx_model:
            accuracies[name] = valid_accuracy(predict, build.preprocess, args.data)
    for name, accuracy in accuracies.items():
        print(f"\nFER+ valid (majority) accuracy, {name}: {100 * accuracy:.2f}%")


if __name__ == "__main__":
    main()
