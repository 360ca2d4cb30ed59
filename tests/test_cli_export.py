"""`emoedge export` and `emoedge compare` through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from quant_builds import FIXTURE, build_for
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.models.zoo import DEFAULT_MODEL
from emoedge.targets.manifest import Build

pytestmark = pytest.mark.slow
runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_export_rpi_from_the_zoo(tmp_path):
    out = tmp_path / "rpi"
    result = invoke(
        "export",
        "--target",
        "rpi",
        "--model",
        "zoo:mini_xception",
        "--data",
        FIXTURE,
        "--out",
        out,
        "--calibration-size",
        "24",
        "--validation-size",
        "24",
        "--max-drop",
        "100",
    )
    assert result.exit_code == 0, result.output
    assert f"build: {out}" in result.stdout and "drop" in result.stdout
    assert "calibration: 24 images, ferplus:train:majority" in result.stdout  # --data's, as before
    assert "TensorSpec" not in result.stdout  # converter chatter stays off the results stream
    assert Build.load(out).manifest.format == "tflite"


def test_export_with_only_a_target_works_anywhere(tmp_path, monkeypatch):
    """The README's `emoedge export --target rpi` in a folder with no FER+ near it and
    no EMOEDGE_DATA: the model defaults to zoo:mobilenet_v2, the build to its usual
    name, the calibration to the package's FER+ sample, and the summary says which
    sample was used and that accuracy was not measured."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOEDGE_DATA", raising=False)
    result = invoke("export", "--target", "rpi")
    assert result.exit_code == 0, result.output
    build = Build.load(tmp_path / "builds" / "mobilenet_v2-rpi-int8")
    assert build.manifest.model.source == "zoo:mobilenet_v2" == DEFAULT_MODEL
    assert "build: builds/mobilenet_v2-rpi-int8" in result.stdout
    assert "calibration: 128 images, emoedge FER+ sample" in result.stdout
    assert "accuracy: not measured: no dataset given (--data)" in result.stdout
    assert "parity: float and int8 agree on" in result.stdout and "of 64 faces" in result.stdout


@pytest.mark.parametrize("target", ["rpi", "jetson"])
def test_export_output_is_ours_alone(target, tmp_path):
    """A real process, so the converters' C++ output to file descriptor 2 counts too:
    TensorFlow's start-up notices, the TFLite converter's settings, tf2onnx's and ONNX
    Runtime's INFO lines and print()s are kept for --verbose."""
    out = tmp_path / target
    command = [sys.executable, "-c", "from emoedge.cli import main; main()", "export"]
    command += ["--target", target]
    command += ["--model", "zoo:mini_xception", "--data", str(FIXTURE), "--out", str(out)]
    command += ["--calibration-size", "24", "--validation-size", "24", "--max-drop", "100"]
    env = {k: v for k, v in os.environ.items() if k != "EMOEDGE_TF_LOGS"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"build: {out}" in done.stdout
    text = done.stdout + done.stderr
    for chatter in ("I0000", "cuInit", "fully_quantize", "Assets written", "Using opset"):
        assert chatter not in text, text
    assert "Collecting tensor data" not in text, text


@pytest.mark.parametrize("target", ["rpi", "x86", "jetson"])
def test_compare_prints_the_drop(target, tmp_path):
    out = tmp_path / "report"
    result = invoke(
        "compare",
        "zoo:mini_xception",
        build_for(target),
        "--data",
        FIXTURE,
        "--split",
        "test",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    assert "drop:" in result.stdout and "agreement" in result.stdout
    report = json.loads((out / "report.json").read_text())
    assert report["data"]["images"] == 24
    assert report["drop_points"] == pytest.approx(
        (report["float"]["accuracy"] - report["quantized"]["accuracy"]) * 100, abs=1e-3
    )
    assert set(report["per_class"]) >= {"neutral", "contempt"}
    assert (out / "confusion.png").read_bytes()[:4] == b"\x89PNG"


def test_compare_a_bare_model_file(tmp_path):
    model = Build.load(build_for("jetson")).path("model")
    result = invoke(
        "compare", "zoo:mini_xception", model, "--data", FIXTURE, "--out", tmp_path / "r"
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "report.json").read_text())["quantized"]["format"] == "onnx"


def test_compare_refuses_a_build_of_another_model(tmp_path):
    """zoo:mobilenet_v2 against a mini_xception build read as a 0.00-point drop."""
    result = invoke("compare", "zoo:mobilenet_v2", build_for("rpi"), "--data", FIXTURE)
    assert result.exit_code == 2, result.output
    assert "was exported from zoo:mini_xception" in result.output
    assert "not from zoo:mobilenet_v2" in result.output


def test_compare_rejects_an_unknown_file(tmp_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"x")
    result = invoke("compare", "zoo:mini_xception", bogus, "--data", FIXTURE)
    assert result.exit_code == 2 and "unknown model format" in result.output


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--target", "esp32"], 2, "unknown target 'esp32'"),
        (["--target", "rpi", "--model", "missing.keras"], 2, "model file not found"),
        (["--target", "rpi", "--precision", "fp32", "--max-drop", "-100"], 1, "--allow-drop"),
        (["--target", "jetson", "--precision", "fp16", "--per-tensor"], 2, "applies to int8"),
        # options that did nothing were ignored without a word
        (["--target", "rpi", "--calibration-photos"], 2, "give --calibration"),
        (
            ["--target", "jetson", "--precision", "fp16", "--calibration", str(FIXTURE)],
            2,
            "a fp16 build has none",
        ),
    ],
)
def test_export_errors_are_one_clear_line(args, code, message, tmp_path):
    result = invoke(
        "export", *args, "--data", FIXTURE, "--out", tmp_path / "b", "--validation-size", "24"
    )
    assert result.exit_code == code, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "b").exists()


def test_export_refuses_an_existing_folder(tmp_path):
    (tmp_path / "b").mkdir()
    result = invoke("export", "--target", "x86", "--out", tmp_path / "b")
    assert result.exit_code == 2 and "exists" in result.output


def test_export_empty_calibration_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke(
        "export", "--target", "rpi", "--calibration", tmp_path / "empty", "--out", tmp_path / "b"
    )
    assert result.exit_code == 2 and "no images" in result.output
