"""What the writers share: totals, safe text, reply envelopes, element positions."""

from __future__ import annotations

import contextlib
import datetime
import re
import unicodedata
from collections.abc import Iterable
from decimal import Decimal

import attrs

from edi63650.findings import Finding, Severity
from edi63650.model import Group, Interchange
from edi63650.outcome import TransactionOutcome
from edi63650.rules.engine import ClaimResult
from edi63650.writers import x12
from edi63650.writers.numbers import ControlNumbers
from edi63650.writers.sink import Spool, Writable
from edi63650.writers.x12 import Elements

WARNING = Severity.WARNING
_UNSAFE = re.compile(r"[\x00-\x1f\x7f*~:^|>\\{}']")
#: Characters an echoed identifier escapes besides controls and non-ASCII: the delimiters of
#: any interchange we write, and ``%``, the escape itself.
_ID_ESCAPED = frozenset("*~:^|>\\{}'%")
_ELEMENT = re.compile(r"(\d{2})(?:-(\d{2}))?$")


@attrs.define
class Tally:
    """Claims counted as they pass: accepted (and of those, with warnings) and rejected, with
    their charges. Copy it with :meth:`copy` to go back to a point (:meth:`Sink.discard`)."""

    accepted: int = 0
    rejected: int = 0
    warned: int = 0
    accepted_amount: Decimal = Decimal(0)
    rejected_amount: Decimal = Decimal(0)

    @property
    def claims(self) -> int:
        return self.accepted + self.rejected

    def add(self, result: ClaimResult) -> None:
        charge = result.claim.total_charge or Decimal(0)
        if result.accepted:
            self.accepted += 1
            self.accepted_amount += charge
            if any(f.severity is WARNING for f in result.findings):
                self.warned += 1
        else:
            self.rejected += 1
            self.rejected_amount += charge

    def add_all(self, results: Iterable[ClaimResult]) -> Tally:
        for result in results:
            self.add(result)
        return self

    def merge(self, other: Tally) -> None:
        """Count ``other``'s claims too (the total over several inputs)."""
        self.accepted += other.accepted
        self.rejected += other.rejected
        self.warned += other.warned
        self.accepted_amount += other.accepted_amount
        self.rejected_amount += other.rejected_amount

    def copy(self) -> Tally:
        return attrs.evolve(self)


def ascii_only(text: str) -> str:
    """``text`` in the X12 basic and extended character sets (X12.6 section 3.3: printable
    ASCII): letters with accents lose them (``MUÑOZ`` becomes ``MUNOZ``), other characters
    outside the sets are dropped."""
    if text.isascii():
        return text
    # UTF-8 bytes read as Latin-1 (as the reader decodes): ``MUÃ\x91OZ`` is ``MUÑOZ``.
    with contextlib.suppress(UnicodeError):
        text = text.encode("latin-1").decode("utf-8")
    plain = unicodedata.normalize("NFKD", text)
    return "".join(c for c in plain if c.isascii())


def clean(text: str, limit: int = 264) -> str:
    """Text safe inside one element of any interchange we write: in the X12 character sets,
    no delimiter of any common kind, no control characters, single spaces, at most ``limit``
    characters."""
    return " ".join(_UNSAFE.sub(" ", ascii_only(text)).split())[:limit].strip()


def echo_id(text: str, limit: int = 50) -> str:
    """An identifier of the input (CLM01, a line's control number) echoed so that it stays
    itself: as it is when every character may appear in an element we write; otherwise each
    character that may not (a delimiter, ``%``, a control or non-ASCII character, a leading
    or trailing space) as ``%XX``, its UTF-8 bytes in hexadecimal, as in a URL. Reversible,
    so two ids never collapse into one; at most ``limit`` characters, cut between characters
    (never inside an escape)."""
    if (
        text.isascii()
        and text.isprintable()
        and _ID_ESCAPED.isdisjoint(text)
        and text[:1] != " "
        and text[-1:] != " "
    ):
        return text[:limit]
    last = len(text) - 1
    out, size = [], 0
    for index, char in enumerate(text):
        plain = " " <= char <= "~" and char not in _ID_ESCAPED
        piece = (
            char
            if plain and not (char == " " and index in (0, last))
            else "".join(f"%{byte:02X}" for byte in char.encode())
        )
        if size + len(piece) > limit:
            break  # cut between characters, never inside an escape
        out.append(piece)
        size += len(piece)
    return "".join(out)


def reply_envelope(
    isa: Interchange | None,
    group: Group | None,
    when: datetime.datetime,
    control_number: int,
    *,
    functional_id: str,
    version: str,
) -> x12.Envelope:
    """The answer goes back the way the 837 came: sender and receiver swap."""

    def party(
        qualifier: str | None, identifier: str | None, application: str | None, fallback: str
    ) -> x12.Party:
        code = clean(application or "", 15)  # GS02/GS03: elements 142 and 124, 2 to 15
        return x12.Party(
            qualifier if qualifier in x12.ID_QUALIFIERS else "ZZ",
            clean(identifier or "", 15) or fallback,
            code if len(code) >= 2 else fallback,
        )

    return x12.Envelope(
        sender=party(
            isa.receiver_qualifier if isa else None,
            isa.receiver_id if isa else None,
            group.receiver if group else None,
            "EDI63650",
        ),
        receiver=party(
            isa.sender_qualifier if isa else None,
            isa.sender_id if isa else None,
            group.sender if group else None,
            "SUBMITTER",
        ),
        control_number=control_number % 1_000_000_000,
        functional_id=functional_id,
        version=version,
        created=when,
        usage=isa.usage if isa and isa.usage in ("P", "T") else "P",
    )


def element_position(finding: Finding) -> tuple[int, int | None] | None:
    """(element, component) named by a finding's ``element`` such as ``SV101-02``."""
    if not finding.element or not finding.segment_id:
        return None
    match = _ELEMENT.match(finding.element.removeprefix(finding.segment_id))
    if match is None:
        return None
    return int(match[1]), int(match[2]) if match[2] else None


def split_segment(finding: Finding) -> list[str]:
    """The raw segment of a finding split into elements (its separator follows the id)."""
    text, sid = finding.segment, finding.segment_id
    if not text or not sid or len(text) <= len(sid):
        return []
    return text.split(text[len(sid)])


class Replies:
    """Reply interchanges (277CA, 999), one per input interchange that held transaction sets,
    each written when its interchange ends, with the next of ``numbers`` as its control
    number. Until then, its transaction sets wait in a spool, rendered with their ST and SE
    (which need only the set's place and segment count), so that nothing is kept per set."""

    def __init__(
        self,
        out: Writable,
        when: datetime.datetime,
        numbers: ControlNumbers,
        *,
        functional_id: str,
        version: str,
    ) -> None:
        self._out = out
        self._when = when
        self._numbers = numbers
        self._functional_id = functional_id
        self._version = version
        self._spool = Spool()  # the open interchange's transaction sets, rendered
        self._headers: tuple[Interchange | None, Group | None] | None = None
        self._sets = 0  # in the spool

    def first(self, outcome: TransactionOutcome) -> None:
        """A transaction set of the open interchange (the first gives the envelope)."""
        self.first_headers(outcome.interchange, outcome.group)

    def first_headers(self, isa: Interchange | None, group: Group | None) -> None:
        """The envelope headers of the open interchange, unless known already."""
        if self._headers is None:
            self._headers = (isa, group)

    def body(self, segments: list[Elements]) -> None:
        """One reply transaction set, without ST and SE."""
        self.body_text(x12.render(segments, line_break="\n"), len(segments))

    def body_text(self, text: str, count: int) -> None:
        """One reply transaction set already rendered: ``count`` segments."""
        st, se = self._ends(count)
        self._spool.write((st + text + se).encode("latin-1"))

    def body_around(
        self, head: str, blocks: Spool, tail: str, count: int, *, start: int, end: int
    ) -> None:
        """One reply transaction set of ``count`` segments: ``head``, the bytes ``start`` to
        ``end`` of ``blocks`` (copied a piece at a time, never held whole: a group may hold
        any number of sets) and ``tail``, all rendered."""
        st, se = self._ends(count)
        spool = self._spool
        spool.write((st + head).encode("latin-1"))
        blocks.copy(spool, start, end)
        spool.write((tail + se).encode("latin-1"))

    def _ends(self, count: int) -> tuple[str, str]:
        self._sets += 1
        return x12.transaction_ends(self._functional_id, self._version, self._sets, count)

    def commit(self, ta1: Elements | None = None) -> None:
        """The open interchange ended: write its reply, if it held transaction sets."""
        if self._headers is not None and self._sets:
            isa, group = self._headers
            envelope = self._envelope(isa, group)
            out = self._out
            out.write(x12.head(envelope, ta1=ta1).encode("latin-1"))
            self._spool.copy(out)
            out.write(x12.tail(envelope, self._sets).encode("latin-1"))
        self.discard()

    def commit_alone(self, isa: Interchange | None, ta1: Elements) -> None:
        """The open interchange ended and is answered by a TA1 alone (ISA, TA1, IEA with no
        functional group), whether or not it held transaction sets."""
        envelope = self._envelope(isa, None)
        self._out.write(x12.ta1_interchange(envelope, ta1).encode("latin-1"))
        self.discard()

    def discard(self) -> None:
        """Forget the open interchange's transaction sets."""
        self._spool.truncate(0)
        self._headers, self._sets = None, 0

    def close(self) -> None:
        self.dispose()

    def _envelope(self, isa: Interchange | None, group: Group | None) -> x12.Envelope:
        return reply_envelope(
            isa,
            group,
            self._when,
            self._numbers.take(),
            functional_id=self._functional_id,
            version=self._version,
        )

    def dispose(self) -> None:
        self._spool.close()
