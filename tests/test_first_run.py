"""Issue 21, first run: a missing build named before the source, library chatter kept
for `--verbose`, a corrupt `.keras` called what it is.

Chatter goes to file descriptors 1 and 2 from C++ (LiteRT) and from other libraries'
own consoles (NNCF), past pytest's capture of Python's streams, so those tests run
the real CLI as a subprocess, as a user types it.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from quant_builds import FIXTURE, build_for
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.targets.manifest import Build

REPO = Path(__file__).resolve().parents[1]
PHOTO = sorted((REPO / "tests" / "fixtures" / "wild" / "images").glob("*.jpg"))[0]
XNNPACK_NOTICE = "Created TensorFlow Lite XNNPACK delegate for CPU"
NNCF_BARS = ("Statistics collection", "Bias correction", "━")


def emoedge(*args: object, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real `emoedge` command in a fresh process (LiteRT's notice is once per process)."""
    command = [sys.executable, "-c", "from emoedge.cli import main; main()", *map(str, args)]
    env = {**os.environ, "COLUMNS": "200"}
    env.pop("EMOEDGE_TF_LOGS", None)
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def rpi_build() -> Path:
    pytest.importorskip("tensorflow")  # export is host-side
    return build_for("rpi")


# --- item 3: the build is checked before any source opens -------------------------


@pytest.mark.parametrize("source", ["0", "rtsp://127.0.0.1:9/live", "missing.mp4"])
def test_run_names_a_missing_build_before_opening_the_source(tmp_path, source):
    """`emoedge run builds/nope --source 0` complained about the camera."""
    result = CliRunner().invoke(app, ["run", str(tmp_path / "nope"), "--source", source])
    assert result.exit_code == 2, result.output
    assert "nope: build folder not found" in result.output
    assert "camera" not in result.output and "stream" not in result.output
    assert "no such file" not in result.output and "Traceback" not in result.output


def test_run_checks_the_builds_checksums_before_opening_the_source(rpi_build, tmp_path):
    import shutil

    copy = Path(shutil.copytree(rpi_build, tmp_path / "rpi"))
    (copy / Build.load(copy).files["model"].path).write_bytes(b"tampered")
    result = CliRunner().invoke(app, ["run", str(copy), "--source", "57"])
    assert result.exit_code == 2, result.output
    assert "checksum" in result.output and "camera" not in result.output


# --- item 8: library chatter only with --verbose ----------------------------------


def test_litert_notice_is_kept_for_verbose_on_run(rpi_build):
    quiet = emoedge("run", rpi_build, "--source", PHOTO)
    assert quiet.returncode == 0, quiet.stderr
    assert "frames: 1" in quiet.stdout
    assert XNNPACK_NOTICE not in quiet.stderr + quiet.stdout

    verbose = emoedge("--verbose", "run", rpi_build, "--source", PHOTO)
    assert verbose.returncode == 0, verbose.stderr
    assert XNNPACK_NOTICE in verbose.stderr  # in the debug log


@pytest.mark.parametrize("command", ["doctor", "compare"])
def test_no_litert_notice_from_doctor_or_compare(rpi_build, tmp_path, command):
    args = [command, rpi_build]
    if command == "compare":
        args = [command, "zoo:mini_xception", rpi_build, "--data", FIXTURE, "--split", "test"]
        args += ["--out", tmp_path / "report"]
    done = emoedge(*args)
    assert done.returncode == 0, done.stderr
    assert XNNPACK_NOTICE not in done.stderr + done.stdout


def test_no_litert_notice_from_a_quick_bench(tmp_path):
    """The bench meets LiteRT in its own MAC count, the quantizer's tensor report and
    the `fer` peer's TF Lite interpreter, each printing the notice from C++."""
    pytest.importorskip("tensorflow")
    done = emoedge("bench", "--quick", "--target", "rpi", "--out", tmp_path / "bench", timeout=600)
    assert done.returncode == 0, done.stderr
    assert XNNPACK_NOTICE not in done.stderr + done.stdout


def test_no_litert_notice_from_the_face_detector_alone():
    """x86 and jetson builds meet LiteRT first in the BlazeFace detector."""
    code = "from emoedge.targets.detectors import make_detector; make_detector('blazeface')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert XNNPACK_NOTICE not in done.stderr


def test_no_litert_notice_when_the_daemon_starts(rpi_build, tmp_path):
    from daemon_support import DaemonProcess, free_port

    port = free_port()
    config = tmp_path / "daemon.toml"
    config.write_text(
        f'[pipeline]\nbuild = "{rpi_build}"\nsmoothing = "none"\n'
        f'[source]\nspec = "{PHOTO.parent}"\nloop = true\n'
        f'[http]\nbind = "127.0.0.1:{port}"\n'
        f'[events]\nlog = "{tmp_path / "events.sqlite"}"\n'
    )
    daemon = DaemonProcess(config, port)
    try:
        daemon.wait_ready()
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.proc.wait(15)
        output = daemon.output()
    finally:
        daemon.close()
    assert XNNPACK_NOTICE not in output, output


@pytest.mark.slow
def test_export_x86_draws_no_nncf_progress_bars(tmp_path):
    pytest.importorskip("nncf")
    args = ["export", "--target", "x86", "--data", FIXTURE, "--out", tmp_path / "x86"]
    args += ["--calibration-size", "16", "--validation-size", "16", "--allow-drop", "100"]
    done = emoedge(*args)
    assert done.returncode == 0, done.stderr
    assert "build:" in done.stdout and (tmp_path / "x86" / "manifest.json").is_file()
    for bar in NNCF_BARS:
        assert bar not in done.stdout + done.stderr, done.stdout


@pytest.mark.slow
def test_nncf_progress_is_shown_when_the_debug_log_is_on(tmp_path, caplog, capsys):
    """What `--verbose` turns on (the root logger at DEBUG) brings NNCF's bars back."""
    pytest.importorskip("nncf")
    from quant_builds import float_model

    from emoedge.models.zoo import model_preprocess_spec
    from emoedge.quantization import CalibrationSet, ConvertRequest, get_quantizer

    model = float_model()
    spec = model_preprocess_spec("zoo:mini_xception", model)
    calibration = CalibrationSet.from_ferplus(FIXTURE, spec, size=8)
    capsys.readouterr()
    with caplog.at_level(logging.DEBUG, logger="emoedge"):
        get_quantizer("openvino").quantize(
            ConvertRequest(model, calibration, "int8", tmp_path / "verbose")
        )
    assert "Statistics collection" in capsys.readouterr().out


# --- item 9: a corrupt .keras is called an invalid archive -------------------------


def test_random_bytes_keras_is_not_a_valid_archive(tmp_path):
    bad = tmp_path / "random.keras"
    bad.write_bytes(os.urandom(4096))
    result = CliRunner().invoke(app, ["evaluate", str(bad), "--data", str(FIXTURE)])
    assert result.exit_code == 2, result.output
    assert f"{bad}: not a valid .keras archive" in result.output
    assert "File not found" not in result.output and "Traceback" not in result.output


def test_a_zip_that_is_not_a_keras_model_is_named(tmp_path):
    import zipfile

    from emoedge.keras_files import check_keras_archive
    from emoedge.models.zoo import resolve_model_path

    other = tmp_path / "photos.keras"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("a.jpg", "not a model")
    result = CliRunner().invoke(app, ["evaluate", str(other), "--data", str(FIXTURE)])
    assert result.exit_code == 2, result.output
    assert f"{other}: not a valid .keras archive" in result.output
    assert "the zip holds no config.json" in result.output
    check_keras_archive(resolve_model_path("zoo:mini_xception"))  # the real thing passes
