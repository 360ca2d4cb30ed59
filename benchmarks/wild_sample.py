"""The labelled photos of `../shared/datasets/wild-sample` (its README: `labels.csv`
names each photo's emotion), as the wild-sample benchmarks read them, and the crowd
frames the detector benchmarks tile from them."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2
import numpy as np

DEFAULT_ROOT = Path("../shared/datasets/wild-sample")


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """--data and --out, so every wild-sample benchmark reads the same folder and
    writes beside the others' results by default."""
    parser.add_argument("--data", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))


def photo_files(root: Path) -> list[Path]:
    """Every `images/*.jpg` under `root`, in name order; none is a usage error
    (exit status 2), not an empty report."""
    files = sorted((root / "images").glob("*.jpg"))
    if not files:
        print(f"no photos under {root / 'images'}", file=sys.stderr)
        raise SystemExit(2)
    return files


def labelled_files(root: Path) -> tuple[dict[str, str], list[Path]]:
    """Each labelled photo's emotion by file name, and the photos in name order;
    none is a usage error (exit status 2), as for `photo_files`."""
    labels = {path.name: emotion for path, emotion in labelled_photos(root).items()}
    files = [root / "images" / name for name in labels]
    if not files:
        print(f"no labelled photos under {root}", file=sys.stderr)
        raise SystemExit(2)
    return labels, files


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
