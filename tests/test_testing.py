"""The public test builders and the synthetic load files they make."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from edi63650 import ClaimKind, Severity
from edi63650.npi import is_valid_npi, npi_check_digit
from edi63650.testing import (
    ClaimSpec,
    LineSpec,
    PatientSpec,
    SubscriberSpec,
    interchange,
    make_npi,
    synth,
)
from tests.helpers import claims_of, findings_of


def test_npi_check_digit_matches_the_cms_example() -> None:
    # CMS's worked example in the NPI check-digit specification: 123456789 -> 3.
    assert npi_check_digit("123456789") == "3"
    assert is_valid_npi("1234567893")
    assert not is_valid_npi("1234567890")
    assert not is_valid_npi("123456789")
    assert not is_valid_npi("12345678a3")
    assert is_valid_npi(make_npi("198765432"))


def test_builders_make_a_clean_interchange_with_the_described_claims() -> None:
    claim = ClaimSpec(
        "PCN9",
        lines=(
            LineSpec("63650", Decimal("1450.00"), units=Decimal(2), pointers=(1, 2)),
            LineSpec("77003", Decimal("95.00"), modifiers=("26",)),
        ),
        diagnoses=("G8929", "M961"),
        prior_authorization="PA1",
    )
    data = interchange(
        "837P", [SubscriberSpec("M9", claims=(claim,), patient=PatientSpec(first_name="KIM"))]
    )
    assert findings_of(data) == []
    (parsed,) = claims_of(data)
    assert parsed.total_charge == Decimal("1545.00")
    assert parsed.prior_authorization == "PA1"
    assert parsed.context.patient is not None
    assert parsed.context.patient.person is not None
    assert parsed.context.patient.person.first_name == "KIM"
    assert [line.procedure.code for line in parsed.lines if line.procedure] == ["63650", "77003"]


def test_synth_is_deterministic_and_realistic() -> None:
    data = synth("837P", 2500, seed=11)
    assert data == synth("837P", 2500, seed=11)
    assert data != synth("837P", 2500, seed=12)
    assert [f for f in findings_of(data) if f.severity is not Severity.INFO] == []
    claims = claims_of(data)
    assert len(claims) == 2500
    assert len({c.context.transaction.control_number for c in claims}) == 3
    assert len({c.context.subscriber.member_id for c in claims if c.context.subscriber}) > 1000
    assert any(c.context.patient is not None for c in claims)
    codes = Counter(line.procedure.code for c in claims for line in c.lines if line.procedure)
    assert codes["63650"] > 500
    assert codes["63685"] > 200
    assert codes["99213"] > 100
    for claim in claims:
        billing = claim.context.billing_provider
        assert billing is not None
        assert billing.npi is not None
        assert is_valid_npi(billing.npi)
        assert claim.total_charge == sum(line.charge or 0 for line in claim.lines)


def test_synth_institutional_has_devices_and_revenue_codes() -> None:
    claims = claims_of(synth("837I", 300, seed=2))
    assert {c.kind for c in claims} == {ClaimKind.INSTITUTIONAL}
    device_lines = [
        line
        for c in claims
        for line in c.lines
        if line.procedure and line.procedure.code.startswith("C1")
    ]
    assert device_lines
    assert {getattr(line, "revenue_code", None) for line in device_lines} == {"0278"}


def test_synth_refuses_other_kinds() -> None:
    with pytest.raises(ValueError, match="837P or 837I"):
        synth("837D", 1)
