"""`emoedge bench --quick` end to end on the repo fixtures, with real exports and runtimes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emoedge.cli import app

REPO = Path(__file__).resolve().parents[1]
FRAMES = REPO / "tests" / "fixtures" / "wild" / "images"
runner = CliRunner()


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory, ferplus_fixture):
    """One quick run for the rpi target plus a deliberately broken variant (int4 does not exist)."""
    out = tmp_path_factory.mktemp("bench")
    result = runner.invoke(
        app,
        [
            "bench",
            "--quick",
            "--target",
            "rpi",
            "--variant",
            "tflite:int4",
            "--no-peer",
            "--no-floor",
            "--data",
            str(ferplus_fixture),
            "--frames",
            str(FRAMES),
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    folders = list(out.iterdir())
    assert len(folders) == 1, folders  # one device-fingerprint folder
    return result, folders[0]


def test_quick_bench_rows_and_statuses(quick_bench):
    _, folder = quick_bench
    data = json.loads((folder / "bench.json").read_text())
    rows = {(r["model"], r["variant"]): r for r in data["rows"]}
    assert {v for _, v in rows} == {
        "tflite:fp32",
        "tflite:int8",
        "tflite:int4",
        "fer-tflite",
        "fer-keras",
    }
    for variant in ("tflite:fp32", "tflite:int8"):
        row = rows[("zoo:mini_xception", variant)]
        assert row["status"] == "ok", row
        assert row["bytes"] > 10_000
        assert 0.0 <= row["accuracy"]["accuracy"] <= 1.0 and row["accuracy"]["images"] > 0
        assert (
            row["latency_1t"]["p50_ms"] > 0
            and row["latency_all"]["p95_ms"] >= row["latency_all"]["p50_ms"]
        )
        pipe = row["pipeline"]
        assert pipe["frames"] == len(list(FRAMES.glob("*.jpg"))) and pipe["fps"] > 0
        assert abs(sum(pipe["stage_share"].values()) - 1.0) < 1e-6
        assert row["peak_rss_mb"] > 20
    assert (
        rows[("zoo:mini_xception", "tflite:int8")]["bytes"]
        < rows[("zoo:mini_xception", "tflite:fp32")]["bytes"]
    )
    assert rows[("zoo:mini_xception", "tflite:int8")]["float_reference"] == "tflite:fp32"
    broken = rows[("zoo:mini_xception", "tflite:int4")]
    assert broken["status"] == "failed" and "int4" in broken["reason"]
    peers = [r for r in data["rows"] if r.get("peer")]
    assert peers and all(r["status"] == "skipped" and r["reason"] == "--no-peer" for r in peers)
    assert data["models"]["zoo:mini_xception"]["classifier_macs"] > 1_000_000


def test_quick_bench_outputs(quick_bench):
    result, folder = quick_bench
    for name in ("bench.json", "bench.csv", "bench.md", "latency.png", "accuracy_size.png"):
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0, name
    with (folder / "bench.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [r["variant"] for r in table][:3] == ["tflite:fp32", "tflite:int8", "tflite:int4"]
    assert table[2]["status"] == "failed" and "int4" in table[2]["reason"]
    markdown = (folder / "bench.md").read_text()
    assert "emoedge bench" in markdown and "| tflite:int8 |" in markdown and "## Goals" in markdown
    assert "tflite:int8" in result.output and "failed" in result.output


def test_bad_variant_is_a_user_error(tmp_path):
    result = runner.invoke(
        app, ["bench", "--quick", "--variant", "tensorrt:int8", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "tensorrt:int8" in result.output


def test_target_variants():
    from emoedge.bench.formats import variants_for_target

    assert [v.key for v in variants_for_target("jetson")] == ["onnx:fp32", "onnx:fp16", "onnx:int8"]
    assert len(variants_for_target(None)) == 7


def test_fps_is_the_median_pass_so_one_hiccup_does_not_move_a_row():
    from emoedge.bench.pipeline_fps import summarise

    # 3 passes of 10 frames; the third was slowed down fourfold by something else
    summary = summarise(30, 30, 2.5, {"decode": 100.0}, pass_seconds=[0.5, 0.4, 1.6])
    assert summary["pass_fps"] == pytest.approx([20.0, 25.0, 6.25])
    assert summary["fps"] == pytest.approx(20.0)
    assert summary["stage_ms"]["other"] == pytest.approx((2500.0 - 100.0) / 30)


def test_race_alternates_a_build_and_the_peer_in_turns(quick_bench):
    """Real int8 build and the real `fer` peer in one process, turns alternating."""
    pytest.importorskip("fer", reason="peer not installed (pip install --no-deps fer==25.10.3)")
    from emoedge.bench.race import PEER, race

    _, folder = quick_bench
    data = json.loads((folder / "bench.json").read_text())
    build = next(r["build"] for r in data["rows"] if r["variant"] == "tflite:int8")
    frames = [str(p) for p in sorted(FRAMES.glob("*.jpg"))[:3]]
    result = race({"key": "mx int8", "build": build, "frames": frames, "rounds": 3})
    assert result["peer"] == PEER and result["frames"] == 3
    assert len(result["fps"]["mx int8"]) == len(result["fps"][PEER]) == 3
    assert all(v > 0 for v in result["fps"]["mx int8"] + result["fps"][PEER])
    # the faster contender runs more passes per turn, so turns last about as long
    assert result["passes_per_turn"][PEER] == 1 and result["passes_per_turn"]["mx int8"] >= 1
    assert result["ratio"] == pytest.approx(
        [a / b for a, b in zip(result["fps"]["mx int8"], result["fps"][PEER], strict=True)]
    )
    assert min(result["ratio"]) <= result["ratio_median"] <= max(result["ratio"])


def test_goal_judges_the_race_ratio_over_the_separate_rows():
    from emoedge.bench.derive import derive

    row = {
        "model": "zoo:m",
        "variant": "tflite:int8",
        "format": "tflite",
        "runtime": "litert",
        "precision": "int8",
        "status": "ok",
        "pipeline": {"fps": 900.0, "faces": 134, "frames": 134},
        "accuracy": {"accuracy": 0.8, "accuracy7": 0.8},
    }
    peer = {
        "model": "fer",
        "variant": "fer-tflite",
        "precision": "int8",
        "status": "ok",
        "peer": True,
        "pipeline": {"fps": 100.0},
        "accuracy": {"accuracy7": 0.67},
    }
    result = {
        "rows": [row, peer],
        "models": {},
        "peak": None,
        # the separate rows say 9x; passes seconds apart say 10.5x in the median round
        "race": {"ratio": {"zoo:m tflite:int8": [9.8, 10.5, 11.0]}},
    }
    derived = derive(result)
    goal = derived["goals"]["fps_vs_peer"][0]
    assert goal["ratio_separate"] == pytest.approx(9.0)
    assert goal["ratio"] == pytest.approx(10.5) and goal["ratio_race_range"] == [9.8, 11.0]
    assert goal["met"]
    # the table shows both, each under its own name
    from emoedge.bench.report import flat_row

    flat = flat_row(derived["rows"][0])
    assert (flat["race_ratio"], flat["fps_ratio"]) == ("10.5", "9.0")


def test_build_cache_key_follows_the_detector_file(tmp_path, monkeypatch):
    """A new detector model must not be benched through a build cached with the old one."""
    from emoedge.bench.formats import Variant, build_dir
    from emoedge.targets.detectors.blazeface import BlazeFaceDetector

    variant = Variant("tflite", "int8")
    before = build_dir(tmp_path, "zoo:mini_xception", variant)
    other = tmp_path / "other_detector.tflite"
    other.write_bytes(b"another detector")
    monkeypatch.setattr(BlazeFaceDetector, "default_model_file", classmethod(lambda cls: other))
    assert build_dir(tmp_path, "zoo:mini_xception", variant) != before


def test_fingerprint_names_a_single_board_computer():
    """A Pi's or a Jetson's 64-bit /proc/cpuinfo names no CPU: the device tree's board
    name keeps their results apart (they would all be "aarch64")."""
    from emoedge.bench.fingerprint import describe_device, fingerprint_slug

    pi = {
        "cpu": "aarch64",
        "machine": "aarch64",
        "cores": 4,
        "logical_cpus": 4,
        "python": "3.11.2",
        "versions": {"ai-edge-litert": "2.3.0"},
        "board": "Raspberry Pi 4 Model B Rev 1.4",
    }
    assert fingerprint_slug(pi).startswith("raspberry-pi-4-model-b-rev-1-4-4c-")
    assert describe_device(pi) == "Raspberry Pi 4 Model B Rev 1.4, aarch64, 4 cores usable"
    no_board = {key: value for key, value in pi.items() if key != "board"}
    assert fingerprint_slug(no_board).startswith("aarch64-4c-")
    assert describe_device({**no_board, "gpu": "NVIDIA H100 80GB HBM3"}) == (
        "aarch64, GPU NVIDIA H100 80GB HBM3, 4 cores usable"
    )


def test_ctrl_c_keeps_the_rows_already_measured(quick_bench, ferplus_fixture, tmp_path):
    """Ctrl-C while the second variant is about to be measured (raised where the user's
    would land, between steps): the first row, measured for real, is kept and written,
    and the report says where the run stopped. `emoedge bench` then exits 130."""
    from emoedge.bench import BenchConfig, run_bench
    from emoedge.bench.formats import parse_variant
    from emoedge.bench.report import write_outputs
    from emoedge.bench.runner import Settings
    from emoedge.cache import cache_dir

    def ctrl_c_at_the_int8_measurement(message: str) -> None:
        if message.endswith("tflite:int8: accuracy, latency, pipeline"):
            raise KeyboardInterrupt

    config = BenchConfig(
        models=["zoo:mini_xception"],
        variants=[parse_variant("tflite:fp32"), parse_variant("tflite:int8")],
        data=Path(ferplus_fixture),
        frames=FRAMES,
        cache=cache_dir("bench"),
        settings=Settings.quick(),
        peer=False,
        floor=False,
        quick=True,
    )
    result = run_bench(config, on_step=ctrl_c_at_the_int8_measurement)
    assert result["interrupted"] == "zoo:mini_xception tflite:int8: accuracy, latency, pipeline"
    assert [(r["variant"], r["status"]) for r in result["rows"]] == [("tflite:fp32", "ok")]
    assert result["rows"][0]["pipeline"]["fps"] > 0
    written = write_outputs(result, tmp_path, "emoedge bench --quick")
    markdown = written["markdown"].read_text()
    assert "**Interrupted** (Ctrl-C) during: zoo:mini_xception tflite:int8" in markdown
    assert json.loads(written["json"].read_text())["interrupted"] == result["interrupted"]
