"""One path style for every finding, whichever layer made it (edi63650.loops)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from edi63650.loops import NAME_LOOPS, claim_path, indexed, plain
from edi63650.model import ClaimKind
from edi63650.structure.grammar import Grammars, LoopSpec, SegmentSpec
from edi63650.testing import (
    ClaimSpec,
    LineSpec,
    PatientSpec,
    ProviderSpec,
    SubscriberSpec,
    interchange,
)
from edi63650.validate import Validator

MAPS = {
    ClaimKind.PROFESSIONAL: "837.5010.X222.A1.xml",
    ClaimKind.INSTITUTIONAL: "837Q3.I.5010.X223.A1.xml",
}
BAD_NPI = "1234567890"  # fails the check digit


def loops_of(loop: LoopSpec) -> dict[str, LoopSpec]:
    found = {loop.id: loop}
    for child in loop.children:
        if isinstance(child, LoopSpec):
            found |= loops_of(child)
    return found


@pytest.mark.parametrize("kind", list(ClaimKind))
def test_the_name_loops_are_the_guides(kind: ClaimKind) -> None:
    grammar = Grammars.load().get(MAPS[kind])
    assert grammar is not None
    every = loops_of(grammar.root)
    for level, names in NAME_LOOPS[kind].items():
        for entity, loop_id in names.items():
            loop = every[loop_id]
            assert loop.path.split("/")[-2] == level, (loop_id, loop.path)
            first = loop.children[0]
            assert isinstance(first, SegmentSpec)
            assert first.id == "NM1"
            assert first.key is not None
            assert entity in first.key[2], (loop_id, entity)


def test_paths() -> None:
    professional = ClaimKind.PROFESSIONAL
    assert claim_path(professional, False, segment_id="CLM") == "2000A/2000B/2300/CLM"
    assert (
        claim_path(professional, True, line=3, in_line=True, segment_id="SV1")
        == "2000A/2000B/2000C/2300/2400[3]/SV1"
    )
    assert claim_path(professional, False, segment_id="NM1", entity="85") == "2000A/2010AA/NM1"
    assert claim_path(professional, True, segment_id="NM1", entity="QC") == (
        "2000A/2000B/2000C/2010CA/NM1"
    )
    assert claim_path(professional, False, line=1, in_line=True, segment_id="NM1", entity="82") == (
        "2000A/2000B/2300/2400[1]/2420A/NM1"
    )
    assert claim_path(ClaimKind.INSTITUTIONAL, False, segment_id="NM1", entity="82") == (
        "2000A/2000B/2300/2310D/NM1"
    )
    assert indexed("2000A/2000B/2300/2400/2420A/NM1", "2") == "2000A/2000B/2300/2400[2]/2420A/NM1"
    assert indexed("2000A/2000B/2300/CLM", "2") == "2000A/2000B/2300/CLM"
    assert plain("2000A/2000B/2300/2400[2]/SV1") == "2000A/2000B/2300/2400/SV1"


def test_every_layer_names_a_place_the_same_way() -> None:
    """The guide layer (a bad character), the builder (not a number) and the rules (a bad NPI,
    at the line, the claim and the billing provider) on one claim of a patient loop."""
    line = LineSpec("99213", Decimal("100"), rendering_npi=BAD_NPI)
    claim = ClaimSpec("C1", (LineSpec("99212", Decimal("50")), line), rendering_npi=BAD_NPI)
    subscriber = SubscriberSpec("M1", claims=(claim,), patient=PatientSpec())
    data = interchange("837P", providers=[ProviderSpec(npi=BAD_NPI, subscribers=(subscriber,))])
    data = data.replace(b"SV1*HC:99213*100", b"SV1*HC:99213*1O0", 1)
    (result,) = Validator().validate(data).claims
    paths = {(f.rule, f.path) for f in result.findings}
    line2 = "2000A/2000B/2000C/2300/2400[2]"
    assert ("IG-INVALID-CHARACTER", f"{line2}/SV1") in paths
    assert ("837-BAD-NUMBER", f"{line2}/SV1") in paths
    assert ("SNIP5-NPI", f"{line2}/2420A/NM1") in paths
    assert ("SNIP5-NPI", "2000A/2000B/2000C/2300/2310B/NM1") in paths
    assert ("SNIP5-NPI", "2000A/2010AA/NM1") in paths
    assert all(path.startswith("2000A/") for _, path in paths)
