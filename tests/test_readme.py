"""The README's Python example, run as written, on a real build."""

from __future__ import annotations

import json
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
    """In a folder laid out as after `scripts/demo.sh` (builds/mobilenet_v2-rpi-int8,
    here the session's rpi build, whose model the example does not care about; the
    repo's fixtures), without touching the repo's own builds/."""
    blocks = [b for b in python_blocks((REPO / "README.md").read_text()) if "Pipeline" in b]
    assert len(blocks) == 1, blocks
    (tmp_path / "builds").mkdir()
    (tmp_path / "builds" / "mobilenet_v2-rpi-int8").symlink_to(build_for("rpi"))
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


def quick_start_commands(text: str) -> list[list[str]]:
    """The `emoedge` lines of the README's quick-start block, as arguments, in order
    (comments dropped)."""
    section = text.split("## Quick start", 1)
    assert len(section) == 2, "the README has no '## Quick start' section"
    block = re.search(r"```bash\n(.*?)```", section[1], re.DOTALL)
    assert block, "the quick start has no bash block"
    lines = [shlex.split(line, comments=True) for line in block.group(1).splitlines()]
    return [line for line in lines if line and line[0] == "emoedge"]


@pytest.mark.slow
def test_the_readme_quick_start_runs_in_order(tmp_path):
    """Each command as written, in a fresh checkout's layout: FER+ where the default
    location points (../shared/datasets/ferplus, here the repo's fixture), no
    EMOEDGE_DATA, no builds/ yet. The export needs no dataset; the build it writes is
    the one the later commands name."""
    commands = quick_start_commands((REPO / "README.md").read_text())
    assert [c[1] for c in commands[:3]] == ["export", "doctor", "run"], commands
    assert {"evaluate", "compare"} <= {c[1] for c in commands}, commands
    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    (tmp_path / "shared" / "datasets" / "ferplus").symlink_to(REPO / "tests/fixtures/ferplus")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "tests").symlink_to(REPO / "tests")
    env = {k: v for k, v in os.environ.items() if k != "EMOEDGE_DATA"}
    env["PYTHONWARNINGS"] = "ignore"
    emoedge = Path(sys.executable).with_name("emoedge")  # the console script, as typed
    stdout = {}
    for arguments in commands:
        done = subprocess.run(
            [str(emoedge), *arguments[1:]],
            cwd=checkout,
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, (arguments, done.stdout[-2000:], done.stderr[-2000:])
        stdout[arguments[1]] = done.stdout
    assert "build: builds/mobilenet_v2-rpi-int8" in stdout["export"]
    assert "accuracy: not measured" in stdout["export"]
    assert stdout["run"].strip(), "run printed no faces"
    report = checkout / "builds" / "mobilenet_v2-rpi-int8.compare-test" / "report.json"
    assert json.loads(report.read_text())["data"]["images"] == 24  # the fixture's test split
