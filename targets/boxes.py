"""Box overlap, the one implementation the detectors' NMS and the tracker share.

Boxes are rows of corners (x0, y0, x1, y1); `corners` turns the pipeline's
(x, y, w, h) boxes into them. Extra columns after the first four (BlazeFace's
keypoints) are carried along and ignored here. Numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def corners(boxes: Sequence[Sequence[float]]) -> np.ndarray:
    """(N, 4) corners from (x, y, w, h) boxes."""
    xywh = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def overlaps(boxes: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection areas (N, M) of boxes (N, 4+) and others (M, 4+) given as corners,
    and the areas of each."""
    x0 = np.maximum(boxes[:, None, 0], others[None, :, 0])
    y0 = np.maximum(boxes[:, None, 1], others[None, :, 1])
    x1 = np.minimum(boxes[:, None, 2], others[None, :, 2])
    y1 = np.minimum(boxes[:, None, 3], others[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    area_b = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter, area_a, area_b


def iou_matrix(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU (N, M) between boxes (N, 4+) and others (M, 4+) given as corners; 0 where
    both are empty."""
    inter, area_a, area_b = overlaps(boxes, others)
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


__all__ = ["corners", "iou_matrix", "overlaps"]
