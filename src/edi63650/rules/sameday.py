"""The accepted claims before this one: what the edits across claims ask about.

Payers apply NCCI PTP pairs and date-of-service MUEs (MAI 2 and 3) to a beneficiary's services
by one provider on one date, however they are split across claims, and reject a claim sent
twice. :class:`SameDay` keeps, for the claims accepted so far in this file, every dated
procedure line by patient, provider and date, and each claim's fingerprint; with a
:class:`~edi63650.rules.history.HistoryStore` it asks the store for those of earlier
submissions too. A claim sees only the claims before it (the later claim is the one that
completes a violation), never itself, and not the original it replaces or voids.

Up to :data:`MEMORY_LIMIT` lines are kept in memory; the rest go to a temporary SQLite
database (owner-only, deleted at the end), so a file of any size runs in bounded memory.
:meth:`SameDay.mark` and :meth:`SameDay.rewind` take back what was added (and withdrawn)
since an interchange began, to read it again.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
from collections.abc import Iterable
from decimal import Decimal
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

#: Rows written to that database together (one transaction).
_BATCH = 2_000

#: Patients kept in a set before a fixed-size filter takes over.
_FEW_PATIENTS = 4_096

# What an undo record does (SameDay.rewind).
_TAKE, _PUT, _UNPRINT, _REPRINT, _DISOWN, _REOWN = (object() for _ in range(6))

_Day = tuple[str, str, datetime.date]  # patient, provider, date of service
_Place = tuple[_Day, str, int]  # where a line is kept: its day, code and number

# The indexes are on the hash of what is looked up (patient, provider and day; patient and
# CLM01; the fingerprint), which the queries then compare in full: an index of integers, not
# of patient keys and fingerprints of 64 characters, keeps writing a large file's lines cheap.
_SCHEMA = """
CREATE TABLE lines (
    day_key INTEGER NOT NULL, claim_key INTEGER NOT NULL,
    patient TEXT NOT NULL, provider TEXT NOT NULL, day INTEGER NOT NULL, code TEXT NOT NULL,
    modifiers TEXT NOT NULL, units TEXT NOT NULL, claim_id TEXT NOT NULL, line INTEGER NOT NULL,
    seq INTEGER NOT NULL, gone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX lines_by_day ON lines (day_key);
CREATE INDEX lines_by_claim ON lines (claim_key);
CREATE TABLE prints (
    print_key INTEGER NOT NULL, claim_key INTEGER NOT NULL, fingerprint TEXT NOT NULL,
    patient TEXT NOT NULL, claim_id TEXT NOT NULL, seq INTEGER NOT NULL,
    gone INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX prints_by_print ON prints (print_key);
CREATE INDEX prints_by_claim ON prints (claim_key);
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


@attrs.frozen
class Day:
    """The accepted lines before a claim of its patient by one provider on one date, by
    code: what one group of the claim's lines is checked against."""

    here: dict[str, dict[int, Service]]  # this file's, in memory (shared: read only)
    more: dict[str, list[Service]]  # this file's beyond memory, and the store's
    units_here: dict[str, Decimal]  # running sums of ``here`` (shared: read only)
    skip: frozenset[str]
    skipped: dict[str, Decimal]  # units of the skipped claims' lines in ``here``, by code

    @property
    def empty(self) -> bool:
        return not self.here and not self.more

    def has(self, code: str) -> bool:
        """Whether a line of ``code`` may be there (:meth:`lines` says which, if any)."""
        return bool(self.here.get(code)) or code in self.more

    def lines(self, code: str) -> list[Service]:
        """Up to :data:`SCAN` lines of ``code``, this file's first, in the order they came."""
        out = []
        for service in (*self.here.get(code, {}).values(), *self.more.get(code, ())):
            if service.claim_id not in self.skip:
                out.append(service)
                if len(out) == SCAN:
                    break
        return out

    def units(self, code: str) -> Decimal:
        total = self.units_here.get(code, Decimal(0)) - self.skipped.get(code, Decimal(0))
        return total + sum(
            (s.units for s in self.more.get(code, ()) if s.claim_id not in self.skip), Decimal(0)
        )


_EMPTY_DAY = Day({}, {}, {}, frozenset(), {})


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
        # (patient, provider, day) -> code -> line number in this index -> the line (dicts keep
        # their order), with the units of each code
        self._lines: dict[_Day, dict[str, dict[int, Service]]] = {}
        self._units: dict[_Day, dict[str, Decimal]] = {}
        self._prints: dict[str, dict[tuple[str, str], None]] = {}  # -> (patient, CLM01)
        # (patient, CLM01) -> where its lines (day, code, number) and fingerprints are
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
        # The same rows by what is asked of them, so that a question does not flush a batch.
        self._pending_days: dict[_Day, list[Service]] = {}
        self._pending_owners: dict[str, list[str]] = {}  # fingerprint -> CLM01s

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
            place = ((service.patient, service.provider, service.date), service.code, self._kept)
            self._put(place, service)
            owned.append(place)
            self._undo.append((_TAKE, place))
        if beyond:
            seen = self._database()
            for s in beyond:
                day = (s.patient, s.provider, s.date)
                seen.add(day)
                self._pending_days.setdefault(day, []).append(s)
                self._pending_lines.append(
                    (
                        hash(day),
                        hash((s.patient, s.claim_id)),
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
        if self._kept < self._limit:
            self._kept += 1
            self._prints.setdefault(print_, {})[owner] = None
            owned.append(print_)
            self._undo.append((_UNPRINT, print_, owner))
        else:
            self._database().add(print_)
            row = (hash(print_), hash(owner), print_, patient, claim_id, self._seq)
            self._pending_prints.append(row)
            self._pending_owners.setdefault(print_, []).append(claim_id)
        if len(self._pending_lines) + len(self._pending_prints) >= _BATCH:
            self._flush()
        if owned:  # (its entries are taken back one by one above)
            kept = self._claims.setdefault(owner, [])
            kept += owned
            self._undo.append((_DISOWN, owner, len(owned)))

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
                for table in ("lines", "prints"):
                    self._db.execute(
                        f"UPDATE {table} SET gone = ? WHERE claim_key = ? AND patient = ? "  # noqa: S608 - our table names
                        "AND claim_id = ? AND gone = 0",
                        (self._seq, hash(owner), patient, claim_id),
                    )

    def _undo_one(self, record: tuple[Any, ...]) -> None:
        kind = record[0]
        if kind is _TAKE:
            self._take(record[1])
        elif kind is _PUT:
            self._put(record[1], record[2])
        elif kind is _UNPRINT:
            self._prints[record[1]].pop(record[2], None)
        elif kind is _REPRINT:
            self._prints.setdefault(record[1], {})[record[2]] = None
        elif kind is _DISOWN:
            kept = self._claims.get(record[1], [])
            del kept[len(kept) - record[2] :]
        else:  # _REOWN
            self._claims[record[1]] = record[2]

    def _put(self, place: _Place, service: Service) -> None:
        day, code, number = place
        self._lines.setdefault(day, {}).setdefault(code, {})[number] = service
        units = self._units.setdefault(day, {})
        units[code] = units.get(code, Decimal(0)) + service.units

    def _take(self, place: _Place) -> Service | None:
        day, code, number = place
        service = self._lines.get(day, {}).get(code, {}).pop(number, None)
        if service is not None:
            self._units[day][code] -= service.units
        return service

    def _database(self) -> _Seen:
        """The database (made on first use), and what it may hold."""
        if self._db is None or self._seen is None:
            self._db = scratch_database(_SCHEMA)
            self._seen = _Seen()
        return self._seen

    def _flush(self) -> None:
        """Write the rows waiting for the database, in one transaction."""
        db = self._db
        if db is None or not (self._pending_lines or self._pending_prints):
            return
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO lines (day_key, claim_key, patient, provider, day, code, modifiers, "
            "units, claim_id, line, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._pending_lines,
        )
        db.executemany(
            "INSERT INTO prints (print_key, claim_key, fingerprint, patient, claim_id, seq) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            self._pending_prints,
        )
        db.execute("COMMIT")
        self._pending_lines, self._pending_prints = [], []
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
        for record in reversed(self._undo):
            self._undo_one(record)
        self._undo = []
        if self._db is not None:
            self._flush()
            for table in ("lines", "prints"):
                self._db.execute(f"DELETE FROM {table} WHERE seq > ?", (mark,))  # noqa: S608 - our table names
                self._db.execute(f"UPDATE {table} SET gone = 0 WHERE gone > ?", (mark,))  # noqa: S608 - our table names
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
        more: dict[str, list[Service]] = {}
        if on_disk and self._db is not None:
            # The rows written, then those waiting to be (newer, so in the same order).
            rows = self._db.execute(
                "SELECT code, modifiers, units, claim_id, line FROM lines WHERE day_key = ? "
                "AND patient = ? AND provider = ? AND day = ? AND gone = 0 ORDER BY seq LIMIT ?",
                (hash(key), patient, provider, day.toordinal(), LINES_PER_DAY),
            )
            for code, mods, units, claim_id, number in rows:
                more.setdefault(code, []).append(
                    Service(
                        patient,
                        provider,
                        code,
                        _read(mods),
                        day,
                        Decimal(units),
                        claim_id,
                        number,
                    )
                )
            waiting = self._pending_days.get(key, [])
            for service in waiting[: max(0, LINES_PER_DAY - sum(map(len, more.values())))]:
                more.setdefault(service.code, []).append(_as_written(service))
        if self._store is not None:
            for service in self._store.lines_on(patient, provider, day, skip=self._run):
                more.setdefault(service.code, []).append(service)
        if not here and not more:
            return _EMPTY_DAY
        skipped: dict[str, Decimal] = {}
        for claim_id in skip:
            for place in self._claims.get((patient, claim_id), ()):
                if not isinstance(place, str) and place[0] == key:
                    found = (here or {}).get(place[1], {}).get(place[2])
                    if found is not None:
                        skipped[found.code] = skipped.get(found.code, Decimal(0)) + found.units
        return Day(here or {}, more, self._units.get(key, {}), skip, skipped)

    def duplicate(self, print_: str, skip: frozenset[str]) -> str | None:
        """The CLM01 of an accepted claim with fingerprint ``print_`` (not one of ``skip``)."""
        for _, claim_id in self._prints.get(print_, {}):
            if claim_id not in skip:
                return claim_id
        if self._db is not None and self._seen is not None and print_ in self._seen:
            for (claim_id,) in self._db.execute(
                "SELECT claim_id FROM prints WHERE print_key = ? AND fingerprint = ? AND gone = 0 "
                "ORDER BY seq",
                (hash(print_), print_),
            ):
                if claim_id not in skip:
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
