"""The structure-only read (``Reader(claims=False)``): clean segments take the structure's fast
lane straight from the tokenizer's cut, and the findings are those of the full read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi63650 import Claim, Finding, Reader
from edi63650.builder import BuildRule
from edi63650.envelope import ENVELOPE_IDS
from edi63650.reader import InterchangeEnd, TransactionEnd
from edi63650.segment import Segment
from edi63650.structure import Structure
from edi63650.structure.elements import ElementChecker
from edi63650.structure.walker import CACHE_LIMIT, LaneTable, Steps
from edi63650.testing import synth
from edi63650.tokenizer import Token, Tokenizer
from tests.helpers import FIXTURES
from tests.test_streaming import chunkings, feed

STRUCTURE = Structure.load()
FILES = sorted([*FIXTURES.glob("*.837"), *(FIXTURES / "structure").glob("*.837")])
BUILDER_RULES = {str(rule) for rule in BuildRule}
PLAIN = re.compile(r"[A-Z][A-Z0-9]{1,2}\*[ -~]*")


def read(data: bytes, sizes: list[int] | None, *, claims: bool) -> list[object]:
    """Findings (the builder's left out) and where boundaries fall, for ``data`` fed whole
    or in chunks. (The claim builder fills transactions in, so boundaries are compared by
    their place.)"""
    events = feed(Reader(structure=STRUCTURE, claims=claims, boundaries=True), data, sizes)
    return [
        _place(event) if isinstance(event, TransactionEnd | InterchangeEnd) else event
        for event in events
        if not isinstance(event, Claim)
        and not (isinstance(event, Finding) and event.rule in BUILDER_RULES)
    ]


def _place(boundary: TransactionEnd | InterchangeEnd) -> tuple[str, int, int]:
    if isinstance(boundary, TransactionEnd):
        return ("transaction", boundary.transaction.position.offset, boundary.end)
    return ("interchange", boundary.interchange.position.offset, boundary.end)


def assert_same_as_full_read(data: bytes, sizes: list[int] | None = None) -> None:
    assert read(data, sizes, claims=False) == read(data, None, claims=True)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fixture_findings_equal_the_full_read(path: Path) -> None:
    data = path.read_bytes()
    assert_same_as_full_read(data)
    assert_same_as_full_read(data, chunkings(data, seed=len(data))["random chunks"])


def test_corpus_findings_equal_the_full_read(corpus: Path) -> None:
    compared = 0
    for path in sorted(corpus.rglob("*")):
        if not path.is_file() or path.suffix in (".md", ".txt"):
            continue
        data = path.read_bytes()
        if b"ST*837" not in data and b"ST|837" not in data:
            continue
        assert_same_as_full_read(data)
        assert_same_as_full_read(data, chunkings(data, seed=len(data))["random chunks"])
        compared += 1
    assert compared >= 50


def test_a_clean_file_goes_through_the_lane(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every segment of a clean file's transaction bodies is taken by the lane: the tokenizer
    makes segments of the envelopes only."""
    data = synth("837P", claims=50, seed=3)
    made: list[str] = []
    reader = Reader(structure=STRUCTURE, claims=False)
    tokenizer = reader._tokenizer
    original = tokenizer.feed

    def spy(chunk: bytes) -> list[Token]:
        tokens = original(chunk)
        made.extend(t.id for t in tokens if isinstance(t, Segment))
        return tokens

    monkeypatch.setattr(tokenizer, "feed", spy)
    for at in range(0, len(data), 4096):
        events = reader.feed(data[at : at + 4096])
        assert [e for e in events if not isinstance(e, Finding) or e.severity != "info"] == []
    reader.close()
    assert made
    assert set(made) <= ENVELOPE_IDS


@st.composite
def mutated_837(draw: st.DrawFn) -> bytes:
    """A clean synthetic 837 with structural damage: segments dropped, doubled, swapped or
    moved, elements emptied or changed."""
    kind = draw(st.sampled_from(["837P", "837I"]))
    text = synth(kind, claims=4, seed=draw(st.integers(0, 50))).decode("latin-1")
    segments = text.split("~\n")
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=4, max_value=len(segments) - 5))
        action = draw(st.sampled_from(["drop", "double", "swap", "move", "empty", "change"]))
        if action == "drop":
            del segments[at]
        elif action == "double":
            segments.insert(at, segments[at])
        elif action == "swap":
            segments[at], segments[at + 1] = segments[at + 1], segments[at]
        elif action == "move":
            segments.insert(draw(st.integers(4, len(segments) - 5)), segments.pop(at))
        else:
            elements = segments[at].split("*")
            index = draw(st.integers(min_value=1, max_value=max(1, len(elements) - 1)))
            value = "" if action == "empty" else draw(st.sampled_from(["X", "99", "20261399"]))
            elements[index:] = [value, *elements[index + 1 :]]
            segments[at] = "*".join(elements)
    layout = draw(st.sampled_from(["~\n", "~", "~\r\n"]))  # one per line, one line, CRLF
    return layout.join(segments).encode("latin-1")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_837(), st.lists(st.integers(min_value=1, max_value=400), min_size=1))
def test_damaged_files_give_the_findings_of_the_full_read(data: bytes, sizes: list[int]) -> None:
    assert_same_as_full_read(data, sizes)


def test_tokenizer_lane_keeps_offsets_lines_and_ordinals() -> None:
    """A lane that takes every body segment it is offered: the envelope segments the tokenizer
    still makes have the offsets, lines and ordinals of a read without a lane."""
    data = (FIXTURES / "scs-professional.837").read_bytes()
    crlf = data.replace(b"~\n", b"~").replace(b"~", b"~\r\n")
    data = crlf + data.replace(b"~\n", b"~")  # two interchanges: CRLF, then none

    out: list[Token] = []

    def greedy(tokens: list[Token], parts: list[str], index: int) -> int:
        out.extend(tokens)
        tokens.clear()
        taken = 0
        for part in parts[index:]:  # what the contract allows: plain, not an envelope
            if not PLAIN.fullmatch(part) or part.split("*", 1)[0] in ENVELOPE_IDS:
                break
            taken += 1
        return taken

    def envelopes(tokenizer: Tokenizer, size: int) -> list[Segment]:
        out.clear()
        for at in range(0, len(data), size):
            out.extend(tokenizer.feed(data[at : at + size]))
        out.extend(tokenizer.close())
        return [t for t in out if isinstance(t, Segment) and t.id in ENVELOPE_IDS]

    expected = envelopes(Tokenizer(), len(data))
    for size in (len(data), 1000, 97, 7):
        assert envelopes(Tokenizer(lane=greedy), size) == expected, size


# -- regressions found in review --------------------------------------------------------------


def test_the_line_break_note_is_not_lost_to_the_lane() -> None:
    """A chunk that starts right after the first line break: the tokenizer notes it on that
    chunk's first segment, so the lane must leave that segment alone."""
    data = synth("837P", claims=1, seed=1).replace(b"~\n", b"~")
    start = data.index(b"PER*")
    end = data.index(b"~", start) + 1
    data = data[:end] + b"\n" + data[end:]
    assert_same_as_full_read(data, [start, end + 1 - start])
    rules = [e.rule for e in read(data, None, claims=False) if isinstance(e, Finding)]
    assert "X12-LINE-BREAKS" in rules


@pytest.mark.parametrize("claims", [True, False])
def test_a_long_segment_whose_line_break_is_in_the_next_chunk(claims: bool) -> None:
    """An 8,192-byte segment (the limit) whose chunk ends between its terminator and its line
    break is read as it is whole: not as too long, and the next segment is not lost."""
    data = synth("837P", claims=2, seed=1)
    at = data.index(b"N3*100 MAIN ST~\n")
    long = b"NTE*ADD*" + b"A" * 8184 + b"~\n"
    data = data[:at] + long + data[at:]
    whole = read(data, None, claims=claims)
    assert read(data, [at + len(long) - 1], claims=claims) == whole
    assert "X12-SEGMENT-TOO-LONG" not in [f.rule for f in whole if isinstance(f, Finding)]


def test_an_open_transaction_ends_at_the_last_segment_however_fed() -> None:
    """A file cut before SE: the transaction set and interchange end at the last segment read,
    whole, in chunks, with or without claims."""
    data = synth("837P", claims=1, seed=1)
    data = data[: data.index(b"SE*")] + b"!!~\n"
    junk = len(data) - 4
    last = data.rindex(b"~\n", 0, junk - 2) + 2  # the last real segment, before the junk
    for claims in (True, False):
        for size in (len(data), 100, 7):
            events = read(data, [size] * len(data), claims=claims)
            assert [e[2] for e in events if isinstance(e, tuple)] == [last, last], (claims, size)


def test_the_lane_table_stays_bounded() -> None:
    """Segment ids and key values come from the data: a flood of new ones does not grow the
    lane's table past its limit (each is still answered)."""
    steps = Steps(STRUCTURE.grammars.by_map["837.5010.X222.A1.xml"])
    checker = ElementChecker()
    lane = LaneTable(steps, lambda spec: checker.pattern(spec, "*", ":", "^"), "*", ":")
    node = steps.grammar.start()
    for i in range(CACHE_LIMIT + 5_000):
        assert lane.entry(node, "NM1", f"NM1*Q{i}*1") is None  # no place: not for the lane
        assert lane.entry(node, f"Z{i % 1000:03d}"[:3], f"Z{i % 1000:03d}*1") is None
    assert len(lane) == CACHE_LIMIT
    assert len(steps) == CACHE_LIMIT
