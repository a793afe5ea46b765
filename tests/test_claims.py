"""Typed claims from the hand-written fixtures: the values, not just the absence of errors."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest

from edi63650 import (
    Claim,
    ClaimKind,
    InstitutionalClaim,
    InstitutionalServiceLine,
    ProfessionalClaim,
    ProfessionalServiceLine,
    Severity,
)
from edi63650.builder import BuildRule
from edi63650.npi import is_valid_npi
from tests.helpers import FIXTURES, claims_of, events, findings_of


def load(name: str) -> list[Claim]:
    return claims_of((FIXTURES / name).read_bytes())


def by_id(name: str) -> dict[str, Claim]:
    return {claim.claim_id: claim for claim in load(name)}


def professional_line(claim: Claim, index: int) -> ProfessionalServiceLine:
    line = claim.lines[index]
    assert isinstance(line, ProfessionalServiceLine)
    return line


def institutional_line(claim: Claim, index: int) -> InstitutionalServiceLine:
    line = claim.lines[index]
    assert isinstance(line, InstitutionalServiceLine)
    return line


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.837")), ids=lambda p: p.name)
def test_fixtures_have_no_warnings_or_errors(path: object) -> None:
    data = FIXTURES.joinpath(str(getattr(path, "name", path))).read_bytes()
    assert [f.rule for f in findings_of(data) if f.severity is not Severity.INFO] == []


def test_trial_63650_claim() -> None:
    claim = by_id("scs-professional.837")["TRIAL001"]
    assert isinstance(claim, ProfessionalClaim)
    assert claim.kind is ClaimKind.PROFESSIONAL
    assert claim.total_charge == Decimal("3045.00")
    assert (claim.place_of_service, claim.facility_qualifier, claim.frequency) == ("22", "B", "1")
    assert claim.prior_authorization == "PA778812"
    assert [(n.code, n.text) for n in claim.notes] == [("ADD", "SCS TRIAL PERCUTANEOUS LEADS X2")]
    assert [(d.pointer, d.qualifier, d.code, d.element) for d in claim.diagnoses] == [
        (1, "ABK", "G8929", 1), (2, "ABF", "M961", 2),
    ]  # fmt: skip
    hi = claim.diagnoses[0].position
    assert hi is not None
    assert hi.line == 25
    assert claim.notes[0].position is not None
    assert claim.notes[0].position.line == 24
    assert claim.date("454") is not None
    assert claim.date("454").start == datetime.date(2026, 10, 1)  # type: ignore[union-attr]
    assert claim.rendering is not None
    assert claim.rendering.npi == "1987654328"
    assert claim.rendering.taxonomy == "208VP0014X"

    leads = professional_line(claim, 0)
    assert leads.number == 1
    assert leads.procedure is not None
    assert (leads.procedure.qualifier, leads.procedure.code) == ("HC", "63650")
    assert leads.procedure.modifiers == ()
    assert (leads.charge, leads.unit_basis, leads.units) == (Decimal("2900.00"), "UN", Decimal(2))
    assert leads.diagnosis_pointers == (1, 2)
    assert leads.service_date is not None
    assert leads.service_date.start == leads.service_date.end == datetime.date(2026, 10, 5)
    assert leads.control_number == "TRIAL001-1"
    assert leads.procedure.position is not None
    assert leads.procedure.position.line == leads.position.line + 1  # SV1 follows LX
    assert leads.service_date.position is not None
    assert leads.service_date.position.line == leads.position.line + 2

    imaging = professional_line(claim, 1)
    assert imaging.procedure is not None
    assert (imaging.procedure.code, imaging.procedure.modifiers) == ("77003", ("26",))
    assert imaging.diagnosis_pointers == (1,)


def test_permanent_63650_and_63685_claim() -> None:
    claim = by_id("scs-professional.837")["PERM001"]
    codes = [
        (line.procedure.code, line.procedure.modifiers) for line in claim.lines if line.procedure
    ]
    assert codes == [("63650", ("58",)), ("63685", ("58",))]
    assert professional_line(claim, 0).diagnosis_pointers == (1, 2, 3)
    assert [d.code for d in claim.diagnoses] == ["G8929", "M961", "G894"]
    assert [(n.code, n.text) for n in claim.lines[1].notes] == [
        ("TPO", "GENERATOR IMPLANT AFTER SUCCESSFUL TRIAL")
    ]
    assert sum(line.charge or 0 for line in claim.lines) == claim.total_charge


def test_context_billing_provider_subscriber_payer() -> None:
    claims = by_id("scs-professional.837")
    ctx = claims["TRIAL001"].context
    assert ctx.interchange is not None
    assert ctx.interchange.control_number == "000000101"
    assert ctx.interchange.date == datetime.date(2026, 10, 15)
    assert ctx.group is not None
    assert ctx.group.control_number == "101"
    assert ctx.transaction.control_number == "0001"
    assert ctx.transaction.implementation == "005010X222A1"
    assert ctx.transaction.submitter is not None
    assert ctx.transaction.submitter.id == "SPA0001"
    assert ctx.transaction.receiver is not None
    assert ctx.transaction.receiver.last_name == "CLEARHOUSE"
    billing = ctx.billing_provider
    assert billing is not None
    assert billing.npi == "1234567893"
    assert is_valid_npi(billing.npi)
    assert billing.tax_id == "741234567"
    assert billing.taxonomy == "208VP0014X"
    assert billing.address is not None
    assert (billing.address.line2, billing.address.city, billing.address.postal_code) == (
        "SUITE 210", "AUSTIN", "787011234",
    )  # fmt: skip
    subscriber = ctx.subscriber
    assert subscriber is not None
    assert subscriber.member_id == "1EG4TE5MK73"
    assert subscriber.claim_filing_indicator == "MB"
    assert subscriber.relationship == "18"
    assert subscriber.birth_date == datetime.date(1954, 3, 12)
    assert subscriber.payer_id == "04412"
    assert ctx.patient is None


def test_several_subscribers_and_a_dependent_patient() -> None:
    claims = load("scs-professional.837")
    assert [c.claim_id for c in claims] == ["TRIAL001", "PERM001", "OFFICE01"]
    first, second, third = (c.context for c in claims)
    assert first.subscriber is second.subscriber  # one 2000B, two claims
    assert third.subscriber is not None
    assert third.subscriber.member_id == "XKH448810221"
    assert third.subscriber.claim_filing_indicator == "CI"
    assert third.patient is not None
    assert third.patient.relationship == "01"
    assert third.patient.person is not None
    assert third.patient.person.first_name == "LIN"
    assert third.patient.birth_date == datetime.date(1972, 1, 30)
    office = claims[2]
    assert professional_line(office, 0).procedure.modifiers == ("25",)  # type: ignore[union-attr]
    assert professional_line(office, 1).place_of_service == "11"
    assert office.lines[1].rendering is not None
    assert office.lines[1].rendering.npi == "1555444334"


def test_institutional_claim_with_revenue_codes_and_devices() -> None:
    claims = by_id("scs-institutional.837")
    claim = claims["HOSP7001"]
    assert isinstance(claim, InstitutionalClaim)
    assert claim.type_of_bill == "131"
    assert claim.facility_qualifier == "A"
    assert claim.total_charge == Decimal("61237.09")
    assert claim.statement_period is not None
    assert claim.statement_period.start == datetime.date(2026, 10, 20)
    assert claim.attending is not None
    assert claim.attending.npi == "1987654328"
    lines = [institutional_line(claim, i) for i in range(len(claim.lines))]
    assert [
        (ln.revenue_code, ln.procedure.code if ln.procedure else None, ln.units, ln.charge)
        for ln in lines
    ] == [
        ("0360", "63650", Decimal(2), Decimal("6511.03")),
        ("0360", "63685", Decimal(1), Decimal("31526.06")),
        ("0278", "C1778", Decimal(2), Decimal("6400.00")),
        ("0278", "C1820", Decimal(1), Decimal("16800.00")),
    ]
    assert lines[3].control_number == "HOSP7001-4"
    assert claim.context.subscriber is not None
    assert claim.context.subscriber.claim_filing_indicator == "MA"
    trial = claims["HOSP7002"]
    assert [line.procedure.code for line in trial.lines if line.procedure] == ["63650", "C1897"]
    assert [d.code for d in trial.diagnoses] == ["M5416", "G5781"]


def test_two_interchanges_in_one_file_with_different_delimiters() -> None:
    claims = load("two-interchanges.837")
    assert [(c.claim_id, c.kind) for c in claims] == [
        ("FU0001", ClaimKind.PROFESSIONAL), ("HOSP8001", ClaimKind.INSTITUTIONAL),
    ]  # fmt: skip
    first, second = claims
    assert first.context.interchange is not None
    assert second.context.interchange is not None
    assert first.context.interchange.control_number == "000000301"
    assert second.context.interchange.control_number == "000000302"
    assert second.context.interchange.delimiters.element == "|"
    assert second.lines[0].procedure is not None
    assert second.lines[0].procedure.modifiers == ("RT",)
    assert professional_line(first, 0).procedure.modifiers == ("24",)  # type: ignore[union-attr]


def test_newline_terminated_file() -> None:
    (claim,) = load("newline-terminated.837")
    assert claim.claim_id == "TRIAL002"
    assert [line.procedure.code for line in claim.lines if line.procedure] == ["63650", "76000"]
    assert claim.lines[1].procedure is not None
    assert claim.lines[1].procedure.modifiers == ("59",)
    assert claim.position.line == 18


def test_non_default_delimiters() -> None:
    (claim,) = load("alt-delimiters.837")
    line = professional_line(claim, 0)
    assert line.procedure is not None
    assert line.procedure.modifiers == ("76", "LT", "RT")
    assert line.units == Decimal(3)
    assert line.diagnosis_pointers == (1, 2)
    assert claim.context.interchange is not None
    assert claim.context.interchange.delimiters.segment == "{"
    assert claim.context.interchange.delimiters.repetition == "}"


def test_byte_order_mark_file() -> None:
    (claim,) = load("bom.837")
    assert claim.position.offset > 3
    assert claim.lines[0].procedure is not None
    assert claim.lines[0].procedure.code == "95972"


def test_crlf_framing_positions() -> None:
    data = (FIXTURES / "scs-institutional.837").read_bytes()
    assert b"~\r\n" in data
    claim = claims_of(data)[0]
    assert data[claim.position.offset : claim.position.offset + 4] == b"CLM*"
    assert claim.position.line == 21
    assert claim.position.ordinal == 19


def test_nothing_is_dropped() -> None:
    """Every segment of a transaction set is reachable from the objects built from it."""
    data = (FIXTURES / "scs-professional.837").read_bytes()
    claims = claims_of(data)
    reachable: set[int] = set()
    for claim in claims:
        ctx = claim.context
        reachable.update(s.offset for s in ctx.transaction.segments)
        for holder in (ctx.billing_provider, ctx.subscriber, ctx.patient):
            if holder is not None:
                reachable.update(s.offset for s in holder.segments)
        reachable.update(s.offset for s in claim.all_segments())
    body = [line for line in data.decode().split("~\n") if line]
    data_segments = [
        s for s in body if s.split("*")[0] not in ("ISA", "GS", "ST", "SE", "GE", "IEA")
    ]
    assert len(reachable) == len(data_segments)
    assert [s.id for s in claims[0].all_segments()][:3] == ["CLM", "DTP", "REF"]


def test_bad_numbers_and_dates_become_none_with_findings() -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    text = text.replace("SV1*HC:63650*2900.00*UN*2", "SV1*HC:63650*29O0.00*UN*2", 1)
    text = text.replace("DTP*472*D8*20261005", "DTP*472*D8*20261305", 1)
    text = text.replace("***1:2~", "***1:X~", 1)
    out = events(text.encode())
    claim = next(e for e in out if isinstance(e, Claim))
    line = professional_line(claim, 0)
    assert line.charge is None
    assert line.service_date is not None
    assert line.service_date.start is None
    assert line.diagnosis_pointers == (1,)
    problems = [
        (f.rule, f.element, f.claim_id, f.line)
        for f in findings_of(text.encode())
        if f.severity is Severity.ERROR
    ]
    assert problems == [
        (BuildRule.BAD_NUMBER, "SV102", "TRIAL001", 1),
        (BuildRule.BAD_POINTER, "SV107", "TRIAL001", 1),
        (BuildRule.BAD_DATE, "DTP03", "TRIAL001", 1),
    ]
