"""The variants a bench row stands for: a model format, a precision, its runtime.

Every variant but Keras is made the one way a user makes it: `export_build` for
the target profile whose format it is (rpi: TFLite, x86: OpenVINO, jetson:
ONNX), so the bench measures exactly what a device would run. Builds are cached
by model checksum, so a rerun does not convert again.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from emoedge.errors import UserInputError
from emoedge.quantization.base import DEFAULT_CALIBRATION_SIZE
from emoedge.targets.formats import FORMATS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Variant:
    format: str  # keras | tflite | openvino | onnx
    precision: str  # fp32 | int8 | fp16

    @property
    def key(self) -> str:
        return f"{self.format}:{self.precision}"

    @property
    def runtime(self) -> str:
        return FORMATS[self.format].runtime

    @property
    def target(self) -> str | None:
        """The target whose export makes this variant (None: the float Keras model)."""
        targets = FORMATS[self.format].targets
        return targets[0] if targets else None

    @property
    def is_float(self) -> bool:
        return self.precision == "fp32"


DEFAULT_VARIANTS: tuple[Variant, ...] = (
    Variant("keras", "fp32"),
    Variant("tflite", "fp32"),
    Variant("tflite", "int8"),
    Variant("openvino", "fp32"),
    Variant("openvino", "int8"),
    Variant("onnx", "fp32"),
    Variant("onnx", "int8"),
)


def parse_variant(text: str) -> Variant:
    """`format:precision`, e.g. `tflite:int8`. Only the format is checked here: an
    unsupported precision is the export's to refuse, and shows as a failed row."""
    fmt, _, precision = text.strip().lower().partition(":")
    if fmt not in FORMATS or not precision:
        raise UserInputError(
            f"variant {text!r}: expected FORMAT:PRECISION with FORMAT one of "
            f"{', '.join(FORMATS)} (e.g. tflite:int8)"
        )
    return Variant(fmt, precision)


def variants_for_target(target: str | None) -> list[Variant]:
    """What `--target` benches: the precisions its build can take, in its format
    (float first, the reference for the drop). No target: every default variant."""
    if target is None:
        return list(DEFAULT_VARIANTS)
    from emoedge.targets.profiles import get_profile

    profile = get_profile(target)
    order = {"fp32": 0, "fp16": 1, "int8": 2}
    precisions = sorted(profile.precisions, key=lambda p: order.get(p, 9))
    return [Variant(profile.format, p) for p in precisions]


def unavailable_reason(variant: Variant) -> str | None:
    """Why this variant cannot run on this machine (its runtime is not installed), or None."""
    module = FORMATS[variant.format].runtime_module
    if importlib.util.find_spec(module) is None:
        return f"{variant.runtime} is not installed ({module} not importable)"
    return None


def _detector_digest(variant: Variant) -> str | None:
    from emoedge.targets.detectors import detector_class
    from emoedge.targets.manifest import sha256_file
    from emoedge.targets.profiles import get_profile

    if variant.target is None:
        return None
    path = detector_class(get_profile(variant.target).detector).default_model_file()
    return sha256_file(path) if path and Path(path).is_file() else None


def build_dir(
    cache: Path,
    model_ref: str,
    variant: Variant,
    data: Path | None = None,
    calibration_size: int = DEFAULT_CALIBRATION_SIZE,
) -> Path:
    """Cache folder of a build: keyed by the model's checksum, by the data its
    int8 calibration came from (a fixture-calibrated build must never stand in
    for one calibrated on full FER+) and by the face detector file the build
    would carry (a new detector must not be benched through an old build)."""
    import hashlib

    from emoedge.export import model_name
    from emoedge.models.zoo import resolve_model_path
    from emoedge.targets.manifest import sha256_file

    digest = sha256_file(resolve_model_path(model_ref))[:12]
    source = (
        f"{Path(data).resolve() if data else None}|{calibration_size}|{_detector_digest(variant)}"
    )
    calibration = hashlib.sha256(source.encode()).hexdigest()[:8]
    return (
        cache
        / f"{model_name(model_ref)}-{digest}"
        / f"{variant.format}-{variant.precision}-cal{calibration}"
    )


def make_build(
    model_ref: str,
    variant: Variant,
    cache: Path,
    data: Path | None,
    calibration_size: int = DEFAULT_CALIBRATION_SIZE,
    validation_size: int = 200,
) -> Path | None:
    """The build folder for a variant (None for Keras), exported once and then reused.

    The export's accuracy gate is opened wide (`allow_drop=100`): the bench
    reports the drop, it does not refuse to measure a variant because of it.
    """
    if variant.format == "keras":
        return None
    from emoedge.errors import EmoedgeError
    from emoedge.export import export_build
    from emoedge.targets.manifest import Build

    out = build_dir(cache, model_ref, variant, data, calibration_size)
    if out.is_dir():
        try:
            Build.load(out)
            log.info("reusing cached build %s", out)
            return out
        except EmoedgeError as exc:
            log.warning("cached build %s is unusable (%s); exporting again", out, exc)
            shutil.rmtree(out, ignore_errors=True)
    export_build(
        model_ref,
        variant.target,
        variant.precision,
        out=out,
        data=data,
        calibration_size=calibration_size,
        validation_size=validation_size,
        allow_drop=100.0,
        force=True,
    )
    return out
