"""Face detectors that need TensorFlow: the host compares them, no device runs them.

MTCNN (Zhang et al., 2016) is the detector the product brief names. The `mtcnn`
wheel (MIT; it ships its weights) runs on TensorFlow, which nothing under
targets/ imports and no device installs, so it lives here, on the host side: the
detector registry (`emoedge.targets.detectors.DETECTORS`, `HOST_ONLY`) names it
by path only, the wheel is imported when an `MtcnnDetector` is made, export
refuses it for a build, and the detector tables (benchmarks/wild_accuracy.py,
benchmarks/detector_full_range.py) compare it with Haar and BlazeFace.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from emoedge.data.preprocess import as_uint8_image
from emoedge.errors import UserInputError
from emoedge.targets.detectors.base import Detection, Detector

log = logging.getLogger(__name__)


class MtcnnDetector(Detector):
    """MTCNN's three-stage cascade (P-, R-, O-Net) with its five landmarks.

    Options: `min_face` (smallest face in pixels the image pyramid searches, 20,
    the wheel's default), `threshold` (the final stage's confidence, 0.8, the wheel's default). The eyes
    come first in the keypoints, as BlazeFace's do, so the crop can level them.
    """

    name = "mtcnn"
    OPTIONS = ("min_face", "threshold")

    def __init__(self, model_path: str | Path | None = None, **options) -> None:
        super().__init__(model_path, **options)
        self.min_face = int(options.get("min_face", 20))
        self.threshold = float(options.get("threshold", 0.8))
        try:
            import mtcnn  # noqa: F401 - first, to name a missing wheel before TensorFlow loads
        except ImportError as exc:
            raise UserInputError(
                "the mtcnn detector is host only: pip install mtcnn lz4 (needs TensorFlow)"
            ) from exc
        from emoedge.tf_env import import_tf

        import_tf()  # the one way TensorFlow is imported here (oneDNN, start-up chatter)
        try:
            from mtcnn import MTCNN
        except ImportError as exc:
            raise UserInputError(
                "the mtcnn detector is host only: pip install mtcnn lz4 (needs TensorFlow)"
            ) from exc
        self._mtcnn = MTCNN(stages="face_and_landmarks_detection", device="CPU:0")

    def detect(self, frame: np.ndarray) -> list[Detection]:
        image = as_uint8_image(frame)
        code = cv2.COLOR_GRAY2RGB if image.ndim == 2 else cv2.COLOR_BGR2RGB
        found = self._mtcnn.detect_faces(
            cv2.cvtColor(image, code),
            min_face_size=self.min_face,
            threshold_onet=self.threshold,
        )
        detections = []
        for face in found:
            x, y, w, h = (int(v) for v in face["box"])
            points = face.get("keypoints", {})
            # The wheel names points as the viewer sees them; the image's left eye first,
            # as BlazeFace gives it.
            order = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
            keypoints = tuple(
                (float(points[k][0]), float(points[k][1])) for k in order if k in points
            )
            detections.append(Detection((x, y, w, h), float(face["confidence"]), keypoints))
        detections.sort(key=lambda d: d.score, reverse=True)
        return detections
