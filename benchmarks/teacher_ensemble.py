"""How good a distillation teacher the zoo makes: each model and their average, with
and without test-time flip, on FER+ valid (tuning data only; test is never used).

    python benchmarks/teacher_ensemble.py zoo:mini_xception zoo:mobilenet_v2 \
        [--data ../shared/datasets/ferplus] [--out benchmarks/results/teacher_ensemble_<date>.md]

Any model `emoedge evaluate` takes works (a .keras file, zoo:<name>, a build).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import numpy as np
from reports import print_report  # same folder: run as a script

from emoedge.data.ferplus import load_ferplus
from emoedge.evaluation import load_predictor, predict_faceset
from emoedge.training.distill import describe_teachers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default="../shared/datasets/ferplus")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    valid = load_ferplus(args.data, "valid", "majority")
    rows = []
    plain_sum = flip_sum = None
    for teacher in describe_teachers(args.models):
        predictor, spec, _ = load_predictor(teacher["ref"])
        plain = predict_faceset(predictor, valid, spec)
        # only the mirrors are new work; the plain pass is reused (as `models publish` does)
        mirrored = predict_faceset(
            lambda batch, predict=predictor: predict(batch[:, :, ::-1, :].copy()), valid, spec
        )
        flip = (plain + mirrored) / 2
        rows.append((f"`{teacher['ref']}` (sha256 `{teacher['sha256'][:16]}...`)", plain, flip))
        plain_sum = plain if plain_sum is None else plain_sum + plain
        flip_sum = flip if flip_sum is None else flip_sum + flip
    if len(args.models) > 1:
        rows.append(("mean of the models above", plain_sum, flip_sum))

    def accuracy(probs: np.ndarray) -> str:
        return f"{100 * float((probs.argmax(1) == valid.labels).mean()):.2f}%"

    lines = [
        f"# Distillation teachers on FER+ valid, {dt.date.today().isoformat()}",
        "",
        "Command:",
        "",
        "    python benchmarks/teacher_ensemble.py " + " ".join(sys.argv[1:]),
        "",
        f"FER+ valid, majority protocol ({len(valid):,} images). Flip: the mean of the face "
        "and its mirror, as `emoedge train --teacher` scores the training images.",
        "",
        "| model | accuracy | with flip |",
        "|---|---:|---:|",
        *(f"| {name} | {accuracy(plain)} | {accuracy(flip)} |" for name, plain, flip in rows),
    ]
    print_report(lines, args.out)


if __name__ == "__main__":
    main()
