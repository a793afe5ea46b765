"""The default rule set and the engine that runs it over a stream of claims."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Iterator, Sequence

from edi63650.errors import EdiUsageError
from edi63650.model import Claim
from edi63650.rules import duplicates, scs, snip
from edi63650.rules.engine import (
    ClaimResult,
    Dispatcher,
    RuleContext,
    RuleSet,
    iter_batches,
)
from edi63650.rules.history import HistoryStore, PatientKeys, Service, services_of
from edi63650.rules.sameday import Earlier, SameDay, fingerprint
from edi63650.rules.services import ServiceHistory
from edi63650.rules.tables import RuleInfo, Tables

#: The rules of ``maps/rules.xml`` that are code, by id (the rest are made of data:
#: :mod:`edi63650.rules.indicators`). Extend with ``DEFAULT_RULES.extend({...})``.
DEFAULT_RULES = RuleSet(
    {
        "SNIP3-BALANCE": snip.balance,
        "SNIP4-DX-POINTER": snip.diagnosis_pointers,
        "SNIP4-STATEMENT-DATES": snip.statement_dates,
        "SNIP4-FUTURE-DATE": snip.future_dates,
        "SNIP5-PROCEDURE-CODE": snip.procedure_codes,
        "SNIP5-MODIFIER": snip.modifiers_known,
        "SNIP5-ICD10": snip.icd10_codes,
        "SNIP5-NPI": snip.npis,
        "SNIP5-PLACE-OF-SERVICE": snip.places_of_service,
        "SNIP5-REVENUE-CODE": snip.revenue_codes,
        "SCS-PTP": scs.ptp,
        "SCS-IMAGING": scs.imaging,
        "SCS-MUE": scs.mue,
        "SCS-MODIFIER-CONFLICT": scs.modifier_conflicts,
        "SCS-MODIFIER-22": scs.modifier_22,
        "SCS-GLOBAL-EM": scs.global_em,
        "SCS-GLOBAL-REPEAT": scs.global_repeat,
        "SCS-LIFETIME": scs.lifetime,
        "SCS-DEVICE-MISSING": scs.device_missing,
        "SCS-DEVICE-ORPHAN": scs.device_orphan,
        "SCS-OPPS-L-CODE": scs.opps_l_codes,
        "SCS-C1768": scs.c1768,
        "SCS-PHASE": scs.phase_conflict,
        "SCS-PHASE-UNKNOWN": scs.phase_unknown,
        "SCS-GENERATOR-ALONE": scs.generator_alone,
        "SCS-INDICATION": scs.indication,
        "DUP-EXACT": duplicates.exact,
        "DUP-SUSPECT": duplicates.suspected,
    },
    scs.TRIGGERS,
    scs.classify_phase,
)


#: CLM05-3 claim frequency codes that replace or void an earlier claim (X12 code source 235).
REPLACEMENT, VOID = "7", "8"


def check_profile(tables: Tables, profile: str) -> None:
    """Raise :class:`EdiUsageError` unless ``profile`` is ``auto`` or one of the tables'."""
    known = tables.profiles.ids
    if profile != "auto" and profile not in known:
        raise EdiUsageError(
            f"profile must be auto or one of the maps' profiles ({', '.join(known)}), "
            f"not {profile!r}"
        )


class Engine:
    """Runs the rule set over claims, one transaction set at a time.

    Claims of one transaction set are indexed before any rule runs, so the global-period and
    repeat-procedure rules see every claim of the set whatever its order; claims of earlier
    transaction sets and, with a :class:`HistoryStore`, of earlier submissions are seen too.
    The edits across claims (PTP, MUE, duplicates) see the accepted claims before each claim
    (:class:`~edi63650.rules.sameday.SameDay`). Accepted claims go to the store. One engine
    per input file; it keeps that file's services in memory (or a temporary database).
    """

    def __init__(
        self,
        tables: Tables | None = None,
        rules: RuleSet = DEFAULT_RULES,
        *,
        profile: str = "auto",
        history: HistoryStore | None = None,
        today: datetime.date | None = None,
        run: str = "",
    ) -> None:
        """``run`` names this reading in the history store (its batches start with it)."""
        self.tables = tables if tables is not None else Tables.load()
        check_profile(self.tables, profile)
        self._dispatcher = Dispatcher(self.tables, rules)
        self._classify = rules.classify
        self._profile = profile
        self._store = history
        self._keys = history.keys if history is not None else PatientKeys()
        tables = self.tables
        self._reach = scs.max_global_days(tables)
        self._history = ServiceHistory(
            history,
            days=lambda code: scs.global_days(tables, code),
            counted=tables.lifetime_limits.keys(),
            run=run,
        )
        self._sameday = SameDay(history, run=run)
        # What _check worked out for the accepted claims of the set being read (by id of the
        # claim): the patient key, fingerprint and lines :meth:`record` stores.
        self._made: dict[int, tuple[str, str, list[Service]]] = {}
        self._today = today or datetime.date.today()

    @property
    def catalogue(self) -> tuple[RuleInfo, ...]:
        """The rules this engine runs, in order."""
        return self._dispatcher.catalogue

    def check(
        self,
        claims: Iterable[Claim],
        *,
        record: bool = True,
        refused: Sequence[bool] | None = None,
    ) -> Iterator[ClaimResult]:
        """A :class:`ClaimResult` for each claim, in order.

        With ``record`` (the default) the accepted claims go to the history store at the end
        of each transaction set; a caller that may still reject claims for other reasons
        passes ``record=False`` and calls :meth:`record` with the final verdicts. ``refused``
        (one flag per claim, in order) marks the claims the caller rejects whatever the rules
        say: the claims after them do not count them as accepted.
        """
        refusals = iter(refused) if refused is not None else None
        procedures = self.tables.family("scs-procedure")
        for batch in iter_batches(claims):
            self._made = {}
            patients = [self._keys.key(claim) for claim in batch]
            lines = [
                services_of(claim, patient) for claim, patient in zip(batch, patients, strict=True)
            ]
            for found in lines:
                self._history.add(s for s in found if s.code in procedures)
            accepted = []
            for claim, patient, found in zip(batch, patients, lines, strict=True):
                refuse = refusals is not None and next(refusals)
                result = self._check(claim, patient, found, refuse)
                if result.accepted:
                    accepted.append(result)
                yield result
            if record and self._store is not None:
                self._record(accepted)

    def _check(
        self, claim: Claim, patient: str, lines: list[Service], refused: bool
    ) -> ClaimResult:
        """One claim's verdict, seeing the accepted claims before it; if it is accepted (and
        not ``refused``), it joins them with its dated ``lines`` (a replacement or void first
        takes out its original)."""
        tables = self.tables
        profile = tables.profiles.select(claim, self._profile)
        codes = frozenset(line.procedure.code for line in claim.lines if line.procedure)
        phase = self._classify(tables, claim, codes)
        originals = _originals(claim)
        skip = originals | {claim.claim_id}
        print_ = repeats = None
        if not originals and self._sameday.knows(patient):  # else nothing to repeat
            print_ = fingerprint(claim, patient)
            repeats = self._sameday.duplicate(print_, skip)
        earlier = Earlier(self._sameday, patient, skip, repeats)
        context = RuleContext(
            tables, profile, self._history, self._today, codes, phase, self._reach, patient, earlier
        )
        result = ClaimResult(
            claim=claim,
            findings=tuple(self._dispatcher.run(context, claim)),
            profile=profile,
            phase=phase,
        )
        if result.accepted and not refused:
            if originals:
                self._sameday.withdraw(patient, originals)
            if claim.frequency != VOID:
                print_ = print_ or fingerprint(claim, patient)
                self._sameday.add(patient, claim.claim_id, lines, print_)
            if self._store is not None:
                self._made[id(claim)] = (patient, print_ or "", lines)
        return result

    def record(self, results: Iterable[ClaimResult], *, batch: str = "") -> int:
        """Store the accepted results (their SCS procedures, lines and fingerprints; the
        originals they replace or void taken out); returns how many procedures were new.
        ``batch`` names them for :meth:`forget`."""
        return self._record(results, batch=batch)

    def _record(self, results: Iterable[ClaimResult], *, batch: str = "") -> int:
        if self._store is None:
            return 0
        procedures = self.tables.family("scs-procedure")
        services: list[Service] = []
        lines: list[Service] = []
        claims: list[tuple[str, str, str]] = []
        withdrawn: list[tuple[str, str]] = []
        for result in results:
            if not result.accepted:
                continue
            claim = result.claim
            made = self._made.get(id(claim))  # what checking it worked out, else work it out
            patient = made[0] if made else self._keys.key(claim)
            withdrawn += [(patient, original) for original in sorted(_originals(claim))]
            if claim.frequency == VOID:
                continue
            found = made[2] if made else services_of(claim, patient)
            services += (s for s in found if s.code in procedures)
            lines += found
            print_ = made[1] if made and made[1] else fingerprint(claim, patient)
            claims.append((print_, patient, claim.claim_id))
        return self._store.record(
            services, batch=batch, lines=lines, claims=claims, withdrawn=withdrawn
        )

    def forget(self, batch: str) -> int:
        """Take back what :meth:`record` stored as ``batch``."""
        return self._store.forget(batch) if self._store is not None else 0

    def mark(self) -> tuple[int, int]:
        """A point in this file's history (an interchange's start) to :meth:`rewind` to."""
        return self._history.mark(), self._sameday.mark()

    def unaccept(self, mark: tuple[int, int]) -> None:
        """The claims accepted since ``mark`` were rejected after all (their interchange's
        trailer was wrong): the edits across claims no longer count them."""
        self._sameday.rewind(mark[1])

    def rewind(self, mark: tuple[int, int]) -> None:
        """Forget this file's services since ``mark``, to read an interchange again."""
        self._history.rewind(mark[0])
        self._sameday.rewind(mark[1])


def _originals(claim: Claim) -> frozenset[str]:
    """The CLM01s a replacement or void claim takes the place of: its own (a corrected claim
    keeps its patient control number) and REF*F8's, when it gives one (X12 code source 235;
    TR3 2300 REF*F8 Payer Claim Control Number, which submitters also use for the original's
    CLM01)."""
    if claim.frequency not in (REPLACEMENT, VOID):
        return frozenset()
    original = next((r.value for r in claim.references if r.qualifier == "F8"), None)
    return frozenset(filter(None, (claim.claim_id, original)))
