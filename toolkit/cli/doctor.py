"""`emoedge doctor`: what this machine can run, and whether a build runs on it."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from emoedge.cli import app
from emoedge.cli.common import out, print_table, user_errors

MARKS = {
    "ok": "[green]ok[/green]",
    "info": "info",
    "warn": "[yellow]warn[/yellow]",
    "fail": "[red]FAIL[/red]",
}


@app.command()
@user_errors
def doctor(
    build: Path | None = typer.Argument(
        None, help="A build folder to load and run once, as `emoedge run` would.", metavar="[BUILD]"
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object instead of the table."),
) -> None:
    """Check this machine: OpenCV and its video input (FFmpeg, GStreamer, V4L2), the
    runtimes and ONNX Runtime's providers, cameras, the cache folder.

    With BUILD, also verify its checksums, load its runtime (and show which ONNX
    Runtime provider really started: TensorRT listed without its libraries falls
    back to CUDA or the CPU), classify one blank face and run the face detector on
    one blank frame. Exit code 1 when a check fails. Example:

      emoedge doctor builds/mini_xception-jetson-int8
    """
    from emoedge.doctor import FAIL, build_checks, environment_checks

    checks = environment_checks()
    if build is not None:
        checks += build_checks(build)
    if as_json:
        out.print_json(json.dumps({"checks": [check.to_dict() for check in checks]}))
    else:
        table = Table(title="emoedge doctor" + (f": {build}" if build else ""))
        for column in ("check", "status", "detail"):
            table.add_column(column, overflow="fold")
        for check in checks:
            table.add_row(check.area, MARKS[check.status], check.detail)
        print_table(table)
    if any(check.status == FAIL for check in checks):
        raise typer.Exit(1)
