"""Folder-per-class data (`root/<emotion>/*.jpg|png`), for fine-tuning on your own faces.

Folder names must be FER+ emotion names; images are face crops of any size and
colour (they go through `preprocess` like every other input), or, with
`photos=True` (`emoedge train --format photos`), photos whose largest face is
found and cropped as the pipeline crops it (`emoedge.data.photos`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from emoedge.data.faceset import FaceSet, stratified_sample
from emoedge.data.images import IMAGE_SUFFIXES, read_image
from emoedge.errors import UserInputError
from emoedge.labels import EMOTIONS, NUM_CLASSES, label_index


def load_folders(root: str | Path, photos: bool = False) -> FaceSet:
    root = Path(root)
    if not root.is_dir():
        raise UserInputError(f"{root}: dataset folder not found")
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir())
    if not class_dirs:
        raise UserInputError(f"{root}: no class folders (expected root/<emotion>/*.png)")
    images, labels, names = [], [], []
    for class_dir in class_dirs:
        index = label_index(class_dir.name)
        for path in sorted(class_dir.iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES:
                images.append(read_image(path))
                labels.append(index)
                names.append(f"{class_dir.name}/{path.name}")
    if not images:
        raise UserInputError(
            f"{root}: class folders hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    if photos:
        from emoedge.data.photos import face_crops

        images, kept = face_crops(images)
        if not images:
            raise UserInputError(f"{root}: no face found in any photo")
        labels, names = [labels[i] for i in kept], [names[i] for i in kept]
    labels_arr = np.asarray(labels, dtype=np.int64)
    return FaceSet(
        images=images,
        labels=labels_arr,
        soft_targets=np.eye(NUM_CLASSES, dtype=np.float32)[labels_arr],
        names=names,
        source=f"folders:{root}",
    )


def load_folder_split(
    root: str | Path, valid_share: float = 0.15, seed: int = 0, photos: bool = False
):
    """Train/validation sets: `root/train` + `root/valid` when present, else a
    stratified split; `photos`: the images are photos to crop faces from."""
    root = Path(root)
    if (root / "train").is_dir() and (root / "valid").is_dir():
        return load_folders(root / "train", photos), load_folders(root / "valid", photos)
    full = load_folders(root, photos)
    valid_index = stratified_sample(full.labels, max(1, int(len(full) * valid_share)), seed)
    train_index = np.setdiff1d(np.arange(len(full)), valid_index)
    return full.subset(train_index), full.subset(valid_index)


__all__ = ["EMOTIONS", "load_folder_split", "load_folders"]
