"""``edi63650 watch``: a drop folder that never loses a file and never processes one twice.

Each complete file that appears in the inbox is validated; its outputs (the same as
``validate --output-dir``) are written next to the archive, and the input is moved to
``OUT/archive/accepted/``, ``OUT/archive/rejected/`` (a claim, transaction set or interchange
rejected, or a duplicate) or ``OUT/quarantine/`` (not X12, or unreadable), under a unique,
timestamped name that also names its outputs.

Crash safety rests on a journal (SQLite, ``OUT/.edi63650-journal.sqlite``) and on steps that
can be repeated:

1. the input is recorded with its content hash, its unique name and whether it duplicates an
   earlier input, in one transaction (``state = started``);
2. the outputs are written, each to a temporary name renamed into place (``outputs``);
3. the input is moved into the archive (``archived``).

After a kill at any moment, a restart finds the unfinished rows and redoes their remaining
steps: rewriting outputs replaces them whole, and an input already moved is only marked. So
every input ends with exactly one outcome and one set of outputs. Files whose names end in
``.part`` or ``.tmp`` or start with a dot are ignored; others wait until their size and
modification time have been stable for ``settle`` seconds.

Logs are one line per file (name, outcome, counts, duration), never patient data.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import shutil
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TextIO

import attrs
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from edi63650.outputs import AtomicFile, Outputs
from edi63650.rules.history import HistoryStore
from edi63650.rules.tables import Tables
from edi63650.tokenizer import TokenRule
from edi63650.validate import Summary, Validator
from edi63650.writers.ack277 import Ack277Sink

JOURNAL = ".edi63650-journal.sqlite"
_IGNORED_SUFFIXES = (".part", ".tmp")
_UNREADABLE = frozenset(
    {TokenRule.NOT_X12, TokenRule.EMPTY_INPUT, TokenRule.BAD_ISA, TokenRule.TRUNCATED}
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (
    id INTEGER PRIMARY KEY,
    inbox_name TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    unique_name TEXT NOT NULL UNIQUE,
    duplicate_of TEXT,
    state TEXT NOT NULL,          -- started, outputs, archived
    outcome TEXT,                 -- accepted, rejected, duplicate, quarantined
    archived_as TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX IF NOT EXISTS inputs_by_hash ON inputs (sha256);
"""


@attrs.frozen
class Processed:
    """What one input came to (the log line is made from this)."""

    name: str
    outcome: str
    claims: int
    accepted: int
    rejected: int
    seconds: float
    archived_as: str


class _Wake(FileSystemEventHandler):
    """Any event in the inbox wakes the loop, which then rescans; events are only a hint."""

    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._wake.set()


def is_candidate(path: Path) -> bool:
    name = path.name
    return path.is_file() and not name.startswith(".") and not name.endswith(_IGNORED_SUFFIXES)


class Journal:
    """The record of every input, in SQLite (WAL, so a reader never blocks the watcher)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def start(self, path: Path, size: int, mtime_ns: int, digest: str) -> sqlite3.Row:
        """The row of this input, created (with its duplicate decision) if it is new."""
        db = self._db
        db.row_factory = sqlite3.Row
        db.execute("BEGIN IMMEDIATE")
        try:
            # The same file met again after a crash: its unfinished row. (Once archived, a file
            # with the same name, size, time and content is a new drop: a duplicate.)
            row = db.execute(
                "SELECT * FROM inputs WHERE inbox_name = ? AND size = ? AND mtime_ns = ? "
                "AND sha256 = ? AND state != 'archived'",
                (path.name, size, mtime_ns, digest),
            ).fetchone()
            if row is None:
                earlier = db.execute(
                    "SELECT unique_name FROM inputs WHERE sha256 = ? ORDER BY id LIMIT 1",
                    (digest,),
                ).fetchone()
                now = datetime.datetime.now(datetime.UTC)
                unique = f"{now:%Y%m%dT%H%M%S%fZ}-{path.name}"
                db.execute(
                    "INSERT INTO inputs (inbox_name, size, mtime_ns, sha256, unique_name, "
                    "duplicate_of, state, started_at) VALUES (?, ?, ?, ?, ?, ?, 'started', ?)",
                    (
                        path.name,
                        size,
                        mtime_ns,
                        digest,
                        unique,
                        earlier["unique_name"] if earlier else None,
                        now.isoformat(),
                    ),
                )
                row = db.execute("SELECT * FROM inputs WHERE unique_name = ?", (unique,)).fetchone()
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return row  # type: ignore[no-any-return]

    def advance(self, unique: str, state: str, **values: str) -> None:
        columns = "".join(f", {key} = ?" for key in values)
        self._db.execute(
            f"UPDATE inputs SET state = ?{columns} WHERE unique_name = ?",  # noqa: S608 - keys are ours
            (state, *values.values(), unique),
        )

    def unfinished(self) -> list[sqlite3.Row]:
        self._db.row_factory = sqlite3.Row
        return list(self._db.execute("SELECT * FROM inputs WHERE state != 'archived'"))

    def archived(self) -> list[sqlite3.Row]:
        self._db.row_factory = sqlite3.Row
        return list(self._db.execute("SELECT * FROM inputs WHERE state = 'archived'"))


class Watcher:
    """The drop-folder service; :meth:`run_once` and :meth:`run` drive it."""

    def __init__(
        self,
        inbox: Path,
        output: Path,
        *,
        history: Path | None = None,
        settle: float = 1.0,
        poll: float = 2.0,
        log: TextIO,
        log_format: str = "text",
        tables: Tables | None = None,
    ) -> None:
        self.inbox = inbox
        self.output = output
        self.settle = settle
        self.poll = poll
        self._log = log
        self._log_format = log_format
        for folder in (
            output,
            output / "archive" / "accepted",
            output / "archive" / "rejected",
            output / "quarantine",
        ):
            folder.mkdir(parents=True, exist_ok=True)
        self._journal = Journal(output / JOURNAL)
        self._store = HistoryStore(history) if history else None
        self._tables = tables if tables is not None else Tables.load()
        self._validator = Validator(tables=self._tables, history=self._store)
        self._plain = Validator(
            tables=self._tables, implementations=self._validator.implementations
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seen: dict[Path, tuple[int, int, float]] = {}  # size, mtime, stable since

    def close(self) -> None:
        self._journal.close()
        if self._store is not None:
            self._store.close()

    def stop(self) -> None:
        """Finish the current file, then return from :meth:`run`."""
        self._stop.set()
        self._wake.set()

    # -- driving ----------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish what a crash left half done: drop temporary files, redo unfinished rows."""
        for folder in (
            self.output,
            self.output / "archive" / "accepted",
            self.output / "archive" / "rejected",
            self.output / "quarantine",
        ):
            for temporary in folder.glob(".*.tmp"):
                temporary.unlink(missing_ok=True)
        for row in self._journal.unfinished():
            source = self.inbox / row["inbox_name"]
            data = source.read_bytes() if source.is_file() else None
            if data is not None and _digest(data) == row["sha256"]:
                self._finish(row, source, time.monotonic(), data)
            else:
                self._mark_moved(row)

    def run_once(self) -> list[Processed]:
        """Process every complete file in the inbox, waiting for them to settle."""
        self.recover()
        done: list[Processed] = []
        while not self._stop.is_set():
            ready, waiting = self._scan()
            for path in ready:
                if self._stop.is_set():
                    break
                result = self.process(path)
                if result is not None:
                    done.append(result)
            if not waiting:
                break
            self._stop.wait(min(self.settle, 0.5))
        return done

    def run(self, *, use_events: bool = True) -> None:
        """Until stopped: filesystem events (watchdog) wake the loop; it also rescans every
        ``poll`` seconds, which is all it does on network shares (``use_events=False``)."""
        self.recover()
        observer = self._observe() if use_events else None
        try:
            while not self._stop.is_set():
                ready, waiting = self._scan()
                for path in ready:
                    if self._stop.is_set():
                        break
                    self.process(path)
                self._wake.wait(min(self.settle, 0.5) if waiting else self.poll)
                self._wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(5)

    def _observe(self) -> BaseObserver:
        observer = Observer()
        observer.schedule(_Wake(self._wake), str(self.inbox), recursive=False)
        observer.start()
        return observer

    def _scan(self) -> tuple[list[Path], bool]:
        """Files whose size and modification time have held for ``settle`` seconds."""
        now = time.monotonic()
        ready, waiting = [], False
        present = set()
        for path in sorted(self.inbox.iterdir()):
            if not is_candidate(path):
                continue
            present.add(path)
            try:
                stat = path.stat()
            except OSError:
                continue
            key = (stat.st_size, stat.st_mtime_ns)
            seen = self._seen.get(path)
            if seen is None or seen[:2] != key:
                self._seen[path] = (*key, now)
                waiting = True
            elif now - seen[2] >= self.settle:
                ready.append(path)
            else:
                waiting = True
        self._seen = {p: v for p, v in self._seen.items() if p in present}
        return ready, waiting

    # -- one file -----------------------------------------------------------------------------

    def process(self, path: Path) -> Processed | None:
        started = time.monotonic()
        try:
            stat = path.stat()
            data = path.read_bytes()
        except FileNotFoundError:
            return None  # taken away before we got to it
        except OSError:
            data = None
            stat = None
        if data is None or stat is None:
            return self._quarantine_unreadable(path, started)
        row = self._journal.start(path, stat.st_size, stat.st_mtime_ns, _digest(data))
        return self._finish(row, path, started, data)

    def _finish(self, row: sqlite3.Row, source: Path, started: float, data: bytes) -> Processed:
        unique = row["unique_name"]
        duplicate = row["duplicate_of"] is not None
        summary = self._validate(data, unique, duplicate=duplicate, write=row["state"] == "started")
        outcome = _outcome(summary, duplicate=duplicate)
        if row["state"] == "started":
            self._journal.advance(unique, "outputs", outcome=outcome)
        folder = {
            "accepted": self.output / "archive" / "accepted",
            "quarantined": self.output / "quarantine",
        }.get(outcome, self.output / "archive" / "rejected")
        target = folder / unique
        _move(source, target)
        self._journal.advance(
            unique,
            "archived",
            outcome=outcome,
            archived_as=str(target.relative_to(self.output)),
            finished_at=datetime.datetime.now(datetime.UTC).isoformat(),
        )
        tally = summary.tally
        processed = Processed(
            name=row["inbox_name"],
            outcome=outcome,
            claims=tally.claims,
            accepted=tally.accepted if outcome != "duplicate" else 0,
            rejected=tally.rejected if outcome != "duplicate" else tally.claims,
            seconds=time.monotonic() - started,
            archived_as=str(target.relative_to(self.output)),
        )
        self._emit(processed)
        return processed

    def _validate(self, data: bytes, name: str, *, duplicate: bool, write: bool) -> Summary:
        """Validate ``data`` once; with ``write``, its outputs go to the output folder: a
        duplicate gets only its 277CA, a file that is not X12 only its JSON report."""
        # A duplicate is read only to be answered: it must not touch the history.
        validator = self._plain if duplicate else self._validator
        stream = io.BytesIO(data)
        if not write:
            return validator.write(stream, [], name)
        if duplicate:
            target = AtomicFile(self.output / f"{name}.277")
            try:
                summary = validator.write(
                    stream, [Ack277Sink(target, validator.when(), duplicate=True)], name
                )
            except BaseException:
                target.abort()
                raise
            target.commit(keep=target.size > 0)
            return summary
        outputs = Outputs(self.output, name, validator.when(), size=len(data))
        try:
            summary = validator.write(stream, outputs.sinks, name)
        except BaseException:
            outputs.abort()
            raise
        quarantined = _outcome(summary, duplicate=False) == "quarantined"
        outputs.commit(("json",) if quarantined else Outputs.KINDS)
        return summary

    def _mark_moved(self, row: sqlite3.Row) -> None:
        """An unfinished row whose input is no longer in the inbox: it was moved (or taken
        away) after its outputs; close the row without doing anything twice."""
        unique = row["unique_name"]
        for folder in ("archive/accepted", "archive/rejected", "quarantine"):
            if (self.output / folder / unique).exists():
                self._journal.advance(
                    unique,
                    "archived",
                    archived_as=f"{folder}/{unique}",
                    finished_at=datetime.datetime.now(datetime.UTC).isoformat(),
                )
                return
        self._journal.advance(
            unique,
            "archived",
            outcome="vanished",
            finished_at=datetime.datetime.now(datetime.UTC).isoformat(),
        )

    def _quarantine_unreadable(self, path: Path, started: float) -> Processed | None:
        unique = f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%S%fZ}-{path.name}"
        target = self.output / "quarantine" / unique
        try:
            _move(path, target)
        except OSError:
            return None
        processed = Processed(
            path.name,
            "quarantined",
            0,
            0,
            0,
            time.monotonic() - started,
            str(target.relative_to(self.output)),
        )
        self._emit(processed)
        return processed

    def _emit(self, processed: Processed) -> None:
        if self._log_format == "json":
            line = json.dumps(attrs.asdict(processed) | {"seconds": round(processed.seconds, 3)})
        else:
            line = (
                f"{processed.name}: {processed.outcome}, {processed.claims} claims, "
                f"{processed.accepted} accepted, {processed.rejected} rejected, "
                f"{processed.seconds:.2f}s -> {processed.archived_as}"
            )
        self._log.write(line + "\n")
        self._log.flush()


def _outcome(summary: Summary, *, duplicate: bool) -> str:
    if duplicate:
        return "duplicate"
    if summary.errors & _UNREADABLE and not summary.transactions:
        return "quarantined"
    return "rejected" if summary.rejected else "accepted"


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _move(source: Path, target: Path) -> None:
    """Rename into the archive; across file systems, copy to a temporary name first."""
    try:
        source.replace(target)
    except OSError:
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copy2(source, temporary)
        temporary.replace(target)
        source.unlink()


def install_signal_handlers(watcher: Watcher) -> Callable[[], None]:
    """SIGTERM and SIGINT finish the current file, then stop; returns a restore function."""

    def handle(signum: int, frame: FrameType | None) -> None:
        watcher.stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
