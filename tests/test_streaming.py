"""Feeding input every way gives the same result; claims come out as they complete."""

from __future__ import annotations

import io
import random
import tracemalloc
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import pytest

import edi63650
from edi63650 import Claim, Reader, Tokenizer
from edi63650.testing import synth
from tests.helpers import CORPUS, FIXTURES

FILES = sorted(FIXTURES.glob("*.837"))


class Feedable(Protocol):
    def feed(self, data: bytes) -> Sequence[object]: ...
    def close(self) -> Sequence[object]: ...


def feed(target: Feedable, data: bytes, sizes: list[int] | None) -> list[object]:
    """Everything ``target`` returns for ``data``, whole (None) or in chunks of ``sizes``
    (what the sizes leave over in one last chunk)."""
    out: list[object] = []
    position = 0
    for size in sizes or []:
        out += target.feed(data[position : position + size])
        position += size
    if position < len(data):
        out += target.feed(data[position:])
    return out + list(target.close())


def feed_tokenizer(data: bytes, sizes: list[int] | None) -> list[object]:
    return feed(Tokenizer(), data, sizes)


def feed_reader(data: bytes, sizes: list[int] | None) -> list[object]:
    return feed(Reader(), data, sizes)


def chunkings(data: bytes, seed: int) -> dict[str, list[int]]:
    rng = random.Random(seed)  # noqa: S311 - chunk sizes, not secrets
    sizes = []
    total = 0
    while total < len(data):
        sizes.append(rng.randint(1, 97))
        total += sizes[-1]
    return {"one byte at a time": [1] * len(data), "random chunks": sizes}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_fixture_gives_identical_segments_and_claims_however_fed(path: Path) -> None:
    data = path.read_bytes()
    whole_segments = feed_tokenizer(data, None)
    whole_events = feed_reader(data, None)
    assert any(isinstance(e, Claim) for e in whole_events)
    for how, sizes in chunkings(data, seed=len(data)).items():
        assert feed_tokenizer(data, sizes) == whole_segments, how
        assert feed_reader(data, sizes) == whole_events, how


def test_corpus_files_give_identical_results_however_fed() -> None:
    if not CORPUS.is_dir():
        pytest.skip(f"the shared corpus is not at {CORPUS}")
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        data = path.read_bytes()
        whole = feed_reader(data, None)
        for how, sizes in chunkings(data, seed=7).items():
            assert feed_reader(data, sizes) == whole, f"{path.name}: {how}"


def test_a_claim_is_yielded_as_soon_as_its_loop_ends() -> None:
    data = (FIXTURES / "scs-professional.837").read_bytes()
    end_of_second_clm = data.index(b"~", data.index(b"CLM*PERM001")) + 1
    reader = Reader()
    early = reader.feed(data[: end_of_second_clm - 1])
    assert [e for e in early if isinstance(e, Claim)] == []  # its CLM is not complete yet
    early = reader.feed(data[end_of_second_clm - 1 : end_of_second_clm])
    assert [e.claim_id for e in early if isinstance(e, Claim)] == ["TRIAL001"]
    rest = reader.feed(data[end_of_second_clm:]) + reader.close()
    assert [e.claim_id for e in rest if isinstance(e, Claim)] == ["PERM001", "OFFICE01"]


def _peak_while_streaming(data: bytes) -> int:
    tracemalloc.start()
    try:
        for _ in edi63650.iter_claims(io.BytesIO(data)):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_a_claim_not_by_the_file() -> None:
    small = synth("837P", 300, seed=3)
    large = synth("837P", 3000, seed=3)
    peak_small = _peak_while_streaming(small)
    peak_large = _peak_while_streaming(large)
    # Ten times the claims: the peak stays within the noise of one chunk and one claim
    # (the input bytes themselves sit in the BytesIO, outside what the reader allocates).
    assert peak_large - len(large) < 2 * (peak_small - len(small)) + 256 * 1024
