"""End-to-end FPS of each build at several classifier thread counts: the numbers
behind each target profile's `threads`.

The detector and the classifier run one after the other on every frame, each
with its own thread pool, so the classifier's best thread count is the one that
makes the *pipeline* fastest, not the one that makes the classifier alone
fastest. Each (build, threads) runs in a fresh process (a runtime's idle pool
from an earlier setting would otherwise still be alive), in rounds that
alternate the settings, and the median round is reported.

    python benchmarks/classifier_threads.py BUILD [BUILD ...] [--threads 1 0] [--rounds 3]
        [--frames ../shared/datasets/wild-sample/images] [--out benchmarks/results/classifier_threads_<date>.md]

BUILD is an `emoedge export` folder. Threads 0 means all cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from reports import print_report  # same folder: run as a script


def _one(build: str, threads: int, frames: str, passes: int) -> dict:
    from emoedge.bench.pipeline_fps import frame_paths, pipeline_fps

    result = pipeline_fps(Path(build), frame_paths(Path(frames)), passes=passes, threads=threads)
    return {"fps": result["fps"], "stage_ms": result["stage_ms"]}


def measure(build: str, threads: int, frames: str, passes: int) -> dict:
    """One setting in a fresh interpreter: nothing left over from the last one."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[5]); from classifier_threads import _one; "
        "print(json.dumps(_one(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]))))"
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            build,
            str(threads),
            frames,
            str(passes),
            str(Path(__file__).parent),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise SystemExit(f"{build} threads={threads} failed:\n{completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def describe_build(build: str) -> str:
    from emoedge.targets.manifest import Build

    manifest = Build.load(build, verify=False).manifest
    model = manifest.model.name if manifest.model else "?"
    return f"{model} {manifest.runtime.name} {manifest.precision}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+")
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--frames", default="../shared/datasets/wild-sample/images")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    runs: dict[tuple[str, int], list[dict]] = {}
    for round_index in range(args.rounds):
        for build in args.builds:
            for threads in args.threads:
                result = measure(build, threads, args.frames, args.passes)
                runs.setdefault((build, threads), []).append(result)
                print(
                    f"round {round_index + 1} {build} threads={threads}: {result['fps']:.1f} FPS",
                    file=sys.stderr,
                    flush=True,
                )

    lines = [
        f"# Classifier threads and end-to-end FPS, {dt.date.today().isoformat()}",
        "",
        f"Machine: {os.cpu_count()} cores. Command:",
        "",
        "    python benchmarks/classifier_threads.py " + " ".join(sys.argv[1:]),
        "",
        f"FPS: whole pipeline (decode, detect, crop/classify, smooth) over the photos in "
        f"`{args.frames}`, {args.passes} passes, each setting in a fresh process; median of "
        f"{args.rounds} rounds (all rounds in brackets). Threads: the classifier's "
        "(0 = all cores); the BlazeFace detector keeps its own 2 LiteRT threads.",
        "",
        "| build | classifier | threads | FPS (median) | rounds | detect ms | classify ms |",
        "|---|---|---:|---:|---|---:|---:|",
    ]
    for (build, threads), results in runs.items():
        fps = [r["fps"] for r in results]
        median = sorted(results, key=lambda r: r["fps"])[len(results) // 2]
        lines.append(
            f"| `{build}` | {describe_build(build)} | {threads or 'all'} | "
            f"{statistics.median(fps):.0f} | {', '.join(f'{v:.0f}' for v in fps)} | "
            f"{median['stage_ms']['detect']:.3f} | {median['stage_ms']['classify']:.3f} |"
        )
    print_report(lines, args.out)


if __name__ == "__main__":
    main()
