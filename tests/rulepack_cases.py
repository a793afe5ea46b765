"""The rule-pack cases: each claim of the rule-pack fixtures with its expected verdict.

``python -m tests.rulepack_cases`` writes ``fixtures/rulepack-professional.837`` and
``fixtures/rulepack-institutional.837`` from these specs; a test checks that the checked-in
files match, and another runs the engine over them and compares every claim's verdict and
(rule, line) pairs with the table below. Validation day: ``TODAY``.
"""

from __future__ import annotations

import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from edi63650.testing import ClaimSpec, LineSpec, ProviderSpec, SubscriberSpec, interchange

TODAY = datetime.date(2026, 11, 26)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PROFESSIONAL = FIXTURES / "rulepack-professional.837"
INSTITUTIONAL = FIXTURES / "rulepack-institutional.837"

D = datetime.date
SURGEON = "1987654328"  # valid check digit
TRIAL = ("SCS TRIAL",)
DAY = D(2026, 10, 1)


@attrs.frozen
class Case:
    """One claim: who it is for, what it bills, and what the engine must say."""

    claim: ClaimSpec
    member: str
    filing: str
    accepted: bool
    rules: frozenset[tuple[str, int | None]] = frozenset()
    phase: str | None = None


def line(
    code: str,
    charge: str = "100.00",
    units: int = 1,
    *mods: str,
    day: datetime.date = DAY,
    pointers: tuple[int, ...] = (1,),
    revenue: str = "0360",
) -> LineSpec:
    return LineSpec(
        code,
        Decimal(charge),
        Decimal(units),
        modifiers=mods,
        pointers=pointers,
        service_date=day,
        revenue_code=revenue,
    )


def claim(
    claim_id: str,
    *lines: LineSpec,
    dx: tuple[str, ...] = ("G8929", "M961"),
    notes: tuple[str, ...] = (),
    **extra: Any,  # any ClaimSpec field: total_charge, facility_code, attachments...
) -> ClaimSpec:
    spec = ClaimSpec(claim_id, tuple(lines), diagnoses=dx, notes=notes, rendering_npi=SURGEON)
    return attrs.evolve(spec, **extra)


def rules(*pairs: tuple[str, int | None]) -> frozenset[tuple[str, int | None]]:
    return frozenset(pairs)


PROFESSIONAL_CASES = [
    # clean trial
    Case(claim("P01", line("63650", "2900.00", 2), notes=TRIAL), "P01", "MB", True, phase="trial"),
    # imaging guidance with 63650
    Case(
        claim("P02", line("63650", "1450.00"), line("77003", "95.00"), notes=TRIAL),
        "P02",
        "MB",
        False,
        rules(("SCS-IMAGING", 2)),
        "trial",
    ),
    Case(
        claim("P03", line("63650", "1450.00"), line("77003", "95.00", 1, "XS"), notes=TRIAL),
        "P03",
        "MB",
        True,
        rules(("SCS-IMAGING", 2)),
        "trial",
    ),
    # NCCI PTP: indicator 0 is never bypassed; indicator 1 is, with a PTP modifier
    Case(
        claim("P04", line("63650", "1450.00"), line("62323", "300.00", 1, "59"), notes=TRIAL),
        "P04",
        "MB",
        False,
        rules(("SCS-PTP", 2)),
        "trial",
    ),
    Case(
        claim("P05", line("63650", "1450.00"), line("36000", "40.00"), notes=TRIAL),
        "P05",
        "MB",
        False,
        rules(("SCS-PTP", 2)),
        "trial",
    ),
    Case(
        claim("P06", line("63650", "1450.00"), line("36000", "40.00", 1, "59"), notes=TRIAL),
        "P06",
        "MB",
        True,
        phase="trial",
    ),
    # MUE 63650 = 2 per date (MAI 3): per line and across lines
    Case(
        claim("P07", line("63650", "4350.00", 3), notes=TRIAL),
        "P07",
        "MB",
        False,
        rules(("SCS-MUE", 1)),
        "trial",
    ),
    Case(
        claim("P08", line("63650", "1450.00"), line("63650", "2900.00", 2, "76"), notes=TRIAL),
        "P08",
        "MB",
        False,
        rules(("SCS-MUE", 2)),
        "trial",
    ),
    # fee-schedule indicators; the commercial profile softens the assistant rule
    Case(
        claim("P09", line("63650", "1450.00", 1, "80"), notes=TRIAL),
        "P09",
        "MB",
        False,
        rules(("SCS-ASSISTANT", 1)),
        "trial",
    ),
    Case(
        claim("P10", line("63650", "1450.00", 1, "80"), notes=TRIAL),
        "P10",
        "CI",
        True,
        rules(("SCS-ASSISTANT", 1)),
        "trial",
    ),
    Case(
        claim("P11", line("63650", "1450.00", 1, "62"), notes=TRIAL),
        "P11",
        "MB",
        False,
        rules(("SCS-CO-SURGEON", 1)),
        "trial",
    ),
    Case(
        claim("P12", line("63650", "1450.00", 1, "66"), notes=TRIAL),
        "P12",
        "MB",
        False,
        rules(("SCS-TEAM", 1)),
        "trial",
    ),
    Case(
        claim("P13", line("63650", "1450.00", 1, "50"), notes=TRIAL),
        "P13",
        "MB",
        True,
        rules(("SCS-BILATERAL", 1)),
        "trial",
    ),
    # modifiers that contradict each other, unknown modifiers, 22 without documentation
    Case(
        claim("P14", line("63650", "1450.00", 1, "76", "77"), notes=TRIAL),
        "P14",
        "MB",
        False,
        rules(("SCS-MODIFIER-CONFLICT", 1)),
        "trial",
    ),
    Case(
        claim("P15", line("63650", "1450.00"), line("36000", "40.00", 1, "59", "XS"), notes=TRIAL),
        "P15",
        "MB",
        False,
        rules(("SCS-MODIFIER-CONFLICT", 2)),
        "trial",
    ),
    Case(
        claim("P16", line("63650", "1450.00", 1, "GA", "GZ"), notes=TRIAL),
        "P16",
        "MB",
        False,
        rules(("SCS-MODIFIER-CONFLICT", 1)),
        "trial",
    ),
    Case(
        claim("P17", line("63650", "1450.00", 1, "ZZ"), notes=TRIAL),
        "P17",
        "MB",
        False,
        rules(("SNIP5-MODIFIER", 1)),
        "trial",
    ),
    Case(
        claim("P18", line("63650", "1450.00", 1, "22")),
        "P18",
        "MB",
        True,
        rules(("SCS-MODIFIER-22", 1), ("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    Case(
        claim("P19", line("63650", "1450.00", 1, "22"), notes=TRIAL, attachments=("OB",)),
        "P19",
        "MB",
        True,
        phase="trial",
    ),
    # global period: one patient, one surgeon
    Case(claim("G01", line("63650", "2900.00", 2), notes=TRIAL), "G1", "MB", True, phase="trial"),
    Case(
        claim("G02", line("99213", "110.00", 1, day=D(2026, 10, 5))),
        "G1",
        "MB",
        False,
        rules(("SCS-GLOBAL-EM", 1)),
    ),
    Case(claim("G03", line("99213", "110.00", 1, "24", day=D(2026, 10, 6))), "G1", "MB", True),
    Case(claim("G04", line("99214", "165.00", 1, "25")), "G1", "MB", True),
    # (G01's 63650 is on the same date: the E/M without 25 is also an NCCI PTP pair split
    # over claims, and G04 billed 99214 for the date already: a suspected duplicate)
    Case(
        claim("G05", line("99214", "165.00")),
        "G1",
        "MB",
        False,
        rules(("SCS-GLOBAL-EM", 1), ("SCS-PTP", 1), ("DUP-SUSPECT", 1)),
    ),
    Case(
        claim("G06", line("99213", "110.00", 1, "57", day=D(2026, 10, 3))),
        "G1",
        "MB",
        False,
        rules(("SCS-GLOBAL-EM", 1)),
    ),
    Case(
        claim("G07", line("63650", "1450.00", 1, day=D(2026, 10, 8)), notes=TRIAL),
        "G1",
        "MB",
        False,
        rules(("SCS-GLOBAL-REPEAT", 1)),
        "trial",
    ),
    Case(
        claim("G08", line("63685", "1100.00", 1, "58", day=D(2026, 10, 9))),
        "G1",
        "MB",
        True,
        phase="permanent",
    ),
    # a generator without leads, an unlisted indication, C1768
    Case(
        claim("P20", line("63685", "1100.00")),
        "P20",
        "MB",
        True,
        rules(("SCS-GENERATOR-ALONE", 1)),
        "permanent",
    ),
    Case(
        claim("P21", line("63650", "1450.00"), dx=("I10",), notes=TRIAL),
        "P21",
        "MB",
        True,
        rules(("SCS-INDICATION", 1)),
        "trial",
    ),
    Case(
        claim("P22", line("63650", "1450.00"), line("C1768", "9000.00"), notes=TRIAL),
        "P22",
        "MB",
        False,
        rules(("SCS-C1768", 2)),
        "trial",
    ),
    # SNIP 3-5
    Case(
        claim("S01", line("63650", "1450.00"), notes=TRIAL, total_charge=Decimal("1500.00")),
        "S01",
        "MB",
        False,
        rules(("SNIP3-BALANCE", None)),
        "trial",
    ),
    Case(
        claim("S02", line("63650", "1450.00", pointers=(1, 3)), notes=TRIAL),
        "S02",
        "MB",
        False,
        rules(("SNIP4-DX-POINTER", 1)),
        "trial",
    ),
    Case(
        claim("S03", line("63650", "1450.00", day=D(2027, 1, 5)), notes=TRIAL),
        "S03",
        "MB",
        False,
        rules(("SNIP4-FUTURE-DATE", 1)),
        "trial",
    ),
    Case(
        claim("S04", line("9921A", "110.00")),
        "S04",
        "CI",
        False,
        rules(("SNIP5-PROCEDURE-CODE", 1)),
    ),
    Case(
        claim("S05", line("99213", "110.00"), dx=("M545",)),
        "S05",
        "CI",
        False,
        rules(("SNIP5-ICD10", None)),
    ),
    Case(
        ClaimSpec("S06", (line("99213", "110.00"),), rendering_npi="1234567890"),
        "S06",
        "CI",
        False,
        rules(("SNIP5-NPI", None)),
    ),
    Case(
        claim("S07", line("99213", "110.00"), facility_code="00"),
        "S07",
        "CI",
        False,
        # "00" is also outside the TR3's place-of-service code list (CLM05-01): IG and SNIP 5.
        rules(("SNIP5-PLACE-OF-SERVICE", None), ("IG-INVALID-CODE", None)),
    ),
    Case(claim("S08", line("99213", "110.00")), "S08", "CI", True),
    # lifetime: 63650 is limited to 4 units per lifetime (CGS A56876)
    Case(
        claim("L01", line("63650", "2900.00", 2, day=D(2026, 9, 1)), notes=TRIAL),
        "L1",
        "MB",
        True,
        phase="trial",
    ),
    Case(
        claim("L02", line("63650", "2900.00", 2, day=D(2026, 9, 20)), notes=TRIAL),
        "L1",
        "MB",
        True,
        phase="trial",
    ),
    Case(
        claim("L03", line("63650", "1450.00", 1, day=D(2026, 10, 10)), notes=TRIAL),
        "L1",
        "MB",
        True,
        rules(("SCS-LIFETIME", 1)),
        "trial",
    ),
]


UNKNOWN_PHASE = rules(("SCS-PHASE-UNKNOWN", None))  # a removal (63661) is neither phase

# Across claims: each pair of claims is one patient's, by one provider on one date; the later
# claim completes the violation and is the one rejected.
PROFESSIONAL_CASES += [
    # imaging guidance on its own claim, after the claim with 63650
    Case(claim("X01", line("63650", "1450.00"), notes=TRIAL), "X1", "MB", True, phase="trial"),
    Case(claim("X02", line("77003", "95.00")), "X1", "MB", False, rules(("SCS-IMAGING", 1))),
    # a PTP pair (63650/36000, modifier indicator 1) split over two claims; with 59, accepted
    Case(claim("X03", line("63650", "1450.00"), notes=TRIAL), "X2", "MB", True, phase="trial"),
    Case(claim("X04", line("36000", "40.00")), "X2", "MB", False, rules(("SCS-PTP", 1))),
    Case(claim("X05", line("36000", "40.00", 1, "59")), "X2", "MB", True),
    # MUE 63650 = 2 per date (MAI 3): 2 units, then 1 more on another claim
    Case(claim("X06", line("63650", "2900.00", 2), notes=TRIAL), "X3", "MB", True, phase="trial"),
    Case(
        claim("X07", line("63650", "1450.00", 1, "76"), notes=TRIAL),
        "X3",
        "MB",
        False,
        rules(("SCS-MUE", 1), ("DUP-SUSPECT", 1)),
        "trial",
    ),
    # MUE 63661 = 1 per date (MAI 2, policy): a second removal on another claim
    Case(claim("X08", line("63661", "700.00")), "X4", "MB", True, UNKNOWN_PHASE, "unknown"),
    Case(
        claim("X09", line("63661", "650.00")),
        "X4",
        "MB",
        False,
        rules(("SCS-MUE", 1), ("DUP-SUSPECT", 1), ("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    # the same claim twice (another CLM01): rejected as a duplicate, and only as that
    Case(claim("X10", line("63650", "2900.00", 2), notes=TRIAL), "X5", "MB", True, phase="trial"),
    Case(
        claim("X11", line("63650", "2900.00", 2), notes=TRIAL),
        "X5",
        "MB",
        False,
        rules(("DUP-EXACT", None)),
        "trial",
    ),
    # the same procedure, patient, provider and date at another charge: a suspected duplicate
    Case(claim("X12", line("99213", "110.00")), "X6", "MB", True),
    Case(claim("X13", line("99213", "95.00")), "X6", "MB", True, rules(("DUP-SUSPECT", 1))),
    # a replacement (7) takes its original's place: its units do not count twice
    Case(claim("X14", line("63650", "2900.00", 2), notes=TRIAL), "X7", "MB", True, phase="trial"),
    Case(
        claim(
            "X15",
            line("63650", "2800.00", 2),
            notes=TRIAL,
            frequency="7",
            original_reference="X14",
        ),
        "X7",
        "MB",
        True,
        phase="trial",
    ),
    # a void (8) takes its original out: a later removal of the date is the only one
    Case(claim("X16", line("63661", "700.00")), "X8", "MB", True, UNKNOWN_PHASE, "unknown"),
    Case(
        claim("X17", line("63661", "700.00"), frequency="8", original_reference="X16"),
        "X8",
        "MB",
        True,
        UNKNOWN_PHASE,
        "unknown",
    ),
    Case(claim("X18", line("63661", "650.00")), "X8", "MB", True, UNKNOWN_PHASE, "unknown"),
]


def device(
    code: str, charge: str, units: int = 1, *mods: str, day: datetime.date = DAY
) -> LineSpec:
    return line(code, charge, units, *mods, day=day, revenue="0278")


#: For each rule: a claim that triggers it and a close variant that does not.
VARIANTS = {
    "SNIP3-BALANCE": ("S01", "P01"),
    "SNIP4-DX-POINTER": ("S02", "P01"),
    "SNIP4-STATEMENT-DATES": ("I08", "I13"),
    "SNIP4-FUTURE-DATE": ("S03", "P01"),
    "SNIP5-PROCEDURE-CODE": ("S04", "S08"),
    "SNIP5-MODIFIER": ("P17", "P06"),
    "SNIP5-ICD10": ("S05", "S08"),
    "SNIP5-NPI": ("S06", "S08"),
    "SNIP5-PLACE-OF-SERVICE": ("S07", "S08"),
    "SNIP5-REVENUE-CODE": ("I09", "I13"),
    "SCS-PTP": ("P05", "P06"),
    "SCS-IMAGING": ("P02", "P01"),
    "SCS-MUE": ("P07", "P01"),
    "SCS-ASSISTANT": ("P09", "P01"),
    "SCS-CO-SURGEON": ("P11", "P01"),
    "SCS-TEAM": ("P12", "P01"),
    "SCS-BILATERAL": ("P13", "P01"),
    "SCS-MODIFIER-CONFLICT": ("P14", "P08"),
    "SCS-MODIFIER-22": ("P18", "P19"),
    "SCS-GLOBAL-EM": ("G02", "G03"),
    "SCS-GLOBAL-REPEAT": ("G07", "G08"),
    "SCS-LIFETIME": ("L03", "L02"),
    "SCS-DEVICE-MISSING": ("I02", "I13"),
    "SCS-DEVICE-ORPHAN": ("I04", "I01"),
    "SCS-OPPS-L-CODE": ("I05", "I13"),
    "SCS-C1768": ("P22", "P01"),
    "SCS-PHASE": ("I06", "I01"),
    "SCS-PHASE-UNKNOWN": ("I02", "I13"),
    "SCS-GENERATOR-ALONE": ("P20", "G08"),
    "SCS-INDICATION": ("P21", "P01"),
    "DUP-EXACT": ("X11", "X15"),
    "DUP-SUSPECT": ("X13", "X12"),
}

INSTITUTIONAL_CASES = [
    Case(
        claim(
            "I01",
            line("63650", "6511.03", 2),
            line("63685", "31526.06"),
            device("C1778", "6400.00", 2),
            device("C1820", "16800.00"),
        ),
        "I01",
        "MA",
        True,
        phase="permanent",
    ),
    Case(
        claim("I02", line("63650", "6511.03")),
        "I02",
        "MA",
        False,
        rules(("SCS-DEVICE-MISSING", 1), ("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    Case(
        claim("I03", line("63650", "6511.03", 1, "73")),
        "I03",
        "MA",
        True,
        rules(("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    Case(
        claim(
            "I04", line("63650", "6511.03"), device("C1778", "3200.00"), device("C1820", "16800.00")
        ),
        "I04",
        "MA",
        False,
        rules(("SCS-DEVICE-ORPHAN", 3)),
        "permanent",
    ),
    Case(
        claim(
            "I05", line("63650", "6511.03"), device("C1778", "3200.00"), device("L8680", "900.00")
        ),
        "I05",
        "MA",
        False,
        rules(("SCS-OPPS-L-CODE", 3), ("SCS-MUE", 3)),
        "permanent",
    ),
    Case(
        claim(
            "I06",
            line("63650", "6511.03"),
            device("C1897", "1800.00"),
            line("63685", "31526.06"),
            device("C1820", "16800.00"),
        ),
        "I06",
        "MA",
        False,
        rules(("SCS-PHASE", 2)),
        "permanent",
    ),
    Case(
        claim(
            "I07",
            line("63650", "6511.03"),
            device("C1778", "3200.00"),
            line("63685", "31526.06"),
            device("C1768", "16800.00"),
        ),
        "I07",
        "MA",
        False,
        rules(("SCS-C1768", 4), ("SCS-DEVICE-MISSING", 3)),
        "permanent",
    ),
    Case(
        claim(
            "I08",
            line("63650", "6511.03", day=D(2026, 10, 2)),
            device("C1897", "1800.00", day=D(2026, 10, 2)),
            statement_period=(D(2026, 10, 1), D(2026, 10, 1)),
        ),
        "I08",
        "MA",
        False,
        rules(("SNIP4-STATEMENT-DATES", 1), ("SNIP4-STATEMENT-DATES", 2)),
        "trial",
    ),
    Case(
        claim("I09", line("63650", "6511.03", revenue="360"), device("C1897", "1800.00")),
        "I09",
        "MA",
        False,
        rules(("SNIP5-REVENUE-CODE", 1)),
        "trial",
    ),
    Case(
        claim("I10", line("63650", "6511.03")),
        "I10",
        "CI",
        True,
        rules(("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    Case(
        claim("I11", line("63650", "6511.03"), facility_code="85"),
        "I11",
        "MA",
        False,
        rules(("SCS-DEVICE-MISSING", 1), ("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    Case(
        claim("I12", line("63650", "6511.03"), facility_code="11"),
        "I12",
        "MA",
        True,
        rules(("SCS-PHASE-UNKNOWN", None)),
        "unknown",
    ),
    Case(
        claim("I13", line("63650", "6511.03"), device("C1897", "1800.00")),
        "I13",
        "MA",
        True,
        phase="trial",
    ),
]


def _subscribers(cases: list[Case]) -> list[SubscriberSpec]:
    """One subscriber per member id, with that member's claims in case order."""
    members: dict[str, list[Case]] = {}
    for case in cases:
        members.setdefault(case.member, []).append(case)
    return [
        SubscriberSpec(
            member_id=f"MBR{member}",
            claims=tuple(c.claim for c in group),
            filing_indicator=group[0].filing,
            payer_id="04412" if group[0].filing in ("MA", "MB") else "60054",
            payer_name="NOVITAS SOLUTIONS" if group[0].filing in ("MA", "MB") else "AETNA",
        )
        for member, group in members.items()
    ]


def build(kind: str) -> bytes:
    cases = PROFESSIONAL_CASES if kind == "837P" else INSTITUTIONAL_CASES
    provider = ProviderSpec(subscribers=tuple(_subscribers(cases)))
    return interchange(kind, providers=[provider], control_number="7001", line_break="\n")


def main() -> None:
    PROFESSIONAL.write_bytes(build("837P"))
    INSTITUTIONAL.write_bytes(build("837I"))


if __name__ == "__main__":
    main()
