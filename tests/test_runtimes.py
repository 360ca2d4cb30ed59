"""Each build loads in its real runtime (LiteRT, OpenVINO, ONNX Runtime CPU) and agrees
with the float Keras model on real FER+ faces."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from quant_builds import TARGETS, build_for, fixture_test_inputs, float_model

from emoedge.errors import ManifestError, ModelFileError
from emoedge.targets.cpu import int8_sums_saturate
from emoedge.targets.manifest import Build
from emoedge.targets.runtimes import load_runtime

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=TARGETS)
def runtime(request):
    build = Build.load(build_for(request.param))
    return load_runtime(build, threads=2)


@pytest.fixture(scope="module")
def float_probs():
    inputs, _ = fixture_test_inputs()
    return float_model()(inputs, training=False).numpy()


def test_runtime_agrees_with_the_float_model(runtime, float_probs):
    inputs, _ = fixture_test_inputs()
    probs = runtime.predict(inputs)
    assert probs.shape == (len(inputs), 8) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.03)
    agreement = (probs.argmax(1) == float_probs.argmax(1)).mean()
    assert agreement >= 0.85, f"{runtime.name}: top-1 agreement {agreement:.2%} with float"
    # On an x86 CPU without VNNI OpenVINO's int8 kernels clip their int16 sums: one
    # fixture face moved by 0.32 there (Zen 2 EPYC), under 0.25 where sums are exact.
    bound = 0.4 if runtime.name == "openvino" and int8_sums_saturate() else 0.25
    assert np.abs(probs - float_probs).max() < bound


def test_any_batch_size_gives_the_same_answer(runtime):
    inputs, _ = fixture_test_inputs()
    whole = runtime.predict(inputs)
    for size in (1, 5):
        parts = np.concatenate(
            [runtime.predict(inputs[i : i + size]) for i in range(0, len(inputs), size)]
        )
        np.testing.assert_allclose(parts, whole, atol=1e-4)
    assert runtime.predict(inputs[0]).shape == (1, 8)  # a single HWC face
    empty = runtime.predict(inputs[:0])  # never reaches the engine; one column a label
    assert empty.shape == (0, len(runtime.build.labels)) and empty.dtype == np.float32


def test_runtime_threads_and_description(runtime):
    """The count asked for, capped at the cores this process may use (2 on a 1-core box
    would only add contention)."""
    cores = len(os.sched_getaffinity(0))
    assert runtime.describe()["threads"] == min(2, cores)
    build = Build.load(build_for("rpi"))
    assert load_runtime(build, threads=cores + 3).threads == cores
    assert load_runtime(build, threads=None).threads == cores


def test_onnxruntime_pool_threads_do_not_spin():
    """Spinning pool threads starved the face detector that runs next on every
    frame (benchmarks/results/classifier_threads_2026-11-27.md)."""
    runtime = load_runtime(Build.load(build_for("jetson")), threads=2)
    options = runtime._session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    assert options.intra_op_num_threads == min(2, len(os.sched_getaffinity(0)))


def test_tensorrt_keeps_its_engine_per_model_in_the_cache(tmp_path, monkeypatch):
    """No TensorRT here (CPU wheel): what a Jetson's session is given for it, and that
    the other providers go as they are."""
    from emoedge.targets.runtimes.onnxruntime import provider_entry

    monkeypatch.setenv("EMOEDGE_CACHE", str(tmp_path))
    build = Build.load(build_for("jetson"))
    name, options = provider_entry("TensorrtExecutionProvider", build)
    folder = tmp_path / "tensorrt" / build.files["model"].sha256[:16]
    assert name == "TensorrtExecutionProvider" and folder.is_dir()
    assert options == {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(folder)}
    assert provider_entry("CUDAExecutionProvider", build) == "CUDAExecutionProvider"


def test_gpu_sessions_pad_every_call_to_one_batch_size():
    """A GPU session takes this path on load (CUDA re-searched cuDNN's algorithms at
    every new batch size, seconds each on an H100); no GPU here, so it is switched on
    for the CPU session to check that padding and slicing leave every answer as is."""
    from emoedge.targets.runtimes.onnxruntime import GPU_BATCH

    build = Build.load(build_for("jetson"))
    plain = load_runtime(build, threads=1)
    padded = load_runtime(build, threads=1)
    padded._use_one_gpu_batch()
    seen = []
    real_run = padded._session.run
    padded._session.run = lambda names, feed: (
        seen.append(len(feed[padded._input.name])) or (real_run(names, feed))
    )
    side = build.preprocess.height
    faces = np.random.default_rng(0).random((2 * GPU_BATCH + 3, side, side, 1), dtype=np.float32)
    for count in (1, 5, GPU_BATCH, len(faces)):
        np.testing.assert_allclose(
            padded.predict(faces[:count]), plain.predict(faces[:count]), atol=1e-5
        )
    assert set(seen) == {GPU_BATCH}


def test_int8_onnx_build_on_an_x86_cpu_says_it_is_not_the_jetsons_speed(caplog, monkeypatch):
    from emoedge.targets import cpu
    from emoedge.targets.runtimes import onnxruntime as module

    build = Build.load(build_for("jetson"))
    hint = "int8 ONNX build on an x86 CPU: ONNX Runtime runs part of it in float"
    for machine, expected in (("x86_64", True), ("aarch64", False)):
        monkeypatch.setattr(cpu.platform, "machine", lambda machine=machine: machine)
        caplog.clear()
        with caplog.at_level("INFO", logger=module.__name__):
            load_runtime(build, threads=1)
        assert (hint in caplog.text) is expected, machine


@pytest.mark.parametrize("target", TARGETS)
def test_tampered_build_is_refused(target, tmp_path):
    copy = shutil.copytree(build_for(target), tmp_path / "build")
    model = Build.load(copy).path("model")
    with model.open("r+b") as handle:  # same size, one byte changed
        handle.seek(model.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, 1)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ManifestError, match="checksum"):
        Build.load(copy)


@pytest.mark.parametrize("target", TARGETS)
def test_truncated_model_is_a_clear_error(target, tmp_path):
    copy = shutil.copytree(build_for(target), tmp_path / "build")
    build = Build.load(copy)
    model = build.path("model")
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    with pytest.raises(ManifestError, match="checksum"):
        Build.load(copy)
    with pytest.raises(ModelFileError, match="cannot load"):
        load_runtime(Build.load(copy, verify=False))


@pytest.mark.parametrize("target", TARGETS)
def test_a_model_that_is_not_what_its_manifest_says_is_refused_at_load(target, tmp_path):
    """The manifest's preprocessing or labels edited away from the model's own: refused
    when the runtime loads, not at the first face (a traceback, or with OpenVINO's
    one-face buffer, a wrong answer for a same-sized input of another shape)."""
    import json

    copy = shutil.copytree(build_for(target), tmp_path / "build")
    manifest_path = copy / "manifest.json"
    original = json.loads(manifest_path.read_text())
    side = original["preprocess"]["height"]
    wrong_size = json.loads(json.dumps(original))
    wrong_size["preprocess"]["height"] = wrong_size["preprocess"]["width"] = side + 16
    manifest_path.write_text(json.dumps(wrong_size))
    with pytest.raises(ManifestError, match=f"the model takes {side}x{side}x1 inputs"):
        load_runtime(Build.load(copy))
    fewer_labels = json.loads(json.dumps(original))
    fewer_labels["labels"] = fewer_labels["labels"][:7]
    manifest_path.write_text(json.dumps(fewer_labels))
    with pytest.raises(ManifestError, match="the model has 8 outputs, the manifest 7 labels"):
        load_runtime(Build.load(copy))


def test_a_broken_onnx_model_is_not_blamed_on_a_provider(tmp_path, caplog):
    """ONNX Runtime's own fallback is off (it printed to stdout); ours tries the next
    provider only when a provider fails, not when the model file does."""
    from emoedge.targets.runtimes.onnxruntime import OnnxRuntime

    copy = shutil.copytree(build_for("jetson"), tmp_path / "build")
    model = Build.load(copy).path("model")
    model.write_bytes(model.read_bytes()[: model.stat().st_size // 3])
    runtime = OnnxRuntime(threads=1, providers=["AzureExecutionProvider", "CPUExecutionProvider"])
    with pytest.raises(ModelFileError, match="cannot load"):
        runtime.load(Build.load(copy, verify=False))
    assert "could not start" not in caplog.text


def test_runtimes_do_not_import_tensorflow():
    code = (
        "import sys\n"
        "import emoedge.targets.runtimes.litert, emoedge.targets.runtimes.openvino, "
        "emoedge.targets.runtimes.onnxruntime\n"
        "bad = [m for m in ('tensorflow', 'keras', 'nncf', 'tf2onnx') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_thread_count_is_capped_at_the_cores_we_may_use():
    import os

    from emoedge.targets.runtimes import runtime_class

    cores = len(os.sched_getaffinity(0))
    assert runtime_class("litert")(threads=cores + 8).threads == cores
    assert runtime_class("litert")(threads=None).threads == cores


def test_int8_input_keeps_every_gray_level_apart():
    """The rpi build's int8 input: each of the 256 gray levels, preprocessed as the
    device does, lands on a code of its own (pixel - 128), not on a neighbour's."""
    from emoedge.data.preprocess import preprocess_batch
    from emoedge.targets.runtimes.base import quantize_input

    runtime = load_runtime(Build.load(build_for("rpi")), threads=1)
    levels = np.arange(256, dtype=np.uint8)
    faces = [np.full((64, 64), level, dtype=np.uint8) for level in levels]
    inputs = preprocess_batch(faces, runtime.build.preprocess)
    scale, zero_point = runtime._input["quantization"]
    codes = quantize_input(inputs, scale, zero_point, np.int8)[:, 0, 0, 0]
    assert runtime.build.manifest.input.rounding.startswith("half up")
    assert np.array_equal(codes.astype(int), levels.astype(int) - 128)


@pytest.mark.parametrize("clips", [True, False])
def test_int8_onnx_build_runs_unfused_where_x86_int8_kernels_clip(clips, monkeypatch, caplog):
    """On an x86 CPU without VNNI, ONNX Runtime's fused int8 kernels clip their int16
    sums (3.1 points lost on FER+ valid on a Zen 2 EPYC): there the QDQ graph runs
    unfused, which gives the quantized model's own answers, the same as the graph
    with no optimization at all. Where the kernels are exact the fused graph runs."""
    import onnxruntime as ort

    from emoedge.targets import cpu
    from emoedge.targets.runtimes import onnxruntime as module

    monkeypatch.setattr(cpu.platform, "machine", lambda: "x86_64")
    flags = {"avx2"} if clips else {"avx2", "avx512_vnni"}
    monkeypatch.setattr(cpu, "this_cpu_flags", lambda: frozenset(flags))
    build = Build.load(build_for("jetson"))
    with caplog.at_level("INFO", logger=module.__name__):
        runtime = load_runtime(build, threads=1)
    level = runtime._session_options.graph_optimization_level
    expected = (
        ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        if clips
        else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    )
    assert level == expected
    assert ("has no VNNI" in caplog.text) is clips
    if clips:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        plain = ort.InferenceSession(
            str(build.path("model")), options, providers=["CPUExecutionProvider"]
        )
        inputs, _ = fixture_test_inputs()
        reference = plain.run(None, {plain.get_inputs()[0].name: inputs})[0]
        np.testing.assert_allclose(runtime.predict(inputs), reference, atol=1e-5)
