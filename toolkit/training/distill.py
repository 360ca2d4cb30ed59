"""Knowledge distillation from teachers trained here: targets, not a second model
in the training graph.

On 2 CPU cores a teacher forward pass per augmented batch would double every
epoch, so the teachers score each training image once, before the first epoch
(offline distillation): their probabilities, averaged over the teachers and over
the image and its mirror (test-time flip), are blended with the FER+ vote
distribution. Augmented copies of an image keep its blended target; the shifts,
small rotations and flips of `augment.py` do not change the emotion.

Teachers are any model `emoedge evaluate` loads (a .keras file, `zoo:<name>`, a
build folder); the zoo's r2/r4 models, as an ensemble, reach 85.2% on FER+ valid
with flip against 82.2-82.6% each alone
(benchmarks/results/training/teacher_ensemble_2026-11-27.md). They are never shipped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from emoedge.data.faceset import FaceSet
from emoedge.errors import UserInputError

log = logging.getLogger(__name__)


def teacher_probabilities(
    teachers: list[str],
    faces: FaceSet,
    flip_tta: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """The teachers' mean class probabilities for every face, (N, classes) float32."""
    from emoedge.evaluation import load_predictor, predict_faceset

    if not teachers:
        raise UserInputError("distillation needs at least one teacher")
    total = None
    for ref in teachers:
        predictor, spec, _ = load_predictor(ref)
        probs = predict_faceset(predictor, faces, spec, flip_tta=flip_tta, progress=progress)
        log.info(
            "teacher %s: %.2f%% on the training images' majority labels",
            ref,
            100.0 * float((probs.argmax(1) == faces.labels).mean()),
        )
        total = probs if total is None else total + probs
    mean = total / len(teachers)
    return (mean / mean.sum(axis=1, keepdims=True)).astype(np.float32)


def describe_teachers(teachers: list[str]) -> list[dict]:
    """Each teacher's file and sha256: `zoo:<name>` names whatever the zoo holds
    today, and publishing the student may replace it, so the run record pins the
    teacher it actually learned from."""
    from pathlib import Path

    from emoedge.models.zoo import resolve_model_path
    from emoedge.targets.manifest import sha256_file

    described = []
    for ref in teachers:
        path = Path(ref) if Path(ref).is_dir() else resolve_model_path(ref)
        digest = sha256_file(path / "manifest.json") if path.is_dir() else sha256_file(path)
        described.append({"ref": ref, "path": str(path), "sha256": digest})
    return described


def blend_targets(labels: np.ndarray, teacher: np.ndarray, weight: float) -> np.ndarray:
    """(1 - weight) x the dataset's targets + weight x the teachers'; rows sum to 1."""
    if not 0.0 <= weight <= 1.0:
        raise UserInputError(f"teacher weight must be in [0, 1], got {weight}")
    if labels.shape != teacher.shape:
        raise UserInputError(
            f"teacher output {teacher.shape} does not match the targets {labels.shape}"
        )
    return ((1.0 - weight) * labels + weight * teacher).astype(np.float32)
