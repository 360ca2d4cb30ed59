"""Face crops from photos, cut the way the pipeline cuts them on a device.

Calibrating or fine-tuning on photos (rather than ready-made face crops) must
show the model the faces it will see in `emoedge run`: the same detector (the
default BlazeFace), its largest face per photo and the one crop function
(`emoedge.data.preprocess.crop_face`, framed as FER+, padded at the border).
Numpy, OpenCV and LiteRT only.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from emoedge.data.preprocess import FERPLUS_MARGIN, FERPLUS_SHIFT, crop_face

log = logging.getLogger(__name__)

#: the detector photos are cropped with: the one every build carries by default
PHOTO_DETECTOR = "blazeface"


def face_crops(
    images: Sequence[np.ndarray],
    margin: float = FERPLUS_MARGIN,
    shift: float = FERPLUS_SHIFT,
    detector: str = PHOTO_DETECTOR,
) -> tuple[list[np.ndarray], list[int]]:
    """The largest face of each photo as a crop at the photo's resolution, and the
    indices of the photos it came from (a photo with no face is left out, and
    counted in the log)."""
    from emoedge.targets.detectors import make_detector

    finder = make_detector(detector)
    crops, kept = [], []
    for index, image in enumerate(images):
        faces = finder.detect(image)
        if not faces:
            continue
        face = max(faces, key=lambda d: d.box[2] * d.box[3])
        crops.append(crop_face(image, face.box, margin, shift))
        kept.append(index)
    if len(kept) < len(images):
        log.warning(
            "%d of %d photos had no face and were left out", len(images) - len(kept), len(images)
        )
    return crops, kept


__all__ = ["PHOTO_DETECTOR", "face_crops"]
