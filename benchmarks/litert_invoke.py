"""Where a LiteRT classifier call's time goes: our `predict` (quantize, set, invoke,
get, dequantize) against the interpreter's `invoke()` alone, one face, 1 thread; and
LiteRT's newer CompiledModel API on the same file (XNNPACK, then YNNPACK), to see
whether the runtime's call path, rather than the model's layers, sets the time.

    python benchmarks/litert_invoke.py BUILD [BUILD ...]

BUILD is an `emoedge export --target rpi` folder. Prints median microseconds.
"""

from __future__ import annotations

import functools
import sys

import numpy as np
from timing import median_us  # the benchmarks' shared helpers, same folder

from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime


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
