"""Every command with an output folder stops before any work, with one line naming
the option, when that folder cannot be made (here: a path under a regular file, which
fails for root too). They used to end in an OSError traceback, `emoedge bench` after
all its measurements."""

from __future__ import annotations

import csv
import io

import pytest
from typer.testing import CliRunner

from emoedge.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        ["export", "--target", "rpi"],
        ["evaluate", "zoo:mini_xception", "--split", "test"],
        ["compare", "zoo:mini_xception", "{fixture}", "--split", "test"],
        ["bench", "--quick", "--target", "rpi", "--no-peer", "--no-floor"],
        ["train", "--epochs", "1"],
    ],
    ids=lambda command: command[0],
)
def test_an_out_folder_under_a_file_is_one_line_before_any_work(command, tmp_path, ferplus_fixture):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    args = [str(ferplus_fixture) if a == "{fixture}" else a for a in command]
    result = runner.invoke(
        app, [*args, "--data", str(ferplus_fixture), "--out", str(blocker / "out")]
    )
    assert result.exit_code == 2, result.output
    assert f"cannot write --out there: {blocker} is a file" in result.output
    assert "Traceback" not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["a_file"]  # nothing written beside it


def test_events_export_to_a_file_under_a_file(tmp_path):
    from emoedge.daemon.eventlog import EventLog, MinuteAggregate

    log = EventLog(tmp_path / "events.db")
    log.commit(minutes=[MinuteAggregate(0, 3, 2, 1, {"surprise": 2})])
    log.close()
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = runner.invoke(
        app, ["events", "export", str(tmp_path / "events.db"), "-o", str(blocker / "x.csv")]
    )
    assert result.exit_code == 2, result.output
    assert f"cannot write --output there: {blocker} is a file" in result.output
    written = runner.invoke(
        app, ["events", "export", str(tmp_path / "events.db"), "--table", "minutes"]
    )
    assert written.exit_code == 0, written.output
    (row,) = csv.DictReader(io.StringIO(written.stdout))
    assert row["count_surprise"] == "2"
