"""Tie the bench together: variants x models, each measured in its own process.

One failing variant never stops the table: its export or measurement error
becomes the row's `reason` and the next variant runs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from emoedge.bench.formats import Variant, make_build, unavailable_reason
from emoedge.bench.memory import run_isolated

log = logging.getLogger(__name__)


@dataclass
class Settings:
    """How hard to measure. `quick` trades precision for a run under a minute."""

    accuracy_limit: int | None = None  # FER+ test images (None: all 3,137)
    latency_warmup: int = 50
    latency_iterations: int = 300
    fps_passes: int = 5
    fps_warmup: int = 5
    race_rounds: int = 7  # each int8 build against the peer, in alternating turns
    frames_limit: int | None = None
    peak_repeats: int = 5
    # Keras float's one-thread latency needs a TensorFlow process of its own (TF fixes
    # its threads once per process): 5-8 s a model for a row no device runs.
    keras_single_thread: bool = True

    @classmethod
    def quick(cls) -> Settings:
        return cls(
            accuracy_limit=300,
            latency_warmup=10,
            latency_iterations=60,
            fps_passes=1,
            fps_warmup=2,
            race_rounds=0,  # a process per build to race the peer: too slow for a quick look
            frames_limit=8,
            peak_repeats=3,
            keras_single_thread=False,
        )


@dataclass
class BenchConfig:
    models: list[str]
    variants: list[Variant]
    data: Path | None
    frames: Path | None
    cache: Path
    settings: Settings = field(default_factory=Settings)
    peer: bool = True
    floor: bool = True
    target: str | None = None
    quick: bool = False


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


# ---- what runs in the child processes -------------------------------------------------------


def measure_variant(job: dict) -> dict:
    """Accuracy, latency (1 thread and all cores) and pipeline FPS of one variant."""
    from emoedge.bench.accuracy import evaluate, load_test_faces
    from emoedge.bench.latency import measure_latency
    from emoedge.bench.pipeline_fps import pipeline_fps
    from emoedge.evaluation import load_predictor

    build = Path(job["build"]) if job["build"] else None
    s = Settings(**job["settings"])
    result: dict = {}
    thread_settings = job["threads"]  # e.g. [None, 1]: None = all cores
    for threads in thread_settings:
        predict, spec, _ = load_predictor(build or job["model"], threads=threads)
        faces = load_test_faces(job["data"], s.accuracy_limit) if job["data"] else None
        if threads is None and faces is not None:
            result["accuracy"] = evaluate(predict, faces, spec)
        sample = (
            faces.limit(64).to_inputs(spec)
            if faces is not None
            else np.random.default_rng(0).uniform(-1, 1, (64, *spec.input_shape)).astype(np.float32)
        )
        label = "all" if threads is None else f"{threads}t"
        result[f"latency_{label}"] = measure_latency(
            predict, sample, s.latency_warmup, s.latency_iterations
        )
    if job["frames"] and build is not None and None in thread_settings:
        result["pipeline"] = pipeline_fps(
            build, [Path(p) for p in job["frames"]], passes=s.fps_passes, warmup=s.fps_warmup
        )
    return result


def measure_peer(job: dict) -> dict:
    from emoedge.bench.accuracy import load_test_faces
    from emoedge.bench.peer import _make, peer_accuracy, peer_fps

    s = Settings(**job["settings"])
    detector = _make(job["use_tflite"])
    result: dict = {}
    if job["data"]:
        result["accuracy"] = peer_accuracy(detector, load_test_faces(job["data"], s.accuracy_limit))
    if job["frames"]:
        result["pipeline"] = peer_fps(
            detector, [Path(p) for p in job["frames"]], passes=s.fps_passes, warmup=s.fps_warmup
        )
    return result


def measure_macs(model_ref: str) -> dict:
    from emoedge.bench.floor import detector_macs
    from emoedge.models import count_macs
    from emoedge.models.zoo import load_keras_model
    from emoedge.tf_env import import_tf

    import_tf()
    model = load_keras_model(model_ref)
    return {
        "classifier_macs": count_macs(model),
        "parameters": int(model.count_params()),
        "detector": detector_macs("blazeface"),
    }


def measure_peak_job(repeats: int) -> dict:
    from emoedge.bench.floor import measure_peak

    return measure_peak(repeats)


# ---- the parent ---------------------------------------------------------------------------


def _model_bytes(build: Path) -> int:
    from emoedge.targets.manifest import Build

    return Build.load(build, verify=False).manifest.sizes.model_bytes


def _peak(config: BenchConfig, fingerprint_slug: str, step) -> dict | None:
    cached = config.cache / f"peak-{fingerprint_slug}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    if not config.floor:
        return None
    step("measuring this machine's peak MAC rate (LiteRT, big convolution)")
    try:
        peak = run_isolated(measure_peak_job, config.settings.peak_repeats)
    except Exception as exc:
        log.warning("peak measurement failed: %s", _error(exc))
        return {"error": _error(exc)}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(peak, indent=2))
    return peak


def _macs(config: BenchConfig, model: str, step) -> dict:
    """Operation counts of a model and of the face detector, kept in the bench cache
    by both files' sha256: counting imports TensorFlow in a process of its own (4-5 s
    a model)."""
    from emoedge.models.zoo import resolve_model_path
    from emoedge.targets.detectors import detector_class
    from emoedge.targets.manifest import sha256_file

    try:
        files = [resolve_model_path(model), detector_class("blazeface").default_model_file()]
    except Exception as exc:  # an unknown zoo name or a missing file: the row says why
        return {"error": _error(exc)}
    key = hashlib.sha256(
        "".join(sha256_file(Path(f)) if f else "-" for f in files).encode()
    ).hexdigest()[:16]
    cached = config.cache / f"macs-{key}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    try:
        step(f"{model}: counting operations")
        macs = run_isolated(measure_macs, model)
    except Exception as exc:
        return {"error": _error(exc)}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(macs, indent=2))
    return macs


def _bench_variant(
    config: BenchConfig, model: str, variant: Variant, frames: list[str], step
) -> dict:
    row: dict = {
        "model": model,
        "variant": variant.key,
        "format": variant.format,
        "precision": variant.precision,
        "runtime": variant.runtime,
        "status": "ok",
        "reason": None,
    }
    reason = unavailable_reason(variant)
    if reason:
        return {**row, "status": "failed", "reason": reason}
    try:
        step(f"{model} {variant.key}: export")
        build = make_build(model, variant, config.cache, config.data)
        if build is not None:
            row["build"] = str(build)
            row["bytes"] = _model_bytes(build)
        else:
            from emoedge.models.zoo import resolve_model_path

            row["bytes"] = resolve_model_path(model).stat().st_size
        job = {
            "model": model,
            "variant": asdict(variant),
            "build": str(build) if build else None,
            "data": str(config.data) if config.data else None,
            "frames": frames,
            "settings": asdict(config.settings),
        }
        step(f"{model} {variant.key}: accuracy, latency, pipeline")
        if variant.format == "keras":  # TF fixes its thread count once per process
            row.update(run_isolated(measure_variant, {**job, "threads": [None]}))
            if config.settings.keras_single_thread:
                single = run_isolated(measure_variant, {**job, "threads": [1], "data": None})
                row["latency_1t"] = single["latency_1t"]
        else:
            row.update(run_isolated(measure_variant, {**job, "threads": [None, 1]}))
    except Exception as exc:
        log.warning("%s %s failed: %s", model, variant.key, _error(exc))
        row.update(status="failed", reason=_error(exc))
    return row


def _bench_peer(config: BenchConfig, frames: list[str], step) -> list[dict]:
    from emoedge.bench.peer import PEER_VARIANTS, peer_available, peer_version

    rows = []
    for name, use_tflite in PEER_VARIANTS.items():
        row = {
            "model": f"fer {peer_version() or ''}".strip(),
            "variant": name,
            "format": "tflite" if use_tflite else "keras",
            "precision": "int8" if use_tflite else "fp32",
            "runtime": "tf.lite" if use_tflite else "keras",
            "status": "ok",
            "reason": None,
            "peer": True,
        }
        if not config.peer:
            rows.append({**row, "status": "skipped", "reason": "--no-peer"})
            continue
        missing = peer_available()
        if missing:
            rows.append({**row, "status": "skipped", "reason": missing})
            continue
        try:
            step(f"peer {name}: accuracy and pipeline")
            job = {
                "use_tflite": use_tflite,
                "data": str(config.data) if config.data else None,
                "frames": frames,
                "settings": asdict(config.settings),
            }
            row.update(run_isolated(measure_peer, job))
        except Exception as exc:
            row.update(status="failed", reason=_error(exc))
        rows.append(row)
    return rows


def _race(config: BenchConfig, rows: list[dict], frames: list[str], step) -> dict | None:
    """Each int8 build against the peer in turns, a process per build (bench/race.py)."""
    from emoedge.bench.race import PEER, race

    peer_ok = any(r.get("peer") and r["variant"] == PEER and r["status"] == "ok" for r in rows)
    builds = {
        f"{r['model']} {r['variant']}": r["build"]
        for r in rows
        if r["status"] == "ok" and r.get("pipeline") and r["precision"] == "int8" and r.get("build")
    }
    if not (peer_ok and builds and frames and config.settings.race_rounds):
        return None
    races: dict[str, dict] = {}
    for key, build in builds.items():
        step(f"race: {key} against {PEER}, {config.settings.race_rounds} rounds")
        job = {"key": key, "build": build, "frames": frames, "rounds": config.settings.race_rounds}
        try:
            races[key] = run_isolated(race, job)
        except Exception as exc:
            log.warning("race of %s failed: %s", key, _error(exc))
            races[key] = {"error": _error(exc)}
    return {
        "peer": PEER,
        "rounds": config.settings.race_rounds,
        "frames": len(frames),
        "ratio": {key: r["ratio"] for key, r in races.items() if "ratio" in r},
        "builds": races,
    }


def run_bench(config: BenchConfig, on_step: Callable[[str], None] | None = None) -> dict:
    """Measure every (model, variant) and the peer; return the full result document."""
    from emoedge.bench.derive import derive
    from emoedge.bench.fingerprint import device_fingerprint, fingerprint_slug
    from emoedge.bench.pipeline_fps import frame_paths

    report_step = on_step or (lambda message: log.info("%s", message))
    last_step = "starting"

    def step(message: str) -> None:
        nonlocal last_step
        last_step = message
        report_step(message)

    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    fp = device_fingerprint()
    slug = fingerprint_slug(fp)
    frames = (
        [str(p) for p in frame_paths(config.frames, config.settings.frames_limit)]
        if config.frames
        else []
    )
    started = datetime.now(UTC)
    peak: dict | None = None
    rows: list[dict] = []
    models: dict[str, dict] = {}
    race: dict | None = None
    interrupted = None
    # A full bench takes minutes (far longer on a Pi): Ctrl-C keeps what was measured.
    try:
        peak = _peak(config, slug, step)
        for model in config.models:
            models[model] = _macs(config, model, step)
            for variant in config.variants:
                rows.append(_bench_variant(config, model, variant, frames, step))
        rows.extend(_bench_peer(config, frames, step))
        race = _race(config, rows, frames, step)
    except KeyboardInterrupt:
        interrupted = last_step
        log.warning("interrupted during %s: keeping the %d rows measured", interrupted, len(rows))
    result = {
        "schema": "emoedge.bench/1",
        "started": started.isoformat(timespec="seconds"),
        "seconds": (datetime.now(UTC) - started).total_seconds(),
        "fingerprint": fp,
        "fingerprint_slug": slug,
        "quick": config.quick,
        "target": config.target,
        "settings": asdict(config.settings),
        "data": str(config.data) if config.data else None,
        "frames": {"folder": str(config.frames) if config.frames else None, "count": len(frames)},
        "peak": peak,
        "models": models,
        "rows": rows,
        "race": race,
        "interrupted": interrupted,
    }
    return derive(result)
