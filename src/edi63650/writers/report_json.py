"""The JSON report. Its schema ships as ``edi63650/report.schema.json`` (a stable contract:
fields are only ever added; ``schema_version`` changes when one is removed or changes meaning).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from edi63650.findings import Finding
from edi63650.rules.engine import ClaimResult
from edi63650.writers.common import Totals

if TYPE_CHECKING:
    from edi63650.validate import ValidationResult

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


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _claim(result: ClaimResult) -> dict[str, Any]:
    claim = result.claim
    ctx = claim.context
    return {
        "claim_id": claim.claim_id,
        "kind": claim.kind.value,
        "verdict": "accepted" if result.accepted else "rejected",
        "profile": result.profile.value,
        "phase": result.phase.value if result.phase else None,
        "total_charge": _money(claim.total_charge),
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


def report(result: ValidationResult) -> dict[str, Any]:
    claims = result.claims
    totals = Totals.of(claims)
    return {
        "schema_version": SCHEMA_VERSION,
        "file": result.name,
        "validated": result.validated.isoformat(timespec="seconds"),
        "verdict": "rejected" if result.rejected else "accepted",
        "summary": {
            "claims": len(claims),
            "accepted": len(totals.accepted),
            "rejected": len(totals.rejected),
            "warned": totals.warned,
            "accepted_amount": _money(totals.accepted_amount),
            "rejected_amount": _money(totals.rejected_amount),
            "interchanges": len(result.interchanges),
            "transaction_sets": len(result.transactions),
        },
        "findings": [finding_json(f) for f in result.findings],
        "transaction_sets": [
            {
                "control_number": t.transaction.control_number,
                "implementation": t.transaction.implementation,
                "acknowledgment": t.ack.value,
                "claims": len(t.claims),
                "findings": [finding_json(f) for f in t.findings],
            }
            for t in result.transactions
        ],
        "claims": [_claim(c) for c in claims],
    }


def write_json(result: ValidationResult) -> str:
    return json.dumps(report(result), indent=2) + "\n"
