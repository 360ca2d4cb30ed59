"""Where a LiteRT classifier call's time goes: our `predict` (quantize, set, invoke,
get, dequantize) against the interpreter's `invoke()` alone, one face, 1 thread.

    python benchmarks/litert_invoke.py BUILD [BUILD ...]

BUILD is an `emoedge export --target rpi` folder. Prints median microseconds.
"""

from __future__ import annotations

import functools
import statistics
import sys
import time

import numpy as np

from emoedge.build import Build
from emoedge.targets.runtimes import load_runtime


def median_us(call, repeats: int = 3000) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    print("| build | predict() us | invoke() us | wrapper share |")
    print("|---|---:|---:|---:|")
    for folder in sys.argv[1:]:
        runtime = load_runtime(Build.load(folder), threads=1)
        face = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 1)).astype(np.float32)
        for _ in range(200):
            runtime.predict(face)
        interpreter = runtime._interpreter
        whole = median_us(functools.partial(runtime.predict, face))
        invoke = median_us(interpreter.invoke)
        print(f"| `{folder}` | {whole:.1f} | {invoke:.1f} | {1 - invoke / whole:.0%} |")


if __name__ == "__main__":
    main()
