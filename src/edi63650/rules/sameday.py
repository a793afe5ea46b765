"""The accepted claims before this one: what the edits across claims ask about.

Payers apply NCCI PTP pairs and date-of-service MUEs (MAI 2 and 3) to a beneficiary's services
by one provider on one date, however they are split across claims, and reject a claim sent
twice. :class:`SameDay` keeps, for the claims accepted so far in this file, every dated
procedure line by patient, provider and date, and each claim's fingerprint; with a
:class:`~edi63650.rules.history.HistoryStore` it asks the store for those of earlier
submissions too. A claim sees only the claims before it (the later claim is the one that
completes a violation), never itself, and not the original it replaces or voids.

Up to :data:`MEMORY_LIMIT` lines are kept in memory; the rest go to a temporary SQLite
database (owner-only, deleted at the end), so a file of any size runs in bounded memory. The
days last read from it are kept too (up to :data:`DAYS_LINES` lines), and kept up to date, so
that claims asking about the same day one after another read it once. Each day's lines are
kept by code and claim, with their units, so a claim skips its own lines (and those of what it
replaces) in one lookup, however often its CLM01 came before.
:meth:`SameDay.mark` and :meth:`SameDay.rewind` take back what was added (and withdrawn)
since an interchange began, to read it again.
"""

from __future__ import annotations

import datetime
import hashlib
import itertools
import sqlite3
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from edi63650.model import Claim
from edi63650.rules.history import (
    LINES_PER_DAY,
    HistoryStore,
    Service,
    line_date,
    rendering_provider,
)
from edi63650.rules.scratch import scratch_database

#: Lines kept in memory before the index goes on in a temporary database.
MEMORY_LIMIT = 5_000

#: Lines of the days read from that database kept in memory, at most (of each claim and code
#: on a day, the first :data:`SCAN`, and the units of all).
DAYS_LINES = 5_000

#: Rows written to that database together (one transaction).
_BATCH = 2_000

#: Patients kept in a set before a fixed-size filter takes over.
_FEW_PATIENTS = 4_096

# What an undo record does (SameDay.rewind).
_TAKE, _PUT, _UNPRINT, _REPRINT, _DISOWN, _REOWN = (object() for _ in range(6))

_Day = tuple[str, str, datetime.date]  # patient, provider, date of service
_Place = tuple[_Day, str, str, int]  # where a line is kept: its day, code, CLM01 and number

# The indexes are on the hash of what is looked up (patient, provider and day; the
# fingerprint and claim), which the queries then compare in full: an index of integers, not of
# patient keys and fingerprints of 64 characters, keeps writing a large file's lines cheap.
# Such an index takes each row at a place of its own, so once it outgrows SQLite's cache each
# row costs a page written: a line has one such index (by its day) and a claim two (by its
# fingerprint, and by CLM01 in ``claims``, whose row lists the ids of its lines and fingerprint
# to withdraw them by). Rows withdrawn (``gone``: when, else 0) leave the part of those indexes
# that a question reads, however many there are, and within it the rows are in the order they
# came (an index ends in the row's id, and ids grow as ``seq`` does), so a question that wants
# the first few reads no more. The indexes on ``seq`` and on the rows withdrawn (which the
# query restoring them names, so that SQLite may use it) let a rewind touch only what came
# after its mark.
_SCHEMA = """
CREATE TABLE lines (
    id INTEGER PRIMARY KEY, day_key INTEGER NOT NULL,
    patient TEXT NOT NULL, provider TEXT NOT NULL, day INTEGER NOT NULL, code TEXT NOT NULL,
    modifiers TEXT NOT NULL, units TEXT NOT NULL, claim_id TEXT NOT NULL, line INTEGER NOT NULL,
    seq INTEGER NOT NULL, gone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX lines_by_day ON lines (day_key, gone);
CREATE INDEX lines_by_seq ON lines (seq);
CREATE INDEX lines_by_gone ON lines (gone) WHERE gone > 0;
CREATE TABLE prints (
    id INTEGER PRIMARY KEY, print_key INTEGER NOT NULL,
    fingerprint TEXT NOT NULL, patient TEXT NOT NULL, claim_id TEXT NOT NULL,
    seq INTEGER NOT NULL, gone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX prints_by_print ON prints (print_key, gone);
CREATE INDEX prints_by_seq ON prints (seq);
CREATE INDEX prints_by_gone ON prints (gone) WHERE gone > 0;
CREATE TABLE claims (
    claim_key INTEGER NOT NULL, patient TEXT NOT NULL, claim_id TEXT NOT NULL,
    lines TEXT NOT NULL, print INTEGER, print_key INTEGER, seq INTEGER NOT NULL,
    gone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX claims_by_claim ON claims (claim_key, gone, print_key);
CREATE INDEX claims_by_seq ON claims (seq);
CREATE INDEX claims_by_gone ON claims (gone) WHERE gone > 0;
"""


def fingerprint(claim: Claim, patient: str) -> str:
    """What makes two claims the same claim: the patient, the billing provider, and each
    line's rendering provider, date, procedure with modifiers (in any order), units and
    charge; CLM01 may differ. Lines in any order."""
    billing = claim.context.billing_provider
    parts = [patient, billing.npi or "" if billing else "", str(claim.total_charge or "")]
    lines = []
    for line in claim.lines:
        procedure = line.procedure
        day = line_date(claim, line)
        lines.append(
            "\x1e".join(
                (
                    rendering_provider(claim, line),
                    day.isoformat() if day else "",
                    procedure.qualifier or "" if procedure else "",
                    procedure.code if procedure else "",
                    " ".join(sorted(procedure.modifiers)) if procedure else "",
                    format(line.units.normalize(), "f") if line.units is not None else "",
                    format(line.charge.normalize(), "f") if line.charge is not None else "",
                )
            )
        )
    parts += sorted(lines)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


#: Lines of one code on one day a query looks through for one with a property (no bypass
#: modifier), at most: enough for any real day, and a bound for a hostile one.
SCAN = 64


class _Seen:
    """Whether a key may have been added: a one-hash Bloom filter of fixed size (``bits``, a
    power of two), so the index is searched only for keys it may hold, in memory that does
    not grow."""

    def __init__(self, bits: int = 1 << 23) -> None:
        self._mask = bits - 1
        self._bits = bytearray(bits // 8)

    def add(self, key: object) -> None:
        bit = hash(key) & self._mask
        self._bits[bit >> 3] |= 1 << (bit & 7)

    def __contains__(self, key: object) -> bool:
        bit = hash(key) & self._mask
        return bool(self._bits[bit >> 3] & (1 << (bit & 7)))


def _written(modifiers: frozenset[str]) -> str:
    """A line's modifiers as the database keeps them: joined by spaces."""
    return " ".join(sorted(modifiers))


def _read(modifiers: str) -> frozenset[str]:
    """A line's modifiers as the database gives them back: split at whitespace."""
    return frozenset(modifiers.split())


def _as_written(service: Service) -> Service:
    """``service`` as the database gives it back, so a line reads the same before its batch
    is written."""
    modifiers = _read(_written(service.modifiers))
    return service if modifiers == service.modifiers else attrs.evolve(service, modifiers=modifiers)


@attrs.define
class Lines:
    """The lines of one code on one day, by claim (CLM01, in the order the claims came), with
    their units in all and by claim."""

    claims: dict[str, dict[int, Service]] = attrs.field(factory=dict)  # CLM01 -> number -> line
    units: Decimal = Decimal(0)  # written as their sum is (see exponents)
    claim_units: dict[str, Decimal] = attrs.field(factory=dict)
    # The exponents of the lines' units (-2 for 1.00) and how many lines have each: once the
    # last line with the lowest is taken out, the total drops the trailing zeros it brought
    # (1 + 1.00 - 1.00 reads 1, as the sum of the lines there does, not 1.00).
    exponents: dict[int, int] = attrs.field(factory=dict)

    def put(self, number: int, service: Service, *, keep: int = 0) -> bool:
        """Add a line. With ``keep``, a claim's lines past its first ``keep`` count for their
        units only (:meth:`Day.lines` never reads so far). Whether the line was kept."""
        claim_id = service.claim_id
        group = self.claims.get(claim_id)
        if group is None:
            group = self.claims[claim_id] = {}
        kept = not keep or len(group) < keep
        if kept:
            group[number] = service
        self.units += service.units
        self.claim_units[claim_id] = self.claim_units.get(claim_id, Decimal(0)) + service.units
        if exponent := _places(service.units):
            self.exponents[exponent] = self.exponents.get(exponent, 0) + 1
        return kept

    def reorder(self) -> None:
        """Put lines given back (a rewind undoing a withdrawal) where they came: by their
        numbers, which grow as lines are added, as the database orders its rows."""
        self.claims = {
            claim_id: dict(sorted(group.items()))
            for claim_id, group in sorted(self.claims.items(), key=lambda item: min(item[1]))
        }

    def take(self, claim_id: str, number: int) -> Service | None:
        group = self.claims.get(claim_id)
        service = group.pop(number, None) if group else None
        if service is not None:
            self.units -= service.units
            self.claim_units[claim_id] -= service.units
            if not group:
                del self.claims[claim_id], self.claim_units[claim_id]
            if exponent := _places(service.units):
                left = self.exponents[exponent] - 1
                if left:
                    self.exponents[exponent] = left
                else:
                    del self.exponents[exponent]
                    self.units = _rescaled(self.units, min(self.exponents, default=0))
        return service


def _places(units: Decimal) -> int:
    """The exponent of ``units`` when it has decimal places (-2 for 1.00), else 0."""
    exponent = units.as_tuple().exponent
    return exponent if isinstance(exponent, int) and exponent < 0 else 0


def _rescaled(total: Decimal, exponent: int) -> Decimal:
    """``total`` with no more decimal places than ``exponent`` allows, where it has more
    (trailing zeros only: the value is a sum of amounts with no more places)."""
    if not isinstance(found := total.as_tuple().exponent, int) or found >= exponent:
        return total
    try:
        return total.quantize(Decimal(1).scaleb(exponent))
    except InvalidOperation:  # (more digits than the context keeps: left as it is)
        return total


_Codes = dict[str, Lines]


def _lines_of(codes: _Codes, code: str) -> Lines:
    """The lines of ``code`` in ``codes``, made when there are none yet."""
    lines = codes.get(code)
    if lines is None:
        lines = codes[code] = Lines()
    return lines


def _codes_of(
    services: Iterable[Service], numbers: Iterator[int], keep: int = 0
) -> tuple[_Codes, int]:
    """``services`` by code and claim (see :meth:`Lines.put`), and how many were kept."""
    out: _Codes = {}
    kept = 0
    for service in services:
        kept += _lines_of(out, service.code).put(next(numbers), service, keep=keep)
    return out, kept


@attrs.define
class _DayRead:
    """A day read from the database and kept: its lines, how many rows they are (at most
    :data:`LINES_PER_DAY`, as a query reads) and how many of those are kept (see ``keep`` in
    :meth:`Lines.put`)."""

    codes: _Codes
    rows: int
    kept: int


@attrs.frozen
class Day:
    """The accepted lines before a claim of its patient by one provider on one date, by
    code: what one group of the claim's lines is checked against. ``parts`` are this file's
    in memory, this file's beyond memory and the store's, in that order (shared: read only);
    the lines of the claims ``skip`` do not count."""

    parts: tuple[_Codes, ...]
    skip: frozenset[str]

    @property
    def empty(self) -> bool:
        return not any(self.parts)

    def has(self, code: str) -> bool:
        """Whether a line of ``code`` may be there (:meth:`lines` says which, if any)."""
        return any((lines := part.get(code)) is not None and lines.claims for part in self.parts)

    def lines(self, code: str) -> list[Service]:
        """Up to :data:`SCAN` lines of ``code``, this file's first, in the order their claims
        came."""
        out: list[Service] = []
        skip = self.skip
        for part in self.parts:
            lines = part.get(code)
            if lines is None:
                continue
            for claim_id, group in lines.claims.items():
                if claim_id in skip:
                    continue
                for service in group.values():
                    out.append(service)
                    if len(out) == SCAN:
                        return out
        return out

    def units(self, code: str) -> Decimal:
        total = Decimal(0)
        for part in self.parts:
            lines = part.get(code)
            if lines is not None:
                total += lines.units
                for claim_id in self.skip:
                    total -= lines.claim_units.get(claim_id, Decimal(0))
        return total


_EMPTY_DAY = Day((), frozenset())


@attrs.frozen
class Earlier:
    """The claims before one claim, as its rules see them: those of its patient, less the
    claim itself and what it replaces (``skip``: their CLM01s); ``duplicate_of`` names the one
    it repeats exactly (the edits across claims then leave it to the duplicate rule)."""

    index: SameDay
    patient: str
    skip: frozenset[str]
    duplicate_of: str | None = None  # the CLM01 of an earlier accepted claim it repeats
    _days: dict[tuple[str, datetime.date], Day] = attrs.field(factory=dict, eq=False)

    def day(self, provider: str, day: datetime.date) -> Day:
        """Lines of earlier accepted claims of this patient by ``provider`` on ``day`` (asked
        once per claim: several rules ask)."""
        found = self._days.get((provider, day))
        if found is None:
            found = self._days[(provider, day)] = self.index.day(
                self.patient, provider, day, self.skip
            )
        return found


class SameDay:
    """This file's accepted claims (and, with ``store``, earlier submissions' ones) by patient,
    provider and date. ``run`` names this reading in the store, whose rows of it are left
    out (they are this file's own, read again)."""

    def __init__(
        self, store: HistoryStore | None = None, *, run: str = "", limit: int | None = None
    ) -> None:
        self._store = store
        self._run = run
        self._limit = MEMORY_LIMIT if limit is None else limit
        # (patient, provider, day) -> code -> its lines by claim
        self._lines: dict[_Day, _Codes] = {}
        self._prints: dict[str, dict[tuple[str, str], None]] = {}  # -> (patient, CLM01)
        # (patient, CLM01) -> where its lines (day, code, CLM01, number) and fingerprints are
        self._claims: dict[tuple[str, str], list[_Place | str]] = {}
        self._kept = 0  # lines and fingerprints in memory
        self._seq = 0
        # What rewind undoes, as data (closures over self would make a cycle that only the
        # cyclic collector frees: a service taking file after file must not wait for it).
        self._undo: list[tuple[Any, ...]] = []
        self._mark = 0
        self._db: sqlite3.Connection | None = None
        self._seen: _Seen | None = None  # the days and fingerprints the database may hold
        # The patients with an accepted claim in this file: a set while they are few (most
        # files), then a fixed-size filter.
        self._patients: set[str] | _Seen = set()
        self._pending_lines: list[tuple[object, ...]] = []  # rows for the database, batched
        self._pending_prints: list[tuple[object, ...]] = []
        self._pending_claims: list[tuple[object, ...]] = []
        self._ids = itertools.count(1)  # of the rows of lines and prints
        # The same rows by what is asked of them, so that a question does not flush a batch.
        self._pending_days: dict[_Day, list[Service]] = {}
        self._pending_owners: dict[str, dict[str, None]] = {}  # fingerprint -> CLM01s
        # The days last read from the database (oldest first), and the lines they keep in all.
        self._days_read: dict[_Day, _DayRead] = {}
        self._read_lines = 0
        # (patient, CLM01) -> the days read holding lines of that claim
        self._read_of: dict[tuple[str, str], dict[_Day, None]] = {}
        self._numbers = itertools.count()  # of the lines of the days read

    # -- adding and taking out ----------------------------------------------------------------

    def add(self, patient: str, claim_id: str, lines: Iterable[Service], print_: str) -> None:
        """An accepted claim: its dated lines and its fingerprint."""
        self._seq += 1
        patients = self._patients
        if isinstance(patients, set) and len(patients) >= _FEW_PATIENTS:
            grown = _Seen(1 << 20)
            for known in patients:
                grown.add(known)
            self._patients = patients = grown
        patients.add(patient)
        owner = (patient, claim_id)
        owned: list[_Place | str] = []  # what of it is kept in memory
        beyond = []
        for service in lines:
            if self._kept >= self._limit:
                beyond.append(service)
                continue
            self._kept += 1
            day = (service.patient, service.provider, service.date)
            place = (day, service.code, service.claim_id, self._kept)
            self._put(place, service)
            owned.append(place)
            self._undo.append((_TAKE, place))
        ids: list[int] = []  # of its lines and fingerprint on disk
        if beyond:
            seen = self._database()
            for s in beyond:
                day = (s.patient, s.provider, s.date)
                seen.add(day)
                self._pending_days.setdefault(day, []).append(s)
                self._keep_read(day, s)
                ids.append(next(self._ids))
                self._pending_lines.append(
                    (
                        ids[-1],
                        hash(day),
                        s.patient,
                        s.provider,
                        s.date.toordinal(),
                        s.code,
                        _written(s.modifiers),
                        str(s.units),
                        s.claim_id,
                        s.line,
                        self._seq,
                    )
                )
        print_id = None
        if self._has_print(print_, owner):
            pass  # (the same claim again under its own CLM01: one entry answers for both)
        elif self._kept < self._limit:
            self._kept += 1
            self._prints.setdefault(print_, {})[owner] = None
            owned.append(print_)
            self._undo.append((_UNPRINT, print_, owner))
        else:
            self._database().add(print_)
            print_id = next(self._ids)
            row = (print_id, hash(print_), print_, patient, claim_id, self._seq)
            self._pending_prints.append(row)
            self._pending_owners.setdefault(print_, {})[claim_id] = None
        if ids or print_id is not None:
            listed = " ".join(map(str, ids))
            print_key = None if print_id is None else hash(print_)
            self._pending_claims.append(
                (hash(owner), patient, claim_id, listed, print_id, print_key, self._seq)
            )
        if len(self._pending_lines) + len(self._pending_prints) >= _BATCH:
            self._flush()
        if owned:  # (its entries are taken back one by one above)
            kept = self._claims.setdefault(owner, [])
            kept += owned
            self._undo.append((_DISOWN, owner, len(owned)))

    def _has_print(self, print_: str, owner: tuple[str, str]) -> bool:
        """Whether ``owner`` (patient and CLM01) already has fingerprint ``print_``."""
        if owner in self._prints.get(print_, ()):
            return True
        if self._db is None or self._seen is None or print_ not in self._seen:
            return False
        if owner[1] in self._pending_owners.get(print_, ()):
            return True
        return (
            self._db.execute(
                "SELECT 1 FROM claims JOIN prints ON prints.id = claims.print "
                "WHERE claims.claim_key = ? AND claims.gone = 0 AND claims.print_key = ? "
                "AND claims.patient = ? AND claims.claim_id = ? AND fingerprint = ? LIMIT 1",
                (hash(owner), hash(print_), *owner, print_),
            ).fetchone()
            is not None
        )

    def withdraw(self, patient: str, claim_ids: Iterable[str]) -> None:
        """Take out the claims ``claim_ids`` of ``patient`` (a replacement or void accepted):
        they no longer count."""
        self._seq += 1
        for claim_id in claim_ids:
            owner = (patient, claim_id)
            places = self._claims.pop(owner, [])
            if places:
                self._undo.append((_REOWN, owner, places))
            for place in places:
                if isinstance(place, str):
                    self._prints[place].pop(owner, None)
                    self._undo.append((_REPRINT, place, owner))
                    continue
                service = self._take(place)
                if service is not None:
                    self._undo.append((_PUT, place, service))
            if self._db is not None:
                self._flush()
                self._forget_days_of(patient, claim_id)
                self._withdraw_on_disk(owner)

    def _withdraw_on_disk(self, owner: tuple[str, str]) -> None:
        """Mark the rows of ``owner`` (patient and CLM01) not yet withdrawn as withdrawn now:
        those its claims rows list, each found by its id."""
        assert self._db is not None  # noqa: S101 - only called once it exists
        db, seq = self._db, self._seq
        found = db.execute(
            "SELECT rowid, lines, print FROM claims WHERE claim_key = ? AND gone = 0 "
            "AND patient = ? AND claim_id = ?",
            (hash(owner), *owner),
        ).fetchall()
        for table, ids in (
            ("lines", [int(n) for _, listed, _ in found for n in listed.split()]),
            ("prints", [n for _, _, n in found if n is not None]),
            ("claims", [rowid for rowid, _, _ in found]),
        ):
            for start in range(0, len(ids), 500):  # (SQLite's limit on parameters: 999)
                part = ids[start : start + 500]
                db.execute(
                    f"UPDATE {table} SET gone = ? WHERE rowid IN ({', '.join('?' * len(part))}) "  # noqa: S608 - our table names, placeholders
                    "AND gone = 0",
                    (seq, *part),
                )

    def _undo_one(self, record: tuple[Any, ...]) -> Lines | None:
        """Undo one step; the lines a withdrawn line went back to (at their end: see
        :meth:`Lines.reorder`)."""
        kind = record[0]
        if kind is _TAKE:
            self._take(record[1])
        elif kind is _PUT:
            return self._put(record[1], record[2])
        elif kind is _UNPRINT:
            self._prints[record[1]].pop(record[2], None)
        elif kind is _REPRINT:
            self._prints.setdefault(record[1], {})[record[2]] = None
        elif kind is _DISOWN:
            kept = self._claims.get(record[1], [])
            del kept[len(kept) - record[2] :]
        else:  # _REOWN
            self._claims[record[1]] = record[2]
        return None

    def _put(self, place: _Place, service: Service) -> Lines:
        day, code, _, number = place
        lines = _lines_of(self._lines.setdefault(day, {}), code)
        lines.put(number, service)
        return lines

    def _take(self, place: _Place) -> Service | None:
        day, code, claim_id, number = place
        lines = self._lines.get(day, {}).get(code)
        return lines.take(claim_id, number) if lines is not None else None

    def _keep_read(self, day: _Day, service: Service) -> None:
        """A line past memory: the day it falls on, if kept as read, holds it too (up to
        :data:`LINES_PER_DAY`, as reading it again would)."""
        read = self._days_read.get(day)
        if read is None or read.rows >= LINES_PER_DAY:
            return
        read.rows += 1
        self._note_read(day, (service.claim_id,))
        lines = _lines_of(read.codes, service.code)
        if lines.put(next(self._numbers), _as_written(service), keep=SCAN):
            read.kept += 1
            self._read_lines += 1
            self._forget_read()

    def _forget_days_of(self, patient: str, claim_id: str) -> None:
        """Let the days read that hold lines of ``claim_id`` of ``patient`` go (withdrawn: the
        database then answers without them)."""
        for day in list(self._read_of.get((patient, claim_id), ())):
            if day in self._days_read:
                self._drop_read(day)

    def _forget_read(self) -> None:
        """Let the oldest days read go while more than :data:`DAYS_LINES` lines are kept (a day
        counting as a line too, so that days read with none are not kept without end)."""
        while self._read_lines > DAYS_LINES and self._days_read:
            self._drop_read(next(iter(self._days_read)))

    def _note_read(self, day: _Day, claim_ids: Iterable[str]) -> None:
        for claim_id in claim_ids:
            self._read_of.setdefault((day[0], claim_id), {})[day] = None

    def _drop_read(self, day: _Day) -> None:
        read = self._days_read.pop(day)
        self._read_lines -= read.kept + 1
        for lines in read.codes.values():
            for claim_id in lines.claims:
                days = self._read_of.get((day[0], claim_id))
                if days is not None:
                    days.pop(day, None)
                    if not days:
                        del self._read_of[(day[0], claim_id)]

    def _database(self) -> _Seen:
        """The database (made on first use), and what it may hold."""
        if self._db is None or self._seen is None:
            self._db = scratch_database(_SCHEMA)
            self._seen = _Seen()
        return self._seen

    def _flush(self) -> None:
        """Write the rows waiting for the database, in one transaction."""
        db = self._db
        if db is None or not self._pending_claims:
            return
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO lines (id, day_key, patient, provider, day, code, modifiers, "
            "units, claim_id, line, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._pending_lines,
        )
        db.executemany(
            "INSERT INTO prints (id, print_key, fingerprint, patient, claim_id, seq) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            self._pending_prints,
        )
        db.executemany(
            "INSERT INTO claims (claim_key, patient, claim_id, lines, print, print_key, seq) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            self._pending_claims,
        )
        db.execute("COMMIT")
        self._pending_lines, self._pending_prints, self._pending_claims = [], [], []
        self._pending_days, self._pending_owners = {}, {}

    # -- marks ----------------------------------------------------------------------------------

    def mark(self) -> int:
        """Remember this point (an interchange's start) for :meth:`rewind`."""
        self._undo = []
        self._mark = self._seq
        return self._mark

    def rewind(self, mark: int) -> None:
        """Forget what was added and withdrawn since ``mark``."""
        if mark != self._mark:
            return
        restored: dict[int, Lines] = {}
        for record in reversed(self._undo):
            lines = self._undo_one(record)
            if lines is not None:
                restored[id(lines)] = lines
        for lines in restored.values():
            lines.reorder()
        self._undo = []
        if self._db is not None:
            self._flush()
            self._days_read, self._read_lines, self._read_of = {}, 0, {}
            for table in ("lines", "prints", "claims"):
                self._db.execute(f"DELETE FROM {table} WHERE seq > ?", (mark,))  # noqa: S608 - our table names
                restore = f"UPDATE {table} SET gone = 0 WHERE gone > ? AND gone > 0"  # noqa: S608 - our table names
                self._db.execute(restore, (mark,))
        self._seq = mark

    # -- queries --------------------------------------------------------------------------------

    def knows(self, patient: str) -> bool:
        """Whether there may be an accepted claim of ``patient`` before (in this file, or in
        the store); when not, a claim of theirs has nothing to be checked against."""
        return self._store is not None or patient in self._patients

    def day(self, patient: str, provider: str, day: datetime.date, skip: frozenset[str]) -> Day:
        """The accepted lines of ``patient`` by ``provider`` on ``day`` (less those of the
        claims ``skip``): this file's, in the order they came, then the store's."""
        if not self.knows(patient):
            return _EMPTY_DAY
        key = (patient, provider, day)
        here = self._lines.get(key)
        on_disk = self._db is not None and self._seen is not None and key in self._seen
        if not here and not on_disk and self._store is None:
            return _EMPTY_DAY  # (most days of most claims)
        parts = [here] if here else []
        if on_disk:
            read = self._read_day(key)
            if read:
                parts.append(read)
        if self._store is not None:
            stored = self._store.lines_on(patient, provider, day, skip=self._run)
            if stored:
                parts.append(_codes_of(stored, itertools.count())[0])
        if not parts:
            return _EMPTY_DAY
        return Day(tuple(parts), skip)

    def _read_day(self, key: _Day) -> _Codes:
        """This file's lines of ``key`` beyond memory (up to :data:`LINES_PER_DAY`): kept as
        last read, else read (the rows written, then those waiting to be: newer, so in the
        same order) and kept."""
        known = self._days_read.pop(key, None)
        if known is not None:
            self._days_read[key] = known  # (now the newest)
            return known.codes
        assert self._db is not None  # noqa: S101 - only asked of a day on disk
        patient, provider, day = key
        rows = self._db.execute(
            "SELECT code, modifiers, units, claim_id, line FROM lines WHERE day_key = ? "
            "AND gone = 0 AND patient = ? AND provider = ? AND day = ? ORDER BY id LIMIT ?",
            (hash(key), patient, provider, day.toordinal(), LINES_PER_DAY),
        )
        services = [
            Service(patient, provider, code, _read(mods), day, Decimal(units), claim_id, number)
            for code, mods, units, claim_id, number in rows
        ]
        waiting = self._pending_days.get(key, [])
        services += map(_as_written, waiting[: max(0, LINES_PER_DAY - len(services))])
        codes, kept = _codes_of(services, self._numbers, SCAN)
        self._days_read[key] = _DayRead(codes, len(services), kept)
        for lines in codes.values():
            self._note_read(key, lines.claims)
        self._read_lines += kept + 1
        self._forget_read()
        return codes

    def duplicate(self, print_: str, skip: frozenset[str]) -> str | None:
        """The CLM01 of an accepted claim with fingerprint ``print_`` (not one of ``skip``)."""
        for _, claim_id in self._prints.get(print_, {}):
            if claim_id not in skip:
                return claim_id
        if self._db is not None and self._seen is not None and print_ in self._seen:
            others = ", ".join("?" * len(skip))  # (a claim and what it replaces: a few)
            query = (
                "SELECT claim_id FROM prints WHERE print_key = ? AND gone = 0 AND fingerprint = ? "  # noqa: S608 - placeholders only
                f"AND claim_id NOT IN ({others}) ORDER BY id LIMIT 1"
            )
            for (claim_id,) in self._db.execute(query, (hash(print_), print_, *skip)):
                return str(claim_id)
            for claim_id in self._pending_owners.get(print_, ()):  # (not written yet)
                if claim_id not in skip:
                    return claim_id
        if self._store is not None:
            found = self._store.claim_with(print_, skip=self._run)
            if found is not None and found not in skip:
                return found
        return None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
