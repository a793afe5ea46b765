"""What validation decides about transaction sets (the data the 999 and 277CA writers read)."""

from __future__ import annotations

import enum

import attrs

from edi63650.findings import Finding
from edi63650.model import Group, Interchange, Transaction
from edi63650.rules.engine import ClaimResult


class SyntaxPolicy(enum.StrEnum):
    """What a syntax error confined to one claim rejects."""

    CLAIM = "claim"
    TRANSACTION = "transaction"


class AckCode(enum.StrEnum):
    """999 IK501 / AK901: accepted, accepted with errors, rejected."""

    ACCEPTED = "A"
    ERRORS = "E"
    REJECTED = "R"


@attrs.frozen
class TransactionOutcome:
    """One transaction set: its envelopes, its own findings, its claims and its 999 code."""

    transaction: Transaction
    group: Group | None
    interchange: Interchange | None
    findings: tuple[Finding, ...]
    claims: tuple[ClaimResult, ...]
    ack: AckCode
