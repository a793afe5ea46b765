"""Cutting a large interchange between its transaction sets (edi63650.spark.cuts): the pieces
carry the envelope (a copy of the ISA and GS in front, a GE and IEA of their own behind) and
give, all together, the rows of the file read whole; an interchange whose envelope they could
not carry without changing a finding is read whole. In process, no Spark."""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edi63650.spark import cuts
from edi63650.spark.inputs import Piece, pieces
from edi63650.spark.piece import PieceStream
from edi63650.spark.rows import CLAIM_COLUMNS, COLUMNS, Settings, rows
from edi63650.testing import synth


def sets_in_one(*files: bytes) -> bytes:
    """The transaction sets of ``files`` (synthetic, one interchange each, a line break after
    every segment) in one interchange: the first file's ISA and GS, a GE and IEA counting
    them."""
    head = files[0][: files[0].index(b"~\nST*") + 2]
    bodies = [f[f.index(b"~\nST*") + 2 : f.index(b"~\nGE*") + 2] for f in files]
    group = head[head.index(b"GS*") :].split(b"~")[0].split(b"*")[6]
    trailer = b"GE*%d*%s~\nIEA*1*%s~\n" % (len(bodies), group, head[90:99])
    return head + b"".join(bodies) + trailer


BASE = sets_in_one(*(synth("837P" if s % 2 else "837I", 6, seed=s) for s in range(4)))
#: Where the third transaction set starts, and a claim of it.
THIRD = [m.start() + 2 for m in re.finditer(rb"~\nST\*", BASE)][1]
CLAIM = BASE.index(b"~\nCLM*", THIRD) + 2


def _sorted_rows(pieces_of: list[Piece], table: str) -> list[str]:
    return sorted(repr(row) for piece in pieces_of for row in rows(piece, Settings(table)))


def _judged_alike(path: Path, cut_into: list[Piece], *, claims: bool = True) -> None:
    """Every table is the same read whole and in ``cut_into``; with ``claims``, the file has
    claims (so that the comparison says something)."""
    for table in COLUMNS:
        whole = _sorted_rows([Piece(str(path))], table)
        assert whole or table != "claims" or not claims
        assert _sorted_rows(cut_into, table) == whole, table


CARRIED = {
    "a line break after each segment": BASE,
    "no line breaks": BASE.replace(b"~\n", b"~"),
    "CR LF": BASE.replace(b"~\n", b"~\r\n"),
    "an ISA date that is no date": BASE[:70] + b"991399" + BASE[76:],
    "a GS date that is no date": BASE.replace(b"*20261001*", b"*20261399*", 1),
    "an empty segment in a set": BASE[:CLAIM] + b"~\n" + BASE[CLAIM:],
    "a wrong SE count": BASE.replace(b"SE*", b"SE*9", 1),
    "a byte-order mark first": b"\xef\xbb\xbf" + BASE,
    "a second interchange": BASE + BASE.replace(b"000000001", b"000000002"),
}


@pytest.mark.parametrize("name", sorted(CARRIED))
def test_the_pieces_of_an_interchange_cut_between_sets_are_its_rows(
    name: str, tmp_path: Path
) -> None:
    path = tmp_path / "one.837"
    path.write_bytes(CARRIED[name])
    cut_into = pieces(str(path), 1)
    per_interchange = 4
    assert len(cut_into) == per_interchange * CARRIED[name].count(b"IEA*")
    assert all(piece.tail.startswith(b"GE") for piece in cut_into)
    assert [bool(piece.head) for piece in cut_into][:4] == [False, True, True, True]
    _judged_alike(path, cut_into)


def test_the_cases_are_what_they_say(tmp_path: Path) -> None:
    # the envelope findings come once (the first piece), and the rows name file offsets
    path = tmp_path / "one.837"
    path.write_bytes(CARRIED["an ISA date that is no date"])
    found = [row for piece in pieces(str(path), 1) for row in rows(piece, Settings("findings"))]
    assert [row[0] for row in found].count("ENV-ISA-DATE") == 1
    claims = [row for piece in pieces(str(path), 1) for row in rows(piece, Settings("claims"))]
    at = CLAIM_COLUMNS.index("claim_offset")
    data = path.read_bytes()
    assert len(claims) == BASE.count(b"~\nCLM*")
    offsets = [int(str(row[at])) for row in claims]
    assert all(data[offset : offset + 4] == b"CLM*" for offset in offsets)


NOT_CARRIED = {
    # A segment between two sets is the interchange's: it rejects every set, so every piece
    # would need to see it.
    "a segment between two sets": BASE[:THIRD] + b"XX*1~\n" + BASE[THIRD:],
    "an empty segment between two sets": BASE[:THIRD] + b"~\n" + BASE[THIRD:],
    "a wrong GE count": BASE.replace(b"GE*4*", b"GE*5*"),
    "a GE control number not the GS's": re.sub(rb"GE\*4\*\d+", b"GE*4*99", BASE),
    "an IEA control number not the ISA's": BASE.replace(b"IEA*1*000000001", b"IEA*1*000000002"),
    "junk after the IEA": BASE + b"JUNK~",
    "a space between segments": BASE[:CLAIM] + b" " + BASE[CLAIM:],
    "line breaks after some segments only": BASE.replace(b"~\n", b"~").replace(
        b"~ST*", b"~\nST*", 1
    ),
    "a set without its SE": re.sub(rb"SE\*\d+\*0001~\n", b"", BASE, count=1),
    "two groups": BASE.replace(b"~\nST*", b"~\nGE*1*1~\nGS*HC*A*B*20261001*1200*2*X*005010~\nST*"),
    # (found by the mutation test below) a segment the tokenizer reads as a new interchange
    "an ISA inside a set": BASE[:CLAIM] + b"ISA*" + BASE[CLAIM:],
    "an ISA with no elements inside a set": BASE[:CLAIM] + b"ISA~\n" + BASE[CLAIM:],
    # (found by the mutation test below) an ISA the envelope layer cannot read as the cuts did
    "an element separator too many in the ISA": b"ISA**0" + BASE[6:],
    "the segment terminator inside the ISA": b"ISA*~0" + BASE[6:],
}


@pytest.mark.parametrize("name", sorted(NOT_CARRIED))
def test_an_envelope_the_pieces_could_not_carry_is_read_whole(name: str, tmp_path: Path) -> None:
    path = tmp_path / "one.837"
    path.write_bytes(NOT_CARRIED[name])
    assert pieces(str(path), 1) == [Piece(str(path))]
    with path.open("rb") as stream:
        assert cuts.layout(stream, 0, len(NOT_CARRIED[name])) is None


_PIECES_OF_TOKENS = [b"~", b"*", b"\n", b"\r\n", b" ", b"ST*", b"SE*", b"GE*", b"IEA*", b"GS*"]
_PIECES_OF_TOKENS += [b"ISA*", b"ISA", b"TA1*", b"XX*1~", b"~\n", b"0", b"9", b":"]


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(list(CARRIED.values())[:3])))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data) - 1))
        token = draw(st.sampled_from(_PIECES_OF_TOKENS))
        kind = draw(st.sampled_from(("insert", "delete", "replace")))
        if kind == "insert":
            data[at:at] = token
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 6))]
        else:
            data[at : at + 1] = token
    return bytes(data)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated())
def test_a_mutated_interchange_is_cut_only_where_cutting_changes_no_row(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mutated.837"
        path.write_bytes(data)
        cut_into = pieces(str(path), 1)
        if len(cut_into) > 1:
            _judged_alike(path, cut_into, claims=False)  # (a mutation may reject them all)


def test_the_scan_sees_the_same_in_any_chunking(monkeypatch: pytest.MonkeyPatch) -> None:
    data = CARRIED["CR LF"]
    expected = cuts.layout(io.BytesIO(data), 0, len(data))
    assert expected is not None
    assert len(expected.sets) == 4
    for size in (cuts._OVERLAP + 1, 200, 333, 1000):
        monkeypatch.setattr(cuts, "_READ", size)
        assert cuts.layout(io.BytesIO(data), 0, len(data)) == expected
        for hostile in NOT_CARRIED.values():
            assert cuts.layout(io.BytesIO(hostile), 0, len(hostile)) is None


def test_pieces_are_about_the_split_size_and_runs_of_small_interchanges_stay_whole(
    tmp_path: Path,
) -> None:
    small = synth("837P", 2, seed=9)
    data = small + BASE.replace(b"000000001", b"000000002") + small
    path = tmp_path / "mixed.837"
    path.write_bytes(data)
    second = data.index(b"ISA", 1)
    third = data.index(b"ISA", second + 1)
    sets = [m.start() + 2 for m in re.finditer(rb"~\nST\*", data[second:third])]
    # the large interchange in two pieces of two sets; the small ones whole
    made = pieces(str(path), sets[2] - sets[0])
    assert [(p.start, p.end, bool(p.head), bool(p.tail)) for p in made] == [
        (0, second, False, False),
        (second, second + sets[2], False, True),
        (second + sets[2], third - len(b"GE*4*1~\nIEA*1*000000002~\n"), True, True),
        (third, None, False, False),
    ]
    assert made[1].tail.startswith(b"GE*2*")
    _judged_alike(path, made)


def test_a_piece_reads_as_its_head_its_bytes_and_its_tail() -> None:
    data = bytes(range(256)) * 4
    piece = Piece("f", 100, 300, head=b"HEAD", head_at=7, tail=b"TAIL")
    expected = b"HEAD" + data[100:300] + b"TAIL"
    for size in (1, 3, 64, 4096):
        stream = PieceStream(io.BytesIO(data), piece)
        got = b""
        while chunk := stream.read(size):
            got += chunk
        assert got == expected
    stream = PieceStream(io.BytesIO(data), piece)
    assert stream.seek(0, io.SEEK_END) == len(expected)
    assert [piece.offset(at) for at in (0, 3, 4, 203, 205)] == [7, 10, 100, 299, 300]
    assert [piece.owns(at) for at in (3, 4, 203, 204)] == [False, True, True, False]
    with pytest.raises(ValueError, match="a piece with a tail"):
        PieceStream(io.BytesIO(data), Piece("f", 0, None, tail=b"X"))
