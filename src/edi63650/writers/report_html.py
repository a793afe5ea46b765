"""The HTML report: one self-contained file, written as the input is read.

At the top, what a coder acts on first: the summary (claims by verdict with their charges,
errors and warnings counted by rule, each linking to its first finding) and the table of
rejected claims, each linking to its claim. Then the file segment by segment with each finding
beside the segment it points to; each claim (with the hierarchy segments that lead to it) is
one block headed by its verdict, charge, profile, phase and 277CA codes, collapsed when it has
no findings. Filters by verdict, rule and severity, and printing with every claim open, are an
inline script; style is inline too: no external resources, it opens anywhere, and holds patient
data like the 837 itself (names and ids masked unless asked).

The rows of a transaction set are rendered when it ends, from the segments the reader returned
in the same pass (or, without them, from the claims' own segments). Segments outside
transaction sets wait for the end of their interchange, since a missing trailer is reported at
its header. The rows and the rejected claims are spooled; the summary, which needs the totals,
is written before them at the end.
"""

from __future__ import annotations

import datetime
import pickle
import re
import struct
from collections.abc import Iterable, Iterator
from decimal import Decimal
from html import escape
from importlib import resources

import attrs

from edi63650.findings import Finding, Severity
from edi63650.outcome import AckCode, InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.segment import Segment
from edi63650.values import shown_name
from edi63650.writers.ack277 import ACCEPTED, claim_statuses
from edi63650.writers.common import Tally
from edi63650.writers.phi import PhiMask
from edi63650.writers.sink import Sink, Spool, Writable

#: Files larger than this (bytes) show only envelopes and the claims with findings.
COMPACT_ABOVE = 5_000_000

#: Claims with findings shown open, at most; the later ones are collapsed like clean claims
#: (their headers still say their verdict; a link to one opens it), so that a file of
#: thousands of rejected claims still opens quickly in a browser.
OPEN_LIMIT = 200

_ENVELOPES = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
#: Segments that close any transaction set open before them (the reader ends it there).
_OUTSIDE_SETS = frozenset({"ISA", "GS", "GE", "IEA"})
#: Segments outside transaction sets held in memory before they go to a spool; a run of
#: more is shown as several blocks of this many.
_PIECE = 1_000
# Control characters (C0 but tab and line breaks, DEL, C1), allowed in X12 data but not in XML
# or not shown by a browser, become U+FFFD.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")
_PLAIN = re.compile("[^&<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]*")
_NOT_ID = re.compile("[^A-Za-z0-9_-]")
_PAGE = resources.files("edi63650.writers") / "page"
_STYLE = (_PAGE / "report.css").read_text(encoding="utf-8")
_SCRIPT = (_PAGE / "report.js").read_text(encoding="utf-8")
_COLUMNS = '<colgroup><col class="no"><col class="seg"><col></colgroup>'
_SEVERITIES = (Severity.ERROR, Severity.WARNING, Severity.INFO)

# Where a finding comes from, which orders the findings beside one segment: the claims' first,
# then the transaction sets' own, then the rest (as the report has always listed them).
_CLAIM, _SET, _LOOSE = 0, 1, 2

# A finding waiting for its row: (where it comes from, its order of arrival, the finding).
_Waiting = tuple[int, int, Finding]


def _text(text: str) -> str:
    """Text for an element: control characters (allowed in X12 data, not in XML) become
    U+FFFD, and the markup characters are escaped."""
    if _PLAIN.fullmatch(text):  # most segments need neither
        return text
    return escape(_NOT_XML.sub("\ufffd", text), quote=False)


def _attribute(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text), quote=True)


def _anchor(rule: str, severity: str) -> str:
    """The id of a rule's first finding of a severity (rule ids are letters, digits and
    hyphens; a rule may warn on some claims and reject others)."""
    return f"r-{_NOT_ID.sub('_', rule)}-{severity}"


def _gap(count: int) -> str:
    return (
        f'<tr><td></td><td class="gap">... {count:,} segments without findings ...'
        "</td><td></td></tr>"
    )


def _money(value: Decimal | None) -> str:
    return f"${value:,.2f}" if value is not None else "$?"


def _verdict(result: ClaimResult) -> str:
    """``rejected``, ``warned`` (accepted with warnings) or ``accepted``."""
    if not result.accepted:
        return "rejected"
    if any(f.severity is Severity.WARNING for f in result.findings):
        return "warned"
    return "accepted"


_SAID = {"rejected": "rejected", "warned": "accepted with warnings", "accepted": "accepted"}


_ACCEPTED_CODES = str(ACCEPTED)  # (claim_statuses of an accepted claim: A2:20 alone)


def _codes(result: ClaimResult) -> str:
    """The claim's 277CA STC01 composites, one group per STC segment."""
    if result.accepted:
        return _ACCEPTED_CODES
    return ", ".join(" ".join(map(str, stc)) for stc in claim_statuses(result))


def _initials(result: ClaimResult) -> str:
    """The patient's initials (first name, last name): all of the name a summary shows."""
    ctx = result.claim.context
    person = ctx.patient.person if ctx.patient and ctx.patient.person else None
    if person is None and ctx.subscriber is not None:
        person = ctx.subscriber.person
    if person is None:
        return ""
    return "".join(name[:1].upper() + "." for name in (person.first_name, person.last_name) if name)


def _claim_head(result: ClaimResult, verdict: str) -> str:
    claim = result.claim
    phase = f", {result.phase} implant" if result.phase else ""
    return (
        f'<span class="verdict-{verdict}">{_text(f"claim {claim.claim_id}: {_SAID[verdict]}")}'
        f"</span> \u2014 {_money(claim.total_charge)}, {result.profile} profile{phase}, "
        f'277CA <span class="codes">{_codes(result)}</span>'
    )


@attrs.define
class _Rows:
    """Segments of one block (a claim, or a run outside claims) with their findings, and the
    rules and severities of those findings (what the filters select on)."""

    rows: list[tuple[Segment, list[_Waiting] | None]] = attrs.Factory(list)
    rules: set[str] = attrs.Factory(set)
    severities: set[str] = attrs.Factory(set)
    found: bool = False

    def add(self, segment: Segment, found: list[_Waiting] | None) -> None:
        self.rows.append((segment, found))
        if found:
            self.found = True
            for _, _, finding in found:
                self.rules.add(finding.rule)
                self.severities.add(finding.severity.value)

    def take(self, other: _Rows) -> None:
        self.rows += other.rows
        self.rules |= other.rules
        self.severities |= other.severities
        self.found |= other.found


#: A block of the open interchange in ``HtmlSink._records``: where its text is, and for a
#: transaction set how many of its rows it left out, or :data:`_OUTSIDE` for a piece of
#: segments outside sets (pickled in ``HtmlSink._outside``). Fixed size, so that however
#: many sets an interchange holds, its blocks wait in a spool, not in memory.
_RECORD = struct.Struct("<qqq")
_OUTSIDE = -1
_RECORDS_READ = 4_096  # blocks read back at a time


@attrs.define
class _Mark:
    """What the sink knew when an interchange ended (:meth:`HtmlSink.discard` goes back)."""

    tally: Tally
    sets: int
    rejected: bool
    arrivals: int
    rules: dict[tuple[str, str], int]
    anchored: frozenset[tuple[str, str]]
    opened: int
    claims: int
    listed: int


class HtmlSink(Sink):
    """Writes the HTML report to ``out`` (UTF-8).

    ``segments``: the reader's segments are fed in (every segment is shown); without them,
    only the claims' own segments are. ``compact``: show only envelopes and the claims with
    findings (what a large file needs; :data:`COMPACT_ABOVE`); otherwise claims without
    findings are collapsed.
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
        self._name = shown_name(name)  # (a name that was not UTF-8 is still shown)
        self._when = when
        self.wants_segments = segments
        self._compact = compact
        self._body = Spool()  # the blocks of the interchanges that ended
        self._open = Spool()  # the blocks of the open interchange's transaction sets
        self._listed = Spool()  # the rows of the rejected-claims table
        # The open interchange's blocks, in order (see _RECORD): a transaction set's (where
        # its text is in ``_open``, and the rows it left out) or a piece of segments outside
        # sets (where it is in ``_outside``, pickled).
        self._records = Spool()
        self._outside = Spool()
        self._piece: list[Segment] = []  # segments outside sets, not yet in ``_outside``
        self._buffer: list[Segment] = []  # segments not yet placed
        self._in_set = False  # whether a transaction set is open (as the segments show it)
        self._waiting: dict[int, list[_Waiting]] = {}  # findings by offset, for rows to come
        self._nowhere: list[_Waiting] = []  # findings without an offset
        self._arrivals = 0
        self._skipped = 0  # segments left out since the last row shown (compact)
        self._tally = Tally()
        self._sets = 0
        self._rejected = False  # a transaction set rejected, or an error outside them
        self._rules: dict[tuple[str, str], int] = {}  # findings by (rule, severity)
        self._anchored: set[tuple[str, str]] = set()  # (rule, severity) anchored already
        self._opened = 0  # claims with findings shown open
        self._claims = 0  # claim blocks so far, which number their anchors
        self._mark = self._now()

    def _now(self) -> _Mark:
        return _Mark(
            self._tally.copy(),
            self._sets,
            self._rejected,
            self._arrivals,
            dict(self._rules),
            frozenset(self._anchored),
            self._opened,
            self._claims,
            self._listed.size,
        )

    # -- the sink -------------------------------------------------------------------------------

    def segment(self, segment: Segment) -> None:
        if self._mask is not None:
            text = self._mask.segment(segment.text, segment.delimiters.element)
            if text is not segment.text:  # (a new tuple: cheaper than _replace)
                segment = Segment(*segment[:6], text)
        sid = segment.id
        if sid == "ST":
            self._in_set = True
        elif sid in _OUTSIDE_SETS:
            self._in_set = False
        if self._in_set or self._buffer:
            self._buffer.append(segment)  # (placed when its set ends, or its interchange)
        else:  # outside every set, with nothing waiting before it: placed now
            self._place(segment)
        if sid == "SE":
            self._in_set = False

    def transaction(self, outcome: TransactionOutcome) -> None:
        self._sets += 1
        self._rejected |= outcome.ack is AckCode.REJECTED
        start = outcome.transaction.position.offset
        if self.wants_segments:
            buffer = self._buffer
            if buffer and buffer[0].offset >= start and buffer[-1].offset <= outcome.end:
                rows, self._buffer = buffer, []  # (the common case: just this set's segments)
            else:
                for segment in buffer:
                    if segment.offset < start:
                        self._place(segment)
                rows = [s for s in buffer if start <= s.offset <= outcome.end]
                self._buffer = [s for s in buffer if s.offset > outcome.end]
        else:
            rows = [s for c in outcome.claims for s in c.claim.all_segments()]
        beside: dict[int, list[_Waiting]] = {}
        for claim in outcome.claims:
            self._tally.add(claim)
            self._sort(claim.findings, _CLAIM, beside)
        self._sort(outcome.findings, _SET, beside)
        text, trailing = self._blocks(rows, outcome, beside)
        for offset, found in beside.items():  # no row of the set: a row yet to come, or none
            self._wait(offset, found)
        begin = self._open.size
        self._open.write(text.encode())
        self._end_piece()
        self._records.write(_RECORD.pack(begin, self._open.size, trailing))

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._loose(outcome.findings)
        self._place_buffer()
        self._flush()
        self._mark = self._now()

    def discard(self) -> None:
        mark = self._mark
        self._tally = mark.tally.copy()
        self._sets, self._rejected, self._claims = mark.sets, mark.rejected, mark.claims
        self._rules = dict(mark.rules)
        self._anchored = set(mark.anchored)
        self._opened = mark.opened
        self._listed.truncate(mark.listed)
        self._open.truncate(0)
        self._outside.truncate(0)
        self._records.truncate(0)
        self._piece, self._buffer = [], []
        self._in_set = False
        # The findings of the discarded sets come again with them.
        arrivals = mark.arrivals
        self._arrivals = arrivals
        for offset, found in list(self._waiting.items()):
            kept = [entry for entry in found if entry[1] <= arrivals]
            if kept:
                self._waiting[offset] = kept
            else:
                del self._waiting[offset]
        self._nowhere = [entry for entry in self._nowhere if entry[1] <= arrivals]

    def close(self, outcome: StreamOutcome) -> None:
        self._loose(outcome.findings)
        self._place_buffer()
        self._flush()
        if self._skipped:
            self._body.write(_other([_gap(self._skipped)], _Rows()).encode())
        left = sorted(self._nowhere)
        by_offset = sorted(self._waiting.values(), key=min)
        left += [waiting for found in by_offset for waiting in sorted(found)]
        self._head([finding for _, _, finding in left])
        self._body.copy(self._out)
        self._out.write(f"<script>{_SCRIPT}</script></body></html>".encode())
        self.dispose()

    def dispose(self) -> None:
        self._body.close()
        self._open.close()
        self._records.close()
        self._outside.close()
        self._listed.close()

    # -- segments outside transaction sets -------------------------------------------------------

    def _place(self, segment: Segment) -> None:
        """A segment outside every transaction set joins the open interchange's blocks, in
        pieces of at most :data:`_PIECE` spooled as they fill: an interchange of nothing but
        envelopes holds no more than one piece in memory."""
        piece = self._piece
        piece.append(segment)
        if len(piece) >= _PIECE:
            self._end_piece()

    def _place_buffer(self) -> None:
        for segment in self._buffer:
            self._place(segment)
        self._buffer = []
        self._end_piece()

    def _end_piece(self) -> None:
        if self._piece:
            begin = self._outside.size
            self._outside.write(pickle.dumps(self._piece, pickle.HIGHEST_PROTOCOL))
            self._records.write(_RECORD.pack(begin, self._outside.size, _OUTSIDE))
            self._piece = []

    # -- findings ------------------------------------------------------------------------------

    def _sort(
        self, findings: Iterable[Finding], source: int, beside: dict[int, list[_Waiting]]
    ) -> None:
        rules = self._rules
        for finding in findings:
            self._arrivals += 1
            key = (finding.rule, finding.severity.value)
            rules[key] = rules.get(key, 0) + 1
            entry = (source, self._arrivals, finding)
            if finding.offset is None:
                self._nowhere.append(entry)
            else:
                beside.setdefault(finding.offset, []).append(entry)

    def _loose(self, findings: Iterable[Finding]) -> None:
        findings = list(findings)
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

    def _found(self, offset: int, beside: dict[int, list[_Waiting]]) -> list[_Waiting] | None:
        """The findings beside the segment at ``offset``, in order (taken: shown once)."""
        found = beside.pop(offset, None) if beside else None
        if self._waiting:
            more = self._waiting.pop(offset, None)
            if more:
                found = sorted((found or []) + more)
        return found

    def _finding(self, finding: Finding) -> str:
        severity = finding.severity.value
        anchor = ""
        key = (finding.rule, severity)
        if key not in self._anchored:  # a rule's first finding: the summary links here
            self._anchored.add(key)
            anchor = f' id="{_attribute(_anchor(*key))}"'
        parts = [
            f'<div class="finding {severity}"{anchor}>'
            f'<span class="rule">{_text(finding.rule)}</span>',
            _text(f" {severity}: {finding.message}"),
        ]
        if finding.fix:
            parts.append("<br>" + _text(f"fix: {finding.fix}"))
        if finding.source:
            parts.append("<br>" + _text(f"source: {finding.source}"))
        parts.append("</div>")
        return "".join(parts)

    # -- blocks --------------------------------------------------------------------------------

    def _blocks(
        self,
        segments: list[Segment],
        outcome: TransactionOutcome,
        beside: dict[int, list[_Waiting]],
    ) -> tuple[str, int]:
        """The blocks of a transaction set, and how many segments at its end were left out.

        A claim's block runs from the HL that leads to it (the billing provider's or the
        subscriber's, whichever comes first after the previous claim) to its last segment;
        the rest are runs outside claims. (The hot loop of the report: one row per segment.)
        """
        claims = [
            (c.claim.segments[0].offset, _last_offset(c), c)
            for c in outcome.claims
            if c.claim.segments
        ]
        out: list[str] = []
        # Segments left out before this set are the body's to count, not the set's.
        before, self._skipped = self._skipped, 0
        plain, held, block = _Rows(), _Rows(), _Rows()
        current: tuple[int, int, ClaimResult] | None = None
        following = iter(claims)  # in file order, as the segments are: one pass over both
        upcoming = next(following, None)
        for segment in segments:
            offset = segment.offset
            if current is not None and offset > current[1]:
                self._claim(current[2], block, out)
                current, block = None, _Rows()
            if current is None and upcoming is not None and offset >= upcoming[0]:
                current, block, held = upcoming, held, _Rows()
                upcoming = next(following, None)
            found = self._found(offset, beside)
            if current is not None:
                block.add(segment, found)
            elif held.rows or segment.id == "HL":
                if plain.rows:
                    self._run(plain, out)
                    plain = _Rows()
                held.add(segment, found)
            else:
                plain.add(segment, found)
        if current is not None:
            self._claim(current[2], block, out)
        plain.take(held)
        if plain.rows:
            self._run(plain, out)
        trailing, self._skipped = self._skipped, before
        return "".join(out), trailing

    def _gap_first(self) -> list[str]:
        if not self._skipped:
            return []
        gap, self._skipped = _gap(self._skipped), 0
        return [gap]

    def _run(self, run: _Rows, out: list[str]) -> None:
        """Segments outside claims (in compact mode, only envelopes and those with findings)."""
        rows: list[str] = []
        for segment, found in run.rows:
            if self._compact and not found and segment.id not in _ENVELOPES:
                self._skipped += 1
                continue
            rows += self._gap_first()
            rows.append(self._row(segment, found))
        if rows:
            out.append(_other(rows, run))

    def _claim(self, result: ClaimResult, block: _Rows, out: list[str]) -> None:
        if self._compact and not result.findings and not block.found:
            self._skipped += len(block.rows)
            return
        self._claims += 1
        anchor = f"c{self._claims}"
        verdict = _verdict(result)
        rules = block.rules | {f.rule for f in result.findings}
        severities = block.severities | {f.severity.value for f in result.findings}
        rows = self._gap_first()
        rows += [self._row(segment, found) for segment, found in block.rows]
        opened = ""
        if (result.findings or block.found) and self._opened < OPEN_LIMIT:
            self._opened += 1
            opened = " open"
        out.append(
            f'<details class="claim {verdict}" id="{anchor}" data-verdict="{verdict}" '
            f'data-rules="{_attribute(" ".join(sorted(rules)))}" '
            f'data-severities="{" ".join(sorted(severities))}"{opened}>'
            f"<summary>{_claim_head(result, verdict)}</summary>"
            f'<table class="segments">{_COLUMNS}{"".join(rows)}</table></details>'
        )
        if verdict == "rejected":
            self._list(result, anchor)

    def _list(self, result: ClaimResult, anchor: str) -> None:
        """A row of the rejected-claims table."""
        claim = result.claim
        first = next((f.rule for f in result.findings if f.severity is Severity.ERROR), "")
        self._listed.write(
            (
                f'<tr><td><a href="#{anchor}">{_text(claim.claim_id)}</a></td>'
                f"<td>{_text(_initials(result))}</td>"
                f'<td class="money">{_money(claim.total_charge)}</td>'
                f"<td>{_text(first)}</td>"
                f'<td class="codes">{_codes(result)}</td></tr>'
            ).encode()
        )

    def _row(self, segment: Segment, found: list[_Waiting] | None) -> str:
        notes = "".join([self._finding(f) for _, _, f in found]) if found else ""
        return (
            f'<tr><td class="no">{_number(segment)}</td>'
            f'<td class="seg">{_text(segment.text)}</td><td>{notes}</td></tr>'
        )

    def _flush(self) -> None:
        """The open interchange ended: its blocks, in order, go to the body."""
        body = self._body
        for start, end, trailing in self._blocks_waiting():
            if trailing == _OUTSIDE:
                # Our own spool, written by this sink in this process.
                segments: list[Segment] = pickle.loads(self._outside.read(start, end))  # noqa: S301
                run = _Rows()
                for segment in segments:
                    run.add(segment, self._found(segment.offset, {}))
                out: list[str] = []
                self._run(run, out)
                body.write("".join(out).encode())
                continue
            if start == end:
                self._skipped += trailing
                continue
            if self._skipped:
                body.write(_other(self._gap_first(), _Rows()).encode())
            self._open.copy(body, start, end)
            self._skipped = trailing
        self._records.truncate(0)
        self._open.truncate(0)
        self._outside.truncate(0)

    def _blocks_waiting(self) -> Iterator[tuple[int, int, int]]:
        """The open interchange's blocks, in order, read back from their spool."""
        records, size, step = self._records, self._records.size, _RECORD.size * _RECORDS_READ
        for start in range(0, size, step):
            yield from _RECORD.iter_unpack(records.read(start, min(start + step, size)))

    # -- the head ------------------------------------------------------------------------------

    def _head(self, elsewhere: list[Finding]) -> None:
        tally = self._tally
        verdict = "rejected" if self._rejected or tally.rejected else "accepted"
        name = _text(self._name)
        findings = (
            "<div>" + "".join(self._finding(f) for f in elsewhere) + "</div>"
            if elsewhere
            else "<p>none</p>"
        )
        warned = f", of which {tally.warned:,} with warnings" if tally.warned else ""
        summary = (
            f'<tr><th>claims</th><td class="count">{tally.claims:,}</td><td></td></tr>'
            f'<tr><th>accepted</th><td class="count">{tally.accepted:,}</td>'
            f'<td class="money">{_money(tally.accepted_amount)}</td><td>{warned}</td></tr>'
            f'<tr><th>rejected</th><td class="count">{tally.rejected:,}</td>'
            f'<td class="money">{_money(tally.rejected_amount)}</td><td></td></tr>'
            f'<tr><th>transaction sets</th><td class="count">{self._sets:,}</td><td></td></tr>'
            f'<tr><th>validated</th><td colspan="3">'
            f"{self._when.isoformat(timespec='seconds')}</td></tr>"
        )
        counted = sorted(
            ((rule, severity, n) for (rule, severity), n in self._rules.items()),
            key=lambda entry: (_SEVERITIES.index(Severity(entry[1])), -entry[2], entry[0]),
        )
        by_rule = "".join(
            f'<tr><td><a href="#{_attribute(_anchor(rule, severity))}" '
            f'data-rule="{_attribute(rule)}">'
            f'{_text(rule)}</a></td><td>{severity}</td><td class="count">{n:,}</td></tr>'
            for rule, severity, n in counted
            if severity != Severity.INFO.value
        )
        rules_table = (
            '<table class="list"><tr><th>rule</th><th>severity</th><th>findings</th></tr>'
            f"{by_rule}</table>"
            if by_rule
            else "<p>no errors or warnings</p>"
        )
        options = "".join(
            f'<option value="{_attribute(rule)}">{_text(rule)}</option>'
            for rule in sorted({rule for rule, _ in self._rules})
        )
        out = self._out
        out.write(
            (
                "<!DOCTYPE html>\n"
                f'<html lang="en"><head><meta charset="utf-8">'
                '<meta name="viewport" content="width=device-width, initial-scale=1">'
                f"<title>edi63650 report: {name}</title><style>{_STYLE}</style></head><body>"
                f'<h1>{name}: <span class="verdict-{verdict}">{verdict}</span></h1>'
                '<div class="overview" id="summary">'
                f'<section><h2>Summary</h2><table class="summary">{summary}</table></section>'
                f"<section><h2>Errors and warnings by rule</h2>{rules_table}</section></div>"
            ).encode()
        )
        if tally.rejected:
            out.write(
                f'<section id="rejected"><h2>Rejected claims ({tally.rejected:,})</h2>'
                '<table class="list"><tr><th>claim (CLM01)</th><th>patient</th><th>charge</th>'
                "<th>first rule</th><th>277CA status</th></tr>".encode()
            )
            self._listed.copy(out)
            out.write(b"</table></section>")
        out.write(
            (
                f'<section id="elsewhere"><h2>Findings between segments</h2>{findings}</section>'
                '<form id="filters" hidden><label>verdict <select id="f-verdict">'
                '<option value="">all claims</option><option value="rejected">rejected</option>'
                '<option value="warned">accepted with warnings</option>'
                '<option value="accepted">accepted, no findings</option></select></label>'
                '<label>rule <select id="f-rule"><option value="">any rule</option>'
                f"{options}</select></label>"
                '<label>severity <select id="f-severity"><option value="">any severity</option>'
                '<option value="error">error</option><option value="warning">warning</option>'
                '<option value="info">info</option></select></label>'
                '<span id="shown"></span></form>'
                '<h2 id="file">The file, segment by segment</h2>'
            ).encode()
        )


def _number(segment: Segment) -> str:
    """The row's number: the segment's line or, where segments share lines (a file on one
    line), its ordinal in its transaction set (``#12``, as the 999's IK302 counts)."""
    line, ordinal = segment.line, segment.ordinal
    if line < ordinal or (line == 1 and segment.offset > 0):
        return f"#{ordinal}" if ordinal else ""
    return str(line)


def _last_offset(result: ClaimResult) -> int:
    claim = result.claim
    last = claim.lines[-1].segments if claim.lines and claim.lines[-1].segments else claim.segments
    return last[-1].offset


def _other(rows: list[str], run: _Rows) -> str:
    """A table of segments outside claims; the filters keep it when it holds findings."""
    found = (
        f' data-rules="{_attribute(" ".join(sorted(run.rules)))}"'
        f' data-severities="{" ".join(sorted(run.severities))}"'
        if run.found
        else ""
    )
    return f'<table class="segments other"{found}>{_COLUMNS}{"".join(rows)}</table>'
