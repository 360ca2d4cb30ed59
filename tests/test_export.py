"""`export_build`: what a build holds, the accuracy gate, and bad input."""

from __future__ import annotations

import json

import pytest
from quant_builds import FIXTURE, TARGETS, build_for

from emoedge.data.preprocess import FERPLUS_MARGIN, FERPLUS_SHIFT
from emoedge.errors import AccuracyGateError, ModelFileError, UserInputError
from emoedge.export import export_build
from emoedge.labels import EMOTIONS
from emoedge.targets.manifest import SCHEMA, Build, sha256_file, write_manifest

pytestmark = pytest.mark.slow

EXPECTED = {
    "rpi": ("tflite", "litert", {"model": "model.tflite"}),
    "x86": ("openvino", "openvino", {"model": "model.xml", "weights": "model.bin"}),
    "jetson": ("onnx", "onnxruntime", {"model": "model.onnx"}),
}


@pytest.mark.parametrize("target", TARGETS)
def test_build_manifest_describes_the_build(target):
    build = Build.load(build_for(target))  # schema, keys and every checksum
    manifest = build.manifest
    fmt, runtime, files = EXPECTED[target]
    assert json.loads((build.root / "manifest.json").read_text())["schema"] == SCHEMA
    assert (manifest.target, manifest.format, manifest.precision) == (target, fmt, "int8")
    assert manifest.runtime.name == runtime
    for role, name in files.items():
        assert build.files[role].path == name
    assert manifest.labels == tuple(EMOTIONS)
    from emoedge.models.zoo import model_preprocess_spec, resolve_model_path

    side = model_preprocess_spec("zoo:mini_xception").height  # what its card states
    assert manifest.preprocess.to_dict() == {
        "height": side,
        "width": side,
        "channels": 1,
        "scale": "symmetric",
        "margin": FERPLUS_MARGIN,
        "shift": FERPLUS_SHIFT,
    }
    assert manifest.input.shape == (None, side, side, 1)

    assert manifest.model.sha256 == sha256_file(resolve_model_path("zoo:mini_xception"))
    assert manifest.calibration["images"] == 48
    assert manifest.calibration["class_counts"] == [6] * 8
    accuracy = manifest.accuracy
    assert accuracy.images == 24 and 0 <= accuracy.quantized_accuracy <= 1
    assert accuracy.drop_points == pytest.approx(
        (accuracy.float_accuracy - accuracy.quantized_accuracy) * 100, abs=1e-3
    )
    assert accuracy.max_drop == 100.0 and accuracy.override is None
    assert {"tensorflow", "numpy"} <= set(manifest.tools)
    # The 1/3.5 size goal is measured in benchmarks/results (quantization_*.md), not here.
    assert manifest.sizes.model_bytes < manifest.sizes.float_keras_bytes
    assert (
        manifest.sizes.float_keras_bytes == resolve_model_path("zoo:mini_xception").stat().st_size
    )
    assert manifest.detector.name == "blazeface"
    if manifest.detector.file:
        assert build.path("detector").is_file()
    readme = (build.root / "README.md").read_text()
    assert "pip install" in readme and "emoedge run" in readme
    assert not list(build.root.parent.glob(".*partial*"))


@pytest.mark.parametrize("target", TARGETS)
def test_an_exported_manifest_reads_and_writes_back_to_its_bytes(target, tmp_path):
    """The typed manifest is the whole contract: nothing the export wrote is lost or
    reordered on the way through `Manifest`."""
    build = Build.load(build_for(target))
    written = write_manifest(tmp_path, build.manifest)
    assert written.read_bytes() == (build.root / "manifest.json").read_bytes()


def test_tflite_int8_input_quantization_is_recorded():
    manifest = Build.load(build_for("rpi")).manifest
    assert manifest.input.dtype == "int8"
    assert manifest.input.scale == pytest.approx(2 / 255, rel=0.01)  # -1..1 in 256 steps
    assert manifest.quantization["per_channel_tensors"] > 0


def test_gate_fails_and_leaves_no_build(tmp_path):
    out = tmp_path / "gated"
    with pytest.raises(AccuracyGateError, match="--allow-drop"):
        export_build(
            "zoo:mini_xception",
            "rpi",
            out=out,
            data=FIXTURE,
            calibration_size=16,
            validation_size=24,
            max_drop=-100.0,
        )  # any result "drops" more than -100
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone too


def test_allow_drop_overrides_and_is_recorded(tmp_path):
    out = export_build(
        "zoo:mini_xception",
        "jetson",
        precision="fp32",
        out=tmp_path / "b",
        data=FIXTURE,
        validation_size=24,
        max_drop=-100.0,
        allow_drop=100.0,
    )
    accuracy = Build.load(out).manifest.accuracy
    assert accuracy.override["allow_drop"] == 100.0
    assert accuracy.max_drop == -100.0


def test_fp16_jetson_build_without_data(tmp_path):
    out = export_build("zoo:mini_xception", "jetson", precision="fp16", out=tmp_path / "b")
    manifest = Build.load(out).manifest
    assert manifest.precision == "fp16"
    assert (
        manifest.accuracy.quantized_accuracy is None and "no dataset" in manifest.accuracy.skipped
    )
    assert manifest.accuracy.parity.images == 64  # the shipped sample's valid faces
    assert manifest.accuracy.parity.agreement >= 0.95
    again = write_manifest(tmp_path, manifest)  # the record of a build without FER+, too
    assert again.read_bytes() == (out / "manifest.json").read_bytes()


@pytest.mark.parametrize("target", TARGETS)
def test_int8_without_data_calibrates_on_the_shipped_sample(target, tmp_path):
    """No FER+ anywhere: every converter calibrates on the package's sample, the built
    model runs in its runtime on the sample's parity faces, and the build says that
    accuracy was not measured instead of showing a figure from 64 faces."""
    from emoedge.data.sample import load_sample

    sample = load_sample()
    out = export_build("zoo:mini_xception", target, out=tmp_path / "b")
    manifest = Build.load(out).manifest
    calibration = manifest.calibration
    assert calibration["source"] == sample.calibration.source
    assert calibration["images"] == 128 and calibration["class_counts"] == [16] * 8
    accuracy = manifest.accuracy
    assert accuracy.float_accuracy is None and accuracy.quantized_accuracy is None
    assert accuracy.drop_points is None and accuracy.images == 0
    assert "not measured" in accuracy.skipped and "--data" in accuracy.skipped
    parity = accuracy.parity
    assert parity.sample == sample.parity.source and parity.images == 64
    assert parity.agreement >= 0.85  # int8 of a sound conversion: 0.97-0.98 here
    readme = (out / "README.md").read_text()
    assert "not measured" in readme and "agreement" in readme


def test_existing_out_is_refused_unless_forced(tmp_path):
    out = tmp_path / "b"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(UserInputError, match="exists"):
        export_build("zoo:mini_xception", "x86", precision="fp32", out=out)
    assert (out / "keep.txt").read_text() == "mine"
    export_build("zoo:mini_xception", "x86", precision="fp32", out=out, force=True)
    assert not (out / "keep.txt").exists() and Build.load(out).manifest.precision == "fp32"


def test_unknown_target(tmp_path):
    with pytest.raises(UserInputError, match="unknown target 'esp32'"):
        export_build("zoo:mini_xception", "esp32", out=tmp_path / "b")


def test_precision_the_target_does_not_take(tmp_path):
    with pytest.raises(UserInputError, match="fp16"):
        export_build("zoo:mini_xception", "rpi", precision="fp16", out=tmp_path / "b")


def test_missing_model(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        export_build(tmp_path / "nope.keras", "rpi", out=tmp_path / "b")
    with pytest.raises(UserInputError, match="no zoo model"):
        export_build("zoo:nope", "rpi", out=tmp_path / "b")


def test_truncated_model_file(tmp_path):
    from emoedge.models.zoo import resolve_model_path

    source = resolve_model_path("zoo:mini_xception").read_bytes()
    broken = tmp_path / "broken.keras"
    broken.write_bytes(source[: len(source) // 2])
    with pytest.raises(ModelFileError, match="not a loadable Keras model"):
        export_build(broken, "rpi", out=tmp_path / "b", data=FIXTURE)
    assert not (tmp_path / "b").exists()


def test_an_empty_calibration_folder_is_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserInputError, match="no images"):
        export_build("zoo:mini_xception", "rpi", out=tmp_path / "b", calibration=empty)
    assert not (tmp_path / "b").exists()


def test_calibration_from_a_folder(tmp_path):
    out = export_build(
        "zoo:mini_xception",
        "rpi",
        out=tmp_path / "b",
        calibration=FIXTURE / "FER2013Train",
        calibration_size=20,
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["quantization"]["calibration"]["images"] == 20
    assert manifest["quantization"]["calibration"]["source"].startswith("folder:")


def test_accuracy_controlled_openvino(tmp_path):
    out = export_build(
        "zoo:mini_xception",
        "x86",
        out=tmp_path / "b",
        data=FIXTURE,
        calibration_size=24,
        validation_size=24,
        accuracy_control=True,
        max_drop=1.0,
    )
    quantization = Build.load(out).manifest.quantization
    assert quantization["accuracy_control"] == {"max_drop_points": 1.0, "validation_images": 24}
    assert "accuracy control" in quantization["scheme"]


def test_accuracy_control_is_only_for_openvino(tmp_path):
    with pytest.raises(UserInputError, match="accuracy-control"):
        export_build(
            "zoo:mini_xception", "rpi", out=tmp_path / "b", data=FIXTURE, accuracy_control=True
        )
