"""Two models on the same FER+ valid images: each one's accuracy and the images only
one of them reads right (McNemar's discordant pairs), for judging a small gain.

    python benchmarks/paired_valid.py zoo:mobilenet_v2 runs/mobilenet_v2_r10mix/model.keras \
        [--data ../shared/datasets/ferplus]

Two models fine-tuned one from the other agree on most images, so the standard error of
their difference is far below that of either accuracy; this prints it (tuning data only:
test is never used). Any model `emoedge evaluate` takes works.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from emoedge.data.ferplus import load_ferplus
from emoedge.evaluation import load_predictor, predict_faceset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first")
    parser.add_argument("second")
    parser.add_argument("--data", default="../shared/datasets/ferplus")
    args = parser.parse_args()

    valid = load_ferplus(args.data, "valid", "majority")
    truth = np.asarray(valid.labels)
    right = []
    for ref in (args.first, args.second):
        predictor, spec, _ = load_predictor(ref)
        right.append(predict_faceset(predictor, valid, spec).argmax(1) == truth)
    only_first = int((right[0] & ~right[1]).sum())
    only_second = int((~right[0] & right[1]).sum())
    discordant = only_first + only_second
    z = (only_second - only_first) / math.sqrt(discordant) if discordant else 0.0
    print(f"FER+ valid, majority protocol: {len(truth)} images")
    print(f"{args.first}: {100 * right[0].mean():.2f}%")
    print(f"{args.second}: {100 * right[1].mean():.2f}%")
    print(f"only the first right: {only_first}; only the second right: {only_second}")
    print(f"McNemar z (second over first): {z:+.2f}")


if __name__ == "__main__":
    main()
