"""The bench's outputs: a rich table, and JSON, CSV, Markdown and PNG charts in a folder."""

from __future__ import annotations

import csv
import json
import math
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


#: an accuracy cell on too few test images (derive.MIN_ACCURACY_IMAGES): no figure
NOT_MEANINGFUL = "—"
ACCURACY_KEYS = ("accuracy", "drop", "macro_f1", "accuracy7")
#: never shortened in the terminal: without them fp32 and int8 rows look alike
IDENTIFYING = ("model", "variant")


def _f(value, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def accuracy_shown(result: dict) -> bool:
    """Whether accuracy figures are printed at all (derive.accuracy_sample)."""
    return bool(result["accuracy_sample"]["meaningful"])


def accuracy_note(result: dict) -> str | None:
    """Why the accuracy cells hold no figure, when they hold none."""
    sample = result["accuracy_sample"]
    if sample["meaningful"] or not sample["images"]:
        return None
    return (
        f"Accuracy not meaningful ({NOT_MEANINGFUL}): {sample['images']} FER+ test images give "
        f"a standard error of up to ±{sample['standard_error_points']:.1f} points; figures are "
        f"shown from {sample['min_images']} images"
    )


def sample_text(result: dict) -> str:
    """What the figures were measured on, counted, not what was asked for: --quick asked
    for 300 images and 8 photos and said so, on a fixture that held 24 and 6."""
    images = result["accuracy_sample"]["images"]
    photos = result["frames"]["count"]
    return (
        f"measured on {images or 'no'} FER+ test images"
        + (f" from {result['data']}" if result.get("data") else "")
        + f", {photos} photos"
        + (f" from {result['frames']['folder']}" if photos else "")
    )


def flat_row(row: dict, accuracy: bool = True) -> dict:
    """One row's cells as text; `accuracy` False puts NOT_MEANINGFUL in the accuracy
    cells that have a figure (see `accuracy_note`)."""
    flat = _flat_cells(row)
    if not accuracy:
        flat.update({k: NOT_MEANINGFUL for k in ACCURACY_KEYS if flat[k]})
    return flat


def _flat_cells(row: dict) -> dict:
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


class SplitTable:
    """A table as wide as the console allows, split into several when it is not, each
    repeating the identifying columns: rich fits a wide table to an 80-column terminal
    by cutting every cell ("mini_xcep…", "openvino…", "8…"), and rows then cannot be
    told apart nor read. No cell or header word is cut here (headers wrap between
    words), unless the identifying columns and one other are wider than the console.
    """

    # a column's share of the borders and padding of rich's default table
    CHROME = 3

    def __init__(
        self,
        title: str,
        columns: list[tuple[str, str]],
        rows: list[dict[str, str]],
        identifying: tuple[str, ...],
        left: tuple[str, ...] = (),
    ) -> None:
        from rich.text import Text

        self.title = title
        self.titles = dict(columns)
        self.keys = [key for key, _ in columns]
        self.rows = rows
        self.identifying = identifying
        self.left = left
        cells = {key: [Text.from_markup(row[key]).cell_len for row in rows] for key in self.keys}
        # narrowest: whole cells, the header wrapped between words; natural: header on a line
        self.narrowest = {
            key: max(*cells[key], *(len(word) for word in self.titles[key].split()))
            for key in self.keys
        }
        self.natural = {key: max(*cells[key], len(self.titles[key])) for key in self.keys}

    def width(self, keys: list[str], widths: dict[str, int]) -> int:
        return 1 + sum(widths[key] + self.CHROME for key in keys)

    def table(self, keys: list[str], title: str | None, max_width: int):
        """One table; its columns fixed at their narrowest when their natural width does
        not fit (rich's own squeeze cuts cells before it wraps headers)."""
        from rich.table import Table

        squeeze = self.width(keys, self.natural) > max_width
        table = Table(title=title)
        for key in keys:
            table.add_column(
                self.titles[key],
                justify="left" if key in self.left else "right",
                width=self.narrowest[key] if squeeze else None,
            )
        for row in self.rows:
            table.add_row(*(row[key] for key in keys))
        return table

    def groups(self, max_width: int) -> list[list[str]]:
        """The other columns packed in order into tables no wider than `max_width`."""
        ids = [key for key in self.keys if key in self.identifying]
        groups: list[list[str]] = []
        for key in (key for key in self.keys if key not in self.identifying):
            if groups and self.width(ids + groups[-1] + [key], self.narrowest) <= max_width:
                groups[-1].append(key)
            else:
                groups.append([key])
        return [ids + group for group in groups] or [ids]

    def __rich_console__(self, console, options):
        for index, keys in enumerate(self.groups(options.max_width)):
            yield self.table(keys, self.title if index == 0 else None, options.max_width)


def rich_table(result: dict):
    """The table, a line saying what it was measured on, and one note per row with its
    stage shares or failure reason."""
    from rich.console import Group
    from rich.text import Text

    fp = result["fingerprint"]
    columns = [(k, t) for k, t in COLUMNS if k not in TERMINAL_SKIP]
    cells = []
    notes = [Text(sample_text(result))]
    if accuracy_note(result):
        notes.append(Text(accuracy_note(result)))
    for row in result["rows"]:
        flat = flat_row(row, accuracy_shown(result))
        colour = {"ok": "green", "failed": "red", "skipped": "yellow"}[row["status"]]
        flat["status"] = f"[{colour}]{flat['status']}[/{colour}]"
        flat["model"] = flat["model"].removeprefix("zoo:")
        cells.append(flat)
        detail = flat["reason"] or (f"stages: {flat['stages']}" if flat["stages"] else "")
        if detail:
            notes.append(
                Text(
                    f"{flat['model']} {row['variant']}: {detail}",
                    style="red" if row["status"] == "failed" else "",
                )
            )
    table = SplitTable(
        f"emoedge bench on {describe_device(fp)}{' --quick' if result['quick'] else ''}",
        columns,
        cells,
        identifying=IDENTIFYING,
        left=(*IDENTIFYING, "status"),
    )
    return Group(table, *notes)


def peer_ratio(goal: dict, result: dict) -> tuple[str, str | None]:
    """A goal's FPS ratio to the peer, and what qualifies it: its spread when raced,
    else that it is unreliable (rows measured minutes apart: two identical quick runs
    gave one build 5.8x and 8.8x)."""
    if not goal["ratio"]:
        return "n/a", None
    figure = f"{goal['ratio']:.1f}x"
    if goal["ratio_source"] == "race":
        low, high = goal["ratio_race_range"]
        separate = goal.get("ratio_separate")
        return figure, f"race, {low:.1f}-{high:.1f}" + (
            f"; separate rows {separate:.1f}x" if separate else ""
        )
    why = "--quick does not race" if result["quick"] else "its race failed"
    return figure, f"unreliable: separate runs minutes apart, {why}"


def peer_ratio_lines(result: dict) -> list[str]:
    """One line per int8 build for the terminal, under the table."""
    lines = []
    for goal in result["goals"]["fps_vs_peer"]:
        if goal["ratio"]:
            figure, qualifier = peer_ratio(goal, result)
            lines.append(
                f"{goal['model'].removeprefix('zoo:')} {goal['variant']}: {figure} the peer's FPS"
                + (f" ({qualifier})" if qualifier else "")
            )
    return lines


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
            writer.writerow(flat_row(row, accuracy_shown(result)))
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
        figure, qualifier = peer_ratio(g, result)
        ratio = figure + (f" ({qualifier})" if qualifier else "")
        if accuracy_note(result):
            acc = "not meaningful on so few test images"
        elif g["accuracy7"] is not None and g["peer_accuracy7"] is not None:
            acc = f"{g['accuracy7']:.2%} vs peer {g['peer_accuracy7']:.2%}"
        else:
            acc = "n/a"
        peer = f"{g['peer_fps']:.1f}" if g["peer_fps"] else "n/a"
        verdict = "not judged" if g["met"] is None else ("met" if g["met"] else "NOT met")
        lines.append(
            f"   - {g['model']} {g['variant']}: {g['fps']:.1f} FPS vs peer {peer} "
            f"FPS = {ratio}; accuracy {acc}: **{verdict}**"
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
    images = result["accuracy_sample"]["images"]
    lines += [
        (
            f"FER+ test majority protocol ({images or 'no'} images) from `{result['data']}`; "
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
        *([f"**{accuracy_note(result)}.**", ""] if accuracy_note(result) else []),
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in result["rows"]:
        flat = flat_row(row, accuracy_shown(result))
        lines.append("| " + " | ".join(str(flat[k]).replace("|", "/") for k, _ in COLUMNS) + " |")
    lines += ["", *goals_text(result), ""]
    path = folder / "bench.md"
    path.write_text("\n".join(lines))
    return path


PRECISION_COLOURS = {"fp32": "tab:blue", "fp16": "tab:green", "int8": "tab:orange"}


def _interval_points(accuracy: dict) -> float:
    """Half the 95% interval of one accuracy, in points (normal approximation)."""
    p, n = accuracy["accuracy"], accuracy["images"]
    return 1.96 * math.sqrt(p * (1 - p) / n) * 100


def _pyplot():
    """pyplot on the file-only backend: the bench runs on headless devices."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def accuracy_size_figure(result: dict):
    """(figure, file name) of accuracy and size, one row per (model, variant) rather
    than a scatter: fp32 builds of one model share their accuracy and nearly their size,
    and a scatter drew them, labels and all, on one spot. Size on a log axis (KB to MB);
    accuracy with its 95% interval, on an axis only as wide as the figures, and no
    accuracy axis (size.png) when the sample is too small to mean anything
    (`accuracy_note`). None when nothing has a size."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    rows = [
        r for r in result["rows"] if r["status"] == "ok" and r.get("bytes") and not r.get("peer")
    ]
    if not rows:
        return None
    scored = accuracy_shown(result) and all(r.get("accuracy") for r in rows)
    plt = _pyplot()
    fig, axes = plt.subplots(
        1,
        2 if scored else 1,
        sharey=True,
        squeeze=False,
        figsize=(10 if scored else 7, 1.5 + 0.3 * len(rows)),
        layout="constrained",
    )
    y = list(range(len(rows)))
    colours = [PRECISION_COLOURS.get(r["precision"], "tab:gray") for r in rows]
    size_ax = axes[0][-1]
    kb = [r["bytes"] / 1024 for r in rows]
    size_ax.barh(y, kb, color=colours)
    for i, value in enumerate(kb):
        size_ax.annotate(f" {value:,.0f}", (value, i), va="center", fontsize=7)
    size_ax.set_xscale("log")
    size_ax.set_xlim(min(kb) / 2, max(kb) * 3)  # room for the value labels
    size_ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:,.0f}"))
    size_ax.set_xlabel("model file size, KB (log scale)")
    first = axes[0][0]
    first.set_yticks(y, [f"{r['model'].removeprefix('zoo:')} {r['variant']}" for r in rows])
    first.invert_yaxis()  # the table's order, top down
    if scored:
        acc = [r["accuracy"]["accuracy"] * 100 for r in rows]
        half = [_interval_points(r["accuracy"]) for r in rows]
        for i in y:
            first.errorbar(acc[i], i, xerr=half[i], fmt="o", color=colours[i], capsize=3)
        low = min(a - h for a, h in zip(acc, half, strict=True))
        high = max(a + h for a, h in zip(acc, half, strict=True))
        first.set_xlim(low - 1, high + 1)
        first.set_xlabel(
            f"FER+ test accuracy, % ({result['accuracy_sample']['images']} images, 95% interval)"
        )
    for ax in axes[0]:
        ax.grid(axis="x", alpha=0.3)
        for i in range(1, len(rows)):  # a rule between models
            if rows[i]["model"] != rows[i - 1]["model"]:
                ax.axhline(i - 0.5, color="gray", linewidth=0.6)
    present = [p for p in PRECISION_COLOURS if any(r["precision"] == p for r in rows)]
    fig.legend(
        [Patch(color=PRECISION_COLOURS[p]) for p in present],
        present,
        loc="outside lower center",
        ncols=len(present),
        fontsize=8,
        frameon=False,
    )
    images = result["accuracy_sample"]["images"]
    fig.suptitle(
        "Accuracy and size per format"
        if scored
        else "Model file size per format\n"
        + (f"(no accuracy: {images} test images are too few)" if images else "(no accuracy)")
    )
    return fig, "accuracy_size.png" if scored else "size.png"


def write_charts(result: dict, folder: Path) -> list[Path]:
    plt = _pyplot()
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
    chart = accuracy_size_figure(result)
    if chart is not None:
        figure, name = chart
        paths.append(folder / name)
        figure.savefig(paths[-1], dpi=120)
        plt.close(figure)
    return paths


def fresh_results_folder(out: Path, slug: str) -> Path:
    """OUT/<fingerprint>, or OUT/<fingerprint>-2, -3, ... when a bench is already
    there: a later partial run (one target, one model, Ctrl-C) must not replace a
    complete one, nor leave the other run's chart beside its own."""
    folder = Path(out) / slug
    number = 1
    while (folder / "bench.json").exists():
        number += 1
        folder = Path(out) / f"{slug}-{number}"
    return folder


def write_outputs(result: dict, out: Path, command: str | None = None) -> dict[str, Path]:
    folder = fresh_results_folder(out, result["fingerprint_slug"])
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
