"""The JSON report. Its schema ships as ``edi63650/report.schema.json`` (a stable contract:
fields are only ever added; ``schema_version`` changes when one is removed or changes meaning).
"""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from typing import Any

import attrs

from edi63650.findings import Finding, Severity
from edi63650.outcome import AckCode, InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.writers.common import Tally
from edi63650.writers.sink import Sink, Spool, Writable

SCHEMA_VERSION = 1


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "rule": finding.rule,
        "severity": finding.severity.value,
        "message": finding.message,
        "fix": finding.fix,
        "source": finding.source,
        "claim_id": finding.claim_id,
        "line": finding.line,
        "path": finding.path,
        "segment_id": finding.segment_id,
        "segment": finding.segment,
        "element": finding.element,
        "offset": finding.offset,
        "line_no": finding.line_no,
        "ordinal": finding.ordinal,
        "statuses": [str(status) for status in finding.statuses],
    }


def money(value: Decimal | None) -> str | None:
    """An amount with two decimals (``"0.00"``, ``"120.00"``); one given with more keeps them,
    as it came."""
    if value is None:
        return None
    exponent = value.as_tuple().exponent
    if value.is_finite() and isinstance(exponent, int) and exponent >= -2:
        return format(value, ".2f")
    return format(value, "f")


def tally_json(tally: Tally) -> dict[str, Any]:
    """What claims came to, as every JSON summary says it (the report's, a JSON line's, the
    totals over several inputs)."""
    return {
        "claims": tally.claims,
        "accepted": tally.accepted,
        "rejected": tally.rejected,
        "warned": tally.warned,
        "accepted_amount": money(tally.accepted_amount),
        "rejected_amount": money(tally.rejected_amount),
    }


def _claim(result: ClaimResult) -> dict[str, Any]:
    claim = result.claim
    ctx = claim.context
    return {
        "claim_id": claim.claim_id,
        "kind": claim.kind.value,
        "verdict": "accepted" if result.accepted else "rejected",
        "profile": result.profile,
        "phase": result.phase.value if result.phase else None,
        "total_charge": money(claim.total_charge),
        "interchange_control_number": ctx.interchange.control_number if ctx.interchange else None,
        "transaction_control_number": ctx.transaction.control_number,
        "billing_provider_npi": ctx.billing_provider.npi if ctx.billing_provider else None,
        "lines": len(claim.lines),
        "rejected_lines": sorted(result.rejected_lines),
        "position": {
            "offset": claim.position.offset,
            "line": claim.position.line,
            "ordinal": claim.position.ordinal,
        },
        "findings": [finding_json(f) for f in result.findings],
    }


class JsonSink(Sink):
    """Writes the JSON report to ``out`` at the end: the summary and the findings outside
    transaction sets first, then one line per transaction set and one per claim, spooled as
    they came. (One item per line keeps a report of a million claims greppable and cheap to
    write; the document is the same whatever its layout.)"""

    def __init__(self, out: Writable, name: str, when: datetime.datetime) -> None:
        self._out = out
        self._name = name
        self._when = when
        self._findings: list[Finding] = []
        self._sets = Spool()
        self._claims = Spool()
        self._tally = Tally()
        self._count = _Count()
        self._mark = (0, 0, Tally(), _Count())

    def transaction(self, outcome: TransactionOutcome) -> None:
        item = {
            "control_number": outcome.transaction.control_number,
            "implementation": outcome.transaction.implementation,
            "acknowledgment": outcome.ack.value,
            "claims": len(outcome.claims),
            "findings": [finding_json(f) for f in outcome.findings],
        }
        self._sets.write(_item(item, self._count.sets))
        self._count.sets += 1
        self._count.rejected |= outcome.ack is AckCode.REJECTED
        for claim in outcome.claims:
            self._claims.write(_item(_claim(claim), self._tally.claims))
            self._tally.add(claim)

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._findings += outcome.findings
        self._count.interchanges += outcome.interchange is not None
        self._mark = (self._sets.size, self._claims.size, self._tally.copy(), self._count.copy())

    def discard(self) -> None:
        sets, claims, tally, count = self._mark
        self._sets.truncate(sets)
        self._claims.truncate(claims)
        self._tally, self._count = tally.copy(), count.copy()

    def close(self, outcome: StreamOutcome) -> None:
        self._findings += outcome.findings
        tally, count = self._tally, self._count
        rejected = (
            tally.rejected > 0
            or count.rejected
            or any(f.severity is Severity.ERROR for f in self._findings)
        )
        head = {
            "schema_version": SCHEMA_VERSION,
            "file": self._name,
            "validated": self._when.isoformat(timespec="seconds"),
            "verdict": "rejected" if rejected else "accepted",
            "summary": {
                **tally_json(tally),
                "interchanges": count.interchanges,
                "transaction_sets": count.sets,
            },
        }
        out = self._out
        text = json.dumps(head, indent=2)
        out.write(text[: text.rindex("}")].rstrip().encode() + b",\n")
        out.write(b'  "findings": [')
        for index, finding in enumerate(self._findings):
            out.write(_item(finding_json(finding), index))
        out.write(
            b'\n  ],\n  "transaction_sets": [' if self._findings else b'],\n  "transaction_sets": ['
        )
        self._sets.copy(out)
        out.write(b'\n  ],\n  "claims": [' if count.sets else b'],\n  "claims": [')
        self._claims.copy(out)
        out.write(b"\n  ]\n}\n" if tally.claims else b"]\n}\n")
        self.dispose()

    def dispose(self) -> None:
        self._sets.close()
        self._claims.close()


@attrs.define
class _Count:
    interchanges: int = 0
    sets: int = 0
    rejected: bool = False  # a transaction set rejected

    def copy(self) -> _Count:
        return attrs.evolve(self)


def _item(value: dict[str, Any], index: int) -> bytes:
    """One array item on a line of its own, after a comma unless it is the first."""
    return (b"\n    " if index == 0 else b",\n    ") + json.dumps(value).encode()


class JsonlSink(Sink):
    """JSON lines for pipelines (``--format jsonl``): one object per claim
    (``"record": "claim"``, the fields of a claim in the JSON report) and one per finding
    outside claims (``"record": "finding"``), written as each interchange is decided, then one
    ``"record": "file"`` with the summary. Every line names its ``file``."""

    def __init__(self, out: Writable, name: str, when: datetime.datetime) -> None:
        self._out = out
        self._name = name
        self._when = when
        self._open = Spool()  # the open interchange's lines, final at its end
        self._tally = Tally()
        self._sets = 0
        self._rejected = False
        self._mark = (Tally(), 0, False)

    def _line(self, record: str, item: dict[str, Any]) -> None:
        line = {"record": record, "file": self._name, **item}
        self._open.write(json.dumps(line).encode() + b"\n")

    def transaction(self, outcome: TransactionOutcome) -> None:
        self._sets += 1
        self._rejected |= outcome.ack is AckCode.REJECTED
        for finding in outcome.findings:
            self._line("finding", finding_json(finding))
        for claim in outcome.claims:
            self._line("claim", _claim(claim))
            self._tally.add(claim)

    def interchange(self, outcome: InterchangeOutcome) -> None:
        self._rejected |= outcome.rejected
        for finding in outcome.findings:
            self._rejected |= finding.severity is Severity.ERROR
            self._line("finding", finding_json(finding))
        self._open.copy(self._out)
        self._open.truncate(0)
        self._mark = (self._tally.copy(), self._sets, self._rejected)

    def discard(self) -> None:
        self._open.truncate(0)
        tally, self._sets, self._rejected = self._mark
        self._tally = tally.copy()

    def close(self, outcome: StreamOutcome) -> None:
        for finding in outcome.findings:
            self._rejected |= finding.severity is Severity.ERROR
            self._line("finding", finding_json(finding))
        tally = self._tally
        self._line(
            "file",
            {
                "schema_version": SCHEMA_VERSION,
                "validated": self._when.isoformat(timespec="seconds"),
                "verdict": "rejected" if self._rejected or tally.rejected else "accepted",
                "summary": {**tally_json(tally), "transaction_sets": self._sets},
            },
        )
        self._open.copy(self._out)
        self.dispose()

    def dispose(self) -> None:
        self._open.close()
