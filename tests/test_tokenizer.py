"""The sans-IO tokenizer: delimiters, positions, tolerances and bad input."""

from __future__ import annotations

import pytest

from edi63650 import Finding, Segment, Severity, Tokenizer
from edi63650.errors import EdiUsageError
from edi63650.segment import Delimiters
from edi63650.testing import SubscriberSpec, interchange
from edi63650.tokenizer import MAX_SEGMENT_LENGTH, TokenRule

ISA = (
    "ISA*00*          *00*          *ZZ*SENDER         *ZZ*RECEIVER       "
    "*261001*1200*^*00501*000000001*0*T*:~"
)


def tokenize(data: bytes) -> tuple[list[Segment], list[Finding]]:
    tokenizer = Tokenizer()
    out = tokenizer.feed(data) + tokenizer.close()
    return (
        [t for t in out if isinstance(t, Segment)],
        [t for t in out if isinstance(t, Finding)],
    )


def test_isa_is_106_bytes_and_delimiters_come_from_it() -> None:
    assert len(ISA) == 106
    segments, findings = tokenize((ISA + "GS*HC*A*B*20261001*1200*1*X*005010X222A1~").encode())
    assert findings == []
    isa, gs = segments
    assert isa.delimiters == Delimiters(element="*", component=":", segment="~", repetition="^")
    assert gs.elements == ("GS", "HC", "A", "B", "20261001", "1200", "1", "X", "005010X222A1")
    assert (gs.offset, gs.line) == (106, 1)


def test_repetition_separator_only_from_version_00501() -> None:
    old = ISA.replace("*^*00501*", "*U*00401*")
    segments, _ = tokenize(old.encode())
    assert segments[0].delimiters.repetition is None


def test_offsets_lines_and_ordinals() -> None:
    data = (ISA + "\nGS*HC~\nST*837*0001~\nBHT*0019~\r\nSE*3*0001~\nGE*1*1~\nIEA*1*1~").encode()
    segments, findings = tokenize(data)
    assert [(s.id, s.line, s.ordinal) for s in segments] == [
        ("ISA", 1, 0), ("GS", 2, 0), ("ST", 3, 1), ("BHT", 4, 2), ("SE", 5, 3),
        ("GE", 6, 0), ("IEA", 7, 0),
    ]  # fmt: skip
    for segment in segments:
        assert data[segment.offset : segment.offset + len(segment.id)] == segment.id.encode()
    assert [f.rule for f in findings] == [TokenRule.LINE_BREAKS]
    assert findings[0].severity is Severity.INFO


def test_components_and_text() -> None:
    segments, _ = tokenize((ISA + "SV1*HC:63650:XS*100*UN*2***1:2~").encode())
    sv1 = segments[1]
    assert sv1.components(1) == ["HC", "63650", "XS"]
    assert sv1.component(7, 2) == "2"
    assert sv1.component(7, 3) == ""
    assert sv1.get(99) == ""
    assert sv1.text == "SV1*HC:63650:XS*100*UN*2***1:2"


def test_byte_order_mark_is_skipped_with_an_info_finding() -> None:
    segments, findings = tokenize(b"\xef\xbb\xbf" + ISA.encode())
    assert segments[0].offset == 3
    assert [(f.rule, f.severity) for f in findings] == [(TokenRule.BOM, Severity.INFO)]


def test_whitespace_before_isa_is_info_and_junk_is_a_warning() -> None:
    _, findings = tokenize(b"  \n" + ISA.encode())
    assert [(f.rule, f.severity) for f in findings] == [
        (TokenRule.LEADING_WHITESPACE, Severity.INFO)
    ]
    segments, findings = tokenize(b"Example file\n\n" + ISA.encode())
    assert segments[0].offset == 14
    assert segments[0].line == 3
    assert [(f.rule, f.severity) for f in findings] == [(TokenRule.JUNK, Severity.WARNING)]
    assert findings[0].message == "14 bytes of text that is not X12 before an ISA were skipped"


def test_newline_as_terminator_with_crlf() -> None:
    isa = ISA[:-1] + "\r\n"
    segments, findings = tokenize((isa + "GS*HC*A\r\nST*837*1\r\n").encode())
    assert [s.elements for s in segments[1:]] == [("GS", "HC", "A"), ("ST", "837", "1")]
    assert segments[0].delimiters.segment == "\r"
    assert TokenRule.LINE_BREAKS in [f.rule for f in findings]


def test_bare_newline_terminator() -> None:
    isa = ISA[:-1] + "\n"
    segments, findings = tokenize((isa + "GS*HC*A\nST*837*1\n").encode())
    assert [s.id for s in segments] == ["ISA", "GS", "ST"]
    assert [s.line for s in segments] == [1, 2, 3]
    assert [f.rule for f in findings] == [TokenRule.NEWLINE_TERMINATOR]


def test_indentation_is_tolerated() -> None:
    segments, findings = tokenize((ISA + "\n    GS*HC~\n    ST*837~").encode())
    assert [s.id for s in segments] == ["ISA", "GS", "ST"]
    assert [f.rule for f in findings] == [TokenRule.INDENTATION]


def test_two_interchanges_with_their_own_delimiters() -> None:
    second = ISA.replace("*", "|").replace("|^|", "|!|").replace(":~", ">'")
    data = (ISA + "IEA*0*000000001~" + second + "SV1|HC>63650|1'IEA|0|000000001'").encode()
    segments, findings = tokenize(data)
    assert findings == []
    assert [s.id for s in segments] == ["ISA", "IEA", "ISA", "SV1", "IEA"]
    assert segments[3].components(1) == ["HC", "63650"]
    assert segments[3].delimiters == Delimiters("|", ">", "'", "!")


def test_isa_without_iea_starts_a_new_interchange() -> None:
    second = ISA.replace("*", "|")
    segments, _ = tokenize((ISA + "GS*HC~" + second + "GS|HC~").encode())
    assert [s.elements for s in segments if s.id == "GS"] == [("GS", "HC"), ("GS", "HC")]


def test_empty_segment_is_a_warning() -> None:
    segments, findings = tokenize((ISA + "GS*HC~~ST*837~").encode())
    assert [s.id for s in segments] == ["ISA", "GS", "ST"]
    assert [(f.rule, f.severity, f.offset) for f in findings] == [
        (TokenRule.EMPTY_SEGMENT, Severity.WARNING, 112)
    ]


def test_over_long_segment_is_dropped_with_an_error() -> None:
    long = "NTE*ADD*" + "X" * MAX_SEGMENT_LENGTH
    segments, findings = tokenize((ISA + long + "~GS*HC~").encode())
    assert [s.id for s in segments] == ["ISA", "GS"]
    assert [f.rule for f in findings] == [TokenRule.SEGMENT_TOO_LONG]


def test_runaway_segment_without_terminator_does_not_grow_the_buffer() -> None:
    tokenizer = Tokenizer()
    out = tokenizer.feed(ISA.encode())
    for _ in range(100):
        out += tokenizer.feed(b"A" * 10_000)
        assert len(tokenizer._buf) <= MAX_SEGMENT_LENGTH
    out += tokenizer.feed(b"~GS*HC~") + tokenizer.close()
    assert [t.rule for t in out if isinstance(t, Finding)] == [TokenRule.SEGMENT_TOO_LONG]
    assert [t.id for t in out if isinstance(t, Segment)] == ["ISA", "GS"]


def test_bad_segment_id_is_skipped() -> None:
    segments, findings = tokenize((ISA + "\x00\x01binary~GS*HC~").encode("latin-1"))
    assert [s.id for s in segments] == ["ISA", "GS"]
    assert [f.rule for f in findings] == [TokenRule.BAD_SEGMENT_ID]


@pytest.mark.parametrize(
    ("data", "rule"),
    [
        (b"", TokenRule.EMPTY_INPUT),
        (b"hello, this is not an EDI file\n", TokenRule.NOT_X12),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", TokenRule.NOT_X12),
        (ISA[:50].encode(), TokenRule.TRUNCATED),
        (ISA[:-2].encode() + b"QGS*HC", TokenRule.BAD_ISA),
    ],
)
def test_unreadable_input_gives_one_error_finding(data: bytes, rule: TokenRule) -> None:
    segments, findings = tokenize(data)
    assert segments == []
    assert [f.rule for f in findings] == [rule]
    assert findings[0].severity is Severity.ERROR


def test_binary_input_is_named_as_binary() -> None:
    _, findings = tokenize(bytes(range(256)) * 4)
    assert "binary data" in findings[0].message


def test_last_segment_without_terminator_is_kept_with_a_warning() -> None:
    segments, findings = tokenize((ISA + "GS*HC~IEA*0*000000001").encode())
    assert [s.id for s in segments] == ["ISA", "GS", "IEA"]
    assert [f.rule for f in findings] == [TokenRule.MISSING_TERMINATOR]


def test_fragment_starting_at_st_gets_inferred_delimiters() -> None:
    segments, findings = tokenize(b"ST*837*0001*005010X222A1~BHT*0019~SE*3*0001~")
    assert [s.id for s in segments] == ["ST", "BHT", "SE"]
    assert [f.rule for f in findings] == [TokenRule.NO_ENVELOPE]


def test_junk_after_the_last_interchange_is_a_warning() -> None:
    _, findings = tokenize((ISA + "IEA*0*000000001~garbage").encode())
    assert [(f.rule, f.severity) for f in findings] == [(TokenRule.JUNK, Severity.WARNING)]
    assert "after the last interchange" in findings[0].message


def test_feed_after_close_raises_the_documented_error() -> None:
    tokenizer = Tokenizer()
    tokenizer.close()
    with pytest.raises(EdiUsageError):
        tokenizer.feed(b"ISA")


def test_builder_output_tokenizes_cleanly() -> None:
    data = interchange("837P", [SubscriberSpec("M1")])
    segments, findings = tokenize(data)
    assert findings == []
    assert segments[0].id == "ISA"
    assert segments[-1].id == "IEA"
