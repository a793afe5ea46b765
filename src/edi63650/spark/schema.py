"""The schemas of the three tables (the README documents them; fields are only ever added).

The column order is that of :data:`edi63650.spark.rows.COLUMNS`, which makes the rows.
"""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql.types import (
    ArrayType,
    DataType,
    DateType,
    DecimalType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from edi63650.spark.rows import MONEY, UNITS

_TEXT = StringType()
_MONEY = DecimalType(*MONEY)
_UNITS = DecimalType(*UNITS)
_CODES = ArrayType(StringType(), containsNull=False)


def _field(name: str, kind: DataType, nullable: bool = True) -> StructField:
    return StructField(name, kind, nullable)


#: Where a row belongs: its file, envelopes and claim.
_PLACE = [
    _field("file", _TEXT, nullable=False),
    _field("interchange_control_number", _TEXT),
    _field("group_control_number", _TEXT),
    _field("transaction_control_number", _TEXT),
    _field("claim_id", _TEXT),
    _field("claim_offset", LongType()),
]

CLAIMS = StructType(
    [
        *_PLACE,
        _field("patient_key", _TEXT),
        _field("billing_npi", _TEXT),
        _field("rendering_npi", _TEXT),
        _field("payer_id", _TEXT),
        _field("filing_indicator", _TEXT),
        _field("total_charge", _MONEY),
        _field("first_service_date", DateType()),
        _field("last_service_date", DateType()),
        _field("verdict", _TEXT, nullable=False),
        _field("phase", _TEXT),
        _field("rules", _CODES, nullable=False),
        _field("statuses", _CODES, nullable=False),
    ]
)

LINES = StructType(
    [
        *_PLACE,
        _field("line", IntegerType()),
        _field("procedure_qualifier", _TEXT),
        _field("procedure_code", _TEXT),
        _field("modifiers", _CODES, nullable=False),
        _field("units", _UNITS),
        _field("charge", _MONEY),
        _field("service_date", DateType()),
        _field("revenue_code", _TEXT),
        _field("place_of_service", _TEXT),
        _field("verdict", _TEXT, nullable=False),
    ]
)

FINDINGS = StructType(
    [
        _field("rule", _TEXT, nullable=False),
        _field("severity", _TEXT, nullable=False),
        _field("snip_level", IntegerType()),
        *_PLACE,
        _field("line", IntegerType()),
        _field("path", _TEXT),
        _field("element", _TEXT),
        _field("message", _TEXT, nullable=False),
        _field("fix", _TEXT),
        _field("source", _TEXT),
        _field("offset", LongType()),
    ]
)

SCHEMAS: Mapping[str, StructType] = {"claims": CLAIMS, "lines": LINES, "findings": FINDINGS}
