"""Face detectors behind one interface, chosen by name from a registry."""

from __future__ import annotations

from pathlib import Path

from emoedge.lazy import load_registered
from emoedge.targets.detectors.base import Detection, Detector

DETECTORS: dict[str, str] = {
    "haar": "emoedge.targets.detectors.haar:HaarDetector",
    "blazeface": "emoedge.targets.detectors.blazeface:BlazeFaceDetector",
    "blazeface-full": "emoedge.targets.detectors.blazeface:BlazeFaceFullDetector",
    # Host only: needs TensorFlow (the mtcnn wheel), so it lives outside targets/ and
    # never in a device build.
    "mtcnn": "emoedge.host_detectors:MtcnnDetector",
}

#: detectors that need TensorFlow: the host compares them, no device build carries them
HOST_ONLY: frozenset[str] = frozenset({"mtcnn"})


def detector_class(name: str) -> type[Detector]:
    return load_registered(DETECTORS, name, "detector")


def make_detector(name: str, model_path: str | Path | None = None, **options) -> Detector:
    """A detector by name; `model_path` is the model file inside a build (None: its default)."""
    return detector_class(name)(model_path=model_path, **options)


__all__ = ["DETECTORS", "HOST_ONLY", "Detection", "Detector", "detector_class", "make_detector"]
