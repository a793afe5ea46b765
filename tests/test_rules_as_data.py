"""Rules made of data, and a pack's own per-claim context (issue: profiles and packs as data)."""

from __future__ import annotations

import io
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
