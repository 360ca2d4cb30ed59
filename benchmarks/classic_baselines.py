"""What the CNNs buy: classic ML on raw pixels, scored on the same FER+ protocol.

Logistic regression, k-nearest neighbours and a random forest on 32x32 grayscale
pixels (FER+'s 48x48 faces resized with area averaging, each image standardised
to zero mean and unit variance so that lighting does not dominate the distance),
trained on FER2013Train's majority labels (25,045 images). Each method's one
hyper-parameter is chosen on FER2013Valid; FER2013Test (majority, 3,137 images)
is scored once, for the chosen setting only. k-NN runs on a 100-component PCA of
the pixels (distances in 1,024 dimensions are mostly noise, and it is 10x faster).

    python benchmarks/classic_baselines.py --out benchmarks/results/training/classic_baselines_<date>.md

Needs scikit-learn (in the `train` extra).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIDE = 32


def pixels(faces) -> np.ndarray:
    """(N, 1024) float32: resized, per-image standardised pixels."""
    small = np.stack(
        [cv2.resize(image, (SIDE, SIDE), interpolation=cv2.INTER_AREA) for image in faces.images]
    ).reshape(len(faces), -1)
    small = small.astype(np.float32)
    small -= small.mean(axis=1, keepdims=True)
    small /= small.std(axis=1, keepdims=True) + 1e-6
    return small


def candidates():
    from sklearn.decomposition import PCA
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline

    return {
        "logistic regression": [
            (f"C={c}", lambda c=c: LogisticRegression(C=c, max_iter=300))
            for c in (0.001, 0.01, 0.1)
        ],
        "k-NN (PCA 100)": [
            (
                f"k={k}",
                lambda k=k: make_pipeline(
                    PCA(100, random_state=0), KNeighborsClassifier(k, weights="distance")
                ),
            )
            for k in (1, 10, 30)
        ],
        "random forest": [
            (
                f"{trees} trees",
                lambda trees=trees: RandomForestClassifier(
                    trees, min_samples_leaf=2, n_jobs=1, random_state=0
                ),
            )
            for trees in (100, 300)
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/datasets/ferplus"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from sklearn.metrics import accuracy_score, f1_score

    from emoedge.data.ferplus import load_ferplus

    splits = {s: load_ferplus(args.data, s, "majority") for s in ("train", "valid", "test")}
    x = {s: pixels(f) for s, f in splits.items()}
    y = {s: f.labels for s, f in splits.items()}
    load_before = os.getloadavg()[0]
    rows = []
    for method, settings in candidates().items():
        tried = []
        for setting, make in settings:
            started = time.perf_counter()
            model = make().fit(x["train"], y["train"])
            seconds = time.perf_counter() - started
            valid = accuracy_score(y["valid"], model.predict(x["valid"]))
            tried.append((valid, setting, model, seconds))
            print(f"{method} {setting}: valid {100 * valid:.2f}% ({seconds:.0f} s)", flush=True)
        valid, setting, model, seconds = max(tried, key=lambda t: t[0])
        predicted = model.predict(x["test"])
        rows.append(
            {
                "method": method,
                "chosen": setting,
                "tried": ", ".join(f"{s} {100 * v:.2f}" for v, s, _, _ in tried),
                "valid": valid,
                "test": accuracy_score(y["test"], predicted),
                "test_f1": f1_score(y["test"], predicted, average="macro"),
                "fit_seconds": seconds,
            }
        )
    text = report(rows, args, load_before)
    print(text)
    if args.out:
        args.out.write_text(text)


def report(rows, args, load_before) -> str:
    lines = [
        "# Classic ML baselines on FER+ (32x32 pixels)",
        "",
        "Command: `python benchmarks/classic_baselines.py"
        + (f" --out {args.out}`" if args.out else "`"),
        "",
        f"Date {time.strftime('%Y-%m-%d', time.gmtime())}; {os.cpu_count()} CPU cores, load "
        f"average {load_before:.2f} at the start (a training run shared the cores, so fit "
        "times are indicative only). Trained on FER2013Train majority labels (25,045); each "
        "method's setting chosen on FER2013Valid (3,191); FER2013Test majority (3,137) "
        "scored once, for the chosen setting. Pixels: 48x48 resized to 32x32 (area), "
        "standardised per image.",
        "",
        "| method | chosen on valid | valid accuracy per setting (%) | valid | **test** | "
        "test macro-F1 | fit s |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r['chosen']} | {r['tried']} | {100 * r['valid']:.2f}% | "
            f"**{100 * r['test']:.2f}%** | {r['test_f1']:.3f} | {r['fit_seconds']:.0f} |"
        )
    lines += [
        "",
        "For comparison, the majority class (neutral) alone is 34.5% of FER+ test "
        "(1,083 of 3,137); the zoo's CNNs' figures are on their model cards.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
