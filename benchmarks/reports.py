"""How a benchmark script hands in its report: one Markdown file under
benchmarks/results and the same text on stdout, so a run shows what it wrote."""

from __future__ import annotations

import sys
from pathlib import Path


def report_head(title: str, today: str, script: str, *options: object) -> list[str]:
    """The lines a result file starts with: what it measured and on which day, and
    the command that wrote it (`script` is the caller's __file__), so it can be rerun."""
    command = " ".join(["python", f"benchmarks/{Path(script).name}", *map(str, options)])
    return [f"# {title} ({today})", "", f"Command: `{command}`", ""]


def write_report(lines: list[str], path: Path) -> None:
    text = "\n".join(lines) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(text)
    print(f"written to {path}", file=sys.stderr)


def print_report(lines: list[str], path: Path | None) -> None:
    """For scripts whose --out is optional: the report on stdout, and in `path`
    too when one is given (no "written to" line: stdout is the result)."""
    text = "\n".join(lines) + "\n"
    if path:
        path.write_text(text)
    print(text)
