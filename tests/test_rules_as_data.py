"""Rules made of data, and a pack's own per-claim context (issue: profiles and packs as data)."""

from __future__ import annotations

import io
import re
import shutil
from decimal import Decimal
from pathlib import Path

import edi63650
from edi63650.maps import default_maps_dir
from edi63650.rules.engine import Phase, RuleSet
from edi63650.rules.pack import DEFAULT_RULES, Engine
from edi63650.rules.tables import Tables
from edi63650.testing import ClaimSpec, LineSpec, SubscriberSpec, interchange
from tests.rulepack_cases import PROFESSIONAL, TODAY

# A payer's edit written only in its maps: no modifier 51 (multiple procedures) on a code
# whose multiple-procedure indicator is 0.
NEW_RULE = """
  <rule id="PAYER-MULTIPLE" level="7" medicare="error" commercial="error"
        title="No multiple-procedure modifier where the fee schedule has no reduction"
        source="a payer's edit, for the test">
    <status category="A7" code="453"/>
    <fee-schedule-indicator column="multiple-procedure" forbidden="0" modifiers="multiple"
        message="{modifiers} on {code}: this code takes no multiple-procedure reduction"
        fix="remove {modifiers}"/>
  </rule>
"""


def results(engine: Engine, data: bytes) -> dict[str, tuple[bool, set[str], str | None]]:
    return {
        r.claim.claim_id: (
            r.accepted,
            {f.rule for f in r.findings},
            r.phase.value if r.phase else None,
        )
        for r in engine.check(edi63650.iter_claims(io.BytesIO(data)))
    }


def test_a_rule_made_of_data_runs_without_code(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), maps)
    rules = (maps / "rules.xml").read_text()
    (maps / "rules.xml").write_text(
        rules.replace("</rule-catalogue>", NEW_RULE + "</rule-catalogue>")
    )
    modifiers = (maps / "modifiers.xml").read_text()
    assert '<modifier code="51"' in modifiers
    marked = modifiers.replace('<modifier code="51"', '<modifier code="51" roles="multiple"', 1)
    (maps / "modifiers.xml").write_text(marked)
    tables = Tables.load(maps)
    schedule = tables.fee_schedule["63650"]
    assert schedule.multiple_procedure != "0"  # 63650 takes the reduction: the edit is silent
    code = next(c for c, s in tables.fee_schedule.items() if s.multiple_procedure == "0")
    lines = (LineSpec(code, Decimal("100.00"), modifiers=("51",)),)
    spec = ClaimSpec("N1", lines, diagnoses=("G8929",))
    data = interchange("837P", [SubscriberSpec("M1", claims=(spec,))])
    assert "PAYER-MULTIPLE" in results(Engine(tables, today=TODAY), data)["N1"][1]
    assert "PAYER-MULTIPLE" not in results(Engine(today=TODAY), data)["N1"][1]


def test_the_four_indicator_rules_are_data() -> None:
    tables = Tables.load()
    made_of_data = {info.id for info in tables.rules if info.indicator is not None}
    assert made_of_data == {"SCS-ASSISTANT", "SCS-CO-SURGEON", "SCS-TEAM", "SCS-BILATERAL"}
    assert made_of_data.isdisjoint(DEFAULT_RULES.checks)


def test_the_pack_gives_the_claims_their_phase_not_the_engine() -> None:
    data = PROFESSIONAL.read_bytes()
    with_pack = results(Engine(today=TODAY), data)
    assert with_pack["P01"][2] == Phase.TRIAL.value
    plain = RuleSet(DEFAULT_RULES.checks, DEFAULT_RULES.triggers)  # a pack without a phase
    without = results(Engine(rules=plain, today=TODAY), data)
    assert {phase for _, _, phase in without.values()} == {None}
    trial = RuleSet(DEFAULT_RULES.checks, DEFAULT_RULES.triggers, lambda *_: Phase.TRIAL)
    assert {p for _, _, p in results(Engine(rules=trial, today=TODAY), data).values()} == {"trial"}


# -- the SCS pack's codes are data (codes.xml, modifiers.xml), not literals in scs.py ---------

RULE_MODULES = sorted((Path(edi63650.__file__).parent / "rules").glob("*.py"))


def test_no_rule_module_spells_a_procedure_code_bill_type_or_status() -> None:
    # a CPT/HCPCS code, a two-digit bill type or modifier, or an OPPS status, as a literal
    literal = re.compile(r"""["']([0-9]{5}|[A-V][0-9]{4}|[0-9]{2}|[A-Z][0-9])["']""")
    found = {
        (path.name, match) for path in RULE_MODULES for match in literal.findall(path.read_text())
    }
    # an X12 qualifier is the guide's, not a payer's: REF*F8, the original claim's reference
    assert found == {("pack.py", "F8")}
    assert not any('startswith("C")' in path.read_text() for path in RULE_MODULES)


def maps_copy(tmp_path: Path, **edits: tuple[str, str]) -> Tables:
    """Tables of a copy of the bundled maps, each ``file=(old, new)`` replaced once."""
    maps = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), maps)
    for name, (old, new) in edits.items():
        path = maps / f"{name.replace('_', '-')}.xml"
        text = path.read_text()
        assert text.count(old) == 1, (name, old)
        path.write_text(text.replace(old, new))
    return Tables.load(maps)


def verdicts(tables: Tables | None, kind: str, *claims: ClaimSpec) -> dict[str, set[str]]:
    data = interchange(kind, [SubscriberSpec("M1", claims=claims)])
    engine = Engine(tables, today=TODAY) if tables is not None else Engine(today=TODAY)
    return {claim: rules for claim, (_, rules, _) in results(engine, data).items()}


def test_what_includes_imaging_guidance_is_data(tmp_path: Path) -> None:
    spec = ClaimSpec(
        "I1",
        (LineSpec("63655", Decimal("900.00")), LineSpec("77003", Decimal("80.00"))),
    )
    assert "SCS-IMAGING" not in verdicts(None, "837P", spec)["I1"]
    tables = maps_copy(
        tmp_path,
        codes=(
            '    <code value="63650" short="Implant neuroelectrodes"/>\n  </family>\n\n'
            '  <family id="needs-indication"',
            '    <code value="63650" short="Implant neuroelectrodes"/>\n'
            '    <code value="63655" short="Implant neuroelectrodes"/>\n  </family>\n\n'
            '  <family id="needs-indication"',
        ),
    )
    assert "63655" in tables.family("includes-imaging-guidance")
    data = interchange("837P", [SubscriberSpec("M1", claims=(spec,))])
    (result,) = Engine(tables, today=TODAY).check(edi63650.iter_claims(io.BytesIO(data)))
    (finding,) = [f for f in result.findings if f.rule == "SCS-IMAGING"]
    assert "included in 63655" in finding.message
    assert finding.source.startswith("NCCI PTP 63655/77003")


def test_which_bill_types_are_opps_is_data(tmp_path: Path) -> None:
    # 63650 without its lead device on an outpatient-hospital (13x) and on an 83x claim
    lines = (LineSpec("63650", Decimal("900.00")),)
    hospital, other = ClaimSpec("H13", lines), ClaimSpec("H83", lines, facility_code="83")
    before = verdicts(None, "837I", hospital, other)
    assert "SCS-DEVICE-MISSING" in before["H13"]
    assert "SCS-DEVICE-MISSING" not in before["H83"]
    tables = maps_copy(
        tmp_path,
        codes=(
            '<opps-bill-type facility="13" title="Hospital outpatient"',
            '<opps-bill-type facility="83" title="Ambulatory surgery center"',
        ),
    )
    after = verdicts(tables, "837I", hospital, other)
    assert "SCS-DEVICE-MISSING" not in after["H13"]
    assert "SCS-DEVICE-MISSING" in after["H83"]


def test_which_opps_statuses_are_unpaid_is_data(tmp_path: Path) -> None:
    # L8681 (programmer) is OPPS status A: paid, until a payer's maps say otherwise
    spec = ClaimSpec("L1", (LineSpec("63650", Decimal("900.00")), LineSpec("L8681", Decimal("5"))))
    assert "SCS-OPPS-L-CODE" not in verdicts(None, "837I", spec)["L1"]
    tables = maps_copy(
        tmp_path,
        codes=(
            '  <opps-unpaid-status code="E1"',
            '  <opps-unpaid-status code="A" title="not paid here" source="a payer"/>\n'
            '  <opps-unpaid-status code="E1"',
        ),
    )
    assert "SCS-OPPS-L-CODE" in verdicts(tables, "837I", spec)["L1"]


def test_the_global_period_modifiers_are_roles_of_modifiers_xml(tmp_path: Path) -> None:

    def visit(modifier: str) -> LineSpec:
        return LineSpec("99213", Decimal("100.00"), modifiers=(modifier,))

    surgery = ClaimSpec("S1", (LineSpec("63650", Decimal("900.00")), visit("25")))
    other = ClaimSpec("S2", (LineSpec("63650", Decimal("900.00")), visit("27")))
    before = verdicts(None, "837P", surgery)
    assert "SCS-GLOBAL-EM" not in before["S1"]
    assert "SCS-GLOBAL-EM" in verdicts(None, "837P", other)["S2"]
    tables = maps_copy(
        tmp_path / "27",
        modifiers=(
            '<modifier code="27" kind="cpt" name="multiple outpatient hospital E/M same date" '
            'roles="',
            '<modifier code="27" kind="cpt" name="multiple outpatient hospital E/M same date" '
            'roles="em-same-day ',
        ),
    )
    assert "SCS-GLOBAL-EM" not in verdicts(tables, "837P", other)["S2"]
    moved = maps_copy(tmp_path / "none", modifiers=('roles="em-same-day ', 'roles="'))
    assert moved.modifiers_with("em-same-day") == frozenset()
    assert "SCS-GLOBAL-EM" in verdicts(moved, "837P", surgery)["S1"]


def test_what_says_trial_or_permanent_is_data(tmp_path: Path) -> None:
    noted = ClaimSpec("T1", (LineSpec("63650", Decimal("900.00")),), notes=("PRUEBA DE 7 DIAS",))
    lead = ClaimSpec("T2", (LineSpec("63650", Decimal("900.00")), LineSpec("C1778", Decimal("5"))))
    data = interchange("837P", [SubscriberSpec("M1", claims=(noted, lead))])
    assert {c: p for c, (_, _, p) in results(Engine(today=TODAY), data).items()} == {
        "T1": "unknown",
        "T2": "permanent",
    }
    tables = maps_copy(tmp_path / "word", codes=('note-word="TRIAL"', 'note-word="PRUEBA"'))
    phases = {c: p for c, (_, _, p) in results(Engine(tables, today=TODAY), data).items()}
    assert phases["T1"] == "trial"
    lifted = maps_copy(
        tmp_path / "lead",
        codes=(
            '<phase-evidence phase="permanent" codes="C1778"',
            '<phase-evidence phase="permanent" codes="C1883"',
        ),
    )
    assert results(Engine(lifted, today=TODAY), data)["T2"][2] == "unknown"


def test_which_devices_are_not_neurostimulators_is_data(tmp_path: Path) -> None:
    spec = ClaimSpec("D1", (LineSpec("63650", Decimal("900.00")), LineSpec("C1883", Decimal("5"))))
    assert "SCS-C1768" not in verdicts(None, "837P", spec)["D1"]
    tables = maps_copy(
        tmp_path,
        codes=(
            '<device code="C1883" kind="adapter"',
            '<device code="C1883" kind="not-neurostimulator"',
        ),
    )
    data = interchange("837P", [SubscriberSpec("M1", claims=(spec,))])
    (result,) = Engine(tables, today=TODAY).check(edi63650.iter_claims(io.BytesIO(data)))
    (finding,) = [f for f in result.findings if f.rule == "SCS-C1768"]
    assert finding.message.startswith("C1883 is 'Adapt/ext, pacing/neuro lead', not a")


def test_which_procedures_need_an_indication_is_data(tmp_path: Path) -> None:
    spec = ClaimSpec("N1", (LineSpec("63655", Decimal("900.00")),), diagnoses=("J069",))
    assert "SCS-INDICATION" not in verdicts(None, "837P", spec)["N1"]
    tables = maps_copy(
        tmp_path,
        codes=(
            '    <code value="63650" short="Implant neuroelectrodes"/>\n  </family>\n\n'
            '  <family id="evaluation-management"',
            '    <code value="63655" short="Implant neuroelectrodes"/>\n  </family>\n\n'
            '  <family id="evaluation-management"',
        ),
    )
    assert "SCS-INDICATION" in verdicts(tables, "837P", spec)["N1"]
