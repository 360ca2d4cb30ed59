"""`emoedge doctor` on this machine and on real builds of each target."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from quant_builds import TARGETS, build_for
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.doctor import video_io
from emoedge.targets.manifest import Build

runner = CliRunner()


def checks_of(output: str) -> dict[str, dict]:
    return {check["area"]: check for check in json.loads(output)["checks"]}


def test_doctor_names_the_runtimes_and_providers_here():
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output
    checks = checks_of(result.output)
    assert checks["onnxruntime"]["status"] == "ok"
    assert "CPUExecutionProvider" in checks["onnxruntime"]["detail"]
    assert checks["litert"]["status"] == "ok" and checks["openvino"]["status"] == "ok"
    assert "CPU" in checks["openvino"]["detail"]
    assert checks["cache"]["status"] == "ok"
    assert not any(check["status"] == "fail" for check in checks.values())


def test_two_onnxruntime_wheels_are_a_warning(tmp_path, monkeypatch):
    """What pip leaves after `pip install onnxruntime-gpu` beside the CPU wheel: a second
    dist-info for the same module. Here, only its metadata (no GPU wheel to install)."""
    assert "onnxruntime wheels" not in checks_of(runner.invoke(app, ["doctor", "--json"]).stdout)
    dist_info = tmp_path / "onnxruntime_gpu-1.31.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: onnxruntime-gpu\nVersion: 1.31.1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = runner.invoke(app, ["doctor", "--json"])
    assert result.exit_code == 0, result.output  # a warning, not a failure
    clash = checks_of(result.stdout)["onnxruntime wheels"]
    assert clash["status"] == "warn"
    assert (
        "onnxruntime-gpu 1.31.1" in clash["detail"]
        and "install onnxruntime-gpu alone" in clash["detail"]
    )


def test_video_io_is_read_from_opencvs_build_information():
    here = video_io(cv2.getBuildInformation())
    assert here["FFmpeg"] and not here["GStreamer"]  # pip's opencv-python-headless
    jetpack_like = (
        "  Video I/O:\n    DC1394:                      NO\n    FFMPEG:                      YES\n"
        "    GStreamer:                   YES (1.20.3)\n    v4l/v4l2:                    YES (linux/videodev2.h)\n"
        "\n  Parallel framework:            pthreads\n"
    )
    assert video_io(jetpack_like) == {"FFmpeg": True, "GStreamer": True, "V4L2": True}


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_doctor_loads_and_runs_a_build(target):
    result = runner.invoke(app, ["doctor", str(build_for(target)), "--json"])
    assert result.exit_code == 0, result.output
    checks = checks_of(result.stdout)  # the JSON alone; logs go to stderr
    for area in ("build", "runtime", "inference", "detector"):
        assert checks[area]["status"] == "ok", checks[area]
    assert checks["build"]["detail"].startswith(f"{target}:")
    runtime = Build.load(build_for(target)).runtime.name
    assert checks["runtime"]["detail"].startswith(runtime)
    if target == "jetson":  # which provider really started, not the manifest's wish list
        assert checks["runtime"]["detail"].endswith("running on CPUExecutionProvider")


@pytest.mark.slow
def test_doctor_fails_on_a_tampered_build(tmp_path):
    copy = shutil.copytree(build_for("rpi"), tmp_path / "build")
    model = Build.load(copy).path("model")
    model.write_bytes(model.read_bytes()[:-16] + bytes(16))
    result = runner.invoke(app, ["doctor", str(copy)])
    assert result.exit_code == 1
    assert "checksum" in result.output and "FAIL" in result.output


@pytest.mark.slow
def test_doctor_imports_no_host_tools():
    """It is the first command run on a device, which has no TensorFlow."""
    code = (
        "import sys\n"
        "from emoedge.doctor import build_checks, environment_checks\n"
        f"checks = environment_checks() + build_checks({str(build_for('rpi'))!r})\n"
        "assert not [c for c in checks if c.status == 'fail'], checks\n"
        "bad = [m for m in ('tensorflow', 'keras', 'nncf', 'tf2onnx') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.slow
def test_doctor_fails_on_a_model_its_runtime_cannot_load(tmp_path):
    """Checksums that match a broken file (re-signed by hand): the build check passes,
    the runtime's does not, and nothing after it runs."""
    from dataclasses import replace

    from emoedge.targets.manifest import file_entry, write_manifest

    copy = Path(shutil.copytree(build_for("jetson"), tmp_path / "build"))
    build = Build.load(copy)
    model = build.path("model")
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    files = {**build.files, "model": file_entry(copy, build.files["model"].path)}
    write_manifest(copy, replace(build.manifest, files=files))
    result = runner.invoke(app, ["doctor", str(copy), "--json"])
    assert result.exit_code == 1
    checks = checks_of(result.output)
    assert checks["build"]["status"] == "ok"
    assert checks["runtime"]["status"] == "fail" and "cannot load" in checks["runtime"]["detail"]
    assert "inference" not in checks and "detector" not in checks
