"""Validation: read a file, run the rules, decide every verdict; write the answers.

Three ways in, from the most streaming to the most convenient:

- :meth:`Validator.outcomes` (and :func:`iter_outcomes`): a lazy iterator of the streaming
  core's outcomes (:mod:`edi63650.outcome`), one transaction set at a time, in bounded memory;
- :meth:`Validator.write`: one pass that feeds writers (:mod:`edi63650.writers`: 277CA, 999,
  JSON, text, HTML, accepted claims) as the outcomes come; what the CLI and the drop folder
  use, whatever the size of the file;
- :meth:`Validator.validate` / :func:`validate`: a :class:`ValidationResult` that holds
  everything about the input in memory (every claim, finding and outcome) and renders itself;
  meant for files of a size that fits comfortably in memory.

The verdicts are decided in :mod:`edi63650.pipeline`.
"""

from __future__ import annotations

import datetime
import io
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

from edi63650.errors import EdiUsageError, binary_stream
from edi63650.findings import Finding, Severity
from edi63650.maps import Implementations
from edi63650.model import Interchange
from edi63650.outcome import (
    AckCode,
    GroupOutcome,
    InterchangeOutcome,
    Outcome,
    StreamOutcome,
    SyntaxPolicy,
    TransactionOutcome,
)
from edi63650.pipeline import Output, Pipeline
from edi63650.reader import CHUNK_SIZE
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import HistoryStore
from edi63650.rules.pack import Engine, check_profile
from edi63650.rules.tables import Tables
from edi63650.segment import Segment
from edi63650.structure import Structure
from edi63650.tokenizer import Tokenizer
from edi63650.writers.accepted import AcceptedSink
from edi63650.writers.ack277 import Ack277Sink
from edi63650.writers.ack999 import Ack999Sink
from edi63650.writers.common import Tally
from edi63650.writers.numbers import ControlNumbers
from edi63650.writers.report_html import COMPACT_ABOVE, HtmlSink
from edi63650.writers.report_json import JsonSink
from edi63650.writers.report_text import TextSink
from edi63650.writers.sink import Fanout, Sink


@attrs.frozen
class ValidationResult:
    """Everything said about one input, held in memory: the outcomes in stream order, each
    transaction set as finally decided."""

    name: str
    outcomes: tuple[Outcome, ...]
    validated: datetime.datetime

    @property
    def transactions(self) -> tuple[TransactionOutcome, ...]:
        return tuple(o for o in self.outcomes if isinstance(o, TransactionOutcome))

    @property
    def findings(self) -> tuple[Finding, ...]:
        """The findings outside every transaction set: framing and envelopes."""
        return tuple(
            f
            for o in self.outcomes
            if isinstance(o, InterchangeOutcome | StreamOutcome)
            for f in o.findings
        )

    @property
    def interchanges(self) -> tuple[Interchange, ...]:
        return tuple(
            o.interchange
            for o in self.outcomes
            if isinstance(o, InterchangeOutcome) and o.interchange is not None
        )

    @property
    def claims(self) -> tuple[ClaimResult, ...]:
        return tuple(c for t in self.transactions for c in t.claims)

    @property
    def accepted_claims(self) -> tuple[ClaimResult, ...]:
        return tuple(c for c in self.claims if c.accepted)

    @property
    def rejected(self) -> bool:
        """Any claim, transaction set or interchange rejected, or nothing readable at all."""
        return (
            any(not c.accepted for c in self.claims)
            or any(t.ack is AckCode.REJECTED for t in self.transactions)
            or any(f.severity is Severity.ERROR for f in self.findings)
        )

    def feed(self, sink: Sink, data: bytes | None = None) -> None:
        """Give ``sink`` the outcomes (and, when it wants them, the segments of ``data``, the
        input read afresh), as the one pass would have."""
        segments = _segments(data) if sink.wants_segments and data is not None else iter(())
        waiting: list[Segment] = []

        def until(offset: int | None) -> None:
            for segment in waiting:
                sink.segment(segment)
            waiting.clear()
            for segment in segments:
                if offset is not None and segment.offset > offset:
                    waiting.append(segment)
                    return
                sink.segment(segment)

        for outcome in self.outcomes:
            if isinstance(outcome, TransactionOutcome):
                until(outcome.end)
                sink.transaction(outcome)
            elif isinstance(outcome, GroupOutcome):
                sink.group(outcome)
            elif isinstance(outcome, InterchangeOutcome):
                if outcome.interchange is not None:
                    until(outcome.end)
                sink.interchange(outcome)
            else:
                until(None)
                sink.close(outcome)

    def _render(self, sink: Sink, out: io.BytesIO, data: bytes | None = None) -> bytes:
        self.feed(sink, data)
        return out.getvalue()

    def to_277ca(self, *, control_number: int | None = None) -> bytes:
        out = io.BytesIO()
        return self._render(Ack277Sink(out, self.validated, control_number=control_number), out)

    def to_999(self, *, control_number: int | None = None) -> bytes:
        out = io.BytesIO()
        return self._render(Ack999Sink(out, self.validated, control_number=control_number), out)

    def to_json(self) -> str:
        out = io.BytesIO()
        return self._render(JsonSink(out, self.name, self.validated), out).decode()

    def to_text(self, *, colour: bool = False, show_phi: bool = False) -> str:
        """The text report; patients' names, ids and birth dates masked unless ``show_phi``."""
        out = io.BytesIO()
        sink = TextSink(out, self.name, colour=colour, show_phi=show_phi)
        return self._render(sink, out).decode()

    def to_html(self, data: bytes | None = None, *, show_phi: bool = False) -> str:
        """The HTML report (the file segment by segment when given ``data``); patients' data
        masked unless ``show_phi``."""
        out = io.BytesIO()
        sink = HtmlSink(
            out,
            self.name,
            self.validated,
            segments=data is not None,
            compact=data is not None and len(data) > COMPACT_ABOVE,
            show_phi=show_phi,
        )
        return self._render(sink, out, data).decode()

    def accepted_837(self) -> bytes | None:
        out = io.BytesIO()
        sink = AcceptedSink(out)
        data = self._render(sink, out)
        return data if sink.written else None


def _segments(data: bytes) -> Iterator[Segment]:
    """The segments of ``data``, tokenized afresh in chunks."""
    tokenizer = Tokenizer()
    for start in range(0, len(data), CHUNK_SIZE):
        for token in tokenizer.feed(data[start : start + CHUNK_SIZE]):
            if isinstance(token, Segment):
                yield token
    for token in tokenizer.close():
        if isinstance(token, Segment):
            yield token


#: Rules a :class:`Summary` names as the reasons for rejections (the first found).
_REASONS = 5


class Summary(Sink):
    """What :meth:`Validator.write` tells its caller: the counts, and why a file was
    rejected (``errors``: the rules of the errors outside transaction sets)."""

    def __init__(self, name: str = "-") -> None:
        self.name = name
        self.tally = Tally()
        self.transactions = 0
        self.rejected_sets = 0
        self.errors: set[str] = set()
        self.reasons: list[str] = []  # the first rules that rejected a claim or a set
        self._mark = (Tally(), 0, 0)

    @property
    def rejected(self) -> bool:
        """Any claim, transaction set or interchange rejected, or nothing readable at all."""
        return bool(self.tally.rejected or self.rejected_sets or self.errors)

    def transaction(self, outcome: TransactionOutcome) -> None:
        self.tally.add_all(outcome.claims)
        self.transactions += 1
        self.rejected_sets += outcome.ack is AckCode.REJECTED
        if len(self.reasons) < _REASONS:
            rejecting = [
                *outcome.findings,
                *(f for c in outcome.claims if not c.accepted for f in c.findings),
            ]
            for finding in rejecting:
                if finding.severity is Severity.ERROR and finding.rule not in self.reasons:
                    self.reasons.append(finding.rule)
                    if len(self.reasons) == _REASONS:
                        break

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._errors(outcome.findings)
        self._mark = (self.tally.copy(), self.transactions, self.rejected_sets)

    def discard(self) -> None:
        tally, self.transactions, self.rejected_sets = self._mark
        self.tally = tally.copy()

    def close(self, outcome: StreamOutcome) -> None:
        self._errors(outcome.findings)

    def _errors(self, findings: Sequence[Finding]) -> None:
        self.errors.update(f.rule for f in findings if f.severity is Severity.ERROR)


class Validator:
    """Validates inputs with one set of tables, profile and history. Not shared by threads;
    make one per thread (tables may be shared: they are immutable)."""

    def __init__(
        self,
        *,
        tables: Tables | None = None,
        implementations: Implementations | None = None,
        profile: str = "auto",
        history: HistoryStore | None = None,
        syntax_policy: str = "claim",
        now: datetime.datetime | None = None,
        structure: Structure | None = None,
        control_numbers: ControlNumbers | None = None,
        control_start: int = 1,
    ) -> None:
        self.tables = tables if tables is not None else Tables.load()
        check_profile(self.tables, profile)
        self.structure = structure if structure is not None else Structure.load()
        self.implementations = implementations or Implementations.load()
        self.profile = profile
        self.history = history
        if syntax_policy not in SyntaxPolicy.__members__.values():
            raise EdiUsageError(
                f"syntax_policy must be claim or transaction, not {syntax_policy!r}"
            )
        self.syntax_policy = SyntaxPolicy(syntax_policy)
        self.now = now  # fixed for reproducible acknowledgments; else the time of each run
        # Our acknowledgments' control numbers: from a store shared by every input, or else
        # counting from ``control_start`` for each input.
        self.control_numbers = control_numbers
        self.control_start = control_start

    def pipeline(self, *, segments: bool = False) -> Pipeline:
        """A streaming core for one input (sans-IO: feed it bytes)."""
        run = uuid.uuid4().hex  # names what this reading records in the history store
        engine = Engine(
            self.tables,
            profile=self.profile,
            history=self.history,
            today=self.when().date(),
            run=run,
        )
        return Pipeline(
            engine,
            implementations=self.implementations,
            structure=self.structure,
            policy=self.syntax_policy,
            segments=segments,
            run=run,
        )

    def when(self) -> datetime.datetime:
        return self.now or datetime.datetime.now()

    def outcomes(self, stream: BinaryIO) -> Iterator[Outcome]:
        """The outcomes of a binary stream, lazily, as each is decided (see
        :mod:`edi63650.outcome` for when a transaction outcome is final)."""
        binary_stream(stream, "outcomes() and validate_stream()")
        pipeline = self.pipeline()
        while chunk := stream.read(CHUNK_SIZE):
            yield from _outcomes(pipeline.feed(chunk))
        yield from _outcomes(pipeline.close())
        while pipeline.pending:
            yield from _outcomes(pipeline.resume())

    def write(
        self,
        stream: BinaryIO,
        sinks: Sequence[Sink],
        name: str = "-",
        *,
        progress: Callable[[int, Summary], None] | None = None,
    ) -> Summary:
        """Validate a seekable binary stream in one pass, feeding ``sinks``; returns what the
        caller needs to know. Memory stays bounded by one transaction set, whatever the size
        of the input. (An interchange rejected at its trailer after its sets were written is
        read again from ``stream``, and the sinks are fed it as decided.) ``progress`` is
        called after each chunk with the bytes read so far and the summary."""
        binary_stream(stream, "write()")
        summary = Summary(name)
        sink = Fanout([*sinks, summary])
        pipeline = self.pipeline(segments=sink.wants_segments)

        def give(outputs: Iterable[Output]) -> None:
            for item in outputs:
                if isinstance(item, Segment):
                    sink.segment(item)
                elif isinstance(item, TransactionOutcome):
                    sink.transaction(item)
                elif isinstance(item, GroupOutcome):
                    sink.group(item)
                elif isinstance(item, InterchangeOutcome):
                    if item.retracts:
                        sink.discard()
                        position = stream.tell()
                        give(pipeline.replay(item, stream))
                        stream.seek(position)
                    sink.interchange(item)
                else:
                    sink.close(item)

        def deliver(outputs: list[Output]) -> None:
            give(outputs)
            while pipeline.pending:  # it paused after an interchange read again above
                give(pipeline.resume())

        read = 0
        try:
            while chunk := stream.read(CHUNK_SIZE):
                deliver(pipeline.feed(chunk))
                if progress is not None:
                    read += len(chunk)
                    progress(read, summary)
            deliver(pipeline.close())
        finally:
            sink.dispose()
        return summary

    def validate_stream(self, stream: BinaryIO, name: str = "-") -> ValidationResult:
        """Validate a binary stream; the result holds everything in memory."""
        outcomes: list[Outcome] = []
        held: list[TransactionOutcome | GroupOutcome] = []  # the open interchange's
        for outcome in self.outcomes(stream):
            if isinstance(outcome, TransactionOutcome | GroupOutcome):
                held.append(outcome)
                continue
            if isinstance(outcome, InterchangeOutcome):
                outcomes += (
                    outcome.restate(t) if isinstance(t, TransactionOutcome) else t for t in held
                )
            else:
                outcomes += held
            held = []
            outcomes.append(outcome)
        return ValidationResult(name=name, outcomes=tuple(outcomes), validated=self.when())

    def validate(self, source: bytes | str | os.PathLike[str]) -> ValidationResult:
        if isinstance(source, bytes):
            return self.validate_stream(io.BytesIO(source))
        if not isinstance(source, str | os.PathLike):
            raise EdiUsageError(
                f"validate() takes bytes or a path, not {type(source).__name__}"
                + ("; for a stream use validate_stream()" if hasattr(source, "read") else "")
            )
        path = Path(source)
        with path.open("rb") as stream:
            return self.validate_stream(stream, path.name)


def _outcomes(outputs: list[Output]) -> Iterator[Outcome]:
    for item in outputs:
        if not isinstance(item, Segment):
            yield item


def validate(source: bytes | str | os.PathLike[str], **options: object) -> ValidationResult:
    """Validate bytes or a file; ``options`` are those of :class:`Validator`."""
    return Validator(**options).validate(source)  # type: ignore[arg-type]


def validate_stream(stream: BinaryIO, name: str = "-", **options: object) -> ValidationResult:
    """Validate a binary stream; ``options`` are those of :class:`Validator`."""
    return Validator(**options).validate_stream(stream, name)  # type: ignore[arg-type]


def iter_outcomes(stream: BinaryIO, **options: object) -> Iterator[Outcome]:
    """The outcomes of a binary stream, lazily; ``options`` are those of :class:`Validator`."""
    return Validator(**options).outcomes(stream)  # type: ignore[arg-type]
