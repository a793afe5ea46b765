"""Payer profiles as data: a profile defined only in a maps folder of one's own changes
verdicts as it declares, through --maps."""

from __future__ import annotations

import io
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from edi63650.cli import run
from edi63650.errors import MapError
from edi63650.maps import default_maps_dir
from edi63650.rules.tables import Tables
from edi63650.testing import ClaimSpec, LineSpec, ProviderSpec, SubscriberSpec, interchange

ACME = """
  <profile id="acme" title="ACME Health" payers="60054" base="commercial">
    <rule id="SCS-IMAGING" severity="warning"/>
  </profile>
  <profile id="state-medicaid" title="A Medicaid plan" filing="MC" base="commercial">
    <rule id="SCS-IMAGING" severity="off"/>
  </profile>
"""


def maps_with(tmp_path: Path, profiles: str) -> Path:
    folder = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), folder)
    text = (folder / "profiles.xml").read_text()
    anchor = '  <profile id="commercial"'
    (folder / "profiles.xml").write_text(text.replace(anchor, profiles.strip("\n") + "\n" + anchor))
    return folder


def imaging_claim(member: str, filing: str, payer: str) -> SubscriberSpec:
    lines = (LineSpec("63650", Decimal("1450.00")), LineSpec("77003", Decimal("95.00")))
    spec = ClaimSpec(f"C-{member}", lines, diagnoses=("G8929",), notes=("SCS TRIAL",))
    return SubscriberSpec(member, claims=(spec,), filing_indicator=filing, payer_id=payer)


def file_for(tmp_path: Path) -> Path:
    subscribers = (
        imaging_claim("M1", "CI", "60054"),  # ACME, by payer id
        imaging_claim("M2", "MC", "77777"),  # the Medicaid plan, by filing indicator
        imaging_claim("M3", "CI", "11111"),  # neither: the default (commercial)
        imaging_claim("M4", "MB", "04412"),  # Medicare
    )
    path = tmp_path / "claims.837"
    path.write_bytes(interchange("837P", providers=[ProviderSpec(subscribers=subscribers)]))
    return path


def claims(*argv: str) -> tuple[int, dict[str, tuple[str, str, list[str]]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(
        ["validate", "--format", "json", *argv], stdout=out, stderr=err, stdin=io.BytesIO()
    )
    if status == 2:
        return status, {}, err.getvalue()
    (report,) = json.loads(out.getvalue())["files"]
    found = {}
    for claim in report["claims"]:
        rules = sorted(f"{f['rule']}:{f['severity']}" for f in claim["findings"])
        found[claim["claim_id"]] = (claim["profile"], claim["verdict"], rules)
    return status, found, err.getvalue()


def test_a_profile_of_ones_own_maps_changes_verdicts_as_declared(tmp_path: Path) -> None:
    path = file_for(tmp_path)
    _, default, _ = claims(str(path))
    assert {claim_id: verdict[:2] for claim_id, verdict in default.items()} == {
        "C-M1": ("commercial", "rejected"),
        "C-M2": ("commercial", "rejected"),
        "C-M3": ("commercial", "rejected"),
        "C-M4": ("medicare", "rejected"),
    }
    maps = maps_with(tmp_path, ACME)
    _, own, _ = claims("--maps", str(maps), str(path))
    assert own["C-M1"] == ("acme", "accepted", ["SCS-IMAGING:warning"])
    assert own["C-M2"] == ("state-medicaid", "accepted", [])
    assert own["C-M3"] == default["C-M3"]
    assert own["C-M4"] == default["C-M4"]
    # Forced: every claim takes it.
    _, forced, _ = claims("--maps", str(maps), "--profile", "acme", str(path))
    assert {v[0] for v in forced.values()} == {"acme"}
    assert all(v[1] == "accepted" for v in forced.values())


def test_an_unknown_profile_is_one_line_naming_the_known_ones(tmp_path: Path) -> None:
    status, _, err = claims("--profile", "nosuch", str(file_for(tmp_path)))
    assert status == 2
    assert len(err.splitlines()) == 1
    assert "medicare, commercial" in err
    assert "nosuch" in err


@pytest.mark.parametrize(
    ("profiles", "problem"),
    [
        ('<profile id="x" title="X" payers="1" base="nowhere"/>', "nowhere"),
        (
            '<profile id="x" title="X" payers="1" base="y"/>'
            '<profile id="y" title="Y" payers="2" base="x"/>',
            "based on itself",
        ),
        (
            '<profile id="x" title="X" payers="1" base="medicare"><rule id="NO-SUCH" '
            'severity="off"/></profile>',
            "NO-SUCH",
        ),
        ('<profile id="x" title="X" payers="1"/>', "needs one of"),
    ],
)
def test_a_broken_profile_is_a_map_error(tmp_path: Path, profiles: str, problem: str) -> None:
    maps = maps_with(tmp_path, profiles)
    with pytest.raises(MapError, match=problem):
        Tables.read(maps)
