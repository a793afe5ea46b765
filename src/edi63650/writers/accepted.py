"""An 837 holding only the accepted claims, ready to forward to the payer.

The original envelopes (ISA, GS, ST, BHT and the submitter and receiver loops) and every
segment of the accepted claims are written as they came, with the original delimiters. The
hierarchy is rebuilt: HL numbers run from 1 again, each HL names its new parent, and HL04
says whether children follow. SE01, GE01 and IEA01 are counted afresh.
"""

from __future__ import annotations

from collections.abc import Sequence

from edi63650.model import Group, Interchange
from edi63650.outcome import InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.segment import Delimiters, Segment
from edi63650.writers.sink import Sink, Spool, Writable


class AcceptedSink(Sink):
    """Writes the accepted claims of each interchange to ``out`` when the interchange ends
    (a rejected interchange forwards nothing). :attr:`written` says whether anything was."""

    def __init__(self, out: Writable) -> None:
        self._out = out
        self._spool = Spool()
        self._isa: Interchange | None = None
        self._groups: dict[int, tuple[Group | None, list[tuple[int, int]]]] = {}
        self.written = False

    def transaction(self, outcome: TransactionOutcome) -> None:
        isa = outcome.interchange
        if isa is None or isa.segment is None:
            return  # a bare ST fragment has no envelope to forward under
        if not any(c.accepted for c in outcome.claims):
            return
        self._isa = isa
        lines = _transaction(outcome, isa.delimiters)
        start = self._spool.size
        self._spool.write(_terminated(lines, isa.delimiters).encode("latin-1"))
        entry = self._groups.setdefault(outcome.scope.group, (outcome.group, []))
        entry[1].append((start, self._spool.size))

    def interchange(self, outcome: InterchangeOutcome) -> None:
        isa = self._isa
        if isa is not None and isa.segment is not None and self._groups:
            delimiters = isa.delimiters
            element = delimiters.element
            out = self._out
            out.write(_terminated([isa.segment.text], delimiters).encode("latin-1"))
            for group, spans in self._groups.values():
                if group is None or group.segment is None:
                    continue
                out.write(_terminated([group.segment.text], delimiters).encode("latin-1"))
                for start, end in spans:
                    self._spool.copy(out, start, end)
                ge = element.join(("GE", str(len(spans)), group.control_number))
                out.write(_terminated([ge], delimiters).encode("latin-1"))
            iea = element.join(("IEA", str(len(self._groups)), isa.control_number))
            out.write(_terminated([iea], delimiters).encode("latin-1"))
            self.written = True
        self.discard()

    def discard(self) -> None:
        self._isa = None
        self._groups = {}
        self._spool.truncate(0)

    def close(self, outcome: StreamOutcome) -> None:
        self.dispose()

    def dispose(self) -> None:
        self._spool.close()


def _terminated(lines: Sequence[str], delimiters: Delimiters) -> str:
    """Segments with their terminator, one per line (unless the terminator is a line break)."""
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
