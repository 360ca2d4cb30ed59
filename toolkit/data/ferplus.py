"""FER+ in the standard FERPlus layout: `FER2013{Train,Valid,Test}/label.csv` + PNGs.

Labels follow the FERPlus reference code (Barsoum et al. 2016, `_process_data`)
so our accuracies are comparable with published ones; see
`shared/datasets/README.md` for the protocol. Decoded splits are cached as .npz
so a second load of the training split takes well under 2 seconds.
"""

from __future__ import annotations

import csv
import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from emoedge.cache import cache_dir as cache_root
from emoedge.data.faceset import FaceSet
from emoedge.data.location import missing_dataset
from emoedge.errors import UserInputError
from emoedge.labels import NUM_CLASSES

log = logging.getLogger(__name__)

SPLITS = {"train": "FER2013Train", "valid": "FER2013Valid", "test": "FER2013Test"}
VOTE_COLUMNS = 10  # 8 emotions, unknown, not-a-face
PROTOCOLS = ("majority", "all_faces")
CACHE_VERSION = 1


def split_dir(root: str | Path, split: str) -> Path:
    if split not in SPLITS:
        raise UserInputError(f"unknown split {split!r}; expected one of: {', '.join(SPLITS)}")
    root = Path(root)
    if not root.is_dir():
        raise missing_dataset(root)
    folder = root / SPLITS[split]
    if not folder.is_dir():
        raise UserInputError(f"{folder}: split folder not found (expected the FERPlus layout)")
    return folder


def read_label_csv(path: Path) -> tuple[list[str], np.ndarray]:
    """Image names and (N, 10) int votes; any malformed row is an error naming its line."""
    if not path.is_file():
        raise UserInputError(f"{path}: label.csv not found")
    names: list[str] = []
    votes: list[list[int]] = []
    with path.open(newline="") as handle:
        for line_no, row in enumerate(csv.reader(handle), start=1):
            if not row or not "".join(row).strip():
                continue
            if len(row) != 2 + VOTE_COLUMNS:
                raise UserInputError(
                    f"{path}:{line_no}: expected {2 + VOTE_COLUMNS} columns "
                    f"(name, box, 10 votes), found {len(row)}"
                )
            try:
                votes.append([int(float(v)) for v in row[2:]])
            except ValueError:
                raise UserInputError(
                    f"{path}:{line_no}: votes must be numbers: {row[2:]}"
                ) from None
            names.append(row[0].strip())
    if not names:
        raise UserInputError(f"{path}: no rows")
    return names, np.asarray(votes, dtype=np.int32)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """FERPlus 'majority' rule: -1 where the image is dropped, else the emotion index.

    Single votes are zeroed as outliers; an image is kept when its top emotion holds
    more than half of the remaining votes and is neither unknown nor not-a-face.
    """
    cleaned = np.where(votes <= 1, 0, votes).astype(np.float64)
    total = cleaned.sum(axis=1)
    top = cleaned.argmax(axis=1)
    top_votes = cleaned.max(axis=1)
    keep = (top_votes > 0.5 * total) & (top < NUM_CLASSES) & (total > 0)
    return np.where(keep, top, -1)


def all_faces_labels(votes: np.ndarray) -> np.ndarray:
    """'All faces' rule: the most-voted column (first on ties); -1 for unknown/NF."""
    top = votes.argmax(axis=1)
    return np.where(top < NUM_CLASSES, top, -1)


def vote_distribution(votes: np.ndarray) -> np.ndarray:
    """Soft targets over the 8 emotions: single votes dropped as outliers, then normalised.

    Rows whose only emotion votes were single ones keep their raw emotion votes.
    """
    emotion_votes = votes[:, :NUM_CLASSES].astype(np.float32)
    cleaned = np.where(emotion_votes <= 1, 0, emotion_votes)
    empty = cleaned.sum(axis=1) == 0
    cleaned[empty] = emotion_votes[empty]
    totals = cleaned.sum(axis=1, keepdims=True)
    totals[totals == 0] = 1
    return cleaned / totals


def _fingerprint(label_csv: Path) -> str:
    digest = hashlib.sha256(label_csv.read_bytes())
    digest.update(str(CACHE_VERSION).encode())
    return digest.hexdigest()[:16]


def _decode_split(folder: Path, names: list[str], progress: Callable[[int, int], None] | None):
    images = np.empty((len(names), 48, 48), dtype=np.uint8)
    for i, name in enumerate(names):
        path = folder / name
        image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if image is None:
            raise UserInputError(f"{path}: missing or unreadable image")
        if image.shape != (48, 48):
            image = cv2.resize(image, (48, 48), interpolation=cv2.INTER_AREA)
        images[i] = image
        if progress and (i % 500 == 0 or i == len(names) - 1):
            progress(i + 1, len(names))
    return images


def load_raw_split(
    root: str | Path,
    split: str,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[list[str], np.ndarray, np.ndarray, str]:
    """Names, uint8 images (N, 48, 48), votes (N, 10) and a data fingerprint for a split."""
    folder = split_dir(root, split)
    label_csv = folder / "label.csv"
    names, votes = read_label_csv(label_csv)
    fingerprint = _fingerprint(label_csv)
    cache = (cache_dir or cache_root()) / "ferplus" / f"{split}-{fingerprint}.npz"
    if cache.is_file():
        try:
            with np.load(cache) as data:
                return names, data["images"], votes, fingerprint
        except (OSError, ValueError, KeyError):
            log.warning("ignoring unreadable cache %s", cache)
    log.info("decoding %d images of %s (cached afterwards in %s)", len(names), folder, cache.parent)
    images = _decode_split(folder, names, progress)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp.npz")
        np.savez(tmp, images=images)
        tmp.replace(cache)
    except OSError as exc:  # a read-only home must not stop training
        log.warning("could not write cache %s: %s", cache, exc)
    return names, images, votes, fingerprint


def load_ferplus(
    root: str | Path,
    split: str,
    protocol: str = "majority",
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> FaceSet:
    """One FER+ split under a labelling protocol ('majority' or 'all_faces')."""
    if protocol not in PROTOCOLS:
        raise UserInputError(
            f"unknown protocol {protocol!r}; expected one of: {', '.join(PROTOCOLS)}"
        )
    names, images, votes, fingerprint = load_raw_split(root, split, cache_dir, progress)
    labels = majority_labels(votes) if protocol == "majority" else all_faces_labels(votes)
    keep = np.flatnonzero(labels >= 0)
    return FaceSet(
        images=images[keep],
        labels=labels[keep].astype(np.int64),
        soft_targets=vote_distribution(votes[keep]),
        names=[names[i] for i in keep],
        source=f"ferplus:{split}:{protocol}",
        extra={
            "fingerprint": fingerprint,
            "votes": votes[keep],
            "dropped": int(len(names) - len(keep)),
        },
    )
