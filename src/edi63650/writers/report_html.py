"""The HTML report: one self-contained file, written as the input is read.

A summary table, the findings that belong to no segment, then the 837 segment by segment with
each finding beside the segment it points to; rejected claims are highlighted. No scripts, no
external resources: it opens anywhere, and holds patient data like the 837 itself.

The rows of a transaction set are rendered when it ends, from the segments the reader returned
in the same pass (or, without them, from the claims' own segments). Segments outside
transaction sets wait for the end of their interchange, since a missing trailer is reported at
its header. The rows are spooled; the summary, which needs the totals, is written before them
at the end.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from decimal import Decimal
from html import escape

from edi63650.findings import Finding, Severity
from edi63650.outcome import AckCode, InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.segment import Segment
from edi63650.writers.common import Tally
from edi63650.writers.phi import PhiMask
from edi63650.writers.sink import Sink, Spool, Writable

#: Files larger than this (bytes) show only envelopes and the claims with findings.
COMPACT_ABOVE = 5_000_000

#: Segments outside transaction sets held for their interchange's end, at most; beyond, they
#: are shown with the findings known so far (later ones are listed with the other findings).
HELD_LIMIT = 10_000

_ENVELOPES = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_PLAIN = re.compile("[^&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]*")

# Where a finding comes from, which orders the findings beside one segment: the claims' first,
# then the transaction sets' own, then the rest (as the report has always listed them).
_CLAIM, _SET, _LOOSE = 0, 1, 2

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
table.summary td, table.summary th { padding: 0.2em 1em; text-align: left; }
table.segments { border-collapse: collapse; width: 100%; }
table.segments td { vertical-align: top; padding: 0.1em 0.6em; border-bottom: 1px solid #eee; }
td.gap { color: #888; font-style: italic; }
td.no { color: #888; text-align: right; font-family: monospace; }
td.seg { font-family: monospace; white-space: pre-wrap; word-break: break-all; }
tr.rejected td.seg { background: #fde8e8; }
tr.claim-start td { border-top: 2px solid #999; }
.finding { margin: 0.1em 0; padding: 0.1em 0.4em; border-left: 4px solid; font-size: 0.9em; }
.error { border-color: #c0392b; background: #fdecea; }
.warning { border-color: #d68910; background: #fef5e7; }
.info { border-color: #2874a6; background: #eaf2f8; }
.rule { font-weight: bold; }
.verdict-rejected { color: #c0392b; font-weight: bold; }
.verdict-accepted { color: #1e8449; font-weight: bold; }
"""

# A finding waiting for its row: (where it comes from, its order of arrival, the finding).
_Waiting = tuple[int, int, Finding]


def _text(text: str) -> str:
    """Text for an element: control characters (allowed in X12 data, not in XML) become
    U+FFFD, and the markup characters are escaped."""
    if _PLAIN.fullmatch(text):  # most segments need neither
        return text
    return escape(_NOT_XML.sub("\ufffd", text), quote=False)


def _block(finding: Finding) -> str:
    severity = finding.severity.value
    parts = [
        f'<div class="finding {severity}"><span class="rule">{_text(finding.rule)}</span>',
        _text(f" {severity}: {finding.message}"),
    ]
    if finding.fix:
        parts.append("<br>" + _text(f"fix: {finding.fix}"))
    if finding.source:
        parts.append("<br>" + _text(f"source: {finding.source}"))
    parts.append("</div>")
    return "".join(parts)


def _gap(count: int) -> str:
    return (
        f'<tr><td></td><td class="gap">... {count:,} segments of claims without findings ...'
        "</td><td></td></tr>"
    )


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


class HtmlSink(Sink):
    """Writes the HTML report to ``out`` (UTF-8).

    ``segments``: the reader's segments are fed in (every segment is shown); without them,
    only the claims' own segments are. ``compact``: show only envelopes and the claims with
    findings (what a large file needs; :data:`COMPACT_ABOVE`).
    """

    def __init__(
        self,
        out: Writable,
        name: str,
        when: datetime.datetime,
        *,
        segments: bool = True,
        compact: bool = False,
        show_phi: bool = False,
    ) -> None:
        self._out = out
        # Unless asked, patients' names, ids, addresses and birth dates are masked as the
        # segments arrive (the mask follows the loops, so it must see every segment).
        self._mask = None if show_phi else PhiMask()
        self._name = name
        self._when = when
        self.wants_segments = segments
        self._compact = compact
        self._body = Spool()  # the rows of the interchanges that ended
        self._open = Spool()  # the rows of the open interchange's transaction sets
        self._records: list[tuple[int, int, int] | Segment] = []  # the open interchange's
        self._buffer: list[Segment] = []  # segments not yet placed
        self._waiting: dict[int, list[_Waiting]] = {}  # findings by offset, for rows to come
        self._nowhere: list[_Waiting] = []  # findings without an offset
        self._arrivals = 0
        self._skipped = 0  # segments left out since the last row shown (compact)
        self._tally = Tally()
        self._sets = 0
        self._rejected = False  # a transaction set rejected, or an error outside them
        self._mark = (Tally(), 0, False, 0)  # what the sink knew when an interchange ended

    # -- the sink -------------------------------------------------------------------------------

    def segment(self, segment: Segment) -> None:
        if self._mask is not None:
            text = self._mask.segment(segment.text, segment.delimiters.element)
            if text is not segment.text:
                segment = segment._replace(text=text)
        self._buffer.append(segment)

    def transaction(self, outcome: TransactionOutcome) -> None:
        self._sets += 1
        self._rejected |= outcome.ack is AckCode.REJECTED
        start = outcome.transaction.position.offset
        if self.wants_segments:
            buffer = self._buffer
            before = [s for s in buffer if s.offset < start]
            rows = [s for s in buffer if start <= s.offset <= outcome.end]
            self._buffer = [s for s in buffer if s.offset > outcome.end]
            self._records += before
        else:
            rows = [s for c in outcome.claims for s in c.claim.all_segments()]
        beside: dict[int, list[_Waiting]] = {}
        for claim in outcome.claims:
            self._tally.add(claim)
            self._sort(claim.findings, _CLAIM, beside)
        self._sort(outcome.findings, _SET, beside)
        text, trailing = self._rows(rows, outcome, beside)
        for offset, found in beside.items():  # no row of the set: a row yet to come, or none
            self._wait(offset, found)
        begin = self._open.size
        self._open.write(text.encode())
        self._records.append((begin, self._open.size, trailing))

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._loose(outcome.findings)
        self._records += self._buffer
        self._buffer = []
        self._flush()
        self._mark = (self._tally.copy(), self._sets, self._rejected, self._arrivals)

    def discard(self) -> None:
        tally, self._sets, self._rejected, arrivals = self._mark
        self._tally = tally.copy()
        self._open.truncate(0)
        self._records = []
        self._buffer = []
        # The findings of the discarded sets come again with them.
        for offset, found in list(self._waiting.items()):
            kept = [entry for entry in found if entry[1] <= arrivals]
            if kept:
                self._waiting[offset] = kept
            else:
                del self._waiting[offset]
        self._nowhere = [entry for entry in self._nowhere if entry[1] <= arrivals]

    def close(self, outcome: StreamOutcome) -> None:
        self._loose(outcome.findings)
        self._records += self._buffer
        self._buffer = []
        self._flush()
        if self._skipped:
            self._body.write(_gap(self._skipped).encode())
        left = sorted(self._nowhere)
        by_offset = sorted(self._waiting.values(), key=min)
        left += [waiting for found in by_offset for waiting in sorted(found)]
        self._head([finding for _, _, finding in left])
        self._body.copy(self._out)
        self._out.write(b"</table></body></html>")
        self.dispose()

    def dispose(self) -> None:
        self._body.close()
        self._open.close()

    # -- rows ----------------------------------------------------------------------------------

    def _sort(
        self, findings: Iterable[Finding], source: int, beside: dict[int, list[_Waiting]]
    ) -> None:
        for finding in findings:
            self._arrivals += 1
            entry = (source, self._arrivals, finding)
            if finding.offset is None:
                self._nowhere.append(entry)
            else:
                beside.setdefault(finding.offset, []).append(entry)

    def _loose(self, findings: Iterable[Finding]) -> None:
        beside: dict[int, list[_Waiting]] = {}
        for finding in findings:
            self._rejected |= finding.severity is Severity.ERROR
        self._sort(findings, _LOOSE, beside)
        for offset, found in beside.items():
            self._wait(offset, found)

    def _wait(self, offset: int, found: list[_Waiting]) -> None:
        waiting = self._waiting.get(offset)
        if waiting is None:
            self._waiting[offset] = found
        else:
            waiting += found

    def _notes(self, offset: int, beside: dict[int, list[_Waiting]]) -> list[str]:
        found = beside.pop(offset, None)
        waiting = self._waiting.pop(offset, None)
        if waiting:
            found = sorted((found or []) + waiting)
        return [_block(finding) for _, _, finding in found or ()]

    def _rows(
        self,
        segments: list[Segment],
        outcome: TransactionOutcome,
        beside: dict[int, list[_Waiting]],
    ) -> tuple[str, int]:
        """The rows of a transaction set, and how many segments at its end were left out.
        (The hot loop of the report: one row per segment of the file.)"""
        rejected: list[tuple[int, int]] = []
        starts = {}
        shown: set[int] = set()
        compact = self._compact
        for result in outcome.claims:
            claim = result.claim
            starts[claim.position.offset] = result
            if not result.accepted and claim.segments:
                last = claim.lines[-1].segments if claim.lines else claim.segments
                rejected.append((claim.segments[0].offset, last[-1].offset))
            if compact and result.findings:
                shown.update(s.offset for s in claim.all_segments())
        waiting = self._waiting
        out = []
        skipped = 0
        ranges = iter(rejected)  # in file order, as the rows are: one pass over both
        current = next(ranges, None)
        for segment in segments:
            offset = segment.offset
            while current is not None and current[1] < offset:
                current = next(ranges, None)
            found = beside.pop(offset, None)
            if waiting:
                more = waiting.pop(offset, None)
                if more:
                    found = sorted((found or []) + more)
            if compact and not found and offset not in shown and segment.id not in _ENVELOPES:
                skipped += 1
                continue
            if skipped:
                out.append(_gap(skipped))
                skipped = 0
            notes = "".join([_block(f) for _, _, f in found]) if found else ""
            inside = current is not None and current[0] <= offset
            starting = starts.get(offset)
            if starting is None:
                classes = "rejected" if inside else ""
            else:
                classes = "rejected claim-start" if inside else "claim-start"
                verdict = "accepted" if starting.accepted else "rejected"
                notes = (
                    f'<div class="verdict-{verdict}">'
                    f"{_text(f'claim {starting.claim.claim_id}: {verdict}')}</div>{notes}"
                )
            out.append(
                f'<tr class="{classes}"><td class="no">{segment.line}</td>'
                f'<td class="seg">{_text(segment.text)}</td><td>{notes}</td></tr>'
            )
        return "".join(out), skipped

    def _flush(self) -> None:
        """The open interchange ended: its rows, in order, go to the body."""
        body = self._body
        for record in self._records:
            if isinstance(record, Segment):
                notes = self._notes(record.offset, {})
                if self._compact and not notes and record.id not in _ENVELOPES:
                    self._skipped += 1
                    continue
                if self._skipped:
                    body.write(_gap(self._skipped).encode())
                    self._skipped = 0
                body.write(_row(record, "", notes).encode())
                continue
            start, end, trailing = record
            if start == end:
                self._skipped += trailing
                continue
            if self._skipped:
                body.write(_gap(self._skipped).encode())
            self._open.copy(body, start, end)
            self._skipped = trailing
        self._records = []
        self._open.truncate(0)

    # -- the head ------------------------------------------------------------------------------

    def _head(self, elsewhere: list[Finding]) -> None:
        tally = self._tally
        verdict = "rejected" if self._rejected or tally.rejected else "accepted"
        name = _text(self._name)
        findings = (
            "<div>" + "".join(_block(f) for f in elsewhere) + "</div>"
            if elsewhere
            else "<p>none</p>"
        )
        summary = (
            f"<tr><th>claims</th><td>{tally.claims}</td></tr>"
            f"<tr><th>accepted</th><td>{tally.accepted} ({_money(tally.accepted_amount)})</td></tr>"
            f"<tr><th>rejected</th><td>{tally.rejected} ({_money(tally.rejected_amount)})</td></tr>"
            f"<tr><th>transaction sets</th><td>{self._sets}</td></tr>"
            f"<tr><th>validated</th><td>{self._when.isoformat(timespec='seconds')}</td></tr>"
        )
        head = (
            "<!DOCTYPE html>\n"
            f'<html><head><meta charset="utf-8"><title>edi63650 report: {name}</title>'
            f"<style>{_STYLE}</style></head><body>"
            f'<h1>{name}: <span class="verdict-{verdict}">{verdict}</span></h1>'
            f'<table class="summary">{summary}</table>'
            f"<h2>Findings between segments</h2>{findings}"
            '<h2>The file, segment by segment</h2><table class="segments">'
        )
        self._out.write(head.encode())


def _row(segment: Segment, classes: str, notes: list[str]) -> str:
    return (
        f'<tr class="{classes}"><td class="no">{segment.line}</td>'
        f'<td class="seg">{_text(segment.text)}</td><td>{"".join(notes)}</td></tr>'
    )
