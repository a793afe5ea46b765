"""What every writer is: a sink fed the core's outcomes in one pass, and a spool to hold what
must wait (a total that goes before the body, an interchange not yet ended).

A sink takes, in stream order, the segments (only a report that shows the file asks for them),
each :class:`~edi63650.outcome.TransactionOutcome`, each
:class:`~edi63650.outcome.GroupOutcome`, each
:class:`~edi63650.outcome.InterchangeOutcome` and, last, the
:class:`~edi63650.outcome.StreamOutcome`; it writes to the binary file it was given. What
belongs to the open interchange stays provisional until that interchange ends: if it is then
rejected after its sets were written out (``retracts``), the sink is told to :meth:`discard`
them and is fed the interchange again, as finally decided.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from typing import Protocol

from edi63650.outcome import GroupOutcome, InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.segment import Segment

#: Bytes a spool keeps in memory before it moves to a temporary (unnamed, owner-only) file.
SPOOL_MEMORY = 1 << 20

#: Bytes copied at a time from a spool.
_COPY = 1 << 16


class Writable(Protocol):
    """Where a sink writes: a binary file, a spool."""

    def write(self, data: bytes, /) -> object: ...


class Sink:
    """A writer fed outcomes; every method may be left as it is."""

    #: Whether the sink needs every segment (``segment`` is called only then).
    wants_segments = False

    def segment(self, segment: Segment) -> None:
        """A segment of the input, in order (only when :attr:`wants_segments`)."""

    def transaction(self, outcome: TransactionOutcome) -> None:
        """A transaction set ended."""

    def group(self, outcome: GroupOutcome) -> None:
        """A functional group ended (its sets came before)."""

    def interchange(self, outcome: InterchangeOutcome) -> None:
        """An interchange ended: what was provisional about it is final now."""

    def discard(self) -> None:
        """Forget what the open interchange has written: it comes again, as decided."""

    def close(self, outcome: StreamOutcome) -> None:
        """The input ended: write what is left (then :meth:`dispose`)."""

    def dispose(self) -> None:
        """Let go of temporary storage (also when the pass failed); may be called again."""


class Fanout(Sink):
    """Several sinks fed as one."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = tuple(sinks)
        self._readers = tuple(s for s in self.sinks if s.wants_segments)
        self.wants_segments = bool(self._readers)

    def segment(self, segment: Segment) -> None:
        for sink in self._readers:
            sink.segment(segment)

    def transaction(self, outcome: TransactionOutcome) -> None:
        for sink in self.sinks:
            sink.transaction(outcome)

    def group(self, outcome: GroupOutcome) -> None:
        for sink in self.sinks:
            sink.group(outcome)

    def interchange(self, outcome: InterchangeOutcome) -> None:
        for sink in self.sinks:
            sink.interchange(outcome)

    def discard(self) -> None:
        for sink in self.sinks:
            sink.discard()

    def close(self, outcome: StreamOutcome) -> None:
        for sink in self.sinks:
            sink.close(outcome)

    def dispose(self) -> None:
        for sink in self.sinks:
            sink.dispose()


class Spool:
    """Bytes written now and copied out later, in memory up to :data:`SPOOL_MEMORY` and in a
    temporary file beyond; :meth:`truncate` takes back what came after a point."""

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY, mode="w+b")  # noqa: SIM115 - closed by close()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self.size += len(data)

    def write_all(self, parts: Iterable[bytes]) -> None:
        for part in parts:
            self.write(part)

    def truncate(self, size: int) -> None:
        self._file.seek(size)
        self._file.truncate()
        self.size = size

    def copy(self, out: Writable, start: int = 0, end: int | None = None) -> None:
        """Write bytes ``start`` to ``end`` (the end of the spool when None) to ``out``."""
        end = self.size if end is None else end
        self._file.seek(start)
        left = end - start
        while left > 0:
            chunk = self._file.read(min(_COPY, left))
            if not chunk:
                break
            out.write(chunk)
            left -= len(chunk)
        self._file.seek(self.size)

    def read(self, start: int, end: int) -> bytes:
        self._file.seek(start)
        data = self._file.read(end - start)
        self._file.seek(self.size)
        return data

    def close(self) -> None:
        self._file.close()
