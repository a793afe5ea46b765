"""The 999 implementation acknowledgment (ASC X12C 005010X231A1).

One 999 interchange per 837 interchange; one 999 transaction set per 837 functional group
(AK1), with an AK2/IK5 pair per transaction set and AK9 for the group. The structure layer's
findings (segments it could not place, element errors) are reported as IK3 with IK4; an
interchange rejected at its envelope is answered by a TA1 alone, and acknowledgments are
never acknowledged. Codes: IK304 (X12 element 720), IK403 (723), IK5 (717/718), AK9
(715/716).
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence

import attrs

from edi63650.envelope import ACKNOWLEDGED, EnvelopeRule
from edi63650.findings import Finding, Severity
from edi63650.model import Group, Interchange
from edi63650.outcome import (
    AckCode,
    GroupOutcome,
    InterchangeOutcome,
    StreamOutcome,
    TransactionOutcome,
)
from edi63650.values import is_digits
from edi63650.writers import x12
from edi63650.writers.common import Replies, clean, echo_id
from edi63650.writers.numbers import ControlNumbers, Counter
from edi63650.writers.sink import Sink, Spool, Writable
from edi63650.writers.x12 import Elements

VERSION = "005010X231A1"

#: IK502 when a transaction set has segments in error (X12 element 718).
_SEGMENTS_IN_ERROR = "5"

#: AK101 codes of 005010X231A1 (functional identifiers of the HIPAA transactions, as in
#: pyx12's 999.5010X231.A1.xml); a group that says another is answered as HC (claims), the
#: only kind this tool reads.
_FUNCTIONAL_IDS = frozenset({"BE", "HB", "HC", "HI", "HN", "HP", "HR", "HS", "RA"})

#: AK201 codes of 005010X231A1 (the HIPAA transaction sets, ibid.). A set with another ST01
#: gets no AK2 loop (situational); the group's AK9 still counts it, as not accepted.
_SET_IDS = frozenset({"270", "271", "276", "277", "278", "820", "834", "835", "837"})


class Ack999Sink(Sink):
    """Writes the 999 (with a TA1 where the interchange itself is in error) to ``out``.

    A transaction set's AK2 to IK5 is rendered when it ends, into a spool; its group's AK1 and
    AK9 go around them when the group ends (AK9 needs the group's trailer), and the group's
    reply set waits for its interchange's end (a TA1 may answer the interchange instead).
    Sets outside every functional group (a file without envelopes) are answered as a group
    of their own, before the next group.
    """

    def __init__(
        self,
        out: Writable,
        when: datetime.datetime,
        *,
        control_number: int | None = None,
        numbers: ControlNumbers | None = None,
    ) -> None:
        numbers = numbers if numbers is not None else Counter(control_number or 1)
        self._replies = Replies(out, when, numbers, functional_id="FA", version=VERSION)
        self._blocks = Spool()  # AK2 to IK5 of the sets not answered yet
        self._open: _Group | None = None  # the open group's sets (all come before its end)
        self._ungrouped: _Group | None = None  # sets outside every group, since the last group
        self._empty: tuple[Interchange | None, Group] | None = None  # first group without sets

    def transaction(self, outcome: TransactionOutcome) -> None:
        if any(f.rule == EnvelopeRule.ACKNOWLEDGMENT for f in outcome.findings):
            return  # an acknowledgment is never acknowledged
        self._replies.first(outcome)
        if outcome.scope.group:
            if self._open is None:
                self._open = _Group(outcome.group, outcome.transaction.implementation)
            group = self._open
        else:
            if self._ungrouped is None:
                self._ungrouped = _Group(outcome.group, outcome.transaction.implementation)
            group = self._ungrouped
        segments = _transaction(outcome)
        start = self._blocks.size
        self._blocks.write(x12.render(segments, line_break="\n").encode("latin-1"))
        group.add(start, self._blocks.size, len(segments), outcome.ack)

    def group(self, outcome: GroupOutcome) -> None:
        found = self._open
        self._open = None
        if self._ungrouped is not None:
            self._answer(self._ungrouped, [])
            self._ungrouped = None
        codes = sorted(_ak9_codes(outcome.errors))
        if found is not None:
            self._answer(found, codes)
        elif outcome.transactions == 0 and outcome.interchange is not None:
            # A group without transaction sets is answered too: AK1 and AK9 alone.
            self._answer(_Group(outcome.group, ""), codes)
            if self._empty is None:
                self._empty = (outcome.interchange, outcome.group)
        self._blocks.truncate(0)  # every set so far is answered

    def interchange(self, outcome: InterchangeOutcome) -> None:
        ta1 = _ta1(outcome.interchange, _ta1_code(outcome.errors))
        if ta1 is not None:
            # Rejected at the interchange: the TA1 says so, alone; no 999 for its groups.
            self._replies.commit_alone(outcome.interchange, ta1)
        else:
            if self._ungrouped is not None:
                self._answer(self._ungrouped, [])
            if self._empty is not None:
                self._replies.first_headers(*self._empty)
            self._replies.commit()
        self._forget()

    def discard(self) -> None:
        self._replies.discard()
        self._forget()

    def close(self, outcome: StreamOutcome) -> None:
        self._replies.close()
        self.dispose()

    def dispose(self) -> None:
        self._replies.dispose()
        self._blocks.close()

    def _forget(self) -> None:
        self._open = self._ungrouped = self._empty = None
        self._blocks.truncate(0)

    def _answer(self, group: _Group, codes: list[str]) -> None:
        """The group's reply set: AK1, its sets' blocks (the spool from ``group.start``), AK9."""
        info = group.group
        control = info.control_number if info else ""
        version = clean(info.version if info else "", 12) or clean(group.implementation, 12)
        ak1: Elements = [
            "AK1",
            info.functional_id if info and info.functional_id in _FUNCTIONAL_IDS else "HC",
            control if is_digits(control) and len(control) <= 9 else "0",
            version or "005010X222A1",
        ]
        count = group.sets
        if codes or (count and group.accepted == 0):
            status = "R"
        elif group.accepted < count:
            status = "P"  # partially accepted: at least one transaction set rejected
        elif group.errors:
            status = "E"
        else:
            status = "A"
        ak9: Elements = ["AK9", status, str(count), str(count), str(group.accepted), *codes[:5]]
        head, tail = x12.render([ak1], line_break="\n"), x12.render([ak9], line_break="\n")
        self._replies.body_around(
            head, self._blocks, tail, 2 + group.segments, start=group.start, end=group.end
        )


@attrs.define
class _Group:
    """A functional group being answered: its sets' AK2 blocks lie in the spool from
    ``start`` to ``end`` (a group's sets come one after another)."""

    group: Group | None
    implementation: str  # the first set's, for AK103 when GS08 says none
    start: int = 0
    end: int = 0
    sets: int = 0
    segments: int = 0
    accepted: int = 0
    errors: bool = False

    def add(self, start: int, end: int, segments: int, ack: AckCode) -> None:
        """One more set, its block from ``start`` to ``end`` in the spool."""
        if not self.sets:
            self.start = start
        self.end = end
        self.sets += 1
        self.segments += segments
        self.accepted += ack is not AckCode.REJECTED
        self.errors |= ack is AckCode.ERRORS


def _ak9_codes(errors: Sequence[Finding]) -> set[str]:
    """AK905 codes of a group's errors about itself."""
    return {a.ak9 for f in errors if (a := ACKNOWLEDGED.get(f.rule)) and a.ak9}


def _ta1_code(errors: Sequence[Finding]) -> str | None:
    """TA105: the code of an interchange's first error that a TA1 answers."""
    return next((a.ta1 for f in errors if (a := ACKNOWLEDGED.get(f.rule)) and a.ta1), None)


def _ik5(rule: str) -> str:
    answered = ACKNOWLEDGED.get(rule)
    return answered.ik5 if answered is not None else ""


def _ta1(interchange: Interchange | None, code: str | None) -> Elements | None:
    """TA1 for an interchange with interchange-level errors (rejected whole: TA104 ``R``);
    TA105 names the first error. None when the interchange is clean."""
    if interchange is None or code is None:
        return None
    control = interchange.control_number
    date = interchange.date
    time = interchange.time
    return [
        "TA1",
        control if is_digits(control) and len(control) == 9 else "000000000",
        f"{date:%y%m%d}" if date is not None else "000101",
        time if is_digits(time) and len(time) == 4 and time < "2400" and time[2] < "6" else "0000",
        "R",
        code,
    ]


def _transaction(outcome: TransactionOutcome) -> list[Elements]:
    transaction = outcome.transaction
    if transaction.set_id not in _SET_IDS:
        return []
    out: list[Elements] = [
        [
            "AK2",
            transaction.set_id,
            clean(transaction.control_number, 9).ljust(4, "0"),
            clean(transaction.implementation, 35),
        ],
    ]
    errors = syntax_errors(outcome)
    for (ordinal, segment_id, code), (first, findings) in errors.items():
        # IK303 names an LS/LE loop; an 837 has none, so it stays empty.
        out.append(["IK3", segment_id, str(ordinal), "", code])
        if first.claim_id:
            out.append(["CTX", ("CLM01", echo_id(first.claim_id, 35))])
        for finding in findings:
            out += _element_error(finding)
    codes = sorted({code for f in outcome.findings if (code := _ik5(f.rule))})
    if errors or (outcome.ack is not AckCode.ACCEPTED and not codes):
        # Segments in error: the claim's own, or envelope and framing errors around it.
        codes.append(_SEGMENTS_IN_ERROR)
    out.append(["IK5", outcome.ack.value, *codes[:5]])
    return out


def syntax_errors(
    outcome: TransactionOutcome,
) -> dict[tuple[int, str, str], tuple[Finding, list[Finding]]]:
    """The IK3 groups of a transaction set, in segment order: (IK302, IK301, IK304) to the
    first finding and the findings that make IK4s. Only the structure layer's findings make
    IK3 and IK4 (it places each segment and checks every element); the claim builder's, such
    as an unreadable amount in a segment the structure could not place, stay in the report."""
    findings = [*outcome.findings, *(f for claim in outcome.claims for f in claim.findings)]
    structural = [f for f in findings if f.syntax is not None and f.severity is Severity.ERROR]
    groups: dict[tuple[int, str, str], tuple[Finding, list[Finding]]] = {}
    for finding in sorted(structural, key=lambda f: (f.ordinal or 0, f.offset or 0)):
        detail = finding.syntax
        if detail is None:
            continue
        key = (finding.ordinal or 0, detail.segment_id or finding.segment_id, detail.segment_code)
        group = groups.setdefault(key, (finding, []))
        if detail.element_code:
            group[1].append(finding)
    return groups


def _element_error(finding: Finding) -> list[Elements]:
    """IK4 for one element (IK401 position, IK402 reference number, IK403 code, IK404 copy)."""
    detail = finding.syntax
    if detail is None:
        return []
    element, component, repetition = detail.element, detail.component, detail.repetition
    code, number, bad = detail.element_code, detail.data_element, detail.value
    position: x12.Element
    if repetition:
        position = (str(element), str(component) if component else "", str(repetition))
    elif component:
        position = (str(element), str(component))
    else:
        position = str(element)
    value = "" if code in ("1", "I10") else clean(bad, 99)
    # IK402 is numeric (N0 1-4): a composite's reference (C004) is not, and is left out.
    return [
        ["IK4", position, number if is_digits(number) and len(number) <= 4 else "", code, value]
    ]
