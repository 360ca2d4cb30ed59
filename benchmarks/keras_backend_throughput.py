"""Keras 3's PyTorch backend against TensorFlow for training the zoo's architectures.

Issue 18 lists "Keras 3's PyTorch backend for training only" as a throughput
lever: a `.keras` file is backend-neutral, so a model trained under torch would
deploy as today's do. Before porting `emoedge train` (its input pipeline is
tf.data and its callbacks use TensorFlow) the lever has to pay off where it
could: the train step itself. This times `Model.fit` on synthetic batches held
in memory (no input pipeline, no validation) for the same registry model under
each backend, alternating the backends round by round so that a change in the
machine's load hits both.

TensorFlow runs in this interpreter's environment with oneDNN on (the training
default, see `emoedge.tf_env`); torch runs in `--torch-python`, an environment
with the CPU build of torch, keras and opencv, made for example with

    python -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.13.0 keras==3.15.1 \\
        opencv-python-headless==4.14.0.94 numpy==2.4.6

Its install cost (the torch package on disk) is reported beside the speed.

    python benchmarks/keras_backend_throughput.py --torch-python /tmp/tv/bin/python \\
        --out benchmarks/results/training/keras_backend_throughput_<date>.md
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reports import print_report  # same folder: run as a script

ROOT = Path(__file__).resolve().parents[1]
# One measurement in a fresh process: build the registry model, one warm-up fit
# (tracing, allocation), then `steps` batches timed. Prints one JSON line.
WORKER = """
import json, sys, time
import numpy as np
import keras
from emoedge.models import build_model
name, size, batch, steps, alpha = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
options = {"alpha": float(alpha)} if alpha != "-" else {}
model = build_model(name, input_size=size, **options)
model.compile(optimizer=keras.optimizers.AdamW(1e-3), loss="categorical_crossentropy")
rng = np.random.default_rng(0)
x = rng.random((batch * steps, *model.input_shape[1:]), dtype=np.float32)
y = keras.utils.to_categorical(rng.integers(0, 8, batch * steps), 8)
model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0)
started = time.perf_counter()
model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
seconds = time.perf_counter() - started
print(json.dumps({"backend": keras.backend.backend(), "img_per_s": batch * steps / seconds}))
"""
TORCH_SIZE = """
import json, pathlib, torch
root = pathlib.Path(torch.__file__).parent
print(json.dumps({"version": torch.__version__,
                  "mb": sum(p.stat().st_size for p in root.rglob('*') if p.is_file()) / 1e6}))
"""
# (registry name, input size, MobileNetV2 width or "-"): the zoo's architectures at
# the sizes the throughput table's fastest rows use, and mobilenet_v2 at its zoo size
CASES = [("mini_xception", 48, "-"), ("mobilenet_v2", 48, "0.5"), ("mobilenet_v2", 80, "0.5")]


def package_path() -> str:
    """A PYTHONPATH under which `import emoedge` finds this checkout's package.

    The torch environment does not install emoedge; the tree laid out as the
    installed package (as training_throughput's baseline does) serves both.
    """
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from training_throughput import baseline_tree

    return str(baseline_tree("HEAD", Path(tempfile.mkdtemp(prefix="emoedge-backend-"))))


def measure(python: str, backend: str, case: tuple, batch: int, steps: int, path: str) -> float:
    name, size, alpha = case
    env = {
        **os.environ,
        "KERAS_BACKEND": backend,
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": path,
    }
    done = subprocess.run(
        [python, "-c", WORKER, name, str(size), str(batch), str(steps), alpha],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{backend} {name} failed:\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["backend"] != backend:
        raise SystemExit(f"asked for {backend}, keras ran {result['backend']}")
    return result["img_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--torch-python", required=True, help="interpreter with torch + keras")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=24, help="timed batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    path = package_path()
    load_before = os.getloadavg()[0]
    torch_info = json.loads(
        subprocess.run(
            [args.torch_python, "-c", TORCH_SIZE], capture_output=True, text=True, check=True
        ).stdout
    )
    rows = []
    for case in CASES:
        speeds: dict[str, list[float]] = {"tensorflow": [], "torch": []}
        for _ in range(args.rounds):
            for backend, python in (("tensorflow", sys.executable), ("torch", args.torch_python)):
                speeds[backend].append(
                    measure(python, backend, case, args.batch_size, args.steps, path)
                )
                print(case, backend, f"{speeds[backend][-1]:.0f} img/s", flush=True)
        tf_median = statistics.median(speeds["tensorflow"])
        torch_median = statistics.median(speeds["torch"])
        rows.append((case, speeds, tf_median, torch_median))
    load_after = os.getloadavg()[0]

    lines = [
        "# Keras backend: TensorFlow (oneDNN on) against PyTorch, train step only",
        "",
        f"Command: `python benchmarks/keras_backend_throughput.py --torch-python {args.torch_python}"
        f" --batch-size {args.batch_size} --steps {args.steps} --rounds {args.rounds}`",
        "",
        f"Date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPU cores; "
        f"load average before {load_before:.2f}, after {load_after:.2f}. `Model.fit` on "
        f"synthetic batches of {args.batch_size} held in memory (no input pipeline, no "
        f"validation), {args.steps} batches per round after a warm-up fit, each round a "
        "fresh process, the backends alternating. torch "
        f"{torch_info['version']} (the CPU build; {torch_info['mb']:.0f} MB on disk), "
        "keras 3 with the same registry builders.",
        "",
        "| model | input | TensorFlow img/s (rounds) | torch img/s (rounds) | torch / TF |",
        "|---|---:|---|---|---:|",
    ]
    for (name, size, alpha), speeds, tf_median, torch_median in rows:
        label = name if alpha == "-" else f"{name} (alpha {alpha})"
        tf_runs = " / ".join(f"{s:.0f}" for s in speeds["tensorflow"])
        torch_runs = " / ".join(f"{s:.0f}" for s in speeds["torch"])
        lines.append(
            f"| {label} | {size}x{size} | {tf_median:.0f} ({tf_runs}) | "
            f"{torch_median:.0f} ({torch_runs}) | {torch_median / tf_median:.2f}x |"
        )
    print_report(lines, args.out)


if __name__ == "__main__":
    main()
