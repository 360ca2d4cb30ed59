"""The event log: per-track emotion segments and per-minute aggregates in SQLite.

SQLite in WAL mode with `synchronous=FULL`: a transaction that `commit()`
returned from is on disk and survives `kill -9` or a power cut, so the counter
the daemon reports (`written`) only ever counts events that are safe. Readers
(the HTTP thread, `emoedge events export`) never block the writer in WAL mode.

Tables (schema version in `meta`):
  segments  one row per stretch of one emotion on one track: opened when a track
            appears or changes label, closed (end, frames, mean score) when it
            changes again or the track is lost. `session` tells runs apart,
            since track ids restart with the daemon. A row whose session died
            without closing it is marked `interrupted` at the next start.
  minutes   per-minute aggregates: frames, face observations, distinct tracks,
            and face observations per label (JSON object).
No images and no boxes are stored: the log holds what was felt, not who.
"""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from emoedge.errors import UserInputError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
TABLES = ("segments", "minutes")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS segments (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session     TEXT    NOT NULL,
    track_id    INTEGER NOT NULL,
    label       TEXT    NOT NULL,
    previous    TEXT,
    start       REAL    NOT NULL,
    end         REAL,
    frames      INTEGER NOT NULL DEFAULT 0,
    mean_score  REAL,
    interrupted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS segments_start ON segments (start);
CREATE TABLE IF NOT EXISTS minutes (
    minute  INTEGER PRIMARY KEY,
    frames  INTEGER NOT NULL,
    faces   INTEGER NOT NULL,
    tracks  INTEGER NOT NULL,
    counts  TEXT    NOT NULL
);
"""


@dataclass
class SegmentOpen:
    """A new segment: a track appeared (`previous` None) or changed label."""

    track_id: int
    label: str
    start: float
    previous: str | None = None
    id: int | None = None  # set by `EventLog.commit`


@dataclass
class SegmentClose:
    id: int
    end: float
    frames: int
    mean_score: float | None


@dataclass
class MinuteAggregate:
    minute: int  # epoch seconds at the start of the minute
    frames: int = 0
    faces: int = 0
    tracks: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class EventLog:
    """One SQLite file, written by the service loop, read by anyone.

    Thread-safe: one connection guarded by a lock (writes are small and rare —
    a few per second at most — so a lock costs nothing measurable).
    """

    def __init__(self, path: str | Path, *, session: str | None = None) -> None:
        self.path = Path(path)
        self.session = session or uuid.uuid4().hex[:12]
        self.written = 0  # segments committed by this process
        self.minutes_written = 0
        self.last_id = 0
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(
                self.path, timeout=10.0, check_same_thread=False, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise UserInputError(f"{self.path}: cannot open the event log ({exc})") from exc
        version = self._meta("schema_version")
        if version is None:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(version) != SCHEMA_VERSION:
            raise UserInputError(
                f"{self.path}: event log schema {version}, this emoedge writes {SCHEMA_VERSION}"
            )
        self.recovered = self._mark_interrupted()

    @property
    def journal_mode(self) -> str:
        with self._lock:
            return self._db.execute("PRAGMA journal_mode").fetchone()[0]

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _mark_interrupted(self) -> int:
        """Segments left open by an earlier run that died: keep them, flagged."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE segments SET interrupted = 1 WHERE end IS NULL AND session != ?",
                (self.session,),
            )
        if cursor.rowcount:
            log.warning(
                "event log: %d segment(s) left open by an earlier run marked interrupted",
                cursor.rowcount,
            )
        return cursor.rowcount

    def commit(
        self,
        opened: Iterable[SegmentOpen] = (),
        closed: Iterable[SegmentClose] = (),
        minutes: Iterable[MinuteAggregate] = (),
    ) -> list[SegmentOpen]:
        """Write one batch in one durable transaction; sets `id` on each opened segment.

        When this returns, the batch is on disk; only then do the counters move.
        """
        opened, closed, minutes = list(opened), list(closed), list(minutes)
        if not (opened or closed or minutes):
            return opened
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                for seg in opened:  # first: a batch may close what it opens
                    cursor = db.execute(
                        "INSERT INTO segments (session, track_id, label, previous, start) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (self.session, seg.track_id, seg.label, seg.previous, seg.start),
                    )
                    seg.id = cursor.lastrowid
                for seg in closed:
                    db.execute(
                        "UPDATE segments SET end = ?, frames = ?, mean_score = ? WHERE id = ?",
                        (seg.end, seg.frames, seg.mean_score, seg.id),
                    )
                for agg in minutes:
                    self._merge_minute(agg)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                # the rolled-back rows' ids go to the next segments written: a stale
                # id here would let this segment's close overwrite another's row
                for seg in opened:
                    seg.id = None
                raise
            self.written += len(opened)
            self.minutes_written += len(minutes)
            if opened:
                self.last_id = max(self.last_id, max(seg.id or 0 for seg in opened))
        return opened

    def _merge_minute(self, agg: MinuteAggregate) -> None:
        """Add to a minute row (a restart inside the same minute adds, never overwrites)."""
        row = self._db.execute(
            "SELECT frames, faces, tracks, counts FROM minutes WHERE minute = ?", (agg.minute,)
        ).fetchone()
        counts = dict(agg.counts)
        frames, faces, tracks = agg.frames, agg.faces, agg.tracks
        if row:
            frames += row[0]
            faces += row[1]
            tracks += row[2]
            for label, n in json.loads(row[3]).items():
                counts[label] = counts.get(label, 0) + n
        self._db.execute(
            "INSERT OR REPLACE INTO minutes (minute, frames, faces, tracks, counts) "
            "VALUES (?, ?, ?, ?, ?)",
            (agg.minute, frames, faces, tracks, json.dumps(counts, sort_keys=True)),
        )

    def prune(self, retention_days: float, now: float | None = None) -> int:
        """Delete what is older than the retention limit; returns rows deleted."""
        cutoff = (now if now is not None else time.time()) - retention_days * 86400.0
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                a = db.execute(
                    "DELETE FROM segments WHERE COALESCE(end, start) < ?", (cutoff,)
                ).rowcount
                b = db.execute("DELETE FROM minutes WHERE minute + 60 <= ?", (cutoff,)).rowcount
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        if a or b:
            log.info("event log: retention removed %d segment(s) and %d minute(s)", a, b)
        return a + b

    def count(self, table: str) -> int:
        _check_table(table)
        with self._lock:
            return self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    def rows(
        self, table: str, since: float | None = None, until: float | None = None
    ) -> list[dict[str, Any]]:
        return list(iter_rows(self._db, table, since, until, lock=self._lock))

    def close(self) -> None:
        with self._lock:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._db.close()


def _check_table(table: str) -> None:
    if table not in TABLES:
        raise UserInputError(f"unknown event table {table!r}; expected one of: {', '.join(TABLES)}")


def iter_rows(
    db: sqlite3.Connection,
    table: str,
    since: float | None = None,
    until: float | None = None,
    *,
    lock: threading.Lock | None = None,
    limit: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Rows of one table as dicts, oldest first, optionally within [since, until).

    `limit` caps the rows SQLite reads (the HTTP page of `/v1/aggregates`), so a
    month-wide range costs one page, not the month.
    """
    _check_table(table)
    column = "start" if table == "segments" else "minute"
    where, args = [], []
    if since is not None:
        where.append(f"{column} >= ?")
        args.append(since)
    if until is not None:
        where.append(f"{column} < ?")
        args.append(until)
    sql = f"SELECT * FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {column}, rowid"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(int(limit))
    if lock is not None:
        with lock:
            cursor = db.execute(sql, args)
            names = [d[0] for d in cursor.description]
            fetched = cursor.fetchall()
    else:
        cursor = db.execute(sql, args)
        names = [d[0] for d in cursor.description]
        fetched = cursor.fetchall()
    for values in fetched:
        row = dict(zip(names, values, strict=True))
        if table == "minutes":
            row["counts"] = json.loads(row["counts"])
        yield row


def open_readonly(path: str | Path) -> sqlite3.Connection:
    """Open an event log for reading (export) without creating one by mistake."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path}: event log not found")
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
        db.execute("SELECT 1 FROM segments LIMIT 1")
    except sqlite3.DatabaseError as exc:
        raise UserInputError(f"{path}: not an emoedge event log ({exc})") from exc
    return db


def export_events(
    log_path: str | Path,
    out: str | Path | None,
    *,
    table: str = "segments",
    fmt: str = "csv",
    since: float | None = None,
    until: float | None = None,
    stream: Any = None,
) -> int:
    """Write one table to CSV or JSON (a file, or `stream` when `out` is None); returns rows.

    Minute aggregates in CSV get one `count_<label>` column per label seen, so a
    spreadsheet needs no JSON parsing.
    """
    if fmt not in ("csv", "json"):
        raise UserInputError(f"unknown export format {fmt!r}; expected csv or json")
    db = open_readonly(log_path)
    try:
        rows = list(iter_rows(db, table, since, until))
    finally:
        db.close()
    handle = open(out, "w", newline="") if out is not None else stream  # noqa: SIM115 - closed below unless it is the caller's stream
    try:
        if fmt == "json":
            json.dump(rows, handle, indent=1)
            handle.write("\n")
        else:
            if table == "minutes":
                labels = sorted({label for row in rows for label in row["counts"]})
                columns = ["minute", "frames", "faces", "tracks"] + [f"count_{x}" for x in labels]
                flat = [
                    {
                        **{k: row[k] for k in columns[:4]},
                        **{f"count_{x}": row["counts"].get(x, 0) for x in labels},
                    }
                    for row in rows
                ]
            else:
                columns = [
                    "id",
                    "session",
                    "track_id",
                    "label",
                    "previous",
                    "start",
                    "end",
                    "frames",
                    "mean_score",
                    "interrupted",
                ]
                flat = rows
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(flat)
    finally:
        if out is not None:
            handle.close()
    return len(rows)
