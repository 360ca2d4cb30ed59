"""A build folder and its manifest: what an export writes and every runner reads back.

The manifest is the contract between host and device: labels, preprocessing,
input shape and dtype, quantization, runtime settings, detector, checksums and
the accuracy measured at export. Runners trust nothing else, and refuse a build
whose files do not match their checksums. The contract is the device's, so it
lives on the device side; the host's export writes it through `write_manifest`
and `file_entry` here, the one place it is read and written.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from emoedge.data.preprocess import PreprocessSpec
from emoedge.errors import ManifestError

SCHEMA = "emoedge.build/1"
MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_entry(root: Path, relative: str) -> dict[str, Any]:
    """The manifest record of one build file: relative path, size and sha256."""
    path = root / relative
    return {"path": relative, "bytes": path.stat().st_size, "sha256": sha256_file(path)}


@dataclass
class Build:
    """A build folder with its parsed manifest.

    `files` maps a role ("model", "detector", "weights" for OpenVINO's .bin, ...)
    to its manifest entry.
    """

    root: Path
    manifest: dict[str, Any]

    @classmethod
    def load(cls, path: str | Path, verify: bool = True) -> Build:
        root = Path(path)
        if root.is_file() and root.name == MANIFEST_NAME:
            root = root.parent
        manifest_path = root / MANIFEST_NAME
        if not root.is_dir():
            raise ManifestError(f"{root}: build folder not found")
        if not manifest_path.is_file():
            raise ManifestError(f"{root}: no {MANIFEST_NAME}; is this an emoedge build?")
        try:
            manifest = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{manifest_path}: not valid JSON ({exc})") from exc
        if not isinstance(manifest, dict) or manifest.get("schema") != SCHEMA:
            found = manifest.get("schema") if isinstance(manifest, dict) else None
            raise ManifestError(f"{manifest_path}: schema {found!r}, expected {SCHEMA!r}")
        for key in ("labels", "preprocess", "input", "runtime", "files", "format", "precision"):
            if key not in manifest:
                raise ManifestError(f"{manifest_path}: missing key {key!r}")
        build = cls(root, manifest)
        for role in build.files:
            build.path(role)  # a manifest naming files outside its folder is refused at once
        if verify:
            build.verify()
        return build

    def verify(self) -> None:
        """Check every listed file exists with its recorded size and sha256."""
        for role in self.files:
            path = self.path(role)
            entry = self.files[role]
            if not path.is_file():
                raise ManifestError(f"{path}: {role} file listed in the manifest is missing")
            if path.stat().st_size != entry["bytes"] or sha256_file(path) != entry["sha256"]:
                raise ManifestError(
                    f"{path}: checksum does not match the manifest (file changed or truncated)"
                )

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.manifest["files"]

    def path(self, role: str) -> Path:
        """The file of `role`, which must lie inside the build folder.

        A manifest is data that travels between machines: one naming `../x` or
        `/etc/x` would have a runner read (and hash) files the build never held.
        """
        try:
            relative = self.files[role]["path"]
        except (KeyError, TypeError):
            raise ManifestError(f"{self.root}: the manifest lists no {role!r} file") from None
        root = self.root.resolve()
        inside = (
            isinstance(relative, str)
            and not Path(relative).is_absolute()
            and (root / relative).resolve().is_relative_to(root)
        )
        if not inside:
            raise ManifestError(
                f"{self.root / MANIFEST_NAME}: {role} file {relative!r} is not inside the build folder"
            )
        return self.root / relative

    @property
    def labels(self) -> list[str]:
        return list(self.manifest["labels"])

    @property
    def preprocess(self) -> PreprocessSpec:
        return PreprocessSpec.from_dict(self.manifest["preprocess"])

    @property
    def runtime(self) -> dict[str, Any]:
        return self.manifest["runtime"]

    @property
    def detector(self) -> dict[str, Any] | None:
        return self.manifest.get("detector")

    @property
    def target(self) -> str | None:
        return self.manifest.get("target")


def write_manifest(root: Path, manifest: dict[str, Any]) -> Path:
    manifest = {"schema": SCHEMA, **manifest}
    path = root / MANIFEST_NAME
    path.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return path
