"""Envelope checks (WEDI SNIP level 1) and routing by implementation guide.

Pairs ISA/IEA, GS/GE and ST/SE; compares control numbers and counts; checks the envelope dates
and times; decides from ST03 (or GS08) whether a transaction set is an 837P, an 837I or something
this tool does not read. References are to X12.5 (interchange control) and the TR3 appendix
B.1.1 "envelopes and control structures".
"""

from __future__ import annotations

import enum
from collections.abc import Callable

import attrs

from edi63650.findings import NO_SCOPE, Finding, Scope, Severity
from edi63650.maps import Implementations
from edi63650.model import ClaimKind, Group, Interchange, Transaction
from edi63650.segment import Position, Segment
from edi63650.values import is_digits, is_time, parse_date, parse_short_date

#: The ISA is fixed-width: 106 characters including its terminator (X12.5, ISA segment).
ISA_LENGTH = 106

_KINDS = {"837P": ClaimKind.PROFESSIONAL, "837I": ClaimKind.INSTITUTIONAL}

ENVELOPE_IDS = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE"})


class EnvelopeRule(enum.StrEnum):
    """Stable ids of the envelope findings."""

    ISA_LENGTH = "ENV-ISA-LENGTH"
    ISA_DATE = "ENV-ISA-DATE"
    ISA_TIME = "ENV-ISA-TIME"
    GS_DATE = "ENV-GS-DATE"
    GS_TIME = "ENV-GS-TIME"
    IEA_CONTROL = "ENV-IEA-CONTROL"
    IEA_COUNT = "ENV-IEA-COUNT"
    GE_CONTROL = "ENV-GE-CONTROL"
    GE_COUNT = "ENV-GE-COUNT"
    SE_CONTROL = "ENV-SE-CONTROL"
    SE_COUNT = "ENV-SE-COUNT"
    MISSING_IEA = "ENV-MISSING-IEA"
    MISSING_GE = "ENV-MISSING-GE"
    MISSING_SE = "ENV-MISSING-SE"
    MISSING_ISA = "ENV-MISSING-ISA"
    MISSING_GS = "ENV-MISSING-GS"
    OUTSIDE_TRANSACTION = "ENV-OUTSIDE-TRANSACTION"
    UNSUPPORTED = "ENV-UNSUPPORTED-IMPLEMENTATION"
    ACKNOWLEDGMENT = "ENV-ACKNOWLEDGMENT"  # never answered: no ack storm with a partner
    VERSION_MISMATCH = "ENV-VERSION-MISMATCH"
    CLOSEST_LAYOUT = "ENV-CLOSEST-LAYOUT"


@attrs.frozen
class Acknowledged:
    """How an envelope finding is answered in the 999 (ASC X12C 005010X231A1): IK502 for a
    transaction set (X12 element 718), TA105 for the interchange (I18), AK905 for the
    functional group (716). Empty: not that way."""

    ik5: str = ""
    ta1: str = ""
    ak9: str = ""


#: How each envelope finding is acknowledged (the 999 and TA1 writers read this, nothing else).
ACKNOWLEDGED: dict[str, Acknowledged] = {
    EnvelopeRule.UNSUPPORTED: Acknowledged(ik5="1"),  # transaction set not supported
    EnvelopeRule.MISSING_SE: Acknowledged(ik5="2"),  # transaction set trailer missing
    EnvelopeRule.SE_CONTROL: Acknowledged(ik5="3"),  # control numbers in ST and SE differ
    EnvelopeRule.SE_COUNT: Acknowledged(ik5="4"),  # segment count does not match
    EnvelopeRule.IEA_CONTROL: Acknowledged(ta1="001"),  # control numbers in ISA and IEA differ
    EnvelopeRule.ISA_DATE: Acknowledged(ta1="014"),  # invalid interchange date value
    EnvelopeRule.ISA_TIME: Acknowledged(ta1="015"),  # invalid interchange time value
    EnvelopeRule.IEA_COUNT: Acknowledged(ta1="021"),  # invalid number of included groups
    EnvelopeRule.ISA_LENGTH: Acknowledged(ta1="022"),  # invalid control structure
    EnvelopeRule.MISSING_IEA: Acknowledged(ta1="023"),  # improper (premature) end-of-file
    EnvelopeRule.MISSING_GS: Acknowledged(ta1="024"),  # invalid interchange content
    EnvelopeRule.MISSING_GE: Acknowledged(ak9="3"),  # functional group trailer missing
    EnvelopeRule.GE_CONTROL: Acknowledged(ak9="4"),  # control numbers in GS and GE differ
    EnvelopeRule.GE_COUNT: Acknowledged(ak9="5"),  # number of transaction sets does not match
}

_SOURCE = "X12.5 interchange control structures; TR3 appendix B.1.1"

#: Transaction sets that acknowledge others: 997 and 999 (functional and implementation
#: acknowledgments, X12.6 and 005010X231A1) and the 277 claim acknowledgment (005010X214).
#: They are never acknowledged in turn (X231A1 section 1.4: no 999 for a 999 or a 997).
ACKNOWLEDGMENT_SETS = frozenset({"997", "999", "277"})


def _finding(
    rule: EnvelopeRule,
    severity: Severity,
    message: str,
    segment: Segment,
    scope: Scope,
    *,
    element: str = "",
    fix: str = "",
) -> Finding:
    return Finding.at(
        segment, rule, severity, message, element=element, fix=fix, source=_SOURCE, scope=scope
    )


def _trailer(
    segment: Segment,
    scope: Scope,
    *,
    header: str,
    control: str,
    count: int,
    counted: str,
    rules: tuple[EnvelopeRule, EnvelopeRule],
) -> list[Finding]:
    """Check a trailer (IEA, GE, SE): element 1 is a count, element 2 the header's control
    number. ``header`` names the header element, ``counted`` what element 1 counts."""
    trailer = segment.id
    out = []
    if segment.get(2) != control:
        out.append(
            _finding(
                rules[0],
                Severity.ERROR,
                f"{trailer}02 {segment.get(2)!r} does not match {header} {control!r}",
                segment,
                scope,
                element=f"{trailer}02",
                fix=f"use the same control number in {header} and {trailer}02",
            )
        )
    if _count(segment.get(1)) != count:
        out.append(
            _finding(
                rules[1],
                Severity.ERROR,
                f"{trailer}01 says {segment.get(1)!r} {counted}; there are {count}",
                segment,
                scope,
                element=f"{trailer}01",
                fix=f"set {trailer}01 to {count}",
            )
        )
    return out


def _count(value: str) -> int | None:
    return int(value) if is_digits(value) else None


class EnvelopeChecker:
    """Tracks the open envelopes of one stream and checks each envelope segment.

    It also numbers them: :attr:`scope` holds the stream ordinals of the open interchange,
    group and transaction set, and every finding it makes carries the scope of the container
    it is about (a missing SE belongs to the transaction set, a GE count to the group).
    """

    def __init__(
        self, implementations: Implementations, *, numbered: tuple[int, int, int] = (0, 0, 0)
    ) -> None:
        self._implementations = implementations
        self.interchange: Interchange | None = None
        self.group: Group | None = None
        self.transaction: Transaction | None = None
        self.scope = NO_SCOPE
        self._groups = 0  # groups seen in the open interchange
        self._acknowledgments = 0  # TA1 segments in the open interchange
        # Functional groups ended by the last segment checked, as (number, GS, transaction
        # sets it held): the reader takes them after each envelope segment.
        self._ended: list[tuple[int, Group, int]] = []
        self._transactions = 0  # transaction sets seen in the open group
        self._numbers = list(numbered)  # interchanges, groups, transaction sets numbered so far
        self._handlers: dict[str, Callable[[Segment], list[Finding]]] = {
            "ISA": self._isa,
            "IEA": self._iea,
            "GS": self._gs,
            "GE": self._ge,
            "ST": self._st,
            "SE": self._se,
        }

    @property
    def numbered(self) -> tuple[int, int, int]:
        """How many interchanges, groups and transaction sets have been numbered so far."""
        interchanges, groups, transactions = self._numbers
        return interchanges, groups, transactions

    def check(self, segment: Segment) -> list[Finding]:
        """Check an envelope segment (one of :data:`ENVELOPE_IDS`) and update the state."""
        return self._handlers[segment.id](segment)

    def take_ended(self) -> list[tuple[int, Group, int]]:
        """The functional groups ended since the last call: (number, GS, transaction sets)."""
        ended, self._ended = self._ended, []
        return ended

    def interchange_level(self, segment: Segment) -> None:
        """A segment allowed between ISA and GS (a TA1, which acknowledges an interchange)."""
        if segment.id == "TA1":
            self._acknowledgments += 1

    def outside(self, segment: Segment) -> list[Finding]:
        """A data segment that arrived while no transaction set was open."""
        return [
            _finding(
                EnvelopeRule.OUTSIDE_TRANSACTION,
                Severity.ERROR,
                f"{segment.id} segment outside a transaction set (ST ... SE) was ignored",
                segment,
                self.scope,
                fix="put every data segment between ST and SE",
            )
        ]

    def finish(self, end: Segment | None = None) -> list[Finding]:
        """Close what is still open at the end of the stream."""
        out: list[Finding] = []
        self._close_transaction(out, end, "the input ends")
        self._close_group(out, end, "the input ends")
        self._close_interchange(out, end, "the input ends")
        return out

    # -- open / close helpers -----------------------------------------------------------

    @staticmethod
    def _missing(
        out: list[Finding],
        rule: EnvelopeRule,
        what: str,
        *,
        why: str,
        at: Segment | None,
        position: Position,
        scope: Scope,
    ) -> None:
        """A container without its trailer; the finding sits at the container's header, so
        that it falls inside the container's byte range."""
        noticed = f" (noticed at {at.id}, line {at.line})" if at else ""
        out.append(
            Finding(
                rule=rule,
                severity=Severity.ERROR,
                message=f"{what} has no trailer: {why} before it is closed{noticed}",
                fix=f"end {what} with its trailer segment",
                source=_SOURCE,
                offset=position.offset,
                line_no=position.line,
                ordinal=position.ordinal,
                scope=scope,
            )
        )

    def _close_transaction(self, out: list[Finding], at: Segment | None, why: str) -> None:
        tx = self.transaction
        if tx is not None:
            what = f"transaction set {tx.control_number!r}"
            self._missing(
                out,
                EnvelopeRule.MISSING_SE,
                what,
                why=why,
                at=at,
                position=tx.position,
                scope=self.scope,
            )
            self._end_transaction()

    def _close_group(self, out: list[Finding], at: Segment | None, why: str) -> None:
        group = self.group
        if group is not None:
            what = f"functional group {group.control_number!r}"
            self._missing(
                out,
                EnvelopeRule.MISSING_GE,
                what,
                why=why,
                at=at,
                position=group.position,
                scope=self.scope,
            )
            self._end_group()

    def _close_interchange(self, out: list[Finding], at: Segment | None, why: str) -> None:
        isa = self.interchange
        if isa is not None:
            what = f"interchange {isa.control_number!r}"
            self._missing(
                out,
                EnvelopeRule.MISSING_IEA,
                what,
                why=why,
                at=at,
                position=isa.position,
                scope=self.scope,
            )
            self._end_interchange()

    def _end_transaction(self) -> None:
        self.transaction = None
        self.scope = self.scope._replace(transaction=0)

    def _end_group(self) -> None:
        if self.group is not None:
            self._ended.append((self.scope.group, self.group, self._transactions))
        self.group = None
        self.scope = self.scope._replace(group=0)

    def _end_interchange(self) -> None:
        self.interchange = None
        self.scope = NO_SCOPE

    def _open(self, level: int) -> Scope:
        """Number a new interchange (0), group (1) or transaction set (2); the open scope."""
        self._numbers[level] += 1
        number = self._numbers[level]
        if level == 0:
            self.scope = Scope(interchange=number)
        elif level == 1:
            self.scope = self.scope._replace(group=number)
        else:
            self.scope = self.scope._replace(transaction=number)
        return self.scope

    # -- segment handlers ----------------------------------------------------------------

    def _isa(self, segment: Segment) -> list[Finding]:
        out: list[Finding] = []
        self._close_transaction(out, segment, "a new interchange starts")
        self._close_group(out, segment, "a new interchange starts")
        self._close_interchange(out, segment, "a new interchange starts")
        scope = self._open(0)
        length = len(segment.text) + 1
        if length != ISA_LENGTH or len(segment.elements) != 17:
            out.append(
                _finding(
                    EnvelopeRule.ISA_LENGTH,
                    Severity.ERROR,
                    f"the ISA is {length} characters with {len(segment.elements) - 1} elements; "
                    f"it must be {ISA_LENGTH} characters with 16 fixed-width elements",
                    segment,
                    scope,
                    fix="pad every ISA element to its fixed width",
                )
            )
        date = parse_short_date(segment.get(9))
        if date is None:
            out.append(
                _finding(
                    EnvelopeRule.ISA_DATE,
                    Severity.ERROR,
                    "ISA09 is not a valid date (YYMMDD)",
                    segment,
                    scope,
                    element="ISA09",
                )
            )
        if len(segment.get(10)) != 4 or not is_time(segment.get(10)):
            out.append(
                _finding(
                    EnvelopeRule.ISA_TIME,
                    Severity.ERROR,
                    "ISA10 is not a valid time (HHMM)",
                    segment,
                    scope,
                    element="ISA10",
                )
            )
        self.interchange = Interchange(
            control_number=segment.get(13),
            sender_qualifier=segment.get(5),
            sender_id=segment.get(6).strip(),
            receiver_qualifier=segment.get(7),
            receiver_id=segment.get(8).strip(),
            date=date,
            time=segment.get(10),
            version=segment.get(12),
            acknowledgment_requested=segment.get(14),
            usage=segment.get(15),
            delimiters=segment.delimiters,
            position=Position.of(segment),
            segment=segment,
        )
        self._groups = 0
        self._acknowledgments = 0
        return out

    def _iea(self, segment: Segment) -> list[Finding]:
        out: list[Finding] = []
        self._close_transaction(out, segment, "IEA arrives")
        self._close_group(out, segment, "IEA arrives")
        isa = self.interchange
        if isa is None:
            out.append(
                _finding(
                    EnvelopeRule.MISSING_ISA,
                    Severity.ERROR,
                    "IEA without a matching ISA",
                    segment,
                    self.scope,
                )
            )
            return out
        out += _trailer(
            segment,
            self.scope,
            header="ISA13",
            control=isa.control_number,
            count=self._groups,
            counted="functional groups",
            rules=(EnvelopeRule.IEA_CONTROL, EnvelopeRule.IEA_COUNT),
        )
        if self._acknowledgments and not self._groups:
            out.append(
                _finding(
                    EnvelopeRule.ACKNOWLEDGMENT,
                    Severity.ERROR,
                    "an interchange of TA1 interchange acknowledgments, not claims; "
                    "acknowledgments are not acknowledged, so nothing is written back for it",
                    segment,
                    self.scope,
                    fix="send acknowledgments to the system that reconciles them, not here",
                )
            )
        self._end_interchange()
        return out

    def _gs(self, segment: Segment) -> list[Finding]:
        out: list[Finding] = []
        self._close_transaction(out, segment, "a new functional group starts")
        self._close_group(out, segment, "a new functional group starts")
        if self.interchange is None:
            out.append(
                _finding(
                    EnvelopeRule.MISSING_ISA,
                    Severity.ERROR,
                    "GS outside an interchange (no ISA before it)",
                    segment,
                    self.scope,
                )
            )
        scope = self._open(1)
        date = parse_date(segment.get(4))
        if date is None:
            out.append(
                _finding(
                    EnvelopeRule.GS_DATE,
                    Severity.ERROR,
                    "GS04 is not a valid date (CCYYMMDD)",
                    segment,
                    scope,
                    element="GS04",
                )
            )
        if not is_time(segment.get(5)):
            out.append(
                _finding(
                    EnvelopeRule.GS_TIME,
                    Severity.ERROR,
                    "GS05 is not a valid time (HHMM[SS[DD]])",
                    segment,
                    scope,
                    element="GS05",
                )
            )
        self.group = Group(
            control_number=segment.get(6),
            functional_id=segment.get(1),
            sender=segment.get(2).strip(),
            receiver=segment.get(3).strip(),
            date=date,
            time=segment.get(5),
            version=segment.get(8),
            position=Position.of(segment),
            segment=segment,
        )
        self._groups += 1
        self._transactions = 0
        return out

    def _ge(self, segment: Segment) -> list[Finding]:
        out: list[Finding] = []
        self._close_transaction(out, segment, "GE arrives")
        group = self.group
        if group is None:
            out.append(
                _finding(
                    EnvelopeRule.MISSING_GS,
                    Severity.ERROR,
                    "GE without a matching GS",
                    segment,
                    self.scope,
                )
            )
            return out
        out += _trailer(
            segment,
            self.scope,
            header="GS06",
            control=group.control_number,
            count=self._transactions,
            counted="transaction sets",
            rules=(EnvelopeRule.GE_CONTROL, EnvelopeRule.GE_COUNT),
        )
        self._end_group()
        return out

    def _st(self, segment: Segment) -> list[Finding]:
        out: list[Finding] = []
        self._close_transaction(out, segment, "a new transaction set starts")
        scope = self._open(2)  # what ST says is the new transaction set's own
        if self.group is None and self.interchange is not None:
            out.append(
                _finding(
                    EnvelopeRule.MISSING_GS,
                    Severity.ERROR,
                    "ST outside a functional group (no GS before it)",
                    segment,
                    scope,
                )
            )
        group_version = self.group.version if self.group else ""
        declared = segment.get(3)
        version = declared or group_version
        if declared and group_version and declared != group_version:
            out.append(
                _finding(
                    EnvelopeRule.VERSION_MISMATCH,
                    Severity.WARNING,
                    f"ST03 {declared!r} differs from GS08 {group_version!r}; read as {declared}",
                    segment,
                    scope,
                    element="ST03",
                    fix="send the same implementation in GS08 and ST03",
                )
            )
        kind = self._route(segment, version, scope, out)
        self.transaction = Transaction(
            set_id=segment.get(1),
            control_number=segment.get(2),
            implementation=version,
            kind=kind,
            position=Position.of(segment),
        )
        self._transactions += 1
        return out

    def _route(
        self, segment: Segment, version: str, scope: Scope, out: list[Finding]
    ) -> ClaimKind | None:
        set_id = segment.get(1)
        if set_id in ACKNOWLEDGMENT_SETS:
            out.append(
                _finding(
                    EnvelopeRule.ACKNOWLEDGMENT,
                    Severity.ERROR,
                    f"transaction set {set_id} is an acknowledgment, not claims; acknowledgments "
                    "are not acknowledged, so no 999 or 277CA is written for it",
                    segment,
                    scope,
                    element="ST01",
                    fix="send acknowledgments to the system that reconciles them, not here",
                )
            )
            return None
        entry = self._implementations.lookup(version)
        if set_id != "837" or entry is None or not entry.supported:
            if set_id != "837":
                what = f"transaction set {set_id!r} is not an 837 claim"
            elif entry is None:
                what = f"implementation {version!r} is not one this tool reads"
            else:
                what = f"{entry.name} ({version}) is not supported: {entry.note}"
            out.append(
                _finding(
                    EnvelopeRule.UNSUPPORTED,
                    Severity.ERROR,
                    f"{what}; the transaction set was skipped",
                    segment,
                    scope,
                    element="ST03",
                    fix="send 837P as 005010X222A1 or 837I as 005010X223A2",
                )
            )
            return None
        if entry.validate_as != entry.version:
            out.append(
                _finding(
                    EnvelopeRule.CLOSEST_LAYOUT,
                    Severity.INFO,
                    f"{entry.name} ({version}) is read with the {entry.validate_as} layout: "
                    f"{entry.note}",
                    segment,
                    scope,
                    element="ST03",
                )
            )
        return _KINDS[entry.kind]

    def _se(self, segment: Segment) -> list[Finding]:
        out: list[Finding] = []
        tx = self.transaction
        if tx is None:
            out.append(
                _finding(
                    EnvelopeRule.MISSING_SE,
                    Severity.ERROR,
                    "SE without a matching ST",
                    segment,
                    self.scope,
                )
            )
            return out
        # The tokenizer numbers segments within ST..SE, so SE's ordinal is the true count.
        out += _trailer(
            segment,
            self.scope,
            header="ST02",
            control=tx.control_number,
            count=segment.ordinal,
            counted="segments (ST and SE included)",
            rules=(EnvelopeRule.SE_CONTROL, EnvelopeRule.SE_COUNT),
        )
        self._end_transaction()
        return out
