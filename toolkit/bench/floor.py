"""Compute floors: operation counts, the machine's measured peak, and the Pi 4 estimate.

A classifier's floor is its multiply-accumulates (MACs) divided by the peak MAC
rate this machine reaches in the same runtime. The peak is measured, not taken
from a datasheet: one large 3x3 convolution (28x28x256 -> 256, 462 M MACs),
exported by the same TFLite quantizer the builds use (fp32 and int8), timed in
LiteRT/XNNPACK at 1 thread and at all cores. A big convolution is the best case
for these kernels, so latency / floor says how far a small model is from what
the hardware does at its best. For OpenVINO and ONNX Runtime rows the LiteRT
peak is used as a proxy (labelled so in the report).

The Raspberry Pi 4 estimate uses published figures, not a measurement: see
`PI4` for the assumptions and where they come from.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PEAK_SHAPE = (28, 28, 256)  # input of the peak convolution
PEAK_FILTERS = 256
PEAK_MACS = PEAK_SHAPE[0] * PEAK_SHAPE[1] * 3 * 3 * PEAK_SHAPE[2] * PEAK_FILTERS

# Raspberry Pi 4 (BCM2711): 4x Cortex-A72 at 1.5 GHz, ARMv8.0-A with NEON (no
# SDOT dot-product instructions).
# fp32: two 128-bit FP/ASIMD pipes (FP0, FP1), each able to issue a 4-lane FMLA:
#   8 MAC/cycle/core -> 12 GMAC/s per core, 48 GMAC/s for 4 cores (theoretical).
# int8: without SDOT, int8 convolutions use widening SMLAL/SMLAL2 (8 lanes of
#   8-bit x 8-bit -> 16-bit), and on the A72 only FP0 does SIMD integer
#   multiplication: 8 MAC/cycle/core -> 48 GMAC/s for 4 cores (theoretical). So
#   on a Pi 4 int8 buys memory and bandwidth, not more arithmetic per cycle.
# Small models on XNNPACK do not run at peak: we assume 25% of it sustained
#   (this machine's own int8 models reach far less of their measured peak; see the
#   floor ratios in the same report).
PI4 = {
    "cores": 4,
    "ghz": 1.5,
    "fp32_mac_per_cycle_core": 8,
    "int8_mac_per_cycle_core": 8,
    "assumed_efficiency": 0.25,
    "source": "Arm Cortex-A72 Software Optimization Guide (UAN 0016A): two FP/ASIMD pipes "
    "FP0/FP1, SIMD integer multiply on FP0 only (summarised in Tobast's PhD thesis, "
    "ch. 'The Cortex A72 CPU'); Raspberry Pi 4 product brief: BCM2711, "
    "4x Cortex-A72 @ 1.5 GHz",
}


def tflite_macs(path: Path) -> int:
    """MACs of a .tflite model from its conv/depthwise/dense tensor shapes."""
    from ai_edge_litert.interpreter import Interpreter

    from emoedge.native_stderr import with_native_stderr_captured

    def load():  # LiteRT's XNNPACK notice goes to the debug log (--verbose)
        interpreter = Interpreter(model_path=str(path))
        interpreter.allocate_tensors()
        return interpreter

    interpreter = with_native_stderr_captured(load)
    shapes = {
        d["index"]: tuple(int(v) for v in d["shape"]) for d in interpreter.get_tensor_details()
    }
    total = 0
    for op in interpreter._get_ops_details():  # no public API lists ops with their tensors
        name = op["op_name"]
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
            continue
        weights = shapes.get(int(op["inputs"][1]))
        out = shapes.get(int(op["outputs"][0]))
        if not weights or not out:
            continue
        if (
            name == "CONV_2D" or name == "DEPTHWISE_CONV_2D"
        ):  # weights (out_c, kh, kw, in_c), out (1, oh, ow, out_c)
            total += out[1] * out[2] * int(np.prod(weights))
        else:  # weights (units, in)
            total += int(np.prod(out[:-1])) * int(np.prod(weights))
    return int(total)


def detector_macs(name: str = "blazeface") -> dict:
    from emoedge.targets.detectors import detector_class

    path = detector_class(name).default_model_file()
    if path is None or not Path(path).is_file():
        return {"name": name, "macs": None, "reason": "no model file on this machine"}
    return {"name": name, "file": Path(path).name, "macs": tflite_macs(Path(path))}


def _time_runtime(build, threads: int, repeats: int) -> float:
    from emoedge.targets.runtimes import load_runtime

    runtime = load_runtime(build, threads=threads)
    batch = np.random.default_rng(0).uniform(-1, 1, (1, *PEAK_SHAPE)).astype(np.float32)
    for _ in range(2):
        runtime.predict(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        runtime.predict(batch)
        times.append(time.perf_counter() - start)
    return float(np.min(times))  # the peak: the least-disturbed run


def measure_peak(repeats: int = 5) -> dict:
    """Peak MAC/s of LiteRT on this machine, fp32 and int8, at 1 thread and all cores.

    Runs in its own process (it imports TensorFlow to export the probe model).
    """
    from emoedge.compare import quantized_build
    from emoedge.quantization import CalibrationSet, ConvertRequest, get_quantizer
    from emoedge.tf_env import import_tf

    import_tf()
    import keras

    inputs = keras.Input(PEAK_SHAPE)
    outputs = keras.layers.Conv2D(PEAK_FILTERS, 3, padding="same", use_bias=False)(inputs)
    model = keras.Model(inputs, outputs)
    calibration = CalibrationSet(
        inputs=np.random.default_rng(0).uniform(-1, 1, (8, *PEAK_SHAPE)).astype(np.float32),
        source="random probe",
    )
    quantizer = get_quantizer("tflite")
    cores = len(os.sched_getaffinity(0))
    result = {
        "probe": f"Conv2D 3x3 {PEAK_SHAPE} -> {PEAK_FILTERS}, LiteRT/XNNPACK, best of {repeats}",
        "probe_macs": PEAK_MACS,
        "cores": cores,
    }
    # the probe is one convolution, not a classifier: one "label" per output channel
    channels = tuple(f"channel {i}" for i in range(PEAK_FILTERS))
    with tempfile.TemporaryDirectory() as tmp:
        for precision in ("fp32", "int8"):
            folder = Path(tmp) / precision
            artifact = quantizer.quantize(ConvertRequest(model, calibration, precision, folder))
            build = quantized_build(folder / artifact.files["model"], labels=channels)
            for threads, label in ((1, "1t"), (cores, "all")):
                seconds = _time_runtime(build, threads, repeats)
                result[f"{precision}_{label}_gmacs"] = PEAK_MACS / seconds / 1e9
    return result


def floor_ms(macs: int, peak: dict | None, precision: str, threads: str) -> float | None:
    key = f"{'int8' if precision == 'int8' else 'fp32'}_{threads}_gmacs"
    if not peak or not peak.get(key) or not macs:
        return None
    return macs / (peak[key] * 1e9) * 1000.0


def pi4_estimate(classifier_macs: int, detector_macs_: int | None, faces: int = 1) -> dict:
    """Frames per second on a Pi 4, int8, all 4 cores, from MACs and published peaks."""
    peak_int8 = PI4["cores"] * PI4["ghz"] * 1e9 * PI4["int8_mac_per_cycle_core"]
    peak_fp32 = PI4["cores"] * PI4["ghz"] * 1e9 * PI4["fp32_mac_per_cycle_core"]
    sustained = peak_int8 * PI4["assumed_efficiency"]
    per_frame = classifier_macs * faces + (detector_macs_ or 0)
    seconds = per_frame / sustained
    return {
        **PI4,
        "peak_int8_gmacs": peak_int8 / 1e9,
        "peak_fp32_gmacs": peak_fp32 / 1e9,
        "sustained_int8_gmacs": sustained / 1e9,
        "faces": faces,
        "classifier_macs": classifier_macs,
        "detector_macs": detector_macs_,
        "macs_per_frame": per_frame,
        "compute_ms_per_frame": seconds * 1000.0,
        "fps_compute_only": 1.0 / seconds if seconds else None,
    }
