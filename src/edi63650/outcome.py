"""What validation decides, as it is decided: the values the streaming core yields.

The core (:mod:`edi63650.pipeline`) yields, in stream order:

- a :class:`TransactionOutcome` at each SE (or where a missing SE was noticed): the transaction
  set with its claims, each claim's findings and verdict, and the set's 999 code;
- a :class:`GroupOutcome` at each GE (or where a missing GE was noticed): the functional group,
  how many sets it held and the errors about the group itself (its 999 AK9 needs them);
- an :class:`InterchangeOutcome` at each IEA (or where it was found missing): whether the
  interchange is rejected for errors at interchange or group level, and the findings outside
  its transaction sets;
- a :class:`StreamOutcome` at the end of the input.

A transaction outcome is final unless the interchange outcome that follows it rejects its
interchange with ``retracts`` set (an error noticed only at the GE or IEA, such as a wrong
count): then every set of that interchange that was not rejected already is rejected, with its
claims (see :meth:`InterchangeOutcome.restate`). Errors known before a set ends (at the ISA or
GS) are applied to the set's outcome directly.
"""

from __future__ import annotations

import enum

import attrs

from edi63650.findings import NO_SCOPE, ClaimStatus, Finding, Scope, Severity
from edi63650.model import Claim, Group, Interchange, Transaction
from edi63650.rules.engine import ClaimResult

#: 277CA status for claims rejected by a syntax error: "Rejected. Syntax error noted for this
#: claim/service/inquiry. See Functional or Implementation Acknowledgement for details."
SYNTAX_STATUS = ClaimStatus("A3", "684")

#: The rule id of the finding a claim gets when its transaction set or interchange is rejected.
REJECTED_ENVELOPE = "X12-REJECTED-ENVELOPE"


class SyntaxPolicy(enum.StrEnum):
    """What a syntax error confined to one claim rejects."""

    CLAIM = "claim"
    TRANSACTION = "transaction"


class AckCode(enum.StrEnum):
    """999 IK501 / AK901: accepted, accepted with errors, rejected."""

    ACCEPTED = "A"
    ERRORS = "E"
    REJECTED = "R"


@attrs.frozen
class TransactionOutcome:
    """One transaction set: its envelopes, its own findings, its claims and its 999 code.

    ``scope`` numbers it (interchange, group and transaction-set ordinals in the stream);
    ``end`` is the offset of its last segment (its SE, or the byte before the segment that
    found the SE missing).
    """

    transaction: Transaction
    group: Group | None
    interchange: Interchange | None
    findings: tuple[Finding, ...]
    claims: tuple[ClaimResult, ...]
    ack: AckCode
    scope: Scope = NO_SCOPE
    end: int = 0

    def rejected(self, level: str) -> TransactionOutcome:
        """This outcome with the set and all its claims rejected for an error at ``level``
        (``interchange``): each claim gets an ``X12-REJECTED-ENVELOPE`` finding first."""
        return attrs.evolve(
            self,
            ack=AckCode.REJECTED,
            claims=tuple(
                attrs.evolve(c, findings=(envelope_rejected(c.claim, level), *c.findings))
                for c in self.claims
            ),
        )


@attrs.frozen
class GroupOutcome:
    """A functional group ended (at its GE, or where its missing GE was noticed).

    ``number`` is its ordinal in the stream (its findings' ``scope.group``); ``interchange``
    is None for a group that came without an ISA. ``errors`` holds the first error finding of
    each rule about the group itself (outside its sets), whether or not the file's cap on
    findings lets the interchange outcome list it: what the group's AK9 says.
    """

    group: Group
    interchange: Interchange | None
    number: int
    transactions: int
    errors: tuple[Finding, ...] = ()


@attrs.frozen
class InterchangeOutcome:
    """An interchange ended (at its IEA, a new ISA or the end of input).

    ``interchange`` is None (and ``number`` 0) for transaction sets that came without an ISA.
    ``findings`` are the findings outside transaction sets that arrived since the previous
    interchange outcome, in stream order: this interchange's own (``scope.interchange`` equal
    to ``number``), and any outside every interchange that came before its end.
    ``rejected``: an error at interchange or group level rejects every transaction set of it;
    ``retracts``: some of its sets were yielded before that was known and are rejected now.
    ``errors`` holds the first error finding of each rule about it outside its sets, in stream
    order, whether or not the file's cap lets ``findings`` list it (what a TA1 says).
    """

    interchange: Interchange | None
    number: int
    findings: tuple[Finding, ...]
    rejected: bool
    retracts: bool
    transactions: int
    end: int
    errors: tuple[Finding, ...] = ()

    def restate(self, outcome: TransactionOutcome) -> TransactionOutcome:
        """A transaction outcome of this interchange as finally decided."""
        if self.rejected and outcome.ack is not AckCode.REJECTED:
            return outcome.rejected("interchange")
        return outcome

    def own(self, finding: Finding) -> bool:
        """Whether ``finding`` (one of :attr:`findings`) is about this interchange."""
        return finding.scope.interchange == self.number and self.interchange is not None


@attrs.frozen
class StreamOutcome:
    """The end of the input: the findings outside every interchange that came after the last
    interchange outcome (trailing junk, an input that is not X12 at all)."""

    findings: tuple[Finding, ...]


Outcome = TransactionOutcome | GroupOutcome | InterchangeOutcome | StreamOutcome


def envelope_rejected(claim: Claim, level: str = "transaction set") -> Finding:
    """The finding a claim gets when its transaction set (or interchange) is rejected."""
    segment = claim.segments[0]
    return Finding.at(
        segment,
        REJECTED_ENVELOPE,
        Severity.ERROR,
        f"the {level} holding this claim was rejected for syntax or envelope errors; "
        "see the 999 and the file findings",
        fix="correct the envelope errors and send the file again",
        source="X12.5 / TR3 appendix B; 999 implementation acknowledgment",
        path="2300",
        claim_id=claim.claim_id,
        statuses=(SYNTAX_STATUS,),
    )
