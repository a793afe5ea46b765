"""The rule engine: a registry of small rule functions, payer profiles and the dispatcher.

A rule is a function ``check(context, claim)`` that yields :class:`Hit` values: what is wrong,
on which line, and how to fix it. The dispatcher turns each hit into a :class:`Finding`, adding
the rule id, the severity for the claim's profile, the claim id, line number, loop path,
segment, position and the 277CA status codes, all read from the rule catalogue
(``maps/rules.xml``). Rules stay tiny; context is added in one place (style.md items 3-5).

A :class:`RuleSet` maps rule ids to functions, like jsonschema's ``validators``; a payer
profile changes severities in the catalogue, and ``RuleSet.extend`` derives a rule set with
rules added or replaced.
"""

from __future__ import annotations

import datetime
import enum
from collections.abc import Callable, Iterable, Iterator, Mapping

import attrs

from edi63650.errors import MapError
from edi63650.findings import ClaimStatus, Finding, Severity
from edi63650.loops import claim_path
from edi63650.model import Claim, ServiceLine
from edi63650.rules.indicators import bind
from edi63650.rules.sameday import Earlier
from edi63650.rules.services import ServiceHistory
from edi63650.rules.tables import RuleInfo, Tables
from edi63650.segment import Segment

#: A payer profile's id (``maps/profiles.xml``; :mod:`edi63650.rules.profiles`).
Profile = str


class Phase(enum.StrEnum):
    """Whether a spinal-cord-stimulator claim bills a trial or a permanent implant."""

    TRIAL = "trial"
    PERMANENT = "permanent"
    UNKNOWN = "unknown"


@attrs.frozen
class Hit:
    """What a rule reports; the dispatcher turns it into a :class:`Finding`.

    ``segment`` defaults to the line's service segment (SV1/SV2) or the claim's CLM;
    ``severity`` may lower the catalogue severity for this hit (a warning instead of an
    error); ``entity`` fills STC01-3 (85 billing provider, 82 rendering...).
    """

    message: str
    fix: str = ""
    line: ServiceLine | None = None
    segment: Segment | None = None
    element: str = ""
    source: str = ""
    severity: Severity | None = None
    entity: str = ""


@attrs.frozen
class RuleContext:
    """What a rule may look at besides the claim.

    ``codes`` holds the claim's procedure codes, so a rule can return at once when none of
    the codes it is about is billed; ``phase`` is the claim's trial/permanent classification;
    ``reach`` is the longest global period, in days (how far back the history is asked);
    ``patient`` is the claim's patient key (:class:`~edi63650.rules.history.PatientKeys`);
    ``earlier`` the accepted claims before it (the edits across claims).
    """

    tables: Tables
    profile: Profile
    history: ServiceHistory
    today: datetime.date
    codes: frozenset[str] = frozenset()
    phase: Phase | None = None
    reach: int = 0
    patient: str = ""
    earlier: Earlier | None = None


RuleCheck = Callable[[RuleContext, Claim], Iterable[Hit]]

#: Whether a claim billing these procedure codes can give a rule anything to say (the cheap
#: guard the rule's own first lines make): the dispatcher calls the rule only then.
Trigger = Callable[[Tables, frozenset[str]], bool]


#: What a rule pack says about a claim before its rules run (the SCS pack: whether it bills a
#: trial or a permanent implant), from the tables, the claim and its procedure codes.
Classify = Callable[[Tables, Claim, frozenset[str]], Phase | None]


def _no_phase(tables: Tables, claim: Claim, codes: frozenset[str]) -> Phase | None:
    return None


@attrs.frozen
class RuleSet:
    """Rule ids mapped to their check functions, and for some their :data:`Trigger`; and the
    pack's own per-claim context (``classify``: the claim's phase, which its rules and the
    reports read), so the engine knows nothing of any one pack."""

    checks: Mapping[str, RuleCheck]
    triggers: Mapping[str, Trigger] = attrs.Factory(dict)
    classify: Classify = _no_phase

    def extend(
        self, checks: Mapping[str, RuleCheck], triggers: Mapping[str, Trigger] | None = None
    ) -> RuleSet:
        """A new rule set with ``checks`` added or replacing rules of the same id (a replaced
        rule keeps no trigger unless ``triggers`` gives one)."""
        kept = {k: v for k, v in self.triggers.items() if k not in checks}
        return RuleSet({**self.checks, **checks}, {**kept, **(triggers or {})}, self.classify)


@attrs.frozen
class ClaimResult:
    """A claim with its findings, its profile and, for SCS claims, its phase."""

    claim: Claim
    findings: tuple[Finding, ...]
    profile: Profile
    phase: Phase | None

    @property
    def accepted(self) -> bool:
        return not self.findings or not any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def rejected_lines(self) -> frozenset[int]:
        """LX numbers of the lines with an error finding."""
        return frozenset(
            f.line for f in self.findings if f.severity is Severity.ERROR and f.line is not None
        )


def service_segment(line: ServiceLine) -> Segment | None:
    for segment in line.segments:
        if segment.id in ("SV1", "SV2"):
            return segment
    return None


def loop_path(claim: Claim, line: ServiceLine | None, segment: Segment | None) -> str:
    """A segment's loop path such as ``2000A/2000B/2300/2400[3]/SV1`` (:mod:`edi63650.loops`)."""
    sid = segment.id if segment is not None else ""
    return claim_path(
        claim.kind,
        claim.context.patient is not None,
        line=line.number if line is not None else None,
        in_line=line is not None,
        segment_id=sid,
        entity=segment.get(1) if segment is not None and sid == "NM1" else "",
    )


class Dispatcher:
    """Runs a rule set over claims and builds findings from hits."""

    def __init__(self, tables: Tables, rules: RuleSet) -> None:
        catalogue = {info.id: info for info in tables.rules}
        made_of_data = {info.id: bound for info in tables.rules if (bound := bind(info))}
        missing = sorted(catalogue.keys() - rules.checks.keys() - made_of_data.keys())
        unknown = sorted(rules.checks.keys() - catalogue.keys())
        if missing or unknown:
            raise MapError(
                "rules.xml and the rule set disagree: "
                + (f"no code for {missing} " if missing else "")
                + (f"no catalogue entry for {unknown}" if unknown else "")
            )
        self._tables = tables
        self._ordered = [
            (info, rules.checks[info.id], rules.triggers.get(info.id))
            if info.id in rules.checks
            else (info, *made_of_data[info.id])
            for info in tables.rules
        ]
        self._plans: dict[tuple[Profile, frozenset[str]], list[_Planned]] = {}

    @property
    def catalogue(self) -> tuple[RuleInfo, ...]:
        return tuple(info for info, _, _ in self._ordered)

    def run(self, context: RuleContext, claim: Claim) -> list[Finding]:
        out: list[Finding] = []
        for info, severity, check in self._plan(context.profile, context.codes):
            for hit in check(context, claim):
                out.append(self._finding(info, severity, hit, claim))
        return out

    def _plan(self, profile: Profile, codes: frozenset[str]) -> list[_Planned]:
        """The rules to run for a profile and a claim's codes: those the profile turns on,
        whose trigger (if any) says the codes may concern them; worked out once per pair."""
        key = (profile, codes)
        plan = self._plans.get(key)
        if plan is None:
            tables = self._tables
            plan = [
                (info, severity, check)
                for info, check, trigger in self._ordered
                if (severity := info.severities[profile]) is not None
                and (trigger is None or trigger(tables, codes))
            ]
            if len(self._plans) < _PLANS:
                self._plans[key] = plan
        return plan

    @staticmethod
    def _finding(info: RuleInfo, severity: Severity, hit: Hit, claim: Claim) -> Finding:
        line = hit.line
        segment = hit.segment
        if segment is None:
            segment = service_segment(line) if line is not None else claim.segments[0]
        statuses = info.statuses
        if hit.entity:
            statuses = tuple(
                ClaimStatus(s.category, s.code, hit.entity) if i == 0 else s
                for i, s in enumerate(statuses)
            )
        if hit.severity is not None and _RANK[hit.severity] < _RANK[severity]:
            severity = hit.severity
        return Finding(
            rule=info.id,
            severity=severity,
            message=hit.message,
            fix=hit.fix,
            source=hit.source or info.source,
            offset=segment.offset if segment else None,
            line_no=segment.line if segment else None,
            ordinal=segment.ordinal if segment else None,
            segment_id=segment.id if segment else "",
            segment=segment.text if segment else "",
            element=hit.element,
            path=loop_path(claim, line, segment),
            claim_id=claim.claim_id,
            line=line.number if line is not None else None,
            statuses=statuses,
        )


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}

#: A rule to run, with its severity for the profile.
_Planned = tuple[RuleInfo, Severity, RuleCheck]

#: Plans a dispatcher keeps, at most (claims' code sets come from the data).
_PLANS = 4096


def iter_batches(claims: Iterable[Claim]) -> Iterator[list[Claim]]:
    """Consecutive claims of one transaction set, so cross-claim rules see all of them."""
    batch: list[Claim] = []
    current: object = None
    for claim in claims:
        transaction = claim.context.transaction
        if batch and transaction is not current:
            yield batch
            batch = []
        current = transaction
        batch.append(claim)
    if batch:
        yield batch
