"""The detector interface: a frame in, face boxes out."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoedge.errors import UserInputError


@dataclass(frozen=True)
class Detection:
    """A face: its box, the detector's confidence and, from detectors that find
    them, keypoints in frame pixels. `eyes` are what the crop levels the face by."""

    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()

    @property
    def eyes(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """The two eye centres (BlazeFace's and MTCNN's first two keypoints), or None."""
        if len(self.keypoints) < 2:
            return None
        return self.keypoints[0], self.keypoints[1]


class Detector(ABC):
    name: str = "base"
    #: the options this detector reads; any other is refused, so that an option
    #: meant for another detector (or misspelt) is not silently ignored
    OPTIONS: tuple[str, ...] = ()
    #: options every detector accepts, whether it uses them or not (set by the pipeline)
    COMMON_OPTIONS: tuple[str, ...] = ("threads",)

    def __init__(self, model_path: str | Path | None = None, **options) -> None:
        unknown = sorted(set(options) - set(self.OPTIONS) - set(self.COMMON_OPTIONS))
        if unknown:
            raise UserInputError(
                f"the {self.name} detector has no option {', '.join(unknown)}; "
                f"it takes: {', '.join(self.OPTIONS) or 'none'}"
            )
        self.model_path = Path(model_path) if model_path else None
        self.options = options

    @property
    def label(self) -> str:
        """The detector as logs and status pages name it, with the settings that
        change what it finds."""
        return self.name

    @abstractmethod
    def detect(self, frame: np.ndarray) -> list[Detection]:
        """Faces in a uint8 frame (gray, BGR or BGRA), best first."""

    @classmethod
    def default_model_file(cls) -> Path | None:
        """Where the host finds this detector's model file to copy into a build."""
        return None
