"""What quantization costs: a float model and a quantized one on the same labelled split.

The float side runs in Keras; the quantized side runs in the runtime a device
uses (LiteRT, OpenVINO, ONNX Runtime), from a build folder or a bare model file
whose format is recognised by its suffix. Both see the same inputs from the one
`preprocess` function, so every difference comes from the conversion. It is
evaluation (of two models), so it lives beside `emoedge.evaluation`, on the host:
the quantizers themselves know nothing of runtimes.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from emoedge.errors import UserInputError
from emoedge.labels import EMOTIONS
from emoedge.targets.formats import FORMATS, format_for_suffix
from emoedge.targets.manifest import Build, Manifest, RuntimeEntry, file_entry

log = logging.getLogger(__name__)


def quantized_build(path: str | Path, labels: tuple[str, ...] = tuple(EMOTIONS)) -> Build:
    """A build folder (verified), or an in-memory build around a bare model file,
    whose outputs are `labels` (the runtimes hold the model to their count)."""
    path = Path(path)
    if path.is_dir() or path.name == "manifest.json":
        return Build.load(path)
    if not path.is_file():
        raise UserInputError(
            f"{path}: quantized model not found (give a build folder or a model file)"
        )
    fmt = format_for_suffix(path.suffix)
    if fmt is None:
        suffixes = [row.suffix for row in FORMATS.values() if row.targets]
        raise UserInputError(
            f"{path}: unknown model format; expected a build folder or one of {', '.join(suffixes)}"
        )
    files = {"model": file_entry(path.parent, path.name)}
    for role, suffix in fmt.companions.items():
        companion = path.with_suffix(suffix)
        if not companion.is_file():
            raise UserInputError(
                f"{companion}: {fmt.name} {role} file not found next to {path.name}"
            )
        files[role] = file_entry(path.parent, companion.name)
    manifest = Manifest(
        format=fmt.name,
        precision="unknown",
        labels=labels,
        runtime=RuntimeEntry(fmt.runtime),
        files=files,
    )
    return Build(path.parent, manifest)


def _check_same_model(float_ref: str | Path, build) -> None:
    """The build must come from this float model: against another one, the "drop"
    measures two different models (zoo:mobilenet_v2 against a mini_xception build
    read as a 0.00-point drop)."""
    from emoedge.models.zoo import resolve_model_path
    from emoedge.targets.manifest import sha256_file

    made_from = build.manifest.model
    if made_from is None or not made_from.sha256:
        return  # a build from before the manifest recorded its model
    if sha256_file(resolve_model_path(float_ref)) != made_from.sha256:
        raise UserInputError(
            f"{build.root} was exported from {made_from.source} "
            f"(sha256 {made_from.sha256[:12]}), not from {float_ref}: compare it with "
            "the model it was made from"
        )


def compare_models(
    float_ref: str | Path,
    quantized: str | Path,
    data: str | Path,
    split: str = "test",
    protocol: str = "majority",
    limit: int | None = None,
    out: str | Path | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Accuracy of both models, drop in points, agreement, per-class recall deltas.

    Writes `report.json` and `confusion.png` (the two matrices side by side) into
    `out` when given and returns the report.
    """
    from emoedge.data.ferplus import load_ferplus
    from emoedge.evaluation import (
        classification_report,
        keras_predictor,
        predict_all,
        save_confusion_png,
        write_json,
    )
    from emoedge.models.zoo import load_keras_model, model_preprocess_spec
    from emoedge.targets.runtimes import load_runtime

    build = quantized_build(quantized)  # check the cheap things before loading TensorFlow
    _check_same_model(float_ref, build)
    model_preprocess_spec(float_ref)
    faces = load_ferplus(data, split, protocol).limit(limit)
    model = load_keras_model(float_ref)
    spec = model_preprocess_spec(float_ref, model)
    recorded = build.manifest.preprocess  # None for a bare model file
    if recorded is not None and recorded != spec:
        log.warning(
            "build preprocessing %s differs from the float model's %s; using the build's",
            build.preprocess,
            spec,
        )
    inputs = faces.to_inputs(spec)
    runtime = load_runtime(build, threads=threads)
    quant_inputs = faces.to_inputs(recorded) if recorded is not None else inputs

    float_probs = predict_all(keras_predictor(model), inputs)
    quant_probs = predict_all(runtime.predict, quant_inputs)
    float_pred, quant_pred = float_probs.argmax(1), quant_probs.argmax(1)
    float_report = classification_report(faces.labels, float_pred, EMOTIONS)
    quant_report = classification_report(faces.labels, quant_pred, EMOTIONS)

    report: dict[str, Any] = {
        "data": {"root": str(data), "split": split, "protocol": protocol, "images": len(faces)},
        "float": {"model": str(float_ref), **float_report},
        "quantized": {
            "model": str(quantized),
            "format": build.manifest.format,
            "precision": build.manifest.precision,
            "runtime": runtime.describe(),
            **quant_report,
        },
        "drop_points": round((float_report["accuracy"] - quant_report["accuracy"]) * 100, 3),
        "agreement": float((float_pred == quant_pred).mean()),
        "per_class": {
            name: {
                "float_recall": float_report["per_class"][name]["recall"],
                "quantized_recall": quant_report["per_class"][name]["recall"],
                "recall_delta_points": round(
                    (
                        quant_report["per_class"][name]["recall"]
                        - float_report["per_class"][name]["recall"]
                    )
                    * 100,
                    3,
                ),
                "support": float_report["per_class"][name]["support"],
            }
            for name in EMOTIONS
        },
    }
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        png = save_confusion_png(
            [
                ("float (Keras)", float_report),
                (
                    f"{report['quantized']['format']} {report['quantized']['precision']} ({runtime.name})",
                    quant_report,
                ),
            ],
            out / "confusion.png",
        )
        report["outputs"] = {"json": str(out / "report.json"), "png": str(png)}
        write_json(out / "report.json", report)
    return report


def default_report_dir(quantized: str | Path, split: str) -> Path:
    """Next to the build (never inside it: a build's files are checksummed)."""
    path = Path(quantized)
    if path.name == "manifest.json":
        path = path.parent
    base = path if path.is_dir() else path.with_suffix("")
    return base.parent / f"{base.name}.compare-{split}"
