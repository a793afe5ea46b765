"""Duplicate claims: the same claim sent again, in one file or across submissions.

An exact duplicate has the same patient, billing and rendering providers, dates, procedures
with modifiers, units and charges as a claim accepted before it (its CLM01 may differ:
:func:`~edi63650.rules.sameday.fingerprint`); it is rejected. A suspected duplicate bills a
procedure that an earlier accepted claim billed for the same patient, provider and date, with
a different charge or units; it is a warning. A replacement (CLM05-3 ``7``) or void (``8``) is
never a duplicate of its original.
"""

from __future__ import annotations

from collections.abc import Iterator

from edi63650.loops import procedure_element
from edi63650.model import Claim
from edi63650.rules.engine import Hit, RuleContext
from edi63650.rules.history import line_date, rendering_provider

#: CLM05-3 frequency codes of claims that take an earlier claim's place (code source 235).
_CORRECTIONS = frozenset({"7", "8"})


def exact(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """DUP-EXACT: the claim was accepted before (in this file or an earlier submission)."""
    if context.earlier is None or claim.frequency in _CORRECTIONS:
        return
    original = context.earlier.duplicate_of
    if original is not None:
        yield Hit(
            f"the same claim as {original}, accepted before: same patient, providers, dates, "
            "procedures, units and charges",
            fix="do not send a claim twice; to change an accepted claim, send a replacement "
            "(CLM05-3 7) with REF*F8, or a void (8)",
            element="CLM01",
        )


def suspected(context: RuleContext, claim: Claim) -> Iterator[Hit]:
    """DUP-SUSPECT: a procedure an earlier accepted claim billed for the same patient, provider
    and date (not an exact duplicate: that is DUP-EXACT)."""
    earlier = context.earlier
    if earlier is None or claim.frequency in _CORRECTIONS or earlier.duplicate_of is not None:
        return
    for line in claim.lines:
        day = line_date(claim, line)
        if line.procedure is None or day is None:
            continue
        code = line.procedure.code
        before = earlier.day(rendering_provider(claim, line), day)
        found = before.lines(code) if before.has(code) else []
        if found:
            yield Hit(
                f"{code} on {day.isoformat()} was billed on claim {found[0].claim_id} line "
                f"{found[0].line} for the same patient and provider",
                fix="check this is a separate service (then a repeat modifier such as 76 or 77 "
                "says so), not the same one sent again",
                line=line,
                element=procedure_element(claim.kind),
            )
