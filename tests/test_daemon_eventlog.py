"""The event log (real SQLite in WAL mode) and the change detector that feeds it."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from emoedge.daemon.eventlog import EventLog, MinuteAggregate, SegmentOpen, export_events
from emoedge.daemon.events import ChangeDetector, MinuteAggregator
from emoedge.errors import UserInputError


def frame(*faces):
    """A frame result in `FrameResult.to_dict()` shape (the detector reads either form)."""
    return {"faces": [{"track_id": t, "label": label, "score": s} for t, label, s in faces]}


def test_wal_and_durable_commit_counts_only_committed(tmp_path):
    path = tmp_path / "ev.db"
    log = EventLog(path)
    assert log.journal_mode == "wal"
    opened = log.commit(
        opened=[SegmentOpen(1, "happiness", 100.0), SegmentOpen(2, "neutral", 100.5)]
    )
    assert [s.id for s in opened] == [1, 2] and log.written == 2 and log.last_id == 2
    # A second connection (another process would see the same) reads what was acknowledged.
    other = sqlite3.connect(path)
    assert other.execute("SELECT COUNT(*) FROM segments").fetchone()[0] == 2
    other.close()
    log.close()


def test_restart_marks_dangling_segments_interrupted(tmp_path):
    path = tmp_path / "ev.db"
    first = EventLog(path)
    first.commit(opened=[SegmentOpen(1, "sadness", 10.0)])
    # no close(): like a kill -9
    second = EventLog(path)
    assert second.recovered == 1
    rows = second.rows("segments")
    assert rows[0]["interrupted"] == 1 and rows[0]["end"] is None
    second.commit(opened=[SegmentOpen(1, "anger", 20.0)])
    assert [r["session"] for r in second.rows("segments")] == [first.session, second.session]


def test_minutes_merge_and_retention(tmp_path):
    log = EventLog(tmp_path / "ev.db")
    log.commit(minutes=[MinuteAggregate(600, 10, 4, 1, {"happiness": 4})])
    log.commit(minutes=[MinuteAggregate(600, 5, 2, 1, {"happiness": 1, "neutral": 1})])
    (row,) = log.rows("minutes")
    assert (row["frames"], row["faces"], row["tracks"]) == (15, 6, 2)
    assert row["counts"] == {"happiness": 5, "neutral": 1}
    log.commit(opened=[SegmentOpen(1, "neutral", 100.0), SegmentOpen(2, "neutral", 90_000.0)])
    removed = log.prune(retention_days=1.0, now=100_000.0)  # cutoff 13_600
    assert removed == 2
    assert [r["start"] for r in log.rows("segments")] == [90_000.0]
    assert log.count("minutes") == 0


def test_export_csv_and_json(tmp_path):
    path = tmp_path / "ev.db"
    log = EventLog(path)
    log.commit(
        opened=[SegmentOpen(3, "surprise", 5.0, previous="neutral")],
        minutes=[MinuteAggregate(0, 3, 2, 1, {"surprise": 2})],
    )
    log.close()
    stream = io.StringIO()
    assert export_events(path, None, table="segments", fmt="csv", stream=stream) == 1
    (row,) = list(csv.DictReader(io.StringIO(stream.getvalue())))
    assert row["label"] == "surprise" and row["previous"] == "neutral" and row["track_id"] == "3"
    out = tmp_path / "minutes.csv"
    export_events(path, out, table="minutes", fmt="csv")
    (row,) = list(csv.DictReader(out.open()))
    assert row["count_surprise"] == "2" and row["frames"] == "3"
    out = tmp_path / "minutes.json"
    export_events(path, out, table="minutes", fmt="json")
    assert json.loads(out.read_text())[0]["counts"] == {"surprise": 2}
    assert export_events(path, out, table="segments", fmt="json", since=6.0) == 0
    with pytest.raises(UserInputError, match="not found"):
        export_events(tmp_path / "none.db", out)
    with pytest.raises(UserInputError, match="unknown event table"):
        export_events(path, out, table="faces")


def test_change_detector_debounces_and_ends_tracks(tmp_path):
    det = ChangeDetector(min_frames=3, track_timeout_s=1.0)
    log = EventLog(tmp_path / "ev.db")
    t = 0.0
    kinds = []

    def step(*faces):
        nonlocal t
        t += 0.1
        batch = det.update(frame(*faces), t)
        log.commit(batch.opened, batch.closed)
        kinds.extend((e.kind, e.track_id, e.label, e.segment_id) for e in batch.events)

    step((1, "neutral", 0.9))
    step((1, "neutral", 0.8))
    step((1, "happiness", 0.6))  # one-frame flicker: no change
    step((1, "neutral", 0.9))
    for _ in range(3):
        step((1, "happiness", 0.7), (2, "anger", 0.5))
    for _ in range(12):  # both unseen past the timeout
        step()
    assert kinds == [
        ("start", 1, "neutral", 1),
        ("start", 2, "anger", 2),
        ("change", 1, "happiness", 3),
        ("end", 2, "anger", 2),
        ("end", 1, "happiness", 3),
    ] or kinds == [
        ("start", 1, "neutral", 1),
        ("start", 2, "anger", 2),
        ("change", 1, "happiness", 3),
        ("end", 1, "happiness", 3),
        ("end", 2, "anger", 2),
    ]
    rows = log.rows("segments")
    assert [(r["track_id"], r["label"], r["previous"]) for r in rows] == [
        (1, "neutral", None),
        (2, "anger", None),
        (1, "happiness", "neutral"),
    ]
    assert all(r["end"] is not None and r["frames"] >= 1 for r in rows)
    assert rows[0]["mean_score"] == pytest.approx((0.9 + 0.8 + 0.6 + 0.9 + 0.7 + 0.7) / 6)


def test_finish_closes_open_segments(tmp_path):
    det = ChangeDetector(min_frames=1)
    log = EventLog(tmp_path / "ev.db")
    batch = det.update(frame((7, "fear", 0.4)), 1.0)
    log.commit(batch.opened, batch.closed)
    batch = det.finish(2.0)
    log.commit(batch.opened, batch.closed)
    assert [e.kind for e in batch.events] == ["end"]
    (row,) = log.rows("segments")
    assert row["end"] == 2.0 and det.active == 0


def test_minute_aggregator_rolls_over():
    agg = MinuteAggregator()
    assert agg.add(frame((1, "neutral", 1.0), (2, "happiness", 1.0)), 59.0) is None
    assert agg.add(frame((1, "neutral", 1.0)), 59.5) is None
    done = agg.add(frame(), 60.0)
    assert done.minute == 0 and done.frames == 2 and done.faces == 3 and done.tracks == 2
    assert done.counts == {"neutral": 2, "happiness": 1}
    last = agg.flush()
    assert last.minute == 60 and last.frames == 1 and last.faces == 0
    assert agg.flush() is None


def test_a_failed_batch_leaves_no_id_that_a_later_segment_gets(tmp_path):
    """SQLite hands a rolled-back row's id to the next insert: an opened segment kept
    that stale id, and closing it later overwrote the next track's row."""
    from emoedge.daemon.eventlog import SegmentClose

    path = tmp_path / "ev.db"
    log = EventLog(path)
    log.commit(opened=[SegmentOpen(1, "happiness", 100.0)])
    other = sqlite3.connect(path)
    other.execute("DROP TABLE minutes")  # the batch's last statement fails after its insert
    other.commit()
    lost = SegmentOpen(2, "sadness", 101.0)
    with pytest.raises(sqlite3.OperationalError):
        log.commit(opened=[lost], minutes=[MinuteAggregate(1, 3, 1, 1, {"sadness": 1})])
    assert lost.id is None and log.written == 1
    (kept,) = log.commit(opened=[SegmentOpen(3, "anger", 102.0)])
    assert kept.id == 2  # the id the rolled-back insert had taken
    log.commit(closed=[SegmentClose(lost.id, 103.0, 5, 0.9)])
    row = other.execute("SELECT track_id, end FROM segments WHERE id = ?", (kept.id,)).fetchone()
    assert row == (3, None)  # track 3's open segment is untouched
    other.close()
    log.close()
