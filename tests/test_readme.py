"""The README's Python example, run as written, on a real build."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from quant_builds import build_for

from emoedge.labels import EMOTIONS

REPO = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


@pytest.mark.slow
def test_the_readme_python_example_runs_as_written(tmp_path):
    """In a folder laid out as after `scripts/demo.sh` (builds/demo-rpi, the repo's
    fixtures), without touching the repo's own builds/."""
    blocks = [b for b in python_blocks((REPO / "README.md").read_text()) if "Pipeline" in b]
    assert len(blocks) == 1, blocks
    (tmp_path / "builds").mkdir()
    (tmp_path / "builds" / "demo-rpi").symlink_to(build_for("rpi"))
    (tmp_path / "tests").symlink_to(REPO / "tests")
    script = tmp_path / "example.py"
    script.write_text(blocks[0])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1, done.stdout  # one face in that photo
    track_id, label, score, box = lines[0].split(maxsplit=3)
    assert track_id == "1" and label in EMOTIONS
    assert 0.0 < float(score) <= 1.0
    assert re.fullmatch(r"\(\d+, \d+, \d+, \d+\)", box), box


def readme_commands(text: str) -> list[list[str]]:
    """Each `emoedge ...` the README shows, inline or indented, as arguments: the first
    of `a|b` alternatives, optional `[parts]` kept, shell redirections dropped."""
    found = re.findall(r"`(emoedge [^`]*)`", text) + re.findall(r"^ {4}(emoedge .*)$", text, re.M)
    commands = []
    for line in found:
        line = re.sub(r"\[([^\]]*)\]", r"\1", line.replace("\\|", "|")).split(">")[0]
        commands.append([token.split("|")[0] for token in shlex.split(line)[1:]])
    return commands


def test_every_command_the_readme_shows_exists_with_its_options():
    """A renamed command or option leaves the README stale; `--help` after the shown
    arguments fails on an unknown command or option without running anything."""
    from typer.testing import CliRunner

    from emoedge.cli import app

    commands = readme_commands((REPO / "README.md").read_text())
    assert len(commands) >= 20, commands
    runner = CliRunner()
    for arguments in commands:
        result = runner.invoke(app, [*arguments, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output, (arguments, result.output)
