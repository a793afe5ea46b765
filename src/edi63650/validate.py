"""Validation: read a file, run the rules, decide every verdict; render the answers.

:func:`validate` (bytes or a path) and :func:`validate_stream` (a binary stream) return a
:class:`ValidationResult`: each claim with its findings and verdict, each transaction set with
its 999 status, and the findings that belong to no transaction set. The result renders itself
as a 277CA, a 999, a JSON, text or HTML report, and an 837 holding only the accepted claims.

Verdicts follow design.md section 4:

- an error finding on a claim rejects the claim (reported at 2200D, with 2220D for its lines);
- a syntax error confined to a claim (an unreadable amount, date or pointer) rejects that
  claim (277CA ``A3:684``); the transaction set is accepted with errors (999 ``E``), or
  rejected whole with ``syntax_policy="transaction"``;
- an envelope error of a transaction set (counts, control numbers, missing SE), an unsupported
  implementation, or an error at interchange or group level rejects the transaction sets
  concerned (999 ``R``), and with them their claims (``A3:684``).
"""

from __future__ import annotations

import datetime
import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import attrs

from edi63650.errors import EdiUsageError
from edi63650.findings import ClaimStatus, Finding, Severity
from edi63650.maps import Implementations
from edi63650.model import Claim, Interchange
from edi63650.outcome import AckCode, SyntaxPolicy, TransactionOutcome
from edi63650.reader import CHUNK_SIZE, InterchangeEnd, Reader, TransactionEnd
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import HistoryStore
from edi63650.rules.pack import Engine
from edi63650.rules.tables import Tables
from edi63650.structure import Structure
from edi63650.writers import accepted, ack277, ack999, report_html, report_json, report_text

#: 277CA status for claims rejected by a syntax error: "Rejected. Syntax error noted for this
#: claim/service/inquiry. See Functional or Implementation Acknowledgement for details."
SYNTAX_STATUS = ClaimStatus("A3", "684")


@attrs.frozen
class ValidationResult:
    """Everything said about one input."""

    name: str
    transactions: tuple[TransactionOutcome, ...]
    findings: tuple[Finding, ...]  # outside every transaction set: framing and envelopes
    interchanges: tuple[Interchange, ...]
    validated: datetime.datetime

    @property
    def claims(self) -> tuple[ClaimResult, ...]:
        return tuple(c for t in self.transactions for c in t.claims)

    @property
    def accepted_claims(self) -> tuple[ClaimResult, ...]:
        return tuple(c for c in self.claims if c.accepted)

    @property
    def rejected(self) -> bool:
        """Any claim, transaction set or interchange rejected, or nothing readable at all."""
        return (
            any(not c.accepted for c in self.claims)
            or any(t.ack is AckCode.REJECTED for t in self.transactions)
            or any(f.severity is Severity.ERROR for f in self.findings)
        )

    def to_277ca(self, *, control_number: int | None = None) -> bytes:
        return ack277.write_277ca(self, control_number=control_number)

    def to_999(self, *, control_number: int | None = None) -> bytes:
        return ack999.write_999(self, control_number=control_number)

    def to_json(self) -> str:
        return report_json.write_json(self)

    def to_text(self, *, colour: bool = False) -> str:
        return report_text.write_text(self, colour=colour)

    def to_html(self, data: bytes | None = None) -> str:
        return report_html.write_html(self, data)

    def accepted_837(self) -> bytes | None:
        return accepted.write_accepted(self)


class Validator:
    """Validates inputs with one set of tables, profile and history. Not shared by threads;
    make one per thread (tables may be shared: they are immutable)."""

    def __init__(
        self,
        *,
        tables: Tables | None = None,
        implementations: Implementations | None = None,
        profile: str = "auto",
        history: HistoryStore | None = None,
        syntax_policy: str = "claim",
        now: datetime.datetime | None = None,
        structure: Structure | None = None,
    ) -> None:
        self.tables = tables if tables is not None else Tables.load()
        self.structure = structure if structure is not None else Structure.load()
        self.implementations = implementations or Implementations.load()
        self.profile = profile
        self.history = history
        if syntax_policy not in SyntaxPolicy.__members__.values():
            raise EdiUsageError(
                f"syntax_policy must be claim or transaction, not {syntax_policy!r}"
            )
        self.syntax_policy = SyntaxPolicy(syntax_policy)
        self.now = now  # fixed for reproducible acknowledgments; else the time of each run

    def validate_stream(self, stream: BinaryIO, name: str = "-") -> ValidationResult:
        now = self.now or datetime.datetime.now()
        engine = Engine(self.tables, profile=self.profile, history=self.history, today=now.date())
        reader = Reader(self.implementations, boundaries=True, structure=self.structure)
        collector = _Collector(engine, self.syntax_policy)
        while chunk := stream.read(CHUNK_SIZE):
            collector.take(reader.feed(chunk))
        collector.take(reader.close())
        result = collector.result(name, now)
        engine.record(result.claims)
        return result

    def validate(self, source: bytes | str | os.PathLike[str]) -> ValidationResult:
        if isinstance(source, bytes):
            return self.validate_stream(io.BytesIO(source))
        path = Path(source)
        with path.open("rb") as stream:
            return self.validate_stream(stream, path.name)


def validate(source: bytes | str | os.PathLike[str], **options: object) -> ValidationResult:
    """Validate bytes or a file; ``options`` are those of :class:`Validator`."""
    return Validator(**options).validate(source)  # type: ignore[arg-type]


def validate_stream(stream: BinaryIO, name: str = "-", **options: object) -> ValidationResult:
    """Validate a binary stream; ``options`` are those of :class:`Validator`."""
    return Validator(**options).validate_stream(stream, name)  # type: ignore[arg-type]


class _Collector:
    """Turns reader events into outcomes, one transaction set at a time."""

    def __init__(self, engine: Engine, policy: SyntaxPolicy) -> None:
        self._engine = engine
        self._policy = policy
        self._claims: list[Claim] = []
        self._claim_findings: dict[int, list[Finding]] = {}
        self._pending: list[Finding] = []  # builder findings waiting for their claim
        self._loose: list[Finding] = []  # findings not about a claim
        self._outcomes: list[TransactionOutcome] = []
        self._interchanges: list[tuple[Interchange, int]] = []

    def take(self, events: Iterable[object]) -> None:
        for event in events:
            if isinstance(event, Claim):
                self._claims.append(event)
                self._claim_findings[id(event)] = self._pending
                self._pending = []
            elif isinstance(event, Finding):
                if event.claim_id is not None:
                    self._pending.append(event)
                else:
                    self._loose.append(event)
            elif isinstance(event, TransactionEnd):
                self._close_transaction(event)
            elif isinstance(event, InterchangeEnd):
                self._interchanges.append((event.interchange, event.end))

    def _close_transaction(self, end: TransactionEnd) -> None:
        start = end.transaction.position.offset
        own = [f for f in self._loose if f.offset is not None and start <= f.offset <= end.end]
        self._loose = [f for f in self._loose if f not in own]
        # Findings about a claim that never completed belong to the transaction set.
        own += self._pending
        self._pending = []
        claims, self._claims = self._claims, []
        results = list(self._engine.check(claims, record=False))
        syntax = {id(r.claim): self._claim_findings.pop(id(r.claim), []) for r in results}
        errors = any(f.severity is Severity.ERROR for f in own) or end.transaction.kind is None
        claim_syntax = any(f.severity is Severity.ERROR for found in syntax.values() for f in found)
        if errors or (claim_syntax and self._policy is SyntaxPolicy.TRANSACTION):
            ack = AckCode.REJECTED
        elif claim_syntax:
            ack = AckCode.ERRORS
        else:
            ack = AckCode.ACCEPTED
        outcomes = []
        for result in results:
            found = [attrs.evolve(f, statuses=(SYNTAX_STATUS,)) for f in syntax[id(result.claim)]]
            if ack is AckCode.REJECTED:
                found.append(_transaction_rejected(result.claim))
            outcomes.append(attrs.evolve(result, findings=(*found, *result.findings)))
        self._outcomes.append(
            TransactionOutcome(
                transaction=end.transaction,
                group=end.group,
                interchange=end.interchange,
                findings=tuple(own),
                claims=tuple(outcomes),
                ack=ack,
            )
        )

    def result(self, name: str, now: datetime.datetime) -> ValidationResult:
        # Errors at interchange or group level (ISA, GS, GE, IEA) reject every transaction
        # set of that interchange.
        rejected_interchanges = set()
        for interchange, end in self._interchanges:
            start = interchange.position.offset
            if any(
                f.severity is Severity.ERROR and f.offset is not None and start <= f.offset <= end
                for f in self._loose
            ):
                rejected_interchanges.add(id(interchange))
        outcomes = [
            _reject(outcome, "interchange")
            if id(outcome.interchange) in rejected_interchanges
            and outcome.ack is not AckCode.REJECTED
            else outcome
            for outcome in self._outcomes
        ]
        return ValidationResult(
            name=name,
            transactions=tuple(outcomes),
            findings=tuple(self._loose),
            interchanges=tuple(i for i, _ in self._interchanges),
            validated=now,
        )


def _reject(outcome: TransactionOutcome, level: str) -> TransactionOutcome:
    """The outcome with the transaction set and all its claims rejected."""
    return attrs.evolve(
        outcome,
        ack=AckCode.REJECTED,
        claims=tuple(
            attrs.evolve(c, findings=(_transaction_rejected(c.claim, level), *c.findings))
            for c in outcome.claims
        ),
    )


def _transaction_rejected(claim: Claim, level: str = "transaction set") -> Finding:
    segment = claim.segments[0]
    return Finding.at(
        segment,
        "X12-REJECTED-ENVELOPE",
        Severity.ERROR,
        f"the {level} holding this claim was rejected for syntax or envelope errors; "
        "see the 999 and the file findings",
        fix="correct the envelope errors and send the file again",
        source="X12.5 / TR3 appendix B; 999 implementation acknowledgment",
        path="2300",
        claim_id=claim.claim_id,
        statuses=(SYNTAX_STATUS,),
    )
