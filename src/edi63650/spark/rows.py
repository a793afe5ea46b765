"""The rows of the three Spark tables, made from the library's own outcomes. No pyspark here.

A task validates its piece of a file with :meth:`edi63650.validate.Validator.write`, the one
pass the command line makes, and a :class:`RowSink` turns each outcome into rows as the JSON
report turns it into values (:mod:`edi63650.writers.report_json`): the verdict, phase and
findings of each claim, and the 277CA statuses of
:func:`edi63650.writers.ack277.claim_statuses`. Nothing is decided here.

The columns (see :data:`COLUMNS`; their types are in :mod:`edi63650.spark.schema` and the
README):

- every row names its ``file`` and the interchange, group and transaction-set control numbers
  it belongs to; with ``claim_offset`` (the byte offset of the claim's CLM in the file) a line
  or finding joins back to exactly one claim (``claim_id`` alone is not unique);
- no row holds a patient's name, member id, address or birth date: the patient is
  ``patient_key``, the history's keyed hash (None without a key), and a finding keeps its
  message, fix and source as the JSON report does, never the raw segment.

A file that cannot be read, or whose reading fails inside the library, gives no claim or line,
and one finding (:data:`UNREADABLE`, :data:`INTERNAL_ERROR`) with the line the command line
prints for it. A file that is not X12 gives what the command line reports: its findings
(``X12-NOT-X12`` ...), and no claim.
"""

from __future__ import annotations

import functools
import io
import pickle
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import attrs

from edi63650.errors import EdiError
from edi63650.findings import Finding, Severity
from edi63650.model import (
    Claim,
    Group,
    InstitutionalServiceLine,
    Interchange,
    ProfessionalClaim,
    ProfessionalServiceLine,
    ServiceLine,
    Transaction,
)
from edi63650.outcome import InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import PatientKeys
from edi63650.rules.pack import Engine
from edi63650.rules.tables import Tables
from edi63650.spark import storage
from edi63650.spark.piece import Piece, PieceStream
from edi63650.validate import Validator
from edi63650.writers.ack277 import claim_statuses, service_period
from edi63650.writers.sink import SPOOL_MEMORY, Sink

Row = tuple[object, ...]

#: The columns that place a row: its file, envelopes and claim.
_PLACE = (
    "file",
    "interchange_control_number",
    "group_control_number",
    "transaction_control_number",
    "claim_id",
    "claim_offset",
)

CLAIM_COLUMNS = (
    *_PLACE,
    "patient_key",
    "billing_npi",
    "rendering_npi",
    "payer_id",
    "filing_indicator",
    "total_charge",
    "first_service_date",
    "last_service_date",
    "verdict",
    "phase",
    "rules",
    "statuses",
)
LINE_COLUMNS = (
    *_PLACE,
    "line",
    "procedure_qualifier",
    "procedure_code",
    "modifiers",
    "units",
    "charge",
    "service_date",
    "revenue_code",
    "place_of_service",
    "verdict",
)
FINDING_COLUMNS = (
    "rule",
    "severity",
    "snip_level",
    *_PLACE,
    "line",
    "path",
    "element",
    "message",
    "fix",
    "source",
    "offset",
)

#: The tables, by the name the ``table`` option gives.
COLUMNS: Mapping[str, tuple[str, ...]] = {
    "claims": CLAIM_COLUMNS,
    "lines": LINE_COLUMNS,
    "findings": FINDING_COLUMNS,
}

#: Amounts are decimal(18, 2) (X12 R 1/18, two places), units decimal(15, 3) (SV104 / SV205);
#: a value that does not fit exactly is None (its element has a finding of its own).
MONEY = (18, 2)
UNITS = (15, 3)

#: Rule ids of the findings a file gets when it cannot be validated, with the command line's
#: line for it as the message.
UNREADABLE = "FILE-UNREADABLE"
INTERNAL_ERROR = "INTERNAL-ERROR"

#: WEDI SNIP levels of the findings outside the rule catalogue, by rule id prefix: framing and
#: envelopes (level 1), the implementation guide and the claim builder's data types (level 2).
_LEVELS = (("X12-", 1), ("ENV-", 1), ("FILE-", 1), ("IG-", 2), ("837-", 2))


@attrs.frozen
class Settings:
    """What every task of a read is given (picklable): the table, the profile, the maps
    folder (None: the bundled maps) and the patients' keys (None: ``patient_key`` is None)."""

    table: str
    profile: str = "auto"
    maps: str | None = None
    keys: PatientKeys | None = attrs.field(default=None, eq=False)


@functools.lru_cache(maxsize=4)
def tables_of(maps: str | None) -> tuple[Tables, Mapping[str, int]]:
    """The rule tables of ``maps`` and the SNIP level of each rule, loaded once per process
    (they are immutable; Spark reuses its Python workers across tasks)."""
    tables = Tables.load(Path(maps) if maps else None)
    return tables, {info.id: info.level for info in Engine(tables).catalogue}


def snip_level(rule: str, levels: Mapping[str, int]) -> int | None:
    """The WEDI SNIP level of a finding's rule: the catalogue's, else by its prefix."""
    if rule in levels:
        return levels[rule]
    return next((level for prefix, level in _LEVELS if rule.startswith(prefix)), None)


def rows(piece: Piece, settings: Settings) -> Iterator[Row]:
    """The rows of ``settings.table`` for ``piece``, validated as ``edi63650 validate`` does,
    in stream order. Never raises for the input: an unreadable file or a failure inside the
    library is one finding row (for the findings table) instead of the piece's rows."""
    _, levels = tables_of(settings.maps)
    return records(piece, settings, RowBuilder(settings.table, piece, levels, settings.keys))


def records(piece: Piece, settings: Settings, builder: Builder) -> Iterator[Any]:
    """What ``builder`` makes of the outcomes of ``piece``, validated as ``edi63650
    validate`` does (profile and maps of ``settings``), in stream order; for a file that
    cannot be read, or whose reading fails inside the library, what it makes of that failure
    instead (:meth:`Builder.failed`)."""
    tables, _ = tables_of(settings.maps)
    validator = Validator(tables=tables, profile=settings.profile)
    try:
        file = storage.open_binary(piece.path)
    except OSError as error:
        yield from builder.failed(UNREADABLE, f"cannot read: {error.strerror or error}")
        return
    sink = RowSink(builder)
    try:
        try:
            with (
                closing(file),
                io.BufferedReader(PieceStream(file, piece)) as stream,
            ):
                validator.write(stream, [sink], storage.display_name(piece.path))
        except OSError as error:
            yield from builder.failed(UNREADABLE, f"cannot read: {error.strerror or error}")
            return
        except Exception as error:  # the promise is one row naming the file, no traceback
            yield from builder.failed(
                INTERNAL_ERROR, f"internal error ({type(error).__name__}): {error}"
            )
            return
        yield from sink.rows()
    finally:
        sink.release()


class RowBuilder:
    """Turns outcomes into the rows of one table, for one piece of a file (offsets are
    the file's: the piece's start is added)."""

    def __init__(
        self,
        table: str,
        piece: Piece,
        levels: Mapping[str, int],
        keys: PatientKeys | None = None,
    ) -> None:
        if table not in COLUMNS:
            raise EdiError(f"table must be one of {', '.join(COLUMNS)}, not {table!r}")
        self.table = table
        self._file = piece.path
        self._piece = piece
        self._levels = levels
        self._keys = keys

    def transaction(self, outcome: TransactionOutcome) -> Iterator[Row]:
        envelope = envelope_of(outcome)
        if self.table == "findings":
            for finding in outcome.findings:
                yield self._finding(finding, envelope, None)
        for result in outcome.claims:
            yield from self.claim(result, envelope)

    def claim(self, result: ClaimResult, envelope: Row) -> Iterator[Row]:
        """The rows of one claim of a transaction set with control numbers ``envelope``."""
        claim = result.claim
        offset = self._offset(claim.position.offset)
        place = (self._file, *envelope, claim.claim_id, offset)
        if self.table == "claims":
            yield self._claim(result, place)
        elif self.table == "lines":
            rejected = result.rejected_lines
            for line in result.claim.lines:
                yield _line(result.claim, line, place, rejected)
        else:
            for finding in result.findings:
                yield self._finding(finding, envelope, offset)

    def interchange(self, outcome: InterchangeOutcome) -> Iterator[Row]:
        if self.table != "findings":
            return
        for finding in outcome.findings:
            if not self._piece.reports(finding):
                continue  # about a copied ISA or GS, or a written GE or IEA: not this piece's
            interchange = outcome.interchange if outcome.own(finding) else None
            yield self._finding(finding, _envelope(interchange, None, None), None)

    def stream(self, outcome: StreamOutcome) -> Iterator[Row]:
        if self.table != "findings":
            return
        for finding in outcome.findings:
            if self._piece.reports(finding):
                yield self._finding(finding, (None, None, None), None)

    def failed(self, rule: str, message: str) -> Iterator[Row]:
        """The row of a file that could not be validated (findings table only)."""
        if self.table != "findings":
            return
        line = f"edi63650: {storage.display_name(self._file)}: {message}"
        yield self._finding(Finding(rule, Severity.ERROR, line), (None, None, None), None)

    def _offset(self, offset: int | None) -> int | None:
        return None if offset is None else self._piece.offset(offset)

    def _claim(self, result: ClaimResult, place: Row) -> Row:
        claim = result.claim
        ctx = claim.context
        subscriber = ctx.subscriber
        period = service_period(claim)
        rules = dict.fromkeys(f.rule for f in result.findings if f.severity is not Severity.INFO)
        return (
            *place,
            self._keys.key(claim) if self._keys is not None else None,
            (ctx.billing_provider.npi if ctx.billing_provider else None) or None,
            (claim.rendering.npi if claim.rendering else None) or None,
            (subscriber.payer_id if subscriber else None) or None,
            (subscriber.claim_filing_indicator if subscriber else None) or None,
            exact(claim.total_charge, MONEY),
            period[0] if period else None,
            period[1] if period else None,
            "accepted" if result.accepted else "rejected",
            result.phase.value if result.phase else None,
            list(rules),
            [str(status) for stc in claim_statuses(result) for status in stc],
        )

    def finding(self, finding: Finding, envelope: Row) -> Row:
        """The row of a finding outside claims, under control numbers ``envelope``."""
        return self._finding(finding, envelope, None)

    def _finding(self, finding: Finding, envelope: Row, claim_offset: int | None) -> Row:
        return (
            str(finding.rule),
            finding.severity.value,
            snip_level(finding.rule, self._levels),
            self._file,
            *envelope,
            finding.claim_id,
            claim_offset,
            finding.line,
            finding.path or None,
            finding.element or None,
            finding.message,
            finding.fix or None,
            finding.source or None,
            self._offset(finding.offset),
        )


def envelope_of(outcome: TransactionOutcome) -> Row:
    """The interchange, group and transaction-set control numbers of a set."""
    return _envelope(outcome.interchange, outcome.group, outcome.transaction)


def _envelope(
    interchange: Interchange | None, group: Group | None, transaction: Transaction | None
) -> Row:
    return (
        interchange.control_number if interchange else None,
        group.control_number if group else None,
        transaction.control_number if transaction else None,
    )


def _line(claim: Claim, line: ServiceLine, place: Row, rejected: frozenset[int]) -> Row:
    """A service line's row; its ``verdict`` is its own: rejected when an error names it (as
    the 277CA's 2220D does), else accepted (it still goes with its claim)."""
    procedure = line.procedure
    period = line.service_date
    revenue = line.revenue_code if isinstance(line, InstitutionalServiceLine) else ""
    place_of_service = ""
    if isinstance(line, ProfessionalServiceLine):
        place_of_service = line.place_of_service or (
            claim.place_of_service if isinstance(claim, ProfessionalClaim) else ""
        )
    return (
        *place,
        line.number,
        procedure.qualifier or None if procedure else None,
        procedure.code or None if procedure else None,
        list(procedure.modifiers) if procedure else [],
        exact(line.units, UNITS),
        exact(line.charge, MONEY),
        period.start if period else None,
        revenue or None,
        place_of_service or None,
        "rejected" if line.number is not None and line.number in rejected else "accepted",
    )


def exact(value: Decimal | None, shape: tuple[int, int]) -> Decimal | None:
    """``value`` with ``shape``'s (precision, scale), if it fits exactly; else None."""
    precision, scale = shape
    if value is None or not value.is_finite():
        return None
    try:
        fitted = value.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:
        return None
    if fitted != value or len(fitted.as_tuple().digits) > precision:
        return None
    return fitted


class Builder(Protocol):
    """What :func:`records` and :class:`RowSink` ask for the records of each outcome, and of
    a file that could not be validated (``rule`` and the command line's ``message``)."""

    def transaction(self, outcome: TransactionOutcome) -> Iterator[object]: ...
    def interchange(self, outcome: InterchangeOutcome) -> Iterator[object]: ...
    def stream(self, outcome: StreamOutcome) -> Iterator[object]: ...
    def failed(self, rule: str, message: str) -> Iterator[object]: ...


class RowSink(Sink):
    """A writer of rows for :meth:`Validator.write`: the rows of the open interchange stay
    provisional (an interchange rejected at its trailer is fed again, as decided), and every
    row is spooled, in memory up to a megabyte and in a private temporary file beyond, so a
    task's memory does not grow with its piece. :meth:`rows` reads them back."""

    def __init__(self, builder: Builder) -> None:
        self._builder = builder
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, mode="w+b")  # noqa: SIM115 - closed by dispose()
        self._mark = 0  # the end of the last interchange's rows

    def _write(self, made: Iterator[object]) -> None:
        for row in made:
            pickle.dump(row, self._spool, pickle.HIGHEST_PROTOCOL)

    def transaction(self, outcome: TransactionOutcome) -> None:
        self._write(self._builder.transaction(outcome))

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._write(self._builder.interchange(outcome))
        self._mark = self._spool.tell()

    def discard(self) -> None:
        self._spool.seek(self._mark)
        self._spool.truncate()

    def close(self, outcome: StreamOutcome) -> None:
        self._write(self._builder.stream(outcome))

    def rows(self) -> Iterator[Any]:
        """The rows written, in order."""
        end = self._spool.tell()
        self._spool.seek(0)
        while self._spool.tell() < end:
            yield pickle.load(self._spool)  # noqa: S301 - our own rows, spooled just now

    def dispose(self) -> None:
        """Kept: the pass is over, and its rows are read after it (see :meth:`release`)."""

    def release(self) -> None:
        """Let go of the spooled rows."""
        self._spool.close()


def batches(made: Iterator[Row], size: int) -> Iterator[Sequence[Row]]:
    """``made`` in lists of at most ``size`` rows."""
    batch: list[Row] = []
    for row in made:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
