"""The rule engine and the spinal-cord-stimulator pack, driven by the rule-pack fixtures."""

from __future__ import annotations

import datetime
import io
import json
import multiprocessing
import shutil
import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

import edi63650
from edi63650 import Claim, Severity
from edi63650.cli import run
from edi63650.errors import MapError
from edi63650.findings import ClaimStatus
from edi63650.maps import default_maps_dir
from edi63650.rules.engine import ClaimResult, RuleSet
from edi63650.rules.history import HistoryStore, Service
from edi63650.rules.pack import DEFAULT_RULES, Engine
from edi63650.rules.tables import Tables
from tests.rulepack_cases import (
    INSTITUTIONAL,
    INSTITUTIONAL_CASES,
    PROFESSIONAL,
    PROFESSIONAL_CASES,
    TODAY,
    VARIANTS,
    Case,
    build,
)

CASES = {case.claim.claim_id: case for case in PROFESSIONAL_CASES + INSTITUTIONAL_CASES}


@pytest.fixture(scope="module")
def tables() -> Tables:
    return Tables.load()


def check(tables: Tables, path: Path, **options: object) -> dict[str, ClaimResult]:
    engine = Engine(tables, today=TODAY, **options)  # type: ignore[arg-type]
    with path.open("rb") as stream:
        return {r.claim.claim_id: r for r in engine.check(edi63650.iter_claims(stream))}


@pytest.fixture(scope="module")
def results(tables: Tables) -> dict[str, ClaimResult]:
    return {**check(tables, PROFESSIONAL), **check(tables, INSTITUTIONAL)}


def test_fixtures_are_generated_from_the_case_table() -> None:
    assert PROFESSIONAL.read_bytes() == build("837P"), "run: python -m tests.rulepack_cases"
    assert INSTITUTIONAL.read_bytes() == build("837I"), "run: python -m tests.rulepack_cases"
    assert len(CASES) >= 30
    assert {c.filing for c in CASES.values()} >= {"MA", "MB", "CI"}


@pytest.mark.parametrize("case", list(CASES.values()), ids=lambda c: c.claim.claim_id)
def test_each_claim_gets_its_exact_verdict_rules_and_phase(
    case: Case, results: dict[str, ClaimResult]
) -> None:
    result = results[case.claim.claim_id]
    # The rule engine alone: structural (IG-) findings come from the reader, in validate.
    assert {(f.rule, f.line) for f in result.findings} == {
        (rule, line) for rule, line in case.rules if not rule.startswith("IG-")
    }
    assert result.accepted is case.accepted
    assert (result.phase.value if result.phase else None) == case.phase


def test_every_rule_has_a_trigger_and_a_close_variant(
    tables: Tables, results: dict[str, ClaimResult]
) -> None:
    assert set(VARIANTS) == {info.id for info in tables.rules}
    for rule, (trigger, variant) in VARIANTS.items():
        assert rule in {f.rule for f in results[trigger].findings}, (rule, trigger)
        assert rule not in {f.rule for f in results[variant].findings}, (rule, variant)


def test_a_finding_carries_everything_a_277ca_and_a_person_need(
    results: dict[str, ClaimResult],
) -> None:
    (finding,) = results["P02"].findings
    assert finding.rule == "SCS-IMAGING"
    assert finding.severity is Severity.ERROR
    assert finding.claim_id == "P02"
    assert finding.line == 2
    assert finding.path == "2000A/2000B/2300/2400[2]/SV1"
    assert finding.segment_id == "SV1"
    assert finding.segment == "SV1*HC:77003*95.00*UN*1***1"
    assert finding.element == "SV101-02"
    assert finding.offset is not None
    assert finding.line_no is not None
    assert finding.source == "NCCI PTP 63650/77003, modifier indicator 1; NCCI Policy Manual ch. IV"
    assert finding.fix.startswith("remove 77003")
    assert finding.statuses == (ClaimStatus("A7", "735"), ClaimStatus("A7", "453"))
    data = PROFESSIONAL.read_bytes()
    assert data[finding.offset : finding.offset + len(finding.segment)].decode() == finding.segment


def test_c1768_is_explained_plainly(results: dict[str, ClaimResult]) -> None:
    (finding,) = results["P22"].findings
    assert finding.message == (
        "C1768 is 'Graft, vascular', not a neurostimulator generator; a claim that pairs it "
        "with spinal-cord-stimulator procedures is miscoded"
    )
    # the generator codes come from codes.xml (devices an OPPS requirement names), by kind
    assert finding.fix.startswith("bill the generator with its own device code: rechargeable ")
    assert "C1820, C1822" in finding.fix
    assert "non-rechargeable C1767" in finding.fix
    assert "C1768" not in finding.fix


def test_ptp_cites_the_pair_and_indicator(results: dict[str, ClaimResult]) -> None:
    (zero,) = results["P04"].findings
    assert zero.source == (
        "NCCI PTP 63650/62323, modifier indicator 0 (Anesthesia service included in surgical "
        "procedure)"
    )
    assert "no modifier can bypass" in zero.message
    (one,) = results["P05"].findings
    assert one.source.startswith("NCCI PTP 63650/36000, modifier indicator 1")


def test_npi_finding_names_the_entity(results: dict[str, ClaimResult]) -> None:
    (finding,) = results["S06"].findings
    assert finding.statuses[0] == ClaimStatus("A7", "562", "82")
    assert finding.element == "NM109"


def test_mue_counts_units_across_lines_of_a_date(results: dict[str, ClaimResult]) -> None:
    (finding,) = results["P08"].findings
    assert finding.message == (
        "3 units of 63650 on one date across 2 line(s); the MUE allows 2 per date"
    )
    assert finding.source.startswith("MUE 63650 = 2, MAI 3")


def test_profile_can_be_forced(tables: Tables) -> None:
    commercial = check(tables, PROFESSIONAL, profile="commercial")
    assert commercial["P09"].profile == "commercial"
    assert commercial["P09"].accepted  # the assistant rule is a warning for commercial payers
    medicare = check(tables, PROFESSIONAL, profile="medicare")
    assert not medicare["P10"].accepted
    institutional = check(tables, INSTITUTIONAL, profile="commercial")
    assert institutional["I02"].accepted  # OPPS device edits are Medicare's


def test_history_spans_files_and_holds_no_patient_identifiers(
    tables: Tables, tmp_path: Path
) -> None:
    database = tmp_path / "history.sqlite"
    first = _only(PROFESSIONAL_CASES, "G01")
    second = _only(PROFESSIONAL_CASES, "G02")
    store = HistoryStore(database)
    assert all(r.accepted for r in Engine(tables, history=store, today=TODAY).check(first))
    results = list(Engine(tables, history=store, today=TODAY).check(second))
    assert [f.rule for f in results[0].findings] == ["SCS-GLOBAL-EM"]
    without = list(Engine(tables, today=TODAY).check(second))
    assert without[0].findings == ()
    store.close()
    dump = "\n".join(sqlite3.connect(database).iterdump())
    for identifier in ("MBRG1", "DOE", "ALEX", "1958"):
        assert identifier not in dump


def test_rechecking_the_same_file_does_not_meet_itself(tables: Tables, tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "history.sqlite")
    for _ in range(2):
        results = list(
            Engine(tables, history=store, today=TODAY).check(_only(PROFESSIONAL_CASES, "G01"))
        )
        assert results[0].findings == ()


def _only(cases: list[Case], claim_id: str) -> list[Claim]:
    data = build("837P")
    return [c for c in edi63650.iter_claims(io.BytesIO(data)) if c.claim_id == claim_id]


def _record(path: str, worker: int) -> None:
    store = HistoryStore(Path(path))

    for batch in range(20):
        store.record(
            Service(
                "p",
                "npi",
                "63650",
                frozenset(),
                datetime.date(2026, 1, 1) + datetime.timedelta(days=batch),
                Decimal(1),
                f"W{worker}",
                batch + 1,
            )
            for _ in range(1)
        )
    store.close()


def test_history_is_safe_with_concurrent_writers(tmp_path: Path) -> None:
    database = tmp_path / "shared.sqlite"
    HistoryStore(database).close()
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_record, args=(str(database), n)) for n in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    rows = sqlite3.connect(database).execute("SELECT COUNT(*) FROM procedures").fetchone()
    assert rows == (80,)


def _broken_copy(tmp_path: Path, name: str, old: str, new: str) -> tuple[Path, Path]:
    maps = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), maps)
    path = maps / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return maps, path


def test_a_broken_rule_table_fails_with_file_line_and_problem(tmp_path: Path) -> None:
    maps, path = _broken_copy(tmp_path, "rules.xml", 'medicare="warning"', 'medicare="loud"')
    with pytest.raises(MapError) as caught:
        Tables.load(maps)
    message = str(caught.value)
    line = next(i for i, s in enumerate(path.read_text().splitlines(), 1) if "loud" in s)
    assert message.startswith(f"{path}:")
    assert abs(int(message[len(str(path)) + 1 :].split(":", maxsplit=1)[0]) - line) <= 2
    assert "'loud' is not an element of the set" in message


def test_a_bad_ptp_code_fails_to_load(tmp_path: Path) -> None:
    maps, _ = _broken_copy(tmp_path, "ncci-ptp.xml", 'column2="01937"', 'column2="1937"')
    with pytest.raises(MapError, match=r"ncci-ptp\.xml:\d+: .*1937"):
        Tables.load(maps)


def test_catalogue_and_code_must_agree(tables: Tables) -> None:
    partial = RuleSet({k: v for k, v in DEFAULT_RULES.checks.items() if k != "SCS-PTP"})
    with pytest.raises(MapError, match=r"no code for \['SCS-PTP'\]"):
        Engine(tables, partial)

    def extra(context: object, claim: Claim) -> Iterator[object]:
        return iter(())

    with pytest.raises(MapError, match=r"no catalogue entry for \['X-NEW'\]"):
        Engine(tables, DEFAULT_RULES.extend({"X-NEW": extra}))  # type: ignore[dict-item]


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return run(list(argv), stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_rules_command_lists_every_rule(tables: Tables) -> None:
    status, out, _ = call("rules")
    assert status == 0
    for info in tables.rules:
        assert f"{info.id}  (SNIP {info.level})  {info.title}" in out
    assert "SCS-ASSISTANT  (SNIP 7)" in out
    assert "severity: medicare error, commercial warning; 277CA: A7:453 A7:732" in out
    assert "SCS-INDICATION" in out
    assert "[source UNCONFIRMED]" in out
    status, out, _ = call("rules", "--format", "json")
    records = json.loads(out)
    assert [r["id"] for r in records] == [info.id for info in tables.rules]
    device = next(r for r in records if r["id"] == "SCS-DEVICE-MISSING")
    assert device["severity"] == {"medicare": "error", "commercial": "off"}
    assert device["statuses"] == ["A6:21", "A6:507"]
    assert device["confirmed"] is False


def test_rules_command_with_a_broken_map_exits_2(tmp_path: Path) -> None:
    maps, _ = _broken_copy(tmp_path, "rules.xml", 'level="3"', 'level="6"')
    status, out, err = call("rules", "--maps", str(maps))
    assert (status, out) == (2, "")
    assert "rules.xml:" in err
    assert err.count("\n") == 1


SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "domain" / "data"


def _table(path: Path, tag: str) -> set[tuple[tuple[str, str], ...]]:
    from lxml import etree

    root = etree.parse(str(path)).getroot()
    return {
        tuple(sorted(e.attrib.items()))
        for e in root
        if isinstance(e.tag, str) and e.tag.endswith(tag)
    }


def test_refresh_maps_rebuilds_the_checked_in_tables(tmp_path: Path) -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the CMS extracts are not at {SHARED_DATA}")
    shutil.copy(default_maps_dir() / "maps.xsd", tmp_path / "maps.xsd")
    status, out, err = call(
        "refresh-maps",
        "--ptp",
        str(SHARED_DATA / "ptp_scs_v301r0_active.csv"),
        "--mue",
        str(SHARED_DATA / "mue_scs.csv"),
        "--fee-schedule",
        str(SHARED_DATA / "pfs_indicators_scs_2025oct.csv"),
        "--output",
        str(tmp_path),
        "--source",
        "test",
        "--vintage",
        "test",
        "--as-of",
        "2024-04-01",
    )
    assert (status, err) == (0, "")
    assert out == "ncci-ptp.xml: 2218 pairs\nmue.xml: 131 edits\nfee-schedule.xml: 14 codes\n"
    for name, tag in (("ncci-ptp.xml", "pair"), ("mue.xml", "mue"), ("fee-schedule.xml", "code")):
        assert _table(tmp_path / name, tag) == _table(default_maps_dir() / name, tag), name


def test_refresh_maps_keeps_each_mue_vintage_and_drops_pairs_deleted_before_as_of(
    tmp_path: Path,
) -> None:
    ptp = tmp_path / "ptp.csv"
    ptp.write_text(
        "column_1,column_2,prior_to_1996,deletion_date,modifier_indicator,rationale\n"
        "63650,77003,,9999-12-31,1,Misuse of Column Two code with Column One code\n"
        "63650,99999,,2020-01-01,0,Deleted long ago\n"
    )
    mue = tmp_path / "mue.csv"
    mue.write_text(
        "code,setting,mue,mai,mai_desc,rationale,source\n"
        "63650,Practitioner,3,3,x,old,MCR_MUE_Eff_04-01-2024.csv\n"
        "63650,Practitioner,2,3,x,new,MCR_MUE_Eff_04-01-2026.csv\n"
    )
    maps = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), maps)
    status, out, _ = call(
        "refresh-maps",
        "--ptp",
        str(ptp),
        "--mue",
        str(mue),
        "--output",
        str(maps),
        "--source",
        "s",
        "--vintage",
        "v",
        "--as-of",
        "2026-01-01",
    )
    assert status == 0
    assert out == "ncci-ptp.xml: 1 pairs\nmue.xml: 2 edits\n"
    (pair,) = _table(maps / "ncci-ptp.xml", "pair")
    assert ("column2", "77003") in pair
    edits = {dict(e)["effective"]: dict(e)["value"] for e in _table(maps / "mue.xml", "mue")}
    assert edits == {"2024-04-01": "3", "2026-04-01": "2"}
    loaded = Tables.load(maps)
    values = [
        edit.value if edit else None
        for edit in (
            loaded.mue("63650", "practitioner", datetime.date(2025, 1, 1)),
            loaded.mue("63650", "practitioner", datetime.date(2026, 5, 1)),
            loaded.mue("63650", "practitioner"),  # undated: the latest
        )
    ]
    assert values == [3, 2, 2]
    assert call("refresh-maps", "--output", str(maps), "--source", "s", "--vintage", "v")[0] == 2


def test_a_trigger_never_skips_a_rule_that_had_something_to_say(tables: Tables) -> None:
    """The engine skips a rule when its trigger says the claim's codes cannot concern it: the
    rule, run anyway, must then say nothing (on every claim the suite knows)."""
    from edi63650.rules.engine import RuleContext
    from edi63650.rules.scs import TRIGGERS, classify_phase
    from edi63650.rules.services import ServiceHistory
    from edi63650.testing import stress, synth

    sources = [PROFESSIONAL.read_bytes(), INSTITUTIONAL.read_bytes(), synth("837P", 400, 2)]
    sources += [synth("837I", 200, 3), stress("lines", 30), stress("patient-claims", 30)]
    sources += [p.read_bytes() for p in sorted(Path(PROFESSIONAL).parent.glob("*.837"))]
    checks = DEFAULT_RULES.checks
    skipped = 0
    for data in sources:
        history = ServiceHistory()
        for claim in edi63650.iter_claims(io.BytesIO(data)):
            codes = frozenset(line.procedure.code for line in claim.lines if line.procedure)
            for profile in tables.profiles.ids:
                context = RuleContext(
                    tables,
                    profile,
                    history,
                    TODAY,
                    codes,
                    classify_phase(tables, claim, codes),
                    90,
                )
                for rule, trigger in TRIGGERS.items():
                    if not trigger(tables, codes):
                        skipped += 1
                        assert list(checks[rule](context, claim)) == [], (rule, claim.claim_id)
    assert skipped > 1000
