"""The build folder's manifest: parsed into its types, refused with the field named when
wrong, written back byte for byte, and the files it names must lie inside the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emoedge.errors import ManifestError
from emoedge.targets.manifest import SCHEMA, Build, Manifest, file_entry, write_manifest


def _build(root: Path, files: dict) -> Path:
    root.mkdir()
    (root / "model.tflite").write_bytes(b"model")
    manifest = {
        "schema": SCHEMA,
        "labels": ["neutral"],
        "preprocess": {},
        "input": {"shape": [None, 64, 64, 1], "dtype": "int8"},
        "runtime": {"name": "litert"},
        "format": "tflite",
        "precision": "int8",
        "files": files,
    }
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.mark.parametrize("outside", ["../secret.txt", "sub/../../secret.txt", "ABSOLUTE"])
def test_a_manifest_naming_a_file_outside_its_folder_is_refused(tmp_path, outside):
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of any build")
    relative = str(secret) if outside == "ABSOLUTE" else outside
    entry = {**file_entry(tmp_path, "secret.txt").to_dict(), "path": relative}
    root = _build(tmp_path / "build", {"model": entry})
    for verify in (True, False):
        with pytest.raises(ManifestError, match="not inside the build folder"):
            Build.load(root, verify=verify)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("x")
    root = _build(tmp_path / "build", {})
    (root / "link.tflite").symlink_to(tmp_path / "secret.txt")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"] = {"model": file_entry(root, "link.tflite").to_dict()}
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="not inside the build folder"):
        Build.load(root)


def test_files_inside_the_folder_still_load(tmp_path):
    root = tmp_path / "build"
    _build(root, {})
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"] = {"model": file_entry(root, "model.tflite").to_dict()}
    (root / "manifest.json").write_text(json.dumps(manifest))
    build = Build.load(root)
    assert build.path("model") == root / "model.tflite"


def _as_exported(measured: bool) -> dict:
    """A manifest with every record `emoedge export` writes, in its order: accuracy
    measured on FER+ valid, or (without FER+) skipped with the parity check instead."""
    accuracy = {
        "sample": "FER+ valid, majority protocol, all images" if measured else None,
        "images": 3191 if measured else 0,
        "float": 0.8125 if measured else None,
        "quantized": 0.8031 if measured else None,
        "drop_points": 0.94 if measured else None,
        "agreement": 0.97 if measured else None,
        "max_drop": 1.0,
        "override": {"allow_drop": 2.0, "reason": "given but not needed"} if measured else None,
    }
    if measured:
        accuracy["max_abs_probability_diff"] = 0.25
    else:
        accuracy["skipped"] = "not measured: no dataset given (--data)"
        accuracy["parity"] = {
            "sample": "emoedge FER+ sample",
            "images": 64,
            "agreement": 0.953125,
            "max_abs_probability_diff": 0.0597,
        }
    return {
        "schema": SCHEMA,
        "created": "2026-12-03T12:17:30+00:00",
        "target": "x86",
        "device": "x86-64 CPU: OpenVINO IR int8",
        "format": "openvino",
        "precision": "int8",
        "model": {
            "name": "mini_xception",
            "source": "zoo:mini_xception",
            "file": "mini_xception.keras",
            "sha256": "89" * 32,
            "parameters": 59576,
        },
        "labels": ["neutral", "happiness"],
        "preprocess": {
            "height": 48,
            "width": 48,
            "channels": 1,
            "scale": "symmetric",
            "margin": 0.07,
            "shift": 0.09,
        },
        "input": {
            "shape": [None, 48, 48, 1],
            "layout": "NHWC",
            "dtype": "float32",
            "scale": None,
            "zero_point": None,
        },
        "output": {"shape": [None, 8], "kind": "probabilities"},
        "quantization": {"converter": "openvino", "calibration": {"images": 128, "source": "x"}},
        "runtime": {
            "name": "openvino",
            "threads": 1,
            "options": {"inference_precision_hint": "f32"},
        },
        "detector": {"name": "blazeface", "file": "detector", "options": {}},
        "files": {
            "model": {"path": "model.xml", "bytes": 10, "sha256": "a" * 64},
            "weights": {"path": "model.bin", "bytes": 20, "sha256": "b" * 64},
        },
        "sizes": {
            "float_keras_bytes": 420785,
            "float32_weights_bytes": 238304,
            "model_bytes": 105600,
            "ratio_to_float_keras": 0.251,
            "ratio_to_float32_weights": 0.4431,
        },
        "accuracy": accuracy,
        "tools": {"emoedge": "0.1.0", "numpy": "2.3.0"},
        "install": "pip install 'emoedge[x86]'",
    }


@pytest.mark.parametrize("measured", [True, False])
def test_a_manifest_reads_and_writes_back_to_the_same_bytes(tmp_path, measured):
    text = json.dumps(_as_exported(measured), indent=2) + "\n"  # as the export writes it
    manifest = Manifest.from_dict(json.loads(text))
    assert manifest.runtime.options == {"inference_precision_hint": "f32"}
    assert manifest.files["weights"].bytes == 20 and manifest.input.shape == (None, 48, 48, 1)
    assert (manifest.accuracy.parity is None) == measured
    assert (write_manifest(tmp_path, manifest)).read_text() == text


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        (("runtime",), "'runtime'"),
        (("runtime", "name"), "'runtime.name'"),
        (("files", "model", "sha256"), "'files.model.sha256'"),
        (("input", "dtype"), "'input.dtype'"),
        (("accuracy", "parity", "images"), "'accuracy.parity.images'"),
    ],
)
def test_a_missing_field_is_refused_by_name(tmp_path, remove, named):
    data = _as_exported(measured=False)
    *parents, key = remove
    record = data
    for parent in parents:
        record = record[parent]
    del record[key]
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=f"manifest.json: missing key {named}"):
        Build.load(tmp_path, verify=False)


def test_a_field_of_the_wrong_type_is_refused_by_name():
    data = _as_exported(measured=True)
    data["runtime"]["threads"] = "4"
    with pytest.raises(ManifestError, match=r"'runtime\.threads' is \"4\", expected an integer"):
        Manifest.from_dict(data)
    data = _as_exported(measured=True)
    data["preprocess"]["channels"] = 2
    with pytest.raises(ManifestError, match=r"'preprocess' is not valid .*channels"):
        Manifest.from_dict(data)


@pytest.mark.parametrize("schema", ["emoedge.build/2", None])
def test_an_unknown_schema_is_refused(tmp_path, schema):
    data = {**_as_exported(measured=True), "schema": schema}
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ManifestError, match=f"schema {schema!r}, expected 'emoedge.build/1'"):
        Build.load(tmp_path, verify=False)
