"""Builders for valid 837P and 837I interchanges, for tests, benchmarks and users' own tests.

Describe claims with small frozen specs, then render them::

    from edi63650.testing import ClaimSpec, LineSpec, SubscriberSpec, interchange

    claim = ClaimSpec("PCN1", lines=(LineSpec("63650", Decimal("1500"), units=Decimal(2)),))
    data = interchange("837P", [SubscriberSpec("M1", claims=(claim,))])

Every envelope count and control number comes out right, and NPIs carry valid check digits.
:func:`synth` builds large realistic files (a mix of spinal-cord-stimulator and ordinary claims)
for load tests; ``edi63650 synth`` is its command-line face.
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Sequence
from decimal import Decimal

import attrs

from edi63650.npi import npi_check_digit
from edi63650.segment import DEFAULT_DELIMITERS, Delimiters
from edi63650.writers import x12
from edi63650.writers.x12 import Elements

_VERSIONS = {"837P": "005010X222A1", "837I": "005010X223A2"}
_DAY = datetime.date(2026, 10, 1)


def make_npi(first_nine: str) -> str:
    """An NPI with a valid check digit."""
    return first_nine + npi_check_digit(first_nine)


@attrs.frozen
class LineSpec:
    """One service line. ``revenue_code`` is used by 837I, ``pointers`` by 837P."""

    procedure: str
    charge: Decimal
    units: Decimal = Decimal(1)
    modifiers: tuple[str, ...] = ()
    pointers: tuple[int, ...] = (1,)
    revenue_code: str = "0360"
    service_date: datetime.date = _DAY
    control_number: str = ""
    place_of_service: str = ""
    description: str = ""
    rendering_npi: str = ""


@attrs.frozen
class ClaimSpec:
    """One claim. The total charge is the sum of the lines unless ``total_charge`` is given."""

    claim_id: str
    lines: tuple[LineSpec, ...]
    diagnoses: tuple[str, ...] = ("G8929",)
    facility_code: str = ""  # defaults: 11 office (837P) or 13 outpatient hospital (837I)
    frequency: str = "1"
    total_charge: Decimal | None = None
    prior_authorization: str = ""
    original_reference: str = ""  # REF*F8: the claim a replacement (7) or void (8) replaces
    notes: tuple[str, ...] = ()
    attachments: tuple[str, ...] = ()  # PWK01 report type codes
    rendering_npi: str = ""
    attending_npi: str = make_npi("166666666")
    statement_period: tuple[datetime.date, datetime.date] | None = None  # 837I; default: lines

    @property
    def charge(self) -> Decimal:
        if self.total_charge is not None:
            return self.total_charge
        return sum((line.charge for line in self.lines), Decimal(0))


@attrs.frozen
class PatientSpec:
    """A dependent patient (2000C)."""

    last_name: str = "DOE"
    first_name: str = "JAMIE"
    birth_date: datetime.date = datetime.date(2001, 5, 17)
    gender: str = "F"
    relationship: str = "19"


@attrs.frozen
class SubscriberSpec:
    """A subscriber (2000B) with the claims billed for them or their dependent."""

    member_id: str
    claims: tuple[ClaimSpec, ...] = ()
    last_name: str = "DOE"
    first_name: str = "ALEX"
    birth_date: datetime.date = datetime.date(1958, 3, 9)
    gender: str = "M"
    filing_indicator: str = "MB"
    payer_id: str = "04412"
    payer_name: str = "MEDICARE PART B"
    patient: PatientSpec | None = None


@attrs.frozen
class ProviderSpec:
    """A billing provider (2000A/2010AA)."""

    npi: str = make_npi("123456789")
    name: str = "SPINE AND PAIN ASSOCIATES"
    tax_id: str = "741234567"
    taxonomy: str = "208VP0014X"
    subscribers: tuple[SubscriberSpec, ...] = ()


def _transaction(kind: str, control: str, providers: Sequence[ProviderSpec]) -> list[Elements]:
    """The segments of one 837 transaction set between ST and SE."""
    institutional = kind == "837I"
    out: list[Elements] = [
        ["BHT", "0019", "00", f"B{control}", "20261001", "1200", "CH"],
        ["NM1", "41", "2", "EDI63650 TEST SUBMITTER", "", "", "", "", "46", "S12345"],
        ["PER", "IC", "EDI DESK", "TE", "5555550100"],
        ["NM1", "40", "2", "TEST PAYER GATEWAY", "", "", "", "", "46", "R67890"],
    ]
    hl = 0
    for provider in providers:
        hl += 1
        provider_hl = hl
        out += [
            ["HL", str(hl), "", "20", "1"],
            ["PRV", "BI", "PXC", provider.taxonomy],
            ["NM1", "85", "2", provider.name, "", "", "", "", "XX", provider.npi],
            ["N3", "100 MAIN ST"],
            ["N4", "AUSTIN", "TX", "787010001"],
            ["REF", "EI", provider.tax_id],
        ]
        for subscriber in provider.subscribers:
            hl += 1
            dependent = subscriber.patient is not None
            out += [
                ["HL", str(hl), str(provider_hl), "22", "1" if dependent else "0"],
                [
                    "SBR",
                    "P",
                    "" if dependent else "18",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    subscriber.filing_indicator,
                ],
                [
                    "NM1",
                    "IL",
                    "1",
                    subscriber.last_name,
                    subscriber.first_name,
                    "",
                    "",
                    "",
                    "MI",
                    subscriber.member_id,
                ],
                ["N3", "12 OAK LN"],
                ["N4", "AUSTIN", "TX", "78702"],
                ["DMG", "D8", subscriber.birth_date.strftime("%Y%m%d"), subscriber.gender],
                [
                    "NM1",
                    "PR",
                    "2",
                    subscriber.payer_name,
                    "",
                    "",
                    "",
                    "",
                    "PI",
                    subscriber.payer_id,
                ],
            ]
            if subscriber.patient is not None:
                patient = subscriber.patient
                hl += 1
                out += [
                    ["HL", str(hl), str(hl - 1), "23", "0"],
                    ["PAT", patient.relationship],
                    ["NM1", "QC", "1", patient.last_name, patient.first_name],
                    ["N3", "12 OAK LN"],
                    ["N4", "AUSTIN", "TX", "78702"],
                    ["DMG", "D8", patient.birth_date.strftime("%Y%m%d"), patient.gender],
                ]
            for claim in subscriber.claims:
                out += _claim(claim, institutional)
    return out


def _claim(claim: ClaimSpec, institutional: bool) -> list[Elements]:
    facility = claim.facility_code or ("13" if institutional else "11")
    out: list[Elements] = [
        [
            "CLM",
            claim.claim_id,
            f"{claim.charge:.2f}",
            "",
            "",
            (facility, "A" if institutional else "B", claim.frequency),
            "" if institutional else "Y",
            "A",
            "Y",
            "Y",
        ],
    ]
    first = min(line.service_date for line in claim.lines)
    last = max(line.service_date for line in claim.lines)
    if claim.statement_period is not None:
        first, last = claim.statement_period
    if institutional:
        out.append(["DTP", "434", "RD8", f"{first:%Y%m%d}-{last:%Y%m%d}"])
        out.append(["CL1", "3", "1", "01"])
    for report in claim.attachments:
        out.append(["PWK", report, "FX", "", "", "AC", f"ATT{claim.claim_id}"])
    if claim.prior_authorization:
        out.append(["REF", "G1", claim.prior_authorization])
    if claim.original_reference:
        out.append(["REF", "F8", claim.original_reference])
    for note in claim.notes:
        out.append(["NTE", "ADD", note])
    if institutional and claim.diagnoses:
        # 837I: the principal diagnosis stands alone (2300 HI, principal); the others follow
        # in the "other diagnosis information" HI (TR3 X223A2 2300 HI).
        out.append(["HI", ("ABK", claim.diagnoses[0])])
        if len(claim.diagnoses) > 1:
            out.append(["HI", *(("ABF", code) for code in claim.diagnoses[1:])])
    else:
        codes: Elements = ["HI"]
        for index, code in enumerate(claim.diagnoses):
            qualifier = "ABK" if index == 0 else "ABF"
            codes.append((qualifier, code))
        out.append(codes)
    if institutional:
        out += [
            ["NM1", "71", "1", "NEURO", "CASEY", "", "", "", "XX", claim.attending_npi],
            ["PRV", "AT", "PXC", "2084P0800X"],
        ]
    if claim.rendering_npi:
        out.append(["NM1", "82", "1", "SURGEON", "RILEY", "", "", "", "XX", claim.rendering_npi])
        if not institutional:  # 837I 2310D has no PRV
            out.append(["PRV", "PE", "PXC", "208VP0014X"])
    for number, line in enumerate(claim.lines, start=1):
        procedure: tuple[str, ...] = ("HC", line.procedure, *line.modifiers)
        if line.description:
            procedure += ("",) * (6 - len(procedure)) + (line.description,)
        out.append(["LX", str(number)])
        if institutional:
            out.append(
                [
                    "SV2",
                    line.revenue_code,
                    procedure,
                    f"{line.charge:.2f}",
                    "UN",
                    _units(line.units),
                ]
            )
        else:
            out.append(
                [
                    "SV1",
                    procedure,
                    f"{line.charge:.2f}",
                    "UN",
                    _units(line.units),
                    line.place_of_service,
                    "",
                    tuple(str(p) for p in line.pointers),
                ]
            )
        out.append(["DTP", "472", "D8", f"{line.service_date:%Y%m%d}"])
        if line.control_number:
            out.append(["REF", "6R", line.control_number])
        if line.rendering_npi:
            out.append(["NM1", "82", "1", "SURGEON", "RILEY", "", "", "", "XX", line.rendering_npi])
    return out


def _units(value: Decimal) -> str:
    return format(value.normalize(), "f")


def interchange(
    kind: str,
    subscribers: Sequence[SubscriberSpec] = (),
    *,
    providers: Sequence[ProviderSpec] | None = None,
    transactions: Sequence[Sequence[ProviderSpec]] | None = None,
    control_number: str = "1",
    delimiters: Delimiters = DEFAULT_DELIMITERS,
    line_break: str = "",
) -> bytes:
    """A complete interchange: ISA, one GS, one or more ST..SE, GE, IEA.

    Give ``subscribers`` (billed by one default provider), ``providers`` (one transaction set)
    or ``transactions`` (one list of providers per transaction set).
    """
    if transactions is None:
        if providers is None:
            providers = [ProviderSpec(subscribers=tuple(subscribers))]
        transactions = [providers]
    envelope = x12.Envelope(
        sender=x12.Party("ZZ", "SUBMITTER01", "SUBMITTER01"),
        receiver=x12.Party("ZZ", "PAYER01", "PAYER01"),
        control_number=int(control_number),
        functional_id="HC",
        version=_VERSIONS[kind],
        created=datetime.datetime(2026, 10, 1, 12, 0),
        usage="T",
        delimiters=delimiters,
    )
    bodies = [
        _transaction(kind, f"{index:04d}", tx_providers)
        for index, tx_providers in enumerate(transactions, start=1)
    ]
    return x12.interchange(envelope, bodies, line_break=line_break)


# -- synthetic load files ----------------------------------------------------------------------

#: Synthetic services fall in June to August 2026, safely in the past for the rules.
_SYNTH_START = datetime.date(2026, 6, 1)

_FIRST = ["ALEX", "SAM", "JORDAN", "TAYLOR", "MORGAN", "CASEY", "RILEY", "JAMIE", "AVERY", "QUINN"]
_LAST = ["SMITH", "JOHNSON", "LEE", "GARCIA", "BROWN", "DAVIS", "LOPEZ", "WILSON", "CLARK", "KING"]
_PAYERS = [
    ("MB", "04412", "MEDICARE PART B"),
    ("MA", "04402", "MEDICARE PART A"),
    ("CI", "60054", "AETNA"),
    ("CI", "87726", "UNITED HEALTHCARE"),
    ("BL", "84980", "BLUE CROSS TX"),
    ("MC", "TXMCD", "TEXAS MEDICAID"),
]
_SCS_DIAGNOSES = ["G894", "G8929", "M961", "M5416", "M5417", "G5781"]
_OTHER_DIAGNOSES = ["I10", "E119", "M5450", "J069", "Z0000", "R0789", "K219"]
_OTHER_PROCEDURES = [
    ("99213", "110.00"),
    ("99214", "165.00"),
    ("97110", "45.00"),
    ("20610", "120.00"),
    ("72148", "450.00"),
    ("64483", "600.00"),
]


def _scs_claim(
    rng: random.Random, claim_id: str, kind: str, day: datetime.date, surgeon: str
) -> ClaimSpec:
    dx = tuple(rng.sample(_SCS_DIAGNOSES, 2))
    permanent = rng.random() < 0.5
    if kind == "837I":
        lines = [
            LineSpec(
                "63650",
                Decimal("6511.03"),
                Decimal(2 if permanent else 1),
                revenue_code="0360",
                service_date=day,
            )
        ]
        if permanent:
            lines += [
                LineSpec("63685", Decimal("31526.06"), revenue_code="0360", service_date=day),
                LineSpec("C1820", Decimal("24000.00"), revenue_code="0278", service_date=day),
                LineSpec(
                    "C1778", Decimal("3200.00"), Decimal(2), revenue_code="0278", service_date=day
                ),
            ]
        else:
            lines.append(
                LineSpec("C1897", Decimal("1800.00"), revenue_code="0278", service_date=day)
            )
        return ClaimSpec(claim_id, tuple(lines), diagnoses=dx, facility_code="13")
    lines = [
        LineSpec(
            "63650",
            Decimal("1450.00"),
            Decimal(2),
            pointers=(1, 2),
            service_date=day,
            control_number=f"{claim_id}-1",
        )
    ]
    if permanent:
        lines.append(
            LineSpec(
                "63685",
                Decimal("1100.00"),
                pointers=(1,),
                service_date=day,
                control_number=f"{claim_id}-2",
            )
        )
    elif rng.random() < 0.1:
        # A common coding error, kept in the mix on purpose: imaging guidance billed with
        # 63650, which includes it (the rule pack rejects it).
        lines.append(
            LineSpec(
                "77003",
                Decimal("95.00"),
                modifiers=("26",),
                pointers=(1,),
                service_date=day,
                control_number=f"{claim_id}-2",
            )
        )
    return ClaimSpec(
        claim_id,
        tuple(lines),
        diagnoses=dx,
        facility_code="22",
        rendering_npi=surgeon,
        prior_authorization=f"PA{rng.randrange(10**8):08d}",
        notes=() if permanent else ("SCS TRIAL",),
    )


def _ordinary_claim(rng: random.Random, claim_id: str, kind: str, day: datetime.date) -> ClaimSpec:
    dx = tuple(rng.sample(_OTHER_DIAGNOSES, rng.randint(1, 3)))
    lines = tuple(
        LineSpec(
            code,
            Decimal(charge),
            pointers=(1,),
            revenue_code="0510",
            service_date=day + datetime.timedelta(days=i),
        )
        for i, (code, charge) in enumerate(rng.sample(_OTHER_PROCEDURES, rng.randint(1, 3)))
    )
    return ClaimSpec(claim_id, lines, diagnoses=dx)


def synth(kind: str, claims: int, seed: int = 0) -> bytes:
    """A realistic file of ``claims`` claims: about a third spinal-cord-stimulator claims,
    many subscribers (some with dependent patients), several providers, and a new
    transaction set every 1,000 claims."""
    if kind not in _VERSIONS:
        raise ValueError(f"kind must be 837P or 837I, not {kind!r}")
    rng = random.Random(seed)
    per_transaction = 1000
    per_provider = 100
    transactions: list[list[ProviderSpec]] = []
    made = 0
    while made < claims:
        providers: list[ProviderSpec] = []
        in_tx = 0
        while in_tx < per_transaction and made < claims:
            subscribers: list[SubscriberSpec] = []
            surgeon = make_npi(f"1{rng.randrange(10**8):08d}")
            in_provider = 0
            while in_provider < per_provider and in_tx < per_transaction and made < claims:
                count = min(rng.choice((1, 1, 1, 2, 3)), claims - made)
                day = _SYNTH_START + datetime.timedelta(days=rng.randrange(30))
                specs = []
                for index in range(count):
                    made += 1
                    claim_id = f"PCN{made:07d}"
                    # At most one implant per subscriber, first; other visits come after
                    # its global period, as they would in a real practice.
                    specs.append(
                        _scs_claim(rng, claim_id, kind, day, surgeon)
                        if index == 0 and rng.random() < 0.5
                        else _ordinary_claim(
                            rng, claim_id, kind, day + datetime.timedelta(days=20 * index)
                        )
                    )
                filing, payer_id, payer_name = rng.choice(_PAYERS)
                subscribers.append(
                    SubscriberSpec(
                        member_id=f"M{rng.randrange(10**9):09d}",
                        claims=tuple(specs),
                        last_name=rng.choice(_LAST),
                        first_name=rng.choice(_FIRST),
                        birth_date=datetime.date(
                            1940 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)
                        ),
                        gender=rng.choice("MF"),
                        filing_indicator=filing,
                        payer_id=payer_id,
                        payer_name=payer_name,
                        patient=PatientSpec() if rng.random() < 0.15 else None,
                    )
                )
                in_provider += count
                in_tx += count
            providers.append(
                ProviderSpec(
                    npi=make_npi(f"1{rng.randrange(10**8):08d}"),
                    name=f"{rng.choice(_LAST)} PAIN CENTER",
                    tax_id=f"{rng.randrange(10**9):09d}",
                    subscribers=tuple(subscribers),
                )
            )
        transactions.append(providers)
    return interchange(
        kind, transactions=transactions, control_number=str(seed + 1), line_break="\n"
    )


# -- hostile shapes ----------------------------------------------------------------------------

#: The input shapes :func:`stress` makes: each grows one dimension a careless validator
#: handles in more than linear time.
STRESS_SHAPES = (
    "empty-segments",
    "lines",
    "patient-claims",
    "interchanges",
    "same-claim",
    "one-day",
    "replaced",
)

#: Codes a stress claim cycles through: a lead placement, its imaging and a bundled code, a
#: generator, an E/M visit, and codes with unit limits.
_STRESS_CODES = ("63650", "77003", "64483", "63685", "99213", "20610")


def stress(shape: str, size: int) -> bytes:
    """An 837P that grows in one dimension (see :data:`STRESS_SHAPES`):

    - ``empty-segments``: ``size`` empty segments (``~~~``) before the one claim;
    - ``lines``: one claim with ``size`` service lines on one date, by one surgeon, of codes
      that bundle, repeat and exceed their unit limits together;
    - ``patient-claims``: one patient with ``size`` claims (procedures and visits on nearby
      dates), a new transaction set every 1,000 claims;
    - ``interchanges``: ``size`` interchanges of one claim each;
    - ``same-claim``: one claim sent ``size`` times under its CLM01 (each copy is that claim
      again, so each is accepted and its copies before it are skipped as itself);
    - ``one-day``: one patient with ``size`` claims of one visit, all by one provider on one
      date, each with its own CLM01 and charge;
    - ``replaced``: one claim of one visit, then ``size`` replacements of it (frequency 7)
      under its CLM01, each taking out the one before.

    Claims of one patient come 100 to a subscriber loop (2000B), the most a loop may hold,
    so that they are judged as claims rather than rejected for the loop's repeat.
    """
    surgeon = make_npi("199999999")
    if shape == "empty-segments":
        data = interchange("837P", [_stress_subscriber("S0", [_stress_claim("E1", 2, 0)])])
        return data.replace(b"CLM*", b"~" * size + b"CLM*", 1)
    if shape == "lines":
        claim = _stress_claim("L1", size, 0, surgeon)
        return interchange("837P", [_stress_subscriber("S0", [claim])])
    if shape == "patient-claims":
        claims = [_stress_claim(f"P{n:07d}", 2, n % 40, surgeon, offset=n) for n in range(size)]
        return interchange("837P", transactions=_one_patient(claims))
    if shape == "same-claim":
        claims = [_visit("R0000001", Decimal(100), surgeon)] * size
        return interchange("837P", transactions=_one_patient(claims))
    if shape == "one-day":
        claims = [
            _visit(f"D{n:07d}", Decimal(100) + Decimal(n) / 100, surgeon) for n in range(size)
        ]
        return interchange("837P", transactions=_one_patient(claims))
    if shape == "replaced":
        visit = _visit("R0000001", Decimal(100), surgeon)
        again = attrs.evolve(visit, frequency="7", original_reference=visit.claim_id)
        return interchange("837P", transactions=_one_patient([visit] + [again] * size))
    if shape == "interchanges":
        return b"".join(
            interchange(
                "837P",
                [_stress_subscriber(f"S{n}", [_stress_claim(f"I{n:07d}", 2, 0, offset=n)])],
                control_number=str(n + 1),
            )
            for n in range(size)
        )
    raise ValueError(f"shape must be one of {', '.join(STRESS_SHAPES)}, not {shape!r}")


def _stress_claim(
    claim_id: str, lines: int, day: int, surgeon: str = "", *, offset: int = 0
) -> ClaimSpec:
    date = _SYNTH_START + datetime.timedelta(days=day)
    specs = tuple(
        LineSpec(
            _STRESS_CODES[(index + offset) % len(_STRESS_CODES)],
            Decimal(100),
            units=Decimal(3),
            service_date=date,
            rendering_npi=surgeon,
        )
        for index in range(lines)
    )
    return ClaimSpec(claim_id, specs, diagnoses=("G8929", "M5416"), rendering_npi=surgeon)


def _stress_subscriber(member: str, claims: list[ClaimSpec]) -> SubscriberSpec:
    return SubscriberSpec(member_id=f"M{member}", claims=tuple(claims))


def _visit(claim_id: str, charge: Decimal, surgeon: str) -> ClaimSpec:
    """A claim of one office visit on the first day of the stress claims."""
    return ClaimSpec(
        claim_id, (LineSpec("99213", charge, rendering_npi=surgeon),), rendering_npi=surgeon
    )


def _one_patient(claims: list[ClaimSpec]) -> list[list[ProviderSpec]]:
    """``claims`` of one patient: 100 to a subscriber loop, 1,000 to a transaction set."""
    return [
        [
            ProviderSpec(
                subscribers=tuple(
                    _stress_subscriber("S0", claims[loop : loop + 100])
                    for loop in range(start, min(start + 1000, len(claims)), 100)
                )
            )
        ]
        for start in range(0, len(claims), 1000)
    ]
