"""FER+ test accuracy of one predictor: all 8 classes, and the 7 the peer shares.

The 7-class score drops test images whose majority label is contempt and takes
the argmax over the 7 shared classes only, so our models and the peer (trained
on FER2013's 7 classes) are scored on the same images by the same rule.
"""

from __future__ import annotations

import numpy as np

from emoedge.labels import EMOTIONS, FER2013_TO_FERPLUS

SHARED_INDEX = np.array([EMOTIONS.index(name) for name in FER2013_TO_FERPLUS.values()])


def load_test_faces(data, limit: int | None, seed: int = 0):
    from emoedge.data.ferplus import load_ferplus

    faces = load_ferplus(data, "test", "majority")
    return faces.limit(limit, seed=seed) if limit else faces


def scores(probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """Accuracy and macro-F1 over 8 classes, and over the 7 shared classes."""
    from emoedge.evaluation import classification_report

    labels = np.asarray(labels)
    report = classification_report(labels, probabilities.argmax(1))
    keep = np.isin(labels, SHARED_INDEX)
    shared = seven_class_scores(probabilities[keep][:, SHARED_INDEX], labels[keep])
    return {
        "images": report["images"],
        "accuracy": report["accuracy"],
        "macro_f1": report["macro_f1"],
        **shared,
    }


def seven_class_scores(probabilities7: np.ndarray, labels8: np.ndarray) -> dict:
    """Scores from (N, 7) probabilities in FER+ order of `SHARED_INDEX` against FER+ labels."""
    from emoedge.evaluation import classification_report

    predicted = SHARED_INDEX[np.asarray(probabilities7).argmax(1)]
    report = classification_report(np.asarray(labels8), predicted)
    return {
        "images7": report["images"],
        "accuracy7": report["accuracy"],
        "macro_f1_7": report["macro_f1"],
    }


def evaluate(predict, faces, spec, batch_size: int = 256) -> dict:
    from emoedge.evaluation import predict_faceset

    probabilities = predict_faceset(predict, faces, spec, batch_size=batch_size)
    return scores(probabilities, faces.labels)
