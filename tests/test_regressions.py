"""Defects found in review, each pinned by a test that failed before its fix."""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path

import pytest

import edi63650
from edi63650 import Finding, Segment, Severity, Tokenizer
from edi63650.errors import EdiUsageError
from edi63650.rules.pack import Engine
from edi63650.testing import (
    ClaimSpec,
    LineSpec,
    ProviderSpec,
    SubscriberSpec,
    interchange,
    make_npi,
)
from edi63650.validate import Validator
from tests.helpers import FIXTURES
from tests.pyx12_oracle import pyx12_check
from tests.test_streaming import chunkings, feed_reader

NOW = datetime.datetime(2026, 11, 26, 9, 30)
BOM = (FIXTURES / "bom.837").read_bytes()
PROFESSIONAL = (FIXTURES / "scs-professional.837").read_bytes()
TWO = (FIXTURES / "two-interchanges.837").read_bytes()


def segments_of(data: bytes) -> list[Segment]:
    tokenizer = Tokenizer()
    return [t for t in tokenizer.feed(data) + tokenizer.close() if isinstance(t, Segment)]


def every_output(data: bytes) -> None:
    result = Validator(now=NOW).validate(data)
    result.to_277ca()
    result.to_999()
    result.to_json()
    result.to_text()
    result.to_html(data)
    result.accepted_837()


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"SE*21*6001", "SE*²*6001".encode("latin-1")),
        (b"LX*1", "LX*²".encode("latin-1")),
        (b"***1~", "***1:¹~".encode("latin-1")),
        (b"000000601*0*T", "00000060¹*0*T".encode("latin-1")),
        (b"IEA*1*000000601", "IEA*¹*000000601".encode("latin-1")),
    ],
)
def test_non_ascii_digits_are_findings_not_crashes(old: bytes, new: bytes) -> None:
    assert old in BOM
    every_output(BOM.replace(old, new, 1))


def test_control_characters_do_not_break_the_html_report() -> None:
    data = BOM.replace(b"HI*ABK:G8929", b"NTE*ADD*SCS\x01TRIAL~\nHI*ABK:G8929").replace(
        b"SE*21", b"SE*22"
    )
    html = Validator(now=NOW).validate(data).to_html(data)
    assert "SCS\ufffdTRIAL" in html


def test_findings_between_segments_appear_in_the_html() -> None:
    data = BOM.replace(b"~\nNM1*40", b"~~\x01\x02junk~NM1*40")
    html = Validator(now=NOW).validate(data).to_html(data)
    assert "X12-EMPTY-SEGMENT" in html
    assert "X12-BAD-SEGMENT-ID" in html


def test_trace_numbers_are_unique_across_billing_providers() -> None:
    line = LineSpec("99213", Decimal("100"), pointers=(1,))
    providers = [
        ProviderSpec(
            npi=make_npi(f"12345678{n}"),
            subscribers=(
                SubscriberSpec(f"M{n}", claims=(ClaimSpec(f"C{n}", (line,), diagnoses=("I10",)),)),
            ),
        )
        for n in range(2)
    ]
    ack = Validator(now=NOW).validate(interchange("837P", providers=providers)).to_277ca()
    traces = [s.get(2) for s in segments_of(ack) if s.id == "REF" and s.get(1) == "D9"]
    assert len(traces) == 2
    assert len(set(traces)) == 2


def test_group_errors_stay_in_their_own_group() -> None:
    data = TWO.replace(b"GE|1|302", b"GE|2|302")
    ack = Validator(now=NOW).validate(data).to_999().decode()
    first, second = ack.split("IEA*1*")[0], ack.split("IEA*1*")[1]
    assert "AK9*A*1*1*1~" in first
    assert "AK9*R*1*1*0*5~" in second


def test_findings_of_a_new_st_go_to_the_new_transaction_set() -> None:
    data = PROFESSIONAL.replace(b"SE*70*0001~\n", b"ST*835*0002*005010X221A1~\nSE*2*0002~\n")
    result = Validator(now=NOW).validate(data)
    first, second = result.transactions
    assert [f.rule for f in first.findings] == ["ENV-MISSING-SE"]
    errors = [f.rule for f in second.findings if f.severity is Severity.ERROR]
    assert errors == ["ENV-UNSUPPORTED-IMPLEMENTATION"]
    ack = result.to_999().decode()
    assert "IK5*R*2~" in ack
    assert "IK5*R*1~" in ack


def test_accepted_837_subscriber_hl04_says_children_follow() -> None:
    data = Validator(now=NOW).validate(PROFESSIONAL).accepted_837()
    assert data is not None
    levels = [(s.get(1), s.get(2), s.get(3), s.get(4)) for s in segments_of(data) if s.id == "HL"]
    for index, (hl, _, _, children) in enumerate(levels):
        has_children = any(parent == hl for _, parent, _, _ in levels[index + 1 :])
        assert children == ("1" if has_children else "0"), levels


def test_sender_values_with_our_delimiters_are_cleaned(tmp_path: Path) -> None:
    data = (
        (FIXTURES / "alt-delimiters.837")
        .read_bytes()
        .replace(b"CLEARHOUSE01   ", b"CLEAR*HOUSE:01 ")
    )
    result = Validator(now=NOW).validate(data)
    for name, content in (("a.277", result.to_277ca()), ("a.999", result.to_999())):
        target = tmp_path / name
        target.write_bytes(content)
        valid, report = pyx12_check(target)
        assert valid, report


def test_empty_group_control_and_version_get_fallbacks(tmp_path: Path) -> None:
    data = BOM.replace(b"*601*X*005010X222A1", b"**X*")
    target = tmp_path / "a.999"
    target.write_bytes(Validator(now=NOW).validate(data).to_999())
    valid, report = pyx12_check(target)
    assert valid, report


def test_interchange_control_numbers_are_unique_in_one_output() -> None:
    data = TWO.replace(b"|000000302|", b"|000000300|").replace(
        b"IEA|1|000000302", b"IEA|1|000000300"
    )
    result = Validator(now=NOW).validate(data)
    for ack in (result.to_277ca(), result.to_999()):
        numbers = [s.get(13) for s in segments_of(ack) if s.id == "ISA"]
        assert len(numbers) == 2
        assert len(set(numbers)) == 2


def test_rejections_always_carry_a_reason_code() -> None:
    data = BOM.replace(b"*20261104*1100*601*", b"*20261341*1100*601*")
    ack = Validator(now=NOW).validate(data).to_999().decode()
    assert "IK5*R*5~" in ack


@pytest.mark.parametrize("tail", [b"trailing junk\n", b"\r\n\r\nJUNK", b"\n"])
def test_results_after_the_last_iea_do_not_depend_on_chunking(tail: bytes) -> None:
    data = PROFESSIONAL + tail
    whole = feed_reader(data, None)
    for how, sizes in chunkings(data, seed=3).items():
        assert feed_reader(data, sizes) == whole, how


def test_empty_components_keep_their_element_positions() -> None:
    data = PROFESSIONAL.replace(b"SV1*HC:99214:25*", b"SV1*HC:99214::9Z*")
    result = Validator(now=NOW).validate(data)
    (finding,) = [f for c in result.claims for f in c.findings if f.rule == "SNIP5-MODIFIER"]
    assert finding.element == "SV101-04"
    text = result.to_text()
    assert "      SV1*HC:99214::9Z*165.00*UN*1***1\n                    ^^\n" in text


def test_bad_options_raise_the_documented_error() -> None:
    with pytest.raises(EdiUsageError):
        Engine(profile="payer")
    with pytest.raises(EdiUsageError):
        Validator(syntax_policy="interchange")
    assert issubclass(EdiUsageError, edi63650.EdiError)
    assert isinstance(Finding, type)
