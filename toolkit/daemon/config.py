"""The daemon's TOML config, validated in full by pydantic before anything starts.

A service that runs for months must fail at start, with every mistake named,
not an hour later when the first MQTT message goes out. Each TOML table is a
frozen pydantic model that forbids unknown keys (a typo must not silently fall
back to a default; the error suggests the key it was probably meant to be),
checks types strictly (TOML already has them: `preview = 1` is a mistake, not
`true`) and ranges. The models are the one place where a key, its default, its
range and its meaning are stated (the `[pipeline]` keys besides `build` are made
from the pipeline's own `PipelineConfig`, which `emoedge run`'s options read too):
`emoedge daemon schema` prints them as JSON schema, `emoedge daemon check
--example` as the commented example config.

Relative paths are resolved against the config file's folder (passed to the
validators as pydantic's validation context), so a unit file can point at
`/etc/emoedge/daemon.toml` and the config can say `build = "build"`.
`ConfigError` carries every problem, one line each, never a traceback.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import socket
import textwrap
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from emoedge.daemon.redact import redact
from emoedge.errors import UserInputError
from emoedge.targets import pipeline_config  # numpy only: the pipeline's settings

PRIVACY_MODES = ("full", "aggregates")


class ConfigError(UserInputError):
    """A daemon config that cannot be used; the message lists every problem found."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; a bind address anywhere else is exposed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- validation helpers ----------------------------------------------------------------
def _base(info: ValidationInfo) -> Path | None:
    """The config file's folder, or None when a model is built in code (tests)."""
    return (info.context or {}).get("base")


def _check_files(info: ValidationInfo) -> bool:
    return bool((info.context or {}).get("check_files"))


def _resolve(base: Path | None, value: str | Path) -> Path:
    path = Path(os.path.expanduser(str(value)))
    return path if path.is_absolute() or base is None else (base / path)


def _path_or_none(value: Any, info: ValidationInfo) -> Any:
    """ "" means "not set"; a string is a path relative to the config's folder."""
    if value is None or value == "":
        return None
    if isinstance(value, (str, Path)):
        return _resolve(_base(info), value)
    return value  # the strict Path check reports it


def _required_path(value: Any, info: ValidationInfo, what: str) -> Any:
    """A path that must be set: here "" is a mistake to name, not "not set"."""
    if value == "":
        raise ValueError(f"must name {what}")
    return _path_or_none(value, info)


def _blank_is_none(value: Any) -> Any:
    return None if value == "" else value


def _secret(data: Any, key: str, info: ValidationInfo) -> Any:
    """A secret inline (`key`) or in a file (`key_file`), never both; the file is read here."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    inline, file_name = data.get(key) or None, data.get(f"{key}_file") or None
    if inline and file_name:
        raise ValueError(f"give {key} or {key}_file, not both")
    if isinstance(file_name, str):
        path = _resolve(_base(info), file_name)
        try:
            value = path.read_text().strip()
        except OSError as exc:
            raise ValueError(f"{key}_file: cannot read {path} ({exc.strerror})") from None
        if not value:
            raise ValueError(f"{key}_file: {path} is empty")
        data[key] = value
    return data


def _tls_file_exists(value: Path | None, info: ValidationInfo) -> Path | None:
    if value is not None and _check_files(info) and not value.is_file():
        raise ValueError(f"{value} not found")
    return value


#: A path relative to the config's folder; "" = not set.
OptionalPath = Annotated[Path | None, BeforeValidator(_path_or_none)]
#: A PEM file that must exist (when files are checked).
PemFile = Annotated[OptionalPath, AfterValidator(_tls_file_exists)]
#: A string where "" means "not set".
OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none)]


class _Section(BaseModel):
    """A TOML table: unknown keys refused, TOML's own types required, frozen once read."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


def _example(value: Any) -> dict[str, Any]:
    """What the example config shows for a key instead of its default."""
    return {"json_schema_extra": {"example": value}}


# -- the sections ----------------------------------------------------------------------
class _PipelineTable(_Section):
    """The build; `PipelineConfig` adds the pipeline's own settings to it."""

    build: Path = Field(
        description="the folder `emoedge export --target rpi` writes",
        **_example("builds/mobilenet_v2-rpi-int8"),
    )

    @field_validator("build", mode="before")
    @classmethod
    def _build_path(cls, value: Any, info: ValidationInfo) -> Any:
        return _required_path(value, info, "the build folder")

    @field_validator("build")
    @classmethod
    def _is_a_build(cls, value: Path, info: ValidationInfo) -> Path:
        if _check_files(info) and not (value / "manifest.json").is_file():
            raise ValueError(f"{value} is not an emoedge build (no manifest.json)")
        return value

    def pipeline_config(self) -> pipeline_config.PipelineConfig:
        """The settings as `Pipeline.from_build` takes them."""
        return pipeline_config.PipelineConfig(**{key: getattr(self, key) for key in PIPELINE_KEYS})


#: The daemon's events follow tracks (a change is a track's label holding), so it
#: always tracks; every other setting of the pipeline is a `[pipeline]` key.
PIPELINE_KEYS = tuple(key for key in pipeline_config.SETTINGS if key != "tracking")


def _blank_in_schema(schema: dict[str, Any]) -> None:
    """TOML has no null: the schema of a number that may be unset admits "" too."""
    schema["anyOf"].append({"const": ""})


def _pipeline_field(setting: pipeline_config.Setting) -> tuple[Any, Any]:
    """One pipeline setting as a pydantic field: its type (its choices as a Literal, ""
    meaning "not set" where the default is None), default, range and doc."""
    annotation: Any = Literal[setting.choices] if setting.choices else setting.type  # type: ignore[valid-type]
    extra = None
    if setting.default is None:
        annotation = Annotated[annotation, BeforeValidator(_blank_is_none)]
        extra = None if str in get_args(setting.type) else _blank_in_schema
    return annotation, Field(
        setting.default,
        ge=setting.ge,
        le=setting.le,
        description=setting.doc,
        json_schema_extra=extra,
    )


def _tiles_need_blazeface(self: Any) -> Any:
    if self.detector_tiles > 1 and self.detector not in (None, "blazeface"):
        raise ValueError(f"detector_tiles is a blazeface option; detector is {self.detector!r}")
    return self


PipelineConfig = create_model(
    "PipelineConfig",
    __base__=_PipelineTable,
    __doc__="The build and how the pipeline runs it.",
    __module__=__name__,
    __validators__={"_tiles_need_blazeface": model_validator(mode="after")(_tiles_need_blazeface)},
    **{key: _pipeline_field(pipeline_config.SETTINGS[key]) for key in PIPELINE_KEYS},
)


def _looks_like_path(spec: str) -> bool:
    """Files and folders, not cameras (indexes, `camera`, picamera2, device nodes), URLs
    or GStreamer pipelines."""
    name = spec.partition(":")[0]
    return not (
        spec.isdigit()
        or name in ("camera", "picamera2")
        or "://" in spec
        or "!" in spec
        or spec.startswith("/dev/")
    )


class SourceConfig(_Section):
    """Where frames come from, and how faults are retried."""

    spec: str | int = Field(
        description="the build's target camera, as in `emoedge run --source camera` "
        "(picamera2 on rpi, CSI on jetson, V4L2 0 on x86); or a camera index (0), a device "
        "(/dev/video0), rtsp://user:pass@host/..., a video file or an image folder",
        **_example("camera"),
    )
    loop: bool = Field(False, description="loop a video file / folder (demos, tests)")
    realtime: bool | Literal["auto"] = Field(
        "auto",
        description="true: play files at their frame rate; false: as fast as the pipeline "
        'goes; "auto": cameras live, files fast',
    )
    retry_initial_s: float = Field(
        0.5, gt=0, description="first backoff after a fault, doubled up to..."
    )
    retry_max_s: float = Field(30.0, gt=0)
    stall_timeout_s: float = Field(
        10.0, gt=0, description="no frame for this long counts as a fault"
    )

    @field_validator("spec", mode="before")
    @classmethod
    def _spec(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise ValueError(f"must be a string or a camera index, got {value!r}")
        if isinstance(value, str) and not value:
            raise ValueError("must not be empty")
        device, colon, index = value.partition(":") if isinstance(value, str) else ("", "", "")
        if colon and device in ("camera", "picamera2") and not index.isdigit():
            # a typo the daemon would otherwise retry forever as an unavailable camera
            raise ValueError(f"{device}:N takes a camera number, got {value!r}")
        if isinstance(value, str) and _looks_like_path(value):
            return str(_resolve(_base(info), value))  # a file or folder, relative to the config
        return value

    @field_validator("realtime", mode="before")
    @classmethod
    def _realtime(cls, value: Any) -> Any:
        if not (isinstance(value, bool) or value == "auto"):
            raise ValueError(f'must be true, false or "auto", got {value!r}')
        return value

    @model_validator(mode="after")
    def _retry_order(self) -> SourceConfig:
        if self.retry_max_s < self.retry_initial_s:
            raise ValueError(
                f"retry_max_s ({self.retry_max_s}) is below retry_initial_s ({self.retry_initial_s})"
            )
        return self

    @property
    def pace(self) -> bool | None:
        """`realtime` as `open_source` takes it: None for "auto"."""
        return None if self.realtime == "auto" else self.realtime

    @property
    def shown(self) -> str:
        """The spec as it may be shown and logged: a URL's password redacted."""
        return redact(str(self.spec))


def _parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port_text = bind.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        raise ValueError(f"must be HOST:PORT (e.g. 127.0.0.1:8080), got {bind!r}")
    return host.strip("[]"), int(port_text)  # [::1]:8080


class HttpConfig(_Section):
    """The HTTP API: where, who may use it, how much of the device it may take."""

    bind: str = Field("127.0.0.1:8080", description="beyond loopback a token is required")
    token: OptionalText = Field(
        None, repr=False, description='or token_file = "/etc/emoedge/token"'
    )
    token_file: OptionalPath = Field(None, description="a file holding the token")
    preview: bool = Field(False, description="annotated MJPEG at /v1/preview.mjpeg")
    max_requests_per_s: float = Field(
        200.0,
        ge=0,
        description="the API's budget: more requests wait their turn (0 = no limit); it caps "
        "what clients take from the pipeline",
    )
    max_client_requests_per_s: float = Field(
        50.0, ge=0, description="one client address's share of it (0 = no share)"
    )
    allowed_hosts: tuple[str, ...] = Field(
        (),
        description="Host names served besides loopback, this machine's name and its "
        'addresses (DNS-rebinding guard); ["*"] = any',
    )
    max_connections: int = Field(
        64, ge=4, le=10_000, description="open connections; more are closed at once"
    )
    max_streams: int = Field(8, ge=0, le=1000, description="SSE and MJPEG clients together")
    request_timeout_s: float = Field(
        10.0, gt=0, description="a connection must send a whole request head this fast"
    )
    tls_cert_file: PemFile = Field(
        None, description="HTTPS with this certificate (PEM, chain included) ..."
    )
    tls_key_file: PemFile = Field(None, description='... and its key; "" = plain HTTP')

    @model_validator(mode="before")
    @classmethod
    def _read_token(cls, data: Any, info: ValidationInfo) -> Any:
        return _secret(data, "token", info)

    @field_validator("bind")
    @classmethod
    def _bind(cls, value: str) -> str:
        _parse_bind(value)
        return value

    @field_validator("token")
    @classmethod
    def _token_length(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError(
                "is too short: use at least 16 characters (e.g. `openssl rand -hex 16`)"
            )
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _hosts(cls, value: Any) -> Any:
        if not isinstance(value, (list, tuple)) or not all(
            isinstance(h, str) and h and not any(c in h for c in "/: ") for h in value
        ):
            raise ValueError(f"must be host names without ports, got {value!r}")
        return tuple(h.lower() for h in value)

    @model_validator(mode="after")
    def _exposed_needs_token(self) -> HttpConfig:
        if not is_loopback(self.host) and not self.token:
            raise ValueError(
                f"bind {self.bind} is beyond loopback: set http.token or http.token_file, "
                "or bind 127.0.0.1"
            )
        if bool(self.tls_cert_file) != bool(self.tls_key_file):
            raise ValueError("give tls_cert_file and tls_key_file together")
        return self

    @property
    def host(self) -> str:
        return _parse_bind(self.bind)[0]

    @property
    def port(self) -> int:
        return _parse_bind(self.bind)[1]

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)


TLS_FILES = ("ca_file", "cert_file", "key_file")


class MqttConfig(_Section):
    """The MQTT publisher (and Home Assistant discovery over it)."""

    enabled: bool = False
    host: str = "localhost"
    port: int = Field(1883, ge=1, le=65535, description="8883 when tls = true and not set")
    topic_prefix: str = Field("", validate_default=True, description='"" = emoedge/<hostname>')
    client_id: str = Field("", description='"" = emoedge-<hostname>-<pid>')
    username: OptionalText = None
    password: OptionalText = Field(None, repr=False, description="or password_file")
    password_file: OptionalPath = Field(None, description="a file holding the password")
    tls: bool = Field(False, description="TLS to the broker (port 8883 unless set)")
    ca_file: PemFile = Field(
        None, description="the CA of the broker's certificate (\"\" = the system's CAs)"
    )
    cert_file: PemFile = Field(
        None, description="a client certificate and its key, for brokers that ask"
    )
    key_file: PemFile = None
    keepalive_s: int = Field(30, ge=5, le=3600)
    homeassistant: bool = Field(
        False,
        description="Home Assistant MQTT discovery: the face count and dominant emotion "
        "appear as sensors without hand configuration",
    )
    discovery_prefix: str = Field("homeassistant", description="Home Assistant's discovery prefix")

    @model_validator(mode="before")
    @classmethod
    def _defaults_and_password(cls, data: Any, info: ValidationInfo) -> Any:
        data = _secret(data, "password", info)
        if isinstance(data, dict) and "port" not in data and data.get("tls") is True:
            data = {**data, "port": 8883}
        return data

    @field_validator("topic_prefix", "discovery_prefix")
    @classmethod
    def _prefix(cls, value: str, info: ValidationInfo) -> str:
        if info.field_name == "topic_prefix":
            value = value or f"emoedge/{socket.gethostname()}"
        value = value.rstrip("/")
        if any(ch in value for ch in "+#"):
            raise ValueError(f"must not contain MQTT wildcards, got {value!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if not self.tls and any(getattr(self, key) for key in TLS_FILES):
            raise ValueError("ca_file, cert_file and key_file need mqtt.tls = true")
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("give cert_file and key_file together (a client certificate)")
        if self.password and not self.username:
            raise ValueError("a password needs mqtt.username")
        return self


class EventsConfig(_Section):
    """The SQLite event log and what counts as an emotion change."""

    log: Path = Field(
        Path("events.sqlite"), validate_default=True, description="the SQLite event log"
    )
    retention_days: float = Field(30.0, gt=0)
    min_frames: int = Field(
        3, ge=1, le=1000, description="a label must hold this many frames to count as a change"
    )
    track_timeout_s: float = Field(
        2.0, gt=0, description="a track unseen this long ends its segment"
    )

    @field_validator("log", mode="before")
    @classmethod
    def _log_path(cls, value: Any, info: ValidationInfo) -> Any:
        return _required_path(value, info, "the event log file")

    @field_validator("log")
    @classmethod
    def _folder_exists(cls, value: Path, info: ValidationInfo) -> Path:
        if _check_files(info) and not value.parent.is_dir():
            raise ValueError(f"folder {value.parent} does not exist")
        return value


class PrivacyConfig(_Section):
    mode: Literal[PRIVACY_MODES] = Field(  # type: ignore[valid-type]
        "full", description='"full" | "aggregates" (counts only, no per-person tracks)'
    )


class ConfigFile(_Section):
    """The daemon's config file (TOML). Every key is optional except `pipeline.build` and
    `source.spec`."""

    model_config = ConfigDict(title="emoedge daemon config")

    pipeline: PipelineConfig
    source: SourceConfig
    http: HttpConfig = HttpConfig()
    mqtt: MqttConfig = MqttConfig()
    events: EventsConfig = EventsConfig()
    privacy: PrivacyConfig = PrivacyConfig()

    @model_validator(mode="before")
    @classmethod
    def _every_section(cls, data: Any) -> Any:
        """A missing table is an empty one, validated like the rest (its paths resolved)."""
        if isinstance(data, dict):
            data = {**{name: {} for name in cls.model_fields}, **data}
        return data

    @model_validator(mode="after")
    def _preview_needs_full(self) -> ConfigFile:
        if self.privacy.mode == "aggregates" and self.http.preview:
            raise ValueError(
                "http.preview shows faces: it cannot be on with privacy.mode = 'aggregates'"
            )
        return self


SECTIONS: dict[str, type[_Section]] = {
    name: info.annotation  # type: ignore[misc]
    for name, info in ConfigFile.model_fields.items()
}


# -- the config the daemon runs --------------------------------------------------------
@dataclass(frozen=True)
class DaemonConfig:
    """A validated config file and where it came from (a reload re-reads that path)."""

    path: Path
    pipeline: PipelineConfig
    source: SourceConfig
    http: HttpConfig = field(default_factory=HttpConfig)
    mqtt: MqttConfig = field(default_factory=MqttConfig)
    events: EventsConfig = field(default_factory=EventsConfig)
    privacy: str = "full"

    @property
    def aggregates_only(self) -> bool:
        return self.privacy == "aggregates"

    def source_to_open(self) -> str | int:
        """The source spec as `open_source` takes it, worked out at each open.

        `camera` is the build's target camera and a device node its V4L2 index,
        as in `emoedge run` (`emoedge.targets.profiles.device_camera`).
        """
        from emoedge.targets.manifest import Build
        from emoedge.targets.profiles import device_camera

        spec = self.source.spec
        needs_target = str(spec).partition(":")[0] == "camera"
        target = Build.load(self.pipeline.build, verify=False).target if needs_target else None
        return device_camera(spec, target)

    def summary(self) -> dict[str, Any]:
        """What the config says, without secrets (for `daemon check` and /v1/status)."""
        return {
            "config": str(self.path),
            "build": str(self.pipeline.build),
            "source": self.source.shown,
            "http": f"{self.http.host}:{self.http.port}",
            "token": "set" if self.http.token else "none",
            "preview": self.http.preview,
            "max_requests_per_s": self.http.max_requests_per_s or "no limit",
            "mqtt": f"{self.mqtt.host}:{self.mqtt.port}" if self.mqtt.enabled else "off",
            "event_log": str(self.events.log),
            "retention_days": self.events.retention_days,
            "privacy": self.privacy,
        }


# -- error messages --------------------------------------------------------------------
_TYPES = {
    "bool_type": "true or false",
    "int_type": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "tuple_type": "a list",
    "model_type": "a table",
    "model_attributes_type": "a table",
    "path_type": "a path (a string)",
    "is_instance_of": "a path (a string)",  # strict Path fields given a number or a table
}
_BOUNDS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


def _where(loc: tuple) -> str:
    return ".".join(str(part) for part in loc)


def _message(error: dict[str, Any]) -> str:
    """One pydantic error as a line a user reads: the key, what it must be, what it was."""
    loc = tuple(error["loc"])
    kind, ctx, got = error["type"], error.get("ctx") or {}, error.get("input")
    where = _where(loc)
    if kind == "extra_forbidden":
        known = sorted(SECTIONS) if len(loc) == 1 else sorted(SECTIONS[loc[0]].model_fields)
        close = difflib.get_close_matches(str(loc[-1]), known, n=1)
        hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(known)})"
        if len(loc) == 1:
            return f"[{loc[0]}]: unknown section{hint}"
        return f"{where}: unknown key{hint}"
    if kind == "missing":
        return f"{where} is required" if len(loc) > 1 else f"[{where}] is required"
    if kind in _TYPES:
        return f"{where} must be {_TYPES[kind]}, got {got!r}"
    if kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        return f"{where} must be {_BOUNDS[kind]} {bound}, got {got!r}"
    if kind == "literal_error":
        return f"{where} must be one of {ctx.get('expected')}, got {got!r}"
    text = str(error["msg"]).removeprefix("Value error, ")
    if not loc:
        return text
    if len(loc) == 1 and loc[0] in SECTIONS:  # a section-wide rule
        return f"{where}: {text}"
    return f"{where} {text}" if text.startswith(("must", "is ")) else f"{where}: {text}"


def parse_config(data: dict[str, Any], path: Path, *, check_files: bool = True) -> DaemonConfig:
    """Validate parsed TOML; raise one `ConfigError` that lists every problem."""
    context = {"base": path.parent.resolve(), "check_files": check_files}
    try:
        file = ConfigFile.model_validate(data, context=context)
    except ValidationError as exc:
        lines = list(dict.fromkeys(_message(e) for e in exc.errors(include_url=False)))
        raise ConfigError(f"{path}: invalid daemon config:\n  - " + "\n  - ".join(lines)) from None
    return DaemonConfig(
        path=path,
        pipeline=file.pipeline,
        source=file.source,
        http=file.http,
        mqtt=file.mqtt,
        events=file.events,
        privacy=file.privacy.mode,
    )


def json_schema() -> dict[str, Any]:
    """The config file's JSON schema, as `emoedge daemon schema` prints it."""
    return ConfigFile.model_json_schema()


def _toml_value(value: Any) -> str:
    if value is None:
        return '""'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return json.dumps(list(value))
    return json.dumps(str(value))


EXAMPLE_COLUMNS = 96
#: Keys the example leaves out: the secrets' file variants are named in the comments.
_NOT_IN_EXAMPLE = {"token_file", "password_file"}


def example_config() -> str:
    """A commented config with every key, written from the models (`daemon check --example`)."""
    lines: list[str] = []
    for section, model in SECTIONS.items():
        lines.append(f"[{section}]")
        rows = []
        for key, info in model.model_fields.items():
            if key in _NOT_IN_EXAMPLE:
                continue
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            value = extra.get("example", info.default)
            rows.append((f"{key} = {_toml_value(value)}", info.description or ""))
        width = max(len(text) for text, _ in rows) + 2
        for text, comment in rows:
            wrapped = textwrap.wrap(comment, max(30, EXAMPLE_COLUMNS - width - 2)) or [""]
            lines.append(f"{text:<{width}}# {wrapped[0]}" if comment else text)
            lines += [f"{'':<{width}}# {more}" for more in wrapped[1:]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def load_config(path: str | Path, *, check_files: bool = True) -> DaemonConfig:
    """Read and validate a daemon config file (see `example_config` for every key)."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, path.resolve(), check_files=check_files)


def with_overrides(config: DaemonConfig, **sections: Any) -> DaemonConfig:
    """A copy with whole sections replaced (tests and the reload path use it)."""
    names = {f.name for f in fields(config)}
    unknown = set(sections) - names
    if unknown:
        raise ValueError(f"unknown config sections: {sorted(unknown)}")
    return replace(config, **sections)
