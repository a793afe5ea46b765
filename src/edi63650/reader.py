"""The reading pipeline: tokenizer, envelope checks and claim builder, sans-IO.

:class:`Reader` takes bytes and returns :class:`~edi63650.model.Claim` and
:class:`~edi63650.findings.Finding` values in stream order. :func:`iter_events` and
:func:`iter_claims` wrap it around a binary stream, reading fixed-size chunks so memory is
bounded by one claim and its header context, never by the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import attrs

from edi63650.builder import TransactionBuilder
from edi63650.envelope import ENVELOPE_IDS, EnvelopeChecker
from edi63650.errors import binary_stream
from edi63650.findings import NO_SCOPE, Finding, Scope
from edi63650.maps import Implementations
from edi63650.model import Claim, Group, Interchange, Transaction
from edi63650.segment import Segment
from edi63650.structure import Structure, TransactionCheck
from edi63650.tokenizer import Token, Tokenizer

Event = Claim | Finding

#: Bytes read from a stream at a time.
CHUNK_SIZE = 1 << 16

#: Segments that open a container: a finding about one belongs to what it opens.
_HEADERS = frozenset({"ISA", "GS", "ST"})

#: Segments allowed between ISA and GS besides the envelopes (X12.5: TA1 rides in the interchange).
_INTERCHANGE_LEVEL = frozenset({"TA1"})


@attrs.frozen
class TransactionEnd:
    """A transaction set closed (at SE, or where its missing SE was noticed).

    Emitted only by ``Reader(boundaries=True)``; ``end`` is the offset of the segment that
    closed it (its SE, or the last byte before the segment that noticed SE was missing);
    ``scope`` numbers it, as it numbers the findings that belong to it.
    """

    transaction: Transaction
    group: Group | None
    interchange: Interchange | None
    end: int
    scope: Scope


@attrs.frozen
class GroupEnd:
    """A functional group closed (at GE, or where its missing GE was noticed);
    ``boundaries=True``. ``number`` is its ordinal in the stream (its findings'
    ``scope.group``); ``transactions`` counts the sets it held."""

    group: Group
    interchange: Interchange | None
    number: int
    transactions: int


@attrs.frozen
class InterchangeEnd:
    """An interchange closed (at IEA, a new ISA or the end of input); ``boundaries=True``.
    ``number`` is its ordinal in the stream (its findings' ``scope.interchange``)."""

    interchange: Interchange
    end: int
    number: int


@attrs.frozen
class InterchangeStart:
    """An interchange opened at its ISA (``boundaries=True``): where it starts, and the stream
    ordinals (interchanges, groups, transaction sets) numbered before it. A reader made with
    these as its ``start`` reads the interchange again exactly as the first time."""

    number: int
    offset: int
    line: int
    numbered: tuple[int, int, int]


Boundary = TransactionEnd | GroupEnd | InterchangeEnd | InterchangeStart

#: What :meth:`Reader.feed` returns: events, boundaries and (with ``segments=True``) segments.
Item = Event | Boundary | Segment


class Reader:
    """Bytes in, claims and findings out. One reader per stream; not shared between threads.

    With ``boundaries=True`` the events also include :class:`TransactionEnd`,
    :class:`GroupEnd` and :class:`InterchangeEnd`, which acknowledgments and reports need;
    claims and findings come out the same either way.

    With a :class:`~edi63650.structure.Structure`, every transaction set is also checked
    against its implementation guide; the findings carry their 999 codes and come out in
    stream order, a claim's own before the claim.

    With ``claims=False`` (and a structure) the reader checks syntax only (SNIP 1 and 2:
    tokenizer, envelopes, implementation guide) and builds no claims. Clean segments then take
    the structure's fast lane straight from the tokenizer's cut, without being made into
    segments; the findings are the same as with claims.

    With ``segments=True`` every segment is returned too, in stream order: a trailer before
    the end of its container, a segment that closed a container missing its trailer after it
    (a report that shows the file segment by segment reads them in the same pass).

    ``start`` resumes a stream at an interchange already read once: the
    :class:`InterchangeStart` of that first reading, the bytes to feed beginning at its offset.
    """

    def __init__(
        self,
        implementations: Implementations | None = None,
        *,
        boundaries: bool = False,
        structure: Structure | None = None,
        claims: bool = True,
        segments: bool = False,
        start: InterchangeStart | None = None,
    ) -> None:
        self._claims = claims
        self._segments = segments
        lane = self._lane if structure is not None and not claims else None
        if start is None:
            self._tokenizer = Tokenizer(lane=lane)
        else:
            self._tokenizer = Tokenizer(lane=lane, offset=start.offset, line=start.line)
        self._implementations = implementations or Implementations.load()
        self._envelope = EnvelopeChecker(
            self._implementations, numbered=start.numbered if start is not None else (0, 0, 0)
        )
        self._structure = structure
        self._check: TransactionCheck | None = None
        self._builder: TransactionBuilder | None = None
        self._boundaries = boundaries
        self._offset = 0  # of the last segment seen, for boundaries closed at end of input
        self._out: list[Item] = []  # what feed or close is returning (for the lane)

    def feed(self, data: bytes) -> list[Item]:
        """Take the next chunk of the stream; return the claims and findings it completed."""
        out: list[Item] = []
        self._out = out
        self._process(self._tokenizer.feed(data), out)
        return out

    def close(self) -> list[Item]:
        """End of the stream: return the rest, including findings about unclosed envelopes."""
        out: list[Item] = []
        self._out = out
        self._process(self._tokenizer.close(), out)
        self._offset = max(self._offset, self._tokenizer.lane_offset)
        if self._builder is not None:
            out.extend(self._builder.finish())
            self._builder = None
        self._check = None
        envelope = self._envelope
        open_transaction, open_group, open_interchange = (
            envelope.transaction,
            envelope.group,
            envelope.interchange,
        )
        scope = envelope.scope
        out.extend(envelope.finish())
        if self._boundaries:
            if open_transaction is not None:
                out.append(
                    TransactionEnd(
                        open_transaction, open_group, open_interchange, self._offset, scope
                    )
                )
            self._group_ends(open_interchange, out)
            if open_interchange is not None:
                out.append(InterchangeEnd(open_interchange, self._offset, scope.interchange))
        return out

    def _process(self, tokens: list[Token], out: list[Item]) -> None:
        envelope = self._envelope
        builder = self._builder
        check = self._check
        framing: list[int] = []  # where framing findings since the last segment went in out
        texts: list[str] | None = None  # for the structure's lane, made when first needed
        clean_until = 0  # the tokens before this one the lane took as clean
        for index, token in enumerate(tokens):
            if isinstance(token, Finding):
                # Framing findings take the scope of what is open where they were found...
                scope = envelope.scope
                out.append(token if scope is NO_SCOPE else attrs.evolve(token, scope=scope))
                framing.append(len(out) - 1)
                continue
            sid = token.id
            if framing:
                if sid in _HEADERS:
                    # ... or, about a header segment, that of what the header opens.
                    self._rescope(out, framing, token)
                framing = []
            if sid in ENVELOPE_IDS:
                after: list[Finding] = []
                if check is not None:
                    if sid == "SE":
                        closing, after = check.feed(token)
                        out.extend(closing)
                    check = None
                if builder is not None:
                    out.extend(builder.finish())
                    builder = None
                out.extend(after)
                before = (envelope.transaction, envelope.group, envelope.interchange)
                scope = envelope.scope
                out.extend(envelope.check(token))
                if self._boundaries:
                    self._close_boundaries(before, scope, token, out)
                else:
                    envelope.take_ended()  # (only boundaries report them)
                    if self._segments:
                        out.append(token)
                transaction = envelope.transaction
                if sid == "ST" and transaction is not None and transaction.kind is not None:
                    if self._claims:
                        builder = TransactionBuilder(
                            transaction.kind,
                            transaction,
                            envelope.interchange,
                            envelope.group,
                            envelope.scope,
                        )
                    if self._structure is not None:
                        entry = self._implementations.lookup(transaction.implementation)
                        check, found = self._structure.begin(token, entry, envelope.scope)
                        out.extend(found)
            elif check is not None:
                if index >= clean_until:  # the lane takes the clean ones of a run in one call
                    if texts is None:
                        texts = _texts(tokens)
                    clean_until = index + check.run(texts, index)
                if index < clean_until:  # clean: no findings
                    if builder is not None:
                        out.extend(builder.add(token))
                    if self._segments:
                        out.append(token)
                    continue
                # A claim's structural findings come before the claim, the next one's after.
                closing, after = check.feed(token)
                out.extend(closing)
                if builder is not None:
                    out.extend(builder.add(token))
                out.extend(after)
                if self._segments:
                    out.append(token)
            else:
                if builder is not None:
                    out.extend(builder.add(token))
                elif envelope.transaction is None and sid in _INTERCHANGE_LEVEL:
                    envelope.interchange_level(token)
                elif envelope.transaction is None:
                    out.extend(envelope.outside(token))
                # else: a segment of a transaction set that is not read (reported at ST)
                if self._segments:
                    out.append(token)
        for token in reversed(tokens):  # the last segment (findings may follow it)
            if isinstance(token, Segment):
                self._offset = token.offset
                break
        self._builder = builder
        self._check = check

    def _rescope(self, out: list[Item], framing: list[int], header: Segment) -> None:
        """Give the framing findings about ``header`` (one that opens an interchange, group or
        transaction set) the scope of what it opens: the numbers it will get."""
        interchanges, groups, transactions = self._envelope.numbered
        scope = self._envelope.scope
        if header.id == "ISA":
            scope = Scope(interchange=interchanges + 1)
        elif header.id == "GS":
            scope = scope._replace(group=groups + 1, transaction=0)
        else:
            scope = scope._replace(transaction=transactions + 1)
        for index in framing:
            finding = out[index]
            if isinstance(finding, Finding) and finding.offset == header.offset:
                out[index] = attrs.evolve(finding, scope=scope)

    def _lane(self, tokens: list[Token], parts: list[str], index: int) -> int:
        """The tokenizer's :data:`~edi63650.tokenizer.Lane` in a structure-only read: read the
        tokens cut so far, then let the transaction set's check take clean segment texts."""
        self._process(tokens, self._out)
        tokens.clear()
        check = self._check
        return check.run(parts, index) if check is not None else 0

    def _close_boundaries(
        self,
        before: tuple[Transaction | None, Group | None, Interchange | None],
        scope: Scope,
        segment: Segment,
        out: list[Item],
    ) -> None:
        """Emit the ends of the containers ``segment`` closed (``scope`` numbers what was open
        before it). A trailer (SE, IEA) is part of its container; a segment that closed one
        whose trailer is missing is not."""
        transaction, group, interchange = before
        envelope = self._envelope
        sid = segment.id
        shown = not self._segments  # the segment itself, when segments are returned
        if transaction is not None and envelope.transaction is not transaction:
            if sid == "SE" and not shown:
                out.append(segment)
                shown = True
            end = segment.offset if sid == "SE" else segment.offset - 1
            out.append(TransactionEnd(transaction, group, interchange, end, scope))
        self._group_ends(interchange, out)
        if interchange is not None and envelope.interchange is not interchange:
            if sid == "IEA" and not shown:
                out.append(segment)
                shown = True
            end = segment.offset if sid == "IEA" else segment.offset - 1
            out.append(InterchangeEnd(interchange, end, scope.interchange))
        if sid == "ISA" and envelope.interchange is not None:
            interchanges, groups, transactions = envelope.numbered
            out.append(
                InterchangeStart(
                    interchanges,
                    segment.offset,
                    segment.line,
                    (interchanges - 1, groups, transactions),
                )
            )
        if not shown:
            out.append(segment)

    def _group_ends(self, interchange: Interchange | None, out: list[Item]) -> None:
        for number, group, transactions in self._envelope.take_ended():
            out.append(GroupEnd(group, interchange, number, transactions))


def _texts(tokens: list[Token]) -> list[str]:
    """The tokens' segment texts for the structure's lane, ``""`` for a finding: the lane stops
    there (no segment id is empty), as it does at an envelope segment (never the lane's)."""
    return [token.text if isinstance(token, Segment) else "" for token in tokens]


def iter_events(
    stream: BinaryIO,
    *,
    implementations: Implementations | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Event]:
    """Claims and findings from a binary stream, as each claim completes."""
    binary_stream(stream, "iter_claims() and iter_events()")
    reader = Reader(implementations)
    while chunk := stream.read(chunk_size):
        yield from _events(reader.feed(chunk))
    yield from _events(reader.close())


def iter_claims(
    stream: BinaryIO, *, implementations: Implementations | None = None
) -> Iterator[Claim]:
    """Only the claims from a binary stream; use :func:`iter_events` to see findings too."""
    for event in iter_events(stream, implementations=implementations):
        if isinstance(event, Claim):
            yield event


def read_bytes(data: bytes, *, implementations: Implementations | None = None) -> list[Event]:
    """Every claim and finding of an in-memory file, in order."""
    reader = Reader(implementations)
    return list(_events(reader.feed(data) + reader.close()))


def _events(items: list[Item]) -> Iterator[Event]:
    """Claims and findings only (a reader made without boundaries emits nothing else)."""
    for item in items:
        if isinstance(item, Claim | Finding):
            yield item
