"""The daemon config: every mistake named up front, secrets kept out of summaries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emoedge.daemon.config import ConfigError, example_config, is_loopback, load_config


def _fake_build(root: Path) -> Path:
    build = root / "build"
    build.mkdir()
    (build / "manifest.json").write_text(json.dumps({"schema": "emoedge.build/1"}))
    return build


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "daemon.toml"
    path.write_text(text)
    return path


def test_minimal_config_resolves_paths_against_its_folder(tmp_path):
    _fake_build(tmp_path)
    cfg = load_config(
        _write(tmp_path, '[pipeline]\nbuild = "build"\n[source]\nspec = "clip.mp4"\n')
    )
    assert cfg.pipeline.build == tmp_path / "build"
    assert cfg.events.log == tmp_path / "events.sqlite"
    assert (cfg.http.host, cfg.http.port) == ("127.0.0.1", 8080)
    assert cfg.http.token is None and cfg.http.preview is False
    assert cfg.http.max_requests_per_s == 200.0
    assert cfg.privacy == "full" and not cfg.mqtt.enabled
    assert cfg.source.spec == str(tmp_path / "clip.mp4")  # files are relative to the config


def test_camera_index_and_full_config(tmp_path):
    _fake_build(tmp_path)
    (tmp_path / "token").write_text("0123456789abcdef0123\n")
    cfg = load_config(
        _write(
            tmp_path,
            """
[pipeline]
build = "build"
threads = 2
smoothing = "none"
flip_tta = true
detector_tiles = 3
[source]
spec = 0
loop = true
retry_initial_s = 0.1
retry_max_s = 2
[http]
bind = "0.0.0.0:9000"
token_file = "token"
[mqtt]
enabled = true
host = "broker.local"
port = 8883
topic_prefix = "site/cam1/"
[events]
log = "ev.db"
retention_days = 7
min_frames = 5
[privacy]
mode = "aggregates"
""",
        )
    )
    assert cfg.source.spec == 0 and cfg.source.loop
    assert cfg.pipeline.threads == 2 and cfg.pipeline.smoothing == "none"
    assert cfg.pipeline.flip_tta is True
    assert cfg.pipeline.detector_tiles == 3
    assert (cfg.http.host, cfg.http.port, cfg.http.token) == (
        "0.0.0.0",
        9000,
        "0123456789abcdef0123",
    )
    assert cfg.mqtt.topic_prefix == "site/cam1" and cfg.mqtt.port == 8883
    assert cfg.aggregates_only and cfg.events.min_frames == 5
    summary = json.dumps(cfg.summary())
    assert "0123456789abcdef" not in summary and "set" in summary
    assert "0123456789abcdef" not in repr(cfg)


def test_every_problem_is_listed_at_once(tmp_path):
    path = _write(
        tmp_path,
        """
[pipeline]
build = "nowhere"
thread = 2
detector_tiles = 9
[source]
retry_initial_s = -1
[http]
bind = "0.0.0.0:8080"
[events]
log = "missing/ev.db"
min_frames = "three"
[privacy]
mode = "secret"
[extra]
""",
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    for needle in (
        str(path),
        "pipeline.build",
        "nowhere",
        "pipeline.thread: unknown key",
        "pipeline.detector_tiles must be <= 8, got 9",
        "source.spec is required",
        "source.retry_initial_s must be > 0",
        "beyond loopback",
        "http.token",
        "events.log: folder",
        "events.min_frames must be an integer",
        "privacy.mode",
        "[extra]: unknown section",
    ):
        assert needle in text, needle


def test_missing_file_and_bad_toml_are_user_errors(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(_write(tmp_path, "[pipeline\nbuild="))


def test_short_token_preview_with_aggregates_and_bad_bind_are_refused(tmp_path):
    _fake_build(tmp_path)
    base = '[pipeline]\nbuild = "build"\n[source]\nspec = "x.mp4"\n'
    with pytest.raises(ConfigError, match="too short"):
        load_config(_write(tmp_path, base + '[http]\ntoken = "abc"\n'))
    with pytest.raises(ConfigError, match="cannot be on"):
        load_config(
            _write(tmp_path, base + '[http]\npreview = true\n[privacy]\nmode = "aggregates"\n')
        )
    with pytest.raises(ConfigError, match="HOST:PORT"):
        load_config(_write(tmp_path, base + '[http]\nbind = "8080"\n'))
    with pytest.raises(ConfigError, match="true or false"):
        load_config(_write(tmp_path, base + "[http]\npreview = 1\n"))
    with pytest.raises(ConfigError, match="max_requests_per_s must be >= 0"):
        load_config(_write(tmp_path, base + "[http]\nmax_requests_per_s = -5\n"))
    unlimited = load_config(_write(tmp_path, base + "[http]\nmax_requests_per_s = 0\n"))
    assert unlimited.http.max_requests_per_s == 0.0


def test_tiles_with_a_detector_that_has_none_are_refused(tmp_path):
    _fake_build(tmp_path)
    text = (
        '[pipeline]\nbuild = "build"\ndetector = "haar"\ndetector_tiles = 3\n[source]\nspec = 0\n'
    )
    with pytest.raises(ConfigError, match="detector_tiles is a blazeface option"):
        load_config(_write(tmp_path, text))


def test_loopback_detection():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5") and not is_loopback("::")


def test_daemon_modules_import_no_tensorflow_or_converters():
    """A device installs only its runtime: the daemon must not pull in the host's stack."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import emoedge.daemon.service, emoedge.daemon.http, emoedge.daemon.web, emoedge.daemon.mqtt\n"
        "import emoedge.daemon.systemd, emoedge.daemon.eventlog\n"
        "bad = [m for m in ('tensorflow', 'nncf', 'tf2onnx', 'keras') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def _real_manifest(build: Path, target: str) -> Path:
    """A build folder whose manifest `Build.load` accepts (no model files needed here)."""
    build.mkdir(parents=True)
    manifest = {
        "schema": "emoedge.build/1",
        "target": target,
        "labels": ["neutral"],
        "preprocess": {},
        "input": {"shape": [None, 64, 64, 1], "dtype": "int8"},
        "runtime": {"name": "litert"},
        "files": {},
        "format": "tflite",
        "precision": "int8",
    }
    (build / "manifest.json").write_text(json.dumps(manifest))
    return build


def test_the_example_config_works_beside_a_default_export(tmp_path):
    """`daemon check --example > daemon.toml` where `emoedge export --target rpi` ran."""
    from emoedge.export import default_out
    from emoedge.models.zoo import DEFAULT_MODEL

    build = _real_manifest(tmp_path / default_out(DEFAULT_MODEL, "rpi", "int8"), "rpi")
    cfg = load_config(_write(tmp_path, example_config()))
    assert cfg.pipeline.build == build
    assert cfg.source.spec == "camera"  # a camera, not a file named "camera" beside the config
    assert cfg.source_to_open() == "picamera2:0"  # the rpi build's camera


@pytest.mark.parametrize("target", ["rpi", "x86", "jetson"])
def test_camera_means_what_emoedge_run_means(tmp_path, target):
    from emoedge.cli.run import _device_camera

    build = _real_manifest(tmp_path / "build", target)
    for spec in ("camera", "camera:1"):
        text = f'[pipeline]\nbuild = "build"\n[source]\nspec = "{spec}"\n'
        cfg = load_config(_write(tmp_path, text))
        assert cfg.source_to_open() == _device_camera(spec, build)


def test_a_device_node_is_a_camera(tmp_path):
    _real_manifest(tmp_path / "build", "x86")
    for node, index in (("/dev/video0", "0"), ("/dev/video12", "12")):
        cfg = load_config(
            _write(tmp_path, f'[pipeline]\nbuild = "build"\n[source]\nspec = "{node}"\n')
        )
        assert cfg.source.spec == node and cfg.source_to_open() == index


def test_http_limits_hosts_and_tls_are_checked(tmp_path):
    _fake_build(tmp_path)
    base = '[pipeline]\nbuild = "build"\n[source]\nspec = 0\n[http]\n'
    cfg = load_config(
        _write(
            tmp_path,
            base + 'allowed_hosts = ["Cam.Local"]\nmax_streams = 2\nmax_connections = 32\n',
        )
    )
    assert cfg.http.allowed_hosts == ("cam.local",) and cfg.http.max_streams == 2
    assert cfg.http.max_connections == 32 and cfg.http.max_client_requests_per_s == 50.0
    (tmp_path / "key.pem").write_text("a key alone")  # the pair rule, not a missing file
    for text, message in (
        ('allowed_hosts = ["cam.local:8080"]', "host names without ports"),
        ("max_connections = 1", "max_connections must be >= 4, got 1"),
        ('tls_cert_file = "cert.pem"', "tls_cert_file: .*cert.pem not found"),
        ('tls_key_file = "key.pem"', "tls_cert_file and tls_key_file together"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(_write(tmp_path, base + text + "\n"))


def test_a_mistyped_key_or_section_gets_a_suggestion(tmp_path):
    _fake_build(tmp_path)
    text = (
        '[pipeline]\nbuild = "build"\n[source]\nspec = 0\n'
        "[http]\nmax_stream = 2\n[mqqt]\nenabled = true\n"
    )
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text))
    message = str(info.value)
    assert "http.max_stream: unknown key; did you mean max_streams?" in message
    assert "[mqqt]: unknown section; did you mean mqtt?" in message
    assert "Traceback" not in message and "pydantic" not in message


def test_schema_command_prints_a_schema_the_example_config_satisfies(tmp_path):
    """`emoedge daemon schema` is a real JSON schema: the example validates, a typo does not."""
    import subprocess
    import sys
    import tomllib

    jsonschema_rs = pytest.importorskip(
        "jsonschema_rs", reason="jsonschema_rs (the dev extra, with schemathesis) checks the schema"
    )
    result = subprocess.run(
        [sys.executable, "-c", "from emoedge.cli import main; main()", "daemon", "schema"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["required"]) == {"pipeline", "source"}
    validator = jsonschema_rs.validator_for(schema)
    example = tomllib.loads(example_config())
    assert list(validator.iter_errors(example)) == []
    example["http"]["max_stream"] = 2
    assert any("max_stream" in e.message for e in validator.iter_errors(example))
    example["http"].pop("max_stream")
    example["http"]["max_connections"] = 1
    assert any("max_connections" in e.instance_path for e in validator.iter_errors(example))


def test_a_bad_config_is_a_clear_message_and_exit_2_not_a_traceback(tmp_path):
    import subprocess
    import sys

    path = _write(tmp_path, "[pipeline]\nbuild = 3\n[source]\nspec = true\n")
    result = subprocess.run(
        [sys.executable, "-c", "from emoedge.cli import main; main()", "daemon", "check",
         str(path)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "pipeline.build must be a path" in result.stderr
    assert "source.spec" in result.stderr and "camera index" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_pipeline_table_is_the_pipelines_own_settings(tmp_path):
    """`[pipeline]` is made from the pipeline's dataclass, the one `emoedge run` reads its
    options from: the same keys, defaults, docs and ranges, so the two cannot drift."""
    from dataclasses import fields

    from emoedge.daemon.config import PIPELINE_KEYS, PipelineConfig
    from emoedge.targets import pipeline_config

    settings = pipeline_config.PipelineConfig()
    assert set(PIPELINE_KEYS) == {f.name for f in fields(settings)} - {"tracking"}
    section = PipelineConfig.model_fields
    assert list(section) == ["build", *PIPELINE_KEYS]
    for key in PIPELINE_KEYS:
        assert section[key].default == getattr(settings, key), key
        assert section[key].description == pipeline_config.SETTINGS[key].doc, key

    _fake_build(tmp_path)
    base = '[pipeline]\nbuild = "build"\n[source]\nspec = 0\n'
    assert load_config(_write(tmp_path, base)).pipeline.pipeline_config() == settings
    cfg = load_config(
        _write(tmp_path, base.replace("[source]", 'threads = ""\nmin_face = 20\n[source]'))
    )
    assert cfg.pipeline.pipeline_config() == pipeline_config.PipelineConfig(min_face=20)
    for text, message in (
        ("threads = -1", "pipeline.threads must be >= 0, got -1"),
        ("max_faces = 0", "pipeline.max_faces must be >= 1, got 0"),
        ('smoothing = "kalman"', "pipeline.smoothing must be one of"),
        ("min_detector_score = 2", "pipeline.min_detector_score must be <= 1.0, got 2"),
        ("tracking = false", "pipeline.tracking: unknown key"),
    ):
        with pytest.raises(ConfigError, match=message):
            load_config(_write(tmp_path, base.replace("[source]", f"{text}\n[source]")))


@pytest.mark.parametrize("spec", ["camera:x", "picamera2:a", "camera:"])
def test_a_malformed_camera_spec_is_refused_at_load(tmp_path, spec):
    """The daemon retried such a typo forever as a camera that is not there yet."""
    _fake_build(tmp_path)
    with pytest.raises(ConfigError, match="takes a camera number"):
        load_config(_write(tmp_path, f'[pipeline]\nbuild = "build"\n[source]\nspec = "{spec}"\n'))
