"""`emoedge run` on a video of wild-sample photos agrees with `emoedge evaluate` on the same crops.

For each build: assemble every wild-sample photo into one mp4v video (one frame
per photo), run `emoedge run BUILD --source video --json --save-crops
--smoothing none`, sort the saved crops into folder-per-class by the photo's
wild-sample label, run `emoedge evaluate BUILD --format folders` on them and
compare (a) each JSONL label with the build's runtime on its crop (through
evaluate's predictor) and (b) the confusion matrix built from the JSONL with
evaluate's. Also reports detection recall on the video and the stage timings.

    python benchmarks/pipeline_parity.py builds/mini_xception-x86-int8 builds/mini_xception-rpi-int8
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from reports import report_head  # same folder: run as a script
from wild_sample import add_sample_arguments


def fit(image: np.ndarray, side: int) -> np.ndarray:
    """Scale a photo to fit a side x side frame, centred on black (video frames share one size)."""
    scale = side / max(image.shape[:2])
    resized = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    canvas = np.zeros((side, side, 3), np.uint8)
    top, left = (side - resized.shape[0]) // 2, (side - resized.shape[1]) // 2
    canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return canvas


def make_video(data: Path, path: Path) -> list[tuple[str, str]]:
    rows = list(csv.DictReader((data / "labels.csv").open()))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (350, 350))
    kept = []
    for row in rows:
        image = cv2.imread(str(data / "images" / row["image"]), cv2.IMREAD_COLOR)
        if image is None:
            continue
        writer.write(fit(image, 350))
        kept.append((row["image"], row["emotion"]))
    writer.release()
    return kept


def one_build(build: Path, video: Path, truth: list[tuple[str, str]], work: Path) -> dict:
    from emoedge.evaluation import load_predictor
    from emoedge.targets.manifest import Build

    jsonl, crops, classes = work / "run.jsonl", work / "crops", work / "by_class"
    run_cmd = [
        "emoedge",
        "run",
        str(build),
        "--source",
        str(video),
        "--json",
        str(jsonl),
        "--smoothing",
        "none",
        "--save-crops",
        str(crops),
    ]
    subprocess.run(run_cmd, check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    labels = Build.load(build).labels
    predicted, actual, crop_files = [], [], []
    found = 0
    for line in lines:
        if not line["faces"]:
            continue
        found += 1
        face = line["faces"][0]  # one face per photo; the largest comes first
        name, emotion = truth[line["frame_index"]]
        crop = crops / f"{line['frame_index']:06d}_{face['track_id']}.png"
        target = classes / emotion / f"{Path(name).stem}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(crop, target)
        predicted.append(labels.index(face["label"]))
        actual.append(labels.index(emotion))
        crop_files.append(target)
    eval_cmd = [
        "emoedge",
        "evaluate",
        str(build),
        "--data",
        str(classes),
        "--format",
        "folders",
        "--out",
        str(work / "eval"),
    ]
    subprocess.run(eval_cmd, check=True, capture_output=True, text=True)
    report = json.loads((work / "eval" / "report.json").read_text())
    confusion_run = np.zeros((len(labels), len(labels)), int)
    for a, p in zip(actual, predicted, strict=True):
        confusion_run[a, p] += 1
    confusion_eval = np.array(report.get("confusion_matrix") or report.get("confusion"))
    # per crop: evaluate's predictor (the same runtime) on each crop file
    predictor, spec, _ = load_predictor(str(build))
    from emoedge.data.preprocess import PreprocessSpec, preprocess

    whole = PreprocessSpec(spec.height, spec.width, spec.channels, spec.scale, margin=0.0)
    batch = np.stack(
        [preprocess(cv2.imread(str(f), cv2.IMREAD_UNCHANGED), whole) for f in crop_files]
    )
    per_crop = np.asarray(predictor(batch)).argmax(1)
    return {
        "build": str(build),
        "frames": len(lines),
        "found": found,
        "per_crop_agree": int((per_crop == np.array(predicted)).sum()),
        "confusion_equal": bool(
            confusion_eval.shape == confusion_run.shape and (confusion_eval == confusion_run).all()
        ),
        "run_accuracy": float(np.mean(np.array(predicted) == np.array(actual))),
        "eval_accuracy": float(report["accuracy"]),
        "timings": {
            k: float(np.mean([line["timings"][k] for line in lines]))
            for k in ("capture", "detect", "classify", "track", "total")
        },
        "run_cmd": " ".join(run_cmd),
        "eval_cmd": " ".join(eval_cmd),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("builds", nargs="+", type=Path)
    add_sample_arguments(parser)
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "wild-sample.mp4"
        truth = make_video(args.data, video)
        for i, build in enumerate(args.builds):
            work = Path(tmp) / f"b{i}"
            work.mkdir()
            rows.append(one_build(build, video, truth, work))
    today = dt.date.today().isoformat()
    lines = [
        *report_head(
            "`emoedge run` vs `emoedge evaluate` on the same crops", today, __file__, *args.builds
        ),
        f"Video: the {len(truth)} wild-sample photos, one frame each (mp4v, 10 fps; photos not 350x350 are",
        "scaled to fit and centred). Per build the script runs",
        "(with temporary paths):",
        "",
    ]
    for row in rows:
        lines += [f"    {row['run_cmd']}", f"    {row['eval_cmd']}", ""]
    lines += [
        "| build | frames | face found | JSONL label = runtime on crop | confusion matrices equal "
        "| accuracy run / evaluate | ms capture / detect / classify / total |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        t = row["timings"]
        lines.append(
            f"| {row['build']} | {row['frames']} | {row['found']} | {row['per_crop_agree']}/{row['found']} "
            f"| {'yes' if row['confusion_equal'] else 'NO'} | {row['run_accuracy']:.2%} / "
            f"{row['eval_accuracy']:.2%} | {t['capture']:.1f} / {t['detect']:.1f} / "
            f"{t['classify']:.1f} / {t['total']:.1f} |"
        )
    lines += [
        "",
        "Accuracy here is against noisy crowd labels on news photos, with the current zoo",
        "model: it shows agreement between the two paths, not a claim about accuracy.",
        "",
    ]
    text = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"pipeline_parity_{today}.md"
    path.write_text(text)
    print(text)
    ok = all(r["confusion_equal"] and r["per_crop_agree"] == r["found"] for r in rows)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
