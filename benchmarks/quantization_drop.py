"""What int8 costs per format: float vs int8 accuracy on FER+ test, and file sizes.

For each model ref and each format (TFLite/LiteRT, OpenVINO, ONNX/ONNX Runtime)
this converts the float model to fp32 and to int8 (calibration: the same
class-balanced FER+ train sample `emoedge export` uses), runs both in the real
runtime on FER+ test (majority protocol, 3,137 images) and writes a Markdown
table with the command that produced it.

    python benchmarks/quantization_drop.py zoo:mini_xception [MORE_REFS...] \
        --data ../shared/datasets/ferplus --out benchmarks/results/quantization_$(date +%F).md
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

from emoedge.quantization.base import DEFAULT_CALIBRATION_SIZE

FORMATS = ("tflite", "openvino", "onnx")
GOAL_DROP = 0.5
GOAL_RATIO = 1 / 3.5


def model_bytes(folder: Path, files: dict[str, str]) -> int:
    return sum(
        (folder / rel).stat().st_size for role, rel in files.items() if role in ("model", "weights")
    )


def run(
    ref: str,
    data: Path,
    calibration_size: int,
    limit: int | None,
    split: str = "test",
    formats: tuple[str, ...] = FORMATS,
    seeds: tuple[int, ...] = (0,),
    per_channel: bool = True,
) -> list[dict]:
    """One row per format and calibration seed; the fp32 build is made once per format."""
    from emoedge.compare import quantized_build
    from emoedge.data.ferplus import load_ferplus
    from emoedge.models.zoo import load_keras_model, model_preprocess_spec
    from emoedge.quantization import CalibrationSet, ConvertRequest, get_quantizer
    from emoedge.targets.formats import get_format
    from emoedge.targets.runtimes import load_runtime

    model = load_keras_model(ref)
    spec = model_preprocess_spec(ref, model)
    faces = load_ferplus(data, split, "majority").limit(limit)
    inputs, labels = faces.to_inputs(spec), faces.labels
    keras_probs = np.concatenate(
        [model(inputs[i : i + 256], training=False).numpy() for i in range(0, len(inputs), 256)]
    )
    keras_acc = float((keras_probs.argmax(1) == labels).mean())
    calibrations = {
        seed: CalibrationSet.from_ferplus(data, spec, size=calibration_size, seed=seed)
        for seed in seeds
    }

    def build_and_score(quantizer, precision: str, calibration, folder: Path) -> dict:
        started = time.perf_counter()
        # per-tensor is an int8 setting: the fp32 reference build is asked for nothing
        request = ConvertRequest(
            model, calibration, precision, folder, per_channel or precision != "int8"
        )
        artifact = quantizer.quantize(request)
        seconds = time.perf_counter() - started
        runtime = load_runtime(quantized_build(folder / artifact.files["model"]))
        probs = np.concatenate(
            [runtime.predict(inputs[i : i + 256]) for i in range(0, len(inputs), 256)]
        )
        return {
            "accuracy": float((probs.argmax(1) == labels).mean()),
            "bytes": model_bytes(folder, artifact.files),
            "seconds": seconds,
            "pred": probs.argmax(1),
        }

    rows = []
    for fmt in formats:
        quantizer = get_quantizer(fmt)
        with tempfile.TemporaryDirectory() as tmp:
            fp32 = build_and_score(quantizer, "fp32", None, Path(tmp) / "fp32")
            for seed in seeds:
                int8 = build_and_score(
                    quantizer, "int8", calibrations[seed], Path(tmp) / f"int8-{seed}"
                )
                result = {
                    "model": ref,
                    "format": fmt,
                    "runtime": get_format(fmt).runtime,
                    "split": split,
                    "seed": seed,
                    "weights": "per-channel" if per_channel else "per-tensor",
                    "images": len(labels),
                    "keras_accuracy": keras_acc,
                    "fp32_accuracy": fp32["accuracy"],
                    "int8_accuracy": int8["accuracy"],
                    "fp32_bytes": fp32["bytes"],
                    "int8_bytes": int8["bytes"],
                    "fp32_seconds": fp32["seconds"],
                    "int8_seconds": int8["seconds"],
                    "drop_points": (fp32["accuracy"] - int8["accuracy"]) * 100,
                    "agreement": float((fp32["pred"] == int8["pred"]).mean()),
                    "ratio": int8["bytes"] / fp32["bytes"],
                }
                rows.append(result)
                print(
                    f"{ref} {fmt} seed {seed}: fp32 {result['fp32_accuracy']:.2%} "
                    f"int8 {result['int8_accuracy']:.2%} drop {result['drop_points']:.2f} "
                    f"size {result['fp32_bytes']}->{result['int8_bytes']}",
                    file=sys.stderr,
                )
    return rows


def table(rows: list[dict], command: str, calibration_size: int) -> str:
    split = rows[0]["split"] if rows else "test"
    lines = [
        f"# int8 quantization drop per format ({date.today().isoformat()})",
        "",
        f"FER+ {split}, majority protocol (FERPlus code's rule). Float = the fp32 model in the",
        "same runtime (Keras accuracy shown too); int8 = post-training quantization with a",
        f"class-balanced sample of {calibration_size} FER+ train images (the sample's seed",
        "is given; `emoedge export` uses seed 0). Sizes are the model",
        "file(s) a device loads (OpenVINO: .xml + .bin).",
        f"Goals: drop <= {GOAL_DROP} point; int8 size <= 1/3.5 of float ({GOAL_RATIO:.3f}).",
        "",
        "Command:",
        "",
        f"    {command}",
        "",
        (
            "| model | format (runtime) | int8 weights | seed | images | Keras | fp32 | int8 "
            "| drop (points) | agreement | fp32 bytes | int8 bytes | int8/fp32 | drop goal "
            "| size goal |"
        ),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|:-:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['model']} | {r['format']} ({r['runtime']}) | {r['weights']} | {r['seed']} "
            f"| {r['images']} "
            f"| {r['keras_accuracy']:.2%} | {r['fp32_accuracy']:.2%} | {r['int8_accuracy']:.2%} "
            f"| {r['drop_points']:+.2f} | {r['agreement']:.2%} | {r['fp32_bytes']:,} "
            f"| {r['int8_bytes']:,} | {r['ratio']:.3f} "
            f"| {'yes' if r['drop_points'] <= GOAL_DROP else 'NO'} "
            f"| {'yes' if r['ratio'] <= GOAL_RATIO else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", help="zoo:<name> or .keras paths")
    parser.add_argument("--data", type=Path, required=True, help="FER+ root")
    parser.add_argument("--out", type=Path, help="Markdown file to write (default: stdout only)")
    parser.add_argument("--calibration-size", type=int, default=DEFAULT_CALIBRATION_SIZE)
    parser.add_argument("--limit", type=int, default=None, help="images (default: all)")
    parser.add_argument(
        "--split", default="test", choices=("test", "valid"), help="FER+ split to score on"
    )
    parser.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    parser.add_argument(
        "--per-tensor",
        action="store_true",
        help="int8 weights per tensor instead of per channel (what the size goal costs)",
    )
    parser.add_argument(
        "--seeds",
        nargs="+",
        type=int,
        default=[0],
        help="calibration sample seeds: how much the drop moves with the sample alone",
    )
    args = parser.parse_args()
    command = "python " + " ".join(shlex.quote(a) for a in sys.argv)
    rows = [
        row
        for ref in args.models
        for row in run(
            ref,
            args.data,
            args.calibration_size,
            args.limit,
            args.split,
            tuple(args.formats),
            tuple(args.seeds),
            not args.per_tensor,
        )
    ]
    text = table(rows, command, args.calibration_size)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
