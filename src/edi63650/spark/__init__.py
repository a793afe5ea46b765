"""edi63650 on Apache Spark: validated claims, service lines and findings as tables.

Install the extra (``pip install 'edi63650[spark]'``: pyspark 4 and pyarrow), then::

    from edi63650.spark import register
    register(spark)
    claims = spark.read.format("x12").option("table", "claims").load("inbound/2026/*/*.837")
    lines = spark.read.format("x12").option("table", "lines").load(paths)
    findings = spark.read.format("x12").option("table", "findings").load(paths)

or, on a Spark without Python data sources, ``claims, lines, findings =
validate_frames(spark, paths, profile="medicare")``. The options are in
:mod:`edi63650.spark.options`, the columns in :mod:`edi63650.spark.rows` and the README.

Each file is one partition. :func:`validate_frames` cuts a file above ``split_size`` bytes
(64 MiB by default) at interchange boundaries and between the transaction sets of a large
interchange (:mod:`edi63650.spark.cuts`); the data source cuts only when given
``split_size``, since it judges each piece alone. Every verdict, status and finding is the
library's own. The data source judges each file alone, as ``edi63650 validate`` does;
:func:`validate_frames` applies the rules that need other claims (global period, repeats,
cross-claim PTP and MUE, duplicates) over the whole dataset, as one ``validate --history`` run
over the files in sorted order does (:mod:`edi63650.spark.across`).

Only this package imports pyspark; ``import edi63650`` never does.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["register", "validate_frames"]


def register(spark: SparkSession) -> None:
    """Register the ``x12`` data source with ``spark`` (Spark 4 or newer)."""
    from edi63650.spark.source import X12DataSource  # noqa: PLC0415 - pyspark only when used

    spark.dataSource.register(X12DataSource)


def validate_frames(
    spark: SparkSession, paths: str | Sequence[str], **options: str
) -> tuple[DataFrame, DataFrame, DataFrame]:
    """The claims, lines and findings DataFrames of ``paths`` (a file, a list, a folder or a
    glob), with the data source's options but ``table``, and the rules across claims applied
    over the whole dataset (see :mod:`edi63650.spark.across`)."""
    from edi63650.spark.source import frames  # noqa: PLC0415 - as register

    names = [paths] if isinstance(paths, str) else list(paths)
    return frames(spark, names, {name: str(value) for name, value in options.items()})
