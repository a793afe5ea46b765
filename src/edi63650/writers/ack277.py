"""The 277CA claim acknowledgment (ASC X12N 005010X214).

One 277CA interchange per 837 interchange, one transaction set per 837 transaction set that
holds claims. Levels (TR3 X214 section 2.4; scs-coding-facts.md section 7):

- 2000A information source (NM1*AY, us), 2200A TRN*1 with receipt (DTP*050) and process
  (DTP*009) dates;
- 2000B information receiver (the 837 submitter, NM1*41), 2200B TRN*2 with the 837 batch
  (BHT03), STC A1:19:AY, and the accepted/rejected counts and amounts (QTY*90/AA, AMT*YU/YY);
- 2000C billing provider (NM1*85) with the same totals per provider (QTY*QA/QC);
- 2000D patient, 2200D claim: TRN*2*CLM01, STC A2:20 (accepted) or the rejecting findings'
  codes with action U (up to three composites through STC10/STC11, rule and message in
  STC12), REF*D9 trace number, REF*BLT type of bill (837I), DTP*472 service dates;
- 2220D for each rejected line: SVC echoing the line, STC with action U, REF*FJ (the line's
  REF*6R control number) and DTP*472.
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Sequence
from decimal import Decimal

from edi63650.findings import ClaimStatus, Finding, Severity
from edi63650.model import Claim, InstitutionalClaim, InstitutionalServiceLine, ServiceLine
from edi63650.outcome import InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.writers import x12
from edi63650.writers.common import Replies, Tally, clean, echo_id
from edi63650.writers.numbers import ControlNumbers, Counter
from edi63650.writers.sink import Sink, Writable
from edi63650.writers.x12 import Elements

VERSION = "005010X214"

#: "Returned to Entity" (ECL 508 code 23), entity 41 (submitter): a duplicate batch's claims.
_RETURNED = ClaimStatus("A3", "23", "41")
#: "Acknowledgement/Acceptance into adjudication system" (ECL 507 A2), "Accepted for
#: processing" (ECL 508 code 20): an accepted claim's STC01.
ACCEPTED = ClaimStatus("A2", "20")

#: SVC01-01 as the guide allows it (005010X214 2220D SVC01-01; element 235): any other
#: qualifier of the 837 line is answered as HC.
_SERVICE_QUALIFIERS = frozenset({"AD", "ER", "HC", "HP", "IV", "NU", "WK"})
#: STC01-03, STC10-03 and STC11-03 as the guide allows them in 2200D and 2220D (005010X214;
#: element 98): an entity outside these is left out of the composite.
_STC_ENTITIES = frozenset(
    {"03", "1P", "1Z", "40", "41", "71", "72", "73", "77", "82", "85", "87", "DK", "DN", "DQ"}
    | {"FA", "GB", "HK", "IL", "LI", "MSC", "PR", "PRP", "QB", "QC", "QD", "SEP", "TL", "TTP"}
    | {"TU"}
)
#: Lengths of the elements we fill from the input (X12 data element dictionary, 005010).
_NAME, _FIRST_NAME, _ID, _REFERENCE = 60, 35, 80, 50  # elements 1035, 1036, 67, 127
_SERVICE_ID = 48  # element 234 (SVC01-02, SVC04)
_AMOUNT_DIGITS, _QUANTITY_DIGITS = 18, 15  # elements 782 and 380 (type R)


class Ack277Sink(Sink):
    """Writes the 277CA to ``out``: each transaction set that holds claims is answered when it
    ends (its claims are all known then, so its totals go before them); each interchange is
    enveloped and written when it ends, with the next of ``numbers`` (else counting from
    ``control_number``, or 1) as its control number.

    With ``duplicate``, the whole batch is answered as a duplicate submission: STC A3:746 at
    the information receiver level (the only level where 746 may be used), and every claim
    returned to the submitter (A3:23:41) without being processed.
    """

    def __init__(
        self,
        out: Writable,
        when: datetime.datetime,
        *,
        control_number: int | None = None,
        numbers: ControlNumbers | None = None,
        duplicate: bool = False,
    ) -> None:
        self._when = when
        self._duplicate = duplicate
        numbers = numbers if numbers is not None else Counter(control_number or 1)
        self._replies = Replies(out, when, numbers, functional_id="HN", version=VERSION)

    def transaction(self, outcome: TransactionOutcome) -> None:
        self._replies.first(outcome)
        if outcome.claims:
            self._replies.body(_transaction(outcome, self._when, self._duplicate))

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._replies.commit()

    def discard(self) -> None:
        self._replies.discard()

    def close(self, outcome: StreamOutcome) -> None:
        self._replies.close()

    def dispose(self) -> None:
        self._replies.dispose()


def _amount(value: Decimal | None) -> str:
    return _decimal(value, _AMOUNT_DIGITS) if value is not None else "0"


def _decimal(value: Decimal, digits: int) -> str:
    """``value`` as an element of type R of at most ``digits`` digits (X12.6: sign and point
    not counted): rounded to fewer decimal places when it has too many; the largest such
    number when even its whole part does not fit, which only a hostile input's figure can."""
    text = format(value, "f")
    if len(text) <= digits or _digits(text) <= digits:
        return text
    whole = max(value.adjusted() + 1, 1)
    if whole <= digits:
        text = format(value.quantize(Decimal(1).scaleb(whole - digits)), "f")
        if _digits(text) <= digits:  # rounding may carry into one more digit
            return text
    return ("-" if value < 0 else "") + "9" * digits


def _digits(text: str) -> int:
    return len(text) - text.count("-") - text.count(".")


def _identifier(text: str | None, fallback: str) -> str:
    """An NM109 (element 67, 2 to 80 characters) from the input, else ``fallback``."""
    value = clean(text or "", _ID)
    return value if len(value) >= 2 else fallback


@functools.lru_cache(maxsize=4096)
def _day(value: datetime.date) -> str:
    return f"{value:%Y%m%d}"


def _counts(
    claims: Sequence[ClaimResult], accepted_qty: str, rejected_qty: str, duplicate: bool = False
) -> list[Elements]:
    totals = Tally().add_all(claims)
    accepted, rejected = totals.accepted, totals.rejected
    accepted_amount, rejected_amount = totals.accepted_amount, totals.rejected_amount
    if duplicate:  # nothing of a duplicate batch is accepted
        accepted, rejected = 0, accepted + rejected
        accepted_amount, rejected_amount = Decimal(0), accepted_amount + rejected_amount
    out: list[Elements] = []
    if accepted:
        out.append(["QTY", accepted_qty, str(accepted)])
    if rejected:
        out.append(["QTY", rejected_qty, str(rejected)])
    if accepted:
        out.append(["AMT", "YU", _amount(accepted_amount)])
    if rejected:
        out.append(["AMT", "YY", _amount(rejected_amount)])
    return out


def _transaction(
    outcome: TransactionOutcome, when: datetime.datetime, duplicate: bool = False
) -> list[Elements]:
    transaction = outcome.transaction
    claims = outcome.claims
    header = claims[0].claim.context.transaction  # the one with BHT, submitter and receiver
    receiver, submitter = header.receiver, header.submitter
    batch = header.reference or transaction.control_number
    trace = f"{outcome.interchange.control_number if outcome.interchange else ''}" + (
        transaction.control_number
    )
    total = sum((c.claim.total_charge or Decimal(0) for c in claims), Decimal(0))
    body: list[Elements] = [
        [
            "BHT",
            "0085",
            "08",
            clean(batch, _REFERENCE) or "UNKNOWN",
            _day(when),
            f"{when:%H%M%S}",
            "TH",
        ],
        ["HL", "1", "", "20", "1"],
        [
            "NM1",
            "AY",
            "2",
            clean(receiver.last_name if receiver else "", _NAME) or "EDI63650",
            "",
            "",
            "",
            "",
            "46",
            _identifier(receiver.id if receiver else "", "EDI63650"),
        ],
        ["TRN", "1", clean(trace, _REFERENCE) or "1"],
        ["DTP", "050", "D8", _day(when)],
        ["DTP", "009", "D8", _day(when)],
        ["HL", "2", "1", "21", "1"],
        [
            "NM1",
            "41",
            submitter.entity_type if submitter and submitter.entity_type in ("1", "2") else "2",
            clean(submitter.last_name if submitter else "", _NAME) or "SUBMITTER",
            clean(submitter.first_name if submitter else "", _FIRST_NAME),
            "",
            "",
            "",
            "46",
            _identifier(submitter.id if submitter else "", "SUBMITTER"),
        ],
        ["TRN", "2", echo_id(batch) or "UNKNOWN"],
        ["STC", ("A3", "746", "AY"), _day(when), "U", _amount(total)]
        if duplicate
        else ["STC", ("A1", "19", "AY"), _day(when), "WQ", _amount(total)],
        *_counts(claims, "90", "AA", duplicate),
    ]
    hl = 2
    position = 0
    for provider_claims in _by_billing_provider(claims):
        hl += 1
        provider_hl = hl
        billing = provider_claims[0].claim.context.billing_provider
        party = billing.party if billing else None
        npi = billing.npi if billing else None
        identifier = (
            ("XX", npi) if npi else ("FI", billing.tax_id or "UNKNOWN" if billing else "UNKNOWN")
        )
        provider_total = sum(
            (c.claim.total_charge or Decimal(0) for c in provider_claims), Decimal(0)
        )
        body += [
            ["HL", str(hl), "2", "19", "1"],
            [
                "NM1",
                "85",
                party.entity_type if party and party.entity_type in ("1", "2") else "2",
                clean(party.last_name if party else "", _NAME) or "BILLING PROVIDER",
                clean(party.first_name if party else "", _FIRST_NAME),
                "",
                "",
                "",
                identifier[0],
                _identifier(identifier[1], "UNKNOWN"),
            ],
            ["TRN", "1", clean(identifier[1], _REFERENCE) or "UNKNOWN"],
            [
                "STC",
                ("A3", "23", "41") if duplicate else ("A1", "19", "85"),
                "",
                "U" if duplicate else "WQ",
                _amount(provider_total),
            ],
            *_counts(provider_claims, "QA", "QC", duplicate),
        ]
        for claim_result in provider_claims:
            hl += 1
            position += 1  # one trace number per claim of the transaction set
            trace_number = f"{trace}{position:05d}"
            body += _claim(claim_result, hl, provider_hl, when, trace_number, duplicate=duplicate)
    return body


def _by_billing_provider(claims: Sequence[ClaimResult]) -> list[list[ClaimResult]]:
    groups: dict[int, list[ClaimResult]] = {}
    for result in claims:
        groups.setdefault(id(result.claim.context.billing_provider), []).append(result)
    return list(groups.values())


def _patient(claim: Claim) -> tuple[str, str, str]:
    ctx = claim.context
    person = ctx.patient.person if ctx.patient and ctx.patient.person else None
    if person is None and ctx.subscriber is not None:
        person = ctx.subscriber.person
    member = ctx.subscriber.member_id if ctx.subscriber else None
    return (
        clean(person.last_name if person else "", _NAME) or "UNKNOWN",
        clean(person.first_name if person else "", _FIRST_NAME),
        _identifier(member, "UNKNOWN"),
    )


def service_period(claim: Claim) -> tuple[datetime.date, datetime.date] | None:
    """The first and last date of service of a claim, as its 277CA's DTP*472 says them: from
    its lines' dates, else the claim's statement (434) or service (472) period."""
    starts = [p.start for line in claim.lines if (p := line.service_date) and p.start]
    ends = [p.end for line in claim.lines if (p := line.service_date) and p.end]
    if not starts:
        for qualifier in ("434", "472"):
            period = claim.date(qualifier)
            if period and period.start and period.end:
                starts, ends = [period.start], [period.end]
                break
    if not starts:
        return None
    return min(starts), max(ends or starts)


def _service_period(claim: Claim) -> Elements:
    period = service_period(claim)
    if period is None:
        return []
    first, last = period
    if first == last:
        return ["DTP", "472", "D8", _day(first)]
    return ["DTP", "472", "RD8", f"{_day(first)}-{_day(last)}"]


def _composites(statuses: Sequence[ClaimStatus]) -> list[x12.Element]:
    """STC01, then STC10 and STC11 for the second and third composites."""
    parts = [
        tuple(p for p in (s.category, s.code, s.entity if s.entity in _STC_ENTITIES else "") if p)
        for s in statuses[:3]
    ]
    first, rest = parts[0], parts[1:]
    return [first, *rest]


def _stc(
    statuses: Sequence[ClaimStatus],
    when: datetime.datetime,
    amount: str | None,
    message: str | None,
) -> Elements:
    composites = _composites(statuses)
    segment: Elements = ["STC", composites[0], _day(when), "U", amount or ""]
    extra = composites[1:]
    if extra or message:
        segment += ["", "", "", "", ""]  # STC05-STC09 are not used
        segment += [extra[0] if extra else "", extra[1] if len(extra) > 1 else ""]
        if message:
            segment.append(clean(message))
    return segment


def _errors(findings: Sequence[Finding]) -> list[Finding]:
    """The rejecting findings, one per rule and line, in order."""
    seen: set[tuple[str, int | None]] = set()
    out = []
    for finding in findings:
        key = (finding.rule, finding.line)
        if finding.severity is Severity.ERROR and finding.statuses and key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _first_of_each_rule(errors: Sequence[Finding]) -> list[Finding]:
    """One claim-level STC per rule: its first rejecting finding."""
    seen: set[str] = set()
    out = []
    for finding in errors:
        if finding.rule not in seen:
            seen.add(finding.rule)
            out.append(finding)
    return out


def claim_statuses(result: ClaimResult) -> list[tuple[ClaimStatus, ...]]:
    """The claim-level STC composites the 277CA gives a claim, one tuple per STC segment:
    A2:20 when it is accepted, else the codes of its first rejecting finding of each rule."""
    if result.accepted:
        return [(ACCEPTED,)]
    return [tuple(f.statuses[:3]) for f in _first_of_each_rule(_errors(result.findings))]


def _claim(
    result: ClaimResult,
    hl: int,
    parent: int,
    when: datetime.datetime,
    trace: str,
    *,
    duplicate: bool = False,
) -> list[Elements]:
    claim = result.claim
    last, first, member = _patient(claim)
    charge = _amount(claim.total_charge)
    out: list[Elements] = [
        ["HL", str(hl), str(parent), "PT"],
        ["NM1", "QC", "1", last, first, "", "", "", "MI", member],
        ["TRN", "2", echo_id(claim.claim_id) or "UNKNOWN"],
    ]
    errors = [] if duplicate else _errors(result.findings)
    if duplicate:
        out.append(_stc([_RETURNED], when, charge, "duplicate of a file already received"))
    elif result.accepted:
        out.append(["STC", (ACCEPTED.category, ACCEPTED.code), _day(when), "WQ", charge])
    else:
        for finding in _first_of_each_rule(errors):
            out.append(_stc(finding.statuses, when, charge, f"{finding.rule}: {finding.message}"))
    out.append(["REF", "D9", clean(trace, _REFERENCE)])
    if isinstance(claim, InstitutionalClaim) and (bill := clean(claim.type_of_bill, _REFERENCE)):
        out.append(["REF", "BLT", bill])
    period = _service_period(claim)
    out.append(period or ["DTP", "472", "D8", _day(when)])
    for line in claim.lines:
        line_errors = [f for f in errors if f.line is not None and f.line == line.number]
        if line_errors:
            out += _line(line, line_errors, when)
    return out


def _line(line: ServiceLine, errors: Sequence[Finding], when: datetime.datetime) -> list[Elements]:
    revenue = line.revenue_code if isinstance(line, InstitutionalServiceLine) else ""
    units = _decimal(line.units.normalize(), _QUANTITY_DIGITS) if line.units is not None else ""
    statuses: list[ClaimStatus] = []
    for finding in errors:
        for status in finding.statuses:
            if status not in statuses:
                statuses.append(status)
    out: list[Elements] = [
        [
            "SVC",
            _procedure(line),
            _amount(line.charge),
            "",
            clean(revenue, _SERVICE_ID),
            "",
            "",
            units,
        ],
        _stc(statuses[:3], when, None, None),
    ]
    if line.control_number:
        out.append(["REF", "FJ", echo_id(line.control_number)])
    served = line.service_date
    if served and served.start:
        out.append(["DTP", "472", "D8", _day(served.start)])
    return out


def _procedure(line: ServiceLine) -> tuple[str, ...]:
    """SVC01 echoing the line's procedure: a qualifier the guide allows (else HC), the code
    (element 234, at most 48 characters) and each modifier that is two characters (1339)."""
    procedure = line.procedure
    code = clean(procedure.code, _SERVICE_ID) if procedure else ""
    if procedure is None or not code:
        return ("HC", "UNKNOWN")
    qualifier = procedure.qualifier if procedure.qualifier in _SERVICE_QUALIFIERS else "HC"
    modifiers = [m for m in map(clean, procedure.modifiers) if len(m) == 2]
    return (qualifier, code, *modifiers[:4])
