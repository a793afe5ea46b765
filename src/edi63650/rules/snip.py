"""WEDI SNIP levels 3 (balancing), 4 (situational relationships) and 5 (external code sets).

Each function is one rule of the catalogue in ``maps/rules.xml``; it yields :class:`Hit`
values and knows nothing of severities, paths or 277CA codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from edi63650.model import (
    Claim,
    InstitutionalClaim,
    InstitutionalServiceLine,
    Party,
    ProfessionalClaim,
    ProfessionalServiceLine,
    ServiceLine,
)
from edi63650.npi import is_valid_npi
from edi63650.rules.engine import Hit, RuleContext, service_segment
from edi63650.segment import Segment
from edi63650.values import is_digits

#: CPT: five digits; Category II: four digits and F; Category III: four digits and T;
#: HCPCS Level II: a letter A-V and four digits (CMS HCPCS general information).
_PROCEDURE_CODE = re.compile(r"[0-9]{5}|[0-9]{4}[FT]|[A-V][0-9]{4}")

#: NUBC revenue codes are four digits (UB-04 FL 42; TR3 005010X223A2 SV201).
_REVENUE_CODE = re.compile(r"[0-9]{4}")

#: HI qualifiers that carry ICD-10-CM diagnoses (code source 897).
_ICD10_QUALIFIERS = frozenset({"ABK", "ABF", "ABJ", "APR", "ABN"})


def _segments_by_offset(claim: Claim) -> dict[int, Segment]:
    return {segment.offset: segment for segment in claim.segments}


def balance(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP3-BALANCE: CLM02 equals the sum of SV102 (837P) or SV203 (837I)."""
    charges = [line.charge for line in claim.lines]
    if claim.total_charge is None or not charges or any(c is None for c in charges):
        return  # a missing or unreadable amount is reported by the reader
    total = sum(c for c in charges if c is not None)
    if total != claim.total_charge:
        yield Hit(
            f"the claim total CLM02 is {claim.total_charge} but the service lines add up to "
            f"{total}",
            fix=f"set CLM02 to {total}, or correct the line charges",
            element="CLM02",
        )


def diagnosis_pointers(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP4-DX-POINTER: every SV107 pointer refers to a diagnosis in HI."""
    count = len(claim.diagnoses)
    for line in claim.lines:
        segment = service_segment(line)
        if not isinstance(line, ProfessionalServiceLine) or segment is None:
            continue
        # Positions from the raw composite, so an empty component keeps its place.
        for position, raw in enumerate(segment.components(7), start=1):
            if not is_digits(raw) or 1 <= int(raw) <= count:
                continue  # empty and non-numeric pointers are the reader's findings
            yield Hit(
                f"diagnosis pointer {int(raw)} points to nothing: the claim has {count} diagnoses",
                fix=f"point SV107 at a diagnosis between 1 and {count}",
                line=line,
                element=f"SV107-{position:02d}",
            )


def statement_dates(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP4-STATEMENT-DATES: 837I line dates fall inside the statement period (DTP*434)."""
    if not isinstance(claim, InstitutionalClaim):
        return
    period = claim.statement_period
    if period is None or period.start is None or period.end is None:
        return
    for line in claim.lines:
        served = line.service_date
        if served is None or served.start is None or served.end is None:
            continue
        if served.start < period.start or served.end > period.end:
            yield Hit(
                f"line date {served.raw} is outside the statement period {period.raw}",
                fix="correct the line date (DTP*472) or the statement period (DTP*434)",
                line=line,
                element="DTP03",
            )


def future_dates(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP4-FUTURE-DATE: no service date after the day of validation."""
    for line in claim.lines:
        served = line.service_date
        if served is not None and served.end is not None and served.end > context.today:
            yield Hit(
                f"the date of service {served.raw} is in the future",
                fix="bill the service after it has been performed",
                line=line,
                element="DTP03",
            )


def procedure_codes(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP5-PROCEDURE-CODE: HC codes look like CPT or HCPCS Level II codes."""
    composite = "SV101" if isinstance(claim, ProfessionalClaim) else "SV202"
    for line in claim.lines:
        procedure = line.procedure
        if procedure is None or procedure.qualifier != "HC":
            continue
        if _PROCEDURE_CODE.fullmatch(procedure.code) is None:
            yield Hit(
                f"{procedure.code!r} is not a CPT or HCPCS code",
                fix="use a five-digit CPT code or a HCPCS Level II code (a letter and four digits)",
                line=line,
                element=f"{composite}-02",
            )


def modifiers_known(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP5-MODIFIER: every modifier is in the modifier code set."""
    known = context.tables.modifiers
    name, index = ("SV101", 1) if isinstance(claim, ProfessionalClaim) else ("SV202", 2)
    for line in claim.lines:
        segment = service_segment(line)
        if segment is None:
            continue
        # C003-03 to C003-06, counted in the raw composite so empty ones keep their place.
        for position, modifier in enumerate(segment.components(index)[2:6], start=3):
            if modifier and modifier not in known:
                yield Hit(
                    f"modifier {modifier!r} is not in the CPT/HCPCS modifier code set",
                    fix="correct or remove the modifier",
                    line=line,
                    element=f"{name}-{position:02d}",
                )


def icd10_codes(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP5-ICD10: diagnoses are billable ICD-10-CM codes."""
    valid = context.tables.icd10
    at: dict[int, Segment] | None = None
    for diagnosis in claim.diagnoses:
        if diagnosis.qualifier not in _ICD10_QUALIFIERS or diagnosis.code in valid:
            continue
        if at is None:
            at = _segments_by_offset(claim)
        yield Hit(
            f"diagnosis {diagnosis.code!r} is not a billable ICD-10-CM code "
            f"({context.tables.icd10_vintage} code set)",
            fix="use the complete code, down to its last character",
            segment=at.get(diagnosis.position.offset) if diagnosis.position else None,
            element=f"HI{diagnosis.element:02d}-02",
        )


def _parties(claim: Claim) -> Iterator[tuple[Party, ServiceLine | None]]:
    billing = claim.context.billing_provider
    if billing is not None and billing.party is not None:
        yield billing.party, None
    for party in claim.providers:
        yield party, None
    for line in claim.lines:
        for party in line.providers:
            yield party, line


def npis(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP5-NPI: every NPI (NM108 XX) carries a valid check digit."""
    for party, line in _parties(claim):
        if party.id_qualifier != "XX" or is_valid_npi(party.id):
            continue
        yield Hit(
            f"NPI {party.id!r} of entity {party.entity} fails the NPI check digit",
            fix="check the NPI against NPPES",
            line=line,
            segment=party.segments[0] if party.segments else None,
            element="NM109",
            entity=party.entity,
        )


def places_of_service(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP5-PLACE-OF-SERVICE: CLM05-1 and SV105 of an 837P are CMS place-of-service codes."""
    if not isinstance(claim, ProfessionalClaim):
        return
    known = context.tables.places_of_service
    if claim.place_of_service and claim.place_of_service not in known:
        yield Hit(
            f"place of service {claim.place_of_service!r} is not a CMS place-of-service code",
            fix="use a two-digit code from the CMS place-of-service code set",
            element="CLM05-01",
        )
    for line in claim.lines:
        if isinstance(line, ProfessionalServiceLine):
            place = line.place_of_service
            if place and place not in known:
                yield Hit(
                    f"place of service {place!r} is not a CMS place-of-service code",
                    fix="use a two-digit code from the CMS place-of-service code set",
                    line=line,
                    element="SV105",
                )


def revenue_codes(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SNIP5-REVENUE-CODE: SV201 is a four-digit NUBC revenue code."""
    for line in claim.lines:
        if isinstance(line, InstitutionalServiceLine) and not _REVENUE_CODE.fullmatch(
            line.revenue_code
        ):
            yield Hit(
                f"revenue code {line.revenue_code!r} is not four digits",
                fix="use a four-digit NUBC revenue code, e.g. 0360 or 0278",
                line=line,
                element="SV201",
            )
