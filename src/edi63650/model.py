"""Typed, immutable 837 objects (design.md section 3, "claim builder").

Every object knows where it came from (``position``) and keeps the raw segments of its loop
(``segments``), so what the typed fields do not capture stays reachable: nothing is dropped.
Money and units are :class:`~decimal.Decimal`, dates :class:`datetime.date`. A value that could
not be converted is ``None`` and the builder reports a finding for it.

Loop and element names follow the TR3s: 005010X222A1 (837P) and 005010X223A2 (837I).
"""

from __future__ import annotations

import datetime
import enum
import functools
from decimal import Decimal

import attrs

from edi63650.segment import Delimiters, Position, Segment


class ClaimKind(enum.StrEnum):
    PROFESSIONAL = "837P"
    INSTITUTIONAL = "837I"


# -- envelopes -------------------------------------------------------------------------------


@attrs.frozen
class Interchange:
    """ISA: the interchange envelope."""

    control_number: str  # ISA13
    sender_qualifier: str  # ISA05
    sender_id: str  # ISA06
    receiver_qualifier: str  # ISA07
    receiver_id: str  # ISA08
    date: datetime.date | None  # ISA09 (YYMMDD)
    time: str  # ISA10 (HHMM)
    version: str  # ISA12
    acknowledgment_requested: str  # ISA14
    usage: str  # ISA15: P production, T test
    delimiters: Delimiters
    position: Position
    segment: Segment | None = None  # the ISA itself, authorization fields and all


@attrs.frozen
class Group:
    """GS: the functional group envelope."""

    control_number: str  # GS06
    functional_id: str  # GS01 (HC for claims)
    sender: str  # GS02
    receiver: str  # GS03
    date: datetime.date | None  # GS04
    time: str  # GS05
    version: str  # GS08
    position: Position
    segment: Segment | None = None  # the GS itself


@attrs.frozen
class Transaction:
    """ST..SE with the 837 header: BHT, submitter (1000A) and receiver (1000B)."""

    set_id: str  # ST01
    control_number: str  # ST02
    implementation: str  # ST03, or GS08 when ST03 is absent
    kind: ClaimKind | None
    position: Position
    purpose: str = ""  # BHT02: 00 original, 18 reissue
    reference: str = ""  # BHT03
    created: datetime.date | None = None  # BHT04
    created_time: str = ""  # BHT05
    claim_type: str = ""  # BHT06: CH chargeable, RP reporting
    submitter: Party | None = None  # 1000A NM1*41
    receiver: Party | None = None  # 1000B NM1*40
    segments: tuple[Segment, ...] = ()


# -- parties ---------------------------------------------------------------------------------


@attrs.frozen
class Address:
    """N3/N4; ``position`` is that of N3 (or N4 when N3 is absent)."""

    line1: str
    line2: str
    city: str
    state: str
    postal_code: str
    country: str = ""
    position: Position | None = None


@attrs.frozen
class Reference:
    """REF: a qualifier and an identifier (REF01, REF02)."""

    qualifier: str
    value: str
    position: Position


@attrs.frozen
class Party:
    """An NM1-headed loop: a provider, a payer, a person, a submitter.

    ``entity`` is NM101 (85 billing provider, 82 rendering, 71 attending, IL subscriber,
    PR payer...); ``id`` is NM109 with its qualifier NM108 (XX is an NPI).
    """

    entity: str
    entity_type: str  # NM102: 1 person, 2 non-person
    last_name: str  # NM103, the organisation name when entity_type is 2
    first_name: str
    middle_name: str
    suffix: str
    id_qualifier: str
    id: str
    position: Position
    address: Address | None = None
    taxonomy: str | None = None  # PRV03
    references: tuple[Reference, ...] = ()
    segments: tuple[Segment, ...] = ()

    @property
    def npi(self) -> str | None:
        return self.id if self.id_qualifier == "XX" and self.id else None

    def reference(self, *qualifiers: str) -> str | None:
        """The value of the first REF whose qualifier is one of ``qualifiers``."""
        for ref in self.references:
            if ref.qualifier in qualifiers:
                return ref.value
        return None


@attrs.frozen
class BillingProvider:
    """2000A with 2010AA (billing provider), 2010AB (pay-to address), 2010AC (pay-to plan)."""

    hl_id: str
    party: Party | None  # 2010AA NM1*85
    taxonomy: str | None  # 2000A PRV*BI, PRV03
    position: Position
    pay_to: Party | None = None  # 2010AB NM1*87
    pay_to_plan: Party | None = None  # 2010AC NM1*PE
    segments: tuple[Segment, ...] = ()

    @property
    def npi(self) -> str | None:
        return self.party.npi if self.party else None

    @property
    def tax_id(self) -> str | None:
        """REF*EI (employer id) or REF*SY (social security number) in 2010AA."""
        return self.party.reference("EI", "SY") if self.party else None

    @property
    def address(self) -> Address | None:
        return self.party.address if self.party else None


@attrs.frozen
class Subscriber:
    """2000B with 2010BA (subscriber) and 2010BB (payer)."""

    hl_id: str
    payer_responsibility: str  # SBR01: P, S, T...
    relationship: str  # SBR02: 18 self, blank when the patient is a dependent
    group_number: str  # SBR03
    group_name: str  # SBR04
    claim_filing_indicator: str  # SBR09: MA/MB Medicare, MC Medicaid, CI commercial...
    person: Party | None  # 2010BA NM1*IL
    payer: Party | None  # 2010BB NM1*PR
    birth_date: datetime.date | None  # DMG02
    gender: str  # DMG03
    position: Position
    segments: tuple[Segment, ...] = ()

    @property
    def member_id(self) -> str | None:
        return self.person.id or None if self.person else None

    @property
    def payer_id(self) -> str | None:
        return self.payer.id or None if self.payer else None


@attrs.frozen
class Patient:
    """2000C with 2010CA, present when the patient is not the subscriber."""

    hl_id: str
    relationship: str  # PAT01
    person: Party | None  # 2010CA NM1*QC
    birth_date: datetime.date | None
    gender: str
    position: Position
    segments: tuple[Segment, ...] = ()


# -- claim -----------------------------------------------------------------------------------


@attrs.frozen
class DatePeriod:
    """DTP: a qualifier with a date (D8) or a range (RD8); ``end`` equals ``start`` for D8."""

    qualifier: str
    start: datetime.date | None
    end: datetime.date | None
    raw: str
    position: Position | None = None


@attrs.frozen
class Diagnosis:
    """One HI composite holding a diagnosis, in claim order.

    ``qualifier`` is C022-01: ABK principal / ABF other (ICD-10-CM), ABJ admitting, APR patient
    reason for visit, ABN external cause; BK/BF are the ICD-9 equivalents. ``pointer`` is the
    1-based position an 837P SV107 pointer refers to.
    """

    qualifier: str
    code: str
    pointer: int
    present_on_admission: str = ""  # C022-09, 837I only
    position: Position | None = None  # of the HI segment
    element: int = 0  # which HI element (HI01 is 1)


@attrs.frozen
class HealthCode:
    """Any other HI composite (837I procedures, occurrence, value and condition codes...)."""

    qualifier: str
    code: str
    date_format: str = ""
    date: str = ""
    amount: Decimal | None = None
    position: Position | None = None  # of the HI segment
    element: int = 0


@attrs.frozen
class Note:
    """NTE: a reference code (NTE01) and free text."""

    code: str
    text: str
    position: Position | None = None


@attrs.frozen
class Attachment:
    """PWK: a report type, how it is sent and its control number."""

    report_type: str  # PWK01
    transmission: str  # PWK02
    control_number: str  # PWK06
    position: Position | None = None


@attrs.frozen
class Procedure:
    """A composite procedure identifier (SV101 or SV202, C003)."""

    qualifier: str  # HC for HCPCS/CPT
    code: str
    modifiers: tuple[str, ...] = ()
    description: str = ""
    position: Position | None = None  # of the SV1 or SV2 segment


@attrs.frozen
class ServiceLine:
    """2400: one service line. ``charge`` and ``units`` are None when not a valid number."""

    number: int | None  # LX01
    procedure: Procedure | None
    charge: Decimal | None
    unit_basis: str  # SV103 / SV204: UN units, MJ minutes, DA days
    units: Decimal | None
    position: Position
    dates: tuple[DatePeriod, ...] = ()
    control_number: str | None = None  # REF*6R
    references: tuple[Reference, ...] = ()
    notes: tuple[Note, ...] = ()
    providers: tuple[Party, ...] = ()  # 2420x
    segments: tuple[Segment, ...] = ()

    @functools.cached_property  # (asked by most rules: worked out once per line)
    def service_date(self) -> DatePeriod | None:
        """DTP*472, the date of service."""
        for period in self.dates:
            if period.qualifier == "472":
                return period
        return None

    @property
    def rendering(self) -> Party | None:
        return _party(self.providers, "82")


@attrs.frozen
class ProfessionalServiceLine(ServiceLine):
    """837P 2400 SV1."""

    place_of_service: str = ""  # SV105, when it differs from CLM05-1
    diagnosis_pointers: tuple[int, ...] = ()  # SV107, 1-based into Claim.diagnoses
    emergency: str = ""  # SV109


@attrs.frozen
class InstitutionalServiceLine(ServiceLine):
    """837I 2400 SV2."""

    revenue_code: str = ""  # SV201
    non_covered_charge: Decimal | None = None  # SV207


@attrs.frozen
class ClaimContext:
    """What identifies a claim beyond itself: its envelopes and hierarchy (HL) context."""

    interchange: Interchange | None
    group: Group | None
    transaction: Transaction
    billing_provider: BillingProvider | None
    subscriber: Subscriber | None
    patient: Patient | None


@attrs.frozen
class Claim:
    """2300: one claim, with its service lines and context."""

    kind: ClaimKind
    claim_id: str  # CLM01, the patient control number
    total_charge: Decimal | None  # CLM02
    facility_code: str  # CLM05-1: place of service (837P) or facility type (837I)
    facility_qualifier: str  # CLM05-2: B place of service, A uniform billing
    frequency: str  # CLM05-3: 1 original, 7 replacement, 8 void
    position: Position
    context: ClaimContext
    provider_signature: str = ""  # CLM06
    assignment: str = ""  # CLM07
    benefits_assigned: str = ""  # CLM08
    release_of_information: str = ""  # CLM09
    dates: tuple[DatePeriod, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    other_codes: tuple[HealthCode, ...] = ()
    references: tuple[Reference, ...] = ()
    notes: tuple[Note, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    providers: tuple[Party, ...] = ()  # 2310x
    other_subscribers: tuple[tuple[Segment, ...], ...] = ()  # 2320/2330x loops, raw
    lines: tuple[ServiceLine, ...] = ()
    segments: tuple[Segment, ...] = ()  # 2300 and its 2310/2320 loops; lines keep their own

    @property
    def prior_authorization(self) -> str | None:
        """REF*G1."""
        return _reference(self.references, "G1")

    @property
    def rendering(self) -> Party | None:
        return _party(self.providers, "82")

    @property
    def referring(self) -> Party | None:
        return _party(self.providers, "DN") or _party(self.providers, "P3")

    @property
    def attending(self) -> Party | None:
        return _party(self.providers, "71")

    @property
    def operating(self) -> Party | None:
        return _party(self.providers, "72")

    @property
    def service_facility(self) -> Party | None:
        return _party(self.providers, "77")

    def date(self, qualifier: str) -> DatePeriod | None:
        for period in self.dates:
            if period.qualifier == qualifier:
                return period
        return None

    def all_segments(self) -> tuple[Segment, ...]:
        """Every segment of the claim loop in file order, service lines included."""
        out = list(self.segments)
        for line in self.lines:
            out.extend(line.segments)
        return tuple(out)


@attrs.frozen
class ProfessionalClaim(Claim):
    """837P claim (005010X222A1)."""

    @property
    def place_of_service(self) -> str:
        return self.facility_code


@attrs.frozen
class InstitutionalClaim(Claim):
    """837I claim (005010X223A2)."""

    @property
    def type_of_bill(self) -> str:
        """Facility type (CLM05-1) and frequency (CLM05-3), e.g. ``131``."""
        return self.facility_code + self.frequency

    @property
    def statement_period(self) -> DatePeriod | None:
        """DTP*434."""
        return self.date("434")

    @property
    def admission(self) -> DatePeriod | None:
        """DTP*435."""
        return self.date("435")


def _party(parties: tuple[Party, ...], entity: str) -> Party | None:
    for party in parties:
        if party.entity == entity:
            return party
    return None


def _reference(references: tuple[Reference, ...], qualifier: str) -> str | None:
    for ref in references:
        if ref.qualifier == qualifier:
            return ref.value
    return None
