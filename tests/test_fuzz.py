"""Random and mutated bytes: the reader returns findings, never an exception."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import edi63650
from edi63650 import Claim, Finding, Reader
from tests.helpers import FIXTURES

SEEDS = [path.read_bytes() for path in sorted(FIXTURES.glob("*.837"))]
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def read_all(data: bytes, sizes: list[int]) -> list[object]:
    """Feed ``data`` in chunks of the given sizes (the rest in one piece)."""
    reader = Reader()
    out: list[object] = []
    position = 0
    for size in sizes:
        out += reader.feed(data[position : position + size])
        position += size
    out += reader.feed(data[position:]) + reader.close()
    for event in out:
        assert isinstance(event, Claim | Finding)
    return out


CHUNKS = st.lists(st.integers(min_value=1, max_value=300), max_size=60)


@SETTINGS
@given(st.binary(max_size=2000), CHUNKS)
def test_random_bytes(data: bytes, sizes: list[int]) -> None:
    read_all(data, sizes)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(min_value=1, max_value=8))):
        action = draw(st.sampled_from(["flip", "delete", "insert", "truncate", "duplicate"]))
        if not data:
            break
        at = draw(st.integers(min_value=0, max_value=len(data) - 1))
        if action == "flip":
            data[at] = draw(st.sampled_from(b"*~:^|\n\r\x00ISAEGT0123456789 "))
        elif action == "delete":
            del data[at : at + draw(st.integers(min_value=1, max_value=40))]
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=20))
        elif action == "truncate":
            del data[at:]
        else:
            end = min(len(data), at + draw(st.integers(min_value=1, max_value=200)))
            data[at:at] = data[at:end]
    return bytes(data)


@SETTINGS
@given(mutated(), CHUNKS)
def test_mutated_fixtures(data: bytes, sizes: list[int]) -> None:
    whole = edi63650.read_bytes(data)
    assert read_all(data, sizes) == whole
