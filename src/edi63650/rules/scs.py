"""The spinal-cord-stimulator rule pack (WEDI SNIP level 7: payer business rules).

Facts come from ``maps/`` (NCCI PTP pairs, MUEs, fee-schedule indicators, devices, modifier
roles); the functions here only apply them. Each function is one rule of ``maps/rules.xml``.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterator, Mapping
from decimal import Decimal

from edi63650.findings import Severity
from edi63650.loops import procedure_element
from edi63650.model import (
    Claim,
    InstitutionalClaim,
    ProfessionalClaim,
    ProfessionalServiceLine,
    ServiceLine,
)
from edi63650.rules.engine import Hit, Phase, RuleContext, Trigger
from edi63650.rules.history import line_date, rendering_provider
from edi63650.rules.sameday import Day
from edi63650.rules.tables import Tables


def _code(line: ServiceLine) -> str:
    return line.procedure.code if line.procedure else ""


def _modifiers(line: ServiceLine) -> frozenset[str]:
    return frozenset(line.procedure.modifiers) if line.procedure else frozenset()


def _coded_lines(claim: Claim) -> list[tuple[ServiceLine, str, datetime.date | None]]:
    return [(line, _code(line), line_date(claim, line)) for line in claim.lines if line.procedure]


def _by_date_and_provider(
    claim: Claim,
) -> dict[tuple[datetime.date | None, str], list[ServiceLine]]:
    groups: dict[tuple[datetime.date | None, str], list[ServiceLine]] = defaultdict(list)
    for line, _, day in _coded_lines(claim):
        groups[(day, rendering_provider(claim, line))].append(line)
    return groups


def _is_opps(tables: Tables, claim: Claim) -> bool:
    """An institutional claim of a type of bill the OPPS device edits apply to (codes.xml)."""
    return isinstance(claim, InstitutionalClaim) and claim.facility_code.startswith(
        tables.opps_bill_types
    )


def _element(claim: Claim, component: int = 2) -> str:
    return procedure_element(claim.kind, component)


# -- bundling ----------------------------------------------------------------------------------


def ptp(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-PTP: a column-2 code with its column-1 code, same date and provider.

    One finding per column-2 line and column-1 code (however many lines bill that code):
    the lines are grouped by code, so a claim of thousands of lines costs no more per line.
    """
    tables = context.tables
    bypass = tables.modifiers_with("ptp-bypass")
    imaging = tables.family("imaging-guidance")
    hosts = tables.family("includes-imaging-guidance")
    groups = _by_date_and_provider(claim)
    yield from _ptp_across(context, claim, groups, bypass)
    for (day, _), lines in groups.items():
        by_code: dict[str, list[ServiceLine]] = {}
        for line in lines:
            by_code.setdefault(_code(line), []).append(line)
        order = {id(line): index for index, line in enumerate(lines)}
        for column1, firsts in by_code.items():
            pairs = tables.ptp_by_column1.get(column1)
            if not pairs:
                continue
            seconds = sorted(
                (line for code in pairs.keys() & by_code.keys() for line in by_code[code]),
                key=lambda line: order[id(line)],
            )
            plain = [first for first in firsts if not _modifiers(first) & bypass]
            for second in seconds:
                pair = tables.ptp_pair(column1, _code(second), day)
                if pair is None or pair.indicator == "9" or firsts == [second]:
                    continue  # no edit in force on the date of service
                if pair.column1 in hosts and pair.column2 in imaging:
                    continue  # SCS-IMAGING says it better
                citation = (
                    f"NCCI PTP {pair.column1}/{pair.column2}, modifier indicator "
                    f"{pair.indicator} ({pair.rationale})"
                )
                if pair.indicator == "0":
                    yield Hit(
                        f"{pair.column2} is not paid with {pair.column1} on the same date by the "
                        "same provider, and no modifier can bypass this edit",
                        fix=f"remove {pair.column2}, or bill it on its own date if it was a "
                        "separate service",
                        line=second,
                        element=_element(claim),
                        source=citation,
                    )
                elif not _modifiers(second) & bypass and any(f is not second for f in plain):
                    yield Hit(
                        f"{pair.column2} is bundled into {pair.column1} on the same date by the "
                        "same provider",
                        fix="remove the line, or append a PTP-associated modifier (59, XE, XS, "
                        "XP, XU, an anatomic or a global-surgery modifier) if the service was "
                        "distinct and documented",
                        line=second,
                        element=_element(claim),
                        source=citation,
                    )


def _ptp_across(
    context: RuleContext,
    claim: Claim,
    groups: dict[tuple[datetime.date | None, str], list[ServiceLine]],
    bypass: frozenset[str],
) -> Iterator[Hit]:
    """SCS-PTP across claims: a line of this claim and one of an earlier accepted claim of the
    same patient, rendering provider and date form a pair in force (NCCI PTP edits apply to
    the beneficiary's services by one provider on one date, however they are split). This
    claim completes the violation, so its line is reported, naming the earlier one."""
    earlier, tables = context.earlier, context.tables
    if earlier is None or earlier.duplicate_of is not None:
        return  # a claim sent again is said once, as a duplicate
    imaging = tables.family("imaging-guidance")
    hosts = tables.family("includes-imaging-guidance")
    for (day, provider), lines in groups.items():
        if day is None:
            continue
        before = earlier.day(provider, day)
        if before.empty:
            continue  # (most claims: nothing else of the patient's on the date)
        for line in lines:
            code = _code(line)
            # (column 1, column 2, whether this line is the column-2 one)
            partners = [(code, other, False) for other in tables.ptp_by_column1.get(code, ())]
            partners += [(other, code, True) for other in tables.ptp_by_column2.get(code, ())]
            for column1, column2, second in partners:
                other = column1 if second else column2
                if not before.has(other):
                    continue
                pair = tables.ptp_pair(column1, column2, day)
                if pair is None or pair.indicator == "9":
                    continue
                if column1 in hosts and column2 in imaging:
                    continue  # SCS-IMAGING says it better
                found = before.lines(other)
                if pair.indicator == "1":  # a PTP modifier on the column-2 line bypasses it
                    if second and _modifiers(line) & bypass:
                        continue
                    if not second:
                        found = [s for s in found if not s.modifiers & bypass]
                if not found:
                    continue
                prior = found[0]
                where = f"claim {prior.claim_id} line {prior.line}"
                bundled = (
                    f"{code} is bundled into {other} billed on {where}"
                    if second
                    else f"{code} bundles {other} billed on {where}"
                )
                fix = (
                    "the pair is never paid together: bill one of them"
                    if pair.indicator == "0"
                    else "append a PTP-associated modifier (59, XE, XS, XP, XU) to the column-2 "
                    "line if the services were distinct and documented"
                )
                yield Hit(
                    f"{bundled}, for the same patient, provider and date of service "
                    f"({day.isoformat()})",
                    fix=f"{fix}; splitting the pair over claims does not lift the edit",
                    line=line,
                    element=_element(claim),
                    source=f"NCCI PTP {pair.column1}/{pair.column2}, modifier indicator "
                    f"{pair.indicator} ({pair.rationale}); the edit applies across claims of "
                    "one beneficiary, provider and date",
                )
                break  # one finding per line is enough to reject it


def imaging(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-IMAGING: fluoroscopic guidance (codes.xml imaging-guidance) with a procedure that
    includes it (includes-imaging-guidance: 63650), on one claim or split over claims of the
    same patient, provider and date (the later claim is reported)."""
    tables = context.tables
    guidance = tables.family("imaging-guidance")
    hosts = tables.family("includes-imaging-guidance")
    distinct = tables.modifiers_with("distinct-service")
    for (day, provider), lines in _by_date_and_provider(claim).items():
        before = (
            context.earlier.day(provider, day)
            if context.earlier is not None
            and context.earlier.duplicate_of is None
            and day is not None
            else None
        )
        host = ""  # the including procedure billed on the date
        leads: str | None = None  # where it is: "" on this claim, else which claim
        own = sorted({_code(line) for line in lines if _code(line) in hosts})
        if own:
            host, leads = own[0], ""
        elif before is not None:
            for code in sorted(c for c in hosts.codes if before.has(c)):
                first = before.lines(code)[:1]
                if first:
                    host = code
                    leads = f" billed on claim {first[0].claim_id} line {first[0].line}"
                    break
        for line in lines:
            code = _code(line)
            if code in hosts and before is not None and leads == "":
                yield from _imaging_before(claim, line, before, guidance.codes, distinct)
            if code not in guidance or leads is None:
                continue
            citation = _imaging_citation(host, code)
            if _modifiers(line) & distinct:
                yield Hit(
                    f"{code} with {host}{leads}: imaging guidance is part of {host}; accepted "
                    "because of the distinct-service modifier",
                    fix="confirm the imaging was a separate procedure, documented as such",
                    line=line,
                    element=_element(claim),
                    source=citation,
                    severity=Severity.WARNING,
                )
            else:
                yield Hit(
                    f"{code} is imaging guidance, which is included in {host}{leads}"
                    + _short(tables, host),
                    fix=f"remove {code}; only a separate, documented imaging procedure may be "
                    "billed, with 59 or XS/XU"
                    + ("; splitting it onto another claim does not lift the edit" if leads else ""),
                    line=line,
                    element=_element(claim),
                    source=citation,
                )


def _imaging_before(
    claim: Claim,
    line: ServiceLine,
    before: Day,
    guidance: frozenset[str],
    distinct: frozenset[str],
) -> Iterator[Hit]:
    """A procedure that includes imaging guidance (63650) on this claim after the guidance on
    an earlier one: this claim completes the pair, so its line is reported."""
    for code in sorted(guidance):
        if not before.has(code):
            continue
        plain = [s for s in before.lines(code) if not s.modifiers & distinct]
        if plain:
            yield Hit(
                f"{_code(line)} includes the imaging guidance {code} billed on claim "
                f"{plain[0].claim_id} line {plain[0].line} for the same patient, provider and "
                "date",
                fix=f"the {code} line must be removed (a replacement claim without it), or carry "
                "59 or XS/XU if it was a separate, documented procedure",
                line=line,
                element=_element(claim),
                source=_imaging_citation(_code(line), code),
            )
            return


def _short(tables: Tables, code: str) -> str:
    """`` (the CMS short descriptor)`` of a code of the fee schedule, else nothing."""
    schedule = tables.fee_schedule.get(code)
    return f" ({schedule.short})" if schedule is not None and schedule.short else ""


def _imaging_citation(host: str, code: str) -> str:
    return f"NCCI PTP {host}/{code}, modifier indicator 1; NCCI Policy Manual ch. IV"


# -- units --------------------------------------------------------------------------------------


def mue(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-MUE: units of a code on one date over its MUE (MAI 1 per line, 2 and 3 per date)."""
    setting = "practitioner" if isinstance(claim, ProfessionalClaim) else "outpatient-hospital"
    if not any(context.tables.mue(code, setting) for code in context.codes):
        return
    element = "SV104" if isinstance(claim, ProfessionalClaim) else "SV205"  # the units
    groups: dict[tuple[str, datetime.date | None], list[ServiceLine]] = defaultdict(list)
    for line, code, day in _coded_lines(claim):
        if line.units is not None and context.tables.mue(code, setting) is not None:
            groups[(code, day)].append(line)
    for (code, day), lines in groups.items():
        edit = context.tables.mue(code, setting, day)  # the vintage in force on the date
        assert edit is not None  # noqa: S101 - grouped only when present
        citation = f"MUE {code} = {edit.value}, MAI {edit.mai} ({setting}; {edit.rationale})"
        if edit.mai == 1:
            for line in lines:
                if line.units is not None and line.units > edit.value:
                    yield Hit(
                        f"{line.units} units of {code} on one line; the MUE allows {edit.value}",
                        fix=f"bill at most {edit.value} units per line",
                        line=line,
                        element=element,
                        source=citation,
                    )
            continue
        total = sum((line.units or Decimal(0) for line in lines), Decimal(0))
        if total > edit.value:
            yield Hit(
                f"{total} units of {code} on one date across {len(lines)} line(s); the MUE "
                f"allows {edit.value} per date",
                fix=f"bill at most {edit.value} units of {code} for the date",
                line=lines[-1],
                element=element,
                source=citation,
            )
        elif context.earlier is not None and not context.earlier.duplicate_of and day is not None:
            yield from _mue_across(
                context,
                claim,
                lines,
                code=code,
                day=day,
                limit=edit.value,
                citation=citation,
                element=element,
            )


def _mue_across(
    context: RuleContext,
    claim: Claim,
    lines: list[ServiceLine],
    *,
    code: str,
    day: datetime.date,
    limit: int,
    citation: str,
    element: str,
) -> Iterator[Hit]:
    """SCS-MUE across claims (MAI 2 and 3 are date-of-service edits): this claim's units of
    ``code`` on ``day`` and those of earlier accepted claims of the patient by the same
    provider, together over the limit; this claim, which goes over, is reported."""
    assert context.earlier is not None  # noqa: S101 - the caller checked
    by_provider: dict[str, list[ServiceLine]] = defaultdict(list)
    for line in lines:
        by_provider[rendering_provider(claim, line)].append(line)
    for provider, own in by_provider.items():
        before = context.earlier.day(provider, day)
        if not before.has(code):
            continue
        prior = before.units(code)
        here = sum((line.units or Decimal(0) for line in own), Decimal(0))
        if prior and prior + here > limit:
            first = before.lines(code)[:1]
            named = f" (first on claim {first[0].claim_id} line {first[0].line})" if first else ""
            yield Hit(
                f"{here} units of {code} here and {prior} on earlier claims{named} for the "
                f"same patient, provider and date ({day.isoformat()}): {prior + here}; the MUE "
                f"allows {limit} per date",
                fix=f"bill at most {limit} units of {code} for the date across all claims",
                line=own[-1],
                element=element,
                source=f"{citation}; a date-of-service MUE counts every claim of the date",
            )


# -- modifiers (the fee-schedule indicator rules are data: rules.indicators) -------------------


def modifier_conflicts(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-MODIFIER-CONFLICT: modifiers on one line that contradict each other."""
    for line in claim.lines:
        used = _modifiers(line)
        if len(used) < 2:
            continue
        for conflict in context.tables.conflicts:
            first, second = sorted(used & conflict.first), sorted(used & conflict.second)
            if first and second:
                yield Hit(
                    f"{'/'.join(first)} and {'/'.join(second)} on one line: {conflict.reason}",
                    fix="keep the one modifier that describes the service",
                    line=line,
                    element=_element(claim, 3),
                    source=conflict.source,
                )


def modifier_22(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-MODIFIER-22: a modifier that needs documentation (modifiers.xml role documentation:
    22, increased procedural services) with no PWK or NTE on the claim."""
    documented = bool(claim.attachments or claim.notes)
    needing = context.tables.modifiers_with("documentation")
    for line in claim.lines:
        used = sorted(_modifiers(line) & needing)
        if used and not (documented or line.notes):
            yield Hit(
                f"{'/'.join(used)} on {_code(line)} without documentation on the claim",
                fix="attach the operative report (PWK) or explain the increased work (NTE)",
                line=line,
                element=_element(claim, 3),
            )


# -- global period ------------------------------------------------------------------------------


def global_days(tables: Tables, code: str) -> int | None:
    """The global period of an SCS procedure code, in days (None for other codes)."""
    if code not in tables.family("scs-procedure"):
        return None
    schedule = tables.fee_schedule.get(code)
    return schedule.global_period if schedule else None


def max_global_days(tables: Tables) -> int:
    """The longest global period of the SCS procedures: how far back the history is asked."""
    periods = (global_days(tables, code) for code in tables.family("scs-procedure").codes)
    return max((days for days in periods if days is not None), default=0)


def global_em(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-GLOBAL-EM: an E/M by the surgeon inside an SCS procedure's global period, without
    the modifier of its day (modifiers.xml roles: em-same-day 25, em-postoperative 24, and
    em-decision-for-surgery 57, which a 90-day procedure also allows on its day)."""
    tables = context.tables
    visits = tables.family("evaluation-management")
    if not any(code in visits for code in context.codes):
        return
    reach = datetime.timedelta(days=context.reach)
    for line, code, day in _coded_lines(claim):
        if code not in visits or day is None:
            continue
        provider = rendering_provider(claim, line)

        def touches(date: datetime.date, days: int, day: datetime.date = day) -> bool:
            """The visit's day is the procedure's, inside its period, or (90 days) the day
            before it."""
            offset = (day - date).days
            return 0 <= offset <= days or (days == 90 and offset == -1)

        service = context.history.earliest(
            context.patient,
            day - reach,
            day + datetime.timedelta(days=1),
            touches,
            provider=provider,
        )
        if service is None:
            continue
        days = global_days(tables, service.code)
        assert days is not None  # noqa: S101 - the history answers only codes with a period
        modifiers = _modifiers(line)
        offset = (day - service.date).days
        major = days == 90
        decision = tables.modifiers_with("em-decision-for-surgery")
        if offset == 0:
            wanted = tables.modifiers_with("em-same-day")
            allowed = wanted | (decision if major else frozenset())
            reason = "significant and separately identifiable"
        elif offset > 0:
            wanted = allowed = tables.modifiers_with("em-postoperative")
            reason = "unrelated to the surgery"
        else:
            wanted = allowed = decision
            reason = "the decision for surgery"
        if modifiers & allowed:
            continue
        when = (
            "the day of"
            if offset == 0
            else ("the day before" if offset < 0 else f"day {offset} after")
        )
        shown = "/".join(sorted(wanted))
        used = "/".join(sorted(modifiers & decision))
        extra = f" ({used} applies only to 90-day procedures)" if used else ""
        yield Hit(
            f"{code} on {when} {service.code} ({service.date.isoformat()}), by the same "
            f"provider, falls inside its {days}-day global period without {shown}{extra}",
            fix=f"append {shown} if the visit was {reason}; otherwise do not bill it",
            line=line,
            element=_element(claim),
            source=f"Medicare PFS {service.code}: global days {days:03d}; NCCI Policy "
            "Manual ch. I D",
        )


def _after(date: datetime.date, days: int, day: datetime.date) -> bool:
    return 0 < (day - date).days <= days


def global_repeat(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-GLOBAL-REPEAT: an SCS procedure inside another's global period, without a modifier."""
    tables = context.tables
    if not context.codes & tables.family("scs-procedure").codes:
        return
    allowed = tables.modifiers_with("global-repeat")
    reach = datetime.timedelta(days=context.reach)
    for line, code, day in _coded_lines(claim):
        if global_days(tables, code) is None or day is None:
            continue
        if _modifiers(line) & allowed:
            continue
        service = context.history.earliest(
            context.patient,
            day - reach,
            day - datetime.timedelta(days=1),
            lambda date, days, day=day: _after(date, days, day),  # type: ignore[misc]
        )
        if service is None:
            continue
        days = global_days(tables, service.code)
        yield Hit(
            f"{code} on {day.isoformat()} falls inside the {days}-day global period of "
            f"{service.code} on {service.date.isoformat()} (claim {service.claim_id})",
            fix="append 58 (staged), 76/77 (repeat), 78 (return to the operating room) "
            "or 79 (unrelated), as the record supports",
            line=line,
            element=_element(claim),
            source=f"Medicare PFS {service.code}: global days {days:03d}; NCCI Policy "
            "Manual ch. I D",
        )


def lifetime(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-LIFETIME: units over a MAC's lifetime limit, counting the history."""
    limits = context.tables.lifetime_limits
    if context.codes.isdisjoint(limits):
        return
    patient = context.patient
    for line, code, day in _coded_lines(claim):
        if code not in limits or day is None:
            continue
        limit, source = limits[code]
        # Units up to this line's date: the line that crosses the limit is the one reported.
        total = context.history.units(patient, code, day)
        if total > limit:
            yield Hit(
                f"{total} units of {code} for this patient so far; the lifetime limit is {limit}",
                fix="check the patient's history; document medical necessity for more",
                line=line,
                element=_element(claim),
                source=source,
            )


# -- devices ------------------------------------------------------------------------------------


def device_missing(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-DEVICE-MISSING: an OPPS device-intensive procedure without its device code."""
    if not _is_opps(context.tables, claim):
        return
    lines = _coded_lines(claim)
    billed = {(code, day) for _, code, day in lines}
    for requirement in context.tables.requirements:
        for line, code, day in lines:
            if code not in requirement.procedures or _modifiers(line) & requirement.waived_by:
                continue
            if any((device, day) in billed for device in requirement.devices):
                continue
            yield Hit(
                f"{code} needs a {requirement.needs} device code on the same claim and date "
                f"({', '.join(sorted(requirement.devices))})",
                fix=f"add the {requirement.needs} (C-code) line, or 52/73/74 if the procedure "
                "was reduced or discontinued",
                line=line,
                element="SV202-02",
                source=requirement.source,
            )


def device_orphan(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-DEVICE-ORPHAN: an OPPS device code (one a codes.xml requirement names) with no
    procedure that uses it."""
    if not _is_opps(context.tables, claim):
        return
    lines = _coded_lines(claim)
    billed = {(code, day) for _, code, day in lines}
    for line, code, day in lines:
        users = [r for r in context.tables.requirements if code in r.devices]
        if not users:
            continue
        if any((procedure, day) in billed for r in users for procedure in r.procedures):
            continue
        procedures = sorted(set().union(*(r.procedures for r in users)))
        yield Hit(
            f"device {code} with no procedure that uses it on the same date "
            f"({', '.join(procedures)})",
            fix="add the implant procedure line, or remove the device",
            line=line,
            element="SV202-02",
            source=users[0].source,
        )


def opps_l_codes(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-OPPS-L-CODE: neurostimulator devices with an OPPS status they are not paid under
    (codes.xml opps-unpaid-status: E1, the L-codes) on an 837I."""
    if not isinstance(claim, InstitutionalClaim):
        return
    tables = context.tables
    codes = "; ".join(f"{r.needs} {', '.join(sorted(r.devices))}" for r in tables.requirements)
    for line in claim.lines:
        device = tables.devices.get(_code(line))
        if device is None or device.opps_status not in tables.opps_unpaid_statuses:
            continue
        edit = tables.mue(device.code, "outpatient-hospital", line_date(claim, line))
        yield Hit(
            f"{device.code} ({device.short}) is "
            f"{tables.opps_unpaid_statuses[device.opps_status]} (status {device.opps_status}"
            + (f", outpatient-hospital MUE {edit.value})" if edit is not None else ")"),
            fix="report the hardware with its OPPS device code" + (f" ({codes})" if codes else ""),
            line=line,
            element="SV202-02",
        )


def c1768(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-C1768: a device code that is not a neurostimulator (codes.xml kind
    not-neurostimulator: C1768, a vascular graft often mistaken for a generator) billed with
    an SCS procedure."""
    tables = context.tables
    wrong = context.codes & tables.devices_of("not-neurostimulator")
    if not wrong:
        return
    procedures = tables.family("scs-procedure")
    if not any(_code(line) in procedures for line in claim.lines):
        return
    opps = frozenset().union(*(r.devices for r in tables.requirements))
    kinds = (("rechargeable", "generator-rechargeable"), ("non-rechargeable", "generator"))
    named = "; ".join(
        f"{label} {', '.join(sorted(codes))}"
        for label, kind in kinds
        if (codes := tables.devices_of(kind) & opps)
    )
    for line in claim.lines:
        code = _code(line)
        if code in wrong:
            yield Hit(
                f"{code} is '{tables.devices[code].short}', not a neurostimulator generator; a "
                "claim that pairs it with spinal-cord-stimulator procedures is miscoded",
                fix="bill the generator with its own device code" + (f": {named}" if named else ""),
                line=line,
                element=_element(claim),
            )


# -- trial or permanent -------------------------------------------------------------------------


def _generators(tables: Tables) -> frozenset[str]:
    return (
        tables.devices_of("generator", "generator-rechargeable")
        | tables.family("scs-generator").codes
    )


def _trial_kits(tables: Tables) -> frozenset[str]:
    return tables.devices_of("trial-lead-kit")


def is_scs_claim(tables: Tables, codes: frozenset[str]) -> bool:
    """Whether the codes include a spinal-cord-stimulator procedure or device."""
    procedures = tables.family("scs-procedure").codes
    return not codes.isdisjoint(procedures) or not codes.isdisjoint(tables.devices)


def classify_phase(tables: Tables, claim: Claim, codes: frozenset[str]) -> Phase | None:
    """Trial: a code or a note word of codes.xml trial phase-evidence (C1897, TRIAL), and no
    generator; permanent: a generator (63685, a generator device) or a code of permanent
    phase-evidence (C1778); otherwise unknown. None for claims without SCS codes. (A trial
    kit billed with a generator is permanent here, and an error of SCS-PHASE.)"""
    if not is_scs_claim(tables, codes):
        return None
    generator = bool(codes & _generators(tables))
    trial = bool(codes & tables.phase_codes["trial"]) or _says(claim, tables.phase_words["trial"])
    if trial and not generator:
        return Phase.TRIAL
    if generator or codes & tables.phase_codes["permanent"]:
        return Phase.PERMANENT
    return Phase.UNKNOWN


def _says(claim: Claim, words: tuple[str, ...]) -> bool:
    """Whether a claim or line note holds one of ``words`` (any case)."""
    if not words:
        return False
    notes = [n.text.upper() for n in claim.notes] + [
        n.text.upper() for line in claim.lines for n in line.notes
    ]
    return any(word in text for word in words for text in notes)


def phase_conflict(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-PHASE: a trial lead kit billed with a generator."""
    tables = context.tables
    if not context.codes & _trial_kits(tables):
        return
    generators = sorted(context.codes & _generators(tables))
    if not generators:
        return
    for line in claim.lines:
        if _code(line) in _trial_kits(tables):
            yield Hit(
                f"trial lead kit {_code(line)} billed with generator {', '.join(generators)}: a "
                "trial and a permanent implant are not one procedure",
                fix="bill the trial and the permanent implant on their own claims",
                line=line,
                element=_element(claim),
            )


def phase_unknown(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-PHASE-UNKNOWN: an SCS claim whose phase cannot be told."""
    if context.phase is Phase.UNKNOWN:
        tables = context.tables
        codes = " or ".join(sorted(tables.phase_codes["trial"]))
        words = " or ".join(tables.phase_words["trial"])
        ways = [f"bill {codes} for a trial (institutional)"] if codes else []
        ways += [f"say {words} in a claim note (NTE)"] if words else []
        yield Hit(
            "cannot tell whether this is a trial or a permanent implant",
            fix=", or ".join(ways) or "say in a claim note (NTE) which it is",
        )


def generator_alone(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-GENERATOR-ALONE: 63685 with no 63650/63655 on the claim or in the history."""
    tables = context.tables
    generators = tables.family("scs-generator")
    if not context.codes & generators.codes:
        return
    leads = tables.family("scs-lead-placement")
    generator_lines = [line for line in claim.lines if _code(line) in generators]
    if not generator_lines or any(_code(line) in leads for line in claim.lines):
        return
    if context.history.has(context.patient, leads.codes):
        return
    for line in generator_lines:
        yield Hit(
            f"{_code(line)} (generator) with no electrode placement "
            f"({', '.join(sorted(leads.codes))}) on this claim or in the history",
            fix="if this replaces a generator or the leads were billed elsewhere, say so in a "
            "note (NTE) and keep the records",
            line=line,
            element=_element(claim),
        )


def indication(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """SCS-INDICATION: a line of a procedure that needs an indication (codes.xml
    needs-indication: 63650) with no listed SCS indication among its diagnoses."""
    needs = context.tables.family("needs-indication")
    if not any(code in needs for code in context.codes):
        return
    listed = context.tables.indications
    diagnoses = claim.diagnoses
    every: tuple[bool, str, bool] | None = None  # an 837I line's: all the claim's diagnoses
    for line in claim.lines:
        code = _code(line)
        if code not in needs:
            continue
        if isinstance(line, ProfessionalServiceLine):
            pointed = [
                diagnoses[p - 1].code for p in line.diagnosis_pointers if 1 <= p <= len(diagnoses)
            ]
            some, shown, found = bool(pointed), ", ".join(pointed), _listed(pointed, listed)
        else:
            if every is None:
                codes = [d.code for d in diagnoses]
                every = bool(codes), ", ".join(codes), _listed(codes, listed)
            some, shown, found = every
        if some and not found:
            yield Hit(
                f"none of the diagnoses of this {code} line ({shown}) is a listed "
                "spinal-cord-stimulator indication",
                fix="check the diagnosis against the MAC's LCD before sending",
                line=line,
                element="SV107" if isinstance(line, ProfessionalServiceLine) else "",
            )


def _listed(codes: list[str], listed: Mapping[str, str]) -> bool:
    return any(code in listed for code in codes)


def _any_mue(tables: Tables, codes: frozenset[str]) -> bool:
    return any(
        tables.mue(code, "practitioner") or tables.mue(code, "outpatient-hospital")
        for code in codes
    )


def _visits(tables: Tables, codes: frozenset[str]) -> bool:
    visits = tables.family("evaluation-management")
    return any(code in visits for code in codes)


#: For the rules whose first lines return unless the claim bills certain codes, that test
#: (never stricter than the rule's own): the engine calls the rule only for such claims.
TRIGGERS: dict[str, Trigger] = {
    "SCS-PTP": lambda tables, codes: (
        not codes.isdisjoint(tables.ptp_column1) or not codes.isdisjoint(tables.ptp_by_column2)
    ),
    "SCS-IMAGING": lambda tables, codes: any(
        code in tables.family("imaging-guidance")
        or code in tables.family("includes-imaging-guidance")
        for code in codes
    ),
    "SCS-MUE": _any_mue,
    "SCS-GLOBAL-EM": _visits,
    "SCS-GLOBAL-REPEAT": lambda tables, codes: (
        not codes.isdisjoint(tables.family("scs-procedure").codes)
    ),
    "SCS-LIFETIME": lambda tables, codes: not codes.isdisjoint(tables.lifetime_limits),
    "SCS-DEVICE-MISSING": lambda tables, codes: any(
        not codes.isdisjoint(r.procedures) for r in tables.requirements
    ),
    "SCS-DEVICE-ORPHAN": lambda tables, codes: any(
        not codes.isdisjoint(r.devices) for r in tables.requirements
    ),
    "SCS-OPPS-L-CODE": lambda tables, codes: not codes.isdisjoint(tables.devices),
    "SCS-C1768": lambda tables, codes: (
        not codes.isdisjoint(tables.devices_of("not-neurostimulator"))
    ),
    "SCS-PHASE": lambda tables, codes: not codes.isdisjoint(_trial_kits(tables)),
    "SCS-PHASE-UNKNOWN": is_scs_claim,
    "SCS-GENERATOR-ALONE": lambda tables, codes: (
        not codes.isdisjoint(tables.family("scs-generator").codes)
    ),
    "SCS-INDICATION": lambda tables, codes: any(
        code in tables.family("needs-indication") for code in codes
    ),
}
