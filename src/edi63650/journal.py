"""The drop folder's journal: every input taken, with its content hash and progress (SQLite,
``OUT/.edi63650-journal.sqlite``, owner-only).

A row goes ``started`` (taken into a spool, duplicate decided), ``outputs`` (outputs in place)
and ``archived`` (the spool moved into the archive, the inbox's copy removed). Each step can
be repeated, so a restart after a crash finishes what a row says is left.

A file that grew after it was taken (a partner appending interchanges) is left in the inbox
with ``kept`` set: the next time it is taken, only the bytes after ``offset + size`` are new,
provided the file still begins with the bytes whose hash is ``end_sha256``.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
from pathlib import Path

from edi63650.inbox import Entry, Taken, archive_name

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (
    id INTEGER PRIMARY KEY,
    inbox_name TEXT NOT NULL,     -- printable (escaped); inbox_raw is the name itself
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    unique_name TEXT NOT NULL UNIQUE,
    duplicate_of TEXT,
    state TEXT NOT NULL,          -- started, outputs, archived
    outcome TEXT,                 -- accepted, rejected, duplicate, quarantined, vanished
    archived_as TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS inputs_by_hash ON inputs (sha256);
"""

#: Columns added since the first journals, with their definitions (added on open).
_ADDED = {
    "inbox_raw": "BLOB",
    "device": "INTEGER",
    "inode": "INTEGER",
    "offset": "INTEGER NOT NULL DEFAULT 0",
    "end_sha256": "TEXT",
    "kept": "INTEGER NOT NULL DEFAULT 0",
}


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Journal:
    """The record of every input, in SQLite (WAL, so a reader never blocks the watcher)."""

    def __init__(self, path: Path) -> None:
        # One thread at a time (the watcher's), not always the one that opened it.
        self._db = sqlite3.connect(
            str(path), timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        have = {row["name"] for row in self._db.execute("PRAGMA table_info(inputs)")}
        for column, definition in _ADDED.items():
            if column not in have:
                self._db.execute(f"ALTER TABLE inputs ADD COLUMN {column} {definition}")
        self._db.execute("CREATE INDEX IF NOT EXISTS inputs_by_raw ON inputs (inbox_raw)")
        for suffix in ("", "-wal", "-shm"):  # SQLite gives its side files the db's mode
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, 0o600)  # noqa: PTH101 - the side files have no Path of ours

    def close(self) -> None:
        self._db.close()

    def start(self, entry: Entry, taken: Taken) -> sqlite3.Row:
        """The row of this input, created (with its duplicate decision) if it is new."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            # The same bytes met again after a crash: their unfinished row. (Once archived,
            # the same content dropped again is a new input: a duplicate.)
            row = db.execute(
                "SELECT * FROM inputs WHERE inbox_raw = ? AND sha256 = ? AND offset = ? "
                "AND state != 'archived'",
                (entry.raw, taken.digest, taken.offset),
            ).fetchone()
            if row is None:
                earlier = db.execute(
                    "SELECT archived_as, unique_name FROM inputs WHERE sha256 = ? "
                    "AND IFNULL(outcome, '') != 'vanished' ORDER BY id LIMIT 1",
                    (taken.digest,),
                ).fetchone()
                when = now()
                unique = archive_name(entry.raw, f"{when:%Y%m%dT%H%M%S%fZ}")
                db.execute(
                    "INSERT INTO inputs (inbox_name, inbox_raw, size, mtime_ns, device, inode, "
                    "offset, sha256, end_sha256, unique_name, duplicate_of, state, started_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'started', ?)",
                    (
                        entry.name,
                        entry.raw,
                        taken.end - taken.offset,
                        taken.mtime_ns,
                        entry.device,
                        entry.inode,
                        taken.offset,
                        taken.digest,
                        taken.whole,
                        unique,
                        (earlier["archived_as"] or earlier["unique_name"]) if earlier else None,
                        when.isoformat(),
                    ),
                )
                row = db.execute("SELECT * FROM inputs WHERE unique_name = ?", (unique,)).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return row  # type: ignore[no-any-return]

    def advance(self, unique: str, state: str, **values: str | int) -> None:
        columns = "".join(f", {key} = ?" for key in values)
        self._db.execute(
            f"UPDATE inputs SET state = ?{columns} WHERE unique_name = ?",  # noqa: S608 - keys are ours
            (state, *values.values(), unique),
        )

    def finish(self, unique: str, **values: str | int) -> None:
        self.advance(unique, "archived", finished_at=now().isoformat(), **values)

    def unfinished(self) -> list[sqlite3.Row]:
        return list(self._db.execute("SELECT * FROM inputs WHERE state != 'archived'"))

    def archived(self) -> list[sqlite3.Row]:
        return list(self._db.execute("SELECT * FROM inputs WHERE state = 'archived'"))

    def taken_from(self, entry: Entry) -> tuple[int, str] | None:
        """How much of this very file (name, device, inode) was taken already, and the hash
        of those bytes, when it was left in the inbox because it grew."""
        row = self._db.execute(
            "SELECT offset, size, end_sha256 FROM inputs WHERE inbox_raw = ? AND device = ? "
            "AND inode = ? AND state = 'archived' AND kept = 1 ORDER BY id DESC LIMIT 1",
            (entry.raw, entry.device, entry.inode),
        ).fetchone()
        if row is None or row["end_sha256"] is None:
            return None
        return row["offset"] + row["size"], row["end_sha256"]
