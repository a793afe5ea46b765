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
from edi63650.model import Group, Interchange, Transaction
from edi63650.outcome import AckCode, InterchangeOutcome, StreamOutcome, TransactionOutcome
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

    A transaction set's AK2 to IK5 is rendered when it ends; its group's AK1 and AK9 when its
    interchange ends (AK9 needs the group's trailer), from a spool of the open interchange.
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
        self._blocks = Spool()
        self._groups: dict[int, _Group] = {}  # the open interchange's, by group number
        self._ta1: dict[int, str] = {}  # first TA105 code, by interchange number
        self._ak9: dict[int, set[str]] = {}  # AK905 codes, by group number

    def transaction(self, outcome: TransactionOutcome) -> None:
        if any(f.rule == EnvelopeRule.ACKNOWLEDGMENT for f in outcome.findings):
            return  # an acknowledgment is never acknowledged
        self._replies.first(outcome)
        segments = _transaction(outcome)
        start = self._blocks.size
        self._blocks.write(x12.render(segments, line_break="\n").encode("latin-1"))
        group = self._groups.get(outcome.scope.group)
        if group is None:
            group = self._groups[outcome.scope.group] = _Group(outcome.group, outcome.transaction)
        group.blocks.append((start, self._blocks.size, len(segments)))
        group.accepted += outcome.ack is not AckCode.REJECTED
        group.errors |= outcome.ack is AckCode.ERRORS

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._note(outcome.findings)
        ta1_code = self._ta1.pop(outcome.number, None) if outcome.interchange else None
        ta1 = _ta1(outcome.interchange, ta1_code)
        if ta1 is not None:
            # Rejected at the interchange: the TA1 says so, alone; no 999 for its groups.
            self._replies.commit_alone(outcome.interchange, ta1)
        else:
            for number, header in outcome.empty_groups:  # answered too: AK1 and AK9 alone
                self._groups.setdefault(number, _Group(header, None))
                self._replies.first_headers(outcome.interchange, header)
            for number, group in sorted(self._groups.items(), key=lambda item: item[0]):
                codes = sorted(self._ak9.pop(number, set())) if number else []
                self._replies.body_text(*self._render(group, codes))
            self._replies.commit()
        for number in self._groups:
            self._ak9.pop(number, None)
        self._groups = {}
        self._blocks.truncate(0)

    def discard(self) -> None:
        self._replies.discard()
        self._groups = {}
        self._blocks.truncate(0)

    def close(self, outcome: StreamOutcome) -> None:
        self._replies.close()
        self.dispose()

    def dispose(self) -> None:
        self._replies.dispose()
        self._blocks.close()

    def _note(self, findings: Sequence[Finding]) -> None:
        """Keep the TA1 and AK9 codes of interchange- and group-level findings, by number."""
        for finding in findings:
            if finding.severity is not Severity.ERROR:
                continue
            scope = finding.scope
            answered = ACKNOWLEDGED.get(finding.rule)
            if answered is None:
                continue
            if answered.ta1 and scope.interchange:
                self._ta1.setdefault(scope.interchange, answered.ta1)
            if answered.ak9 and scope.group:
                self._ak9.setdefault(scope.group, set()).add(answered.ak9)

    def _render(self, group: _Group, codes: list[str]) -> tuple[str, int]:
        first = group.first
        info = group.group
        control = info.control_number if info else ""
        version = clean(info.version if info else "", 12) or clean(
            first.implementation if first else "", 12
        )
        ak1: Elements = [
            "AK1",
            info.functional_id if info and info.functional_id in _FUNCTIONAL_IDS else "HC",
            control if is_digits(control) and len(control) <= 9 else "0",
            version or "005010X222A1",
        ]
        count = len(group.blocks)
        if codes or (count and group.accepted == 0):
            status = "R"
        elif group.accepted < count:
            status = "P"  # partially accepted: at least one transaction set rejected
        elif group.errors:
            status = "E"
        else:
            status = "A"
        ak9: Elements = ["AK9", status, str(count), str(count), str(group.accepted), *codes[:5]]
        parts = [x12.render([ak1], line_break="\n")]
        parts += [self._blocks.read(start, end).decode("latin-1") for start, end, _ in group.blocks]
        parts.append(x12.render([ak9], line_break="\n"))
        return "".join(parts), 2 + sum(n for _, _, n in group.blocks)


@attrs.define
class _Group:
    """A functional group of the open interchange: where its AK2 blocks are in the spool."""

    group: Group | None
    first: Transaction | None  # None for a group with no transaction set
    blocks: list[tuple[int, int, int]] = attrs.Factory(list)
    accepted: int = 0
    errors: bool = False


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
