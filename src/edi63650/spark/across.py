"""The rules across claims over a whole dataset: the two steps of :func:`edi63650.spark.
validate_frames`, around one shuffle by patient. No pyspark here.

1. :func:`first_pass`, one task per piece: the piece is validated alone (by
   :func:`rows.records`, as :func:`rows.rows` validates it); its rows outside claims are
   final, and its claims go out grouped by patient key (:func:`edi63650.dataset.submissions`),
   with what their rows need;
2. :func:`second_pass`, one call per patient: the patient's claims, if they came from more
   than one piece, are judged again in the dataset's order (:func:`edi63650.dataset.rejudge`:
   file, then place in the file), as one ``validate --history`` run over the files in that
   order judges them; then every claim becomes its rows of the three tables.

A patient whose claims all came from one piece keeps the first pass's results: nothing before
the piece concerned them, and inside the piece the first pass was that run already.
"""

from __future__ import annotations

import pickle
import zlib
from collections.abc import Iterable, Iterator

import attrs

from edi63650.dataset import Submission, rejudge, submissions
from edi63650.outcome import InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import PatientKeys
from edi63650.spark.inputs import Piece
from edi63650.spark.rows import (
    COLUMNS,
    INTERNAL_ERROR,
    Row,
    RowBuilder,
    Settings,
    envelope_of,
    records,
    tables_of,
)

#: A first-pass record: ("", (table, row)) for a row that is final, or (patient key, a
#: :data:`Claims`) for one patient's claims of a transaction set.
Record = tuple[str, object]

#: One patient's claims of a transaction set on their way to the second pass: the
#: submission's place, its piece (path, start), its envelope's control numbers (interchange,
#: group, transaction set) and the pickled, compressed :class:`Submission`, which the second
#: pass opens one at a time.
Claims = tuple[tuple[int, int, int], tuple[str, int], Row, bytes]


def first_pass(
    piece: Piece, file: int, settings: Settings, grouping: PatientKeys
) -> Iterator[Record]:
    """Validate ``piece`` (of file number ``file`` in the dataset's order) alone; ``grouping``
    keys the patients alike in every task (the user's key, or one made for this job)."""
    _, levels = tables_of(settings.maps)
    findings = RowBuilder("findings", piece, levels, settings.keys)
    return records(piece, settings, _Records(findings, piece, file, grouping))


@attrs.frozen
class _Records:
    """The first pass's records of each outcome (fed by :class:`RowSink`, which keeps an
    interchange's provisional until its end)."""

    findings: RowBuilder
    piece: Piece
    file: int
    grouping: PatientKeys

    def transaction(self, outcome: TransactionOutcome) -> Iterator[Record]:
        for finding in outcome.findings:  # the set's own
            yield "", ("findings", self.findings.finding(finding, envelope_of(outcome)))
        envelope = envelope_of(outcome)
        end = self.piece.offset(outcome.end)
        for patient, submission in submissions(outcome, self.file, self.grouping, end):
            data = zlib.compress(pickle.dumps(submission, pickle.HIGHEST_PROTOCOL), 1)
            piece = (self.piece.path, self.piece.start)
            claims: Claims = (submission.place, piece, envelope, data)
            yield patient, claims

    def interchange(self, outcome: InterchangeOutcome) -> Iterator[Record]:
        for row in self.findings.interchange(outcome):
            yield "", ("findings", row)

    def stream(self, outcome: StreamOutcome) -> Iterator[Record]:
        for row in self.findings.stream(outcome):
            yield "", ("findings", row)

    def failed(self, rule: str, message: str) -> Iterator[Record]:
        for row in self.findings.failed(rule, message):
            yield "", ("findings", row)


def second_pass(payloads: Iterable[Claims], settings: Settings) -> Iterator[tuple[str, Row]]:
    """One patient's claims (the first pass's :data:`Claims`) as the rows of every table,
    ``(table, row)``. Only their pickled bytes are held: each submission is opened, judged
    and turned into rows in the dataset's order, then let go."""
    held = sorted(payloads, key=lambda claims: claims[0])
    taken = (opened(data) for *_, data in held)
    decided: Iterable[tuple[Submission, tuple[ClaimResult, ...]]]
    tables, levels = tables_of(settings.maps)
    if len({piece for _, piece, _, _ in held}) == 1:  # the first pass saw them all
        decided = ((submission, submission.first) for submission in taken)
    else:
        decided = rejudge(taken, tables=tables, profile=settings.profile, ordered=True)
    builders: dict[tuple[str, int], list[RowBuilder]] = {}
    judged = iter(decided)
    for index, (_, piece, envelope, data) in enumerate(held):
        made = builders.get(piece)
        if made is None:
            where = Piece(*piece)
            made = builders[piece] = [
                RowBuilder(table, where, levels, settings.keys) for table in COLUMNS
            ]
        try:
            _, results = next(judged)
        except Exception as error:  # a row saying so, never a failed job
            # The first pass's results stand for the rest of this patient's claims.
            message = f"internal error ({type(error).__name__}) across files: {error}"
            for row in made[-1].failed(INTERNAL_ERROR, message):
                yield "findings", row
            judged = ((s, s.first) for s in (opened(d) for *_, d in held[index + 1 :]))
            results = opened(data).first
        for builder in made:
            for result in results:
                for row in builder.claim(result, envelope):
                    yield builder.table, row


def opened(data: bytes) -> Submission:
    """The submission a first-pass :data:`Claims` carries (its pickled bytes, compressed:
    a claim's objects pickle to over ten times its bytes in the file, half that compressed)."""
    submission: Submission = pickle.loads(zlib.decompress(data))  # noqa: S301 - ours
    return submission
