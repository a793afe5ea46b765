"""Envelope checks (SNIP 1) and routing by implementation guide."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edi63650.envelope import EnvelopeRule
from edi63650.findings import Severity
from edi63650.testing import ClaimSpec, LineSpec, SubscriberSpec, interchange
from tests.helpers import claims_of, findings_of, rules_of

CLAIM = ClaimSpec("C1", lines=(LineSpec("63650", Decimal("100")),))
GOOD = interchange("837P", [SubscriberSpec("M1", claims=(CLAIM,))]).decode()


def mutate(old: str, new: str, text: str = GOOD) -> bytes:
    assert old in text, old
    return text.replace(old, new, 1).encode()


def test_a_clean_interchange_has_no_findings() -> None:
    assert rules_of(GOOD.encode()) == []
    assert len(claims_of(GOOD.encode())) == 1


@pytest.mark.parametrize(
    ("old", "new", "rule", "element"),
    [
        ("IEA*1*000000001", "IEA*1*000000002", EnvelopeRule.IEA_CONTROL, "IEA02"),
        ("IEA*1*", "IEA*2*", EnvelopeRule.IEA_COUNT, "IEA01"),
        ("GE*1*1~", "GE*1*9~", EnvelopeRule.GE_CONTROL, "GE02"),
        ("GE*1*", "GE*3*", EnvelopeRule.GE_COUNT, "GE01"),
        ("*0001~GE", "*0002~GE", EnvelopeRule.SE_CONTROL, "SE02"),
        ("*261001*1200*", "*261341*1200*", EnvelopeRule.ISA_DATE, "ISA09"),
        ("*261001*1200*", "*261001*2561*", EnvelopeRule.ISA_TIME, "ISA10"),
        ("*20261001*1200*1*X", "*20260231*1200*1*X", EnvelopeRule.GS_DATE, "GS04"),
        ("*20261001*1200*1*X", "*20261001*12*1*X", EnvelopeRule.GS_TIME, "GS05"),
    ],
)
def test_envelope_mismatches(old: str, new: str, rule: EnvelopeRule, element: str) -> None:
    findings = findings_of(mutate(old, new))
    assert [(f.rule, f.element, f.severity) for f in findings] == [(rule, element, Severity.ERROR)]


def test_segment_count_is_checked_against_the_real_count() -> None:
    se = next(line for line in GOOD.split("~") if line.startswith("SE*"))
    count = int(se.split("*")[1])
    findings = findings_of(mutate(se, f"SE*{count + 1}*0001"))
    assert [f.rule for f in findings] == [EnvelopeRule.SE_COUNT]
    assert findings[0].message == (
        f"SE01 says '{count + 1}' segments (ST and SE included); there are {count}"
    )


def test_isa_length_is_checked() -> None:
    findings = findings_of(mutate("*ZZ*SUBMITTER01    *", "*ZZ*SUBMITTER01*"))
    assert [f.rule for f in findings] == [EnvelopeRule.ISA_LENGTH]
    assert "the ISA is 102 characters" in findings[0].message


def test_missing_trailers_are_reported_and_the_claim_still_comes_out() -> None:
    truncated = GOOD[: GOOD.index("SE*")].encode()
    assert [c.claim_id for c in claims_of(truncated)] == ["C1"]
    assert rules_of(truncated) == [
        EnvelopeRule.MISSING_SE, EnvelopeRule.MISSING_GE, EnvelopeRule.MISSING_IEA,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("version", "what"),
    [
        ("004010X098A1", "4010 was retired"),
        ("005010X224A2", "837 Dental"),
        ("005010X291", "predetermination is not a claim"),
        ("005010X999", "is not one this tool reads"),
    ],
)
def test_unsupported_implementations_are_skipped_and_the_file_goes_on(
    version: str, what: str
) -> None:
    bad = GOOD.replace("005010X222A1", version)
    data = (bad + GOOD.replace("000000001", "000000002")).encode()
    findings = findings_of(data)
    assert [f.rule for f in findings] == [EnvelopeRule.UNSUPPORTED]
    assert what in findings[0].message
    assert len(claims_of(data)) == 1  # the second interchange is read


def test_other_transaction_sets_are_unsupported() -> None:
    findings = findings_of(mutate("ST*837*", "ST*835*"))
    assert [f.rule for f in findings] == [EnvelopeRule.UNSUPPORTED]
    assert "'835' is not an 837 claim" in findings[0].message


@pytest.mark.parametrize(
    ("version", "kind"),
    [("005010X222A2", "837P"), ("005010X223A3", "837I"), ("005010X223A1", "837I")],
)
def test_later_errata_are_read_with_the_closest_layout(version: str, kind: str) -> None:
    text = interchange(kind, [SubscriberSpec("M1", claims=(CLAIM,))]).decode()
    base = "005010X222A1" if kind == "837P" else "005010X223A2"
    data = text.replace(base, version).encode()
    findings = findings_of(data)
    assert [(f.rule, f.severity) for f in findings] == [
        (EnvelopeRule.CLOSEST_LAYOUT, Severity.INFO)
    ]
    assert claims_of(data)[0].kind == kind


def test_st03_differing_from_gs08_is_a_warning() -> None:
    findings = findings_of(mutate("ST*837*0001*005010X222A1", "ST*837*0001*005010X222A2"))
    assert [f.rule for f in findings] == [
        EnvelopeRule.VERSION_MISMATCH, EnvelopeRule.CLOSEST_LAYOUT,
    ]  # fmt: skip


def test_segments_outside_a_transaction_set() -> None:
    findings = findings_of(mutate("GS*HC", "NM1*41*2*X~GS*HC"))
    assert [f.rule for f in findings] == [EnvelopeRule.OUTSIDE_TRANSACTION]
