"""The format table: the one place that ties a format to its suffix, runtime,
precisions, targets and quantizer options, and what reads it."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from emoedge.errors import UserInputError
from emoedge.quantization import QUANTIZERS, ConvertRequest, get_quantizer
from emoedge.targets.formats import FORMATS, format_for_suffix, format_for_target, get_format
from emoedge.targets.profiles import PROFILES, TargetProfile
from emoedge.targets.runtimes import RUNTIMES

ROOT = Path(__file__).resolve().parents[1]


def test_every_device_format_has_a_quantizer_a_runtime_and_a_target():
    device = {name for name, row in FORMATS.items() if row.targets}
    assert device == set(QUANTIZERS) == {"tflite", "openvino", "onnx"}
    for name in device:
        row = FORMATS[name]
        assert row.runtime in RUNTIMES
        assert format_for_suffix(row.suffix.upper()) is row
        for target in row.targets:
            assert PROFILES[target].format == name
            assert PROFILES[target].model_format.runtime == row.runtime
    assert {format_for_target(t).name for t in PROFILES} == device
    assert format_for_suffix(".keras") is None  # a float model is no build


def test_a_profile_offers_only_precisions_its_format_has():
    for profile in PROFILES.values():
        assert set(profile.precisions) <= set(profile.model_format.precisions)


def test_an_option_the_format_does_not_take_is_refused_before_converting(tmp_path):
    # No model at all: the request is refused before anything would touch it.
    with pytest.raises(
        UserInputError, match="tflite quantization does not take option 'accuracy_control'"
    ):
        get_quantizer("tflite").quantize(
            ConvertRequest(None, None, "int8", tmp_path, options={"accuracy_control": True})
        )
    with pytest.raises(UserInputError, match="does not take option 'symmetric_activations'"):
        get_quantizer("openvino").quantize(
            ConvertRequest(None, None, "int8", tmp_path, options={"symmetric_activations": False})
        )
    with pytest.raises(UserInputError, match="'per_channel' applies to int8, not fp32"):
        get_quantizer("onnx").quantize(ConvertRequest(None, None, "fp32", tmp_path, False))
    with pytest.raises(UserInputError, match="does not support precision 'int4'"):
        get_quantizer("onnx").quantize(ConvertRequest(None, None, "int4", tmp_path))
    assert not any(tmp_path.iterdir())


def test_each_quantizer_takes_the_options_its_table_row_names():
    """The row says which options a format takes; the backend's `options_type` gives
    their defaults: the two name the same options."""
    for fmt in QUANTIZERS:
        quantizer = get_quantizer(fmt)
        names = {option.name for option in fields(quantizer.options_type)}
        assert names == set(get_format(fmt).options), fmt


def test_the_table_refuses_an_unknown_format():
    with pytest.raises(UserInputError, match="unknown model format 'coreml'"):
        get_format("coreml")


#: the tables the format table replaced; none may come back
OLD_TABLES = (
    r"\bSUFFIX_RUNTIMES\b",
    r"\bFORMAT_TARGET\b",
    r"\bFORMAT_RUNTIME\b",
    r"\bRUNTIME_MODULE\b",
    r"^\s+runtime = \"(litert|openvino|onnxruntime)\"",  # Quantizer.runtime
    r"^\s+runtime=\"(litert|openvino|onnxruntime)\",",  # a profile's runtime
    r"format\s*[!=]=\s*\"openvino\"",  # export's hard-coded OpenVINO check
    r"\"\.(tflite|onnx|xml)\"\s*:\s*\(",  # suffix -> (format, runtime)
    r"\"(tflite|onnx)\"\s*:\s*\"(litert|onnxruntime)\"",  # format -> runtime
)


def test_the_format_table_is_the_only_map_of_formats_to_runtimes():
    sources = [
        path
        for folder in ("toolkit", "models", "quantization", "targets", "benchmarks")
        for path in (ROOT / folder).rglob("*.py")
        if "results" not in path.parts
    ]
    assert ROOT / "targets" / "formats.py" in sources
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sources
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if any(re.search(pattern, line) for pattern in OLD_TABLES)
    ]
    assert found == []
    assert "runtime" not in {f.name for f in fields(TargetProfile)}
    for fmt in QUANTIZERS:
        assert not hasattr(get_quantizer(fmt), "runtime")
