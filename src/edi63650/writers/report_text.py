"""The text report: a summary, then every finding of each rejected or warned claim.

Each finding shows its rule, severity and loop path, the raw segment with a caret under the
offending element, the message, the fix and the source, in the manner of packaging's
``ParserSyntaxError``. Colour (ANSI) only when asked for, which the CLI does on a terminal.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from edi63650.findings import Finding, Severity
from edi63650.outcome import InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.values import shown, shown_name
from edi63650.writers.common import Tally, element_position, split_segment
from edi63650.writers.phi import mask_finding_segment
from edi63650.writers.sink import Sink, Spool, Writable

_COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
_BOLD, _RESET = "\033[1m", "\033[0m"


class TextSink(Sink):
    """Writes the text report to ``out`` (UTF-8) at the end: the summary, the findings outside
    claims, then each claim with findings, spooled as the claims came."""

    def __init__(
        self, out: Writable, name: str, *, colour: bool = False, show_phi: bool = False
    ) -> None:
        self._out = out
        self._name = shown_name(name)  # (a name that was not UTF-8 is still shown)
        self._colour = colour
        self._show_phi = show_phi  # else patients' names, ids and birth dates are masked
        # Findings outside claims: the file's and the transaction sets' own, few (capped per
        # rule), shown together in file order at the end.
        self._loose: list[Finding] = []
        self._claims = _Lines()
        self._tally = Tally()
        self._count = 0  # transaction sets
        self._errors: dict[str, int] = {}  # findings by rule, for the tally at the end
        self._warnings: dict[str, int] = {}
        self._mark: tuple[int, _Mark, Tally, int, dict[str, int], dict[str, int]] = (
            0,
            self._claims.mark(),
            Tally(),
            0,
            {},
            {},
        )

    def _count_rules(self, findings: Iterable[Finding]) -> None:
        for finding in findings:
            counts = (
                self._errors
                if finding.severity is Severity.ERROR
                else self._warnings
                if finding.severity is Severity.WARNING
                else None
            )
            if counts is not None:
                counts[finding.rule] = counts.get(finding.rule, 0) + 1

    def transaction(self, outcome: TransactionOutcome) -> None:
        colour = self._colour
        self._count += 1
        self._count_rules(outcome.findings)
        self._loose += (f for f in outcome.findings if f.severity is not Severity.INFO)
        for claim_result in outcome.claims:
            self._tally.add(claim_result)
            self._count_rules(claim_result.findings)
            shown = [f for f in claim_result.findings if f.severity is not Severity.INFO]
            if not shown:
                continue
            lines = _claim_header(claim_result, colour)
            component = claim_result.claim.segments[0].delimiters.component
            for finding in shown:
                lines += _finding(finding, colour, component=component, show_phi=self._show_phi)
            lines.append("")
            self._claims.add(lines)

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._loose += (f for f in outcome.findings if f.severity is not Severity.INFO)
        self._count_rules(outcome.findings)
        self._mark = (
            len(self._loose),
            self._claims.mark(),
            self._tally.copy(),
            self._count,
            dict(self._errors),
            dict(self._warnings),
        )

    def discard(self) -> None:
        loose, claims, tally, count, errors, warnings = self._mark
        del self._loose[loose:]
        self._claims.restore(claims)
        self._tally, self._count = tally.copy(), count
        self._errors, self._warnings = dict(errors), dict(warnings)

    def close(self, outcome: StreamOutcome) -> None:
        self._loose += (f for f in outcome.findings if f.severity is not Severity.INFO)
        self._count_rules(outcome.findings)
        colour = self._colour
        parts: list[list[str] | _Lines] = [[*_summary(self._name, self._tally, self._count), ""]]
        if self._loose:
            loose = [_paint("File and envelope findings", _BOLD, colour)]
            in_order = sorted(self._loose, key=lambda f: (f.offset is None, f.offset or 0))
            for finding in in_order:
                loose += _finding(finding, colour, component=":", show_phi=self._show_phi)
            parts += [loose, [""]]
        parts.append(self._claims)
        tally = _by_rule(self._errors, self._warnings)
        if tally:
            parts.append(tally)
        _write(self._out, parts)
        self.dispose()

    def dispose(self) -> None:
        self._claims.close()


#: Where a spool of lines was (:meth:`_Lines.mark`).
_Mark = tuple[int, list[str], int]


class _Lines:
    """Lines spooled as they come. The last one that is not blank is held back with any blank
    ones after it, so that the report can end without trailing whitespace."""

    def __init__(self) -> None:
        self._spool = Spool()
        self._held: list[str] = []
        self.lines = 0

    def add(self, lines: list[str]) -> None:
        for line in lines:
            if line.strip():
                self._write(self._held)
                self._held = [line]
            else:
                self._held.append(line)
            self.lines += 1

    def _write(self, lines: list[str]) -> None:
        if lines:
            self._spool.write(("\n".join(lines) + "\n").encode())

    def mark(self) -> tuple[int, list[str], int]:
        return self._spool.size, list(self._held), self.lines

    def restore(self, mark: tuple[int, list[str], int]) -> None:
        size, held, lines = mark
        self._spool.truncate(size)
        self._held, self.lines = list(held), lines

    def blank(self) -> bool:
        """Whether it holds no line that is not blank."""
        return not (self._spool.size or (self._held and self._held[0].strip()))

    def copy(self, out: Writable, *, last: bool) -> None:
        self._spool.copy(out)
        if last and self._held and self._held[0].strip():
            out.write((self._held[0].rstrip() + "\n").encode())
        elif not last:
            self._write_to(out, self._held)

    @staticmethod
    def _write_to(out: Writable, lines: list[str]) -> None:
        if lines:
            out.write(("\n".join(lines) + "\n").encode())

    def close(self) -> None:
        self._spool.close()


def _write(out: Writable, parts: list[list[str] | _Lines]) -> None:
    """The parts' lines joined as one text without trailing whitespace, ending in a newline."""
    blank = [
        not any(line.strip() for line in part) if isinstance(part, list) else part.blank()
        for part in parts
    ]
    last = max((i for i, b in enumerate(blank) if not b), default=-1)
    for index, part in enumerate(parts[: last + 1]):
        final = index == last
        if isinstance(part, _Lines):
            part.copy(out, last=final)
            continue
        if final:
            end = max(i for i, line in enumerate(part) if line.strip())
            text = "\n".join(part[: end + 1]).rstrip() + "\n"
        else:
            text = "\n".join(part) + "\n" if part else ""
        out.write(text.encode())
    if last < 0:
        out.write(b"\n")


def _paint(text: str, code: str, colour: bool) -> str:
    return f"{code}{text}{_RESET}" if colour else text


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def counted(number: int, what: str) -> str:
    """``1 claim``, ``2 claims``."""
    return f"{number:,} {what}" + ("" if number == 1 else "s")


def summary_line(totals: Tally) -> str:
    """What the claims came to, in counts that add up: the accepted include those with
    warnings."""
    return (
        f"{totals.accepted:,} accepted ({_money(totals.accepted_amount)}; "
        f"{totals.warned:,} of them with warnings), "
        f"{totals.rejected:,} rejected ({_money(totals.rejected_amount)})"
    )


def _summary(name: str, totals: Tally, transactions: int) -> list[str]:
    return [
        f"{shown(name)}: {counted(totals.claims, 'claim')} in "
        f"{counted(transactions, 'transaction set')}; {summary_line(totals)}",
    ]


def _by_rule(errors: dict[str, int], warnings: dict[str, int]) -> list[str]:
    """The tally by rule that ends a report: how many findings of each, most first."""
    out = []
    for title, counts in (("errors by rule", errors), ("warnings by rule", warnings)):
        if counts:
            ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            out.append(f"{title}: " + ", ".join(f"{rule} {n:,}" for rule, n in ranked))
    return out


def _claim_header(result: ClaimResult, colour: bool) -> list[str]:
    claim = result.claim
    verdict = "REJECTED" if not result.accepted else "accepted with warnings"
    phase = f", {result.phase} implant" if result.phase else ""
    total = f"${claim.total_charge:,.2f}" if claim.total_charge is not None else "$?"
    head = (
        f"claim {shown(claim.claim_id)} ({claim.kind}, {total}, {result.profile} profile{phase}): "
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


def _position(finding: Finding) -> str:
    """Where the segment is in the file: its line, where each segment starts a line of its
    own; where segments share lines (a file on one line), its byte offset and its ordinal in
    its transaction set (ST is 1, as the 999's IK302 counts)."""
    line, ordinal, offset = finding.line_no, finding.ordinal or 0, finding.offset
    if line is None:
        return ""
    if offset is not None and (line < ordinal or (line == 1 and offset > 0)):
        return (
            f"(segment {ordinal:,} of its transaction set, byte {offset:,})"
            if ordinal
            else f"(byte {offset:,})"
        )
    return f"(file line {line})"


def _finding(finding: Finding, colour: bool, *, component: str, show_phi: bool) -> list[str]:
    severity = _paint(finding.severity.value, _COLOURS[finding.severity], colour)
    where = " ".join(
        part
        for part in (
            finding.path,
            # (the service line, unless the path shows it: ``2400[2]``)
            f"line {finding.line}" if finding.line is not None and "[" not in finding.path else "",
            _position(finding),
        )
        if part
    )
    out = [f"  {severity} {finding.rule}  {where}".rstrip()]
    if finding.segment:
        text = finding.segment if show_phi else mask_finding_segment(finding.segment, finding.path)
        out.append(f"      {shown(text)}")
        caret = _caret(finding, component)
        if caret:
            out.append(f"      {_paint(caret, _COLOURS[finding.severity], colour)}")
    out.append(f"    {shown(finding.message)}")
    if finding.fix:
        out.append(f"    fix: {shown(finding.fix)}")
    if finding.source:
        out.append(f"    source: {shown(finding.source)}")
    return out
