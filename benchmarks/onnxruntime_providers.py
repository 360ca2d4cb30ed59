"""The jetson builds on each ONNX Runtime execution provider a machine offers:
which provider really runs the model, whether its answers agree with the CPU's,
its FER+ accuracy and its latency.

CI and the development machine have no GPU, so the CUDA and TensorRT providers
are never exercised there; this script is what is run on a machine that has one
(an NVIDIA GPU with an onnxruntime-gpu wheel). Each provider list is loaded
through emoedge's own runtime, so a provider that cannot start shows up as the
warning a user would see and the providers that took over.

    python benchmarks/onnxruntime_providers.py BUILD [BUILD ...] [--data ../shared/datasets/ferplus]
        [--split test] [--sample 0] [--calls 300] [--out benchmarks/results/onnxruntime_providers_<date>.md]

Provider lists tried: CPU alone (the reference), CUDA then CPU, and the build's
own list (TensorRT, CUDA, CPU for a jetson build); lists naming a provider this
wheel lacks are skipped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np
from reports import print_report  # same folder: run as a script

PROVIDER_LISTS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "build": None,  # the manifest's list
}


def _gpu_name() -> str:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        return out.stdout.strip() or "none"
    except (OSError, subprocess.SubprocessError):
        return "none"


def _latency_ms(runtime, face: np.ndarray, calls: int) -> tuple[float, float]:
    for _ in range(min(30, calls)):
        runtime.predict(face)
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        runtime.predict(face)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def measure(build_dir: Path, providers: list[str] | None, inputs: np.ndarray, calls: int) -> dict:
    from emoedge.targets.manifest import Build
    from emoedge.targets.runtimes.onnxruntime import OnnxRuntime

    build = Build.load(build_dir)
    start = time.perf_counter()
    runtime = OnnxRuntime(threads=1, providers=providers).load(build)
    load_s = time.perf_counter() - start
    # The face count changes from frame to frame: the slowest call at a batch size
    # just after another size is the stall a video sees.
    changes = []
    for size in (1, 2, 1, 3, 1, 5, 2):
        start = time.perf_counter()
        runtime.predict(inputs[:size])
        changes.append((time.perf_counter() - start) * 1000)
    probs = np.concatenate(
        [runtime.predict(inputs[i : i + 256]) for i in range(0, len(inputs), 256)]
    )
    p50, p95 = _latency_ms(runtime, inputs[:1], calls)
    start = time.perf_counter()
    for i in range(0, len(inputs), 256):
        runtime.predict(inputs[i : i + 256])
    batch_rate = len(inputs) / (time.perf_counter() - start)
    return {
        "providers": runtime.describe()["providers"],
        "load_s": load_s,
        "size_change_max_ms": max(changes),
        "probs": probs,
        "p50_ms": p50,
        "p95_ms": p95,
        "faces_per_s_batch256": batch_rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("builds", nargs="+", type=Path)
    parser.add_argument("--data", default="../shared/datasets/ferplus")
    parser.add_argument("--split", default="test")
    parser.add_argument("--sample", type=int, default=0, help="faces (stratified); 0: all")
    parser.add_argument("--calls", type=int, default=300, help="timed batch-1 calls")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import onnxruntime as ort

    from emoedge.data.faceset import stratified_sample
    from emoedge.data.ferplus import load_ferplus
    from emoedge.targets.manifest import Build

    faces = load_ferplus(args.data, args.split)
    if args.sample:
        faces = faces.subset(stratified_sample(faces.labels, args.sample))
    available = ort.get_available_providers()
    rows = []
    for build_dir in args.builds:
        build = Build.load(build_dir)
        spec = build.preprocess
        inputs = faces.to_inputs(spec)
        reference = None
        for name, providers in PROVIDER_LISTS.items():
            wanted = providers or build.runtime.options.get("providers", [])
            if any(p not in available for p in wanted):
                logging.warning("%s: %s skipped, not in this wheel", build_dir.name, name)
                continue
            result = measure(build_dir, providers, inputs, args.calls)
            probs = result.pop("probs")
            if reference is None:
                reference = probs
            result.update(
                build=build_dir.name,
                list=name,
                accuracy=float((probs.argmax(1) == faces.labels).mean()),
                agreement_with_cpu=float((probs.argmax(1) == reference.argmax(1)).mean()),
                max_abs_diff_vs_cpu=float(np.abs(probs - reference).max()),
            )
            rows.append(result)
            print(json.dumps(result), flush=True)

    lines = [
        f"# ONNX Runtime providers, {dt.date.today().isoformat()}",
        "",
        f"Machine: {platform.node()} ({platform.processor() or platform.machine()}), "
        f"GPU: {_gpu_name()}; onnxruntime {ort.__version__}, providers in the wheel: "
        f"{', '.join(available)}.",
        f"Faces: FER+ {args.split}, {len(faces)} (majority protocol"
        f"{', stratified sample' if args.sample else ''}). One classifier thread; latency is one "
        f"face per call after warm-up, {args.calls} calls.",
        "",
        "| build | asked | ran on | load s | slowest call after a batch-size change, ms | accuracy | agrees with CPU | max prob diff | p50 ms | p95 ms | faces/s (batch 256) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['build']} | {row['list']} | {' > '.join(p.replace('ExecutionProvider', '') for p in row['providers'])} "
            f"| {row['load_s']:.2f} | {row['size_change_max_ms']:.1f} | {100 * row['accuracy']:.2f}% | {100 * row['agreement_with_cpu']:.2f}% "
            f"| {row['max_abs_diff_vs_cpu']:.4f} | {row['p50_ms']:.3f} | {row['p95_ms']:.3f} "
            f"| {row['faces_per_s_batch256']:,.0f} |"
        )
    print_report(lines, args.out)


if __name__ == "__main__":
    main()
