"""Serialising X12: segments from element lists, and ISA/GS/ST envelopes with right counts.

Segments are lists of elements; an element that is a tuple is a composite, joined with the
component separator. Trailing empty elements and components are dropped, as X12.6 requires.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence

import attrs

from edi63650.segment import DEFAULT_DELIMITERS, Delimiters

Element = str | tuple[str, ...]
Elements = list[Element]


def render(
    segments: Iterable[Elements],
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    *,
    line_break: str = "",
) -> str:
    """Segments as X12 text: trailing empty elements dropped, composites joined."""
    component, separator = delimiters.component, delimiters.element
    end = delimiters.segment + line_break
    out = []
    for elements in segments:
        texts = [
            component.join(e).rstrip(component) if isinstance(e, tuple) else e for e in elements
        ]
        while texts and not texts[-1]:
            texts.pop()
        out.append(separator.join(texts) + end)
    return "".join(out)


#: Interchange id qualifiers (ISA05 and ISA07, X12 element I05, 005010 control segments, as
#: in pyx12's x12.control.00501.xml): a reply whose partner used another says ZZ (mutually
#: defined) instead.
ID_QUALIFIERS = frozenset({"01", "14", "20", "27", "28", "29", "30", "33", "ZZ"})


@attrs.frozen
class Party:
    """One side of an interchange: ISA05/ISA06 (or ISA07/ISA08) and GS02 (or GS03)."""

    qualifier: str
    id: str
    application: str


@attrs.frozen
class Envelope:
    """What an outgoing interchange needs besides its transaction sets."""

    sender: Party
    receiver: Party
    control_number: int
    functional_id: str  # GS01: HN for 277, FA for 999, HC for 837
    version: str  # GS08
    created: datetime.datetime
    usage: str = "P"  # ISA15
    delimiters: Delimiters = DEFAULT_DELIMITERS


def isa_segment(envelope: Envelope) -> Elements:
    """A fixed-width, 106-byte ISA."""
    d = envelope.delimiters
    return [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        envelope.sender.qualifier.ljust(2)[:2],
        envelope.sender.id.ljust(15)[:15],
        envelope.receiver.qualifier.ljust(2)[:2],
        envelope.receiver.id.ljust(15)[:15],
        f"{envelope.created:%y%m%d}",
        f"{envelope.created:%H%M}",
        d.repetition or "U",
        "00501",
        f"{envelope.control_number:09d}",
        "0",
        envelope.usage,
        d.component,
    ]


_SET_IDS = {"HN": "277", "FA": "999", "HC": "837"}


def head(envelope: Envelope, *, ta1: Elements | None = None, line_break: str = "\n") -> str:
    """ISA, the TA1 (an interchange acknowledgment goes right after the ISA, X12.5) and GS."""
    control = envelope.control_number
    segments: list[Elements] = [
        isa_segment(envelope),
        *([ta1] if ta1 is not None else []),
        [
            "GS",
            envelope.functional_id,
            envelope.sender.application,
            envelope.receiver.application,
            f"{envelope.created:%Y%m%d}",
            f"{envelope.created:%H%M}",
            str(control),
            "X",
            envelope.version,
        ],
    ]
    return render(segments, envelope.delimiters, line_break=line_break)


def transaction_ends(
    functional_id: str,
    version: str,
    number: int,
    count: int,
    *,
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_break: str = "\n",
) -> tuple[str, str]:
    """The ST and the SE of transaction set ``number`` of a group of ``functional_id`` (GS01)
    and ``version`` (GS08) whose body is ``count`` segments (SE counts ST and SE too)."""
    st_control = f"{number:04d}"
    set_id = _SET_IDS[functional_id]
    st = render([["ST", set_id, st_control, version]], delimiters, line_break=line_break)
    se = render([["SE", str(count + 2), st_control]], delimiters, line_break=line_break)
    return st, se


def ta1_interchange(envelope: Envelope, ta1: Elements, *, line_break: str = "\n") -> str:
    """An interchange that holds only a TA1: ISA, TA1, and IEA counting no functional group
    (X12.5: an interchange acknowledgment needs no GS)."""
    segments: list[Elements] = [
        isa_segment(envelope),
        ta1,
        ["IEA", "0", f"{envelope.control_number:09d}"],
    ]
    return render(segments, envelope.delimiters, line_break=line_break)


def tail(envelope: Envelope, transactions: int, *, line_break: str = "\n") -> str:
    """GE with the number of transaction sets, and IEA."""
    control = envelope.control_number
    segments: list[Elements] = [
        ["GE", str(transactions), str(control)],
        ["IEA", "1", f"{control:09d}"],
    ]
    return render(segments, envelope.delimiters, line_break=line_break)


def interchange(
    envelope: Envelope,
    transactions: Sequence[list[Elements]],
    *,
    line_break: str = "\n",
    ta1: Elements | None = None,
) -> bytes:
    """ISA, one GS, each transaction set wrapped in ST..SE with its segment count, GE, IEA;
    ``ta1`` (an interchange acknowledgment) goes right after the ISA (X12.5).

    A transaction is given without ST and SE; its set id and implementation (ST03) are taken
    from ``envelope``.
    """
    parts = [head(envelope, ta1=ta1, line_break=line_break)]
    for number, body in enumerate(transactions, start=1):
        st, se = transaction_ends(
            envelope.functional_id,
            envelope.version,
            number,
            len(body),
            delimiters=envelope.delimiters,
            line_break=line_break,
        )
        parts += (st, render(body, envelope.delimiters, line_break=line_break), se)
    parts.append(tail(envelope, len(transactions), line_break=line_break))
    return "".join(parts).encode("latin-1")
