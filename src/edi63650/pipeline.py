"""The streaming core: bytes in, outcomes out, decided as the data arrives (sans-IO).

A :class:`Pipeline` reads with a :class:`~edi63650.reader.Reader`, keeps the claims of the
open transaction set only, runs the rules over them when the set ends and returns a
:class:`~edi63650.outcome.TransactionOutcome`; at each group's end a
:class:`~edi63650.outcome.GroupOutcome`, at each interchange's end an
:class:`~edi63650.outcome.InterchangeOutcome`, and at the end of the input a
:class:`~edi63650.outcome.StreamOutcome`. Nothing of a finished transaction set or group is
kept, and the findings outside transaction sets are capped as they come.

Findings carry their scope, so each one goes where it belongs by looking at its numbers: a
claim's own (structure and builder findings about a claim come just before it), its
transaction set's, or the interchange's. Verdicts follow design.md section 4:

- an error finding on a claim rejects the claim (reported at 2200D, with 2220D for its lines);
- a syntax error confined to a claim rejects that claim (277CA ``A3:684``); the transaction
  set is accepted with errors (999 ``E``), or rejected whole with ``SyntaxPolicy.TRANSACTION``;
- an envelope error of a transaction set, an unsupported implementation, or an error at
  interchange or group level rejects the transaction sets concerned (999 ``R``), and with them
  their claims (``A3:684``).

An error at interchange or group level found only at the GE or IEA (a count, a control number,
a missing trailer) rejects sets already returned: their interchange outcome says so
(``retracts``), and :meth:`Pipeline.replay` reads that interchange again, from the same bytes,
to give its sets as finally decided, for writers that streamed them out already.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import attrs

from edi63650.findings import Finding, Severity
from edi63650.maps import Implementations
from edi63650.model import Claim
from edi63650.outcome import (
    SYNTAX_STATUS,
    AckCode,
    GroupOutcome,
    InterchangeOutcome,
    Outcome,
    StreamOutcome,
    SyntaxPolicy,
    TransactionOutcome,
    envelope_rejected,
)
from edi63650.reader import (
    CHUNK_SIZE,
    GroupEnd,
    InterchangeEnd,
    InterchangeStart,
    Reader,
    TransactionEnd,
)
from edi63650.rules.pack import Engine
from edi63650.segment import Segment
from edi63650.structure import Structure

#: What a pipeline returns: outcomes, and (with ``segments=True``) every segment, in order.
Output = Outcome | Segment

#: Findings of one rule reported per claim, and per file outside claims; the rest are counted
#: in one finding that says how many were left out (a verdict never changes because of it).
CAP = 100

#: Bytes a replay reads at a time past its interchange's own, up to the outcome that ends it.
_LOOKAHEAD = 4_096

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class _Caps:
    """Counts findings by rule, keeps the first :data:`CAP` of each, and sums up the rest."""

    def __init__(self, counts: dict[str, int] | None = None) -> None:
        self.counts: dict[str, int] = dict(counts or {})
        self._left: dict[str, tuple[int, Finding]] = {}  # rule -> (left out, the gravest)

    def keep(self, findings: list[Finding]) -> list[Finding]:
        return [finding for finding in findings if self.admit(finding)]

    def admit(self, finding: Finding) -> bool:
        """Count ``finding``; whether it is one of the first :data:`CAP` of its rule."""
        seen = self.counts[finding.rule] = self.counts.get(finding.rule, 0) + 1
        if seen <= CAP:
            return True
        left, gravest = self._left.get(finding.rule, (0, finding))
        if _RANK[finding.severity] > _RANK[gravest.severity]:
            gravest = finding
        self._left[finding.rule] = (left + 1, gravest)
        return False

    def summaries(self, where: str) -> list[Finding]:
        """One finding per rule that had findings left out of ``where``."""
        out = [
            attrs.evolve(
                gravest,
                message=f"{left} more {gravest.rule} findings in this {where} are not listed",
                fix="correct the ones listed, then validate again to see the rest",
                offset=None,
                line_no=None,
                ordinal=None,
                segment_id="",
                segment="",
                element="",
                line=None,
                syntax=None,
            )
            for left, gravest in self._left.values()
        ]
        self._left = {}
        return out


def capped(findings: list[Finding], where: str) -> list[Finding]:
    """``findings`` with at most :data:`CAP` of each rule, the rest summed up at the end."""
    if len(findings) <= CAP:
        return findings
    caps = _Caps()
    return [*caps.keep(findings), *caps.summaries(where)]


@attrs.frozen
class _Checkpoint:
    """Where the open interchange began, to read it again: the reader's start, the engine's
    history and the file's finding counts as they were."""

    start: InterchangeStart
    history: tuple[int, int]  # Engine.mark
    counts: dict[str, int]


class Pipeline:
    """Validates one stream: ``feed`` bytes, ``close`` at the end; each returns the outcomes
    completed. One pipeline per stream, not shared between threads.

    ``run`` names this reading in the history store, so that what it records can be taken
    back; ``segments`` returns the segments too, for reports that show the file.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        implementations: Implementations,
        structure: Structure,
        policy: SyntaxPolicy = SyntaxPolicy.CLAIM,
        segments: bool = False,
        run: str | None = None,
        _start: InterchangeStart | None = None,
        _rejected: int = 0,
        _counts: dict[str, int] | None = None,
    ) -> None:
        self._engine = engine
        self._implementations = implementations
        self._structure = structure
        self._policy = policy
        self._segments = segments
        self._run = run or uuid.uuid4().hex
        self._reader = Reader(
            implementations, boundaries=True, structure=structure, segments=segments, start=_start
        )
        self._replaying = _start is not None
        # A replay reads its ISA again: what that says was counted when it was first read.
        self._counting = not self._replaying
        self._claims: list[Claim] = []
        self._claim_findings: list[list[Finding]] = []  # the syntax findings of each claim
        self._pending: list[Finding] = []  # findings about a claim that has not come yet
        self._own: dict[int, list[Finding]] = {}  # transaction sets' own findings, by number
        self._loose: list[Finding] = []  # outside transaction sets, since the last outcome
        # The first error of each rule outside sets, uncapped: by interchange and by group.
        self._interchange_errors: dict[int, dict[str, Finding]] = {}
        self._group_errors: dict[int, dict[str, Finding]] = {}
        self._errors: set[int] = {_rejected} if _rejected else set()  # rejected interchanges
        self._yielded: set[int] = set()  # interchanges with sets returned as not rejected
        self._recorded: set[int] = set()  # interchanges that recorded into the history store
        self._sets = 0  # transaction sets in the open interchange
        self._fragment = 0  # transaction sets read without an ISA, not yet ended
        self._checkpoint: _Checkpoint | None = None
        self._caps = _Caps(_counts)  # findings outside claims, per rule, in the whole file
        self._queue: Sequence[object] = ()  # events not read yet: a pause after a retraction
        self._closing = False
        self._closed = False

    # -- sans-IO ------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Output]:
        """Take the next chunk of the stream; return the outcomes it completed."""
        return self._advance(self._reader.feed(data))

    def close(self) -> list[Output]:
        """End of the stream: the last outcomes, then the :class:`StreamOutcome`."""
        self._closing = True
        return self._advance(self._reader.close())

    @property
    def pending(self) -> bool:
        """Whether reading paused after an interchange outcome that retracts its sets (so
        that :meth:`replay` can read it again first); :meth:`resume` goes on."""
        return bool(self._queue) or (self._closing and not self._closed)

    def resume(self) -> list[Output]:
        """Go on after a pause: the outcomes of what was read already."""
        return self._advance([])

    def _advance(self, events: Sequence[object]) -> list[Output]:
        queue = [*self._queue, *events]
        self._queue = ()
        out: list[Output] = []
        stop = self._take(queue, out)
        if stop is not None:
            self._queue = queue[stop:]
        elif self._closing and not self._closed:
            self._closed = True
            self._close_fragment(out)
            loose = [*self._loose, *self._caps.summaries("file")]
            out.append(StreamOutcome(findings=tuple(loose)))
            self._loose = []
        return out

    def replay(self, outcome: InterchangeOutcome, source: BinaryIO) -> Iterator[Output]:
        """Read the interchange that ``outcome`` ended once more from ``source`` (the same
        bytes, seekable) and yield its transaction outcomes as finally decided, with the
        segments when the pipeline returns them, as each chunk gives them: nothing of the
        interchange is held for its end. Only for the interchange just ended; ``source`` is
        read until the last is taken."""
        checkpoint = self._checkpoint
        if checkpoint is None or checkpoint.start.number != outcome.number or not outcome.retracts:
            return
        self._checkpoint = None
        self._engine.rewind(checkpoint.history)
        again = Pipeline(
            self._engine,
            implementations=self._implementations,
            structure=self._structure,
            policy=self._policy,
            segments=self._segments,
            run=self._run,
            _start=checkpoint.start,
            _rejected=outcome.number,
            _counts=checkpoint.counts,
        )
        source.seek(checkpoint.start.offset)
        for batch in _read_again(again, source, outcome.end - checkpoint.start.offset):
            for item in batch:
                if isinstance(item, InterchangeOutcome):
                    return
                if isinstance(item, TransactionOutcome | GroupOutcome | Segment):
                    yield item

    # -- events -------------------------------------------------------------------------------

    def _take(self, events: Sequence[object], out: list[Output]) -> int | None:
        """Read events into ``out``; pause after an interchange outcome that retracts sets
        (returning where to go on), so that nothing after it is read before its replay; a
        replay stops after its interchange."""
        for index, event in enumerate(events):
            if isinstance(event, Segment):
                out.append(event)
            elif isinstance(event, Claim):
                self._claims.append(event)
                self._claim_findings.append(self._pending)
                self._pending = []
            elif isinstance(event, Finding):
                self._route(event)
            elif isinstance(event, TransactionEnd):
                out.append(self._close_transaction(event))
            elif isinstance(event, GroupEnd):
                found = self._group_errors.pop(event.number, {}).values()
                out.append(
                    GroupOutcome(
                        event.group,
                        event.interchange,
                        event.number,
                        event.transactions,
                        tuple(found),
                    )
                )
            elif isinstance(event, InterchangeEnd):
                outcome = self._close_interchange(event)
                out.append(outcome)
                # A replay reads its one interchange: the rules must not see what follows
                # it twice (the chunk read again holds the interchanges after it too).
                if (outcome.retracts or self._replaying) and index + 1 < len(events):
                    return index + 1
            elif isinstance(event, InterchangeStart):
                self._counting = True
                self._close_fragment(out)
                self._checkpoint = _Checkpoint(event, self._engine.mark(), dict(self._caps.counts))
        return None

    def _route(self, finding: Finding) -> None:
        scope = finding.scope
        if finding.claim_id is not None:
            self._pending.append(finding)
        elif scope.transaction:
            self._own.setdefault(scope.transaction, []).append(finding)
        else:
            if finding.severity is Severity.ERROR:
                if scope.interchange:
                    self._errors.add(scope.interchange)
                    errors = self._interchange_errors.setdefault(scope.interchange, {})
                    errors.setdefault(finding.rule, finding)
                if scope.group:
                    self._group_errors.setdefault(scope.group, {}).setdefault(finding.rule, finding)
            if self._counting and self._caps.admit(finding):
                self._loose.append(finding)

    def _close_transaction(self, end: TransactionEnd) -> TransactionOutcome:
        own = self._own.pop(end.scope.transaction, [])
        # Findings about a claim that never completed belong to the transaction set.
        own += self._pending
        self._pending = []
        claims, syntax = self._claims, self._claim_findings
        self._claims, self._claim_findings = [], []
        errors = any(f.severity is Severity.ERROR for f in own) or end.transaction.kind is None
        claim_syntax = any(f.severity is Severity.ERROR for found in syntax for f in found)
        # Claims rejected whatever the rules say (a rejected set or interchange, their own
        # syntax errors): the claims after them must not take them for accepted ones.
        whole = (
            errors
            or (claim_syntax and self._policy is SyntaxPolicy.TRANSACTION)
            or (end.scope.interchange in self._errors and end.interchange is not None)
        )
        refused = [whole or any(f.severity is Severity.ERROR for f in found) for found in syntax]
        results = list(self._engine.check(claims, record=False, refused=refused))
        if errors or (claim_syntax and self._policy is SyntaxPolicy.TRANSACTION):
            ack = AckCode.REJECTED
        elif claim_syntax:
            ack = AckCode.ERRORS
        else:
            ack = AckCode.ACCEPTED
        decided = []
        for result, found in zip(results, syntax, strict=True):
            flagged = [attrs.evolve(f, statuses=(SYNTAX_STATUS,)) for f in found]
            if ack is AckCode.REJECTED:
                flagged.append(envelope_rejected(result.claim))
            findings = capped([*flagged, *result.findings], "claim")
            decided.append(attrs.evolve(result, findings=tuple(findings)))
        outcome = TransactionOutcome(
            transaction=end.transaction,
            group=end.group,
            interchange=end.interchange,
            findings=tuple(self._caps.keep(own)),
            claims=tuple(decided),
            ack=ack,
            scope=end.scope,
            end=end.end,
        )
        number = end.scope.interchange
        if number in self._errors and end.interchange is not None:
            # An error at interchange or group level is known already.
            outcome = (
                outcome if outcome.ack is AckCode.REJECTED else outcome.rejected("interchange")
            )
        elif outcome.ack is not AckCode.REJECTED:
            self._yielded.add(number)
            if not self._replaying and self._engine.record(
                outcome.claims, batch=self._batch(number)
            ):
                self._recorded.add(number)
        if end.interchange is None:
            self._fragment += 1
        else:
            self._sets += 1
        return outcome

    def _close_interchange(self, end: InterchangeEnd) -> InterchangeOutcome:
        number = end.number
        rejected = number in self._errors
        retracts = rejected and number in self._yielded
        if retracts and number in self._recorded:
            self._engine.forget(self._batch(number))
        checkpoint = self._checkpoint
        if rejected and checkpoint is not None and checkpoint.start.number == number:
            # Its claims were not accepted after all: the claims after them must not see them.
            self._engine.unaccept(checkpoint.history)
        outcome = InterchangeOutcome(
            interchange=end.interchange,
            number=number,
            findings=tuple(self._loose),
            rejected=rejected,
            retracts=retracts,
            transactions=self._sets,
            end=end.end,
            errors=tuple(self._interchange_errors.pop(number, {}).values()),
        )
        self._loose = []
        self._sets = 0
        self._yielded.discard(number)
        self._recorded.discard(number)
        return outcome

    def _close_fragment(self, out: list[Output]) -> None:
        """Transaction sets that came without an ISA end as an interchange of their own."""
        if not self._fragment:
            return
        out.append(
            InterchangeOutcome(
                interchange=None,
                number=0,
                findings=tuple(self._loose),
                rejected=False,
                retracts=False,
                transactions=self._fragment,
                end=0,
            )
        )
        self._fragment = 0
        self._loose = []

    def _batch(self, number: int) -> str:
        return f"{self._run}:{number}"


def _read_again(pipeline: Pipeline, source: BinaryIO, length: int) -> Iterator[list[Output]]:
    """What ``pipeline`` returns for ``source``: its interchange's own ``length`` bytes, then
    a little at a time up to the outcome (its IEA, or what closed it), so that what comes after
    is read, and built, as little as may be; then what it returns at the end of ``source``."""
    while chunk := source.read(min(CHUNK_SIZE, length) if length > 0 else _LOOKAHEAD):
        length -= len(chunk)
        yield pipeline.feed(chunk)
    yield pipeline.close()
