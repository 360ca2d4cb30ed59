"""The quantizer interface, the calibration set and the artifact a quantizer leaves.

Every backend (TFLite, OpenVINO, ONNX) takes the same float Keras model and the
same calibration images, prepared by the one `preprocess` function the device
runs, so the int8 ranges are measured on exactly the inputs the device will see.
"""

from __future__ import annotations

import contextlib
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from emoedge.data.faceset import FaceSet, balanced_sample
from emoedge.data.preprocess import PreprocessSpec, preprocess_batch
from emoedge.errors import UserInputError
from emoedge.targets.formats import ModelFormat, get_format

log = logging.getLogger(__name__)

# 2000 rather than 500: `emoedge export --target rpi --validation-size 3191` with
# zoo:mini_xception lost 0.63 point calibrated on 500 images and 0.28 on 2000.
DEFAULT_CALIBRATION_SIZE = 2000


@dataclass
class CalibrationSet:
    """Float32 NHWC model inputs for post-training quantization.

    `inputs` went through `emoedge.data.preprocess.preprocess`; `labels` are kept
    when known (FER+), so accuracy-controlled quantization can reuse the set.
    """

    inputs: np.ndarray
    source: str
    labels: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.inputs.ndim != 4 or len(self.inputs) == 0:
            raise UserInputError(f"calibration set from {self.source} is empty or not NHWC")
        self.inputs = np.ascontiguousarray(self.inputs, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.inputs)

    def batches(self, batch_size: int = 1, equal: bool = False) -> Iterator[np.ndarray]:
        """Consecutive batches; `equal` shrinks the size to a divisor of the set's
        length so every batch has the same shape (ORT's histogram calibrators stack them)."""
        if equal:
            batch_size = max(d for d in range(1, batch_size + 1) if len(self.inputs) % d == 0)
        for start in range(0, len(self.inputs), batch_size):
            yield self.inputs[start : start + batch_size]

    def describe(self) -> dict[str, Any]:
        counts = None
        if self.labels is not None:
            counts = np.bincount(self.labels, minlength=8).astype(int).tolist()
        return {"source": self.source, "images": len(self), "class_counts": counts}

    @classmethod
    def from_faces(
        cls,
        faces: FaceSet,
        spec: PreprocessSpec,
        size: int = DEFAULT_CALIBRATION_SIZE,
        seed: int = 0,
    ) -> CalibrationSet:
        """A class-balanced sample of up to `size` labelled faces, so that rare classes
        (contempt, disgust) shape the int8 ranges too; the faces are preprocessed here,
        for this model's input, which lets one stored set serve every model."""
        index = balanced_sample(faces.labels, size, seed=seed)
        chosen = faces.subset(index)
        return cls(
            inputs=chosen.to_inputs(spec),
            source=f"{faces.source} balanced n={len(index)} seed={seed}",
            labels=chosen.labels,
        )

    @classmethod
    def from_ferplus(
        cls,
        root: str | Path,
        spec: PreprocessSpec,
        size: int = DEFAULT_CALIBRATION_SIZE,
        split: str = "train",
        seed: int = 0,
    ) -> CalibrationSet:
        """A class-balanced sample of a FER+ split (majority protocol)."""
        from emoedge.data.ferplus import load_ferplus

        return cls.from_faces(load_ferplus(root, split, "majority"), spec, size=size, seed=seed)

    @classmethod
    def from_shipped_sample(
        cls, spec: PreprocessSpec, size: int = DEFAULT_CALIBRATION_SIZE, seed: int = 0
    ) -> CalibrationSet:
        """The calibration faces the package ships (`emoedge.data.sample`), for an
        int8 export on a machine without FER+; at most as many as the sample holds."""
        from emoedge.data.sample import load_sample

        faces = load_sample().calibration
        if size < len(faces):
            return cls.from_faces(faces, spec, size=size, seed=seed)
        if size > len(faces):
            log.debug("the shipped FER+ sample holds %d faces, fewer than %d", len(faces), size)
        return cls(inputs=faces.to_inputs(spec), source=faces.source, labels=faces.labels)

    @classmethod
    def from_folder(
        cls,
        folder: str | Path,
        spec: PreprocessSpec,
        size: int | None = None,
        seed: int = 0,
        photos: bool = False,
    ) -> CalibrationSet:
        """Every image under `folder` (recursively), each treated as a face crop, or
        with `photos` as a photo whose largest face is cropped as the pipeline does."""
        from emoedge.data.images import IMAGE_SUFFIXES, read_image

        folder = Path(folder)
        if not folder.is_dir():
            raise UserInputError(f"{folder}: calibration folder not found")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise UserInputError(
                f"{folder}: calibration folder holds no images "
                f"({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        if size is not None and size < len(paths):
            rng = np.random.default_rng(seed)
            paths = sorted(rng.choice(paths, size=size, replace=False).tolist())
        images = [read_image(Path(p)) for p in paths]
        kind = "folder"
        if photos:
            from emoedge.data.photos import face_crops

            images, _ = face_crops(images, spec.margin, spec.shift)
            if not images:
                raise UserInputError(f"{folder}: no face found in any calibration photo")
            kind = "photos"
        return cls(inputs=preprocess_batch(images, spec), source=f"{kind}:{folder} n={len(images)}")


@dataclass
class Artifact:
    """What a quantizer wrote: files by role, relative to the folder it was given.

    Roles: "model" is the file a runtime loads; OpenVINO adds "weights" (.bin).
    `params` records how it was quantized, for the manifest.
    """

    format: str
    precision: str
    files: dict[str, str]
    params: dict[str, Any] = field(default_factory=dict)
    input: dict[str, Any] = field(default_factory=dict)  # dtype, scale, zero_point


@dataclass(frozen=True)
class ConvertRequest:
    """One conversion, asked of any backend: the interface and every format take
    this one object rather than each repeating the same long signature.

    `calibration` is needed for int8 only. `per_channel` is every int8 quantizer's:
    one weight scale per output channel, the default (accuracy), or one per tensor:
    smaller files, since per-channel parameters are a large part of models this
    small (benchmarks/results/quantization_granularity_*.md), and less accuracy
    where channels differ. `options` are the format's own, by name (the format
    table's `options`; the backend's `options_type` gives their defaults).
    """

    keras_model: Any
    calibration: CalibrationSet | None
    precision: str
    out_dir: Path
    per_channel: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "per_channel" in self.options:
            raise TypeError("per_channel is a field of the request, not a format option")


@dataclass(frozen=True)
class NoOptions:
    """The options of a format that takes none of its own (TFLite)."""


class Quantizer(ABC):
    """One model format. `quantize` checks the request against the format table
    (`emoedge.targets.formats`: precisions and the options this format takes),
    then `convert` writes the float Keras model into the request's `out_dir`."""

    format: str = "base"
    #: the dataclass of this format's own options, with their defaults
    options_type: ClassVar[type] = NoOptions

    @property
    def model_format(self) -> ModelFormat:
        return get_format(self.format)

    def check_precision(self, precision: str) -> None:
        self.model_format.check_precision(precision)

    def quantize(self, request: ConvertRequest) -> Artifact:
        """Write the model file(s) for the request into its `out_dir` and describe them.

        An option the format does not take, or not at this precision, is refused
        before anything is converted; one left at its default asks for nothing and
        is not checked.
        """
        self.check_precision(request.precision)
        defaults = {option.name: option.default for option in fields(self.options_type)}
        asked: dict[str, Any] = {} if request.per_channel else {"per_channel": False}
        asked.update(
            (name, value)
            for name, value in request.options.items()
            if name not in defaults or defaults[name] is not value
        )
        self.model_format.check_options(request.precision, asked)
        return self.convert(request)

    def format_options(self, request: ConvertRequest) -> Any:
        """The request's options as this format's `options_type`, defaults filled in."""
        return self.options_type(**request.options)

    @abstractmethod
    def convert(self, request: ConvertRequest) -> Artifact:
        """The conversion itself, on a request `quantize` has checked."""


@contextlib.contextmanager
def stdout_to_debug_log(logger: logging.Logger, what: str) -> Iterator[None]:
    """Converters and calibrators print() their progress to stdout, where the CLI's
    results (and `emoedge run --json -`) go; keep it for --verbose logs instead."""
    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter):
            yield
    finally:
        logger.debug("%s output:\n%s", what, chatter.getvalue())


def require_calibration(calibration: CalibrationSet | None, fmt: str) -> CalibrationSet:
    if calibration is None:
        raise UserInputError(
            f"int8 {fmt} needs calibration images: give a FER+ dataset (--data) "
            "or a folder of face crops (--calibration)"
        )
    return calibration


def keras_input_shape(keras_model) -> tuple[int, int, int]:
    """(H, W, C) of a single-input Keras model."""
    shape = keras_model.input_shape
    if isinstance(shape, list):
        if len(shape) != 1:
            raise UserInputError(f"model has {len(shape)} inputs; emoedge models take one image")
        shape = shape[0]
    _, height, width, channels = shape
    return int(height), int(width), int(channels)


def weight_granularity(per_channel: bool) -> str:
    """How a manifest names the int8 weight scheme."""
    return "int8 symmetric, " + ("per-channel" if per_channel else "per-tensor")
