"""The services of the file being validated, indexed for the rules that span claims.

The global-period, repeat-procedure, lifetime and generator rules ask about a patient's other
procedure lines: those of this file (all of them, accepted or not: the surgery happened) and,
with a :class:`~edi63650.rules.history.HistoryStore`, the accepted ones of earlier
submissions. :class:`ServiceHistory` answers in time that does not grow with the file:

- :meth:`~ServiceHistory.earliest`: the first service, in the order the services came, dated
  inside a window and accepted by a test that depends only on the service's date and on its
  code's global period. For each patient (or patient and provider), date and global period,
  only the first service can be the answer, so that is all the index keeps;
- :meth:`~ServiceHistory.units`: a patient's units of a code up to a date, from prefix sums
  over dates (a Fenwick tree keyed by the date's ordinal);
- :meth:`~ServiceHistory.has`: whether any service of a patient has one of some codes.

Up to :data:`MEMORY_LIMIT` services are indexed in memory; the services after those go to a
temporary SQLite database (owner-only, deleted at the end), so a file of any size runs in
bounded memory. :meth:`~ServiceHistory.mark` and :meth:`~ServiceHistory.rewind` take back the
services added since an interchange began, to read it again.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Callable, Collection, Iterable, Iterator
from decimal import Decimal

from edi63650.rules.history import HistoryStore, Service
from edi63650.rules.scratch import scratch_database

#: Services indexed in memory before the index goes on in a temporary database (one and a
#: half kilobytes each in memory, with what a replay of the interchange would undo).
MEMORY_LIMIT = 20_000

#: A service's date, as an ordinal (``date.toordinal()``), its code's global days and itself.
Accept = Callable[[datetime.date, int], bool]

_Key = tuple[str, int, str, datetime.date]

_SCHEMA = """
CREATE TABLE firsts (
    key TEXT NOT NULL, day INTEGER NOT NULL, days INTEGER NOT NULL, seq INTEGER NOT NULL,
    provider TEXT NOT NULL, code TEXT NOT NULL, modifiers TEXT NOT NULL, units TEXT NOT NULL,
    claim_id TEXT NOT NULL, line INTEGER NOT NULL,
    PRIMARY KEY (key, day, days)
);
CREATE INDEX firsts_by_seq ON firsts (seq);
CREATE TABLE units (
    pair_key INTEGER NOT NULL, patient TEXT NOT NULL, code TEXT NOT NULL, day INTEGER NOT NULL,
    units TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX units_by_pair ON units (pair_key, day);
CREATE INDEX units_by_seq ON units (seq);
CREATE TABLE trees (
    pair_key INTEGER NOT NULL, patient TEXT NOT NULL, code TEXT NOT NULL
);
CREATE INDEX trees_by_pair ON trees (pair_key);
CREATE TABLE sums (
    patient TEXT NOT NULL, code TEXT NOT NULL, node INTEGER NOT NULL, units TEXT NOT NULL,
    PRIMARY KEY (patient, code, node)
) WITHOUT ROWID;
CREATE TABLE codes (
    patient TEXT NOT NULL, code TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (patient, code)
);
CREATE INDEX codes_by_seq ON codes (seq);
CREATE TABLE keys (
    patient TEXT NOT NULL, claim_id TEXT NOT NULL, line INTEGER NOT NULL, code TEXT NOT NULL,
    day INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (patient, claim_id, line, code, day)
);
CREATE INDEX keys_by_seq ON keys (seq);
"""
# ``units`` keeps each counted service, by the hash of its patient and code (compared in full
# after) and date. A patient's units of a code are summed from those rows while there are at
# most :data:`_SHORT_ROWS` of them (nearly every patient and code); past that, the pair is a row
# of ``trees`` and ``sums`` holds its Fenwick tree, as :class:`_Sums` keeps one in memory, each
# node's units as text. A tree for every pair would cost some twenty rows of ``sums`` for each
# service, each on a page of its own once the index outgrows SQLite's cache.


_SIZE = datetime.date.max.toordinal() + 1  # a Fenwick tree's nodes over date ordinals

#: Rows of one patient and code in the database summed as they are; past this, a tree.
_SHORT_ROWS = 16

_Pair = tuple[str, str]  # patient, code


def _upward(ordinal: int) -> Iterator[int]:
    """The Fenwick nodes whose sums include ``ordinal``."""
    while ordinal < _SIZE:
        yield ordinal
        ordinal += ordinal & -ordinal


def _downward(ordinal: int) -> Iterator[int]:
    """The Fenwick nodes that together sum every ordinal up to ``ordinal``."""
    while ordinal > 0:
        yield ordinal
        ordinal -= ordinal & -ordinal


class _Sums:
    """Units by date ordinal, with sums up to any date: a short list while it is short, then a
    sparse Fenwick tree (O(log) to add and to sum, whatever the dates)."""

    _SHORT = 16

    def __init__(self) -> None:
        self._short: list[tuple[int, Decimal]] | None = []
        self._tree: dict[int, Decimal] = {}

    def add(self, ordinal: int, units: Decimal) -> None:
        short = self._short
        if short is not None:
            if len(short) < self._SHORT:
                short.append((ordinal, units))
                return
            self._short = None
            for earlier, amount in short:
                self._add(earlier, amount)
        self._add(ordinal, units)

    def take(self, ordinal: int, units: Decimal) -> None:
        """Take back the units last added (a rewind, newest first): from the short list, so
        that its sums read as before (2, not 2.0 after 2 + 0.5 - 0.5); else subtracted."""
        short = self._short
        if short and short[-1] == (ordinal, units):
            short.pop()
        else:
            self.add(ordinal, -units)

    def _add(self, ordinal: int, units: Decimal) -> None:
        tree = self._tree
        for node in _upward(ordinal):
            tree[node] = tree.get(node, Decimal(0)) + units

    def through(self, ordinal: int) -> Decimal:
        short = self._short
        if short is not None:
            return sum((units for day, units in short if day <= ordinal), Decimal(0))
        tree = self._tree
        return sum((tree.get(node, Decimal(0)) for node in _downward(ordinal)), Decimal(0))


#: Procedure codes whose global period a history remembers.
_KNOWN_CODES = 4096


class ServiceHistory:
    """What the cross-claim rules query: this file's services and the store's.

    ``days`` gives a code's global period (None: it has none; such services are never the
    answer of :meth:`earliest`); ``counted`` are the codes :meth:`units` is asked about;
    ``run`` names this reading in the store, whose rows of it are this file's own.
    """

    def __init__(
        self,
        store: HistoryStore | None = None,
        *,
        days: Callable[[str], int | None] = lambda code: None,
        counted: Collection[str] = (),
        run: str = "",
        limit: int | None = None,
    ) -> None:
        self._store = store
        known: dict[str, int | None] = {}

        def remembered(code: str) -> int | None:
            if code in known:
                return known[code]
            period = days(code)
            if len(known) < _KNOWN_CODES:  # a file of endless made-up codes gains nothing
                known[code] = period
            return period

        self._days = remembered  # a code's period, looked up once
        self._counted = frozenset(counted)
        self._run = run
        self._limit = MEMORY_LIMIT if limit is None else limit
        self._seq = 0
        # (patient, provider) and (patient, "") -> (date ordinal, global days) -> (seq, service)
        self._firsts: dict[tuple[str, str], dict[tuple[int, int], tuple[int, Service]]] = {}
        self._spans: set[int] = set()  # the global periods seen
        self._units: dict[tuple[str, str], _Sums] = {}
        self._codes: dict[str, set[str]] = {}
        self._keys: dict[str, set[_Key]] = {}  # kept only when there is a store
        # What rewind undoes: entries added since the mark, units added, codes and keys added.
        self._added: list[tuple[dict[tuple[int, int], tuple[int, Service]], tuple[int, int]]] = []
        self._summed: list[tuple[_Sums, int, Decimal]] = []
        self._seen: list[tuple[set[str], str]] = []
        self._sent: list[tuple[set[_Key], _Key]] = []
        self._mark = 0
        self._db: sqlite3.Connection | None = None  # the index beyond the memory limit

    # -- adding -------------------------------------------------------------------------------

    def add(self, services: Iterable[Service]) -> None:
        beyond: list[tuple[int, Service]] = []  # for the database, written in one go
        for service in services:
            self._seq += 1
            if self._seq > self._limit:
                beyond.append((self._seq, service))
            else:
                self._add(service)
        if beyond:
            self._add_to_db(beyond)

    def _add(self, service: Service) -> None:
        seq = self._seq
        days = self._days(service.code)
        ordinal = service.date.toordinal()
        if days is not None:
            self._spans.add(days)
            place = (ordinal, days)
            entry = (seq, service)
            for key in ((service.patient, service.provider), (service.patient, "")):
                firsts = self._firsts.setdefault(key, {})
                if place not in firsts:
                    firsts[place] = entry
                    self._added.append((firsts, place))
        if service.code in self._counted:
            sums = self._units.setdefault((service.patient, service.code), _Sums())
            sums.add(ordinal, service.units)
            self._summed.append((sums, ordinal, service.units))
        codes = self._codes.setdefault(service.patient, set())
        if service.code not in codes:
            codes.add(service.code)
            self._seen.append((codes, service.code))
        if self._store is not None:
            keys = self._keys.setdefault(service.patient, set())
            if service.key not in keys:
                keys.add(service.key)
                self._sent.append((keys, service.key))

    def _add_to_db(self, services: list[tuple[int, Service]]) -> None:
        firsts, units, codes, keys = [], [], [], []
        for seq, service in services:
            ordinal = service.date.toordinal()
            days = self._days(service.code)
            if days is not None:
                row = (
                    days,
                    seq,
                    service.provider,
                    service.code,
                    " ".join(sorted(service.modifiers)),
                    str(service.units),
                    service.claim_id,
                    service.line,
                )
                firsts.append((f"{service.patient}\x1f{service.provider}", ordinal, *row))
                firsts.append((f"{service.patient}\x1f", ordinal, *row))
            if service.code in self._counted:
                pair = (service.patient, service.code)
                units.append((hash(pair), *pair, ordinal, str(service.units), seq))
            codes.append((service.patient, service.code, seq))
            if self._store is not None:
                keys.append(
                    (service.patient, service.claim_id, service.line, service.code, ordinal, seq)
                )
        db = self._database()
        db.execute("BEGIN")
        db.executemany("INSERT OR IGNORE INTO firsts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", firsts)
        db.executemany("INSERT INTO units VALUES (?, ?, ?, ?, ?, ?)", units)
        self._count(db, [(patient, code, day, Decimal(n)) for _, patient, code, day, n, _ in units])
        db.executemany("INSERT OR IGNORE INTO codes VALUES (?, ?, ?)", codes)
        db.executemany("INSERT OR IGNORE INTO keys VALUES (?, ?, ?, ?, ?, ?)", keys)
        db.execute("COMMIT")

    @classmethod
    def _count(cls, db: sqlite3.Connection, units: list[tuple[str, str, int, Decimal]]) -> None:
        """Units just added to (or, negative, about to be taken from) ``units``: the trees of
        their pairs follow, and a pair that now has too many rows to sum gets its tree."""
        has_tree = {(p, c): cls._has_tree(db, (p, c)) for p, c, _, _ in units}
        cls._add_sums(db, [(p, c, day, n) for p, c, day, n in units if has_tree[(p, c)]])
        for pair in dict.fromkeys((p, c) for p, c, _, n in units if n >= 0):
            if has_tree[pair]:
                continue
            found = db.execute(
                "SELECT count(*) FROM (SELECT 1 FROM units WHERE pair_key = ? AND patient = ? "
                "AND code = ? LIMIT ?)",
                (hash(pair), *pair, _SHORT_ROWS + 1),
            ).fetchone()[0]
            if found > _SHORT_ROWS:
                db.execute("INSERT INTO trees VALUES (?, ?, ?)", (hash(pair), *pair))
                rows = db.execute(
                    "SELECT day, units FROM units WHERE pair_key = ? AND patient = ? AND code = ?",
                    (hash(pair), *pair),
                )
                cls._add_sums(db, [(*pair, day, Decimal(n)) for day, n in rows.fetchall()])

    @staticmethod
    def _has_tree(db: sqlite3.Connection, pair: _Pair) -> bool:
        found = db.execute(
            "SELECT 1 FROM trees WHERE pair_key = ? AND patient = ? AND code = ?",
            (hash(pair), *pair),
        ).fetchone()
        return found is not None

    @staticmethod
    def _add_sums(db: sqlite3.Connection, units: Iterable[tuple[str, str, int, Decimal]]) -> None:
        """Add units to the database's Fenwick trees, each node read and written once."""
        deltas: dict[tuple[str, str, int], Decimal] = {}
        for patient, code, ordinal, amount in units:
            for node in _upward(ordinal):
                key = (patient, code, node)
                deltas[key] = deltas.get(key, Decimal(0)) + amount
        rows = []
        for (patient, code, node), delta in deltas.items():
            found = db.execute(
                "SELECT units FROM sums WHERE patient = ? AND code = ? AND node = ?",
                (patient, code, node),
            ).fetchone()
            total = delta if found is None else Decimal(found[0]) + delta
            rows.append((patient, code, node, str(total)))
        db.executemany("INSERT OR REPLACE INTO sums VALUES (?, ?, ?, ?)", rows)

    def _database(self) -> sqlite3.Connection:
        if self._db is None:
            self._db = scratch_database(_SCHEMA)
        return self._db

    # -- marks ----------------------------------------------------------------------------------

    def mark(self) -> int:
        """Remember this point (the start of an interchange) for :meth:`rewind`; only the
        latest mark can be rewound to."""
        self._added, self._summed, self._seen, self._sent = [], [], [], []
        self._mark = self._seq
        return self._mark

    def rewind(self, mark: int) -> None:
        """Forget the services added since ``mark`` (to read an interchange again)."""
        if mark != self._mark:
            return
        for firsts, place in self._added:
            del firsts[place]
        for sums, ordinal, units in reversed(self._summed):
            sums.take(ordinal, units)
        for codes, code in self._seen:
            codes.discard(code)
        for keys, key in self._sent:
            keys.discard(key)
        self._added, self._summed, self._seen, self._sent = [], [], [], []
        if self._db is not None:
            db = self._db
            db.execute("BEGIN")
            taken = db.execute(
                "SELECT patient, code, day, units FROM units WHERE seq > ?", (mark,)
            ).fetchall()
            self._count(db, [(p, c, day, -Decimal(n)) for p, c, day, n in taken])
            for table in ("firsts", "units", "codes", "keys"):
                db.execute(f"DELETE FROM {table} WHERE seq > ?", (mark,))  # noqa: S608 - table names are ours
            db.execute("COMMIT")
        self._seq = mark

    # -- queries --------------------------------------------------------------------------------

    def earliest(
        self,
        patient: str,
        first: datetime.date,
        last: datetime.date,
        accept: Accept,
        *,
        provider: str | None = None,
    ) -> Service | None:
        """The first service of ``patient`` (by ``provider`` when given), in the order they
        came (this file's, then the store's), dated ``first`` to ``last`` and for which
        ``accept(date, global days)`` holds; ``accept`` may look at nothing else."""
        best = self._earliest_here(patient, first, last, accept, provider)
        if best is None and self._db is not None:
            best = self._earliest_in_db(patient, first, last, accept, provider)
        if best is not None or self._store is None:
            return best
        days = self._days
        for service in self._store.window(patient, first, last, provider=provider, skip=self._run):
            span = days(service.code)
            if span is not None and accept(service.date, span) and not self._own(service):
                return service
        return None

    def _earliest_here(
        self,
        patient: str,
        first: datetime.date,
        last: datetime.date,
        accept: Accept,
        provider: str | None,
    ) -> Service | None:
        firsts = self._firsts.get((patient, provider or ""))
        if not firsts:
            return None
        low, high = first.toordinal(), last.toordinal()
        if len(firsts) <= (high - low + 1) * len(self._spans):  # fewer entries than places
            found = [
                (entry, ordinal, span)
                for (ordinal, span), entry in firsts.items()
                if low <= ordinal <= high
            ]
        else:
            found = [
                (firsts[(ordinal, span)], ordinal, span)
                for ordinal in range(low, high + 1)
                for span in self._spans
                if (ordinal, span) in firsts
            ]
        best: tuple[int, Service] | None = None
        for entry, ordinal, span in found:
            if (best is None or entry[0] < best[0]) and accept(
                datetime.date.fromordinal(ordinal), span
            ):
                best = entry
        return best[1] if best is not None else None

    def _earliest_in_db(
        self,
        patient: str,
        first: datetime.date,
        last: datetime.date,
        accept: Accept,
        provider: str | None,
    ) -> Service | None:
        assert self._db is not None  # noqa: S101 - called only once it exists
        rows = self._db.execute(
            "SELECT day, days, provider, code, modifiers, units, claim_id, line FROM firsts "
            "WHERE key = ? AND day BETWEEN ? AND ? ORDER BY seq",
            (f"{patient}\x1f{provider or ''}", first.toordinal(), last.toordinal()),
        )
        for ordinal, span, provider_id, code, modifiers, units, claim_id, line in rows:
            day = datetime.date.fromordinal(ordinal)
            if accept(day, span):
                return Service(
                    patient,
                    provider_id,
                    code,
                    frozenset(modifiers.split()),
                    day,
                    Decimal(units),
                    claim_id,
                    line,
                )
        return None

    def units(self, patient: str, code: str, through: datetime.date) -> Decimal:
        """The units of ``code`` billed for ``patient`` on or before ``through`` (a code of
        ``counted``)."""
        ordinal = through.toordinal()
        sums = self._units.get((patient, code))
        total = sums.through(ordinal) if sums is not None else Decimal(0)
        if self._db is not None:
            pair = (patient, code)
            if self._has_tree(self._db, pair):
                nodes = list(_downward(ordinal))
                query = "SELECT units FROM sums WHERE patient = ? AND code = ? AND node IN ({})"
                rows = self._db.execute(query.format(", ".join("?" * len(nodes))), (*pair, *nodes))
            else:
                rows = self._db.execute(
                    "SELECT units FROM units WHERE pair_key = ? AND day <= ? AND patient = ? "
                    "AND code = ?",
                    (hash(pair), ordinal, *pair),
                )
            total += sum((Decimal(units) for (units,) in rows), Decimal(0))
        if self._store is not None:
            for service in self._store.window(
                patient, datetime.date.min, through, codes=(code,), skip=self._run
            ):
                if not self._own(service):
                    total += service.units
        return total

    def has(self, patient: str, codes: Collection[str]) -> bool:
        """Whether any service of ``patient`` bills one of ``codes``."""
        if self._codes.get(patient, set()) & set(codes):
            return True
        if self._db is not None:
            wanted = list(codes)
            placeholders = ", ".join("?" * len(wanted))
            row = self._db.execute(
                f"SELECT 1 FROM codes WHERE patient = ? AND code IN ({placeholders}) LIMIT 1",  # noqa: S608 - placeholders only
                (patient, *wanted),
            ).fetchone()
            if row is not None:
                return True
        if self._store is None:
            return False
        recorded = self._store.window(
            patient, datetime.date.min, datetime.date.max, codes=codes, skip=self._run
        )
        return next(recorded, None) is not None

    def _own(self, service: Service) -> bool:
        """Whether a recorded service is a line of this file (a file sent again)."""
        if service.key in self._keys.get(service.patient, ()):
            return True
        if self._db is None:
            return False
        claim_id, line, code, day = service.key
        row = self._db.execute(
            "SELECT 1 FROM keys WHERE patient = ? AND claim_id = ? AND line = ? AND code = ? "
            "AND day = ?",
            (service.patient, claim_id, line, code, day.toordinal()),
        ).fetchone()
        return row is not None

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
