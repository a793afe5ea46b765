"""Services recorded across submissions: the procedure lines the cross-claim rules look at.

:class:`Service` is one procedure line as those rules see it; :class:`HistoryStore` keeps the
accepted spinal-cord-stimulator procedures of earlier submissions (``--history PATH``). The
file being validated is indexed by :class:`~edi63650.rules.services.ServiceHistory`, which
asks the store too.

The store is an SQLite database (standard library). Patients are stored only as a keyed hash
of their identifiers, never by name, member id or birth date. Writers use WAL journaling and
``BEGIN IMMEDIATE`` with a busy timeout, so several validators can record into one file.
Lookups go by patient and date (an index), so a long history costs no more per claim.
"""

from __future__ import annotations

import datetime
import hashlib
import sqlite3
from collections.abc import Container, Iterable, Iterator
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
"""

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


def patient_key(claim: Claim) -> str:
    """A stable hash of who the patient is: member id, and the dependent's name and birth date
    when the patient is not the subscriber."""
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
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


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


def services_of(claim: Claim, codes: Container[str]) -> list[Service]:
    """The dated procedure lines of a claim whose code is in ``codes``.

    The engine keeps only spinal-cord-stimulator procedures: the cross-claim rules ask about
    nothing else, and the history of a large file stays small.
    """
    out = []
    patient = ""
    for line in claim.lines:
        procedure = line.procedure
        if procedure is None or procedure.code not in codes or line.number is None:
            continue
        day = line_date(claim, line)
        if day is None:
            continue
        patient = patient or patient_key(claim)
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
    """Accepted SCS procedures of earlier submissions, in an SQLite file."""

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
        except sqlite3.Error as error:
            raise EdiError(f"{path}: cannot open the history database: {error}") from error

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

    def record(self, services: Iterable[Service], *, batch: str = "") -> int:
        """Store services (duplicates are ignored); returns how many rows were new.
        ``batch`` names them, so that :meth:`forget` can take them back."""
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
                datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                batch,
            )
            for s in services
        ]
        if not rows:
            return 0
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO procedures (patient_key, provider, code, modifiers, "
                "service_date, units, claim_id, line, recorded_at, batch) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            added = db.total_changes - before
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return added

    def forget(self, batch: str) -> int:
        """Remove the rows recorded as ``batch`` (an interchange rejected after its sets were
        recorded); returns how many."""
        if not batch:
            return 0
        cursor = self._db.execute("DELETE FROM procedures WHERE batch = ?", (batch,))
        return cursor.rowcount
