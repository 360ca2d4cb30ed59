"""Quantizers on their own: calibration sets, the registry, and a nested-backbone model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from quant_builds import FIXTURE

from emoedge.compare import quantized_build
from emoedge.data.preprocess import PreprocessSpec
from emoedge.errors import UserInputError
from emoedge.quantization import QUANTIZERS, CalibrationSet, ConvertRequest, get_quantizer
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime

SPEC = PreprocessSpec()


def test_calibration_from_ferplus_is_class_balanced_and_preprocessed():
    calibration = CalibrationSet.from_ferplus(FIXTURE, SPEC, size=40)
    assert calibration.inputs.shape == (40, 64, 64, 1) and calibration.inputs.dtype == np.float32
    assert calibration.inputs.min() >= -1.0 and calibration.inputs.max() <= 1.0
    assert calibration.describe()["class_counts"] == [5] * 8
    assert sum(len(b) for b in calibration.batches(16)) == 40


def test_calibration_from_folder(tmp_path):
    calibration = CalibrationSet.from_folder(FIXTURE / "FER2013Test", SPEC)
    assert len(calibration) == 26 and calibration.labels is None
    assert len(CalibrationSet.from_folder(FIXTURE / "FER2013Test", SPEC, size=5)) == 5


def test_equal_batches_share_one_shape():
    # ONNX Runtime's percentile calibrator stacks batch outputs: a short last batch breaks it.
    calibration = CalibrationSet(np.zeros((500, 8, 8, 1), np.float32), source="zeros")
    shapes = {batch.shape for batch in calibration.batches(32, equal=True)}
    assert shapes == {(25, 8, 8, 1)}
    assert sum(len(b) for b in calibration.batches(32)) == 500
    assert {b.shape[0] for b in calibration.batches(32)} == {32, 20}


def test_empty_or_missing_calibration_folder(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(UserInputError, match="no images"):
        CalibrationSet.from_folder(tmp_path / "empty", SPEC)
    with pytest.raises(UserInputError, match="not found"):
        CalibrationSet.from_folder(tmp_path / "missing", SPEC)


def test_registry():
    assert set(QUANTIZERS) == {"tflite", "openvino", "onnx"}
    with pytest.raises(UserInputError, match="unknown model format 'coreml'"):
        get_quantizer("coreml")
    with pytest.raises(UserInputError, match="does not support precision 'int4'"):
        get_quantizer("onnx").check_precision("int4")


def test_importing_quantization_does_not_import_tensorflow():
    code = (
        "import sys, emoedge.quantization, emoedge.compare\n"
        "assert 'tensorflow' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture(scope="module")
def nested_model():
    """MobileNetV2 (a keras.applications model nested inside ours), briefly fitted on the
    fixture so its outputs are not uniform."""
    from emoedge.data.ferplus import load_ferplus
    from emoedge.models import build_model

    model = build_model("mobilenet_v2", input_size=64, alpha=0.35)
    faces = load_ferplus(FIXTURE, "train")
    x = faces.to_inputs(SPEC)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, faces.labels, epochs=3, batch_size=16, verbose=0)
    return model, x


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "openvino", "onnx"])
def test_nested_backbone_converts_to_int8(fmt, nested_model, tmp_path):
    model, x = nested_model
    calibration = CalibrationSet(inputs=x, source="fixture train")
    quantizer = get_quantizer(fmt)
    artifact = quantizer.quantize(ConvertRequest(model, calibration, "int8", tmp_path))
    assert artifact.precision == "int8" and (tmp_path / artifact.files["model"]).is_file()
    runtime = load_runtime(quantized_build(tmp_path / artifact.files["model"]), threads=2)
    assert isinstance(runtime.build, Build)
    probs = runtime.predict(x[:16])
    reference = model(x[:16], training=False).numpy()
    assert probs.shape == (16, 8)
    # An untrained-ish network is a hard case for int8 (tiny logit gaps); the
    # probabilities must still track the float model closely.
    assert np.abs(probs - reference).mean() < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "openvino", "onnx"])
def test_per_tensor_weights_make_a_smaller_model_that_still_runs(fmt, tmp_path):
    """The zoo model per channel (default) and per tensor: the per-channel parameters
    are what the per-tensor file saves, and the manifest says which scheme it is."""
    from emoedge.models.zoo import load_keras_model, model_preprocess_spec

    model = load_keras_model("zoo:mini_xception")
    calibration = CalibrationSet.from_ferplus(
        FIXTURE, model_preprocess_spec("zoo:mini_xception"), size=40
    )
    quantizer = get_quantizer(fmt)
    sizes, outputs = {}, {}
    for per_channel in (True, False):
        folder = tmp_path / ("channel" if per_channel else "tensor")
        artifact = quantizer.quantize(
            ConvertRequest(model, calibration, "int8", folder, per_channel)
        )
        assert artifact.params["weights"].startswith(
            "int8 symmetric, " + ("per-channel" if per_channel else "per-tensor")
        )
        sizes[per_channel] = sum(path.stat().st_size for path in folder.iterdir())
        runtime = load_runtime(quantized_build(folder / artifact.files["model"]), threads=2)
        outputs[per_channel] = runtime.predict(calibration.inputs[:16])
        if fmt == "tflite":
            assert (artifact.params["per_channel_tensors"] > 0) is per_channel
    assert sizes[False] < sizes[True]
    reference = model(calibration.inputs[:16], training=False).numpy()
    assert np.abs(outputs[False] - reference).mean() < 0.05
