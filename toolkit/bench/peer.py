"""The peer: the `fer` package, run the way its users run it.

`FER(mtcnn=False)` is Haar cascade detection plus its bundled mini-Xception
(FER2013, 7 classes); since fer 25.x the default classifier is its quantized
TFLite copy (`use_tflite=True`), and `use_tflite=False` runs the Keras .hdf5.
Both are benched: `detect_emotions(frame)` per frame on the same photos as our
pipeline, and accuracy on FER+ test over the 7 shared classes.

Install (an optional benchmark dependency, never a runtime one; a plain install
pulls PyTorch with CUDA):

    pip install --no-deps fer==25.10.3

`fer.fer` then imports only cv2, numpy, requests, PIL, pkg_resources (setuptools)
and TensorFlow, all present in the host install; nothing is stubbed.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

from emoedge.labels import EMOTIONS, FER2013_TO_FERPLUS

INSTALL = "pip install --no-deps fer==25.10.3"
PEER_VARIANTS = {"fer-tflite": True, "fer-keras": False}  # name -> use_tflite
FER_LABELS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")


def peer_available() -> str | None:
    """None if `fer` is importable, else why not."""
    if importlib.util.find_spec("fer") is None:
        return f"fer not installed ({INSTALL})"
    return None


def peer_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("fer")
    except metadata.PackageNotFoundError:
        return None


def _make(use_tflite: bool):
    from emoedge.tf_env import import_tf

    import_tf()  # fer imports TensorFlow itself; make it the safe way first
    from fer.fer import FER

    from emoedge.native_stderr import with_native_stderr_captured

    FER._tflite_interpreter_cache = None
    FER._model_cache = None
    # its TF Lite interpreter prints LiteRT's XNNPACK notice from C++: --verbose only
    return with_native_stderr_captured(lambda: FER(mtcnn=False, use_tflite=use_tflite))


def classify_crops(detector, gray48: np.ndarray, batch: int = 256) -> np.ndarray:
    """The peer's classifier on face crops, with its own preprocessing: resize to
    64x64 gray, scale to [-1, 1] (as `detect_emotions` does after detection), then
    its `_classify_emotions`. Detection is skipped: Haar finds nothing in a 48x48
    crop. Returns (N, 7) in the peer's label order."""
    import cv2

    outputs = []
    for start in range(0, len(gray48), batch):
        faces = np.stack([cv2.resize(face, (64, 64)) for face in gray48[start : start + batch]])
        faces = (faces.astype(np.float32) / 255.0 - 0.5) * 2.0
        outputs.append(np.asarray(detector._classify_emotions(faces), dtype=np.float32))
    return np.concatenate(outputs)


def peer_accuracy(detector, faces) -> dict:
    from emoedge.bench.accuracy import SHARED_INDEX, seven_class_scores

    keep = np.isin(faces.labels, SHARED_INDEX)
    probabilities = classify_crops(detector, faces.images[keep])
    # columns from the peer's order to SHARED_INDEX's (FER2013_TO_FERPLUS order)
    order = [FER_LABELS.index(name) for name in FER2013_TO_FERPLUS]
    assert [EMOTIONS[i] for i in SHARED_INDEX] == list(FER2013_TO_FERPLUS.values())
    return seven_class_scores(probabilities[:, order], faces.labels[keep])


def peer_fps(detector, paths: list[Path], passes: int = 1, warmup: int = 3) -> dict:
    from emoedge.bench.pipeline_fps import read_frame, timed_passes

    for path in paths[:warmup]:
        detector.detect_emotions(read_frame(path))

    def step(image) -> tuple[int, dict[str, float]]:
        t0 = time.perf_counter()
        result = detector.detect_emotions(image)
        return len(result), {"detect+classify": (time.perf_counter() - t0) * 1000.0}

    summary = timed_passes(paths, passes, ("detect+classify",), step)
    summary["detector"] = "haar (fer)"
    return summary
