"""What a Spark job reads: the files named, and the pieces (partitions) they are cut into.

Everything here runs on the driver, except :class:`ByteRange`, which a task uses to read its
piece. No pyspark here.

- :func:`expand` turns what ``load()`` was given (a file, a list, a directory, a glob) into a
  sorted list of files, the way ``edi63650 validate`` reads a directory: into subfolders,
  hidden names and links skipped, so nothing outside what was given is read; a store's URL
  (``s3://...``) is listed by :mod:`edi63650.spark.storage`.
- :func:`pieces` gives one piece per file; a file larger than ``split_size`` is cut at
  interchange boundaries (ISA ... IEA) into pieces of about ``split_size`` bytes, found by
  :func:`interchange_starts`, a streaming scan. A file of one interchange stays one piece:
  cutting between transaction sets (which would need the envelope carried over) is not done.
"""

from __future__ import annotations

import glob
import io
import re
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from edi63650.cli_validate import walk
from edi63650.errors import EdiUsageError
from edi63650.spark import storage
from edi63650.spark.storage import Readable

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

#: Files above this many bytes are cut at interchange boundaries by ``validate_frames`` (the
#: ``split_size`` option's default there; the data source cuts only when asked).
SPLIT_SIZE = 64 << 20

#: An ISA segment is fixed width: 106 bytes, its terminator included.
_ISA_LENGTH = 106
#: Where ISA01..ISA16 end, each followed by the element separator (ISA byte 4, offset 3).
_ISA_SEPARATORS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
#: The offset of the segment terminator in the ISA (ISA byte 106).
_ISA_TERMINATOR = 105
#: Bytes kept between reads, so that a trailer and the ISA after it are seen whole.
_TAIL = 512
_READ = 1 << 20
_GLOB = re.compile(r"[*?\[]")


@attrs.frozen
class Piece:
    """What one task reads: bytes ``start`` to ``end`` of the file ``path`` (``end`` None: to
    the end of the file)."""

    path: str
    start: int = 0
    end: int | None = None


def expand(names: Iterable[str], *, recursive: bool = True) -> list[str]:
    """The files that ``names`` name, sorted, each once.

    A name that is a directory gives the files under it (see
    :func:`edi63650.cli_validate.walk`); a name with ``*``, ``?`` or ``[`` that is not a file
    is a glob, each match taken as a name (links among the matches skipped); any other name is
    taken as it is (a file that cannot be read gives a finding when it is read, as the command
    line reports it). A directory without files, or a glob matching nothing, is an error.
    """
    found: set[str] = set()
    for given in names:
        if storage.is_remote(given):
            found.update(storage.remote_files(given, recursive=recursive))
            continue
        name = storage.local(given)
        path = Path(name)
        if _GLOB.search(name) and not path.exists():
            # glob.glob, not Path.glob: the pattern may be absolute and glob in any part.
            matches = [Path(m) for m in glob.glob(name) if not Path(m).is_symlink()]  # noqa: PTH207
            if not matches:
                raise EdiUsageError(f"{name}: no file matches")
            for match in matches:
                found.update(_files(match, recursive=recursive))
        else:
            found.update(_files(path, recursive=recursive))
    return sorted(found)


def _files(path: Path, *, recursive: bool) -> list[str]:
    if not path.is_dir():
        return [str(path)]
    files = [str(p) for p in walk(path, recursive=recursive)]
    if not files:
        raise EdiUsageError(f"{path}: the directory holds no files")
    return files


def pieces(path: str, split_size: int = SPLIT_SIZE) -> list[Piece]:
    """The pieces of one file: the whole file, or, above ``split_size`` bytes, runs of whole
    interchanges of about ``split_size`` bytes each. A file that cannot be read is one piece
    (its task reports it)."""
    try:
        if storage.size_of(path) <= split_size:
            return [Piece(path)]
        with closing(storage.open_binary(path)) as stream:
            cuts = _cuts(interchange_starts(stream), split_size)
    except OSError:
        return [Piece(path)]
    starts = [0, *cuts]
    ends: list[int | None] = [*cuts, None]
    return [Piece(path, start, end) for start, end in zip(starts, ends, strict=True)]


def _cuts(starts: Iterable[int], split_size: int) -> list[int]:
    """The interchange starts at which a new piece begins: the first at least ``split_size``
    bytes after the start of the piece before."""
    cuts: list[int] = []
    piece = 0
    for start in starts:
        if start - piece >= split_size:
            cuts.append(start)
            piece = start
    return cuts


def interchange_starts(stream: Readable, chunk: int = _READ) -> Iterator[int]:
    """The offsets of the interchanges after the first where a file may be cut: each ISA that
    follows, with nothing but CR/LF between, an IEA segment of the interchange before,
    written with that interchange's own delimiters (the element separator is ISA byte 4, the
    segment terminator ISA byte 106), and is itself a well-formed ISA.

    Reads ``stream`` once from its current position, ``chunk`` bytes at a time, keeping at most
    a chunk and a little more in memory. An ISA after junk, or after an interchange without a
    proper IEA, is no place to cut: the piece before would end in a way that reading the file
    whole would not see."""
    buffer = b""
    base = 0  # the offset of buffer[0] in the stream
    at = 0  # where the next search starts; nothing before it is needed again
    delimiters: tuple[bytes, bytes] | None = None  # the open interchange's separator, terminator
    while True:
        data = stream.read(chunk)
        eof = not data
        buffer = buffer[at:] + data
        base += at
        at = 0
        while True:
            if delimiters is None:  # looking for an ISA to learn the delimiters from
                index = buffer.find(b"ISA", at)
                if index < 0:
                    at = max(at, len(buffer) - 2)
                    break
                if index + _ISA_LENGTH > len(buffer):
                    at = index
                    break
                delimiters = _delimiters(buffer, index)
                at = index + (_ISA_LENGTH if delimiters else 1)
                continue
            match = _trailer(*delimiters).search(buffer, at)
            if match is None:
                at = max(at, len(buffer) - _TAIL)
                break
            isa = match.end()
            if isa + _ISA_LENGTH > len(buffer) and not eof:
                at = match.start()
                break
            delimiters = _delimiters(buffer, isa)
            if delimiters is not None:
                yield base + isa
                at = isa + _ISA_LENGTH
            else:
                at = isa
        if eof:
            return


def _delimiters(data: bytes, index: int) -> tuple[bytes, bytes] | None:
    """The element separator and segment terminator of the ISA at ``index``, if a whole,
    well-formed ISA is there (every element separator where the fixed width puts it)."""
    isa = data[index : index + _ISA_LENGTH]
    if len(isa) < _ISA_LENGTH or not isa.startswith(b"ISA"):
        return None
    separator, terminator = isa[3:4], isa[_ISA_TERMINATOR : _ISA_TERMINATOR + 1]
    if separator.isalnum() or terminator.isalnum() or separator == terminator:
        return None
    if any(isa[i : i + 1] != separator for i in _ISA_SEPARATORS):
        return None
    return separator, terminator


_TRAILERS: dict[tuple[bytes, bytes], re.Pattern[bytes]] = {}


def _trailer(separator: bytes, terminator: bytes) -> re.Pattern[bytes]:
    """An IEA segment (IEA01 of up to 5 digits, IEA02 of 9) between two terminators, CR/LF
    allowed after each, up to what follows it."""
    pattern = _TRAILERS.get((separator, terminator))
    if pattern is None:
        s, t = re.escape(separator), re.escape(terminator)
        pattern = re.compile(
            t + rb"[\r\n]*IEA" + s + rb"[0-9]{1,5}" + s + rb"[0-9]{9}" + t + rb"[\r\n]*"
        )
        _TRAILERS[(separator, terminator)] = pattern
    return pattern


class ByteRange(io.RawIOBase):
    """Bytes ``start`` to ``end`` of a seekable binary file, as a stream of their own: offset 0
    is ``start`` (the validator's offsets are then relative to it), and reading stops at
    ``end``."""

    def __init__(self, file: Readable, start: int = 0, end: int | None = None) -> None:
        super().__init__()
        self._file = file
        self._start = start
        self._end = end
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
            if self._end is None:
                offset += self._file.seek(0, io.SEEK_END) - self._start
            else:
                offset += self._end - self._start
        self._at = max(0, offset)
        return self._at

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        wanted = len(view)
        if self._end is not None:
            wanted = max(0, min(wanted, self._end - self._start - self._at))
        if wanted == 0:
            return 0
        self._file.seek(self._start + self._at)
        data = self._file.read(wanted)
        view[: len(data)] = data
        self._at += len(data)
        return len(data)
