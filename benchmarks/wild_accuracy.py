"""The whole pipeline on wild-sample: detection and the largest face's label, per crop.

wild-sample holds 134 news photos with one labelled face each (crowd labels,
noisy: a development check, not an accuracy claim). For one build this measures,
in one run so that the rows compare:
- crops: the same detections (the build's detector) classified with each way of
  cropping: the old one (box + 10% a side, clipped at the frame and stretched to a
  square), FER+ framing padded at the frame (`FERPLUS_MARGIN`/`FERPLUS_SHIFT`),
  and that framing levelled by the eye keypoints (roll alignment), and the
  pipeline itself as it ships;
- detectors: photos with a face, and the largest face's label with the
  pipeline's crop, for each detector available here.

A photo with no face counts as wrong. No smoothing (the photos are unrelated).

    python benchmarks/wild_accuracy.py --build builds/mini_xception-rpi-int8 \
        [--data ../shared/datasets/wild-sample] [--suffix b]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from reports import report_head, write_report  # same folder: run as a script
from wild_sample import add_sample_arguments, labelled_files

from emoedge.data.preprocess import expand_box, eye_roll, preprocess
from emoedge.labels import EMOTIONS
from emoedge.targets.detectors import Detection, make_detector
from emoedge.targets.pipeline import Pipeline

CropFn = Callable[[np.ndarray, Detection], np.ndarray]


def largest(detections: list[Detection]) -> Detection | None:
    return max(detections, key=lambda d: d.box[2] * d.box[3]) if detections else None


def crop_variants(spec) -> dict[str, CropFn]:
    old = type(spec)(spec.height, spec.width, spec.channels, spec.scale, margin=0.1, shift=0.0)

    def before(image: np.ndarray, face: Detection) -> np.ndarray:
        x, y, w, h = expand_box(face.box, 0.1, image.shape)  # the crop until 2026-12-03
        return preprocess(image[y : y + h, x : x + w], spec)

    return {
        "before: box + 10%, clipped and stretched": before,
        "box + 10%, padded": lambda image, face: preprocess(image, old, face.box),
        "FER+ framing, padded": lambda image, face: preprocess(image, spec, face.box),
        "FER+ framing, padded, levelled by the eyes": lambda image, face: preprocess(
            image, spec, face.box, eye_roll(face.eyes)
        ),
    }


def accuracy_row(predicted: list[str | None], truth: list[str]) -> tuple[float, dict[str, str]]:
    correct = [p == t for p, t in zip(predicted, truth, strict=True)]
    per_class = {}
    for name in EMOTIONS:
        hits = [c for c, t in zip(correct, truth, strict=True) if t == name]
        per_class[name] = f"{sum(hits)}/{len(hits)}" if hits else "-"
    return sum(correct) / len(truth), per_class


def detectors_here(build_detector) -> dict[str, object]:
    """Every detector this machine can run, the build's first."""
    found: dict[str, object] = {f"{build_detector.label} (build's)": build_detector}
    tries = [
        ("blazeface short int8, tiles 3", "blazeface", {"tiles": 3}),
        ("blazeface-full int8", "blazeface-full", {}),
        ("haar", "haar", {}),
        ("mtcnn (host only)", "mtcnn", {}),
    ]
    for label, name, options in tries:
        try:
            found[label] = make_detector(name, **options)
        except Exception as exc:  # a detector not installed here is left out
            print(f"{label}: not available here ({exc})", file=sys.stderr)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", type=Path, required=True)
    add_sample_arguments(parser)
    parser.add_argument("--suffix", default="")
    args = parser.parse_args(argv)
    labels, files = labelled_files(args.data)
    images = [cv2.imread(str(f), cv2.IMREAD_UNCHANGED) for f in files]
    truth = [labels[f.name] for f in files]
    pipeline = Pipeline.from_build(args.build, smoothing="none")
    names = pipeline.labels

    def classify(inputs: list[np.ndarray | None]) -> list[str | None]:
        out: list[str | None] = [None] * len(inputs)
        index = [i for i, x in enumerate(inputs) if x is not None]
        if index:
            probs = pipeline.runtime.predict(np.stack([inputs[i] for i in index]))
            for i, p in zip(index, probs, strict=True):
                out[i] = names[int(np.argmax(p))]
        return out

    detectors = detectors_here(pipeline.detector)
    found = {
        label: [largest(detector.detect(image)) for image in images]
        for label, detector in detectors.items()
    }

    default = next(iter(detectors))
    today = dt.date.today().isoformat()
    n = len(files)
    suffix = ("--suffix", args.suffix) if args.suffix else ()
    lines = [
        *report_head(
            "wild-sample: detection and the largest face's label",
            today,
            __file__,
            "--build",
            args.build,
            "--data",
            args.data,
            *suffix,
        ),
        f"Build: `{args.build.name}` ({pipeline.build.manifest.format} "
        f"{pipeline.build.manifest.precision} on {pipeline.runtime.name}); {n} photos, one",
        "labelled face each (crowd labels, noisy); a photo without a face counts as wrong; no",
        "smoothing. The build's int8 calibration: "
        f"{(pipeline.build.manifest.calibration or {}).get('source')}.",
        "Detector times: detector_full_range_*.md (alternating rounds; a training run shares",
        "this machine's 2 cores, so times taken one detector after another mislead).",
        "",
        f"## Crops (detector: {default}, {sum(f is not None for f in found[default])}/{n} photos"
        " with a face)",
        "",
        "| crop | correct | " + " | ".join(EMOTIONS) + " |",
        "|---|---|" + "---|" * len(EMOTIONS),
    ]
    for label, crop in crop_variants(pipeline.spec).items():
        predicted = classify(
            [
                crop(image, face) if face else None
                for image, face in zip(images, found[default], strict=True)
            ]
        )
        acc, per_class = accuracy_row(predicted, truth)
        lines.append(f"| {label} | {acc:.1%} | " + " | ".join(per_class.values()) + " |")
    predicted = []
    for image in images:
        result = pipeline(image)
        best = max(result.faces, key=lambda f: f.box[2] * f.box[3]) if result.faces else None
        predicted.append(best.label if best else None)
    acc, per_class = accuracy_row(predicted, truth)
    lines.append(
        f"| the pipeline as shipped (align {pipeline.config.align}, min_face "
        f"{pipeline.config.min_face} px) | {acc:.1%} | " + " | ".join(per_class.values()) + " |"
    )
    lines += [
        "",
        "Per-class cells: correct / photos of that class. The last row is `Pipeline(photo)`",
        "itself: faces under min_face are unread (no label), so they count as wrong.",
        "",
        f"## Detectors (the pipeline's crop: FER+ framing, padded, align {pipeline.config.align})",
        "",
        "| detector | photos with a face | correct |",
        "|---|---|---|",
    ]
    for label, faces in found.items():
        predicted = classify(
            [
                preprocess(image, pipeline.spec, face.box, pipeline.roll(face)) if face else None
                for image, face in zip(images, faces, strict=True)
            ]
        )
        acc, _ = accuracy_row(predicted, truth)
        hits = sum(f is not None for f in faces)
        lines.append(f"| {label} | {hits}/{n} ({hits / n:.1%}) | {acc:.1%} |")
    write_report(lines, args.out / f"wild_accuracy_{today}{args.suffix}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
