"""The labelled photos of `../shared/datasets/wild-sample` (its README: `labels.csv`
names each photo's emotion), as the wild-sample benchmarks read them."""

from __future__ import annotations

import csv
from pathlib import Path


def labelled_photos(root: Path) -> dict[Path, str]:
    """Each labelled `images/*.jpg` under `root` and its emotion, in name order."""
    with open(root / "labels.csv", newline="") as handle:
        labels = {row["image"]: row["emotion"] for row in csv.DictReader(handle)}
    return {p: labels[p.name] for p in sorted((root / "images").glob("*.jpg")) if p.name in labels}
