"""One default FER+ location for every command (`emoedge.data.location`), and the one
line a user gets when it is not there."""

from __future__ import annotations

import json

import pytest
import typer.main
from typer.testing import CliRunner

from emoedge.cli import app
from emoedge.data.location import DATA_ENV, DEFAULT_FERPLUS

runner = CliRunner()


def _data_option(*names: str):
    """The click parameter behind `--data` of `emoedge NAME [SUBNAME]`."""
    command = typer.main.get_command(app)
    for name in names:
        command = command.commands[name]
    return next(p for p in command.params if p.name == "data")


@pytest.mark.parametrize(
    "command", [("evaluate",), ("compare",), ("models", "publish"), ("train",)]
)
def test_commands_that_read_ferplus_share_one_default_and_one_variable(command):
    option = _data_option(*command)
    assert option.default == DEFAULT_FERPLUS and option.envvar == DATA_ENV
    assert not option.required  # compare required it: `--data` was missing from the README's form


@pytest.mark.parametrize("command", [("export",), ("bench",)])
def test_export_and_bench_read_the_same_variable(command):
    """Their default is not a folder (the shipped sample; the repo fixture for --quick),
    but the variable that points every command at FER+ is the same."""
    assert _data_option(*command).envvar == DATA_ENV


@pytest.mark.slow
def test_compare_reads_the_default_location(tmp_path, monkeypatch):
    """The README's `emoedge compare zoo:mini_xception BUILD --split test`, run from a
    checkout whose ../shared/datasets/ferplus holds FER+ (here the repo's fixture)."""
    from quant_builds import FIXTURE, build_for

    (tmp_path / "shared" / "datasets").mkdir(parents=True)
    (tmp_path / "shared" / "datasets" / "ferplus").symlink_to(FIXTURE)
    (tmp_path / "checkout").mkdir()
    monkeypatch.chdir(tmp_path / "checkout")
    monkeypatch.delenv(DATA_ENV, raising=False)
    build = build_for("rpi")
    result = runner.invoke(
        app, ["compare", "zoo:mini_xception", str(build), "--split", "test", "--out", "report"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "checkout" / "report" / "report.json").read_text())
    assert report["data"]["images"] == 24  # the fixture's test split


@pytest.mark.slow
@pytest.mark.parametrize(
    "arguments",
    [
        ["evaluate", "zoo:mini_xception", "--split", "test"],
        ["compare", "zoo:mini_xception", "BUILD", "--split", "test"],
    ],
    ids=["evaluate", "compare"],
)
def test_a_missing_default_location_says_how_to_point_at_ferplus(arguments, tmp_path, monkeypatch):
    from quant_builds import build_for

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATA_ENV, raising=False)
    arguments = [str(build_for("rpi")) if a == "BUILD" else a for a in arguments]
    result = runner.invoke(app, [*arguments, "--out", str(tmp_path / "report")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.output
    for part in (str(DEFAULT_FERPLUS), "the default location", "--data", DATA_ENV, "FER2013Train"):
        assert part in errors[0], (part, errors[0])
