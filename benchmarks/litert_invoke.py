"""Where a LiteRT classifier call's time goes: our `predict` (quantize, set, invoke,
get, dequantize) against the interpreter's `invoke()` alone, one face, 1 thread; and
LiteRT's newer CompiledModel API on the same file (XNNPACK, then YNNPACK), to see
whether the runtime's call path, rather than the model's layers, sets the time.

    python benchmarks/litert_invoke.py BUILD [BUILD ...]

BUILD is an `emoedge export --target rpi` folder. Prints median microseconds.
"""

from __future__ import annotations

import functools
import json
import statistics
import sys
import time
from pathlib import Path

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


def one_thread_interpreter(model_file: str | Path):
    """A LiteRT interpreter at 1 thread with a zero input set, ready to `invoke()`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(model_file), num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    return interpreter


def invoke_us_in_turns(interpreters: list, rounds: int, warmup: int, repeats: int) -> list[float]:
    """Median `invoke()` us of each interpreter over `rounds` turns in which each is
    warmed up and timed once: this machine's speed drifts within minutes, and turns
    give every model the same minutes."""
    samples: list[list[float]] = [[] for _ in interpreters]
    for _ in range(rounds):
        for index, interpreter in enumerate(interpreters):
            for _ in range(warmup):
                interpreter.invoke()
            samples[index].append(median_us(interpreter.invoke, repeats=repeats))
    return [statistics.median(times) for times in samples]


def cached_int8_peak() -> float | None:
    """This machine's int8 GMAC/s at 1 thread as `emoedge bench` measured and cached it
    (None before the first bench here)."""
    from emoedge.bench.fingerprint import device_fingerprint, fingerprint_slug
    from emoedge.cache import cache_dir

    cached = cache_dir("bench") / f"peak-{fingerprint_slug(device_fingerprint())}.json"
    return json.loads(cached.read_text()).get("int8_1t_gmacs") if cached.is_file() else None


def compiled_model_us(model_file: str, ynnpack: bool, reference: np.ndarray) -> str:
    """Median run() of a CompiledModel on the interpreter's current input, or why not."""
    from ai_edge_litert.compiled_model import CompiledModel, CpuOptions, Options

    try:
        options = Options(cpu_options=CpuOptions(num_threads=1, enable_ynnpack=ynnpack))
        model = CompiledModel.from_file(model_file, options=options)
        inputs, outputs = model.create_input_buffers(0), model.create_output_buffers(0)
    except Exception as exc:  # LiteRT raises RuntimeError with its own status text
        return f"fails: {str(exc).splitlines()[0][:60]}"
    inputs[0].write(reference["input"])
    run = functools.partial(model.run_by_index, 0, inputs, outputs)
    for _ in range(200):
        run()
    got = outputs[0].read(reference["output"].size, reference["output"].dtype)
    same = np.array_equal(got.reshape(reference["output"].shape), reference["output"])
    return f"{median_us(run):.1f}{'' if same else ' (other output!)'}"


def main() -> None:
    print(
        "| build | predict() us | invoke() us | wrapper share | CompiledModel XNNPACK run() us "
        "| CompiledModel YNNPACK run() us |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for folder in sys.argv[1:]:
        build = Build.load(folder)
        runtime = load_runtime(build, threads=1)
        face = np.random.default_rng(0).uniform(-1, 1, (1, 64, 64, 1)).astype(np.float32)
        for _ in range(200):
            runtime.predict(face)
        interpreter = runtime._interpreter
        whole = median_us(functools.partial(runtime.predict, face))
        invoke = median_us(interpreter.invoke)
        reference = {
            "input": interpreter.get_tensor(interpreter.get_input_details()[0]["index"]),
            "output": interpreter.get_tensor(interpreter.get_output_details()[0]["index"]),
        }
        compiled = [
            compiled_model_us(str(build.path("model")), ynnpack, reference)
            for ynnpack in (False, True)
        ]
        print(
            f"| `{folder}` | {whole:.1f} | {invoke:.1f} | {1 - invoke / whole:.0%} "
            f"| {compiled[0]} | {compiled[1]} |"
        )


if __name__ == "__main__":
    main()
