"""The Spark side: the ``x12`` Python data source (Spark 4), and :func:`frames` for Spark
without Python data sources. Both read a piece with :func:`edi63650.spark.rows.rows`; the data
source hands Spark Arrow record batches (:func:`record_batch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import cast

import attrs
import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from edi63650.rules.history import PatientKeys
from edi63650.spark.across import Claims, Record, first_pass, second_pass
from edi63650.spark.inputs import SPLIT_SIZE, Piece
from edi63650.spark.options import Request, request, table_of
from edi63650.spark.rows import COLUMNS, Row, Settings, batches, rows
from edi63650.spark.schema import SCHEMAS

#: Rows per Arrow record batch handed to Spark.
BATCH_ROWS = 4096


def record_batch(made: Sequence[Row], schema: StructType) -> pa.RecordBatch:
    """Rows (tuples in the schema's column order) as an Arrow record batch of ``schema``."""
    arrow = to_arrow_schema(schema)
    columns = list(zip(*made, strict=True)) if made else [() for _ in arrow]
    arrays = [
        pa.array(column, type=field.type) for column, field in zip(columns, arrow, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=arrow)


def read_piece(piece: Piece, settings: Settings) -> Iterator[pa.RecordBatch]:
    """The rows of one piece, as record batches of its table's schema."""
    schema = SCHEMAS[settings.table]
    for batch in batches(rows(piece, settings), BATCH_ROWS):
        yield record_batch(batch, schema)


class _PiecePartition(InputPartition):
    def __init__(self, piece: Piece) -> None:
        super().__init__(piece)
        self.piece = piece


class X12Reader(DataSourceReader):
    """Plans a read on the driver (one partition per piece) and reads each piece in a task."""

    def __init__(self, planned: Request) -> None:
        self._request = planned

    def partitions(self) -> Sequence[InputPartition]:
        return [_PiecePartition(piece) for piece in self._request.pieces()]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, _PiecePartition)  # noqa: S101 - ours, from partitions()
        yield from read_piece(partition.piece, self._request.settings)


class X12DataSource(DataSource):
    """``spark.read.format("x12").option("table", ...).load(paths)``: see
    :mod:`edi63650.spark`."""

    @classmethod
    def name(cls) -> str:
        return "x12"

    def schema(self) -> StructType:
        return SCHEMAS[table_of(_lower(self.options))]

    def reader(self, schema: StructType) -> DataSourceReader:
        return X12Reader(request(_lower(self.options)))


def _lower(options: object) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in dict(options).items()}  # type: ignore[call-overload]


def frames(
    spark: SparkSession, paths: Sequence[str], options: dict[str, str]
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The claims, lines and findings tables of ``paths``, with the rules across claims
    applied over the whole dataset (:mod:`edi63650.spark.across`): a first pass, one task per
    piece, then the claims shuffled by patient and judged again per patient in the dataset's
    order (the files sorted by path). The three tables come from one pass over the files,
    kept on disk (a first pass holds over ten times its input: on the heap it ran a 64 MiB
    piece out of memory) until they are computed. (An RDD, not ``mapInArrow``: pyspark
    requires pandas for it, which the extra does not install.)"""
    planned = request({**options, "table": "claims"}, list(paths), split=SPLIT_SIZE)
    pieces = planned.pieces()
    settings = planned.settings
    numbers = {path: number for number, path in enumerate(dict.fromkeys(p.path for p in pieces))}
    # the user's key, or one for this job: tasks must key the same patient alike
    grouping = settings.keys if settings.keys is not None else PatientKeys()
    work = [(piece, numbers[piece.path]) for piece in pieces]
    first = (
        spark.sparkContext.parallelize(work, max(len(work), 1))
        .mapPartitions(_First(settings, grouping))
        .persist(StorageLevel.DISK_ONLY)
    )
    final = first.filter(lambda record: record[0] == "").map(_row)
    judged = first.filter(lambda record: record[0] != "").groupByKey().flatMap(_Second(settings))
    tagged = final.union(judged).persist(StorageLevel.DISK_ONLY)
    out = []
    for table in COLUMNS:
        rdd = tagged.filter(_Of(table)).map(_untagged)
        out.append(spark.createDataFrame(rdd, SCHEMAS[table], verifySchema=False))
    claims, lines, findings = out
    return claims, lines, findings


@attrs.frozen
class _Of:
    """Whether a (table, row) is of ``table``."""

    table: str

    def __call__(self, item: tuple[str, Row]) -> bool:
        return item[0] == self.table


def _untagged(item: tuple[str, Row]) -> Row:
    return item[1]


def _row(record: Record) -> tuple[str, Row]:
    """The (table, row) of a first-pass record that is final."""
    return cast(tuple[str, Row], record[1])


@attrs.frozen
class _First:
    """What a task of the first pass runs: its pieces, validated alone."""

    settings: Settings
    grouping: PatientKeys = attrs.field(eq=False)

    def __call__(self, work: Iterable[tuple[Piece, int]]) -> Iterator[Record]:
        for piece, number in work:
            yield from first_pass(piece, number, self.settings, self.grouping)


@attrs.frozen
class _Second:
    """What the second pass runs for each patient: the rows of the patient's claims."""

    settings: Settings

    def __call__(self, group: tuple[str, Iterable[object]]) -> Iterator[tuple[str, Row]]:
        return second_pass(cast("Iterable[Claims]", group[1]), self.settings)
