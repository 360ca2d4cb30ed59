"""The pipeline's settings, each with its default, range and meaning stated once.

`emoedge run`'s options (their defaults, ranges and help) and the daemon's
`[pipeline]` table (its pydantic fields, JSON schema and example config) are made
from `PipelineConfig`'s fields, so the two cannot drift apart, and
`Pipeline.from_build` takes the same names. Plain dataclasses, no pydantic or
typer: a device imports this with the pipeline (numpy only, through the tracker).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields
from typing import Any

from emoedge.errors import UserInputError
from emoedge.targets.tracking import SMOOTHING, TrackerConfig

#: Faces whose box is narrower than this (frame pixels) are reported unread.
#: Measured on wild-sample photos shrunk to each size (benchmarks/min_face_size.py,
#: benchmarks/results/min_face_size_2026-12-03.md), on the rpi builds calibrated on
#: the shipped sample and on FER+: from 32 px on, the shrunk face keeps its
#: full-size label on 84-88% of photos; at 28 px on 77-78%, at 20 px on 69-72%, as
#: its agreement with the crowd labels falls from 45-49% to 32%. (FER+'s own faces
#: are 48 px images, boxes of about 42 px.)
MIN_FACE = 32
#: Level faces by their eye line (the detector's keypoints) before classifying.
#: Off: on wild-sample it measured no better than the upright crop
#: (benchmarks/results/wild_accuracy_2026-12-03.md); FER+'s faces are roughly,
#: not exactly, upright. `--align` turns it on.
ALIGN = False


def _setting(
    default: Any,
    doc: str,
    *,
    ge: float | None = None,
    le: float | None = None,
    choices: tuple[str, ...] | None = None,
) -> Any:
    """A field whose metadata carries what `run` and the daemon show and check."""
    return field(default=default, metadata={"doc": doc, "ge": ge, "le": le, "choices": choices})


@dataclass(frozen=True)
class PipelineConfig:
    """How a pipeline runs a build: which runtime and detector load it, which faces are
    classified and how they are tracked. Each field's doc is in its metadata (`SETTINGS`)."""

    runtime: str | None = _setting(
        None, "Override the build's runtime (litert | openvino | onnxruntime)."
    )
    threads: int | None = _setting(
        None, "Inference threads (0: all cores; default: the build's).", ge=0
    )
    detector: str | None = _setting(
        None,
        "Override the build's face detector: blazeface (short range, faces within ~2 m), "
        "blazeface-full (full range, ~5 m: room cameras), haar; mtcnn on a host with "
        "TensorFlow.",
    )
    detector_tiles: int = _setting(
        1,
        "BlazeFace only: also search N x N overlapping tiles of each frame, for crowds and "
        "distant faces one pass at 128 px cannot resolve (1 + N^2 detector calls per frame; "
        "in the crowd benchmark 3 finds 109 of 120 faces, 4 finds 116, one pass none).",
        ge=1,
        le=8,
    )
    smoothing: str = _setting(
        TrackerConfig.smoothing,
        "Smoothing of each track's probabilities over frames: ema (a moving average), "
        "vote (the most frequent label of the last frames) or none (unrelated photos).",
        choices=SMOOTHING,
    )
    flip_tta: bool = _setting(
        False,
        "Also classify each face mirrored and average: about +1 point FER+ accuracy for a "
        "second classifier call per face.",
    )
    max_faces: int = _setting(
        16,
        "Faces classified per frame, largest first (a crowd of 30 must not stall the loop).",
        ge=1,
    )
    min_face: int = _setting(
        MIN_FACE,
        "Faces narrower than this many frame pixels are reported unread "
        '("label": null and a reason, under "unread" in the JSON) instead of classified '
        "(measured: benchmarks/results/min_face_size_*.md).",
        ge=1,
    )
    align: bool = _setting(
        ALIGN,
        "Turn each face so its eye line is level (BlazeFace's and MTCNN's eye keypoints) "
        "before classifying (the default was chosen on the wild sample: "
        "benchmarks/results/wild_accuracy_*.md).",
    )
    min_detector_score: float = _setting(
        0.0, "Drop detections scored below this by the detector (0: keep all).", ge=0.0, le=1.0
    )
    tracking: bool = _setting(
        True,
        "Track faces across frames; off, each face's track_id is its place in the frame, "
        "largest first.",
    )

    def __post_init__(self) -> None:
        for setting in SETTINGS.values():
            setting.check(getattr(self, setting.name))

    @property
    def tracker(self) -> TrackerConfig:
        return TrackerConfig(smoothing=self.smoothing)


@dataclass(frozen=True)
class Setting:
    """One `PipelineConfig` field as a form shows it: its type (resolved), default,
    doc and the range or choices a value must keep to."""

    name: str
    type: Any
    default: Any
    doc: str
    ge: float | None = None
    le: float | None = None
    choices: tuple[str, ...] | None = None

    def check(self, value: Any) -> None:
        if value is None:
            return
        if self.choices is not None and value not in self.choices:
            raise UserInputError(
                f"{self.name} must be one of {', '.join(self.choices)}, got {value!r}"
            )
        if self.ge is not None and value < self.ge:
            raise UserInputError(f"{self.name} must be at least {self.ge}, got {value}")
        if self.le is not None and value > self.le:
            raise UserInputError(f"{self.name} must be at most {self.le}, got {value}")


def _settings() -> dict[str, Setting]:
    hints = typing.get_type_hints(PipelineConfig)
    return {
        f.name: Setting(name=f.name, type=hints[f.name], default=f.default, **f.metadata)
        for f in fields(PipelineConfig)
    }


#: Every field of `PipelineConfig`, in order, by name.
SETTINGS: dict[str, Setting] = _settings()

__all__ = ["ALIGN", "MIN_FACE", "SETTINGS", "PipelineConfig", "Setting"]
