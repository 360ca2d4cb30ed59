"""A build folder and its manifest: what an export writes and every runner reads back.

The manifest is the contract between host and device: labels, preprocessing,
input shape and dtype, quantization, runtime settings, detector, checksums and
the accuracy measured at export. Runners trust nothing else, and refuse a build
whose files do not match their checksums. The contract is the device's, so it
lives on the device side, typed here (`Manifest` and its records): the host's
export builds a `Manifest` and writes it through `write_manifest`, and
`Manifest.from_dict` / `to_dict` are the one place its JSON is read and written.
Parsing names the field that is missing or of the wrong type; writing gives the
same bytes as the export always wrote (key order included), so builds from
before the types read back, and write back, unchanged.

Fields the writer always writes are required or default as old builds expect;
records an older build may lack (`model`, `sizes`, `accuracy`, ...) read as None
and are left out when written. `quantization` stays the quantizer's own record
(its keys differ per format), a plain mapping.

Stdlib dataclasses and a small reader (`_Fields`) rather than pydantic or msgspec:
a device installs numpy, OpenCV and its runtime only (pydantic comes with the daemon
extra), and the contract must load on every device.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from emoedge.data.preprocess import PreprocessSpec
from emoedge.errors import ManifestError, UserInputError

SCHEMA = "emoedge.build/1"
MANIFEST_NAME = "manifest.json"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_KINDS: dict[str, tuple[type, ...]] = {
    "a string": (str,),
    "an integer": (int,),
    "a number": (int, float),
    "a list": (list,),
    "an object": (dict,),
}


class _Fields:
    """One JSON object of a manifest, read field by field: a missing or mistyped
    field is refused with its dotted name ("runtime.name") and the manifest's path."""

    def __init__(self, data: Any, source: str, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ManifestError(f"{source}: {prefix.rstrip('.') or 'manifest'} is not an object")
        self.data, self.source, self.prefix = data, source, prefix

    def need(self, key: str, kind: str) -> Any:
        if key not in self.data:
            raise ManifestError(f"{self.source}: missing key {self.prefix + key!r}")
        return self._typed(key, kind)

    def get(self, key: str, kind: str) -> Any:
        """The field, or None where it is absent or null."""
        return None if self.data.get(key) is None else self._typed(key, kind)

    def record(self, key: str, required: bool = False) -> _Fields | None:
        """The nested object `key` (None where absent and not required)."""
        value = self.need(key, "an object") if required else self.get(key, "an object")
        return None if value is None else _Fields(value, self.source, f"{self.prefix}{key}.")

    def _typed(self, key: str, kind: str) -> Any:
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, _KINDS[kind]):
            raise ManifestError(
                f"{self.source}: {self.prefix + key!r} is {json.dumps(value)[:40]}, expected {kind}"
            )
        return value


#: a flat record's field annotation -> what its JSON value must be
_ANNOTATION_KINDS = {"str": "a string", "int": "an integer", "float": "a number"}


class _FlatRecord:
    """A record of plain fields whose JSON keys are its dataclass fields in order,
    read with each field's kind from its annotation (`str`, `int`, `float`; `X |
    None` is optional). Records whose keys or values differ from their fields
    (shapes as tuples, renamed keys, nested records) have a reader of their own."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def _read(cls, f: _Fields) -> Any:
        values = []
        for item in fields(cls):  # type: ignore[arg-type]
            annotation = str(item.type)
            optional = annotation.endswith(" | None")
            kind = _ANNOTATION_KINDS[annotation.removesuffix(" | None")]
            values.append(f.get(item.name, kind) if optional else f.need(item.name, kind))
        return cls(*values)


def _without_none(record: dict[str, Any], *optional: str) -> dict[str, Any]:
    """`record` less the `optional` keys that are None: left out, not written as null."""
    return {k: v for k, v in record.items() if k not in optional or v is not None}


@dataclass(frozen=True)
class FileEntry(_FlatRecord):
    """One build file: its path inside the folder, size and sha256."""

    path: str
    bytes: int
    sha256: str


def file_entry(root: Path, relative: str) -> FileEntry:
    """The manifest record of one build file, measured on disk."""
    path = root / relative
    return FileEntry(relative, path.stat().st_size, sha256_file(path))


@dataclass(frozen=True)
class ModelOrigin(_FlatRecord):
    """The float model a build was made from (`file`: its name; a host path means
    nothing on a device)."""

    name: str
    source: str
    file: str | None = None
    sha256: str | None = None
    parameters: int | None = None

    def to_dict(self) -> dict[str, Any]:
        record = {
            "name": self.name,
            "source": self.source,
            "file": self.file,
            "sha256": self.sha256,
            "parameters": self.parameters,
        }
        return _without_none(record, "file", "sha256", "parameters")


@dataclass(frozen=True)
class ModelInput:
    """The model's input tensor: shape (batch None), layout, dtype, and for an int8
    input its quantization (`rounding`: how emoedge rounds, for a runner of one's own)."""

    shape: tuple[int | None, ...]
    dtype: str
    layout: str = "NHWC"
    scale: float | None = None
    zero_point: int | None = None
    rounding: str | None = None

    def to_dict(self) -> dict[str, Any]:
        record = {
            "shape": list(self.shape),
            "layout": self.layout,
            "dtype": self.dtype,
            "scale": self.scale,
            "zero_point": self.zero_point,
            "rounding": self.rounding,
        }
        return _without_none(record, "rounding")

    @classmethod
    def _read(cls, f: _Fields) -> ModelInput:
        return cls(
            tuple(f.need("shape", "a list")),
            f.need("dtype", "a string"),
            f.get("layout", "a string") or "NHWC",
            f.get("scale", "a number"),
            f.get("zero_point", "an integer"),
            f.get("rounding", "a string"),
        )


@dataclass(frozen=True)
class ModelOutput:
    shape: tuple[int | None, ...]
    kind: str

    def to_dict(self) -> dict[str, Any]:
        return {"shape": list(self.shape), "kind": self.kind}

    @classmethod
    def _read(cls, f: _Fields) -> ModelOutput:
        return cls(tuple(f.need("shape", "a list")), f.need("kind", "a string"))


@dataclass(frozen=True)
class RuntimeEntry:
    """The runtime that runs the model, its classifier threads (0: all cores) and
    options (ONNX Runtime's providers, OpenVINO's precision hint)."""

    name: str
    threads: int = 0
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "threads": self.threads, "options": dict(self.options)}

    @classmethod
    def _read(cls, f: _Fields) -> RuntimeEntry:
        return cls(
            f.need("name", "a string"),
            f.get("threads", "an integer") or 0,
            dict(f.get("options", "an object") or {}),
        )


@dataclass(frozen=True)
class DetectorEntry:
    """The face detector; `file` is the role of its model in `files` (None: the
    build carries none, the device's own is used)."""

    name: str
    file: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "options": dict(self.options)}

    @classmethod
    def _read(cls, f: _Fields) -> DetectorEntry:
        return cls(
            f.need("name", "a string"),
            f.get("file", "a string"),
            dict(f.get("options", "an object") or {}),
        )


@dataclass(frozen=True)
class Sizes(_FlatRecord):
    """The model's bytes against the float model's (the .keras file, and 4 bytes a weight)."""

    float_keras_bytes: int
    float32_weights_bytes: int
    model_bytes: int
    ratio_to_float_keras: float
    ratio_to_float32_weights: float


@dataclass(frozen=True)
class ParityCheck(_FlatRecord):
    """Without FER+: how often the built model agrees with the float one on the
    shipped sample's faces."""

    sample: str
    images: int
    agreement: float
    max_abs_probability_diff: float


@dataclass(frozen=True)
class Accuracy:
    """The export's parity gate: float and built model on FER+ valid (`float_accuracy`,
    `quantized_accuracy`, written "float" and "quantized"); without FER+ those are
    None, `skipped` says why and `parity` holds the agreement measured instead.
    `override` is --allow-drop's record."""

    sample: str | None = None
    images: int = 0
    float_accuracy: float | None = None
    quantized_accuracy: float | None = None
    drop_points: float | None = None
    agreement: float | None = None
    max_drop: float | None = None
    override: dict[str, Any] | None = None
    max_abs_probability_diff: float | None = None
    skipped: str | None = None
    parity: ParityCheck | None = None

    def to_dict(self) -> dict[str, Any]:
        record = {
            "sample": self.sample,
            "images": self.images,
            "float": self.float_accuracy,
            "quantized": self.quantized_accuracy,
            "drop_points": self.drop_points,
            "agreement": self.agreement,
            "max_drop": self.max_drop,
            "override": None if self.override is None else dict(self.override),
            "max_abs_probability_diff": self.max_abs_probability_diff,
            "skipped": self.skipped,
            "parity": None if self.parity is None else self.parity.to_dict(),
        }
        return _without_none(record, "max_abs_probability_diff", "skipped", "parity")

    @classmethod
    def _read(cls, f: _Fields) -> Accuracy:
        parity = f.record("parity")
        override = f.get("override", "an object")
        return cls(
            f.get("sample", "a string"),
            f.get("images", "an integer") or 0,
            f.get("float", "a number"),
            f.get("quantized", "a number"),
            f.get("drop_points", "a number"),
            f.get("agreement", "a number"),
            f.get("max_drop", "a number"),
            None if override is None else dict(override),
            f.get("max_abs_probability_diff", "a number"),
            f.get("skipped", "a string"),
            None if parity is None else ParityCheck._read(parity),
        )


@dataclass(frozen=True)
class Manifest:
    """A build's manifest.json, schema `SCHEMA`. A runner needs `format`,
    `precision`, `labels`, `runtime` and `files`, and from a build folder also
    `preprocess` and `input` (`from_dict` requires them; an in-memory build around a
    bare model file, as `emoedge compare` makes, has neither)."""

    format: str
    precision: str
    labels: tuple[str, ...]
    runtime: RuntimeEntry
    files: dict[str, FileEntry]
    preprocess: PreprocessSpec | None = None
    input: ModelInput | None = None
    created: str | None = None  # ISO 8601, UTC
    target: str | None = None
    device: str | None = None
    model: ModelOrigin | None = None
    output: ModelOutput | None = None
    quantization: dict[str, Any] | None = None  # the quantizer's record (per format)
    detector: DetectorEntry | None = None
    sizes: Sizes | None = None
    accuracy: Accuracy | None = None
    tools: dict[str, str] | None = None  # distribution -> version at export
    install: str | None = None  # what the device installs

    @property
    def calibration(self) -> dict[str, Any] | None:
        """The int8 calibration set's record (images, source, ...), None for float builds."""
        return (self.quantization or {}).get("calibration") or None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object, keys in the order the export has always written them."""

        def plain(value: Any) -> Any:
            return value.to_dict() if hasattr(value, "to_dict") else value

        record = {
            "schema": SCHEMA,
            "created": self.created,
            "target": self.target,
            "device": self.device,
            "format": self.format,
            "precision": self.precision,
            "model": plain(self.model),
            "labels": list(self.labels),
            "preprocess": plain(self.preprocess),
            "input": plain(self.input),
            "output": plain(self.output),
            "quantization": None if self.quantization is None else dict(self.quantization),
            "runtime": self.runtime.to_dict(),
            "detector": plain(self.detector),
            "files": {role: entry.to_dict() for role, entry in self.files.items()},
            "sizes": plain(self.sizes),
            "accuracy": plain(self.accuracy),
            "tools": None if self.tools is None else dict(self.tools),
            "install": self.install,
        }
        return {key: value for key, value in record.items() if value is not None}

    @classmethod
    def from_dict(cls, data: Any, source: str = MANIFEST_NAME) -> Manifest:
        """Parse and check a manifest's JSON object; `source` names it in errors."""
        found = data.get("schema") if isinstance(data, dict) else None
        if found != SCHEMA:
            raise ManifestError(f"{source}: schema {found!r}, expected {SCHEMA!r}")
        f = _Fields(data, source)
        labels = f.need("labels", "a list")
        if not all(isinstance(label, str) for label in labels):
            raise ManifestError(f"{source}: 'labels' must be a list of strings")
        try:
            preprocess = PreprocessSpec.from_dict(f.need("preprocess", "an object"))
        except (UserInputError, TypeError) as exc:
            raise ManifestError(f"{source}: 'preprocess' is not valid ({exc})") from None
        model_input = ModelInput._read(f.record("input", required=True))
        runtime = RuntimeEntry._read(f.record("runtime", required=True))
        files_record = f.record("files", required=True)
        files = {
            role: FileEntry._read(files_record.record(role, required=True))
            for role in files_record.data
        }

        def optional(key: str, kind: type) -> Any:
            record = f.record(key)
            return None if record is None else kind._read(record)

        quantization = f.get("quantization", "an object")
        tools = f.get("tools", "an object")
        return cls(
            format=f.need("format", "a string"),
            precision=f.need("precision", "a string"),
            labels=tuple(labels),
            runtime=runtime,
            files=files,
            preprocess=preprocess,
            input=model_input,
            created=f.get("created", "a string"),
            target=f.get("target", "a string"),
            device=f.get("device", "a string"),
            model=optional("model", ModelOrigin),
            output=optional("output", ModelOutput),
            quantization=None if quantization is None else dict(quantization),
            detector=optional("detector", DetectorEntry),
            sizes=optional("sizes", Sizes),
            accuracy=optional("accuracy", Accuracy),
            tools=None if tools is None else dict(tools),
            install=f.get("install", "a string"),
        )


@dataclass
class Build:
    """A build folder with its parsed manifest.

    `files` maps a role ("model", "detector", "weights" for OpenVINO's .bin, ...)
    to its `FileEntry`; `labels`, `preprocess`, `runtime`, `detector` and `target`
    are the manifest's, for the runners that read nothing else.
    """

    root: Path
    manifest: Manifest

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
            data = json.loads(manifest_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ManifestError(f"{manifest_path}: not valid JSON ({exc})") from exc
        build = cls(root, Manifest.from_dict(data, source=str(manifest_path)))
        for role in build.files:
            build.path(role)  # a manifest naming files outside its folder is refused at once
        if verify:
            build.verify()
        return build

    def verify(self) -> None:
        """Check every listed file exists with its recorded size and sha256."""
        for role, entry in self.files.items():
            path = self.path(role)
            if not path.is_file():
                raise ManifestError(f"{path}: {role} file listed in the manifest is missing")
            if path.stat().st_size != entry.bytes or sha256_file(path) != entry.sha256:
                raise ManifestError(
                    f"{path}: checksum does not match the manifest (file changed or truncated)"
                )

    @property
    def files(self) -> dict[str, FileEntry]:
        return self.manifest.files

    def path(self, role: str) -> Path:
        """The file of `role`, which must lie inside the build folder.

        A manifest is data that travels between machines: one naming `../x` or
        `/etc/x` would have a runner read (and hash) files the build never held.
        """
        if role not in self.files:
            raise ManifestError(f"{self.root}: the manifest lists no {role!r} file")
        relative = self.files[role].path
        root = self.root.resolve()
        inside = not Path(relative).is_absolute() and (root / relative).resolve().is_relative_to(
            root
        )
        if not inside:
            raise ManifestError(
                f"{self.root / MANIFEST_NAME}: {role} file {relative!r} is not inside the build folder"
            )
        return self.root / relative

    @property
    def labels(self) -> list[str]:
        return list(self.manifest.labels)

    @property
    def preprocess(self) -> PreprocessSpec:
        if self.manifest.preprocess is None:
            raise ManifestError(f"{self.root}: the build records no preprocessing")
        return self.manifest.preprocess

    @property
    def runtime(self) -> RuntimeEntry:
        return self.manifest.runtime

    @property
    def detector(self) -> DetectorEntry | None:
        return self.manifest.detector

    @property
    def target(self) -> str | None:
        return self.manifest.target


def write_manifest(root: Path, manifest: Manifest) -> Path:
    path = root / MANIFEST_NAME
    path.write_text(json.dumps(manifest.to_dict(), indent=2, sort_keys=False) + "\n")
    return path
