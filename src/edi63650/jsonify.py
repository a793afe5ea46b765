"""Claims as JSON-ready dictionaries (the ``edi63650 parse`` output, one object per line).

Patient names, birth dates and addresses and a billing provider's social security number are
left out unless ``include_phi`` is true: the identifiers a clearinghouse needs to find a claim
(control numbers, NPIs, member and payer ids, claim id) are always there.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

from edi63650.model import (
    Claim,
    DatePeriod,
    InstitutionalClaim,
    InstitutionalServiceLine,
    Party,
    ProfessionalServiceLine,
    ServiceLine,
)
from edi63650.segment import Position

JSON = dict[str, Any]


def _money(value: Decimal | None) -> str | None:
    """Decimals as strings: JSON numbers would lose exactness in many readers."""
    return None if value is None else str(value)


def _day(value: datetime.date | None) -> str | None:
    return None if value is None else value.isoformat()


def _position(position: Position) -> JSON:
    return {"offset": position.offset, "line": position.line, "ordinal": position.ordinal}


def _period(period: DatePeriod) -> JSON:
    return {"qualifier": period.qualifier, "start": _day(period.start), "end": _day(period.end)}


def _provider(party: Party) -> JSON:
    return {
        "entity": party.entity,
        "name": " ".join(p for p in (party.first_name, party.last_name) if p),
        "id_qualifier": party.id_qualifier,
        "id": party.id,
        "taxonomy": party.taxonomy,
    }


def _person(party: Party | None, include_phi: bool) -> JSON | None:
    if party is None:
        return None
    out: JSON = {"id_qualifier": party.id_qualifier, "id": party.id}
    if include_phi:
        out["last_name"] = party.last_name
        out["first_name"] = party.first_name
        if party.address:
            out["address"] = {
                "line1": party.address.line1,
                "line2": party.address.line2,
                "city": party.address.city,
                "state": party.address.state,
                "postal_code": party.address.postal_code,
            }
    return out


def _line(line: ServiceLine) -> JSON:
    procedure = line.procedure
    out: JSON = {
        "number": line.number,
        "procedure": None
        if procedure is None
        else {
            "qualifier": procedure.qualifier,
            "code": procedure.code,
            "modifiers": list(procedure.modifiers),
            "description": procedure.description,
        },
        "charge": _money(line.charge),
        "unit_basis": line.unit_basis,
        "units": _money(line.units),
        "dates": [_period(p) for p in line.dates],
        "control_number": line.control_number,
        "references": [{"qualifier": r.qualifier, "value": r.value} for r in line.references],
        "notes": [{"code": n.code, "text": n.text} for n in line.notes],
        "providers": [_provider(p) for p in line.providers],
        "position": _position(line.position),
    }
    if isinstance(line, ProfessionalServiceLine):
        out["place_of_service"] = line.place_of_service
        out["diagnosis_pointers"] = list(line.diagnosis_pointers)
    elif isinstance(line, InstitutionalServiceLine):
        out["revenue_code"] = line.revenue_code
        out["non_covered_charge"] = _money(line.non_covered_charge)
    return out


def claim_to_json(claim: Claim, *, include_phi: bool = False) -> JSON:
    """One claim with the context that identifies it."""
    ctx = claim.context
    billing = ctx.billing_provider
    subscriber = ctx.subscriber
    patient = ctx.patient
    tax_id = None
    if billing and billing.party:
        tax_id = billing.party.reference("EI") or (
            billing.party.reference("SY") if include_phi else None
        )
    context: JSON = {
        "interchange_control_number": ctx.interchange.control_number if ctx.interchange else None,
        "interchange_sender": ctx.interchange.sender_id if ctx.interchange else None,
        "group_control_number": ctx.group.control_number if ctx.group else None,
        "transaction_control_number": ctx.transaction.control_number,
        "implementation": ctx.transaction.implementation,
        "billing_provider": None
        if billing is None
        else {
            "npi": billing.npi,
            "name": billing.party.last_name if billing.party else None,
            "tax_id": tax_id,
            "taxonomy": billing.taxonomy,
        },
        "subscriber": None
        if subscriber is None
        else {
            "member_id": subscriber.member_id,
            "payer_responsibility": subscriber.payer_responsibility,
            "claim_filing_indicator": subscriber.claim_filing_indicator,
            "group_number": subscriber.group_number,
            "person": _person(subscriber.person, include_phi),
            "birth_date": _day(subscriber.birth_date) if include_phi else None,
        },
        "payer": None
        if subscriber is None or subscriber.payer is None
        else {
            "id": subscriber.payer_id,
            "name": subscriber.payer.last_name,
        },
        "patient": None
        if patient is None
        else {
            "relationship": patient.relationship,
            "person": _person(patient.person, include_phi),
            "birth_date": _day(patient.birth_date) if include_phi else None,
        },
    }
    out: JSON = {
        "kind": str(claim.kind),
        "claim_id": claim.claim_id,
        "total_charge": _money(claim.total_charge),
        "facility_code": claim.facility_code,
        "facility_qualifier": claim.facility_qualifier,
        "frequency": claim.frequency,
        "context": context,
        "dates": [_period(p) for p in claim.dates],
        "diagnoses": [
            {
                "pointer": d.pointer,
                "qualifier": d.qualifier,
                "code": d.code,
                "present_on_admission": d.present_on_admission,
            }
            for d in claim.diagnoses
        ],
        "other_codes": [
            {"qualifier": c.qualifier, "code": c.code, "date": c.date, "amount": _money(c.amount)}
            for c in claim.other_codes
        ],
        "prior_authorization": claim.prior_authorization,
        "references": [{"qualifier": r.qualifier, "value": r.value} for r in claim.references],
        "notes": [{"code": n.code, "text": n.text} for n in claim.notes],
        "attachments": [
            {
                "report_type": a.report_type,
                "transmission": a.transmission,
                "control_number": a.control_number,
            }
            for a in claim.attachments
        ],
        "providers": [_provider(p) for p in claim.providers],
        "lines": [_line(line) for line in claim.lines],
        "position": _position(claim.position),
    }
    if isinstance(claim, InstitutionalClaim):
        out["type_of_bill"] = claim.type_of_bill
    return out
