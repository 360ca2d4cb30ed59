"""Is the wild sample's "everything reads as neutral" the training prior?

FER+ training faces are 35% neutral and 0.5% disgust; the wild sample holds 20
photos of most classes. If the misses came from that prior, dividing the
classifier's probabilities by the training class frequencies to a power tau
(logit adjustment: tau 0 is the model as trained, 1 a uniform prior) would give
them back. This measures, in one run, for each tau: FER+ valid accuracy and
balanced accuracy (mean per-class recall) of the build's float model (tau is
chosen on valid, never on the photos), and the largest face's label on the
wild sample through the build, with and without the mirrored face.

    python benchmarks/class_prior.py --build builds/mobilenet_v2-rpi-int8 \
        --model zoo:mobilenet_v2 [--ferplus ../shared/datasets/ferplus]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import cv2
import numpy as np
from reports import report_head, write_report  # same folder: run as a script
from wild_accuracy import accuracy_row, largest
from wild_sample import add_sample_arguments, labelled_files

from emoedge.data.preprocess import preprocess
from emoedge.labels import EMOTIONS
from emoedge.targets.pipeline import Pipeline

TAUS = (0.0, 0.25, 0.5, 0.75, 1.0)


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    """Mean recall over the classes present, from the one classification report."""
    from emoedge.evaluation import classification_report

    per_class = classification_report(labels, predicted)["per_class"].values()
    return float(np.mean([c["recall"] for c in per_class if c["support"]]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--build", type=Path, required=True)
    parser.add_argument("--model", required=True, help="the build's float model (FER+ rows)")
    parser.add_argument("--ferplus", type=Path, default=Path("../shared/datasets/ferplus"))
    add_sample_arguments(parser)
    args = parser.parse_args(argv)

    from emoedge.data.ferplus import load_ferplus
    from emoedge.evaluation import load_predictor, predict_faceset

    train = load_ferplus(args.ferplus, "train", "majority")
    prior = np.bincount(train.labels, minlength=len(EMOTIONS)) / len(train)
    valid = load_ferplus(args.ferplus, "valid", "majority")
    predictor, spec, _ = load_predictor(args.model)
    valid_probs = predict_faceset(predictor, valid, spec, flip_tta=True)

    labels, files = labelled_files(args.data)
    truth = [labels[f.name] for f in files]
    pipeline = Pipeline.from_build(args.build, smoothing="none")
    crops: list[np.ndarray | None] = []
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        face = largest(pipeline.detector.detect(image))
        crops.append(
            preprocess(image, pipeline.spec, face.box, pipeline.roll(face)) if face else None
        )
    found = [i for i, crop in enumerate(crops) if crop is not None]
    faces = np.stack([crops[i] for i in found])
    plain = np.zeros((len(files), len(EMOTIONS)))
    mirrored = np.zeros_like(plain)
    plain[found] = pipeline.runtime.predict(faces)
    mirrored[found] = pipeline.runtime.predict(faces[:, :, ::-1])

    today = dt.date.today().isoformat()
    lines = [
        *report_head(
            "Class prior: logit adjustment on FER+ valid and the wild sample",
            today,
            __file__,
            "--build",
            args.build,
            "--model",
            args.model,
        ),
        f"Model `{args.model}` (FER+ valid, majority protocol, {len(valid)} images, float, "
        f"mirrored face averaged); build `{args.build.name}` "
        f"({pipeline.build.manifest.format} {pipeline.build.manifest.precision}) on "
        f"{len(files)} wild-sample photos, largest face, the pipeline's crop, no smoothing.",
        "Training prior (FER2013Train, majority): "
        + ", ".join(f"{name} {p:.3f}" for name, p in zip(EMOTIONS, prior, strict=True))
        + ".",
        "Adjusted probabilities: p / prior^tau (tau 0: the model as trained).",
        "",
        "| tau | FER+ valid accuracy | FER+ valid balanced | wild | wild, flip | "
        + " | ".join(f"wild {name}" for name in EMOTIONS)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(EMOTIONS),
    ]
    for tau in TAUS:
        weight = prior**-tau
        predicted = (valid_probs * weight).argmax(1)
        wild = {}
        for flip in (False, True):
            adjusted = (plain + mirrored if flip else plain) * weight
            names = [
                EMOTIONS[int(adjusted[i].argmax())] if crops[i] is not None else None
                for i in range(len(files))
            ]
            wild[flip] = accuracy_row(names, truth)
        per_class = wild[False][1]
        lines.append(
            f"| {tau:g} | {np.mean(predicted == valid.labels):.2%} | "
            f"{balanced_accuracy(predicted, valid.labels):.2%} | {wild[False][0]:.1%} | "
            f"{wild[True][0]:.1%} | " + " | ".join(per_class.values()) + " |"
        )
    lines += [
        "",
        "Wild per-class cells (without flip): correct / photos of that class. A photo "
        "without a face counts as wrong.",
    ]
    write_report(lines, args.out / f"class_prior_{today}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
