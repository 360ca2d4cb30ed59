"""Float Keras model -> quantizer -> build folder for one target -> parity gate.

The target profile (`emoedge.targets.profiles`) decides format, precision,
runtime, threads and face detector; this module only wires the steps together:

1. resolve and load the float model; refuse an existing output folder early;
2. build the calibration set (class-balanced FER+ train sample, or a folder, or,
   without FER+, the small FER+ sample the package ships: `emoedge.data.sample`);
3. run the format's quantizer into a temporary folder next to `out`;
4. copy the face detector's model file in (when the detector has one);
5. parity gate: run the built model in its real runtime on a FER+ valid sample
   and compare with the float model (accuracy of both, top-1 agreement); without
   FER+, only their agreement on the shipped sample's parity faces, accuracy and
   the gate recorded as not measured;
6. write `manifest.json` and a README for the device, then rename the temporary
   folder to `out` in one step, so a failed export never leaves a build that
   looks complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from emoedge.data.location import missing_dataset
from emoedge.errors import AccuracyGateError, UserInputError, pick
from emoedge.labels import EMOTIONS
from emoedge.quantization.base import DEFAULT_CALIBRATION_SIZE
from emoedge.targets.manifest import (
    MANIFEST_NAME,
    Accuracy,
    Build,
    DetectorEntry,
    Manifest,
    ModelInput,
    ModelOrigin,
    ModelOutput,
    ParityCheck,
    RuntimeEntry,
    Sizes,
    file_entry,
    sha256_file,
    write_manifest,
)
from emoedge.targets.profiles import TargetProfile, get_profile
from emoedge.versions import installed_versions

log = logging.getLogger(__name__)

DEFAULT_MAX_DROP = 1.0  # accuracy points on the validation sample
# 0 = the whole FER+ valid split (3,191 images): on a 500-image sample one image
# is 0.2 point, and the gate tripped on noise (1.41 points on 500, 0.63 on all).
DEFAULT_VALIDATION_SIZE = 0
TOOL_DISTRIBUTIONS = (
    "emoedge",
    "tensorflow",
    "keras",
    "ai-edge-litert",
    "openvino",
    "nncf",
    "onnx",
    "onnxruntime",
    "tf2onnx",
    "numpy",
    "opencv-python-headless",
)


def tool_versions() -> dict[str, str]:
    return installed_versions(TOOL_DISTRIBUTIONS)


def model_name(model_ref: str | Path) -> str:
    text = str(model_ref)
    return text.split(":", 1)[1] if text.startswith("zoo:") else Path(text).stem


def default_out(model_ref: str | Path, target: str, precision: str) -> Path:
    return Path("builds") / f"{model_name(model_ref)}-{target}-{precision}"


def _detector_file(name: str) -> Path | None:
    """The detector's model file on this host, or None (no file, or module not there yet)."""
    from emoedge.targets.detectors import detector_class

    try:
        cls = detector_class(name)
    except (ImportError, AttributeError) as exc:
        log.warning("detector %r is not available here (%s); recording its name only", name, exc)
        return None
    path = cls.default_model_file()
    return Path(path) if path and Path(path).is_file() else None


#: the export option that sets each quantizer option, for errors in the user's words
OPTION_FLAGS = {"per_channel": "--per-tensor", "accuracy_control": "--accuracy-control"}


def _check_options(profile: TargetProfile, precision: str, options: dict[str, Any]) -> None:
    """Refuse, before the model loads, an option the target's format does not take."""
    for name, value in options.items():
        try:
            profile.model_format.check_options(precision, {name: value})
        except UserInputError as exc:
            flag = OPTION_FLAGS.get(name, name)
            raise UserInputError(
                f"{flag} is not for target {profile.name} {precision}: {exc}"
            ) from None


#: why a build made without FER+ has no accuracy figures (manifest, README, CLI)
NOT_MEASURED = "not measured: no dataset given (--data), so the --max-drop gate was not applied"


@dataclass(frozen=True)
class ParitySample:
    """Labelled model inputs the built model is checked on. `measures_accuracy` is
    False for the shipped sample: 8 faces a class make one face 1.6 points, so only
    the float/built agreement is recorded, never an accuracy or a drop to gate on."""

    inputs: np.ndarray
    labels: np.ndarray
    source: str
    measures_accuracy: bool


def _ferplus_parity_sample(data: Path, spec, size: int, seed: int) -> ParitySample:
    from emoedge.data.ferplus import load_ferplus

    faces = load_ferplus(data, "valid", "majority").limit(size or None, seed=seed)
    source = "FER+ valid, majority protocol, " + (
        f"class-stratified (requested {size})" if size else "all images"
    )
    return ParitySample(faces.to_inputs(spec), faces.labels, source, measures_accuracy=True)


def _shipped_parity_sample(spec, size: int, seed: int) -> ParitySample:
    """The package's FER+ parity faces, for an export on a machine without FER+."""
    from emoedge.data.sample import load_sample

    faces = load_sample().parity.limit(size or None, seed=seed)
    return ParitySample(faces.to_inputs(spec), faces.labels, faces.source, measures_accuracy=False)


def _readme(profile: TargetProfile, out_name: str, manifest: Manifest) -> str:
    acc, model, detector = manifest.accuracy, manifest.model, manifest.detector
    shape = manifest.input.shape
    if acc.quantized_accuracy is not None:
        accuracy = (
            f"float {acc.float_accuracy:.2%}, {manifest.precision} {acc.quantized_accuracy:.2%} "
            f"(drop {acc.drop_points:.2f} points, top-1 agreement {acc.agreement:.2%}) "
            f"on {acc.images} images of {acc.sample}"
        )
    else:
        accuracy = str(acc.skipped)
        if acc.parity:
            accuracy += (
                f"; top-1 agreement with the float model {acc.parity.agreement:.2%} "
                f"on {acc.parity.images} faces of the {acc.parity.sample}"
            )
    files = "\n".join(
        f"- `{e.path}` ({role}, {e.bytes:,} bytes)" for role, e in manifest.files.items()
    )
    return f"""# {out_name}: {model.name} for {profile.name}

{profile.description}.

Model: `{model.source}` as {manifest.format} {manifest.precision},
run by `{manifest.runtime.name}` with {manifest.runtime.threads or "all"} threads.
Face detector: {detector.name}{"" if detector.file else " (its model is not in this build)"}.
Accuracy: {accuracy}.

## Files

- `manifest.json`: labels, preprocessing, input, quantization, runtime, checksums
{files}

## On the device

Install (no TensorFlow needed):

    {profile.install}

Copy this folder over, check that it runs there (checksums, runtime and which
provider started, one inference, the face detector), then run it on the camera:

    emoedge doctor {out_name}
    emoedge run {out_name} --source camera

or from Python:

    from emoedge.targets.manifest import Build
    from emoedge.targets.runtimes import load_runtime
    runtime = load_runtime(Build.load("{out_name}"))  # checks every file's sha256
    probabilities = runtime.predict(faces)  # float32 (N, {shape[1]}, {shape[2]}, {shape[3]}) from emoedge.data.preprocess

A build whose files do not match `manifest.json` is refused: re-export instead of editing it.
"""


def export_build(
    model_ref: str | Path,
    target: str,
    precision: str | None = None,
    out: str | Path | None = None,
    data: str | Path | None = None,
    calibration: str | Path | None = None,
    calibration_size: int = DEFAULT_CALIBRATION_SIZE,
    calibration_photos: bool = False,
    validation_size: int = DEFAULT_VALIDATION_SIZE,
    allow_drop: float | None = None,
    max_drop: float = DEFAULT_MAX_DROP,
    detector: str | None = None,
    accuracy_control: bool = False,
    per_channel: bool = True,
    force: bool = False,
    seed: int = 0,
    on_step: Callable[[str], None] | None = None,
) -> Path:
    """Write a build for `target` and return its folder.

    `data` is a FER+ root (calibration from train, parity from valid);
    `calibration` a folder of face crops instead (of photos, with
    `calibration_photos`: their faces are cropped as the pipeline crops them).
    Without `data`, the FER+ sample
    the package ships stands in (int8 calibration, unless `calibration` is given,
    and a parity check of agreement only), so an export works on any machine and
    its manifest says accuracy was not measured. `max_drop` is the accuracy gate
    in points; `allow_drop` accepts a larger drop, up to that many points, and is
    recorded in the manifest as an override. `per_channel=False` quantizes int8
    weights per tensor (smaller, see `emoedge.quantization.ConvertRequest`).
    """
    from emoedge.models.zoo import load_keras_model, model_preprocess_spec, resolve_model_path
    from emoedge.quantization import CalibrationSet, ConvertRequest, get_quantizer

    step = on_step or (lambda message: log.info("%s", message))
    profile = get_profile(target)
    precision = precision or profile.precision
    if precision not in profile.precisions:
        raise UserInputError(
            f"target {profile.name} takes precision {', '.join(profile.precisions)}, not {precision!r}"
        )
    options: dict[str, Any] = {"accuracy_control": True} if accuracy_control else {}
    _check_options(profile, precision, ({} if per_channel else {"per_channel": False}) | options)
    if accuracy_control and data is None:
        raise UserInputError(
            "--accuracy-control needs a FER+ dataset (--data) to measure accuracy on"
        )
    if detector is not None:
        from emoedge.targets.detectors import DETECTORS, HOST_ONLY

        pick(DETECTORS, detector, "detector")
        if detector in HOST_ONLY:
            raise UserInputError(
                f"the {detector} detector runs on TensorFlow, host only: a build cannot carry it"
            )
    if data is not None and not Path(data).is_dir():
        raise missing_dataset(data)
    # options that would do nothing are refused, not ignored: the user meant them
    if calibration_photos and calibration is None:
        raise UserInputError(
            "--calibration-photos says what --calibration holds: give --calibration"
        )
    if calibration is not None and precision != "int8":
        raise UserInputError(
            f"--calibration sets int8 ranges; a {precision} build has none (use --precision int8)"
        )
    if validation_size < 0 or calibration_size < 1:
        raise UserInputError(
            "the calibration size must be at least 1 and the validation size at least 0 (all)"
        )
    model_path = resolve_model_path(model_ref)
    model_preprocess_spec(model_ref)  # a model without one is refused before TensorFlow loads
    out = Path(out) if out is not None else default_out(model_ref, profile.name, precision)
    if out.exists() and not force:
        raise UserInputError(f"{out}: output folder exists (choose another --out or pass --force)")

    step(f"loading {model_ref}")
    keras_model = load_keras_model(model_ref)
    spec = model_preprocess_spec(model_ref, keras_model)

    calibration_set = None
    if precision == "int8":
        step("preparing calibration images")
        if calibration is not None:
            calibration_set = CalibrationSet.from_folder(
                calibration, spec, size=calibration_size, seed=seed, photos=calibration_photos
            )
        elif data is not None:
            calibration_set = CalibrationSet.from_ferplus(
                data, spec, size=calibration_size, seed=seed
            )
        else:
            calibration_set = CalibrationSet.from_shipped_sample(
                spec, size=calibration_size, seed=seed
            )
    if data is not None:
        parity = _ferplus_parity_sample(Path(data), spec, validation_size, seed)
    else:
        parity = _shipped_parity_sample(spec, validation_size, seed)
    # accuracy-controlled quantization scores FER+ valid, never the shipped sample
    validation = (parity.inputs, parity.labels) if parity.measures_accuracy else None

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; a build is meant to be copied and shared
    try:
        step(f"converting to {profile.format} {precision}")
        quantizer = get_quantizer(profile.format)
        if accuracy_control:
            options.update(validation=validation, max_drop=max_drop)
        artifact = quantizer.quantize(
            ConvertRequest(keras_model, calibration_set, precision, tmp, per_channel, options)
        )
        detector_name = detector or profile.detector
        files = dict(artifact.files)
        detector_path = _detector_file(detector_name)
        if detector_path is not None:
            (tmp / "detector").mkdir()
            shutil.copy2(detector_path, tmp / "detector" / detector_path.name)
            files["detector"] = f"detector/{detector_path.name}"

        height, width, channels = spec.input_shape
        parameters = int(keras_model.count_params())
        entries = {role: file_entry(tmp, rel) for role, rel in files.items()}
        model_bytes = sum(entries[r].bytes for r in ("model", "weights") if r in entries)
        float_bytes = model_path.stat().st_size
        manifest = Manifest(
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            target=profile.name,
            device=profile.description,
            format=artifact.format,
            precision=precision,
            model=ModelOrigin(
                name=model_name(model_ref),
                source=str(model_ref),
                file=model_path.name,  # the host's path means nothing on a device
                sha256=sha256_file(model_path),
                parameters=parameters,
            ),
            labels=tuple(EMOTIONS),
            preprocess=spec,
            input=ModelInput(shape=(None, height, width, channels), **artifact.input),
            output=ModelOutput(shape=(None, len(EMOTIONS)), kind="probabilities"),
            quantization=artifact.params,
            runtime=RuntimeEntry(
                profile.model_format.runtime, profile.threads, dict(profile.runtime_options)
            ),
            detector=DetectorEntry(detector_name, "detector" if "detector" in files else None),
            files=entries,
            sizes=Sizes(
                float_keras_bytes=float_bytes,
                float32_weights_bytes=parameters * 4,
                model_bytes=model_bytes,
                ratio_to_float_keras=round(model_bytes / float_bytes, 4),
                ratio_to_float32_weights=round(model_bytes / (parameters * 4), 4),
            ),
        )

        step("parity check in the target runtime")
        manifest = replace(
            manifest,
            accuracy=_parity(Build(tmp, manifest), keras_model, parity, max_drop, allow_drop),
            tools=tool_versions(),
            install=profile.install,
        )
        write_manifest(tmp, manifest)
        (tmp / "README.md").write_text(_readme(profile, out.name, manifest))
        Build.load(tmp)  # what a device will do: schema, keys, checksums

        if out.exists():  # --force: replace, but only once the new build is complete
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s (%s)", out, MANIFEST_NAME)
    return out


def _parity(
    build: Build,
    keras_model,
    parity: ParitySample,
    max_drop: float,
    allow_drop: float | None,
) -> Accuracy:
    """Accuracy of float and built model on FER+ valid, raising past the gate; on the
    shipped sample, only how often the two agree, under `parity`, with accuracy left
    None and `skipped` saying why."""
    from emoedge.evaluation import keras_predictor, predict_all
    from emoedge.targets.runtimes import load_runtime

    inputs, labels = parity.inputs, parity.labels
    built = predict_all(load_runtime(build).predict, inputs)
    floats = predict_all(keras_predictor(keras_model), inputs)
    agreement = float((floats.argmax(1) == built.argmax(1)).mean())
    max_diff = float(np.abs(floats - built).max())
    if not parity.measures_accuracy:
        return Accuracy(
            max_drop=max_drop,
            skipped=NOT_MEASURED,
            parity=ParityCheck(parity.source, len(labels), agreement, max_diff),
        )
    float_acc = float((floats.argmax(1) == labels).mean())
    built_acc = float((built.argmax(1) == labels).mean())
    drop = round((float_acc - built_acc) * 100.0, 3)
    override = None
    if drop > max_drop:
        if allow_drop is None or drop > allow_drop:
            limit = max_drop if allow_drop is None else allow_drop
            raise AccuracyGateError(
                f"{build.manifest.format} {build.manifest.precision} loses {drop:.2f} accuracy "
                f"points on {len(labels)} FER+ valid images (float {float_acc:.2%}, built "
                f"{built_acc:.2%}); the limit is {limit:g}. Accept it with --allow-drop {drop:.1f}"
                " (recorded in the manifest), or try --accuracy-control (x86) or more calibration images"
            )
        override = {
            "allow_drop": allow_drop,
            "reason": "--allow-drop accepted a drop over max_drop",
        }
        log.warning(
            "accuracy drop %.2f points exceeds %.2f; accepted by --allow-drop %.2f",
            drop,
            max_drop,
            allow_drop,
        )
    elif allow_drop is not None:
        override = {"allow_drop": allow_drop, "reason": "given but not needed"}
    return Accuracy(
        sample=parity.source,
        images=len(labels),
        float_accuracy=float_acc,
        quantized_accuracy=built_acc,
        drop_points=drop,
        agreement=agreement,
        max_drop=max_drop,
        override=override,
        max_abs_probability_diff=max_diff,
    )
