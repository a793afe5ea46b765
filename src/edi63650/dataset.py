"""The rules across claims for a dataset read in parallel: one patient's claims judged again.

One process validating files in order with one ``--history`` lets each claim see the
patient's other claims: this file's services (global period, repeats, lifetime), the
accepted claims before it (PTP, MUE and duplicates across claims) and the accepted claims of
earlier files. Every index those rules use is keyed by the patient, so the claims of one
patient, judged again in the same order with the same refusals, get what that run gives them.
A distributed job (:mod:`edi63650.spark`) therefore reads its files in parallel, each without
a history, groups what it read by patient key (:func:`submissions`), and hands each patient's
transaction sets to :func:`rejudge`, in the dataset's order (file, then place in the file).

What the first reading decided for other reasons stays: a claim's syntax and envelope
findings, and whether it was refused whatever the rules say (its own syntax errors, or its
transaction set or interchange rejected). Only the rule pack's findings are made again.
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

from edi63650.findings import Finding, Severity
from edi63650.model import Claim
from edi63650.outcome import TransactionOutcome
from edi63650.pipeline import capped
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import HistoryStore, PatientKeys
from edi63650.rules.pack import Engine
from edi63650.rules.tables import Tables


@attrs.frozen
class Submission:
    """One patient's claims of one transaction set, as the first reading judged them.

    ``place`` orders the dataset: (file, offset, interchange): the file's number is its place
    in the order the files are read, the offset that of the set's end in the file (a file
    read in pieces keeps one order), the interchange its ordinal where it was read. The
    claims share their transaction set's context (unpickle them together); ``first`` are the
    first reading's results, one per claim.
    """

    place: tuple[int, int, int]
    first: tuple[ClaimResult, ...]

    @property
    def claims(self) -> list[Claim]:
        return [result.claim for result in self.first]


def refused(result: ClaimResult, pack: frozenset[str]) -> bool:
    """Whether the first reading rejected a claim whatever the rule pack (rule ids ``pack``)
    says: an error of another layer (syntax, envelope) is among its findings."""
    return any(f.severity is Severity.ERROR and f.rule not in pack for f in result.findings)


def rejudge(
    submissions: Iterable[Submission],
    *,
    tables: Tables | None = None,
    profile: str = "auto",
    today: datetime.date | None = None,
    ordered: bool = False,
) -> Iterator[tuple[Submission, tuple[ClaimResult, ...]]]:
    """One patient's submissions, each with its claims' results as a single run over the
    dataset's files in order, with one history, gives them.

    The history is a temporary store of this patient's accepted claims, deleted at the end;
    the first reading's syntax and envelope findings are kept in front of the pack's new ones,
    capped as the pipeline caps them. ``ordered``: the submissions come in the dataset's order
    already, and are taken one at a time (else they are sorted first).
    """
    tables = tables if tables is not None else Tables.load()
    day = today or datetime.date.today()
    if not ordered:
        submissions = sorted(submissions, key=lambda s: s.place)
    with tempfile.TemporaryDirectory(prefix="edi63650-patient-") as folder:
        store = HistoryStore(Path(folder) / "history.sqlite")
        engine: Engine | None = None
        current = -1
        try:
            for submission in submissions:
                file, _, interchange = submission.place
                if engine is None or file != current:
                    engine = Engine(
                        tables, profile=profile, history=store, today=day, run=str(file)
                    )
                    current = file
                    pack = frozenset(info.id for info in engine.catalogue)
                flags = [refused(result, pack) for result in submission.first]
                again = list(engine.check(submission.claims, record=False, refused=flags))
                decided = tuple(
                    _decided(first, result, pack)
                    for first, result in zip(submission.first, again, strict=True)
                )
                # (a refused claim is rejected, so it is never recorded)
                engine.record(decided, batch=f"{file}:{interchange}")
                yield submission, decided
        finally:
            store.close()


def _decided(first: ClaimResult, again: ClaimResult, pack: frozenset[str]) -> ClaimResult:
    kept: list[Finding] = [f for f in first.findings if f.rule not in pack]
    return attrs.evolve(again, findings=tuple(capped([*kept, *again.findings], "claim")))


def submissions(
    outcome: TransactionOutcome, file: int, keys: PatientKeys, end: int | None = None
) -> Iterator[tuple[str, Submission]]:
    """A transaction set's claims as decided, one :class:`Submission` per patient key, for
    file number ``file``; ``end`` is the file's offset of the set's end (where the file was
    read in pieces; else the outcome's own)."""
    by_patient: dict[str, list[ClaimResult]] = {}
    for result in outcome.claims:
        by_patient.setdefault(keys.key(result.claim), []).append(result)
    place = (file, outcome.end if end is None else end, outcome.scope.interchange)
    for patient, results in by_patient.items():
        yield patient, Submission(place, tuple(results))
