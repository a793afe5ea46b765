"""Findings: what the reader, the envelope checks and (later) the rules say about the input.

A finding is a value, never an exception (design.md section 4). Every layer yields findings; the
caller decides what to log, print or acknowledge. Findings carry their own position, so nothing
depends on a "current error" cursor.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

import attrs

from edi63650.segment import Segment


class Severity(enum.StrEnum):
    """How much a finding matters. Errors reject; warnings and info never do."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Scope(NamedTuple):
    """What a finding belongs to, given when it is made: ordinals in the stream, 1-based, of
    its interchange, functional group, transaction set and claim (0: none at that level).

    Grouping findings is then a dictionary lookup on these numbers, never a comparison of
    byte offsets. A finding outside every interchange (junk, an empty input) has ``Scope()``.
    """

    interchange: int = 0
    group: int = 0
    transaction: int = 0
    claim: int = 0


#: The scope of a finding outside every interchange.
NO_SCOPE = Scope()


@attrs.frozen
class ClaimStatus:
    """A 277CA STC01 composite: category (ECL 507), status code (ECL 508), entity (98)."""

    category: str
    code: str
    entity: str = ""

    def __str__(self) -> str:
        return ":".join(part for part in (self.category, self.code, self.entity) if part)


@attrs.frozen
class SyntaxDetail:
    """What the 999 says about a structural finding (IK3 and IK4, ASC X12C 005010X231A1).

    ``segment_id`` is IK301 when it is not the finding's own segment (a missing segment is
    named at the segment where it was missed); ``element`` / ``component`` / ``repetition``
    form IK401 (0: absent); ``data_element`` is IK402 and ``value`` IK404.
    """

    segment_code: str  # IK304, X12 element 720
    element_code: str = ""  # IK403, X12 element 723
    element: int = 0
    component: int = 0
    repetition: int = 0
    data_element: str = ""
    value: str = ""
    segment_id: str = ""


@attrs.frozen
class Finding:
    """One thing worth saying about the input, with where it was found.

    ``element`` names the element in TR3 style (``SV101-03``, ``CLM02``).
    ``rule`` is a stable identifier (``X12-BOM``, ``ENV-SE-COUNT``, later ``SCS-PTP``);
    ``segment`` holds the raw segment text and may contain patient data, so callers that log
    findings should print ``rule``, ``message`` and the position, not ``segment``.
    """

    rule: str
    severity: Severity
    message: str
    fix: str = ""
    source: str = ""
    offset: int | None = None
    line_no: int | None = None
    ordinal: int | None = None
    segment_id: str = ""
    segment: str = ""
    element: str = ""
    path: str = ""
    claim_id: str | None = None
    line: int | None = None
    statuses: tuple[ClaimStatus, ...] = ()  # how a rejection is reported in the 277CA
    syntax: SyntaxDetail | None = None  # how it is reported in the 999, for structural findings
    scope: Scope = NO_SCOPE

    @classmethod
    def at(
        cls,
        segment: Segment,
        rule: str,
        severity: Severity,
        message: str,
        *,
        element: str = "",
        fix: str = "",
        source: str = "",
        path: str = "",
        claim_id: str | None = None,
        line: int | None = None,
        statuses: tuple[ClaimStatus, ...] = (),
        syntax: SyntaxDetail | None = None,
        scope: Scope = NO_SCOPE,
    ) -> Finding:
        """A finding about ``segment``, carrying its position and raw text."""
        return cls(
            rule=rule,
            severity=severity,
            message=message,
            fix=fix,
            source=source,
            offset=segment.offset,
            line_no=segment.line,
            ordinal=segment.ordinal,
            segment_id=segment.id,
            segment=segment.text,
            element=element,
            path=path,
            claim_id=claim_id,
            line=line,
            statuses=statuses,
            syntax=syntax,
            scope=scope,
        )

    def location(self) -> str:
        """A short position text free of patient data, e.g. ``line 12, byte 455, CLM``."""
        parts = []
        if self.line_no is not None:
            parts.append(f"line {self.line_no}")
        if self.offset is not None:
            parts.append(f"byte {self.offset}")
        if self.element or self.segment_id:
            parts.append(self.element or self.segment_id)
        return ", ".join(parts)
