"""Frames in, faces with emotions out: detect, crop, classify, track, smooth.

`Pipeline.from_build(path)` reads a build folder (checksums verified), loads the
runtime its manifest names and the face detector it carries, and is then called
once per frame:

    pipeline = Pipeline.from_build("builds/mobilenet_v2-rpi-int8")
    result = pipeline(frame)          # FrameResult
    result.to_dict()                  # one JSON-ready record

Crops go through `emoedge.data.preprocess.preprocess`, the function training and
evaluation use, with the manifest's spec (framed as FER+ framed its faces, padded
where the frame ends, levelled by the eye keypoints when the detector gives them);
all faces of a frame go through the runtime in one batch. Faces too small to read
are reported without a label (`UnreadFace`) rather than with a confident guess. A bad frame (empty, wrong shape) gives an empty result with
an `error` instead of an exception, so a long-running loop never dies on one
frame. No TensorFlow here.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from emoedge.data.preprocess import as_uint8_image, crop_face, eye_roll, preprocess
from emoedge.errors import ManifestError, UserInputError
from emoedge.targets.detectors import Detection, Detector, detector_class, make_detector
from emoedge.targets.manifest import Build
from emoedge.targets.pipeline_config import ALIGN, MIN_FACE, PipelineConfig
from emoedge.targets.runtimes import Runtime, load_runtime
from emoedge.targets.tracking import IoUTracker

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class FaceResult:
    """One classified face. `box` is the detector's box (x, y, w, h) in frame
    pixels, before the crop's framing; `probabilities` are the (smoothed) class
    probabilities the label and score come from; `roll` the degrees the crop was
    turned to level the eyes (0: not aligned)."""

    track_id: int
    box: Box
    label: str
    score: float
    probabilities: dict[str, float]
    detector_score: float
    roll: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = {
            "track_id": self.track_id,
            "box": [int(v) for v in self.box],
            "label": self.label,
            "score": round(float(self.score), 6),
            "probabilities": {k: round(float(v), 6) for k, v in self.probabilities.items()},
            "detector_score": round(float(self.detector_score), 6),
        }
        if self.roll:
            data["roll"] = round(float(self.roll), 2)
        return data


@dataclass(frozen=True)
class UnreadFace:
    """A face the detector found but the pipeline did not classify, and why (too
    small: a far face's few pixels give a confident wrong label)."""

    box: Box
    detector_score: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "box": [int(v) for v in self.box],
            "label": None,
            "reason": self.reason,
            "detector_score": round(float(self.detector_score), 6),
        }


@dataclass(frozen=True)
class FrameResult:
    """Everything the pipeline found in one frame. `timings` are milliseconds per
    stage: detect, classify, track, total (and capture, when the caller gave it).
    `skipped_faces` counts faces over `max_faces` or under `min_detector_score`;
    `unread` lists faces found but too small to classify (in JSON: "unread", each
    with "label": null and a reason; `faces` holds only classified ones, so
    consumers that count labels are not handed nulls); `error` says why a frame could not be processed (then `faces` is empty);
    `file` names the photo the frame is (image folders and single images), so a
    record is matched to its photo by name rather than by counting lines."""

    frame_index: int
    timestamp: float
    faces: list[FaceResult]
    timings: dict[str, float]
    skipped_faces: int = 0
    error: str | None = None
    file: str | None = None
    unread: list[UnreadFace] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"frame_index": self.frame_index}
        if self.file is not None:
            data["file"] = self.file
        data |= {
            "timestamp": round(float(self.timestamp), 6),
            "faces": [face.to_dict() for face in self.faces],
            "timings": {k: round(float(v), 3) for k, v in self.timings.items()},
        }
        if self.unread:
            data["unread"] = [face.to_dict() for face in self.unread]
        if self.skipped_faces:
            data["skipped_faces"] = self.skipped_faces
        if self.error:
            data["error"] = self.error
        return data


def load_detector(
    build: Build,
    name: str | None = None,
    threads: int | None = None,
    options: dict[str, Any] | None = None,
) -> Detector:
    """The build's detector (or `name`), with the model file the build carries.

    Falls back to the detector's default file on this machine when the build has
    none (or a different detector is asked for); the detector raises a clear
    `ModelFileError` when there is neither.
    """
    entry = build.detector
    wanted = name or (entry.name if entry else None)
    if not wanted:
        raise ManifestError(f"{build.root}: the manifest names no face detector; pass detector=")
    model_path = None
    opts: dict[str, Any] = {}
    if entry and wanted == entry.name:
        opts.update(entry.options)
        if entry.file:
            model_path = build.path(entry.file)
    if model_path is None and detector_class(wanted).default_model_file() is None:
        log.warning(
            "%s: build carries no %s model file and none is installed here", build.root, wanted
        )
    if threads:
        opts.setdefault("threads", threads)
    opts.update(options or {})
    return make_detector(wanted, model_path=model_path, **opts)


class Pipeline:
    """Detector + runtime + tracker for one build. Not thread-safe: one per loop."""

    def __init__(
        self,
        build: Build,
        runtime: Runtime,
        detector: Detector,
        config: PipelineConfig | None = None,
    ) -> None:
        self.build = build
        self.runtime = runtime
        self.detector = detector
        self.config = config or PipelineConfig()
        self.labels = build.labels
        self.spec = build.preprocess
        self.tracker = IoUTracker(self.config.tracker)
        self._frame_index = 0

    @classmethod
    def from_build(
        cls,
        path: str | Path | Build,
        *,
        config: PipelineConfig | None = None,
        detector_options: dict[str, Any] | None = None,
        **settings: Any,
    ) -> Pipeline:
        """Load a build folder: verify its checksums, load its runtime and detector.

        `settings` are `PipelineConfig`'s fields (`runtime="litert"` on x86,
        `threads`, `detector`, `smoothing="none"` for unrelated photos, ...), over
        `config` or the defaults; `detector_options` go to the detector besides
        `detector_tiles`.
        """
        config = replace(config or PipelineConfig(), **settings)
        build = path if isinstance(path, Build) else Build.load(path)
        threads = config.threads
        if threads is None:
            threads = build.runtime.threads
        engine = load_runtime(build, config.runtime, threads or None)
        options = {"tiles": config.detector_tiles} if config.detector_tiles > 1 else {}
        face_detector = load_detector(
            build, config.detector, threads=None, options=options | (detector_options or {})
        )
        log.info(
            "pipeline: %s %s on %s, detector %s",
            build.manifest.format,
            build.manifest.precision,
            engine.name,
            face_detector.name,
        )
        return cls(build, engine, face_detector, config)

    def reset(self) -> None:
        """Forget tracks and smoothing state (a new video or scene)."""
        self.tracker.reset()

    def select(self, detections: list[Detection]) -> tuple[list[Detection], list[UnreadFace], int]:
        """Faces worth classifying (confident enough, big enough, the largest
        `max_faces`), the confident ones too small to read, and how many were dropped."""
        confident = [d for d in detections if d.score >= self.config.min_detector_score]
        small = [d for d in confident if min(d.box[2], d.box[3]) < self.config.min_face]
        usable = [d for d in confident if min(d.box[2], d.box[3]) >= self.config.min_face]
        usable.sort(key=lambda d: d.box[2] * d.box[3], reverse=True)
        kept = usable[: self.config.max_faces]
        reason = f"face smaller than {self.config.min_face} px"
        unread = [UnreadFace(d.box, d.score, reason) for d in small]
        return kept, unread, len(detections) - len(kept) - len(unread)

    def roll(self, detection: Detection) -> float:
        """Degrees to turn this face's crop by: its eye line's tilt, with alignment on."""
        return eye_roll(detection.eyes) if self.config.align else 0.0

    def crop(self, image: np.ndarray, face: FaceResult) -> np.ndarray:
        """The face as the model saw it before resizing: framed, padded, levelled, in
        the model's colour (what `emoedge run --save-crops` writes)."""
        crop = crop_face(image, face.box, self.spec.margin, self.spec.shift, face.roll)
        if self.spec.channels == 1 and crop.ndim == 3:
            crop = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)
        return crop

    def classify(
        self, image: np.ndarray, boxes: list[Box], rolls: list[float] | None = None
    ) -> np.ndarray:
        """Probabilities (N, classes) for face boxes in one frame, in one runtime call;
        `rolls`: degrees to turn each crop by (`roll`), none when omitted."""
        if not boxes:
            return np.zeros((0, len(self.labels)), np.float32)
        # Colour conversion happens inside `preprocess`, on the crop only: the same
        # pixels as converting the whole frame first, without the cost that grows
        # with the frame (a 4K camera frame) rather than with the faces.
        image = as_uint8_image(image)
        rolls = rolls or [0.0] * len(boxes)
        batch = np.stack(
            [preprocess(image, self.spec, box, r) for box, r in zip(boxes, rolls, strict=True)]
        )
        if not self.config.flip_tta:
            return self.runtime.predict(batch)
        # Faces and mirrors in one call, as `emoedge evaluate --flip-tta` averages them.
        both = self.runtime.predict(np.concatenate([batch, batch[:, :, ::-1, :]]))
        return (both[: len(boxes)] + both[len(boxes) :]) / 2

    def __call__(
        self,
        image: np.ndarray,
        timestamp: float | None = None,
        *,
        frame_index: int | None = None,
        capture_ms: float | None = None,
        file: str | None = None,
    ) -> FrameResult:
        start = time.perf_counter()
        index = self._frame_index if frame_index is None else frame_index
        self._frame_index = index + 1
        timestamp = time.time() if timestamp is None else timestamp
        timings: dict[str, float] = {}
        if capture_ms is not None:
            timings["capture"] = float(capture_ms)
        try:
            frame = as_uint8_image(image)
        except UserInputError as exc:
            timings.update(
                detect=0.0, classify=0.0, track=0.0, total=(time.perf_counter() - start) * 1000.0
            )
            log.warning("frame %d: %s", index, exc)
            return FrameResult(index, timestamp, [], timings, error=f"bad frame: {exc}", file=file)

        t0 = time.perf_counter()
        detections, unread, skipped = self.select(self.detector.detect(frame))
        t1 = time.perf_counter()
        rolls = [self.roll(d) for d in detections]
        probabilities = self.classify(frame, [d.box for d in detections], rolls)
        t2 = time.perf_counter()
        if self.config.tracking:
            tracked = self.tracker.update([d.box for d in detections], probabilities)
            ids = [t.track_id for t in tracked]
            labels = [t.label_index for t in tracked]
            smoothed = [t.probabilities for t in tracked]
        else:
            ids = list(range(1, len(detections) + 1))
            labels = [int(np.argmax(p)) for p in probabilities]
            smoothed = list(probabilities)
        t3 = time.perf_counter()
        faces = [
            FaceResult(
                track_id=track_id,
                box=tuple(int(v) for v in detection.box),  # type: ignore[arg-type]
                label=self.labels[label],
                score=float(probs[label]),
                probabilities={name: float(p) for name, p in zip(self.labels, probs, strict=True)},
                detector_score=float(detection.score),
                roll=roll,
            )
            for detection, track_id, label, probs, roll in zip(
                detections, ids, labels, smoothed, rolls, strict=True
            )
        ]
        timings.update(
            detect=(t1 - t0) * 1000.0,
            classify=(t2 - t1) * 1000.0,
            track=(t3 - t2) * 1000.0,
            total=(time.perf_counter() - start) * 1000.0,
        )
        return FrameResult(
            index, timestamp, faces, timings, skipped_faces=skipped, file=file, unread=unread
        )

    def describe(self) -> dict[str, Any]:
        return {
            "build": str(self.build.root),
            "target": self.build.target,
            "format": self.build.manifest.format,
            "precision": self.build.manifest.precision,
            "runtime": self.runtime.describe(),
            "detector": self.detector.name,
            "detector_label": self.detector.label,
            "detector_options": dict(self.detector.options),
            "smoothing": self.config.tracker.smoothing if self.config.tracking else "off",
            "flip_tta": self.config.flip_tta,
            "align": self.config.align,
            "min_face": self.config.min_face,
        }


_COLOURS = [
    (80, 200, 80),
    (60, 160, 255),
    (255, 180, 60),
    (200, 80, 200),
    (80, 220, 220),
    (255, 100, 100),
    (120, 120, 255),
    (180, 180, 60),
]


_FONT = cv2.FONT_HERSHEY_SIMPLEX
#: the smallest font scale a label shrinks to; below it the letters are no longer legible
_MIN_FONT_SCALE = 0.2


def annotate(image: np.ndarray, result: FrameResult) -> np.ndarray:
    """A BGR copy of the frame with each face's box, track id, label and score."""
    canvas = as_uint8_image(image)
    canvas = cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR) if canvas.ndim == 2 else canvas.copy()
    thickness = max(1, round(max(canvas.shape[:2]) / 400))
    font_scale = max(0.4, max(canvas.shape[:2]) / 900)
    for face in result.faces:
        x, y, w, h = face.box
        colour = _COLOURS[face.track_id % len(_COLOURS)]
        cv2.rectangle(canvas, (x, y), (x + w, y + h), colour, thickness)
        _draw_label(
            canvas,
            f"#{face.track_id} {face.label} {face.score:.2f}",
            (x, y),
            colour,
            font_scale,
            thickness,
        )
    return canvas


def _draw_label(
    canvas: np.ndarray,
    text: str,
    corner: tuple[int, int],
    colour: tuple[int, int, int],
    font_scale: float,
    thickness: int,
) -> None:
    """`text` on a filled strip above the box's top-left `corner` (below it, inside
    the box, when the box touches the frame's top), moved left and, in a frame
    narrower than the text, shrunk until the whole strip lies in the frame: a box
    that filled a small photo or touched its right edge had its label cut off
    ("#2 happines")."""
    height, width = canvas.shape[:2]
    (text_w, text_h), base = cv2.getTextSize(text, _FONT, font_scale, thickness)
    while (text_w + 3 > width or text_h + base + 3 > height) and font_scale > _MIN_FONT_SCALE:
        font_scale = max(_MIN_FONT_SCALE, font_scale * 0.9)
        (text_w, text_h), base = cv2.getTextSize(text, _FONT, font_scale, thickness)
    strip_w, strip_h = text_w + 3, text_h + base + 3
    left = max(0, min(corner[0], width - strip_w))
    top = max(0, min(corner[1] - strip_h + 1, height - strip_h))
    cv2.rectangle(canvas, (left, top), (left + strip_w - 1, top + strip_h - 1), colour, -1)
    cv2.putText(
        canvas,
        text,
        (left + 1, top + text_h + 1),
        _FONT,
        font_scale,
        (0, 0, 0),
        thickness,
        cv2.LINE_AA,
    )


__all__ = [
    "ALIGN",
    "MIN_FACE",
    "FaceResult",
    "FrameResult",
    "Pipeline",
    "PipelineConfig",
    "UnreadFace",
    "annotate",
    "load_detector",
]
