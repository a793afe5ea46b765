"""The bottom of the pipeline: a segment, its delimiters and a position in the stream.

Every layer above (findings, the model, the writers) imports these; this module imports
nothing of the project, so the layers point one way.
"""

from __future__ import annotations

from typing import NamedTuple

import attrs


@attrs.frozen
class Delimiters:
    """The four delimiters of one interchange."""

    element: str
    component: str
    segment: str
    repetition: str | None = None


#: The delimiters most trading partners use; also the default of :mod:`edi63650.testing`.
DEFAULT_DELIMITERS = Delimiters(element="*", component=":", segment="~", repetition="^")


class Segment(NamedTuple):
    """One segment with its position.

    A named tuple rather than an attrs class: it is the one object made per segment on the hot
    path, and tuple construction is several times cheaper. It is immutable all the same.

    ``elements[0]`` is the segment id, so ``elements[2]`` is the second data element (``CLM02``).
    ``ordinal`` is the segment's position within its transaction set (ST is 1; what 999 IK302
    reports); segments outside ST..SE have ordinal 0. ``text`` is the segment as it appeared,
    without its terminator (the elements joined by the element separator).
    """

    id: str
    elements: tuple[str, ...]
    offset: int
    line: int
    ordinal: int
    delimiters: Delimiters
    text: str

    def get(self, index: int) -> str:
        """Element ``index`` (1-based, as in the TR3), or ``""`` when absent."""
        elements = self.elements
        return elements[index] if index < len(elements) else ""

    def padded(self, last: int) -> tuple[str, ...]:
        """The elements with ``""`` for absent ones, so that index ``last`` exists."""
        elements = self.elements
        missing = last + 1 - len(elements)
        return elements + ("",) * missing if missing > 0 else elements

    def components(self, index: int) -> list[str]:
        """The components of composite element ``index`` (``[]`` when absent)."""
        value = self.get(index)
        return value.split(self.delimiters.component) if value else []

    def component(self, index: int, position: int) -> str:
        """Component ``position`` (1-based) of element ``index``, or ``""``."""
        parts = self.components(index)
        return parts[position - 1] if position <= len(parts) else ""


class Position(NamedTuple):
    """Where an object starts: byte offset, line number, ordinal within its transaction set.

    A named tuple, as :class:`Segment` is: one is made for nearly every object of a claim."""

    offset: int
    line: int
    ordinal: int

    @classmethod
    def of(cls, segment: Segment) -> Position:
        return tuple.__new__(cls, segment[2:5])  # offset, line, ordinal
