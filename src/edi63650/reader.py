"""The reading pipeline: tokenizer, envelope checks and claim builder, sans-IO.

:class:`Reader` takes bytes and returns :class:`~edi63650.model.Claim` and
:class:`~edi63650.findings.Finding` values in stream order. :func:`iter_events` and
:func:`iter_claims` wrap it around a binary stream, reading fixed-size chunks so memory is
bounded by one claim and its header context, never by the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from edi63650.builder import TransactionBuilder
from edi63650.envelope import ENVELOPE_IDS, EnvelopeChecker
from edi63650.findings import Finding
from edi63650.maps import Implementations
from edi63650.model import Claim
from edi63650.tokenizer import Token, Tokenizer

Event = Claim | Finding

#: Bytes read from a stream at a time.
CHUNK_SIZE = 1 << 16

#: Segments allowed between ISA and GS besides the envelopes (X12.5: TA1 rides in the interchange).
_INTERCHANGE_LEVEL = frozenset({"TA1"})


class Reader:
    """Bytes in, claims and findings out. One reader per stream; not shared between threads."""

    def __init__(self, implementations: Implementations | None = None) -> None:
        self._tokenizer = Tokenizer()
        self._envelope = EnvelopeChecker(implementations or Implementations.load())
        self._builder: TransactionBuilder | None = None

    def feed(self, data: bytes) -> list[Event]:
        """Take the next chunk of the stream; return the claims and findings it completed."""
        out: list[Event] = []
        self._process(self._tokenizer.feed(data), out)
        return out

    def close(self) -> list[Event]:
        """End of the stream: return the rest, including findings about unclosed envelopes."""
        out: list[Event] = []
        self._process(self._tokenizer.close(), out)
        if self._builder is not None:
            out.extend(self._builder.finish())
            self._builder = None
        out.extend(self._envelope.finish())
        return out

    def _process(self, tokens: list[Token], out: list[Event]) -> None:
        envelope = self._envelope
        builder = self._builder
        for token in tokens:
            if isinstance(token, Finding):
                out.append(token)
                continue
            sid = token.id
            if sid in ENVELOPE_IDS:
                if builder is not None:
                    out.extend(builder.finish())
                    builder = None
                out.extend(envelope.check(token))
                transaction = envelope.transaction
                if sid == "ST" and transaction is not None and transaction.kind is not None:
                    builder = TransactionBuilder(
                        transaction.kind, transaction, envelope.interchange, envelope.group
                    )
            elif builder is not None:
                done = builder.add(token)
                if done:
                    out.extend(done)
            elif envelope.transaction is None and sid not in _INTERCHANGE_LEVEL:
                out.extend(envelope.outside(token))
            # else: a segment of a transaction set that is not read (already reported at ST)
        self._builder = builder


def iter_events(
    stream: BinaryIO,
    *,
    implementations: Implementations | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Event]:
    """Claims and findings from a binary stream, as each claim completes."""
    reader = Reader(implementations)
    while chunk := stream.read(chunk_size):
        yield from reader.feed(chunk)
    yield from reader.close()


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
    return reader.feed(data) + reader.close()
