"""An 837 holding only the accepted claims, ready to forward to the payer.

The original envelopes (ISA, GS, ST, BHT and the submitter and receiver loops) and every
segment of the accepted claims are written as they came, with the original delimiters. The
hierarchy is rebuilt: HL numbers run from 1 again, each HL names its new parent, and HL04
says whether children follow. SE01, GE01 and IEA01 are counted afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from edi63650.model import Interchange
from edi63650.outcome import TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.segment import Delimiters, Segment
from edi63650.writers.common import by_interchange

if TYPE_CHECKING:
    from edi63650.validate import ValidationResult


def write_accepted(result: ValidationResult) -> bytes | None:
    """The accepted claims re-enveloped, or None when no claim was accepted."""
    out = []
    for first, outcomes in by_interchange(result.transactions):
        isa = first.interchange
        if isa is None or isa.segment is None:
            continue  # a bare ST fragment has no envelope to forward under
        text = _interchange(isa, outcomes)
        if text:
            out.append(text)
    return "".join(out).encode("latin-1") if out else None


def _interchange(isa: Interchange, outcomes: Sequence[TransactionOutcome]) -> str:
    delimiters = isa.delimiters
    groups: dict[int, list[TransactionOutcome]] = {}
    for outcome in outcomes:
        if any(c.accepted for c in outcome.claims):
            groups.setdefault(id(outcome.group), []).append(outcome)
    if not groups:
        return ""
    assert isa.segment is not None  # noqa: S101 - checked by the caller
    lines = [isa.segment.text]
    for members in groups.values():
        group = members[0].group
        if group is None or group.segment is None:
            continue
        lines.append(group.segment.text)
        for outcome in members:
            lines += _transaction(outcome, delimiters)
        lines.append(delimiters.element.join(("GE", str(len(members)), group.control_number)))
    lines.append(delimiters.element.join(("IEA", str(len(groups)), isa.control_number)))
    terminator = delimiters.segment
    line_break = "" if terminator in "\r\n" else "\n"
    return "".join(line + terminator + line_break for line in lines)


def _transaction(outcome: TransactionOutcome, delimiters: Delimiters) -> list[str]:
    accepted: list[ClaimResult] = [c for c in outcome.claims if c.accepted]
    header = accepted[0].claim.context.transaction
    element = delimiters.element
    body: list[str] = [s.text for s in header.segments]
    hl = 0
    provider_hl = subscriber_hl = 0
    last_provider: object = None
    last_subscriber: object = None
    last_patient: object = None

    def level(segments: Sequence[Segment], parent: int, code: str, children: bool) -> int:
        nonlocal hl
        hl += 1
        body.append(
            element.join(
                ("HL", str(hl), str(parent) if parent else "", code, "1" if children else "0")
            )
        )
        body.extend(s.text for s in segments[1:])
        return hl

    # HL04 of a subscriber: whether any of its accepted claims is for a dependent (2000C).
    with_patients = {
        id(r.claim.context.subscriber) for r in accepted if r.claim.context.patient is not None
    }
    for result in accepted:
        ctx = result.claim.context
        provider, subscriber, patient = ctx.billing_provider, ctx.subscriber, ctx.patient
        if provider is not None and provider is not last_provider:
            provider_hl = level(provider.segments, 0, "20", True)
            last_provider, last_subscriber, last_patient = provider, None, None
        if subscriber is not None and subscriber is not last_subscriber:
            subscriber_hl = level(
                subscriber.segments, provider_hl, "22", id(subscriber) in with_patients
            )
            last_subscriber, last_patient = subscriber, None
        if patient is not None and patient is not last_patient:
            level(patient.segments, subscriber_hl, "23", False)
            last_patient = patient
        body.extend(s.text for s in result.claim.all_segments())
    transaction = outcome.transaction
    st = element.join(
        ("ST", transaction.set_id, transaction.control_number, transaction.implementation)
    )
    se = element.join(("SE", str(len(body) + 2), transaction.control_number))
    return [st, *body, se]
