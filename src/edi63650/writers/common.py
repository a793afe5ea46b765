"""What the writers share: totals, safe text, reply envelopes, element positions."""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterator, Sequence
from decimal import Decimal

import attrs

from edi63650.findings import Finding, Severity
from edi63650.outcome import TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.values import is_digits
from edi63650.writers import x12

WARNING = Severity.WARNING
_UNSAFE = re.compile(r"[\x00-\x1f\x7f*~:^|>\\{}']")
_ELEMENT = re.compile(r"(\d{2})(?:-(\d{2}))?$")


@attrs.frozen
class Totals:
    """Accepted and rejected claims with their charges."""

    accepted: tuple[ClaimResult, ...]
    rejected: tuple[ClaimResult, ...]

    @classmethod
    def of(cls, claims: Sequence[ClaimResult]) -> Totals:
        return cls(
            tuple(c for c in claims if c.accepted), tuple(c for c in claims if not c.accepted)
        )

    @property
    def accepted_amount(self) -> Decimal:
        return _sum(self.accepted)

    @property
    def rejected_amount(self) -> Decimal:
        return _sum(self.rejected)

    @property
    def warned(self) -> int:
        return sum(
            1 for c in self.accepted if any(f.severity.value == "warning" for f in c.findings)
        )


def _sum(claims: Sequence[ClaimResult]) -> Decimal:
    return sum((c.claim.total_charge or Decimal(0) for c in claims), Decimal(0))


def clean(text: str, limit: int = 264) -> str:
    """Text safe inside one element of any interchange we write: no delimiter of any common
    kind, no control characters, single spaces, at most ``limit`` characters."""
    return " ".join(_UNSAFE.sub(" ", text).split())[:limit].strip()


def by_interchange(
    outcomes: Sequence[TransactionOutcome],
) -> Iterator[tuple[TransactionOutcome, list[TransactionOutcome]]]:
    """The transaction sets grouped by the interchange they came in, in file order."""
    groups: dict[int, list[TransactionOutcome]] = {}
    for outcome in outcomes:
        groups.setdefault(id(outcome.interchange), []).append(outcome)
    for group in groups.values():
        yield group[0], group


def first_control_number(outcomes: Sequence[TransactionOutcome], given: int | None) -> int:
    """The control number of the first interchange we answer with: the one given, else the
    first 837's ISA13; later interchanges of the same output count up from it."""
    if given is not None:
        return given
    for outcome in outcomes:
        original = outcome.interchange.control_number if outcome.interchange else ""
        if is_digits(original):
            return int(original)
    return 1


def reply_envelope(
    outcome: TransactionOutcome,
    when: datetime.datetime,
    control_number: int,
    *,
    functional_id: str,
    version: str,
) -> x12.Envelope:
    """The answer goes back the way the 837 came: sender and receiver swap."""
    isa, group = outcome.interchange, outcome.group

    def party(
        qualifier: str | None, identifier: str | None, application: str | None, fallback: str
    ) -> x12.Party:
        return x12.Party(
            clean(qualifier or "", 2) or "ZZ",
            clean(identifier or "", 15) or fallback,
            clean(application or "", 15) or fallback,
        )

    return x12.Envelope(
        sender=party(
            isa.receiver_qualifier if isa else None,
            isa.receiver_id if isa else None,
            group.receiver if group else None,
            "EDI63650",
        ),
        receiver=party(
            isa.sender_qualifier if isa else None,
            isa.sender_id if isa else None,
            group.sender if group else None,
            "SUBMITTER",
        ),
        control_number=control_number % 1_000_000_000,
        functional_id=functional_id,
        version=version,
        created=when,
        usage=isa.usage if isa and isa.usage in ("P", "T") else "P",
    )


def element_position(finding: Finding) -> tuple[int, int | None] | None:
    """(element, component) named by a finding's ``element`` such as ``SV101-02``."""
    if not finding.element or not finding.segment_id:
        return None
    match = _ELEMENT.match(finding.element.removeprefix(finding.segment_id))
    if match is None:
        return None
    return int(match[1]), int(match[2]) if match[2] else None


def split_segment(finding: Finding) -> list[str]:
    """The raw segment of a finding split into elements (its separator follows the id)."""
    text, sid = finding.segment, finding.segment_id
    if not text or not sid or len(text) <= len(sid):
        return []
    return text.split(text[len(sid)])
