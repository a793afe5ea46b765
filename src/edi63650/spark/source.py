"""The Spark side: the ``x12`` Python data source (Spark 4), and :func:`frames` for Spark
without Python data sources. Both read a piece with :func:`edi63650.spark.rows.rows`; the data
source hands Spark Arrow record batches (:func:`record_batch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import attrs
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import StructType

from edi63650.spark.inputs import Piece
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
    """The claims, lines and findings tables of ``paths`` without the data source API: an RDD
    of the pieces, one per partition, each mapped to its rows in its task. (Not
    ``mapInArrow``: pyspark requires pandas for it, which the extra does not install.) Each
    table is its own pass over the files when it is computed."""
    planned = request({**options, "table": "claims"}, list(paths))
    pieces = planned.pieces()
    out = []
    for table in COLUMNS:
        settings = attrs.evolve(planned.settings, table=table)
        rdd = spark.sparkContext.parallelize(pieces, len(pieces)).mapPartitions(_Task(settings))
        out.append(spark.createDataFrame(rdd, SCHEMAS[table], verifySchema=False))
    claims, lines, findings = out
    return claims, lines, findings


@attrs.frozen
class _Task:
    """What a task of :func:`frames` runs: the rows of its pieces."""

    settings: Settings

    def __call__(self, pieces: Iterable[Piece]) -> Iterator[Row]:
        for piece in pieces:
            yield from rows(piece, self.settings)
