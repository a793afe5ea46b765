"""The 999 implementation acknowledgment (ASC X12C 005010X231A1).

One 999 interchange per 837 interchange; one 999 transaction set per 837 functional group
(AK1), with an AK2/IK5 pair per transaction set and AK9 for the group. Segment-level syntax
errors found so far (unreadable amounts, dates and pointers in a claim) are reported as IK3
with IK4; the implementation-guide checks of the structure layer will add theirs to the same
shape. Codes: IK304 (X12 element 720), IK403 (723), IK5 (717/718), AK9 (715/716).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from edi63650.builder import BuildRule
from edi63650.envelope import EnvelopeRule
from edi63650.findings import Finding, Severity
from edi63650.model import Group, Interchange
from edi63650.outcome import AckCode, TransactionOutcome
from edi63650.values import is_digits
from edi63650.writers import x12
from edi63650.writers.common import (
    by_interchange,
    clean,
    element_position,
    first_control_number,
    reply_envelope,
    split_segment,
)
from edi63650.writers.x12 import Elements

if TYPE_CHECKING:
    from edi63650.validate import ValidationResult

VERSION = "005010X231A1"

#: IK502: why a transaction set was rejected (X12 element 718).
_IK5_CODES = {
    EnvelopeRule.UNSUPPORTED: "1",  # transaction set not supported
    EnvelopeRule.MISSING_SE: "2",  # transaction set trailer missing
    EnvelopeRule.SE_CONTROL: "3",  # control number in header and trailer do not match
    EnvelopeRule.SE_COUNT: "4",  # number of included segments does not match actual count
}
_SEGMENTS_IN_ERROR = "5"

#: IK403: data element errors (X12 element 723).
_IK4_CODES = {
    BuildRule.BAD_NUMBER: "6",  # invalid character in data element
    BuildRule.BAD_POINTER: "6",
    BuildRule.BAD_DATE: "8",  # invalid date
}

#: TA105: interchange note codes (X12 element I18) for interchange-level errors.
_TA1_CODES = {
    EnvelopeRule.IEA_CONTROL: "001",  # control numbers in header and trailer do not match
    EnvelopeRule.ISA_DATE: "014",  # invalid interchange date value
    EnvelopeRule.ISA_TIME: "015",  # invalid interchange time value
    EnvelopeRule.IEA_COUNT: "021",  # invalid number of included groups value
    EnvelopeRule.ISA_LENGTH: "022",  # invalid control structure
    EnvelopeRule.MISSING_IEA: "023",  # improper (premature) end-of-file
    EnvelopeRule.MISSING_GS: "024",  # invalid interchange content
}

#: AK905: functional group errors (X12 element 716).
_AK9_CODES = {
    EnvelopeRule.MISSING_GE: "3",  # functional group trailer missing
    EnvelopeRule.GE_CONTROL: "4",  # group control number in header and trailer do not agree
    EnvelopeRule.GE_COUNT: "5",  # number of included transaction sets does not match
}


def write_999(result: ValidationResult, *, control_number: int | None = None) -> bytes:
    """The 999 for every interchange of the result that holds transaction sets."""
    out = b""
    base = first_control_number(result.transactions, control_number)
    starts = sorted({t.group.position.offset for t in result.transactions if t.group})
    interchanges = sorted({i.position.offset for i in result.interchanges})
    for index, (first, outcomes) in enumerate(by_interchange(result.transactions)):
        envelope = reply_envelope(
            first, result.validated, base + index, functional_id="FA", version=VERSION
        )
        bodies = [
            _group(group, members, _group_findings(group, starts, result.findings))
            for group, members in _by_group(outcomes)
        ]
        ta1 = _ta1(first.interchange, interchanges, result.findings)
        out += x12.interchange(envelope, bodies, ta1=ta1)
    return out


def _ta1(
    interchange: Interchange | None, starts: list[int], findings: Sequence[Finding]
) -> Elements | None:
    """TA1 for an interchange with interchange-level errors (rejected whole: TA104 ``R``);
    TA105 names the first error. None when the interchange is clean."""
    if interchange is None:
        return None
    start = interchange.position.offset
    end = next((offset for offset in starts if offset > start), None)
    codes = [
        _TA1_CODES[EnvelopeRule(f.rule)]
        for f in findings
        if f.rule in _TA1_CODES
        and f.severity is Severity.ERROR
        and f.offset is not None
        and start <= f.offset
        and (end is None or f.offset < end)
    ]
    if not codes:
        return None
    control = interchange.control_number
    date = interchange.date
    time = interchange.time
    return [
        "TA1",
        control if is_digits(control) and len(control) == 9 else "000000000",
        f"{date:%y%m%d}" if date is not None else "000101",
        time if is_digits(time) and len(time) == 4 else "0000",
        "R",
        codes[0],
    ]


def _group_findings(
    group: Group | None, starts: list[int], findings: Sequence[Finding]
) -> list[Finding]:
    """The functional-group findings (GE count, control number, missing GE) of ``group``:
    those after its GS and before the next group's."""
    if group is None:
        return []
    start = group.position.offset
    end = next((offset for offset in starts if offset > start), None)
    return [
        f
        for f in findings
        if f.rule in _AK9_CODES
        and f.offset is not None
        and start <= f.offset
        and (end is None or f.offset < end)
    ]


def _by_group(
    outcomes: Sequence[TransactionOutcome],
) -> list[tuple[Group | None, list[TransactionOutcome]]]:
    groups: dict[int, tuple[Group | None, list[TransactionOutcome]]] = {}
    for outcome in outcomes:
        groups.setdefault(id(outcome.group), (outcome.group, []))[1].append(outcome)
    return list(groups.values())


def _group(
    group: Group | None, outcomes: list[TransactionOutcome], findings: Sequence[Finding]
) -> list[Elements]:
    first = outcomes[0].transaction
    control = group.control_number if group else ""
    version = clean(group.version if group else "", 12) or clean(first.implementation, 12)
    body: list[Elements] = [
        [
            "AK1",
            clean(group.functional_id if group else "", 2) or "HC",
            control if is_digits(control) and len(control) <= 9 else "0",
            version or "005010X222A1",
        ],
    ]
    for outcome in outcomes:
        body += _transaction(outcome)
    group_errors = sorted(
        {_AK9_CODES[EnvelopeRule(f.rule)] for f in findings if f.severity is Severity.ERROR}
    )
    accepted = sum(1 for o in outcomes if o.ack is not AckCode.REJECTED)
    if group_errors or accepted == 0:
        status = "R"
    elif accepted < len(outcomes):
        status = "P"  # partially accepted: at least one transaction set rejected
    elif any(o.ack is AckCode.ERRORS for o in outcomes):
        status = "E"
    else:
        status = "A"
    body.append(
        ["AK9", status, str(len(outcomes)), str(len(outcomes)), str(accepted), *group_errors[:5]]
    )
    return body


def _transaction(outcome: TransactionOutcome) -> list[Elements]:
    transaction = outcome.transaction
    out: list[Elements] = [
        [
            "AK2",
            clean(transaction.set_id, 3) or "837",
            clean(transaction.control_number, 9).ljust(4, "0"),
            clean(transaction.implementation, 35),
        ],
    ]
    errors = syntax_errors(outcome)
    for (ordinal, segment_id, code), (first, findings) in errors.items():
        # IK303 names an LS/LE loop; an 837 has none, so it stays empty.
        out.append(["IK3", segment_id, str(ordinal), "", code])
        if first.claim_id:
            out.append(["CTX", ("CLM01", clean(first.claim_id, 35))])
        for finding in findings:
            out += _element_error(finding)
    codes = sorted(
        {_IK5_CODES[EnvelopeRule(f.rule)] for f in outcome.findings if f.rule in _IK5_CODES}
    )
    if errors or (outcome.ack is not AckCode.ACCEPTED and not codes):
        # Segments in error: the claim's own, or envelope and framing errors around it.
        codes.append(_SEGMENTS_IN_ERROR)
    out.append(["IK5", outcome.ack.value, *codes[:5]])
    return out


def syntax_errors(
    outcome: TransactionOutcome,
) -> dict[tuple[int, str, str], tuple[Finding, list[Finding]]]:
    """The IK3 groups of a transaction set, in segment order: (IK302, IK301, IK304) to the
    first finding and the findings that make IK4s. Structural findings carry their codes;
    the claim builder's unreadable amounts, dates and pointers count too unless the structure
    layer already reported on the same segment (it checks the same values, and a segment it
    could not place has no elements to speak of)."""
    findings = [*outcome.findings, *(f for claim in outcome.claims for f in claim.findings)]
    structural = [f for f in findings if f.syntax is not None and f.severity is Severity.ERROR]
    covered = {f.offset for f in structural}
    builder = [
        f for f in findings if f.rule in _IK4_CODES and f.syntax is None and f.offset not in covered
    ]
    groups: dict[tuple[int, str, str], tuple[Finding, list[Finding]]] = {}
    for finding in sorted([*structural, *builder], key=lambda f: (f.ordinal or 0, f.offset or 0)):
        detail = finding.syntax
        code = detail.segment_code if detail is not None else "8"
        segment_id = (detail.segment_id if detail is not None else "") or finding.segment_id
        key = (finding.ordinal or 0, segment_id, code)
        group = groups.setdefault(key, (finding, []))
        if detail is None or detail.element_code:
            group[1].append(finding)
    return groups


def _element_error(finding: Finding) -> list[Elements]:
    """IK4 for one element (IK401 position, IK402 reference number, IK403 code, IK404 copy)."""
    detail = finding.syntax
    element: int
    component: int | None
    if detail is not None:
        element, component, repetition = detail.element, detail.component, detail.repetition
        code, number, bad = detail.element_code, detail.data_element, detail.value
    else:
        where = element_position(finding)
        if where is None:
            return []
        element, component = where
        repetition = 0
        parts = split_segment(finding)
        bad = parts[element] if element < len(parts) else ""
        code, number = _IK4_CODES[BuildRule(finding.rule)], ""
    position: x12.Element
    if repetition:
        position = (str(element), str(component) if component else "", str(repetition))
    elif component:
        position = (str(element), str(component))
    else:
        position = str(element)
    value = "" if code in ("1", "I10") else clean(bad, 99)
    return [["IK4", position, clean(number, 4), code, value]]
