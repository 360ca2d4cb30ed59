"""`FaceSet`: the in-memory form every loader returns and every consumer takes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from emoedge.data.preprocess import PreprocessSpec, preprocess_batch
from emoedge.labels import EMOTIONS


@dataclass
class FaceSet:
    """Face crops with a hard label and a label distribution per image.

    `images` are uint8 crops as stored (FER+: 48x48 gray); they pass through
    `preprocess` only when a model's input spec is known, so one cache serves
    every input size.
    """

    images: list[np.ndarray] | np.ndarray
    labels: np.ndarray  # int64 (N,), index into EMOTIONS
    soft_targets: np.ndarray  # float32 (N, 8), rows sum to 1
    names: list[str]
    source: str
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray | list[int]) -> FaceSet:
        index = np.asarray(index, dtype=np.int64)
        images = (
            self.images[index]
            if isinstance(self.images, np.ndarray)
            else [self.images[i] for i in index]
        )
        return FaceSet(
            images=images,
            labels=self.labels[index],
            soft_targets=self.soft_targets[index],
            names=[self.names[i] for i in index],
            source=self.source,
            extra=dict(self.extra),
        )

    def limit(self, count: int | None, seed: int = 0) -> FaceSet:
        """A class-stratified random subset of at most `count` images."""
        if count is None or count >= len(self):
            return self
        return self.subset(stratified_sample(self.labels, count, seed=seed))

    def class_counts(self) -> dict[str, int]:
        counts = np.bincount(self.labels, minlength=len(EMOTIONS))
        return {name: int(c) for name, c in zip(EMOTIONS, counts, strict=True)}

    def to_inputs(self, spec: PreprocessSpec) -> np.ndarray:
        return preprocess_batch(list(self.images), spec)


def stratified_sample(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices of `count` items keeping each class's share (every present class kept)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    shares = np.maximum(1, np.floor(counts / counts.sum() * count)).astype(int)
    chosen = []
    for cls, share in zip(classes, shares, strict=True):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.choice(members, size=min(share, len(members)), replace=False))
    index = np.concatenate(chosen)
    rng.shuffle(index)
    return np.sort(index[:count])


def balanced_sample(labels: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Indices of up to `count` items with classes as equal as the data allows.

    Calibration uses this so rare classes (contempt, disgust) shape the int8 ranges too.
    """
    rng = np.random.default_rng(seed)
    by_class = [rng.permutation(np.flatnonzero(labels == c)) for c in np.unique(labels)]
    chosen: list[int] = []
    depth = 0
    while len(chosen) < count and any(depth < len(m) for m in by_class):
        for members in by_class:
            if depth < len(members) and len(chosen) < count:
                chosen.append(int(members[depth]))
        depth += 1
    return np.array(sorted(chosen), dtype=np.int64)
