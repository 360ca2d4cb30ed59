"""The bench's outputs: a rich table, and JSON, CSV, Markdown and PNG charts in a folder."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from emoedge.bench.derive import GOAL_FLOOR_RATIO, GOAL_FPS_RATIO, GOAL_PI4_FPS
from emoedge.bench.fingerprint import describe_device
from emoedge.bench.race import TURN_WARMUP_FRAMES

COLUMNS = (
    ("model", "model"),
    ("variant", "variant"),
    ("runtime", "runtime"),
    ("status", "status"),
    ("size_kb", "size KB"),
    ("accuracy", "acc %"),
    ("drop", "drop pts"),
    ("macro_f1", "macro-F1"),
    ("accuracy7", "acc7 %"),
    ("p50_1t", "p50 1t ms"),
    ("p95_1t", "p95 1t ms"),
    ("p50_all", "p50 all ms"),
    ("p95_all", "p95 all ms"),
    ("floor_ratio", "x floor 1t"),
    ("fps", "FPS e2e"),
    ("faces", "faces found"),
    ("race_ratio", "x peer race"),
    ("fps_ratio", "x peer sep"),
    ("stages", "stage shares"),
    ("rss_mb", "peak RSS MB"),
    ("reason", "reason"),
)


def _f(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def flat_row(row: dict) -> dict:
    acc = row.get("accuracy") or {}
    l1 = row.get("latency_1t") or {}
    la = row.get("latency_all") or {}
    pipe = row.get("pipeline") or {}
    shares = pipe.get("stage_share") or {}
    return {
        "model": row["model"],
        "variant": row["variant"],
        "runtime": row["runtime"],
        "status": row["status"],
        "size_kb": _f(row["bytes"] / 1024, ".1f") if row.get("bytes") else "",
        "accuracy": _f(acc.get("accuracy") and acc["accuracy"] * 100, ".2f"),
        "drop": _f(row.get("drop_points"), "+.2f"),
        "macro_f1": _f(acc.get("macro_f1"), ".3f"),
        "accuracy7": _f(acc.get("accuracy7") and acc["accuracy7"] * 100, ".2f"),
        "p50_1t": _f(l1.get("p50_ms"), ".3f"),
        "p95_1t": _f(l1.get("p95_ms"), ".3f"),
        "p50_all": _f(la.get("p50_ms"), ".3f"),
        "p95_all": _f(la.get("p95_ms"), ".3f"),
        "floor_ratio": _f(row.get("floor_ratio_1t"), ".1f"),
        "fps": _f(pipe.get("fps"), ".1f"),
        "faces": f"{pipe['faces']}/{pipe['frames']}" if pipe else "",
        "race_ratio": _f(row.get("race_ratio_to_peer"), ".1f"),
        "fps_ratio": _f(row.get("fps_ratio_to_peer"), ".1f"),
        "stages": " ".join(f"{k} {v:.0%}" for k, v in shares.items()),
        "rss_mb": _f(row.get("peak_rss_mb"), ".0f"),
        "reason": row.get("reason") or "",
    }


# the terminal table leaves the long columns (stage shares, reasons) to notes below it
TERMINAL_SKIP = ("runtime", "p95_1t", "p95_all", "stages", "reason", "macro_f1")


def rich_table(result: dict):
    """The table, then one note per row with its stage shares or failure reason."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    fp = result["fingerprint"]
    table = Table(
        title=f"emoedge bench on {describe_device(fp)}{' --quick' if result['quick'] else ''}"
    )
    columns = [(k, t) for k, t in COLUMNS if k not in TERMINAL_SKIP]
    for key, title in columns:
        table.add_column(
            title, justify="left" if key in ("model", "variant", "status") else "right"
        )
    notes = []
    for row in result["rows"]:
        flat = flat_row(row)
        colour = {"ok": "green", "failed": "red", "skipped": "yellow"}[row["status"]]
        flat["status"] = f"[{colour}]{flat['status']}[/{colour}]"
        flat["model"] = flat["model"].removeprefix("zoo:")
        table.add_row(*(flat[key] for key, _ in columns))
        detail = flat["reason"] or (f"stages: {flat['stages']}" if flat["stages"] else "")
        if detail:
            notes.append(
                Text(
                    f"{flat['model']} {row['variant']}: {detail}",
                    style="red" if row["status"] == "failed" else "",
                )
            )
    return Group(table, *notes)


def write_json(result: dict, folder: Path) -> Path:
    path = folder / "bench.json"
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    return path


def write_csv(result: dict, folder: Path) -> Path:
    path = folder / "bench.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=[key for key, _ in COLUMNS])
        writer.writeheader()
        for row in result["rows"]:
            writer.writerow(flat_row(row))
    return path


def goals_text(result: dict) -> list[str]:
    goals = result["goals"]
    peak = result.get("peak") or {}
    lines = ["## Goals", ""]
    lines.append(
        f"1. End-to-end FPS at least {GOAL_FPS_RATIO:g}x the peer's, with better "
        "accuracy (7 shared classes, FER+ test):"
    )
    if not goals["fps_vs_peer"]:
        lines.append("   - not measured (no int8 pipeline row, or the peer was skipped)")
    race = result.get("race") or {}
    if race.get("ratio"):
        lines.append(
            f"   The ratio judged is the race's: each int8 build and {race['peer']} loaded in a "
            f"process of their own, taking turns for {race['rounds']} rounds over the "
            f"{race['frames']} photos, the order alternating; a turn lasts about one of the "
            "peer's passes (ours runs as many whole passes as fit) after "
            f"{TURN_WARMUP_FRAMES} unrecorded frames. "
            "The median of the per-round ratios, range in brackets; the rows' own FPS, each "
            "from its own process minutes apart, give the 'separate' ratio."
        )
    elif race.get("error"):
        lines.append(f"   (race failed: {race['error']}; ratios from the separate rows)")
    for g in goals["fps_vs_peer"]:
        ratio = f"{g['ratio']:.1f}x" if g["ratio"] else "n/a"
        spread = g.get("ratio_race_range")
        if spread:
            ratio += f" [{spread[0]:.1f}-{spread[1]:.1f}]"
            if g.get("ratio_separate"):
                ratio += f" (separate: {g['ratio_separate']:.1f}x)"
        elif race.get("ratio") and g["ratio"]:
            ratio += " (separate rows: its race failed)"
        acc = (
            f"{g['accuracy7']:.2%} vs peer {g['peer_accuracy7']:.2%}"
            if g["accuracy7"] is not None and g["peer_accuracy7"] is not None
            else "n/a"
        )
        peer = f"{g['peer_fps']:.1f}" if g["peer_fps"] else "n/a"
        lines.append(
            f"   - {g['model']} {g['variant']}: {g['fps']:.1f} FPS vs peer {peer} "
            f"FPS = {ratio}; accuracy {acc}: **{'met' if g['met'] else 'NOT met'}**"
        )
    lines += [
        "",
        (
            f"2. int8 classifier latency within {GOAL_FLOOR_RATIO:g}x of its compute floor "
            "(MACs / this machine's measured peak at 1 thread):"
        ),
    ]
    if "error" in peak or not peak:
        lines.append(f"   - peak not measured: {peak.get('error', 'skipped')}")
    else:
        lines.append(
            f"   - peak measured with {peak['probe']} ({peak['probe_macs'] / 1e6:.0f} M MACs): "
            f"int8 {peak['int8_1t_gmacs']:.1f} GMAC/s at 1 thread, "
            f"{peak['int8_all_gmacs']:.1f} at {peak['cores']} threads; fp32 "
            f"{peak['fp32_1t_gmacs']:.1f} / {peak['fp32_all_gmacs']:.1f} GMAC/s. "
            "OpenVINO and ONNX Runtime rows use this LiteRT peak as a proxy."
        )
    for g in goals["int8_floor"]:
        lines.append(
            f"   - {g['model']} {g['variant']}: p50 {g['p50_1t_ms']:.3f} ms vs floor "
            f"{g['floor_1t_ms']:.3f} ms = {g['ratio_1t']:.1f}x: "
            f"**{'met' if g['met'] else 'NOT met'}**"
        )
    lines += [
        "",
        (
            f"3. On paper, at least {GOAL_PI4_FPS:g} FPS end to end on a Raspberry Pi 4 "
            "with one face (int8, 4 cores):"
        ),
    ]
    for e in goals["pi4"]:
        det = e["detector_macs"]
        lines.append(
            f"   - {e['model']}: classifier {e['classifier_macs'] / 1e6:.1f} M MACs + BlazeFace "
            f"short range {det / 1e6 if det else float('nan'):.1f} M MACs = "
            f"{e['macs_per_frame'] / 1e6:.1f} M MACs per frame. Pi 4 int8 peak "
            f"{e['peak_int8_gmacs']:.0f} GMAC/s ({e['cores']} x {e['ghz']} GHz x "
            f"{e['int8_mac_per_cycle_core']} MAC/cycle), assumed {e['assumed_efficiency']:.0%} "
            f"sustained = {e['sustained_int8_gmacs']:.0f} GMAC/s -> {e['compute_ms_per_frame']:.2f} ms "
            f"of inference ({e['fps_compute_only']:.0f} FPS compute only)"
            + (
                f"; plus non-model work measured here ({e['overhead_ms_here']:.2f} ms/frame) "
                f"x{e['overhead_factor']:g} for a Pi core = {e['ms_per_frame_with_overhead']:.2f} "
                f"ms -> **{e['fps_with_overhead']:.0f} FPS**"
                if e.get("fps_with_overhead")
                else ""
            )
            + f": **{'met' if e['met'] else 'NOT met'}** on paper."
        )
        lines.append(f"     Sources: {e['source']}.")
    return lines


def write_markdown(result: dict, folder: Path, command: str | None) -> Path:
    fp = result["fingerprint"]
    versions = ", ".join(f"{k} {v}" for k, v in fp["versions"].items())
    lines = [
        f"# emoedge bench: {result['started']}{' (--quick)' if result['quick'] else ''}",
        "",
        (
            f"Device: {describe_device(fp)} ({fp['machine']}, Python {fp['python']}); "
            f"{versions}. Fingerprint `{result['fingerprint_slug']}`."
        ),
        "",
    ]
    if result.get("interrupted"):
        lines += [
            f"**Interrupted** (Ctrl-C) during: {result['interrupted']}. The rows are those "
            "measured before it; the rest were not run, and the goals are judged on these alone.",
            "",
        ]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    s = result["settings"]
    lines += [
        (
            f"FER+ test majority protocol ({s['accuracy_limit'] or 'all'} images) from `{result['data']}`; "
            f"acc7 = the 7 classes shared with the peer (contempt images dropped). Latency: one face per "
            f"call, p50/p95 of {s['latency_iterations']} after {s['latency_warmup']} warm-up"
            f"{'' if s.get('keras_single_thread', True) else ' (Keras: all cores only)'}. FPS: "
            f"{result['frames']['count']} photos from `{result['frames']['folder']}` read from disk each "
            f"frame, {s['fps_passes']} pass(es), FPS the median pass, decode + detect + crop/classify + "
            "smooth; stage shares over all passes. x peer race: the median ratio of the race "
            "(int8 builds and the peer taking turns in the same minutes, see Goals); x peer sep: "
            "this row's FPS over the peer's row, measured minutes apart. Peak RSS: "
            "each variant measured in its own process. Drop: against Keras float32 of the same model "
            "(or the format's fp32 when Keras is not benched)."
        ),
        "",
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in result["rows"]:
        flat = flat_row(row)
        lines.append("| " + " | ".join(str(flat[k]).replace("|", "/") for k, _ in COLUMNS) + " |")
    lines += ["", *goals_text(result), ""]
    path = folder / "bench.md"
    path.write_text("\n".join(lines))
    return path


def write_charts(result: dict, folder: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in result["rows"] if r["status"] == "ok"]
    paths = []
    timed = [r for r in rows if r.get("latency_1t") or r.get("latency_all")]
    if timed:
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(timed)), 4.5))
        names = [f"{r['model'].removeprefix('zoo:')}\n{r['variant']}" for r in timed]
        x = range(len(timed))
        for offset, key, label in (
            (-0.2, "latency_1t", "1 thread"),
            (0.2, "latency_all", "all cores"),
        ):
            ax.bar(
                [i + offset for i in x],
                [(r.get(key) or {}).get("p50_ms", 0) for r in timed],
                width=0.4,
                label=f"p50 {label}",
            )
        ax.set_xticks(list(x), names, fontsize=7)
        ax.set_ylabel("classifier latency, ms (one face)")
        ax.set_yscale("log")
        ax.legend()
        ax.set_title("Classifier latency per format")
        fig.tight_layout()
        paths.append(folder / "latency.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    scored = [r for r in rows if r.get("accuracy") and r.get("bytes") and not r.get("peer")]
    if scored:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for r in scored:
            ax.scatter(r["bytes"] / 1024, r["accuracy"]["accuracy"] * 100)
            ax.annotate(
                f"{r['model'].removeprefix('zoo:')} {r['variant']}",
                (r["bytes"] / 1024, r["accuracy"]["accuracy"] * 100),
                fontsize=7,
            )
        ax.set_xlabel("model file size, KB")
        ax.set_ylabel("FER+ test accuracy, %")
        ax.set_title("Accuracy against size")
        fig.tight_layout()
        paths.append(folder / "accuracy_size.png")
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)
    return paths


def write_outputs(result: dict, out: Path, command: str | None = None) -> dict[str, Path]:
    folder = Path(out) / result["fingerprint_slug"]
    folder.mkdir(parents=True, exist_ok=True)
    result["command"] = command
    written = {
        "json": write_json(result, folder),
        "csv": write_csv(result, folder),
        "markdown": write_markdown(result, folder, command),
    }
    for path in write_charts(result, folder):
        written[path.stem] = path
    return written
