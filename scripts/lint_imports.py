"""Check the layering contracts in pyproject.toml ([tool.importlinter]) with lint-imports.

import-linter finds a package's modules by walking the folder the package is
imported from, but `emoedge` is spread over four folders (pyproject's
`package-dir`: toolkit/ is `emoedge`, models/ is `emoedge.models`, ...), so from
the source tree it would see only toolkit/. This lays the package out as it is
installed, one symlink per source file in a temporary folder, and runs
lint-imports on that. `--add DEST=SRC` puts another file into the layout (the
test that shows a wrong import fails does so without writing into the repo).
Exits with lint-imports' status.

    python scripts/lint_imports.py
    python scripts/lint_imports.py --add emoedge/targets/probe.py=/tmp/probe.py
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def stage(dest: Path, root: Path = ROOT) -> None:
    """The installed layout of every package in pyproject's package-dir, under `dest`."""
    config = tomllib.loads((root / "pyproject.toml").read_text())
    for package, folder in config["tool"]["setuptools"]["package-dir"].items():
        source = root / folder
        target = dest.joinpath(*package.split("."))
        for path in source.rglob("*.py"):
            link = target / path.relative_to(source)
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--add", action="append", default=[], metavar="DEST=SRC", help="an extra file to lay out"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="emoedge-lint-imports-") as tmp:
        staged = Path(tmp)
        stage(staged)
        for item in args.add:
            dest, _, src = item.partition("=")
            link = staged / dest
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(src).resolve())
        env = {**os.environ, "PYTHONPATH": str(staged)}
        lint = Path(sys.executable).with_name("lint-imports")
        command = [
            str(lint) if lint.exists() else "lint-imports",
            "--no-cache",
            str(ROOT / "pyproject.toml"),
        ]
        return subprocess.run(command, env=env, cwd=staged).returncode


if __name__ == "__main__":
    sys.exit(main())
