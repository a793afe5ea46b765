"""The HTML report: one self-contained file built with lxml.

A summary table, the findings that belong to no claim, then the 837 segment by segment with
each finding beside the segment it points to; rejected claims are highlighted. No scripts, no
external resources: it opens anywhere, and holds patient data like the 837 itself.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import TYPE_CHECKING

from lxml import etree
from lxml.html import builder as h

from edi63650.findings import Finding
from edi63650.rules.engine import ClaimResult
from edi63650.tokenizer import Segment, Tokenizer

if TYPE_CHECKING:
    from edi63650.validate import ValidationResult

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; }
table.summary td, table.summary th { padding: 0.2em 1em; text-align: left; }
table.segments { border-collapse: collapse; width: 100%; }
table.segments td { vertical-align: top; padding: 0.1em 0.6em; border-bottom: 1px solid #eee; }
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


def _finding_block(finding: Finding) -> etree._Element:
    parts: list[etree._Element | str] = [
        h.SPAN(finding.rule, h.CLASS("rule")),
        f" {finding.severity.value}: {finding.message}",
    ]
    if finding.fix:
        parts += [h.BR(), f"fix: {finding.fix}"]
    if finding.source:
        parts += [h.BR(), f"source: {finding.source}"]
    return h.DIV(*parts, h.CLASS(f"finding {finding.severity.value}"))


def _segments(data: bytes | None, result: ValidationResult) -> list[Segment]:
    if data is not None:
        tokenizer = Tokenizer()
        tokens = tokenizer.feed(data) + tokenizer.close()
        return [t for t in tokens if isinstance(t, Segment)]
    return [s for c in result.claims for s in c.claim.all_segments()]


def _amount(results: list[ClaimResult]) -> str:
    total = sum((c.claim.total_charge or Decimal(0) for c in results), Decimal(0))
    return f"${total:,.2f}"


def write_html(result: ValidationResult, data: bytes | None = None) -> str:
    claims = result.claims
    accepted = [c for c in claims if c.accepted]
    rejected = [c for c in claims if not c.accepted]

    by_offset: dict[int, list[Finding]] = defaultdict(list)
    loose: list[Finding] = []
    every = [f for c in claims for f in c.findings]
    every += [f for t in result.transactions for f in t.findings]
    every += list(result.findings)
    for finding in every:
        if finding.offset is not None:
            by_offset[finding.offset].append(finding)
        else:
            loose.append(finding)

    starts = {c.claim.position.offset: c for c in claims}
    rejected_ranges = []
    for c in rejected:
        segments = c.claim.all_segments()
        if segments:
            rejected_ranges.append((segments[0].offset, segments[-1].offset))

    rows = []
    for segment in _segments(data, result):
        classes = []
        if any(start <= segment.offset <= end for start, end in rejected_ranges):
            classes.append("rejected")
        claim_result = starts.get(segment.offset)
        if claim_result is not None:
            classes.append("claim-start")
        notes = [_finding_block(f) for f in by_offset.get(segment.offset, [])]
        if claim_result is not None:
            verdict = "accepted" if claim_result.accepted else "rejected"
            notes.insert(
                0,
                h.DIV(
                    f"claim {claim_result.claim.claim_id}: {verdict}", h.CLASS(f"verdict-{verdict}")
                ),
            )
        rows.append(
            h.TR(
                h.TD(str(segment.line), h.CLASS("no")),
                h.TD(segment.text, h.CLASS("seg")),
                h.TD(*notes),
                h.CLASS(" ".join(classes)) if classes else h.CLASS(""),
            )
        )

    verdict = "rejected" if result.rejected else "accepted"
    document = h.HTML(
        h.HEAD(
            h.META(charset="utf-8"),
            h.TITLE(f"edi63650 report: {result.name}"),
            h.STYLE(_STYLE),
        ),
        h.BODY(
            h.H1(f"{result.name}: ", h.SPAN(verdict, h.CLASS(f"verdict-{verdict}"))),
            h.TABLE(
                h.TR(h.TH("claims"), h.TD(str(len(claims)))),
                h.TR(h.TH("accepted"), h.TD(f"{len(accepted)} ({_amount(accepted)})")),
                h.TR(h.TH("rejected"), h.TD(f"{len(rejected)} ({_amount(rejected)})")),
                h.TR(h.TH("transaction sets"), h.TD(str(len(result.transactions)))),
                h.TR(h.TH("validated"), h.TD(result.validated.isoformat(timespec="seconds"))),
                h.CLASS("summary"),
            ),
            h.H2("Findings without a segment"),
            h.DIV(*[_finding_block(f) for f in loose]) if loose else h.P("none"),
            h.H2("The file, segment by segment"),
            h.TABLE(*rows, h.CLASS("segments")),
        ),
    )
    return "<!DOCTYPE html>\n" + etree.tostring(document, encoding="unicode", method="html")
