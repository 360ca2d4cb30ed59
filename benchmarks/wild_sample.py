"""The labelled photos of `../shared/datasets/wild-sample` (its README: `labels.csv`
names each photo's emotion), as the wild-sample benchmarks read them, and the crowd
frames the detector benchmarks tile from them."""

from __future__ import annotations

import csv
from pathlib import Path

import cv2
import numpy as np


def labelled_photos(root: Path) -> dict[Path, str]:
    """Each labelled `images/*.jpg` under `root` and its emotion, in name order."""
    with open(root / "labels.csv", newline="") as handle:
        labels = {row["image"]: row["emotion"] for row in csv.DictReader(handle)}
    return {p: labels[p.name] for p in sorted((root / "images").glob("*.jpg")) if p.name in labels}


def crowd_frame(images: list[np.ndarray], start: int = 0) -> np.ndarray:
    """30 photos from `start`, gray, 200x200 each, tiled 6x5 in one 1200x1000 frame."""
    tiles = [
        cv2.resize(i if i.ndim == 2 else cv2.cvtColor(i, cv2.COLOR_BGR2GRAY), (200, 200))
        for i in images[start : start + 30]
    ]
    return np.vstack([np.hstack(tiles[r * 6 : r * 6 + 6]) for r in range(5)])
