"""Turns the segments of one 837 transaction set into typed claims, one 2300 loop at a time.

The builder only groups segments by the loops that matter for claims and reads the elements it
models; implementation-guide checking (usage, repeats, codes) belongs to the structure layer. A
claim is built when its loop ends (the next CLM, the next HL or SE), so memory holds one claim
and the HL context above it.

Loop layout, from the TR3s (005010X222A1 section 2.4, 005010X223A2 section 2.4):

- header: ST, BHT, 1000A NM1*41 (+PER), 1000B NM1*40
- 2000A HL*20: PRV*BI, CUR, 2010AA NM1*85 (N3 N4 REF PER), 2010AB NM1*87, 2010AC NM1*PE
- 2000B HL*22: SBR, PAT, 2010BA NM1*IL (N3 N4 DMG REF), 2010BB NM1*PR (N3 N4 REF)
- 2000C HL*23: PAT, 2010CA NM1*QC (N3 N4 DMG REF)
- 2300 CLM, DTP, CL1, PWK, CN1, AMT, REF, K3, NTE, CR1-CR2, CRC, HI, HCP;
  2310x NM1 (PRV N3 N4 REF); 2320 SBR with CAS/AMT/OI/MOA and its 2330x NM1 loops
- 2400 LX, SV1 or SV2, PWK, DTP, QTY, REF, AMT, NTE...; 2410 LIN/CTP/REF;
  2420x NM1 (PRV N3 N4 REF); 2430 SVD/CAS/DTP/AMT; 2440 LQ/FRM
"""

from __future__ import annotations

import enum
from decimal import Decimal

from edi63650.findings import Finding, Scope, Severity
from edi63650.loops import LINE_LOOP, claim_path
from edi63650.model import (
    Address,
    Attachment,
    BillingProvider,
    Claim,
    ClaimContext,
    ClaimKind,
    DatePeriod,
    Diagnosis,
    Group,
    HealthCode,
    InstitutionalClaim,
    InstitutionalServiceLine,
    Interchange,
    Note,
    Party,
    Patient,
    Procedure,
    ProfessionalClaim,
    ProfessionalServiceLine,
    Reference,
    ServiceLine,
    Subscriber,
    Transaction,
)
from edi63650.segment import Position, Segment
from edi63650.values import is_digits, parse_date, parse_decimal, parse_period

#: Segments that belong to the NM1 before them inside a 1000/2010/2310/2330/2420 loop.
_PARTY_SEGMENTS = frozenset({"N2", "N3", "N4", "REF", "PRV", "PER", "DMG"})

#: HI qualifiers (C022-01, code source 132/ICD) that carry diagnoses, in TR3 order.
_DIAGNOSIS_QUALIFIERS = frozenset({"ABK", "ABF", "BK", "BF", "ABJ", "BJ", "APR", "PR", "ABN", "BN"})

#: HL03 hierarchical level codes (TR3 2000A/2000B/2000C).
_BILLING, _SUBSCRIBER, _PATIENT = "20", "22", "23"


class BuildRule(enum.StrEnum):
    """Stable ids of the findings the claim builder produces."""

    BAD_NUMBER = "837-BAD-NUMBER"
    BAD_DATE = "837-BAD-DATE"
    BAD_POINTER = "837-BAD-POINTER"


class _Problems:
    """Collects builder findings with the claim they belong to."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.findings: list[Finding] = []
        self.claim_id: str | None = None
        self.line: int | None = None
        self.kind = ClaimKind.PROFESSIONAL
        self.patient = False  # the claim sits in a patient loop (2000C)

    def add(self, rule: BuildRule, message: str, segment: Segment, element: str, loop: str) -> None:
        """A finding on ``segment`` of the claim loop or (``loop`` 2400) its service line."""
        path = claim_path(
            self.kind,
            self.patient,
            line=self.line,
            in_line=loop == LINE_LOOP,
            segment_id=segment.id,
        )
        self.findings.append(
            Finding.at(
                segment,
                rule,
                Severity.ERROR,
                message,
                element=element,
                source=f"TR3 {loop} {element}",
                path=path,
                claim_id=self.claim_id,
                line=self.line,
                scope=self.scope,
            )
        )

    def number(
        self, segment: Segment, index: int, path: str, raw: str | None = None
    ) -> Decimal | None:
        """Element ``index`` of ``segment`` (``raw``, when the caller has it) as a number."""
        if raw is None:
            raw = segment.get(index)
        if not raw:
            return None
        value = parse_decimal(raw)
        if value is None:
            element = f"{segment.id}{index:02d}"
            self.add(
                BuildRule.BAD_NUMBER, f"{element} {raw!r} is not a number", segment, element, path
            )
        return value

    def period(self, segment: Segment, path: str) -> DatePeriod:
        _, qualifier, date_format, raw = segment.padded(3)[:4]
        start, end = parse_period(date_format, raw)
        if (start is None or end is None) and date_format != "TM":  # TM: an hour, no date
            self.add(
                BuildRule.BAD_DATE,
                f"DTP*{qualifier} {raw!r} is not a valid {date_format or 'date'}",
                segment,
                "DTP03",
                path,
            )
        return DatePeriod(qualifier, start, end, raw, Position.of(segment))


def build_party(segments: list[Segment]) -> Party:
    """An NM1 loop: NM1 followed by its N3, N4, REF, PRV, PER and DMG segments."""
    nm1 = segments[0]
    address: Address | None = None
    line1 = line2 = ""
    where: Position | None = None
    taxonomy: str | None = None
    references = []
    for segment in segments[1:]:
        sid = segment.id
        if sid == "N3":
            line1, line2 = segment.get(1), segment.get(2)
            where = Position.of(segment)
        elif sid == "N4":
            _, city, state, postal_code, country = segment.padded(4)[:5]
            address = Address(
                line1, line2, city, state, postal_code, country, where or Position.of(segment)
            )
        elif sid == "REF":
            references.append(Reference(segment.get(1), segment.get(2), Position.of(segment)))
        elif sid == "PRV":
            taxonomy = segment.get(3)
    if address is None and line1:
        address = Address(line1, line2, "", "", "", position=where)
    _, entity, entity_type, last, first, middle, _, suffix, qualifier, ident = nm1.padded(9)[:10]
    return Party(
        entity=entity,
        entity_type=entity_type,
        last_name=last,
        first_name=first,
        middle_name=middle,
        suffix=suffix,
        id_qualifier=qualifier,
        id=ident,
        position=Position.of(nm1),
        address=address,
        taxonomy=taxonomy,
        references=tuple(references),
        segments=tuple(segments),
    )


def _parties(segments: list[Segment]) -> tuple[list[Segment], list[list[Segment]]]:
    """Split segments into those before the first NM1 and one list per NM1 loop."""
    head: list[Segment] = []
    loops: list[list[Segment]] = []
    for segment in segments:
        if segment.id == "NM1":
            loops.append([segment])
        elif loops and segment.id in _PARTY_SEGMENTS:
            loops[-1].append(segment)
        elif loops:
            loops.append([segment])  # a stray segment between loops: kept, not a party
        else:
            head.append(segment)
    return head, [loop for loop in loops if loop[0].id == "NM1"]


class TransactionBuilder:
    """Builds the claims of one 837 transaction set from its segments (ST exclusive)."""

    def __init__(
        self,
        kind: ClaimKind,
        transaction: Transaction,
        interchange: Interchange | None,
        group: Group | None,
        scope: Scope,
    ) -> None:
        self._scope = scope
        self._kind = kind
        self._transaction = transaction
        self._interchange = interchange
        self._group = group
        self._header: list[Segment] | None = []
        self._hl: list[Segment] = []
        self._hl_built = True
        self._claim: list[Segment] | None = None
        self._billing: BillingProvider | None = None
        self._subscriber: Subscriber | None = None
        self._patient: Patient | None = None
        self._context: ClaimContext | None = None  # the claims' context until an HL changes

    @property
    def transaction(self) -> Transaction:
        return self._transaction

    def add(self, segment: Segment) -> list[Claim | Finding]:
        """Take the next segment of the transaction set; return a claim when one completes."""
        sid = segment.id
        if sid == "HL":
            out = self._flush_claim()
            self._flush_header()
            self._flush_hl()
            self._hl = [segment]
            self._hl_built = False
            return out
        if sid == "CLM":
            out = self._flush_claim()
            self._flush_header()
            self._flush_hl()
            self._claim = [segment]
            return out
        if self._claim is not None:
            self._claim.append(segment)
        elif self._header is not None:
            self._header.append(segment)
        else:
            self._hl.append(segment)
        return []

    def finish(self) -> list[Claim | Finding]:
        """The transaction set ended (SE or end of input): build what is left."""
        out = self._flush_claim()
        self._flush_header()
        self._flush_hl()
        return out

    # -- header and hierarchy -----------------------------------------------------------

    def _flush_header(self) -> None:
        header = self._header
        if header is None:
            return
        self._header = None
        fields: dict[str, object] = {}
        _, loops = _parties(header)
        for segment in header:
            if segment.id == "BHT":
                fields.update(
                    purpose=segment.get(2),
                    reference=segment.get(3),
                    created=parse_date(segment.get(4)),
                    created_time=segment.get(5),
                    claim_type=segment.get(6),
                )
                break
        for loop in loops:
            entity = loop[0].get(1)
            if entity == "41":
                fields["submitter"] = build_party(loop)
            elif entity == "40":
                fields["receiver"] = build_party(loop)
        tx = self._transaction
        self._context = None
        self._transaction = Transaction(
            set_id=tx.set_id,
            control_number=tx.control_number,
            implementation=tx.implementation,
            kind=tx.kind,
            position=tx.position,
            segments=tuple(header),
            **fields,  # type: ignore[arg-type]
        )

    def _flush_hl(self) -> None:
        if self._hl_built:
            return
        self._hl_built = True
        self._context = None
        segments = self._hl
        hl = segments[0]
        level = hl.get(3)
        head, loops = _parties(segments[1:])
        if level == _BILLING:
            self._billing = self._build_billing(hl, head, loops, segments)
            self._subscriber = None
            self._patient = None
        elif level == _SUBSCRIBER:
            self._subscriber = self._build_subscriber(hl, head, loops, segments)
            self._patient = None
        elif level == _PATIENT:
            self._patient = self._build_patient(hl, head, loops, segments)

    @staticmethod
    def _build_billing(
        hl: Segment, head: list[Segment], loops: list[list[Segment]], segments: list[Segment]
    ) -> BillingProvider:
        taxonomy = next((s.get(3) for s in head if s.id == "PRV"), None)
        parties = {loop[0].get(1): build_party(loop) for loop in reversed(loops)}
        return BillingProvider(
            hl_id=hl.get(1),
            party=parties.get("85"),
            taxonomy=taxonomy,
            position=Position.of(hl),
            pay_to=parties.get("87"),
            pay_to_plan=parties.get("PE"),
            segments=tuple(segments),
        )

    @staticmethod
    def _build_subscriber(
        hl: Segment, head: list[Segment], loops: list[list[Segment]], segments: list[Segment]
    ) -> Subscriber:
        sbr = next((s for s in head if s.id == "SBR"), None)
        parties = {loop[0].get(1): loop for loop in reversed(loops)}
        person_loop = parties.get("IL")
        payer_loop = parties.get("PR")
        dmg = next((s for s in person_loop or () if s.id == "DMG"), None)
        return Subscriber(
            hl_id=hl.get(1),
            payer_responsibility=sbr.get(1) if sbr else "",
            relationship=sbr.get(2) if sbr else "",
            group_number=sbr.get(3) if sbr else "",
            group_name=sbr.get(4) if sbr else "",
            claim_filing_indicator=sbr.get(9) if sbr else "",
            person=build_party(person_loop) if person_loop else None,
            payer=build_party(payer_loop) if payer_loop else None,
            birth_date=parse_date(dmg.get(2)) if dmg else None,
            gender=dmg.get(3) if dmg else "",
            position=Position.of(hl),
            segments=tuple(segments),
        )

    @staticmethod
    def _build_patient(
        hl: Segment, head: list[Segment], loops: list[list[Segment]], segments: list[Segment]
    ) -> Patient:
        pat = next((s for s in head if s.id == "PAT"), None)
        person_loop = next((loop for loop in loops if loop[0].get(1) == "QC"), None)
        dmg = next((s for s in person_loop or () if s.id == "DMG"), None)
        return Patient(
            hl_id=hl.get(1),
            relationship=pat.get(1) if pat else "",
            person=build_party(person_loop) if person_loop else None,
            birth_date=parse_date(dmg.get(2)) if dmg else None,
            gender=dmg.get(3) if dmg else "",
            position=Position.of(hl),
            segments=tuple(segments),
        )

    # -- claim ------------------------------------------------------------------------------

    def _flush_claim(self) -> list[Claim | Finding]:
        segments = self._claim
        if segments is None:
            return []
        self._claim = None
        problems = _Problems(self._scope)
        claim = self._build_claim(segments, problems)
        # In file order: a line's fields are read after its later segments (DTP, REF).
        return [*sorted(problems.findings, key=_offset), claim]

    def _build_claim(self, segments: list[Segment], problems: _Problems) -> Claim:
        clm = segments[0]
        _, claim_id, charge, _, _, place, signature, assignment, benefits, release = clm.padded(9)[
            :10
        ]
        problems.claim_id = claim_id
        problems.kind, problems.patient = self._kind, self._patient is not None
        total = problems.number(clm, 2, "2300", charge)
        facility = place.split(clm.delimiters.component) if place else []
        facility += [""] * (3 - len(facility))

        # Split off the service lines: everything from the first LX on.
        claim_level: list[Segment] = []
        line_groups: list[list[Segment]] = []
        for segment in segments:
            if segment.id == "LX":
                line_groups.append([segment])
            elif line_groups:
                line_groups[-1].append(segment)
            else:
                claim_level.append(segment)

        dates: list[DatePeriod] = []
        codes: list[Segment] = []
        references: list[Reference] = []
        notes: list[Note] = []
        attachments: list[Attachment] = []
        providers: list[Party] = []
        others: list[list[Segment]] = []
        party: list[Segment] | None = None
        for segment in claim_level[1:]:
            sid = segment.id
            if others:  # 2320/2330: other subscriber loops, kept raw
                if sid == "SBR":
                    others.append([segment])
                else:
                    others[-1].append(segment)
                continue
            if party is not None:
                if sid in _PARTY_SEGMENTS:
                    party.append(segment)
                    continue
                providers.append(build_party(party))
                party = None
            if sid == "NM1":
                party = [segment]
            elif sid == "SBR":
                others.append([segment])
            elif sid == "DTP":
                dates.append(problems.period(segment, "2300"))
            elif sid == "HI":
                codes.append(segment)
            elif sid == "REF":
                elements = segment.padded(2)
                references.append(Reference(elements[1], elements[2], Position.of(segment)))
            elif sid == "NTE":
                elements = segment.padded(2)
                notes.append(Note(elements[1], elements[2], Position.of(segment)))
            elif sid == "PWK":
                attachments.append(
                    Attachment(segment.get(1), segment.get(2), segment.get(6), Position.of(segment))
                )
        if party is not None:
            providers.append(build_party(party))

        diagnoses, other_codes = _health_codes(codes)
        context = self._context
        if context is None:
            context = self._context = ClaimContext(
                interchange=self._interchange,
                group=self._group,
                transaction=self._transaction,
                billing_provider=self._billing,
                subscriber=self._subscriber,
                patient=self._patient,
            )
        professional = self._kind is ClaimKind.PROFESSIONAL
        lines = tuple([self._build_line(group, problems, professional) for group in line_groups])
        cls = ProfessionalClaim if professional else InstitutionalClaim
        return cls(
            kind=self._kind,
            claim_id=claim_id,
            total_charge=total,
            facility_code=facility[0],
            facility_qualifier=facility[1],
            frequency=facility[2],
            position=Position.of(clm),
            context=context,
            provider_signature=signature,
            assignment=assignment,
            benefits_assigned=benefits,
            release_of_information=release,
            dates=tuple(dates),
            diagnoses=diagnoses,
            other_codes=other_codes,
            references=tuple(references),
            notes=tuple(notes),
            attachments=tuple(attachments),
            providers=tuple(providers),
            other_subscribers=tuple(tuple(loop) for loop in others),
            lines=lines,
            segments=tuple(claim_level),
        )

    def _build_line(
        self, segments: list[Segment], problems: _Problems, professional: bool
    ) -> ServiceLine:
        lx = segments[0]
        raw_number = lx.get(1)
        number = int(raw_number) if is_digits(raw_number) else None
        problems.line = number
        path = LINE_LOOP
        service: Segment | None = None
        dates: list[DatePeriod] = []
        references: list[Reference] = []
        notes: list[Note] = []
        providers: list[Party] = []
        control_number: str | None = None
        party: list[Segment] | None = None
        adjudicated = False
        for segment in segments[1:]:
            sid = segment.id
            if adjudicated:  # 2430 and 2440 loops: kept raw in segments
                continue
            if party is not None:
                if sid in _PARTY_SEGMENTS:
                    party.append(segment)
                    continue
                providers.append(build_party(party))
                party = None
            if sid in ("SV1", "SV2") and service is None:
                service = segment
            elif sid == "NM1":
                party = [segment]
            elif sid == "DTP":
                dates.append(problems.period(segment, path))
            elif sid == "REF":
                _, qualifier, value = segment.padded(2)[:3]
                if qualifier == "6R" and control_number is None:
                    control_number = value
                references.append(Reference(qualifier, value, Position.of(segment)))
            elif sid == "NTE":
                _, code, text = segment.padded(2)[:3]
                notes.append(Note(code, text, Position.of(segment)))
            elif sid in ("SVD", "LQ"):
                adjudicated = True
        if party is not None:
            providers.append(build_party(party))

        expected = "SV1" if professional else "SV2"
        if service is None or service.id != expected:
            # No service segment (the structure layer reports it): read an empty one instead.
            service = Segment(
                expected, (expected,), lx.offset, lx.line, lx.ordinal, lx.delimiters, expected
            )
        position = Position.of(lx)
        elements = service.padded(9)
        if professional:
            return ProfessionalServiceLine(
                number=number,
                procedure=_procedure(service, 1),
                charge=problems.number(service, 2, path, elements[2]),
                unit_basis=elements[3],
                units=problems.number(service, 4, path, elements[4]),
                position=position,
                dates=tuple(dates),
                control_number=control_number,
                references=tuple(references),
                notes=tuple(notes),
                providers=tuple(providers),
                segments=tuple(segments),
                place_of_service=elements[5],
                diagnosis_pointers=_pointers(service, problems, path),
                emergency=elements[9],
            )
        return InstitutionalServiceLine(
            number=number,
            procedure=_procedure(service, 2),
            charge=problems.number(service, 3, path, elements[3]),
            unit_basis=elements[4],
            units=problems.number(service, 5, path, elements[5]),
            position=position,
            dates=tuple(dates),
            control_number=control_number,
            references=tuple(references),
            notes=tuple(notes),
            providers=tuple(providers),
            segments=tuple(segments),
            revenue_code=elements[1],
            non_covered_charge=problems.number(service, 7, path, elements[7]),
        )


def _offset(finding: Finding) -> int:
    return finding.offset or 0


def _procedure(service: Segment, index: int) -> Procedure | None:
    """C003 composite (SV101 or SV202): qualifier, code, modifiers 1-4, description."""
    parts = service.components(index)
    if not parts:
        return None
    parts = parts + [""] * (7 - len(parts))
    return Procedure(
        qualifier=parts[0],
        code=parts[1],
        modifiers=tuple(modifier for modifier in parts[2:6] if modifier),
        description=parts[6],
        position=Position.of(service),
    )


def _pointers(segment: Segment, problems: _Problems, path: str) -> tuple[int, ...]:
    """SV107 (C004): up to four 1-based pointers into the claim's HI diagnoses."""
    pointers = []
    for raw in segment.components(7):
        if not raw:
            continue
        if is_digits(raw):
            pointers.append(int(raw))
        else:
            problems.add(
                BuildRule.BAD_POINTER,
                f"diagnosis pointer {raw!r} is not a number",
                segment,
                "SV107",
                path,
            )
    return tuple(pointers)


def _health_codes(segments: list[Segment]) -> tuple[tuple[Diagnosis, ...], tuple[HealthCode, ...]]:
    """HI composites (C022), split into diagnoses (numbered for SV107) and other codes."""
    diagnoses: list[Diagnosis] = []
    others: list[HealthCode] = []
    for segment in segments:
        separator = segment.delimiters.component
        position = Position.of(segment)
        for element, value in enumerate(segment.elements[1:], start=1):
            if not value:
                continue
            parts = value.split(separator)
            parts += [""] * (9 - len(parts))
            qualifier = parts[0]
            if qualifier in _DIAGNOSIS_QUALIFIERS:
                diagnoses.append(
                    Diagnosis(
                        qualifier=qualifier,
                        code=parts[1],
                        pointer=len(diagnoses) + 1,
                        present_on_admission=parts[8],
                        position=position,
                        element=element,
                    )
                )
            else:
                others.append(
                    HealthCode(
                        qualifier=qualifier,
                        code=parts[1],
                        date_format=parts[2],
                        date=parts[3],
                        amount=parse_decimal(parts[4]) if parts[4] else None,
                        position=position,
                        element=element,
                    )
                )
    return tuple(diagnoses), tuple(others)
