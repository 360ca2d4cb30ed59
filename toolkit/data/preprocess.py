"""The one preprocessing function shared by training, calibration, evaluation and runners.

A model only sees inputs like the ones it was trained on if every stage prepares
them the same way, so there is exactly one implementation here and the build
manifest records its parameters (`PreprocessSpec.to_dict`). Numpy and OpenCV
only: this runs on the device.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from emoedge.errors import UserInputError

Box = tuple[int, int, int, int]  # x, y, w, h in pixels
Point = tuple[float, float]  # x, y in pixels

#: How FER+ frames a face, measured rather than guessed: the default detector
#: (BlazeFace short range int8) run on 2,000 FER+ training faces upscaled to 192 px
#: finds a box whose side is the median 0.876 of the image's, centred 0.088 box
#: sides below the image centre (benchmarks/ferplus_framing.py,
#: benchmarks/results/ferplus_framing_2026-12-03.md). So a crop framed as FER+
#: is the box widened by `FERPLUS_MARGIN` of its side on each side and moved up by
#: `FERPLUS_SHIFT` of its side: more forehead and hair, less below the chin.
FERPLUS_MARGIN = 0.07
FERPLUS_SHIFT = 0.09
#: Eye lines tilted more than this many degrees are not levelled: past it the
#: keypoints of a profile or upside-down face are more likely wrong than the face.
MAX_ROLL = 45.0

#: what each `scale` maps 0..255 pixels to (`to_model_input` does it; cards show it)
SCALE_RANGES: dict[str, tuple[float, float]] = {"symmetric": (-1.0, 1.0), "unit": (0.0, 1.0)}


@dataclass(frozen=True)
class PreprocessSpec:
    """How a face crop becomes a model input.

    `scale` "symmetric" maps 0..255 to -1..1 (Arriaga et al.'s mini-Xception input);
    "unit" maps to 0..1. `margin` widens a detector box (made square) on each
    side by that fraction of its side and `shift` moves the crop up by that
    fraction, so that a face is framed as FER+ framed it (`FERPLUS_MARGIN`,
    `FERPLUS_SHIFT`: the one place that fact is stated). Manifests written before
    `shift` existed read as 0.
    """

    height: int = 64
    width: int = 64
    channels: int = 1
    scale: str = "symmetric"
    margin: float = FERPLUS_MARGIN
    shift: float = FERPLUS_SHIFT

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise UserInputError(f"channels must be 1 or 3, got {self.channels}")
        if self.scale not in SCALE_RANGES:
            raise UserInputError(
                f"scale must be one of {', '.join(map(repr, SCALE_RANGES))}, got {self.scale!r}"
            )
        if self.height < 16 or self.width < 16:
            raise UserInputError(f"input size {self.height}x{self.width} is too small (min 16)")
        if not -0.45 < self.margin <= 2.0:
            raise UserInputError(f"margin must be in (-0.45, 2], got {self.margin}")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, self.channels)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> PreprocessSpec:
        fields = ("height", "width", "channels", "scale", "margin", "shift")
        known = {k: data[k] for k in fields if k in data}
        if "margin" in known and "shift" not in known:
            known["shift"] = 0.0  # a manifest from before the measured framing
        return cls(**known)


def as_uint8_image(image: np.ndarray) -> np.ndarray:
    """Normalise any frame layout (gray, gray+1, BGR, BGRA, 16-bit) to uint8 gray or BGR."""
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise UserInputError("empty or invalid image")
    if image.dtype != np.uint8:
        if image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.floating):
            image = np.clip(image * (255.0 if image.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
        else:
            image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 2 and not (image.ndim == 3 and image.shape[2] == 3):
        raise UserInputError(f"unsupported image shape {image.shape}")
    return image


def expand_box(box: Box, margin: float, image_shape: Sequence[int]) -> Box:
    """Widen a face box by `margin` on each side and clip it to the image (for
    drawing and tiling; crops go through `crop_face`, which pads instead)."""
    x, y, w, h = (int(v) for v in box)
    dx, dy = round(w * margin), round(h * margin)
    height, width = int(image_shape[0]), int(image_shape[1])
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
    if x1 <= x0 or y1 <= y0:
        raise UserInputError(f"face box {box} lies outside the {width}x{height} image")
    return (x0, y0, x1 - x0, y1 - y0)


def eye_roll(eyes: tuple[Point, Point] | None) -> float:
    """Degrees the eye line is tilted (positive: clockwise on screen, the image's y
    axis pointing down); 0 without eyes or past `MAX_ROLL`. `eyes` are the two eye
    centres in either order (the left one on screen is taken first)."""
    if eyes is None:
        return 0.0
    (ax, ay), (bx, by) = sorted(eyes)
    angle = float(np.degrees(np.arctan2(by - ay, bx - ax)))
    return angle if abs(angle) <= MAX_ROLL else 0.0


def crop_face(
    image: np.ndarray,
    box: Box,
    margin: float = FERPLUS_MARGIN,
    shift: float = FERPLUS_SHIFT,
    roll: float = 0.0,
) -> np.ndarray:
    """The face in `box` as a square crop at the image's resolution, framed as FER+.

    The box is made square (its mean side), widened by `margin`, moved up by `shift`
    (fractions of that side) and, with `roll` degrees, turned about its centre so
    that the eye line comes out level. Where the crop leaves the image, the edge
    pixels are repeated (a face at the border keeps its shape instead of being
    clipped and then stretched to a square). The one crop function: the pipeline,
    `emoedge run --save-crops`, calibration and fine-tuning on photos all use it.
    """
    image = as_uint8_image(image)
    height, width = image.shape[:2]
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0 or x >= width or y >= height or x + w <= 0 or y + h <= 0:
        raise UserInputError(f"face box {tuple(box)} lies outside the {width}x{height} image")
    box_side = (w + h) / 2.0
    side = max(2, round(box_side * (1.0 + 2.0 * margin)))
    # Up along the face, which a clockwise roll of the head turns to the right.
    up_x, up_y = np.sin(np.radians(roll)), -np.cos(np.radians(roll))
    cx = x + w / 2.0 + shift * box_side * up_x
    cy = y + h / 2.0 + shift * box_side * up_y
    if abs(roll) > 1e-3:
        # Output pixel centre -> source point: rotate by `roll` about the face centre.
        matrix = cv2.getRotationMatrix2D((cx, cy), roll, 1.0)
        matrix[:, 2] += np.array([side / 2.0 - cx, side / 2.0 - cy])
        return cv2.warpAffine(
            image, matrix, (side, side), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
    x0, y0 = round(cx - side / 2.0), round(cy - side / 2.0)
    x1, y1 = x0 + side, y0 + side
    crop = image[max(0, y0) : min(height, y1), max(0, x0) : min(width, x1)]
    pads = (max(0, -y0), max(0, y1 - height), max(0, -x0), max(0, x1 - width))
    if any(pads):
        crop = cv2.copyMakeBorder(crop, *pads, cv2.BORDER_REPLICATE)
    return crop


def preprocess(
    image: np.ndarray, spec: PreprocessSpec, box: Box | None = None, roll: float = 0.0
) -> np.ndarray:
    """Crop (framed by the spec, turned by `roll` degrees: `eye_roll` of the eyes to
    level them), convert colour, resize and scale one face.

    `box` is a detector box in the image; None means the image already is the face
    (a FER+ sample). Returns float32 of shape `spec.input_shape`.
    """
    image = as_uint8_image(image)
    if box is not None:
        image = crop_face(image, box, spec.margin, spec.shift, roll)
    if spec.channels == 1 and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    elif spec.channels == 3 and image.ndim == 2:
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[0] != spec.height or image.shape[1] != spec.width:
        image = _resize(image, spec.width, spec.height)
    out = image.astype(np.float32)
    out = out / 127.5 - 1.0 if spec.scale == "symmetric" else out / 255.0
    return out.reshape(spec.input_shape)


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Area averaging when shrinking (no aliasing), bilinear when growing.

    OpenCV's area resize is fast only for whole-number factors: a 266 px face crop
    to 64 px took 0.15 ms, as long as the classifier. So a crop at least twice the
    target is first brought bilinearly to the nearest whole multiple of it (266 ->
    256, a change of a few percent), then averaged down: 0.07 ms, and the face
    differs from the direct area resize by 0.2 gray levels on average (wild-sample
    crops, 2026-11-27).
    """
    factor = min(image.shape[0] // height, image.shape[1] // width)
    if factor >= 2:
        if image.shape[0] != height * factor or image.shape[1] != width * factor:
            image = cv2.resize(
                image, (width * factor, height * factor), interpolation=cv2.INTER_LINEAR
            )
        return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    shrinking = image.shape[0] > height
    return cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    )


def preprocess_batch(
    images: Sequence[np.ndarray], spec: PreprocessSpec, boxes: Sequence[Box | None] | None = None
) -> np.ndarray:
    """`preprocess` over a list of images; returns float32 (N, H, W, C)."""
    boxes = boxes if boxes is not None else [None] * len(images)
    out = np.empty((len(images), *spec.input_shape), dtype=np.float32)
    for i, (image, box) in enumerate(zip(images, boxes, strict=True)):
        out[i] = preprocess(image, spec, box)
    return out
