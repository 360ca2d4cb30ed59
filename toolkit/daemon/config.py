"""The daemon's TOML config, validated in full before anything starts.

A service that runs for months must fail at start, with every mistake named,
not an hour later when the first MQTT message goes out. `load_config` reads the
file, checks every key (unknown keys too: a typo must not silently fall back to
a default) and returns frozen dataclasses. Relative paths are resolved against
the config file's folder, so a unit file can point at `/etc/emoedge/daemon.toml`
and the config can say `build = "build"`.

Example (every key optional except `pipeline.build` and `source.spec`)::

    [pipeline]
    build = "builds/mini_xception-rpi-int8"  # the folder `emoedge export --target rpi` writes
    runtime = ""                  # override the manifest's runtime ("" = manifest)
    threads = 0                   # 0 = the manifest's setting
    detector = ""                 # override the manifest's detector
    detector_tiles = 1            # blazeface: N > 1 also searches N x N tiles (crowds)
    smoothing = "ema"             # ema | vote | none
    flip_tta = false              # also classify the mirrored face (+1 point, 2x classifier)

    [source]
    spec = "camera"               # the build's target camera, as in `emoedge run --source camera`
                                  # (picamera2 on rpi, CSI on jetson, V4L2 0 on x86); or a camera
                                  # index (0), a device (/dev/video0), rtsp://user:pass@host/...,
                                  # a video file or an image folder
    loop = false                  # loop a video file / folder (demos, tests)
    realtime = "auto"             # true: play files at their frame rate; false: as fast as
                                  # the pipeline goes; "auto": cameras live, files fast
    retry_initial_s = 0.5         # first backoff after a fault, doubled up to...
    retry_max_s = 30.0
    stall_timeout_s = 10.0        # no frame for this long counts as a fault

    [http]
    bind = "127.0.0.1:8080"       # beyond loopback a token is required
    token = ""                    # or token_file = "/etc/emoedge/token"
    preview = false               # annotated MJPEG at /v1/preview.mjpeg
    max_requests_per_s = 200      # the API's budget: more requests wait their turn
                                  # (0 = no limit); it caps what clients take from the pipeline
    max_client_requests_per_s = 50  # one client address's share of it (0 = no share)
    allowed_hosts = []            # Host names served besides loopback, this machine's name and
                                  # its addresses (DNS-rebinding guard); ["*"] = any
    max_connections = 64          # open connections; more are closed at once
    max_streams = 8               # SSE and MJPEG clients together
    request_timeout_s = 10.0      # a connection must send a whole request head this fast
    tls_cert_file = ""            # HTTPS with this certificate (PEM, chain included) ...
    tls_key_file = ""             # ... and its key; "" = plain HTTP

    [mqtt]
    enabled = false
    host = "localhost"
    port = 1883
    topic_prefix = ""             # "" = emoedge/<hostname>
    client_id = ""                # "" = emoedge-<hostname>-<pid>
    username = ""
    password = ""                 # or password_file
    tls = false                   # TLS to the broker (port 8883 unless set)
    ca_file = ""                  # the CA of the broker's certificate ("" = the system's CAs)
    cert_file = ""                # a client certificate and its key, for brokers that ask
    key_file = ""
    keepalive_s = 30

    [events]
    log = "events.sqlite"
    retention_days = 30.0
    min_frames = 3                # a label must hold this many frames to count as a change
    track_timeout_s = 2.0         # a track unseen this long ends its segment

    [privacy]
    mode = "full"                 # "full" | "aggregates" (counts only, no per-person tracks)
"""

from __future__ import annotations

import ipaddress
import os
import socket
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from emoedge.daemon.redact import redact
from emoedge.errors import UserInputError

PRIVACY_MODES = ("full", "aggregates")


class ConfigError(UserInputError):
    """A daemon config that cannot be used; the message lists every problem found."""


@dataclass(frozen=True)
class PipelineConfig:
    build: Path
    runtime: str | None = None
    threads: int | None = None
    detector: str | None = None
    detector_tiles: int = 1
    smoothing: str = "ema"
    flip_tta: bool = False


@dataclass(frozen=True)
class SourceConfig:
    spec: str | int
    loop: bool = False
    realtime: bool | None = None
    retry_initial_s: float = 0.5
    retry_max_s: float = 30.0
    stall_timeout_s: float = 10.0

    @property
    def shown(self) -> str:
        """The spec as it may be shown and logged: a URL's password redacted."""
        return redact(str(self.spec))


@dataclass(frozen=True)
class HttpConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    token: str | None = field(default=None, repr=False)
    preview: bool = False
    max_requests_per_s: float = 200.0  # 0 = no limit
    max_client_requests_per_s: float = 50.0  # 0 = only the total limit
    allowed_hosts: tuple[str, ...] = ()
    max_connections: int = 64
    max_streams: int = 8
    request_timeout_s: float = 10.0
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @property
    def loopback_only(self) -> bool:
        return is_loopback(self.host)


@dataclass(frozen=True)
class MqttConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    topic_prefix: str = ""
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    keepalive_s: int = 30
    tls: bool = False
    ca_file: Path | None = None  # None: the system's CAs
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class EventsConfig:
    log: Path = Path("events.sqlite")
    retention_days: float = 30.0
    min_frames: int = 3
    track_timeout_s: float = 2.0


@dataclass(frozen=True)
class DaemonConfig:
    path: Path
    pipeline: PipelineConfig
    source: SourceConfig
    http: HttpConfig = HttpConfig()
    mqtt: MqttConfig = MqttConfig()
    events: EventsConfig = EventsConfig()
    privacy: str = "full"

    @property
    def aggregates_only(self) -> bool:
        return self.privacy == "aggregates"

    def source_to_open(self) -> str | int:
        """The source spec as `open_source` takes it, worked out at each open.

        `camera` is the build's target camera and a device node its V4L2 index,
        as in `emoedge run` (`emoedge.targets.profiles.device_camera`).
        """
        from emoedge.build import Build
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


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; a bind address anywhere else is exposed."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Section:
    """Reads one TOML table, collecting problems instead of stopping at the first."""

    def __init__(self, name: str, data: Any, errors: list[str]) -> None:
        self.name = name
        self.errors = errors
        if data is None:
            data = {}
        if not isinstance(data, dict):
            errors.append(f"[{name}] must be a table")
            data = {}
        self.data = data
        self.used: set[str] = set()

    def _get(self, key: str, types: tuple[type, ...], what: str, default: Any) -> Any:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        # TOML booleans are ints to Python's isinstance; keep them apart.
        if isinstance(value, bool) and bool not in types:
            self.errors.append(f"{self.name}.{key} must be {what}, got {value!r}")
            return default
        if not isinstance(value, types):
            self.errors.append(f"{self.name}.{key} must be {what}, got {value!r}")
            return default
        return value

    def string(self, key: str, default: str | None = None) -> str | None:
        return self._get(key, (str,), "a string", default)

    def boolean(self, key: str, default: bool) -> bool:
        return self._get(key, (bool,), "true or false", default)

    def integer(
        self, key: str, default: int, low: int | None = None, high: int | None = None
    ) -> int:
        value = self._get(key, (int,), "an integer", default)
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"{low}..{high}" if high is not None else f">= {low}"
            self.errors.append(f"{self.name}.{key} must be {bounds}, got {value}")
            return default
        return value

    def number(self, key: str, default: float, low: float = 0.0, strict: bool = True) -> float:
        value = float(self._get(key, (int, float), "a number", default))
        if value < low or (strict and value == low):
            self.errors.append(
                f"{self.name}.{key} must be {'>' if strict else '>='} {low}, got {value}"
            )
            return default
        return value

    def required(self, key: str) -> None:
        if key not in self.data:
            self.errors.append(f"{self.name}.{key} is required")

    def finish(self) -> None:
        for key in sorted(set(self.data) - self.used):
            self.errors.append(f"{self.name}.{key}: unknown key")


def _secret(section: _Section, key: str, base: Path) -> str | None:
    """A secret given inline (`key`) or in a file (`key_file`), never both."""
    inline = section.string(key) or None
    file_name = section.string(f"{key}_file") or None
    if inline and file_name:
        section.errors.append(f"{section.name}: give {key} or {key}_file, not both")
        return inline
    if file_name:
        path = _resolve(base, file_name)
        try:
            value = path.read_text().strip()
        except OSError as exc:
            section.errors.append(f"{section.name}.{key}_file: cannot read {path} ({exc.strerror})")
            return None
        if not value:
            section.errors.append(f"{section.name}.{key}_file: {path} is empty")
            return None
        return value
    return inline


TLS_FILES = ("ca_file", "cert_file", "key_file")


def _tls_file(section: _Section, key: str, base: Path, check_files: bool) -> Path | None:
    """A PEM file for MQTT's TLS, relative to the config; it must exist when checked."""
    text = section.string(key) or None
    if text is None:
        return None
    path = _resolve(base, text)
    if check_files and not path.is_file():
        section.errors.append(f"{section.name}.{key}: {path} not found")
    return path


def _realtime(section: _Section) -> bool | None:
    value = section._get("realtime", (bool, str), 'true, false or "auto"', "auto")
    if value == "auto":
        return None
    if isinstance(value, str):
        section.errors.append(f'source.realtime must be true, false or "auto", got {value!r}')
        return None
    return value


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


def _resolve(base: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else (base / path)


def _host_list(section: _Section) -> tuple[str, ...]:
    hosts = section._get("allowed_hosts", (list,), "a list of host names", [])
    if not all(isinstance(h, str) and h and not any(c in h for c in "/: ") for h in hosts):
        section.errors.append(
            f"{section.name}.allowed_hosts must be host names without ports, got {hosts!r}"
        )
        return ()
    return tuple(h.lower() for h in hosts)


def _parse_bind(section: _Section) -> tuple[str, int]:
    bind = section.string("bind", "127.0.0.1:8080")
    host, sep, port_text = bind.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 <= int(port_text) <= 65535:
        section.errors.append(f"http.bind must be HOST:PORT (e.g. 127.0.0.1:8080), got {bind!r}")
        return "127.0.0.1", 8080
    host = host.strip("[]")  # [::1]:8080
    return host, int(port_text)


def parse_config(data: dict[str, Any], path: Path, *, check_files: bool = True) -> DaemonConfig:
    """Validate parsed TOML; raise one `ConfigError` that lists every problem."""
    errors: list[str] = []
    base = path.parent.resolve()
    known = {"pipeline", "source", "http", "mqtt", "events", "privacy"}
    for key in sorted(set(data) - known):
        errors.append(f"[{key}]: unknown section (expected {', '.join(sorted(known))})")

    p = _Section("pipeline", data.get("pipeline"), errors)
    p.required("build")
    build_text = p.string("build", "")
    build = _resolve(base, build_text) if build_text else base / "build"
    if build_text and check_files and not (build / "manifest.json").is_file():
        errors.append(f"pipeline.build: {build} is not an emoedge build (no manifest.json)")
    threads = p.integer("threads", 0, low=0)
    smoothing = p.string("smoothing", "ema")
    from emoedge.targets.tracking import SMOOTHING  # numpy only; the pipeline's own list

    if smoothing not in SMOOTHING:
        errors.append(
            f"pipeline.smoothing must be one of {', '.join(SMOOTHING)}, got {smoothing!r}"
        )
    detector = p.string("detector") or None
    tiles = p.integer("detector_tiles", 1, low=1, high=8)
    if tiles > 1 and detector not in (None, "blazeface"):
        errors.append(f"pipeline.detector_tiles is a blazeface option; detector is {detector!r}")
    pipeline = PipelineConfig(
        build=build,
        runtime=p.string("runtime") or None,
        threads=threads or None,
        detector=detector,
        detector_tiles=tiles,
        smoothing=smoothing,
        flip_tta=p.boolean("flip_tta", False),
    )
    p.finish()

    s = _Section("source", data.get("source"), errors)
    s.required("spec")
    spec = s._get("spec", (str, int), "a string or a camera index", "0")
    if isinstance(spec, str) and not spec:
        errors.append("source.spec must not be empty")
    elif isinstance(spec, str) and _looks_like_path(spec):
        spec = str(_resolve(base, spec))  # a file or folder, relative to the config
    retry_initial = s.number("retry_initial_s", 0.5)
    retry_max = s.number("retry_max_s", 30.0)
    if retry_max < retry_initial:
        errors.append(
            f"source.retry_max_s ({retry_max}) is below retry_initial_s ({retry_initial})"
        )
    source = SourceConfig(
        spec=spec,
        loop=s.boolean("loop", False),
        realtime=_realtime(s),
        retry_initial_s=retry_initial,
        retry_max_s=retry_max,
        stall_timeout_s=s.number("stall_timeout_s", 10.0),
    )
    s.finish()

    h = _Section("http", data.get("http"), errors)
    host, port = _parse_bind(h)
    token = _secret(h, "token", base)
    if token is not None and len(token) < 16:
        errors.append(
            "http.token is too short: use at least 16 characters (e.g. `openssl rand -hex 16`)"
        )
    if not is_loopback(host) and not token:
        errors.append(
            f"http.bind {host}:{port} is beyond loopback: set http.token or http.token_file, "
            "or bind 127.0.0.1"
        )
    http = HttpConfig(
        host=host,
        port=port,
        token=token,
        preview=h.boolean("preview", False),
        max_requests_per_s=h.number("max_requests_per_s", 200.0, strict=False),
        max_client_requests_per_s=h.number("max_client_requests_per_s", 50.0, strict=False),
        allowed_hosts=_host_list(h),
        max_connections=h.integer("max_connections", 64, low=4, high=10_000),
        max_streams=h.integer("max_streams", 8, low=0, high=1000),
        request_timeout_s=h.number("request_timeout_s", 10.0),
        tls_cert_file=_tls_file(h, "tls_cert_file", base, check_files),
        tls_key_file=_tls_file(h, "tls_key_file", base, check_files),
    )
    if bool(http.tls_cert_file) != bool(http.tls_key_file):
        errors.append("http: give tls_cert_file and tls_key_file together")
    h.finish()

    m = _Section("mqtt", data.get("mqtt"), errors)
    tls = m.boolean("tls", False)
    tls_files = {key: _tls_file(m, key, base, check_files) for key in TLS_FILES}
    if not tls and any(tls_files.values()):
        errors.append("mqtt: ca_file, cert_file and key_file need mqtt.tls = true")
    if bool(tls_files["cert_file"]) != bool(tls_files["key_file"]):
        errors.append("mqtt: give cert_file and key_file together (a client certificate)")
    mqtt = MqttConfig(
        enabled=m.boolean("enabled", False),
        host=m.string("host", "localhost"),
        port=m.integer("port", 8883 if tls else 1883, low=1, high=65535),
        topic_prefix=(m.string("topic_prefix", "") or f"emoedge/{socket.gethostname()}").rstrip(
            "/"
        ),
        client_id=m.string("client_id", "") or "",
        username=m.string("username") or None,
        password=_secret(m, "password", base),
        keepalive_s=m.integer("keepalive_s", 30, low=5, high=3600),
        tls=tls,
        **tls_files,
    )
    if mqtt.password and not mqtt.username:
        errors.append("mqtt: a password needs mqtt.username")
    if any(ch in mqtt.topic_prefix for ch in "+#"):
        errors.append(
            f"mqtt.topic_prefix must not contain MQTT wildcards, got {mqtt.topic_prefix!r}"
        )
    m.finish()

    e = _Section("events", data.get("events"), errors)
    log_text = e.string("log", "events.sqlite")
    log_path = _resolve(base, log_text)
    if check_files and not log_path.parent.is_dir():
        errors.append(f"events.log: folder {log_path.parent} does not exist")
    events = EventsConfig(
        log=log_path,
        retention_days=e.number("retention_days", 30.0),
        min_frames=e.integer("min_frames", 3, low=1, high=1000),
        track_timeout_s=e.number("track_timeout_s", 2.0),
    )
    e.finish()

    pr = _Section("privacy", data.get("privacy"), errors)
    mode = pr.string("mode", "full")
    if mode not in PRIVACY_MODES:
        errors.append(f"privacy.mode must be one of {', '.join(PRIVACY_MODES)}, got {mode!r}")
        mode = "full"
    pr.finish()
    if mode == "aggregates" and http.preview:
        errors.append("http.preview shows faces: it cannot be on with privacy.mode = 'aggregates'")

    if errors:
        raise ConfigError(f"{path}: invalid daemon config:\n  - " + "\n  - ".join(errors))
    return DaemonConfig(
        path=path,
        pipeline=pipeline,
        source=source,
        http=http,
        mqtt=mqtt,
        events=events,
        privacy=mode,
    )


def example_config() -> str:
    """The commented example above, as `emoedge daemon check --example` prints it."""
    import textwrap

    doc = __doc__ or ""
    return textwrap.dedent(doc[doc.index("    [pipeline]") :]).strip() + "\n"


def load_config(path: str | Path, *, check_files: bool = True) -> DaemonConfig:
    """Read and validate a daemon config file (see the module docstring for the keys)."""
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
