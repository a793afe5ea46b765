"""``edi63650 watch``: a drop folder that never loses a file, never processes one twice and
never reads anything but the regular files put into it.

Each complete file that appears in the inbox is read once into a private spool (see
:mod:`edi63650.inbox`), validated from there, and its outputs (those of ``validate
--output-dir``) written together in ``OUT/<archive name>/``; the spool then becomes the
archived input, in ``OUT/archive/accepted/``, ``OUT/archive/rejected/`` (a claim, transaction
set or interchange rejected, or a duplicate) or ``OUT/quarantine/`` (not X12), and the inbox's
copy is removed, unless it changed meanwhile: then what it holds beyond what was taken is a
new arrival. Links, FIFOs and devices are never read; they are moved to ``OUT/refused/``.

Crash safety rests on the journal (:mod:`edi63650.journal`) and on steps that can be
repeated; a restart finishes every row the journal says is unfinished. One bad file never
stops the service: a file taken away is logged; a full disk or another I/O error is retried
with backoff while the rest of the inbox waits. Only an unusable configuration stops it at
start, and so does another watcher already running on the same inbox or output folder.

Every file and folder made is owner-only. Logs are one line per event, with a UTC time,
never patient data.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
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

from edi63650 import inbox
from edi63650.errors import EdiUsageError
from edi63650.inbox import Entry
from edi63650.journal import Journal, now
from edi63650.outputs import AtomicFile, Outputs, write_atomic
from edi63650.rules.history import HistoryStore
from edi63650.rules.tables import Tables
from edi63650.tokenizer import TokenRule
from edi63650.validate import Summary, Validator
from edi63650.writers.ack277 import Ack277Sink
from edi63650.writers.numbers import StoredNumbers

JOURNAL = ".edi63650-journal.sqlite"
LOCK = ".edi63650.lock"
SPOOL = ".edi63650-spool"
ARCHIVES = ("archive/accepted", "archive/rejected", "quarantine")
_UNREADABLE = frozenset(
    {TokenRule.NOT_X12, TokenRule.EMPTY_INPUT, TokenRule.BAD_ISA, TokenRule.TRUNCATED}
)
#: Seconds between attempts after an I/O error: doubling from the first to the last.
BACKOFF = (0.5, 60.0)
#: Attempts ``run_once`` makes before it gives up on an I/O error (``run`` never gives up).
ONCE_ATTEMPTS = 6


class WatchBusyError(EdiUsageError):
    """Another watcher holds the inbox or the output folder."""


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
    reason: str = ""


class _Wake(FileSystemEventHandler):
    """Any event in the inbox wakes the loop, which then rescans; events are only a hint."""

    def __init__(self, wake: threading.Event) -> None:
        self._wake = wake

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._wake.set()


def _lock(path: Path, what: str, *, folder: bool = False) -> int:
    """An exclusive lock held for the watcher's life (released when the process ends)."""
    if folder:
        descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    else:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise WatchBusyError(f"edi63650 watch: another watcher is running on {what}") from None
    if not folder:
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
    return descriptor


class Watcher:
    """The drop-folder service; :meth:`run_once` and :meth:`run` drive it."""

    def __init__(
        self,
        inbox_folder: Path,
        output: Path,
        *,
        history: Path | None = None,
        settle: float = 1.0,
        poll: float = 2.0,
        log: TextIO,
        log_format: str = "text",
        tables: Tables | None = None,
        profile: str = "auto",
        syntax_policy: str = "claim",
        recursive: bool = False,
        control_start: int = 1,
    ) -> None:
        self.inbox = inbox_folder
        self.output = output
        self.settle = settle
        self.poll = poll
        self.recursive = recursive
        self._log = log
        self._log_format = log_format
        if not inbox_folder.is_dir():
            raise EdiUsageError(f"edi63650 watch: {inbox_folder}: not a folder")
        inside = output.resolve().is_relative_to(inbox_folder.resolve())
        if inside:
            raise EdiUsageError(
                f"edi63650 watch: the output folder {output} is inside the inbox; choose one "
                "outside it"
            )
        for folder in (output, output / SPOOL, output / "refused", output / "archive"):
            inbox.private_folder(folder)
        for archive in ARCHIVES:
            inbox.private_folder(output / archive)
        self._locks = [
            _lock(inbox_folder, f"the inbox {inbox_folder}", folder=True),
            _lock(output / LOCK, f"the output folder {output}"),
        ]
        self._journal = Journal(output / JOURNAL)
        # Our acknowledgments' control numbers go on counting in the journal, run after run.
        self._numbers = StoredNumbers(output / JOURNAL, start=control_start)
        self._store = HistoryStore(history) if history else None
        if history is not None and history.exists():
            history.chmod(0o600)
        self._tables = tables if tables is not None else Tables.load()
        self._validator = Validator(
            tables=self._tables,
            history=self._store,
            profile=profile,
            syntax_policy=syntax_policy,
        )
        # A duplicate is read only to be answered: it must not touch the history.
        self._plain = Validator(
            tables=self._tables,
            implementations=self._validator.implementations,
            profile=profile,
            syntax_policy=syntax_policy,
        )
        made = output.stat()
        self._skip = (made.st_dev, made.st_ino)
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._seen: dict[bytes, tuple[int, int, int, float]] = {}  # inode, size, mtime, since
        self._told: set[tuple[bytes, int]] = set()  # entries already logged as left alone
        self._failures = 0  # I/O errors in a row
        self._settings = {
            "inbox": str(inbox_folder),
            "output": str(output),
            "settle": settle,
            "poll": poll,
            "history": str(history) if history else "-",
            "profile": profile,
            "syntax_policy": syntax_policy,
            "recursive": recursive,
            "control_start": control_start,
        }

    def close(self) -> None:
        self._journal.close()
        self._numbers.close()
        if self._store is not None:
            self._store.close()
        for descriptor in self._locks:
            os.close(descriptor)
        self._locks = []

    def stop(self) -> None:
        """Finish the current file, then return from :meth:`run`."""
        self._stop.set()
        self._wake.set()

    # -- driving ----------------------------------------------------------------------------

    def announce(self, *, events: bool) -> None:
        """The start-up line: version and settings."""
        from edi63650 import __version__  # noqa: PLC0415 - the package imports us lazily

        self._event("start", version=__version__, events=events, **self._settings)

    def recover(self) -> None:
        """Finish what a crash left half done: drop temporary files, redo unfinished rows."""
        for row in self._journal.unfinished():
            for temporary in (self.output / row["unique_name"]).glob(".*.tmp"):
                temporary.unlink(missing_ok=True)  # an output half written
            spool = self.output / SPOOL / row["unique_name"]
            if spool.is_file() and inbox.digest_of(spool) == row["sha256"]:
                self._finish(row, spool, time.monotonic())
                continue
            spool.unlink(missing_ok=True)
            archived = next(
                (
                    f"{a}/{row['unique_name']}"
                    for a in ARCHIVES
                    if (self.output / a / row["unique_name"]).is_file()
                ),
                None,
            )
            if archived is not None:  # moved into the archive; only the inbox's copy is left
                self._forget_source(row)
                self._journal.finish(row["unique_name"], archived_as=archived)
            elif row["inbox_raw"] is None or not self._source(row).exists():
                self._journal.finish(row["unique_name"], outcome="vanished")
                self._event("vanished", name=row["inbox_name"])
            # else: the input is still in the inbox; taking it again finds this row.
        for spool in (self.output / SPOOL).glob(".take-*"):
            spool.unlink(missing_ok=True)  # read from the inbox, never recorded

    def run_once(self) -> list[Processed]:
        """Process every complete file in the inbox, waiting for them to settle; after an I/O
        error, try again with backoff, at most :data:`ONCE_ATTEMPTS` times."""
        self.recover()
        done: list[Processed] = []
        while not self._stop.is_set():
            ready, waiting = self._scan()
            before = len(done)
            if self._take_all(ready, done):
                if self._failures >= ONCE_ATTEMPTS:
                    raise OSError(errno.EIO, "giving up; the inputs wait in the inbox")
                self._stop.wait(self._backoff())
                continue
            if not waiting and len(done) == before:  # (what was taken may have grown)
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
                if self._take_all(ready, []):
                    self._stop.wait(self._backoff())
                    continue
                self._wake.wait(min(self.settle, 0.5) if waiting else self.poll)
                self._wake.clear()
        finally:
            if observer is not None:
                observer.stop()
                observer.join(5)

    def _take_all(self, ready: list[Entry], done: list[Processed]) -> bool:
        """Process ``ready`` in order; True if an I/O error stopped it (the rest waits)."""
        for entry in ready:
            if self._stop.is_set():
                break
            try:
                result = self.process(entry)
            except (OSError, sqlite3.Error) as error:  # a full disk, a failing device
                self._failures += 1
                errno_ = getattr(error, "errno", None)
                self._event(
                    "error",
                    name=entry.name,
                    error=os.strerror(errno_) if isinstance(errno_, int) else str(error),
                    retry_in=round(self._backoff(), 1),
                )
                return True
            self._failures = 0
            if result is not None:
                done.append(result)
        return False

    def _backoff(self) -> float:
        first, last = BACKOFF
        return float(min(last, first * 2 ** max(0, self._failures - 1)))

    def _observe(self) -> BaseObserver:
        observer = Observer()
        observer.schedule(_Wake(self._wake), str(self.inbox), recursive=self.recursive)
        observer.start()
        return observer

    def _scan(self) -> tuple[list[Entry], bool]:
        """Regular files unchanged for ``settle`` seconds and held open by no writer, in
        arrival order; whether others are still settling. What is not a regular file is
        moved aside (or, a folder, reported once)."""
        moment = time.monotonic()
        settled, waiting = [], False
        present = set()
        for entry in inbox.scan(self.inbox, recursive=self.recursive, skip=self._skip):
            if entry.kind is not None:
                self._refuse(entry)
                continue
            present.add(entry.raw)
            key = (entry.inode, entry.size, entry.mtime_ns)
            seen = self._seen.get(entry.raw)
            if seen is None or seen[:3] != key:
                self._seen[entry.raw] = (*key, moment)
                waiting = True
            elif moment - seen[3] >= self.settle:
                settled.append(entry)
            else:
                waiting = True
        self._seen = {raw: v for raw, v in self._seen.items() if raw in present}
        writing = inbox.open_for_writing() if settled else None
        ready = []
        for entry in settled:
            if writing is not None and entry.identity in writing:
                waiting = True  # a writer still holds it open
            else:
                ready.append(entry)
        return ready, waiting

    def _refuse(self, entry: Entry) -> None:
        if entry.kind == "a folder":
            if (entry.raw, entry.inode) not in self._told:
                self._told.add((entry.raw, entry.inode))
                self._event("ignored", name=entry.name, reason="a folder (see --recursive)")
            return
        target = self.output / "refused" / inbox.archive_name(entry.raw, _stamp())
        try:
            entry.path.rename(target)  # moves the link or node itself; nothing is opened
        except OSError:
            if (entry.raw, entry.inode) not in self._told:
                self._told.add((entry.raw, entry.inode))
                self._event("refused", name=entry.name, reason=f"{entry.kind}, not read; left")
            return
        self._event(
            "refused",
            name=entry.name,
            reason=f"{entry.kind}, not read",
            moved_to=str(target.relative_to(self.output)),
        )

    # -- one file -----------------------------------------------------------------------------

    def process(self, entry: Entry) -> Processed | None:
        """Take one file: read it into a spool, validate, write, archive. None when there was
        nothing to do (taken away, not what was seen, still changing, nothing new in it)."""
        started = time.monotonic()
        prefix = self._journal.taken_from(entry)
        try:
            taken = inbox.read(entry, self.output / SPOOL, prefix=prefix)
        except FileNotFoundError:
            self._event("vanished", name=entry.name)
            return None
        except OSError as error:
            if error.errno in (errno.ELOOP, errno.ENXIO, errno.EACCES, errno.EPERM):
                self._refuse(attrs.evolve(entry, kind="a file that cannot be read"))
                return None
            raise
        if taken is None:
            self._seen.pop(entry.raw, None)  # changed: let it settle again
            return None
        if taken.end == taken.offset:  # it holds only what was taken before (same hash)
            taken.spool.unlink()
            if inbox.unchanged(entry.path, entry.identity, taken.end, None):
                entry.path.unlink(missing_ok=True)
            return None
        try:
            row = self._journal.start(entry, taken)
            spool = self.output / SPOOL / row["unique_name"]
            taken.spool.replace(spool)
        except BaseException:
            taken.spool.unlink(missing_ok=True)
            raise
        return self._finish(row, spool, started)

    def _finish(self, row: sqlite3.Row, spool: Path, started: float) -> Processed:
        unique = row["unique_name"]
        duplicate = row["duplicate_of"] is not None
        write = row["state"] == "started"
        summary = self._validate(spool, row, duplicate=duplicate, write=write)
        outcome = _outcome(summary, duplicate=duplicate)
        if write:
            self._journal.advance(unique, "outputs", outcome=outcome)
        folder = {"accepted": "archive/accepted", "quarantined": "quarantine"}.get(
            outcome, "archive/rejected"
        )
        target = self.output / folder / unique
        spool.chmod(0o600)
        spool.replace(target)
        kept = self._forget_source(row)
        archived_as = f"{folder}/{unique}"
        self._journal.finish(unique, outcome=outcome, archived_as=archived_as, kept=int(kept))
        tally = summary.tally
        processed = Processed(
            name=row["inbox_name"],
            outcome=outcome,
            claims=tally.claims,
            accepted=tally.accepted if outcome != "duplicate" else 0,
            rejected=tally.rejected if outcome != "duplicate" else tally.claims,
            seconds=time.monotonic() - started,
            archived_as=archived_as,
            reason=_reason(summary, outcome, row),
        )
        self._emit(processed)
        return processed

    def _source(self, row: sqlite3.Row) -> Path:
        raw = row["inbox_raw"]
        return self.inbox / (os.fsdecode(raw) if isinstance(raw, bytes) else row["inbox_name"])

    def _forget_source(self, row: sqlite3.Row) -> bool:
        """Remove the inbox's copy of what was taken, if it is unchanged; True if it was left
        because it grew (what it holds beyond what was taken is new)."""
        if row["inbox_raw"] is None or row["inode"] is None:
            return False
        source = self._source(row)
        identity = (row["device"], row["inode"])
        end = row["offset"] + row["size"]
        if inbox.unchanged(source, identity, end, row["mtime_ns"]):
            source.unlink(missing_ok=True)
            return False
        try:
            now_stat = source.lstat()
        except FileNotFoundError:
            return False
        return (now_stat.st_dev, now_stat.st_ino) == identity and now_stat.st_size > end

    def _validate(self, spool: Path, row: sqlite3.Row, *, duplicate: bool, write: bool) -> Summary:
        """Validate the spool once; with ``write``, its outputs go to ``OUT/<unique>/``: a
        duplicate gets its 277CA and a note, a file that is not X12 its JSON and HTML."""
        validator = self._plain if duplicate else self._validator
        unique, name = row["unique_name"], row["inbox_name"]
        with spool.open("rb") as stream:
            if not write:
                return validator.write(stream, [], name)
            folder = inbox.private_folder(self.output / unique)
            base = unique.split("-", 1)[1]
            if duplicate:
                target = AtomicFile(folder / f"{base}.277")
                try:
                    summary = validator.write(
                        stream,
                        [
                            Ack277Sink(
                                target, validator.when(), numbers=self._numbers, duplicate=True
                            )
                        ],
                        name,
                    )
                except BaseException:
                    target.abort()
                    raise
                target.commit(keep=target.size > 0)
                note = (
                    f"{name}: a duplicate of {row['duplicate_of']} (the same bytes, SHA-256 "
                    f"{row['sha256']}).\nIt was not validated again: its 277CA returns the "
                    "batch (STC A3:746) and every claim (A3:23:41) to the submitter.\n"
                )
                write_atomic(folder / f"{base}.txt", note.encode())
                return summary
            outputs = Outputs(
                folder,
                name,
                validator.when(),
                size=spool.stat().st_size,
                base=base,
                numbers=self._numbers,
            )
            try:
                summary = validator.write(stream, outputs.sinks, name)
            except BaseException:
                outputs.abort()
                raise
        quarantined = _outcome(summary, duplicate=False) == "quarantined"
        outputs.commit(("json", "html") if quarantined else Outputs.KINDS)
        return summary

    # -- logging ------------------------------------------------------------------------------

    def _emit(self, processed: Processed) -> None:
        if self._log_format == "json":
            record = attrs.asdict(processed) | {"seconds": round(processed.seconds, 3)}
            self._write({"time": _time(), **record})
            return
        line = (
            f"{_time()} {_escape(processed.name)}: {processed.outcome}, "
            f"{processed.claims} claims, {processed.accepted} accepted, "
            f"{processed.rejected} rejected, {processed.seconds:.2f}s -> {processed.archived_as}"
        )
        self._log_line(line + (f" ({_escape(processed.reason)})" if processed.reason else ""))

    def _event(self, event: str, **fields: object) -> None:
        if self._log_format == "json":
            self._write({"time": _time(), "event": event, **fields})
            return
        parts = [f"{key}={_escape(str(value))}" for key, value in fields.items() if key != "name"]
        name = f" {_escape(str(fields['name']))}:" if "name" in fields else ""
        self._log_line(f"{_time()} {event}:{name} {', '.join(parts)}".rstrip(" :,"))

    def _write(self, record: dict[str, object]) -> None:
        self._log_line(json.dumps(record))

    def _log_line(self, line: str) -> None:
        self._log.write(line + "\n")
        self._log.flush()


def _time() -> str:
    return f"{now():%Y-%m-%dT%H:%M:%SZ}"


def _stamp() -> str:
    return f"{now():%Y%m%dT%H%M%S%fZ}"


def _escape(text: str) -> str:
    """Text for a log line: undecodable bytes and control characters escaped (``\\x0a``), so
    a name cannot forge a line or drive a terminal."""
    return inbox.printable(os.fsencode(text))


def _outcome(summary: Summary, *, duplicate: bool) -> str:
    if duplicate:
        return "duplicate"
    if summary.errors & _UNREADABLE and not summary.transactions:
        return "quarantined"
    return "rejected" if summary.rejected else "accepted"


def _reason(summary: Summary, outcome: str, row: sqlite3.Row) -> str:
    """Why, in a few words: the rules that rejected, the original of a duplicate."""
    if outcome == "duplicate":
        return f"duplicate of {row['duplicate_of']}"
    if outcome == "quarantined":
        return "not X12: " + ", ".join(sorted(summary.errors & _UNREADABLE))
    if outcome == "rejected":
        rules = [*sorted(summary.errors), *(r for r in summary.reasons if r not in summary.errors)]
        return ", ".join(rules[:3]) + (f" and {len(rules) - 3} more" if len(rules) > 3 else "")
    return ""


def install_signal_handlers(watcher: Watcher) -> Callable[[], None]:
    """SIGTERM and SIGINT finish the current file, then stop; returns a restore function."""

    def handle(signum: int, frame: FrameType | None) -> None:
        watcher.stop()

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
