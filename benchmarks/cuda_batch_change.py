"""What a change of batch size costs on ONNX Runtime's CUDA provider, per cuDNN
algorithm search mode: each call's milliseconds in order, over a sequence of batch
sizes that changes and comes back, then the steady median at batch 1 and 16.

The readings behind the runtime's one GPU batch (targets/runtimes/onnxruntime.py);
needs an NVIDIA GPU and an onnxruntime-gpu wheel.

    python benchmarks/cuda_batch_change.py BUILD [BUILD ...]

BUILD is an `emoedge export --target jetson` folder (its model.onnx is loaded directly,
without emoedge's runtime, to see the provider's own behaviour).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

SEQUENCE = [1, 1, 2, 2, 1, 3, 1, 2, 16, 16, 1, 5, 1]
MODES = ("EXHAUSTIVE", "HEURISTIC", "DEFAULT")


def main() -> None:
    ort.set_default_logger_severity(3)  # DEFAULT mode warns on every convolution
    for folder in sys.argv[1:]:
        model = Path(folder) / "model.onnx"
        for mode in MODES:
            options = ort.SessionOptions()
            options.intra_op_num_threads = 1
            options.log_severity_level = 3
            started = time.perf_counter()
            session = ort.InferenceSession(
                str(model),
                options,
                providers=[
                    ("CUDAExecutionProvider", {"cudnn_conv_algo_search": mode}),
                    "CPUExecutionProvider",
                ],
            )
            load_s = time.perf_counter() - started
            name = session.get_inputs()[0].name
            shape = session.get_inputs()[0].shape[1:]
            rng = np.random.default_rng(0)
            calls = []
            for size in SEQUENCE:
                batch = rng.random((size, *shape)).astype(np.float32)
                started = time.perf_counter()
                session.run(None, {name: batch})
                calls.append((size, round(1000 * (time.perf_counter() - started), 1)))
            steady = {}
            for size, repeats in ((1, 50), (16, 20)):
                batch = rng.random((size, *shape)).astype(np.float32)
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    session.run(None, {name: batch})
                    times.append(1000 * (time.perf_counter() - started))
                steady[size] = round(statistics.median(times), 3)
            print(
                f"{Path(folder).name} {mode}: load {load_s:.2f}s; calls (batch:ms) {calls}; "
                f"steady p50 ms {steady}",
                flush=True,
            )


if __name__ == "__main__":
    main()
