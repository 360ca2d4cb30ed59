"""The build folder's manifest: files it names must lie inside the folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emoedge.errors import ManifestError
from emoedge.targets.manifest import SCHEMA, Build, file_entry


def _build(root: Path, files: dict) -> Path:
    root.mkdir()
    (root / "model.tflite").write_bytes(b"model")
    manifest = {
        "schema": SCHEMA,
        "labels": ["neutral"],
        "preprocess": {},
        "input": {},
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
    entry = {**file_entry(tmp_path, "secret.txt"), "path": relative}
    root = _build(tmp_path / "build", {"model": entry})
    for verify in (True, False):
        with pytest.raises(ManifestError, match="not inside the build folder"):
            Build.load(root, verify=verify)


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.txt").write_text("x")
    root = _build(tmp_path / "build", {})
    (root / "link.tflite").symlink_to(tmp_path / "secret.txt")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"] = {"model": file_entry(root, "link.tflite")}
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ManifestError, match="not inside the build folder"):
        Build.load(root)


def test_files_inside_the_folder_still_load(tmp_path):
    root = tmp_path / "build"
    _build(root, {})
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["files"] = {"model": file_entry(root, "model.tflite")}
    (root / "manifest.json").write_text(json.dumps(manifest))
    build = Build.load(root)
    assert build.path("model") == root / "model.tflite"
