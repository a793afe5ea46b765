"""The text report: a summary, then every finding of each rejected or warned claim.

Each finding shows its rule, severity and loop path, the raw segment with a caret under the
offending element, the message, the fix and the source, in the manner of packaging's
``ParserSyntaxError``. Colour (ANSI) only when asked for, which the CLI does on a terminal.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from edi63650.findings import Finding, Severity
from edi63650.rules.engine import ClaimResult
from edi63650.writers.common import Totals, element_position, split_segment

if TYPE_CHECKING:
    from edi63650.validate import ValidationResult

_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_BOLD, _RESET = "\033[1m", "\033[0m"


def write_text(result: ValidationResult, *, colour: bool = False) -> str:
    lines = [*_summary(result), ""]
    file_findings = [f for f in result.findings if f.severity is not Severity.INFO]
    for outcome in result.transactions:
        file_findings += [f for f in outcome.findings if f.severity is not Severity.INFO]
    if file_findings:
        lines.append(_paint("File and envelope findings", _BOLD, colour))
        for finding in file_findings:
            lines += _finding(finding, colour, component=":")
        lines.append("")
    for claim_result in result.claims:
        shown = [f for f in claim_result.findings if f.severity is not Severity.INFO]
        if not shown:
            continue
        lines += _claim_header(claim_result, colour)
        component = claim_result.claim.segments[0].delimiters.component
        for finding in shown:
            lines += _finding(finding, colour, component=component)
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _paint(text: str, code: str, colour: bool) -> str:
    return f"{code}{text}{_RESET}" if colour else text


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _summary(result: ValidationResult) -> list[str]:
    totals = Totals.of(result.claims)
    return [
        f"{result.name}: {len(result.claims)} claims in {len(result.transactions)} transaction "
        f"sets; {len(totals.accepted)} accepted ({_money(totals.accepted_amount)}), "
        f"{len(totals.rejected)} rejected ({_money(totals.rejected_amount)}), "
        f"{totals.warned} accepted with warnings",
    ]


def _claim_header(result: ClaimResult, colour: bool) -> list[str]:
    claim = result.claim
    verdict = "REJECTED" if not result.accepted else "accepted with warnings"
    phase = f", {result.phase} implant" if result.phase else ""
    total = f"${claim.total_charge:,.2f}" if claim.total_charge is not None else "$?"
    head = (
        f"claim {claim.claim_id} ({claim.kind}, {total}, {result.profile} profile{phase}): "
        f"{verdict}"
    )
    return [_paint(head, _BOLD, colour)]


def _caret(finding: Finding, component: str) -> str | None:
    """Spaces and carets under the element (or component) named by the finding, or None."""
    where = element_position(finding)
    parts = split_segment(finding)
    if where is None or where[0] >= len(parts):
        return None
    index, sub = where
    column = sum(len(p) + 1 for p in parts[:index])
    value = parts[index]
    if sub is not None:
        pieces = value.split(component)
        if sub - 1 < len(pieces):
            column += sum(len(p) + 1 for p in pieces[: sub - 1])
            value = pieces[sub - 1]
    return " " * column + "^" * max(1, len(value))


def _finding(finding: Finding, colour: bool, *, component: str) -> list[str]:
    severity = _paint(finding.severity.value, _COLOURS[finding.severity], colour)
    where = " ".join(
        part
        for part in (
            finding.path,
            f"line {finding.line}" if finding.line is not None else "",
            f"(file line {finding.line_no})" if finding.line_no is not None else "",
        )
        if part
    )
    out = [f"  {severity} {finding.rule}  {where}".rstrip()]
    if finding.segment:
        out.append(f"      {finding.segment}")
        caret = _caret(finding, component)
        if caret:
            out.append(f"      {_paint(caret, _COLOURS[finding.severity], colour)}")
    out.append(f"    {finding.message}")
    if finding.fix:
        out.append(f"    fix: {finding.fix}")
    if finding.source:
        out.append(f"    source: {finding.source}")
    return out
