"""How small a face can be and still get the label it gets at full size.

Each wild-sample photo is shrunk so that its face (the build detector's largest
box at full size) is N pixels wide, and the face is classified there with the
pipeline's own crop; the table gives, per N, how often the label equals the
full-size face's and the agreement with the crowd labels. The pipeline's
`MIN_FACE` (faces narrower are reported unread) is the smallest N here whose
labels agree with full size on at least `AGREEMENT` of the photos, for every
build given: below it a label says more about the pixels lost than about the face.

    python benchmarks/min_face_size.py --build builds/mini_xception-rpi-int8 \
        [--build ANOTHER] [--data ../shared/datasets/wild-sample]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import cv2
import numpy as np
from reports import report_head, write_report  # same folder: run as a script
from wild_sample import add_sample_arguments, labelled_files

from emoedge.targets.pipeline import MIN_FACE, Pipeline

SIZES = (8, 12, 16, 20, 24, 28, 32, 40, 48, 64)
#: share of photos whose shrunk face must keep its full-size label
AGREEMENT = 0.8


def table(build: Path, files: list[Path], labels: dict[str, str]) -> tuple[list[str], int | None]:
    """One build's rows, and the smallest width meeting the rule."""
    pipeline = Pipeline.from_build(build, smoothing="none")
    names = pipeline.labels
    faces, images, truth = [], [], []
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        found = pipeline.detector.detect(image)
        if found:
            faces.append(max(found, key=lambda d: d.box[2] * d.box[3]))
            images.append(image)
            truth.append(labels[path.name])

    def classify(size: int | None) -> list[str]:
        out = []
        for image, face in zip(images, faces, strict=True):
            scale = 1.0 if size is None else size / face.box[2]
            small = image
            if scale < 1.0:
                small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            box = tuple(round(v * min(scale, 1.0)) for v in face.box)
            probs = pipeline.classify(small, [box], [pipeline.roll(face)])[0]
            out.append(names[int(np.argmax(probs))])
        return out

    full = classify(None)
    n = len(images)
    full_acc = sum(a == b for a, b in zip(full, truth, strict=True)) / n
    calibration = (pipeline.build.manifest.calibration or {}).get("source")
    rows = [
        f"## `{build.name}` (int8 calibrated on {calibration})",
        "",
        f"{n} photos with a face; full size agrees with the crowd on {full_acc:.1%}.",
        "",
        "| face width (px) | same as full size | vs crowd |",
        "|---|---|---|",
    ]
    chosen = None
    for size in SIZES:
        got = classify(size)
        same = sum(a == b for a, b in zip(got, full, strict=True)) / n
        crowd = sum(a == b for a, b in zip(got, truth, strict=True)) / n
        if chosen is None and same >= AGREEMENT:
            chosen = size
        rows.append(f"| {size} | {same:.1%} | {crowd:.1%} |")
    rows += ["", f"Smallest width with at least {AGREEMENT:.0%} the same: {chosen} px.", ""]
    return rows, chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", type=Path, action="append", required=True)
    add_sample_arguments(parser)
    args = parser.parse_args(argv)
    labels, files = labelled_files(args.data)
    today = dt.date.today().isoformat()
    builds = [word for build in args.build for word in ("--build", build)]
    lines = [
        *report_head(
            "Smallest readable face, on wild-sample", today, __file__, *builds, "--data", args.data
        ),
        "Each photo shrunk (area resize) so its face box is N px wide and classified with",
        "the pipeline's crop. 'same as full size': the label equals the full-size face's;",
        "'vs crowd': agreement with wild-sample's (noisy) labels.",
        "",
    ]
    chosen = []
    for build in args.build:
        rows, size = table(build, files, labels)
        lines += rows
        chosen.append(size)
    found = [c for c in chosen if c is not None]
    rule = max(found) if len(found) == len(chosen) else None
    lines += [
        f"Rule: the smallest width whose labels agree with full size on at least {AGREEMENT:.0%}",
        f"of the photos, for every build measured: {rule} px. The pipeline's MIN_FACE is",
        f"{MIN_FACE} px (targets/pipeline.py); narrower faces are reported with `label: null`",
        "and a reason.",
    ]
    write_report(lines, args.out / f"min_face_size_{today}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
