"""Dataset summaries for `emoedge data inspect`: counts, vote agreement, image sizes."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np

from emoedge.data.ferplus import SPLITS, all_faces_labels, majority_labels, read_label_csv
from emoedge.errors import UserInputError
from emoedge.labels import EMOTIONS, NUM_CLASSES

SIZE_SAMPLE = 200  # images decoded per split to report sizes without reading them all


def _sizes(paths: list[Path]) -> dict[str, int]:
    sizes: Counter[str] = Counter()
    for path in paths[:SIZE_SAMPLE]:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        sizes["unreadable" if image is None else f"{image.shape[1]}x{image.shape[0]}"] += 1
    return dict(sizes.most_common())


def inspect_ferplus(root: str | Path) -> dict:
    """Per split: rows, images kept under each protocol, class counts, vote agreement."""
    root = Path(root)
    if not root.is_dir():
        raise UserInputError(f"{root}: dataset folder not found")
    splits = {}
    for split, folder_name in SPLITS.items():
        folder = root / folder_name
        if not folder.is_dir():
            continue
        names, votes = read_label_csv(folder / "label.csv")
        majority = majority_labels(votes)
        all_faces = all_faces_labels(votes)
        totals = np.maximum(votes.sum(axis=1), 1)
        top_share = votes[:, :NUM_CLASSES].max(axis=1) / totals
        splits[split] = {
            "rows": len(names),
            "majority_images": int((majority >= 0).sum()),
            "all_faces_images": int((all_faces >= 0).sum()),
            "class_counts_majority": {
                name: int((majority == i).sum()) for i, name in enumerate(EMOTIONS)
            },
            "unknown_or_nf_top": int((votes.argmax(axis=1) >= NUM_CLASSES).sum()),
            "mean_top_vote_share": float(top_share.mean()),
            "unanimous_share": float((top_share >= 0.999).mean()),
            "mean_voters": float(votes.sum(axis=1).mean()),
            "image_sizes_sampled": _sizes([folder / n for n in names]),
        }
    if not splits:
        raise UserInputError(
            f"{root}: no FER2013Train/Valid/Test folders (expected the FERPlus layout)"
        )
    return {"format": "ferplus", "root": str(root), "splits": splits}


def inspect_folders(root: str | Path) -> dict:
    """Class counts and image sizes of a folder-per-class dataset, without loading it whole."""
    from emoedge.data.images import IMAGE_SUFFIXES
    from emoedge.labels import label_index

    root = Path(root)
    if not root.is_dir():
        raise UserInputError(f"{root}: dataset folder not found")
    counts, paths = {}, []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        label_index(class_dir.name)
        files = sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        counts[class_dir.name] = len(files)
        paths.extend(files)
    if not paths:
        raise UserInputError(f"{root}: no images in class folders")
    return {
        "format": "folders",
        "root": str(root),
        "class_counts": counts,
        "images": len(paths),
        "image_sizes_sampled": _sizes(paths),
    }
