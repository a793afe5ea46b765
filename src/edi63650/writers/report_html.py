"""The HTML report: one self-contained file built with lxml.

A summary table, the findings that belong to no claim, then the 837 segment by segment with
each finding beside the segment it points to; rejected claims are highlighted. No scripts, no
external resources: it opens anywhere, and holds patient data like the 837 itself.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

from lxml import etree
from lxml.html import builder as h

from edi63650.findings import Finding
from edi63650.reader import CHUNK_SIZE
from edi63650.segment import Segment
from edi63650.tokenizer import Tokenizer
from edi63650.writers.common import Totals

if TYPE_CHECKING:
    from edi63650.validate import ValidationResult

#: Files larger than this (bytes) show only envelopes and the claims with findings.
COMPACT_ABOVE = 5_000_000
_ENVELOPES = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

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


def _safe(text: str) -> str:
    """Text XML can hold: control characters (allowed in X12 data, not in XML) become U+FFFD."""
    return _NOT_XML.sub("\ufffd", text)


def _finding_block(finding: Finding) -> etree._Element:
    parts: list[etree._Element | str] = [
        h.SPAN(_safe(finding.rule), h.CLASS("rule")),
        _safe(f" {finding.severity.value}: {finding.message}"),
    ]
    if finding.fix:
        parts += [h.BR(), _safe(f"fix: {finding.fix}")]
    if finding.source:
        parts += [h.BR(), _safe(f"source: {finding.source}")]
    return h.DIV(*parts, h.CLASS(f"finding {finding.severity.value}"))


def _segments(data: bytes | None, result: ValidationResult) -> Iterator[Segment]:
    """The file's segments, tokenized afresh in chunks (never all held at once)."""
    if data is None:
        for claim_result in result.claims:
            yield from claim_result.claim.all_segments()
        return
    tokenizer = Tokenizer()
    for start in range(0, len(data), CHUNK_SIZE):
        for token in tokenizer.feed(data[start : start + CHUNK_SIZE]):
            if isinstance(token, Segment):
                yield token
    for token in tokenizer.close():
        if isinstance(token, Segment):
            yield token


def _gap(count: int) -> etree._Element:
    return h.TR(
        h.TD(""),
        h.TD(f"... {count:,} segments of claims without findings ...", h.CLASS("gap")),
        h.TD(""),
    )


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def write_html(result: ValidationResult, data: bytes | None = None) -> str:
    claims = result.claims
    totals = Totals.of(claims)
    # A large file shows only what needs reading: envelopes, and the claims with findings.
    compact = data is not None and len(data) > COMPACT_ABOVE
    shown: set[int] = set()
    if compact:
        for c in claims:
            if c.findings:
                shown.update(segment.offset for segment in c.claim.all_segments())

    # Each finding beside its segment; the rest (framing problems between segments, findings
    # without a position) in a list of their own, so that none goes missing.
    beside: dict[int, list[Finding]] = defaultdict(list)
    elsewhere: list[Finding] = []
    every = [f for c in claims for f in c.findings]
    every += [f for t in result.transactions for f in t.findings]
    every += list(result.findings)
    for finding in every:
        if finding.offset is None:
            elsewhere.append(finding)
        else:
            beside[finding.offset].append(finding)

    starts = {c.claim.position.offset: c for c in claims}
    rejected_ranges = []
    for c in totals.rejected:
        own = c.claim.all_segments()
        if own:
            rejected_ranges.append((own[0].offset, own[-1].offset))

    rows = []
    skipped = 0
    for segment in _segments(data, result):
        offset = segment.offset
        notes = [_finding_block(f) for f in beside.pop(offset, [])]
        if compact and not notes and offset not in shown and segment.id not in _ENVELOPES:
            skipped += 1
            continue
        if skipped:
            rows.append(_gap(skipped))
            skipped = 0
        classes = []
        if any(start <= offset <= end for start, end in rejected_ranges):
            classes.append("rejected")
        claim_result = starts.get(offset)
        if claim_result is not None:
            classes.append("claim-start")
            verdict = "accepted" if claim_result.accepted else "rejected"
            notes.insert(
                0,
                h.DIV(
                    _safe(f"claim {claim_result.claim.claim_id}: {verdict}"),
                    h.CLASS(f"verdict-{verdict}"),
                ),
            )
        rows.append(
            h.TR(
                h.TD(str(segment.line), h.CLASS("no")),
                h.TD(_safe(segment.text), h.CLASS("seg")),
                h.TD(*notes),
                h.CLASS(" ".join(classes)),
            )
        )
    if skipped:
        rows.append(_gap(skipped))
    elsewhere += [f for found in beside.values() for f in found]  # at offsets with no segment

    verdict = "rejected" if result.rejected else "accepted"
    document = h.HTML(
        h.HEAD(
            h.META(charset="utf-8"),
            h.TITLE(_safe(f"edi63650 report: {result.name}")),
            h.STYLE(_STYLE),
        ),
        h.BODY(
            h.H1(_safe(f"{result.name}: "), h.SPAN(verdict, h.CLASS(f"verdict-{verdict}"))),
            h.TABLE(
                h.TR(h.TH("claims"), h.TD(str(len(claims)))),
                h.TR(
                    h.TH("accepted"),
                    h.TD(f"{len(totals.accepted)} ({_money(totals.accepted_amount)})"),
                ),
                h.TR(
                    h.TH("rejected"),
                    h.TD(f"{len(totals.rejected)} ({_money(totals.rejected_amount)})"),
                ),
                h.TR(h.TH("transaction sets"), h.TD(str(len(result.transactions)))),
                h.TR(h.TH("validated"), h.TD(result.validated.isoformat(timespec="seconds"))),
                h.CLASS("summary"),
            ),
            h.H2("Findings between segments"),
            h.DIV(*[_finding_block(f) for f in elsewhere]) if elsewhere else h.P("none"),
            h.H2("The file, segment by segment"),
            h.TABLE(*rows, h.CLASS("segments")),
        ),
    )
    return "<!DOCTYPE html>\n" + etree.tostring(document, encoding="unicode", method="html")
