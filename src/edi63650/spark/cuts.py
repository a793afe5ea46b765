"""Where a file may be cut into pieces that read as it does whole. Runs on the driver; no
pyspark here.

- :func:`interchange_starts` finds, in one streaming scan, each interchange that starts right
  after a proper IEA of the one before: a file may be cut there.
- :func:`layout` looks inside one interchange, in a second streaming scan of its bytes, for
  the places between its transaction sets where it may be cut. It says so only for an
  interchange whose envelope the pieces can carry without changing a finding: one functional
  group; ST and SE in turn; a GE and IEA whose counts and control numbers are right (checked
  here, since no piece sees them: each gets a GE and IEA written for its own sets); GS06 of 1
  to 9 digits; every segment followed by the same line breaks, or none at all, and no other
  whitespace between segments; nothing but line breaks after the IEA. Anything else, and the
  interchange is read whole.
- :func:`cut` puts the two together: runs of whole interchanges of about ``split_size`` bytes,
  and an interchange larger than that cut between its transaction sets when :func:`layout`
  allows.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import attrs

from edi63650.spark.piece import Piece
from edi63650.spark.storage import Readable

#: An ISA segment is fixed width: 106 bytes, its terminator included.
_ISA_LENGTH = 106
#: Where ISA01..ISA16 end, each followed by the element separator (ISA byte 4, offset 3).
_ISA_SEPARATORS = (3, 6, 17, 20, 31, 34, 50, 53, 69, 76, 81, 83, 89, 99, 101, 103)
#: The offset of the segment terminator in the ISA (ISA byte 106).
_ISA_TERMINATOR = 105
#: ISA13, the interchange control number, in the ISA.
_ISA13 = slice(90, 99)
#: Bytes kept between reads, so that a trailer and the ISA after it are seen whole.
_TAIL = 512
_READ = 1 << 20
#: The longest run of line breaks between two segments an interchange cut inside may have.
_BREAKS = 16
#: The longest SE checked to be followed right away by an ST or the GE (SE01 and SE02 are at
#: most 10 and 9 characters).
_SE_LENGTH = 40
#: Bytes kept between reads of the scan for segment starts: every start, and every SE with
#: what follows it, is seen whole.
_OVERLAP = 128
#: Bytes of the GS, or of the GE and IEA with what follows, read to check them.
_ENVELOPE_BYTES = 4096


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
    well-formed ISA is there: every element separator where the fixed width puts it and none
    elsewhere, and no terminator before its end (the tokenizer would end the ISA there)."""
    isa = data[index : index + _ISA_LENGTH]
    if len(isa) < _ISA_LENGTH or not isa.startswith(b"ISA"):
        return None
    separator, terminator = isa[3:4], isa[_ISA_TERMINATOR : _ISA_TERMINATOR + 1]
    if separator.isalnum() or terminator.isalnum() or separator == terminator:
        return None
    if any(isa[i : i + 1] != separator for i in _ISA_SEPARATORS):
        return None
    body = isa[:_ISA_TERMINATOR]
    if body.count(separator) != len(_ISA_SEPARATORS) or terminator in body:
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


@attrs.frozen
class Layout:
    """One interchange that may be cut between its transaction sets (see :func:`layout`)."""

    isa: int  # where its ISA starts
    sets: tuple[int, ...]  # where each ST starts (the first ends the ISA, GS and line breaks)
    trailer: int  # where its GE starts
    separator: bytes
    terminator: bytes
    framing: bytes  # the line breaks after every segment
    group_control: bytes  # GS06
    interchange_control: bytes  # ISA13

    def tail(self, sets: int) -> bytes:
        """The GE and IEA of a piece of ``sets`` transaction sets."""
        s, t, f = self.separator, self.terminator, self.framing
        return (
            b"GE" + s + str(sets).encode() + s + self.group_control + t + f
            + b"IEA" + s + b"1" + s + self.interchange_control + t + f
        )  # fmt: skip


def layout(stream: Readable, start: int, end: int) -> Layout | None:
    """The places the interchange in bytes ``start`` to ``end`` of ``stream`` may be cut
    between its transaction sets, if the pieces can carry its envelope (see the module's
    docstring); else None. Reads those bytes once, a chunk at a time, and the GS and the
    trailer again."""
    stream.seek(start)
    first = stream.read(min(_ENVELOPE_BYTES, end - start))
    isa = first.find(b"ISA")
    delimiters = _delimiters(first, isa) if isa >= 0 else None
    if delimiters is None:
        return None
    separator, terminator = delimiters
    if terminator in b"\r\n \t":
        return None
    isa += start
    scanned = _heads(stream, isa + _ISA_TERMINATOR, end, separator, terminator)
    if scanned is None or len(scanned[0]) < 6:  # GS, two sets, GE, IEA at least
        return None
    heads, line_breaks, adjacent = scanned
    ids = [name for _, name, _ in heads]
    framing = heads[0][2]
    body = ids[1:-2]
    if (
        ids[0] != b"GS"
        or ids[-2:] != [b"GE", b"IEA"]
        or body[0::2] != [b"ST"] * (len(body) // 2)
        or body[1::2] != [b"SE"] * (len(body) // 2)
        or len(body) % 2
        or any(breaks != framing for _, _, breaks in heads)
        or heads[0][0] != isa + _ISA_LENGTH + len(framing)
        or (not framing and line_breaks)
        or adjacent != len(body) // 2  # a segment between two sets would be the interchange's
    ):
        return None
    sets = tuple(offset for offset, name, _ in heads if name == b"ST")
    stream.seek(start)
    interchange = (stream.read(isa - start + _ISA_LENGTH))[isa - start :][_ISA13]
    group = _group_control(stream, heads[0][0], separator, terminator, sets[0] - len(framing))
    if group is None:
        return None
    inside = Layout(isa, sets, heads[-2][0], separator, terminator, framing, group, interchange)
    return inside if _trailer_holds(stream, inside, end) else None


def _heads(
    stream: Readable, start: int, end: int, separator: bytes, terminator: bytes
) -> tuple[list[tuple[int, bytes, bytes]], int, int] | None:
    """The envelope segments (GS, ST, SE, GE, IEA) of bytes ``start`` (a terminator) to
    ``end``: where each starts, its id and the line breaks before it; how many line-break
    bytes there are before the last segment's own; and how many SE segments are followed
    right away by an ST or GE. None where the bytes hold what a piece could not carry:
    whitespace other than line breaks between segments, a run of :data:`_BREAKS` line
    breaks, or a segment the tokenizer would read as a new ISA."""
    s, t = re.escape(separator), re.escape(terminator)
    heads = re.compile(t + rb"([\r\n]*)(GS|ST|SE|GE|IEA)" + s)
    closed = re.compile(
        t + rb"[\r\n]*SE" + s + rb"[^" + t + rb"]{0,%d}" % _SE_LENGTH + t + rb"[\r\n]*(?:ST|GE)" + s
    )
    spaces = re.compile(t + rb"[\r\n]*[ \t]")
    # A segment the tokenizer takes for a new interchange (ISA and a delimiter) ends this one.
    another = re.compile(t + rb"[\r\n]*ISA(?:[^A-Za-z0-9 \t\r\n]|$)")
    breaks = re.compile(rb"[\r\n]{%d}" % _BREAKS)
    found: list[tuple[int, bytes, bytes]] = []
    line_breaks = adjacent = 0
    stream.seek(start)
    buffer = b""
    base = start  # the offset of buffer[0]
    left = end - start
    while True:
        data = stream.read(min(_READ, left))
        left -= len(data)
        last = not data or left <= 0
        buffer += data
        if spaces.search(buffer) or breaks.search(buffer) or another.search(buffer):
            return None
        # What starts before ``limit`` is whole in the buffer; the rest is read next time.
        limit = len(buffer) if last else len(buffer) - _OVERLAP
        for match in heads.finditer(buffer, 0, limit + _OVERLAP):
            if match.start() >= limit:
                break
            found.append((base + match.start(2), match.group(2), match.group(1)))
        adjacent += sum(1 for m in closed.finditer(buffer) if m.start() < limit)
        counted = buffer[:limit].rstrip(b"\r\n") if last else buffer[:limit]
        line_breaks += counted.count(b"\r") + counted.count(b"\n")
        if last:
            return found, line_breaks, adjacent
        base += limit
        buffer = buffer[limit:]


def _group_control(
    stream: Readable, at: int, separator: bytes, terminator: bytes, end: int
) -> bytes | None:
    """GS06 of the GS at ``at``, if the GS ends (its terminator included) at ``end`` and GS06
    is 1 to 9 digits (as the GE written for each piece copies it)."""
    stream.seek(at)
    segment = stream.read(_ENVELOPE_BYTES).split(terminator, 1)[0]
    if at + len(segment) + len(terminator) != end:
        return None
    elements = segment.split(separator)
    if len(elements) < 7 or not re.fullmatch(rb"[0-9]{1,9}", elements[6]):
        return None
    return elements[6]


def _trailer_holds(stream: Readable, inside: Layout, end: int) -> bool:
    """Whether bytes ``inside.trailer`` to ``end`` are exactly a GE counting the interchange's
    transaction sets of its group and an IEA counting one group of the interchange, followed
    by nothing but line breaks."""
    if end - inside.trailer > _ENVELOPE_BYTES:
        return False
    stream.seek(inside.trailer)
    s, t = re.escape(inside.separator), re.escape(inside.terminator)
    group, interchange = re.escape(inside.group_control), re.escape(inside.interchange_control)
    match = re.fullmatch(
        rb"GE" + s + rb"([0-9]{1,6})" + s + group + t + rb"[\r\n]*"
        + rb"IEA" + s + rb"([0-9]{1,5})" + s + interchange + t + rb"[\r\n]*",
        stream.read(end - inside.trailer),
    )  # fmt: skip
    return (
        match is not None and int(match.group(1)) == len(inside.sets) and int(match.group(2)) == 1
    )


def cut(path: str, stream: Readable, size: int, split_size: int) -> list[Piece]:
    """The pieces of file ``path`` (``stream``, ``size`` bytes): runs of whole interchanges of
    about ``split_size`` bytes; an interchange larger than that is cut between its
    transaction sets where :func:`layout` allows, each piece about ``split_size`` bytes."""
    bounds = [0, *interchange_starts(stream), size]
    made: list[Piece] = []
    run = 0  # where the open run of whole interchanges starts
    for start, end in itertools.pairwise(bounds):
        if start > run and start - run >= split_size:
            made.append(Piece(path, run, start))
            run = start
        inside = layout(stream, start, end) if end - start > split_size else None
        if inside is None:
            continue
        if run < start:
            made.append(Piece(path, run, start))
        made.extend(_between_sets(path, stream, inside, start, split_size))
        run = end
    if run < size or not made:
        made.append(Piece(path, run, None))
    return made


def _between_sets(
    path: str, stream: Readable, inside: Layout, start: int, split_size: int
) -> list[Piece]:
    """The pieces of the interchange ``inside`` (from byte ``start`` of the file, which may
    hold bytes before its ISA): runs of its transaction sets of about ``split_size`` bytes,
    each after a copy of the ISA and GS (but the first) and before its own GE and IEA."""
    stream.seek(inside.isa)
    head = stream.read(inside.sets[0] - inside.isa)
    made: list[Piece] = []
    piece, count = start, 0
    for index, at in enumerate(inside.sets):
        if index and at - piece >= split_size:
            made.append(
                _piece(path, piece, at, sets=count, inside=inside, head=head if made else b"")
            )
            piece, count = at, 0
        count += 1
    made.append(
        _piece(path, piece, inside.trailer, sets=count, inside=inside, head=head if made else b"")
    )
    return made


def _piece(path: str, start: int, end: int, *, sets: int, inside: Layout, head: bytes) -> Piece:
    return Piece(path, start, end, head=head, head_at=inside.isa, tail=inside.tail(sets))
