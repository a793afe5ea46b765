"""validate: verdicts, the 277CA and 999 (checked by pyx12), the accepted 837, the reports."""

from __future__ import annotations

import datetime
import io
import json
import os
import stat
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest
from lxml import etree

import edi63650
from edi63650 import Claim, Segment, Severity, Tokenizer
from edi63650.cli import run
from edi63650.outcome import AckCode
from edi63650.pipeline import Output, Pipeline
from edi63650.testing import ClaimSpec, LineSpec, ProviderSpec, SubscriberSpec, interchange
from edi63650.validate import Validator
from edi63650.writers.report_html import OPEN_LIMIT
from tests.helpers import FIXTURES, findings_of
from tests.pyx12_oracle import pyx12_check
from tests.rulepack_cases import (
    INSTITUTIONAL,
    INSTITUTIONAL_CASES,
    PROFESSIONAL,
    PROFESSIONAL_CASES,
)

NOW = datetime.datetime(2026, 11, 26, 9, 30)
ALL_FIXTURES = sorted(FIXTURES.glob("*.837"))
CASES = {c.claim.claim_id: c for c in PROFESSIONAL_CASES + INSTITUTIONAL_CASES}
OUTPUT_SCHEMA = json.loads(
    (Path(edi63650.__file__).parent / "output.schema.json").read_text(encoding="utf-8")
)
SCHEMA = json.loads(
    (Path(edi63650.__file__).parent / "report.schema.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(now=NOW)


def segments_of(data: bytes) -> list[Segment]:
    tokenizer = Tokenizer()
    return [t for t in tokenizer.feed(data) + tokenizer.close() if isinstance(t, Segment)]


def bad_amount(text: str) -> bytes:
    return text.replace("SV1*HC:63650*2900.00", "SV1*HC:63650*29O0.00", 1).encode()


# -- acknowledgments, checked by pyx12 ------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_277ca_validates_with_pyx12(path: Path, validator: Validator, tmp_path: Path) -> None:
    result = validator.validate(path)
    target = tmp_path / f"{path.name}.277"
    target.write_bytes(result.to_277ca())
    valid, report = pyx12_check(target)
    assert valid, report


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_every_999_validates_with_pyx12(path: Path, validator: Validator, tmp_path: Path) -> None:
    target = tmp_path / f"{path.name}.999"
    target.write_bytes(validator.validate(path).to_999())
    valid, report = pyx12_check(target)
    assert valid, report


def test_999_reports_claim_syntax_and_envelope_errors(validator: Validator, tmp_path: Path) -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    result = validator.validate(bad_amount(text))
    ack = result.to_999().decode()
    # IK303 names LS/LE loops only (none in an 837); CTX names the claim; IK402 the element.
    assert "IK3*SV1*27**8~\nCTX*CLM01:TRIAL001~\nIK4*2*782*6*29O0.00~" in ack
    assert "IK5*E*5~" in ack
    assert "AK9*E*1*1*1~" in ack
    envelope = validator.validate(bad_amount(text.replace("SE*70*", "SE*71*")))
    ack = envelope.to_999().decode()
    assert "IK5*R*4*5~" in ack
    assert "AK9*R*1*1*0~" in ack
    target = tmp_path / "bad.999"
    target.write_bytes(envelope.to_999())
    assert pyx12_check(target)[0]


# -- verdicts -----------------------------------------------------------------------------------


def _claim_stcs(ack: bytes) -> dict[str, list[list[str]]]:
    """Claim id -> its 2200D STC segments (elements), from a 277CA."""
    out: dict[str, list[list[str]]] = {}
    current = None
    level = None
    for segment in segments_of(ack):
        if segment.id == "HL":
            level = segment.get(3)
            current = None
        elif segment.id == "TRN" and level == "PT" and segment.get(1) == "2":
            current = segment.get(2)
            out[current] = []
        elif segment.id == "SVC":
            current = None
        elif segment.id == "STC" and current is not None:
            out[current].append(list(segment.elements))
    return out


def _rejected_lines(ack: bytes) -> dict[str, int]:
    """Claim id -> the number of its 2220D loops (SVC), from a 277CA."""
    counts: dict[str, int] = {}
    current = level = None
    for segment in segments_of(ack):
        if segment.id == "HL":
            level, current = segment.get(3), None
        elif segment.id == "TRN" and level == "PT" and segment.get(1) == "2":
            current = segment.get(2)
            counts[current] = 0
        elif segment.id == "SVC" and current is not None:
            counts[current] += 1
    return counts


@pytest.mark.parametrize("path", [PROFESSIONAL, INSTITUTIONAL], ids=lambda p: p.name)
def test_277ca_claim_status_matches_each_expected_verdict(path: Path, validator: Validator) -> None:
    result = validator.validate(path)
    ack = result.to_277ca()
    stcs = _claim_stcs(ack)
    lines = _rejected_lines(ack)
    assert len(stcs) == len(result.claims)
    for claim_result in result.claims:
        claim_id = claim_result.claim.claim_id
        expected = CASES[claim_id]
        assert claim_result.accepted is expected.accepted, claim_id
        statuses = stcs[claim_id]
        if expected.accepted:
            assert statuses == [["STC", "A2:20", "20261126", "WQ", statuses[0][4]]], claim_id
        else:
            assert statuses, claim_id
            for stc in statuses:
                assert stc[1].split(":")[0] in ("A3", "A6", "A7", "A8"), claim_id
                assert stc[3] == "U"
                assert stc[-1].split(" ")[0] in {r for r, _ in expected.rules}, claim_id
        rejected_lines = {
            line
            for rule, line in expected.rules
            if line is not None
            and any(
                f.rule == rule and f.severity is Severity.ERROR and f.line == line
                for f in claim_result.findings
            )
        }
        assert lines.get(claim_id, 0) == len(rejected_lines), claim_id


def test_claim_syntax_error_rejects_the_claim_only(validator: Validator) -> None:
    result = validator.validate(bad_amount((FIXTURES / "scs-professional.837").read_text()))
    verdicts = {c.claim.claim_id: c.accepted for c in result.claims}
    assert verdicts == {"TRIAL001": False, "PERM001": True, "OFFICE01": True}
    (outcome,) = result.transactions
    assert outcome.ack is AckCode.ERRORS
    trial = result.claims[0]
    assert [str(s) for s in trial.findings[0].statuses] == ["A3:684"]


def test_transaction_policy_rejects_the_whole_set() -> None:
    strict = Validator(now=NOW, syntax_policy="transaction")
    result = strict.validate(bad_amount((FIXTURES / "scs-professional.837").read_text()))
    assert [c.accepted for c in result.claims] == [False, False, False]
    assert result.transactions[0].ack is AckCode.REJECTED
    assert all(any(f.rule == "X12-REJECTED-ENVELOPE" for f in c.findings) for c in result.claims)


def test_interchange_errors_reject_every_claim_in_it(validator: Validator) -> None:
    text = (FIXTURES / "two-interchanges.837").read_text()
    result = validator.validate(text.replace("IEA*1*000000301", "IEA*2*000000301").encode())
    verdicts = {c.claim.claim_id: c.accepted for c in result.claims}
    assert verdicts == {"FU0001": False, "HOSP8001": True}
    assert [f.rule for f in result.findings if f.severity is Severity.ERROR] == ["ENV-IEA-COUNT"]
    assert result.rejected


def test_unsupported_transactions_are_rejected_in_the_999(validator: Validator) -> None:
    text = (FIXTURES / "bom.837").read_bytes().replace(b"005010X222A1", b"004010X098A1")
    result = validator.validate(text)
    assert result.claims == ()
    assert result.transactions[0].ack is AckCode.REJECTED
    assert "IK5*R*1~" in result.to_999().decode()
    assert result.to_277ca() == b""


# -- the accepted 837 ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_accepted_837_reparses_clean_with_exactly_the_accepted_claims(
    path: Path, validator: Validator
) -> None:
    result = validator.validate(path)
    accepted = [c.claim.claim_id for c in result.claims if c.accepted]
    data = result.accepted_837()
    if not accepted:
        assert data is None
        return
    assert data is not None
    assert [f.rule for f in findings_of(data) if f.severity is not Severity.INFO] == []
    claims = [e for e in edi63650.read_bytes(data) if isinstance(e, Claim)]
    assert [c.claim_id for c in claims] == accepted
    again = Validator(now=NOW).validate(data)
    assert all(c.accepted for c in again.claims)


def test_accepted_837_renumbers_the_hierarchy(validator: Validator) -> None:
    data = validator.validate(PROFESSIONAL).accepted_837()
    assert data is not None
    levels = [(s.get(1), s.get(2), s.get(3)) for s in segments_of(data) if s.id == "HL"]
    assert [int(hl) for hl, _, _ in levels] == list(range(1, len(levels) + 1))
    parents = {hl: level for hl, _, level in levels}
    for _, parent, level in levels:
        if level == "22":
            assert parents[parent] == "20"


# -- reports ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_json_report_conforms_to_its_schema(path: Path, validator: Validator) -> None:
    document = json.loads(validator.validate(path).to_json())
    jsonschema.validate(document, SCHEMA)


def test_json_report_for_broken_input_conforms_too(validator: Validator) -> None:
    for data in (b"", b"not x12 at all", bad_amount((FIXTURES / "bom.837").read_text())):
        jsonschema.validate(json.loads(validator.validate(data).to_json()), SCHEMA)


def test_text_report_shows_the_segment_with_a_caret(validator: Validator) -> None:
    text = validator.validate(FIXTURES / "scs-professional.837").to_text()
    assert text.splitlines()[0] == (
        "scs-professional.837: 3 claims in 1 transaction set; 2 accepted ($5,465.00; "
        "0 of them with warnings), 1 rejected ($3,045.00)"
    )
    assert (
        "claim TRIAL001 (837P, $3,045.00, medicare profile, trial implant): REJECTED\n"
        "  error SCS-IMAGING  2000A/2000B/2300/2400[2]/SV1 (file line 33)\n"
        "      SV1*HC:77003:26*145.00*UN*1***1\n"
        "             ^^^^^\n"
    ) in text
    assert "\033[" not in text
    assert "\033[31m" in validator.validate(FIXTURES / "scs-professional.837").to_text(colour=True)


def test_a_file_on_one_line_gives_segment_ordinals_and_byte_offsets(validator: Validator) -> None:
    data = (FIXTURES / "scs-professional.837").read_bytes().replace(b"~\n", b"~")
    offset = data.index(b"SV1*HC:77003")
    text = validator.validate(data).to_text()
    assert (
        "  error SCS-IMAGING  2000A/2000B/2300/2400[2]/SV1 "
        f"(segment 31 of its transaction set, byte {offset:,})\n"
    ) in text
    assert "file line" not in text
    html = validator.validate(data).to_html(data)
    tree = etree.fromstring(html.removeprefix("<!DOCTYPE html>\n"), etree.HTMLParser())
    numbers = [td.text for td in tree.iter("td") if td.get("class") == "no"]
    assert numbers[:4] == ["1", None, "#1", "#2"]  # ISA, GS (outside a set), ST, BHT
    assert "#31" in numbers


def test_html_report_is_one_well_formed_document(validator: Validator) -> None:
    data = (FIXTURES / "scs-professional.837").read_bytes()
    html = validator.validate(FIXTURES / "scs-professional.837").to_html(data)
    tree = etree.fromstring(html.removeprefix("<!DOCTYPE html>\n"), etree.HTMLParser())
    rows = tree.findall(".//table[@class]/tr")
    assert len([r for r in rows if r.find("td[@class='seg']") is not None]) == data.count(b"~")
    claims = tree.findall(".//details[@data-verdict]")
    assert [c.get("data-verdict") for c in claims] == ["rejected", "accepted", "accepted"]
    rejected = claims[0]
    assert rejected.get("open") is not None  # a claim with findings is open, clean ones not
    assert [c.get("open") for c in claims[1:]] == [None, None]
    # TRIAL001's block: from the billing provider's HL to its last REF, with its finding
    assert len(rejected.findall(".//td[@class='seg']")) == 28
    assert "SCS-IMAGING" in (rejected.get("data-rules") or "")
    assert "SCS-IMAGING" in etree.tostring(rejected, encoding="unicode")
    head = "".join(rejected.xpath("summary//text()"))
    assert head == (
        "claim TRIAL001: rejected \u2014 $3,045.00, medicare profile, trial implant, "
        "277CA A7:735 A7:453"
    )
    listed = tree.findall(".//section[@id='rejected']//tr")[1:]
    cells = [etree.tostring(td, method="text", encoding="unicode") for td in listed[0]]
    assert cells == ["TRIAL001", "M.R.", "$3,045.00", "SCS-IMAGING", "A7:735 A7:453"]
    assert listed[0].xpath(".//a/@href") == ["#" + str(rejected.get("id"))]
    assert tree.xpath(".//a[@data-rule='SCS-IMAGING']/@href") == ["#r-SCS-IMAGING-error"]
    assert tree.find(".//*[@id='r-SCS-IMAGING-error']") is not None
    # Self-contained: one inline script and style, nothing fetched.
    assert [s.get("src") for s in tree.findall(".//script")] == [None]
    assert tree.find(".//link") is None
    assert "http" not in html.split("<body")[0]


def test_html_opens_at_most_a_few_hundred_claims(validator: Validator) -> None:
    """Every claim rejected: the first OPEN_LIMIT are open, the rest collapsed (a browser
    lays out an open claim's rows, which at thousands of claims takes minutes)."""
    lines = (LineSpec("63650", Decimal("1450.00")), LineSpec("77003", Decimal("95.00")))
    subscribers = tuple(
        SubscriberSpec(
            f"M{n}", claims=(ClaimSpec(f"R{n}", lines, diagnoses=("G8929",), notes=("TRIAL",)),)
        )
        for n in range(OPEN_LIMIT + 50)
    )
    data = interchange("837P", providers=[ProviderSpec(subscribers=subscribers)])
    html = validator.validate(data).to_html(data)
    tree = etree.fromstring(html.removeprefix("<!DOCTYPE html>\n"), etree.HTMLParser())
    claims = tree.findall(".//details[@data-verdict]")
    assert [c.get("data-verdict") for c in claims] == ["rejected"] * (OPEN_LIMIT + 50)
    assert [c.get("open") is not None for c in claims] == [True] * OPEN_LIMIT + [False] * 50
    assert len(tree.findall(".//section[@id='rejected']//tr")) == 1 + OPEN_LIMIT + 50


def test_a_file_name_that_is_not_utf8_is_shown_escaped(tmp_path: Path) -> None:
    path = tmp_path / os.fsdecode(b"n\xff\x1b.837")
    path.write_bytes((FIXTURES / "bom.837").read_bytes())
    for form in ("text", "html"):
        status, out, err = call("validate", "--format", form, str(path))
        assert (status, err) == (0, ""), form
        assert "n\\xff\\x1b.837" in out, form
    out_dir = tmp_path / "out"
    status, _, err = call("validate", "--output-dir", str(out_dir), str(path))
    assert (status, err) == (0, "")
    assert len(list(out_dir.iterdir())) == 5  # 277, 999, JSON, HTML, accepted 837


def test_html_summary_counts_warnings_and_rules(validator: Validator) -> None:
    path = FIXTURES / "rulepack-professional.837"
    html = validator.validate(path).to_html(path.read_bytes())
    tree = etree.fromstring(html.removeprefix("<!DOCTYPE html>\n"), etree.HTMLParser())
    summary = {
        row.findtext("th"): [
            etree.tostring(td, method="text", encoding="unicode") for td in row.findall("td")
        ]
        for row in tree.findall(".//table[@class='summary']/tr")
    }
    assert summary["claims"][0] == "59"
    assert summary["accepted"] == ["30", "$43,315.00", ", of which 8 with warnings"]
    assert summary["rejected"][:2] == ["29", "$45,935.00"]
    verdicts = [c.get("data-verdict") for c in tree.findall(".//details[@data-verdict]")]
    assert (verdicts.count("rejected"), verdicts.count("warned"), verdicts.count("accepted")) == (
        29,
        8,
        22,
    )
    assert len(tree.findall(".//section[@id='rejected']//tr")) == 1 + 29
    counted = {
        (row[0].findtext("a"), row[1].text): int(row[2].text or "0")
        for row in tree.findall(".//div[@id='summary']//table[@class='list']/tr")[1:]
    }
    result = validator.validate(path)
    for (rule, severity), count in counted.items():
        found = [
            f
            for c in result.claims
            for f in c.findings
            if f.rule == rule and f.severity.value == severity
        ]
        assert len(found) == count, rule
    assert {severity for _, severity in counted} == {"error", "warning"}


# -- the command line ---------------------------------------------------------------------------


def call(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), stdout=out, stderr=err, stdin=io.BytesIO(stdin))
    return status, out.getvalue(), err.getvalue()


def test_validate_exit_0_when_every_claim_is_accepted() -> None:
    status, out, err = call("validate", str(FIXTURES / "bom.837"))
    assert (status, err) == (0, "")
    assert out.startswith("bom.837: 1 claim in 1 transaction set; 1 accepted")


def test_validate_exit_1_on_a_rejection_and_json_on_stdout() -> None:
    status, out, _ = call("validate", "--format", "json", str(FIXTURES / "scs-professional.837"))
    assert status == 1
    document = json.loads(out)
    jsonschema.validate(document, OUTPUT_SCHEMA)
    (report,) = document["files"]
    assert report["summary"]["rejected"] == 1
    jsonschema.validate(report, SCHEMA)
    assert document["totals"]["rejected"] == 1


def test_validate_reads_stdin_and_directories(tmp_path: Path) -> None:
    data = (FIXTURES / "bom.837").read_bytes()
    assert call("validate", "-", stdin=data)[0] == 0
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "a.837").write_bytes(data)
    (folder / "b.837").write_bytes((FIXTURES / "scs-professional.837").read_bytes())
    (folder / ".hidden").write_bytes(b"ignored")
    status, out, _ = call("validate", "--format", "json", str(folder))
    assert status == 1
    document = json.loads(out)
    assert [r["file"] for r in document["files"]] == ["a.837", "b.837"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("validate", "/nonexistent/x.837"), "cannot read"),
        (("validate",), "the following arguments are required"),
        (("validate", "--profile", "payer", "x"), "profile must be auto or one of"),
    ],
)
def test_validate_usage_and_unreadable_exit_2(argv: tuple[str, ...], message: str) -> None:
    status, out, err = call(*argv)
    assert (status, out) == (2, "")
    assert message in err
    assert "Traceback" not in err


def test_validate_empty_file_and_empty_directory(tmp_path: Path) -> None:
    empty = tmp_path / "empty.837"
    empty.write_bytes(b"")
    status, out, _ = call("validate", str(empty))
    assert status == 1
    assert "X12-EMPTY-INPUT" in out
    folder = tmp_path / "nothing"
    folder.mkdir()
    status, _, err = call("validate", str(folder))
    assert status == 2
    assert "holds no files" in err


def test_validate_internal_error_is_one_line_naming_the_input(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def explode(self: Pipeline, data: bytes) -> list[Output]:
        raise RuntimeError("boom")

    monkeypatch.setattr(Pipeline, "feed", explode)
    path = str(FIXTURES / "bom.837")
    status, out, err = call("validate", path)
    assert (status, out) == (2, "")
    assert err == f"edi63650: {path}: internal error (RuntimeError): boom\n"
    status, out, err = call("validate", path, "--output-dir", str(tmp_path))
    assert (status, out) == (2, "")
    assert list(tmp_path.iterdir()) == []  # no output, not even a temporary one


def test_validate_html_to_stdout_takes_one_input() -> None:
    status, _, err = call("validate", "--format", "html", *map(str, ALL_FIXTURES[:2]))
    assert status == 2
    assert "--output-dir" in err
    status, out, _ = call("validate", "--format", "html", str(FIXTURES / "bom.837"))
    assert status == 0
    assert out.startswith("<!DOCTYPE html>")


def test_output_dir_holds_every_output_owner_only(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    status, _, _ = call(
        "validate", "--output-dir", str(out_dir), str(PROFESSIONAL), str(FIXTURES / "bom.837")
    )
    assert status == 1
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(
        f"{n}.{ext}"
        for n in ("rulepack-professional.837", "bom.837")
        for ext in ("277", "999", "json", "html", "accepted.837")
    )
    for path in out_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    accepted = (out_dir / "rulepack-professional.837.accepted.837").read_bytes()
    ids = [c.claim_id for c in edi63650.iter_claims(io.BytesIO(accepted))]
    assert ids == [c.claim.claim_id for c in PROFESSIONAL_CASES if c.accepted]


def test_no_accepted_claims_means_no_accepted_837(tmp_path: Path) -> None:
    text = (FIXTURES / "bom.837").read_text().replace("SV1*HC:95972", "SV1*HC:95972:ZZ")
    source = tmp_path / "reject.837"
    source.write_text(text)
    out_dir = tmp_path / "out"
    assert call("validate", "--output-dir", str(out_dir), str(source))[0] == 1
    assert not (out_dir / "reject.837.accepted.837").exists()
    assert (out_dir / "reject.837.277").exists()


def test_history_option_spans_runs(tmp_path: Path) -> None:
    database = str(tmp_path / "history.sqlite")
    first = tmp_path / "procedure.837"
    second = tmp_path / "visit.837"
    text = PROFESSIONAL.read_text()
    first.write_bytes(text.encode())
    assert call("validate", "--history", database, str(first))[0] == 1
    # The same visit claims again: G02 still meets its procedure, now from the history.
    second.write_bytes(text.replace("CLM*G01*", "CLM*G01X*").encode())
    _, out, _ = call("validate", "--history", database, "--format", "json", str(second))
    claims = {c["claim_id"]: c for c in json.loads(out)["files"][0]["claims"]}
    assert [f["rule"] for f in claims["G02"]["findings"]] == ["SCS-GLOBAL-EM"]


@pytest.mark.parametrize("count", [1, 3])
def test_json_on_stdout_has_one_shape_whatever_the_number_of_inputs(count: int) -> None:
    paths = [
        str(FIXTURES / n) for n in ("bom.837", "scs-professional.837", "scs-institutional.837")
    ]
    _, out, _ = call("validate", "--format", "json", *paths[:count])
    document = json.loads(out)
    jsonschema.validate(document, OUTPUT_SCHEMA)
    assert len(document["files"]) == count
    for report in document["files"]:
        jsonschema.validate(report, SCHEMA)
    totals = document["totals"]
    assert totals["files"] == count
    assert totals["claims"] == sum(r["summary"]["claims"] for r in document["files"])
    assert totals["accepted"] + totals["rejected"] == totals["claims"]
