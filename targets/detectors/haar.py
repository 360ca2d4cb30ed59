"""OpenCV's Haar cascade: the frontal-face baseline earlier FER projects used.

No extra dependency: opencv-python(-headless) 4.x ships the cascade XML files in
`cv2.data.haarcascades` (5.x does not, hence the `<5` pin). A build may carry its
own copy of the XML, which then wins.
"""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np

from emoedge.data.preprocess import as_uint8_image
from emoedge.errors import ModelFileError
from emoedge.targets.detectors.base import Detection, Detector

log = logging.getLogger(__name__)

DEFAULT_CASCADE = "haarcascade_frontalface_default.xml"


class HaarDetector(Detector):
    """Viola-Jones cascade on a histogram-equalised gray frame.

    Options: `scale_factor` (1.1), `min_neighbors` (5), `min_size` (smallest face
    as a fraction of the frame's shorter side, 0.1), `max_side` (frames are
    downscaled so their longer side is at most this many pixels before
    detection, 640; a 4K frame would otherwise take seconds).
    The score is the number of merged neighbour windows, squashed to 0..1: a
    rough confidence, enough to rank faces.
    """

    name = "haar"
    OPTIONS = ("scale_factor", "min_neighbors", "min_size", "max_side")

    def __init__(self, model_path: str | Path | None = None, **options) -> None:
        super().__init__(model_path, **options)
        self.scale_factor = float(options.get("scale_factor", 1.1))
        self.min_neighbors = int(options.get("min_neighbors", 5))
        self.min_size = float(options.get("min_size", 0.1))
        self.max_side = int(options.get("max_side", 640))
        path = self.model_path or self.default_model_file()
        if path is None or not Path(path).is_file():
            raise ModelFileError(
                f"{path or DEFAULT_CASCADE}: Haar cascade file not found "
                "(opencv-python-headless 5.x ships none; install <5 or use a build that carries it)"
            )
        self.model_path = Path(path)
        try:
            self._cascade = cv2.CascadeClassifier(str(self.model_path))
        except (cv2.error, SystemError) as exc:
            raise ModelFileError(
                f"{self.model_path}: not a valid Haar cascade XML file ({exc})"
            ) from exc
        if self._cascade.empty():
            raise ModelFileError(f"{self.model_path}: not a valid Haar cascade XML file")

    @classmethod
    def default_model_file(cls) -> Path | None:
        base = getattr(getattr(cv2, "data", None), "haarcascades", None)
        if not base:
            return None
        path = Path(base) / DEFAULT_CASCADE
        return path if path.is_file() else None

    def detect(self, frame: np.ndarray) -> list[Detection]:
        image = as_uint8_image(frame)
        gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        scale = min(1.0, self.max_side / max(gray.shape[:2]))
        if scale < 1.0:
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        gray = cv2.equalizeHist(gray)
        smallest = max(20, int(self.min_size * min(gray.shape[:2])))
        boxes, neighbours = self._cascade.detectMultiScale2(
            gray,
            scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors,
            minSize=(smallest, smallest),
        )
        detections = []
        for (x, y, w, h), n in zip(
            np.asarray(boxes).reshape(-1, 4), np.asarray(neighbours).ravel(), strict=True
        ):
            box = tuple(round(v / scale) for v in (x, y, w, h))
            score = float(1.0 - np.exp(-float(n) / 10.0))
            detections.append(Detection(box, score))  # type: ignore[arg-type]
        detections.sort(key=lambda d: (d.score, d.box[2] * d.box[3]), reverse=True)
        return detections
