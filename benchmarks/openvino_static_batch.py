"""One face through OpenVINO's CPU plugin, 1 thread: the IR as exported (batch left
dynamic), a copy reshaped to batch 1, that copy with shared input/output memory, that
copy with its input bound once to a buffer the face is copied into, and emoedge's
`predict()`, which uses the last for single faces. The variants take turns, 5 rounds
of 600 calls each after 300 warm-up calls: the median of each variant's round medians,
in microseconds (this machine has slow stretches; turns keep the comparison fair).

    python benchmarks/openvino_static_batch.py BUILD [BUILD ...]

BUILD is an `emoedge export --target x86` folder.
"""

from __future__ import annotations

import functools
import statistics
import sys
from pathlib import Path

import numpy as np
import openvino as ov
from timing import median_us  # the benchmarks' shared helpers, same folder

from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime

CONFIG = {"INFERENCE_PRECISION_HINT": "f32", "INFERENCE_NUM_THREADS": 1}


def in_turns(calls: list, rounds: int = 5, repeats: int = 600, warmup: int = 300) -> list[float]:
    for call in calls:
        median_us(call, warmup)
    medians = [[median_us(call, repeats) for call in calls] for _ in range(rounds)]
    return [statistics.median(column) for column in zip(*medians, strict=True)]


def main() -> None:
    print(
        "| build | dynamic batch us | batch 1 us | batch 1, shared memory us "
        "| batch 1, input bound once us | predict() us |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    face = np.random.default_rng(0).random((1, 64, 64, 1), dtype=np.float32)
    for folder in sys.argv[1:]:
        xml = str(Path(folder) / "model.xml")
        core = ov.Core()
        dynamic = core.compile_model(core.read_model(xml), "CPU", CONFIG).create_infer_request()
        single_model = core.read_model(xml)
        single_model.reshape([1, 64, 64, 1])
        single = core.compile_model(single_model, "CPU", CONFIG).create_infer_request()
        bound = core.compile_model(single_model, "CPU", CONFIG).create_infer_request()
        buffer = np.zeros_like(face)
        bound.set_input_tensor(ov.Tensor(buffer, shared_memory=True))
        output = bound.get_output_tensor()

        def bound_call(bound=bound, buffer=buffer, output=output) -> np.ndarray:
            np.copyto(buffer, face)
            bound.infer()
            return np.array(output.data)

        runtime = load_runtime(Build.load(folder), threads=1)
        row = in_turns(
            [
                functools.partial(dynamic.infer, {0: face}),
                functools.partial(single.infer, {0: face}),
                functools.partial(single.infer, {0: face}, share_inputs=True, share_outputs=True),
                bound_call,
                functools.partial(runtime.predict, face),
            ]
        )
        print(f"| `{folder}` | " + " | ".join(f"{value:.1f}" for value in row) + " |")


if __name__ == "__main__":
    main()
