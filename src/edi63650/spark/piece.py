"""What one task reads: a :class:`Piece` of a file, and :class:`PieceStream`, its bytes as a
stream of their own. No pyspark here.

A piece is a byte range of a file. A piece cut between the transaction sets of one
interchange (:mod:`edi63650.spark.cuts`) is also given the envelope around them: the
interchange's ISA and GS, copied in front (``head``, unless the piece starts with them), and a
GE and IEA written for its own transaction sets behind (``tail``), so that it reads as a whole
interchange. The validator's offsets are those of that stream; :meth:`Piece.offset` turns them
into the file's, and :meth:`Piece.reports` says which findings outside transaction sets are
this piece's to report (those about bytes it does not own are another piece's, or were
checked on the driver).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import attrs

from edi63650.findings import Finding
from edi63650.spark.storage import Readable

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer


@attrs.frozen
class Piece:
    """Bytes ``start`` to ``end`` of the file ``path`` (``end`` None: to the end of the file),
    read after ``head`` (a copy of the file's bytes from ``head_at``) and before ``tail``."""

    path: str
    start: int = 0
    end: int | None = None
    head: bytes = b""
    head_at: int = 0
    tail: bytes = b""

    @property
    def spliced(self) -> bool:
        """Whether the piece reads an envelope around its bytes (it was cut inside one)."""
        return bool(self.head or self.tail)

    def offset(self, at: int) -> int:
        """The file's offset of the piece's stream offset ``at``."""
        if at < len(self.head):
            return self.head_at + at
        at = self.start + at - len(self.head)
        return at if self.end is None else min(at, self.end)

    def owns(self, at: int) -> bool:
        """Whether stream offset ``at`` is in the file's bytes this piece reads (not in its
        copied head or written tail)."""
        at -= len(self.head)
        return at >= 0 and (self.end is None or at < self.end - self.start)

    def reports(self, finding: Finding) -> bool:
        """Whether this piece reports ``finding``: every finding of a transaction set, and,
        outside them, those about the bytes it owns (a finding without an offset by the
        piece that starts the interchange)."""
        if not self.spliced or finding.scope.transaction:
            return True
        if finding.offset is None:
            return not self.head
        return self.owns(finding.offset)


class PieceStream(io.RawIOBase):
    """A piece's bytes as a stream: its head, bytes ``start`` to ``end`` of ``file`` (a
    seekable binary file), then its tail. Offset 0 is the head's first byte."""

    def __init__(self, file: Readable, piece: Piece) -> None:
        super().__init__()
        if piece.tail and piece.end is None:
            raise ValueError("a piece with a tail ends where the tail goes")
        self._file = file
        self._piece = piece
        self._at = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._at

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            offset += self._at
        elif whence == io.SEEK_END:
            offset += len(self._piece.head) + self._length() + len(self._piece.tail)
        self._at = max(0, offset)
        return self._at

    def _length(self) -> int:
        """How many of the file's bytes the piece reads."""
        piece = self._piece
        if piece.end is not None:
            return piece.end - piece.start
        return max(0, self._file.seek(0, io.SEEK_END) - piece.start)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        piece = self._piece
        head = len(piece.head)
        if self._at < head:
            data = piece.head[self._at : self._at + len(view)]
        else:
            at = self._at - head  # in the file's bytes
            length = None if piece.end is None else piece.end - piece.start
            if length is not None and at >= length:
                data = piece.tail[at - length : at - length + len(view)]
            else:
                wanted = len(view) if length is None else min(len(view), length - at)
                self._file.seek(piece.start + at)
                data = self._file.read(wanted)
        view[: len(data)] = data
        self._at += len(data)
        return len(data)
