"""Metrics, confusion matrices and evaluation of any model form on a labelled FaceSet.

A "predictor" is any callable from a float32 NHWC batch to (N, 8) probabilities:
a Keras model (host) or a build's runtime (device formats), so float and int8
are scored by the same code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from emoedge.data.faceset import FaceSet
from emoedge.data.preprocess import PreprocessSpec, preprocess_batch
from emoedge.labels import EMOTIONS

log = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(y_true), np.asarray(y_pred)), 1)
    return matrix


def classification_report(
    y_true: np.ndarray, y_pred: np.ndarray, labels: tuple[str, ...] | list[str] = EMOTIONS
) -> dict:
    """Accuracy, macro-F1 and per-class precision/recall/F1/support.

    Macro-F1 averages over classes present in `y_true`, so a split without
    contempt does not score a free zero.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    matrix = confusion_matrix(y_true, y_pred, len(labels))
    true_pos = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted = matrix.sum(axis=0)
    precision = np.divide(true_pos, predicted, out=np.zeros_like(true_pos), where=predicted > 0)
    recall = np.divide(true_pos, support, out=np.zeros_like(true_pos), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(true_pos), where=denom > 0)
    present = support > 0
    return {
        "images": len(y_true),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(f1[present].mean()) if present.any() else 0.0,
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(labels)
        },
        "labels": list(labels),
        "confusion": matrix.tolist(),
    }


class FaceInputs:
    """A FaceSet's model inputs, preprocessed slice by slice when `predict_all`
    asks for them, so that scoring 30k faces holds one batch of floats at a time."""

    def __init__(self, faceset: FaceSet, spec: PreprocessSpec) -> None:
        self.faceset, self.spec = faceset, spec

    def __len__(self) -> int:
        return len(self.faceset)

    def __getitem__(self, index: slice) -> np.ndarray:
        return preprocess_batch(list(self.faceset.images[index]), self.spec)


def predict_all(
    predictor: Predictor,
    inputs: np.ndarray | FaceInputs,
    batch_size: int = 256,
    flip_tta: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Probabilities for every input, `batch_size` at a time: the one batch loop
    behind export's parity gate, compare and evaluate, for Keras and every runtime.

    `flip_tta` averages with the horizontally mirrored face (test-time augmentation).
    """
    outputs = []
    for start in range(0, len(inputs), batch_size):
        batch = inputs[start : start + batch_size]
        probs = np.asarray(predictor(batch), dtype=np.float32)
        if flip_tta:
            probs = (
                probs + np.asarray(predictor(batch[:, :, ::-1, :].copy()), dtype=np.float32)
            ) / 2
        outputs.append(probs)
        if progress:
            progress(min(start + batch_size, len(inputs)), len(inputs))
    return np.concatenate(outputs) if outputs else np.zeros((0, len(EMOTIONS)), np.float32)


def predict_faceset(
    predictor: Predictor,
    faceset: FaceSet,
    spec: PreprocessSpec,
    batch_size: int = 256,
    flip_tta: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Probabilities for every face, preprocessing batch by batch to bound memory."""
    return predict_all(predictor, FaceInputs(faceset, spec), batch_size, flip_tta, progress)


def keras_predictor(model) -> Predictor:
    def predict(batch: np.ndarray) -> np.ndarray:
        return model(batch, training=False).numpy()

    return predict


def save_confusion_png(reports: list[tuple[str, dict]], path: Path) -> Path:
    """One row-normalised confusion matrix per (title, report), side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(reports), figsize=(6.2 * len(reports), 5.6), squeeze=False)
    for ax, (title, report) in zip(axes[0], reports, strict=True):
        matrix = np.asarray(report["confusion"], dtype=np.float64)
        rows = matrix.sum(axis=1, keepdims=True)
        normalised = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
        ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
        labels = report["labels"]
        ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(
            f"{title}\naccuracy {report['accuracy']:.2%}, macro-F1 {report['macro_f1']:.3f}"
        )
        for i in range(len(labels)):
            for j in range(len(labels)):
                if matrix[i, j]:
                    ax.text(
                        j,
                        i,
                        int(matrix[i, j]),
                        ha="center",
                        va="center",
                        fontsize=7,
                        color="white" if normalised[i, j] > 0.5 else "black",
                    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_json(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def load_predictor(
    ref: str | Path, threads: int | None = None
) -> tuple[Predictor, PreprocessSpec, dict]:
    """A predictor for a .keras file, a `zoo:` name or a build folder, with the
    preprocessing its input expects, on `threads` threads (None: all cores).

    Builds run in the runtime their manifest names (no TensorFlow needed). Keras
    fixes its thread count at TensorFlow's first use: one process per setting.
    """
    path = Path(str(ref))
    if path.is_dir():
        from emoedge.targets.manifest import Build
        from emoedge.targets.runtimes import load_runtime

        build = Build.load(path)
        runtime = load_runtime(build, threads=threads)
        info = {
            "kind": "build",
            "path": str(path),
            "format": build.manifest.format,
            "precision": build.manifest.precision,
            "runtime": runtime.name,
        }
        return runtime.predict, build.preprocess, info
    from emoedge.models.zoo import load_keras_model, model_preprocess_spec, resolve_model_path
    from emoedge.tf_env import import_tf

    model_path = resolve_model_path(ref)
    model_preprocess_spec(ref)  # a model without one is refused before TensorFlow loads
    import_tf(threads)
    model = load_keras_model(ref)
    info = {
        "kind": "keras",
        "path": str(model_path),
        "format": "keras",
        "precision": "fp32",
        "parameters": int(model.count_params()),
    }
    return keras_predictor(model), model_preprocess_spec(ref, model), info
