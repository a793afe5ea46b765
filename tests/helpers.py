"""Shared paths and helpers for the test suite."""

from __future__ import annotations

from pathlib import Path

import edi63650
from edi63650 import Claim, Finding

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
CORPUS = ROOT.parent / "shared" / "corpus"


def events(data: bytes) -> list[Claim | Finding]:
    return edi63650.read_bytes(data)


def claims_of(data: bytes) -> list[Claim]:
    return [event for event in events(data) if isinstance(event, Claim)]


def findings_of(data: bytes) -> list[Finding]:
    return [event for event in events(data) if isinstance(event, Finding)]


def rules_of(data: bytes) -> list[str]:
    return [finding.rule for finding in findings_of(data)]
