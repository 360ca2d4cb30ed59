"""Where a batch of 256 faces spends its time in ONNX Runtime, per provider list: the
nodes each provider took and the ops that cost most, from ONNX Runtime's profiler.
Six calls in a row at the same batch size; the per-call times show the first calls'
one-off costs (the CUDA provider's algorithm search) and the steady ones after.

    OUT=/tmp python benchmarks/onnxruntime_node_profile.py BUILD [BUILD ...]

BUILD is an `emoedge export --target jetson` folder; the profile files go to $OUT and
are removed after reading.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

SETTINGS = (
    ("cuda", [("CUDAExecutionProvider", {}), "CPUExecutionProvider"], 1),
    (
        "cuda-heur",
        [
            ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "HEURISTIC"}),
            "CPUExecutionProvider",
        ],
        1,
    ),
    ("cuda-t0", [("CUDAExecutionProvider", {}), "CPUExecutionProvider"], 0),
    ("cpu", ["CPUExecutionProvider"], 1),
)


def main() -> None:
    out = os.environ.get("OUT", "/tmp")
    for folder in sys.argv[1:]:
        model = Path(folder) / "model.onnx"
        name = Path(folder).name
        for label, providers, threads in SETTINGS:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.enable_profiling = True
            options.profile_file_prefix = f"{out}/prof_{name}_{label}"
            options.log_severity_level = 3
            session = ort.InferenceSession(str(model), options, providers=providers)
            first = session.get_inputs()[0]
            batch = np.random.rand(256, *first.shape[1:]).astype(np.float32)
            times = []
            for _ in range(6):
                started = time.perf_counter()
                session.run(None, {first.name: batch})
                times.append(round(1000 * (time.perf_counter() - started), 1))
            path = session.end_profiling()
            events = json.loads(Path(path).read_text())
            per_op: dict[tuple, float] = collections.defaultdict(float)
            nodes: dict[str, set] = collections.defaultdict(set)
            for event in events:
                if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                    key = (event["args"].get("op_name"), event["args"].get("provider"))
                    per_op[key] += event["dur"]
                    nodes[event["args"].get("provider")].add(event["name"])
            top = sorted(per_op.items(), key=lambda item: -item[1])[:6]
            print(
                f"{name} {label} batch256 ms per call: {times} | nodes per provider "
                f"{ {k: len(v) for k, v in nodes.items()} } | node us total (6 calls) "
                f"{int(sum(per_op.values()))} | top: {[(k, int(v)) for k, v in top]}",
                flush=True,
            )
            Path(path).unlink()


if __name__ == "__main__":
    main()
