"""Services recorded across submissions: the procedure lines the cross-claim rules look at.

:class:`Service` is one procedure line as those rules see it; :class:`HistoryStore` keeps the
accepted spinal-cord-stimulator procedures of earlier submissions (``--history PATH``). The
file being validated is indexed by :class:`~edi63650.rules.services.ServiceHistory`, which
asks the store too.

The store is an SQLite database (standard library). Patients are stored only as a keyed hash
of their identifiers (HMAC-SHA256 with a secret kept beside the database, ``PATH.key``, made
owner-only on first use), never by name, member id or birth date: without the secret, nobody
can test candidate member ids against the file. Writers use WAL journaling and
``BEGIN IMMEDIATE`` with a busy timeout, so several validators can record into one file.
Lookups go by patient and date (an index), so a long history costs no more per claim.

Besides the SCS procedures (``procedures``: what the global-period, lifetime and device rules
ask about), the store keeps every dated line of accepted claims (``lines``: the cross-claim
PTP and MUE edits and suspected duplicates) and each accepted claim's fingerprint
(``claims``: exact duplicates). A replacement (CLM05-3 ``7``) or void (``8``) takes its
original's rows out of all three.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import secrets
import sqlite3
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path

import attrs

from edi63650.errors import EdiError
from edi63650.model import Claim, ServiceLine

_SCHEMA = """
CREATE TABLE IF NOT EXISTS procedures (
    patient_key TEXT NOT NULL,
    provider TEXT NOT NULL,
    code TEXT NOT NULL,
    modifiers TEXT NOT NULL,
    service_date TEXT NOT NULL,
    units TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    recorded_at TEXT NOT NULL,
    batch TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_key, claim_id, line, code, service_date)
);
CREATE INDEX IF NOT EXISTS procedures_by_patient ON procedures (patient_key, service_date);
CREATE TABLE IF NOT EXISTS lines (
    patient_key TEXT NOT NULL,
    provider TEXT NOT NULL,
    service_date TEXT NOT NULL,
    code TEXT NOT NULL,
    modifiers TEXT NOT NULL,
    units TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    line INTEGER NOT NULL,
    batch TEXT NOT NULL DEFAULT '',
    UNIQUE (patient_key, claim_id, line, code, service_date)
);
CREATE INDEX IF NOT EXISTS lines_by_day ON lines (patient_key, provider, service_date);
CREATE TABLE IF NOT EXISTS claims (
    fingerprint TEXT NOT NULL,
    patient_key TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    batch TEXT NOT NULL DEFAULT '',
    UNIQUE (fingerprint, claim_id)
);
CREATE INDEX IF NOT EXISTS claims_by_patient ON claims (patient_key, claim_id);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: Recorded lines of one patient, provider and date that a query reads, at most (a day's
#: claims are few; a history holding more for one day is not a reason to read without end).
LINES_PER_DAY = 1_000

#: The secret's size (bytes) and the name of the file that holds it, beside the database.
_SECRET_BYTES = 32
_KEY_SUFFIX = ".key"

#: Databases made before ``batch`` existed get it added (rows recorded then have none).
_BATCH_COLUMN = "ALTER TABLE procedures ADD COLUMN batch TEXT NOT NULL DEFAULT ''"


@attrs.frozen
class Service:
    """One procedure line as the cross-claim rules see it."""

    patient: str
    provider: str
    code: str
    modifiers: frozenset[str]
    date: datetime.date
    units: Decimal
    claim_id: str
    line: int
    recorded: bool = False  # from the store, not from this file

    @property
    def key(self) -> tuple[str, int, str, datetime.date]:
        """What makes it the same claim line (a resubmitted file meets its recorded lines)."""
        return self.claim_id, self.line, self.code, self.date


class PatientKeys:
    """Who a claim's patient is, as a keyed hash (HMAC-SHA256 of the member id, and of the
    dependent's name and birth date when the patient is not the subscriber). ``secret`` None:
    a random one, for a reading that records nothing (the keys never leave it)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(_SECRET_BYTES)

    @classmethod
    def from_file(cls, path: Path) -> PatientKeys:
        """The keys made with the secret in ``path`` (a history's ``PATH.key``), so that other
        readings key the same patients alike; never read through a link."""
        return cls(_read_secret(path))

    def key(self, claim: Claim) -> str:
        return hmac.new(self._secret, _identity(claim), hashlib.sha256).hexdigest()


def _identity(claim: Claim) -> bytes:
    ctx = claim.context
    subscriber = ctx.subscriber
    parts = [subscriber.member_id or "" if subscriber else ""]
    patient = ctx.patient
    if patient is not None:
        person = patient.person
        parts += [
            person.last_name if person else "",
            person.first_name if person else "",
            patient.birth_date.isoformat() if patient.birth_date else "",
        ]
    return "\x1f".join(parts).encode()


def _new_secret(path: Path) -> bytes:
    """Make the secret file, owner-only, never through a link; another process that made it
    first wins (its secret is read)."""
    secret = secrets.token_bytes(_SECRET_BYTES)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(secret)
        handle.flush()
        os.fsync(handle.fileno())
    return secret


def _read_secret(path: Path) -> bytes:
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise EdiError(f"{path}: cannot read the history's key: {error.strerror}") from error
    with os.fdopen(descriptor, "rb") as handle:
        secret = handle.read(_SECRET_BYTES + 1)
    if len(secret) != _SECRET_BYTES:
        raise EdiError(f"{path}: not a history key (expected {_SECRET_BYTES} bytes)")
    return secret


def rendering_provider(claim: Claim, line: ServiceLine) -> str:
    """Line rendering NPI, else the claim's rendering NPI, else the billing provider NPI."""
    for party in (line.rendering, claim.rendering):
        if party is not None and party.npi:
            return party.npi
    billing = claim.context.billing_provider
    return billing.npi or "" if billing else ""


def line_date(claim: Claim, line: ServiceLine) -> datetime.date | None:
    """The line's date of service (DTP*472), else the claim's service or statement date."""
    period = line.service_date
    if period is not None and period.start is not None:
        return period.start
    for qualifier in ("472", "434"):
        claim_period = claim.date(qualifier)
        if claim_period is not None and claim_period.start is not None:
            return claim_period.start
    return None


def services_of(claim: Claim, patient: str) -> list[Service]:
    """The dated procedure lines of a claim, for ``patient`` (its key). (The global-period,
    lifetime and device rules take only its spinal-cord-stimulator procedures from these.)"""
    out = []
    for line in claim.lines:
        procedure = line.procedure
        if procedure is None or line.number is None:
            continue
        day = line_date(claim, line)
        if day is None:
            continue
        out.append(
            Service(
                patient=patient,
                provider=rendering_provider(claim, line),
                code=procedure.code,
                modifiers=frozenset(procedure.modifiers),
                date=day,
                units=line.units if line.units is not None else Decimal(1),
                claim_id=claim.claim_id,
                line=line.number,
            )
        )
    return out


class HistoryStore:
    """Accepted claims of earlier submissions, in an SQLite file, with the secret that keys
    its patients beside it (:attr:`keys`)."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        try:
            self._db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(procedures)")}
            if "batch" not in columns:
                self._db.execute(_BATCH_COLUMN)
            self.keys = PatientKeys(self._secret())
        except sqlite3.Error as error:
            raise EdiError(f"{path}: cannot open the history database: {error}") from error

    def _secret(self) -> bytes:
        """The key of the patients' hashes: read from ``PATH.key``, or made (owner-only) with a
        new database. A database that has rows keyed by a secret that is gone, or made before
        keys were secret, cannot be matched: it is refused, never silently re-keyed."""
        keyfile = self.path.with_name(self.path.name + _KEY_SUFFIX)
        scheme = self._db.execute("SELECT value FROM meta WHERE name = 'patient-keys'").fetchone()
        if scheme is None:
            if self._db.execute("SELECT 1 FROM procedures LIMIT 1").fetchone() is not None:
                raise EdiError(
                    f"{self.path}: made by an older edi63650 that stored patients as plain "
                    "hashes; move it aside and start a new history"
                )
            secret = _read_secret(keyfile) if keyfile.exists() else _new_secret(keyfile)
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('patient-keys', 'hmac-sha256')")
            return secret
        if not keyfile.exists():
            raise EdiError(
                f"{keyfile}: missing; it holds the key of {self.path}'s patient hashes "
                "(restore it, or start a new history)"
            )
        return _read_secret(keyfile)

    def close(self) -> None:
        self._db.close()

    def services_for(self, patient: str) -> list[Service]:
        """Every recorded service of ``patient``, in the order they were recorded."""
        return list(self.window(patient, datetime.date.min, datetime.date.max))

    def window(
        self,
        patient: str,
        first: datetime.date,
        last: datetime.date,
        *,
        provider: str | None = None,
        codes: Iterable[str] = (),
        skip: str = "",
    ) -> Iterator[Service]:
        """The recorded services of ``patient`` dated ``first`` to ``last`` (by ``provider``,
        of ``codes``, when given), in the order they were recorded; ``skip`` leaves out the
        rows recorded as batches of that run (``run:`` prefix)."""
        sql = (
            "SELECT provider, code, modifiers, service_date, units, claim_id, line "
            "FROM procedures WHERE patient_key = ? AND service_date BETWEEN ? AND ?"
        )
        parameters: list[object] = [patient, first.isoformat(), last.isoformat()]
        if provider is not None:
            sql += " AND provider = ?"
            parameters.append(provider)
        wanted = list(codes)
        if wanted:
            sql += f" AND code IN ({', '.join('?' * len(wanted))})"
            parameters += wanted
        if skip:
            sql += " AND batch NOT LIKE ?"
            parameters.append(f"{skip}:%")
        for row in self._db.execute(sql + " ORDER BY rowid", parameters):
            provider_id, code, modifiers, day, units, claim_id, line = row
            yield Service(
                patient=patient,
                provider=provider_id,
                code=code,
                modifiers=frozenset(modifiers.split()),
                date=datetime.date.fromisoformat(day),
                units=Decimal(units),
                claim_id=claim_id,
                line=line,
                recorded=True,
            )

    def lines_on(
        self, patient: str, provider: str, day: datetime.date, *, skip: str = ""
    ) -> list[Service]:
        """The recorded lines of ``patient`` by ``provider`` on ``day``, in the order they were
        recorded; ``skip`` as in :meth:`window`."""
        sql = (
            "SELECT code, modifiers, units, claim_id, line FROM lines "
            "WHERE patient_key = ? AND provider = ? AND service_date = ?"
        )
        parameters: list[object] = [patient, provider, day.isoformat()]
        if skip:
            sql += " AND batch NOT LIKE ?"
            parameters.append(f"{skip}:%")
        return [
            Service(
                patient=patient,
                provider=provider,
                code=code,
                modifiers=frozenset(modifiers.split()),
                date=day,
                units=Decimal(units),
                claim_id=claim_id,
                line=line,
                recorded=True,
            )
            for code, modifiers, units, claim_id, line in self._db.execute(
                sql + f" ORDER BY rowid LIMIT {LINES_PER_DAY}", parameters
            )
        ]

    def claim_with(self, fingerprint: str, *, skip: str = "") -> str | None:
        """The CLM01 of a recorded claim with this fingerprint, if any."""
        sql = "SELECT claim_id FROM claims WHERE fingerprint = ?"
        parameters: list[object] = [fingerprint]
        if skip:
            sql += " AND batch NOT LIKE ?"
            parameters.append(f"{skip}:%")
        row = self._db.execute(sql + " ORDER BY rowid LIMIT 1", parameters).fetchone()
        return str(row[0]) if row is not None else None

    def record(
        self,
        services: Iterable[Service],
        *,
        batch: str = "",
        lines: Iterable[Service] = (),
        claims: Iterable[tuple[str, str, str]] = (),
        withdrawn: Iterable[tuple[str, str]] = (),
    ) -> int:
        """Store services (duplicates are ignored), and with them the claims' ``lines`` and
        ``claims`` (fingerprint, patient, CLM01), after taking out the ``withdrawn`` claims
        (patient, CLM01: the originals of replacements and voids), in one transaction; returns
        how many services were new. ``batch`` names the rows, so that :meth:`forget` can take
        them back (what was withdrawn stays withdrawn)."""
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        rows = [
            (
                s.patient,
                s.provider,
                s.code,
                " ".join(sorted(s.modifiers)),
                s.date.isoformat(),
                str(s.units),
                s.claim_id,
                s.line,
                now,
                batch,
            )
            for s in services
        ]
        line_rows = [
            (
                s.patient,
                s.provider,
                s.date.isoformat(),
                s.code,
                " ".join(sorted(s.modifiers)),
                str(s.units),
                s.claim_id,
                s.line,
                batch,
            )
            for s in lines
        ]
        claim_rows = [(*claim, batch) for claim in claims]
        gone = list(withdrawn)
        if not (rows or line_rows or claim_rows or gone):
            return 0
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for table in ("procedures", "lines", "claims"):
                db.executemany(
                    f"DELETE FROM {table} WHERE patient_key = ? AND claim_id = ?",  # noqa: S608 - our table names
                    gone,
                )
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO procedures (patient_key, provider, code, modifiers, "
                "service_date, units, claim_id, line, recorded_at, batch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = db.total_changes - before
            db.executemany(
                "INSERT OR IGNORE INTO lines (patient_key, provider, service_date, code, "
                "modifiers, units, claim_id, line, batch) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                line_rows,
            )
            db.executemany(
                "INSERT OR IGNORE INTO claims (fingerprint, patient_key, claim_id, batch) "
                "VALUES (?, ?, ?, ?)",
                claim_rows,
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def forget(self, batch: str) -> int:
        """Remove the rows recorded as ``batch`` (an interchange rejected after its sets were
        recorded); returns how many procedures."""
        if not batch:
            return 0
        db = self._db
        db.execute("DELETE FROM lines WHERE batch = ?", (batch,))
        db.execute("DELETE FROM claims WHERE batch = ?", (batch,))
        cursor = db.execute("DELETE FROM procedures WHERE batch = ?", (batch,))
        return cursor.rowcount
