"""Real-world files from other projects (read from ../shared/corpus, never copied here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edi63650 import Severity
from edi63650.tokenizer import TokenRule
from tests.helpers import CORPUS, claims_of, findings_of

_VERSION = re.compile(rb"(?:GS|ST)\*[^~\n]*\*(005010X22[23][A-Z0-9]*)")


def corpus_files() -> list[Path]:
    if not CORPUS.is_dir():
        return []
    return sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md")


def is_5010_claim_file(data: bytes) -> bool:
    """837P (X222) or 837I (X223) in 5010, judged from GS08/ST03 as written in the file."""
    return b"ST*837" in data and _VERSION.search(data) is not None


def count_clm_segments(data: bytes) -> int:
    """CLM segments counted straight from the bytes, independently of the tokenizer."""
    isa = data.find(b"ISA")
    separator = data[isa + 3 : isa + 4] if isa != -1 else b"*"
    pattern = rb"(?:^|[^A-Za-z0-9*:^ ])\s*CLM" + re.escape(separator)
    return len(re.findall(pattern, data))


CLAIM_FILES = [p for p in corpus_files() if is_5010_claim_file(p.read_bytes())]
FILES: list[Path | object] = list(CLAIM_FILES) or [
    pytest.param(None, marks=pytest.mark.skip(reason=f"the shared corpus is not at {CORPUS}"))
]


def test_corpus_is_present_or_skipped(corpus: Path) -> None:
    assert len(CLAIM_FILES) >= 40, "expected the 5010 837P/837I files of the shared corpus"


@pytest.mark.parametrize(
    "path", FILES, ids=lambda p: str(p.relative_to(CORPUS)) if isinstance(p, Path) else "-"
)
def test_every_5010_claim_file_parses_with_one_claim_per_clm(path: Path) -> None:
    data = path.read_bytes()
    claims = claims_of(data)
    assert len(claims) == count_clm_segments(data)
    for claim in claims:
        assert claim.claim_id
        assert claim.lines, "every corpus claim has service lines"


def test_broken_files_give_findings_not_exceptions(corpus: Path) -> None:
    bad_file = findings_of((corpus / "badX12" / "bad_file.edi").read_bytes())
    assert [(f.rule, f.severity) for f in bad_file] == [(TokenRule.NOT_X12, Severity.ERROR)]
    no_terminator = findings_of((corpus / "badX12" / "segment_terminator.edi").read_bytes())
    assert TokenRule.NEWLINE_TERMINATOR in [f.rule for f in no_terminator]
