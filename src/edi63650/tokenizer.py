"""Sans-IO X12 tokenizer: bytes in, segments and findings out.

The tokenizer never opens a file. Callers hand it bytes with :meth:`Tokenizer.feed` in chunks of
any size and call :meth:`Tokenizer.close` at the end; each call returns the segments completed so
far, interleaved with findings about the framing. Feeding a file whole, in random chunks or one
byte at a time gives the same result.

Delimiters come from each interchange's ISA (X12.5 / TR3 appendix B.1.1.2.5):

- element separator: the byte right after ``ISA`` (position 3 of the 106-byte ISA);
- repetition separator: ISA11, from version 00501 on (in 00401 ISA11 is the standards id ``U``);
- component separator: ISA16;
- segment terminator: the byte right after ISA16.

The ISA is located by counting its 16 element separators rather than by fixed offsets, so an ISA
whose fixed-width fields were trimmed is still read (the envelope layer reports its length).

Tolerances, each reported once per interchange as an info or warning finding: a UTF-8 byte-order
mark, whitespace or junk before the ISA, CR/LF/CRLF after segment terminators, a newline used as
the terminator, indentation before segments, and a bare ``ST`` fragment with no envelope.

Bytes are decoded as Latin-1, which maps every byte to one character: offsets in the text are
byte offsets, and no input can fail to decode.
"""

from __future__ import annotations

import enum
import re
from collections import deque
from collections.abc import Callable
from itertools import islice

from edi63650.errors import EdiUsageError
from edi63650.findings import Finding, Severity, SyntaxDetail
from edi63650.segment import Delimiters, Segment

#: Longest segment accepted, in bytes. The longest 837 segments (SV1 with a description, NTE,
#: HI with twelve composites) stay well under 1 KiB; 8 KiB leaves room for odd but legal data
#: while stopping a file without terminators from growing the buffer without bound.
MAX_SEGMENT_LENGTH = 8192

#: An ISA is 106 bytes; a damaged one is looked at for at most this many bytes.
_ISA_SCAN_LIMIT = 512

_WHITESPACE = " \t\r\n"
_BOM = "\xef\xbb\xbf"  # the UTF-8 byte-order mark, as Latin-1 characters
_SEGMENT_ID = re.compile(r"[A-Z][A-Z0-9]{1,2}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TokenRule(enum.StrEnum):
    """Stable ids of the findings the tokenizer produces."""

    EMPTY_INPUT = "X12-EMPTY-INPUT"
    NOT_X12 = "X12-NOT-X12"
    BOM = "X12-BOM"
    LEADING_WHITESPACE = "X12-LEADING-WHITESPACE"
    JUNK = "X12-JUNK"
    BAD_ISA = "X12-BAD-ISA"
    NO_ENVELOPE = "X12-NO-ENVELOPE"
    NEWLINE_TERMINATOR = "X12-NEWLINE-TERMINATOR"
    LINE_BREAKS = "X12-LINE-BREAKS"
    INDENTATION = "X12-INDENTATION"
    EMPTY_SEGMENT = "X12-EMPTY-SEGMENT"
    SEGMENT_TOO_LONG = "X12-SEGMENT-TOO-LONG"
    BAD_SEGMENT_ID = "X12-BAD-SEGMENT-ID"
    MISSING_TERMINATOR = "X12-MISSING-TERMINATOR"
    TRUNCATED = "X12-TRUNCATED"


Token = Segment | Finding

#: A consumer that checks the plain segments of a transaction set's body itself, straight from
#: their text (the structure-only reader does). Called as ``lane(tokens, parts, index)`` while a
#: chunk is being cut: ``tokens`` are those made so far (the lane takes them and empties the
#: list), ``parts`` the chunk's segment texts and ``index`` the first one not yet read. It returns
#: how many parts from ``index`` on it took. It may take only parts the tokenizer would have
#: turned into a plain segment with no finding: a valid segment id other than an envelope's,
#: no whitespace or control characters, no longer than the limit. The tokenizer then counts
#: those parts into offsets, lines and ordinals without making segments of them.
Lane = Callable[[list["Token"], list[str], int], int]


class Tokenizer:
    """Turns X12 bytes into :class:`Segment` values and framing :class:`Finding` values."""

    def __init__(
        self,
        *,
        max_segment_length: int = MAX_SEGMENT_LENGTH,
        lane: Lane | None = None,
        offset: int = 0,
        line: int = 1,
    ) -> None:
        """``offset`` and ``line`` resume a stream at an interchange's ISA: the bytes fed
        then start there, and positions are counted from it."""
        self._max = max_segment_length
        self._lane = lane
        self.lane_offset = 0  # of the last part a lane took
        self._buf = ""
        self._base = offset  # stream offset of _buf[0]
        self._line = line  # line number at _buf[0]
        self._total = 0
        self._closed = False
        self._bom_checked = offset > 0
        self._delims: Delimiters | None = None
        self._isa_pending = False  # the next segment is the ISA just read in seek mode
        self._broke_line = False  # the buffer starts right after a terminator and line break
        self._eat_line_break = False  # one line break after IEA belongs to its terminator
        self._seen_interchange = offset > 0
        self._ordinal = 0
        self._skipping = False  # inside an over-long segment, dropping bytes to its end
        self._noted: set[TokenRule] = set()  # tolerances already reported in this interchange
        self._valid_ids: set[str] = set()
        # Bytes skipped while looking for an ISA: reported as one finding per gap.
        self._gap_start: int | None = None
        self._gap_line = 1
        self._gap_bytes = 0
        self._gap_junk = False
        self._gap_binary = False
        self._bad_isa = False  # an ISA was found but its delimiters could not be read

    def feed(self, data: bytes) -> list[Token]:
        """Take the next chunk of the stream; return what it completed."""
        if self._closed:
            raise EdiUsageError("feed() called after close()")
        if not isinstance(data, bytes | bytearray | memoryview):
            raise EdiUsageError(
                f"feed() takes bytes (the file read in binary mode), not {type(data).__name__}"
                + (": open the file with 'rb'" if isinstance(data, str) else "")
            )
        self._total += len(data)
        self._buf += bytes(data).decode("latin-1")
        out: list[Token] = []
        self._drain(out, final=False)
        return out

    def close(self) -> list[Token]:
        """Signal the end of the stream; return the last segments and findings."""
        if self._closed:
            return []
        self._closed = True
        out: list[Token] = []
        self._drain(out, final=True)
        delims = self._delims
        if delims is not None and not self._skipping and self._buf.strip(_WHITESPACE):
            start = self._base + len(self._buf) - len(self._buf.lstrip(_WHITESPACE))
            out.append(
                Finding(
                    rule=TokenRule.MISSING_TERMINATOR,
                    severity=Severity.WARNING,
                    message="the last segment has no segment terminator; read as if it had one",
                    fix=f"end every segment with {delims.segment!r}",
                    offset=start,
                    line_no=self._line + self._buf.count("\n", 0, start - self._base),
                )
            )
            self._buf += delims.segment
            self._drain(out, final=True)
        if self._delims is None:
            self._skip(len(self._buf))
            self._buf = ""
        self._report_gap(out, at_end=True)
        if self._total == 0:
            out.append(
                Finding(
                    rule=TokenRule.EMPTY_INPUT,
                    severity=Severity.ERROR,
                    message="the input is empty",
                    fix="send a file that holds an X12 interchange (ISA ... IEA)",
                )
            )
        return out

    # -- internals -----------------------------------------------------------------------

    def _drain(self, out: list[Token], *, final: bool) -> None:
        while True:
            delims = self._delims
            if delims is None:
                if not self._seek(out, final=final):
                    return
            elif not self._split(out, delims):
                return

    def _consume(self, count: int) -> None:
        """Drop ``count`` characters from the front of the buffer, keeping offsets and lines."""
        buf = self._buf
        self._line += buf.count("\n", 0, count)
        self._base += count
        self._buf = buf[count:]

    def _skip(self, count: int) -> None:
        """Drop ``count`` characters that are not X12, remembering them for one finding."""
        if count <= 0:
            return
        skipped = self._buf[:count]
        if self._gap_start is None:
            self._gap_start = self._base
            self._gap_line = self._line
        self._gap_bytes += count
        if not self._gap_junk and skipped.strip(_WHITESPACE):
            self._gap_junk = True
        if not self._gap_binary and _CONTROL.search(skipped):
            self._gap_binary = True
        self._consume(count)

    def _report_gap(self, out: list[Token], *, at_end: bool) -> None:
        start = self._gap_start
        if start is None:
            return
        size, junk, binary = self._gap_bytes, self._gap_junk, self._gap_binary
        self._gap_start = None
        self._gap_bytes = 0
        self._gap_junk = self._gap_binary = False
        what = "binary data" if binary else "text that is not X12"
        if junk and not self._seen_interchange and at_end:
            if self._bad_isa:  # the ISA error already says why nothing could be read
                return
            out.append(
                Finding(
                    rule=TokenRule.NOT_X12,
                    severity=Severity.ERROR,
                    message=f"no X12 interchange found: the input is {what} (no ISA segment)",
                    fix="send an X12 837 file that starts with an ISA segment",
                    offset=start,
                    line_no=self._gap_line,
                )
            )
        elif junk:
            where = "after the last interchange" if at_end else "before an ISA"
            out.append(
                Finding(
                    rule=TokenRule.JUNK,
                    severity=Severity.WARNING,
                    message=f"{size} bytes of {what} {where} were skipped",
                    fix="remove everything outside the ISA ... IEA envelopes",
                    offset=start,
                    line_no=self._gap_line,
                )
            )
        elif not self._seen_interchange and not at_end:
            out.append(
                Finding(
                    rule=TokenRule.LEADING_WHITESPACE,
                    severity=Severity.INFO,
                    message=f"{size} whitespace characters before the ISA were skipped",
                    offset=start,
                    line_no=self._gap_line,
                )
            )

    def _seek(self, out: list[Token], *, final: bool) -> bool:
        """Look for the next ISA and read its delimiters. True once they are known."""
        if not self._bom_checked:
            buf = self._buf
            if len(buf) < len(_BOM) and _BOM.startswith(buf) and not final:
                return False
            self._bom_checked = True
            if buf.startswith(_BOM):
                out.append(
                    Finding(
                        rule=TokenRule.BOM,
                        severity=Severity.INFO,
                        message="a UTF-8 byte-order mark before the ISA was skipped",
                        fix="save the file without a byte-order mark",
                        offset=0,
                        line_no=1,
                    )
                )
                self._consume(len(_BOM))
        if self._eat_line_break:
            buf = self._buf
            if buf in ("", "\r") and not final:
                return False  # the line break may still be arriving
            self._eat_line_break = False
            if buf.startswith("\r\n"):
                self._consume(2)
            elif buf.startswith("\n"):
                self._consume(1)
        while True:
            buf = self._buf
            lead = len(buf) - len(buf.lstrip(_WHITESPACE))
            if lead == len(buf):  # only whitespace so far
                self._skip(lead)
                return False
            if not self._seen_interchange and not self._gap_junk and buf.startswith("ST", lead):
                # Only at the very start: an ST later in unreadable input is not a fragment.
                fragment = self._read_fragment(lead)
                if fragment is None and not final and len(buf) - lead < 80:
                    return False
                if fragment is not None:
                    self._skip(lead)
                    self._report_gap(out, at_end=False)
                    out.append(
                        Finding(
                            rule=TokenRule.NO_ENVELOPE,
                            severity=Severity.WARNING,
                            message="the input starts at ST with no ISA/GS envelope; "
                            "delimiters were inferred from the ST segment",
                            fix="wrap the transaction set in ISA/GS ... GE/IEA envelopes",
                            offset=self._base,
                            line_no=self._line,
                        )
                    )
                    self._start_interchange(fragment, isa=False)
                    return True
            start = self._find_isa(buf)
            if start is None:
                # Keep two characters: they may be the start of an "ISA" cut by the chunk.
                self._skip(len(buf) - 2 if not final else len(buf))
                return False
            if start + 3 >= len(buf):
                if final:
                    self._skip(len(buf))
                    return False
                self._skip(start)
                return False
            self._skip(start)
            buf = self._buf
            status = self._read_isa(buf, final=final)
            if status is None:
                return False  # need more bytes
            if isinstance(status, Finding):
                self._bad_isa = True
                out.append(status)
                self._skip(3)
                continue
            self._report_gap(out, at_end=False)
            self._start_interchange(status, isa=True)
            if status.segment in "\r\n":
                self._note(
                    out,
                    TokenRule.NEWLINE_TERMINATOR,
                    "the segment terminator is a line break",
                    offset=self._base,
                    line_no=self._line,
                )
            return True

    @staticmethod
    def _find_isa(buf: str) -> int | None:
        """Index of an ``ISA`` followed by a plausible element separator, else None."""
        i = buf.find("ISA")
        while i != -1:
            if i + 3 >= len(buf):
                return i
            separator = buf[i + 3]
            if not separator.isalnum() and separator not in _WHITESPACE:
                return i
            i = buf.find("ISA", i + 1)
        return None

    def _read_isa(self, buf: str, *, final: bool) -> Delimiters | Finding | None:
        """Delimiters of the ISA at the start of ``buf``; None when more bytes are needed."""
        separator = buf[3]
        position = 3
        for _ in range(15):
            position = buf.find(separator, position + 1, _ISA_SCAN_LIMIT)
            if position == -1:
                break
        if position == -1 or position + 2 >= len(buf):
            if not final and len(buf) < _ISA_SCAN_LIMIT:
                return None
            return Finding(
                rule=TokenRule.TRUNCATED
                if final and len(buf) < _ISA_SCAN_LIMIT
                else TokenRule.BAD_ISA,
                severity=Severity.ERROR,
                message="the ISA segment is incomplete: fewer than 16 elements",
                fix="send a complete 106-byte ISA segment",
                offset=self._base,
                line_no=self._line,
                segment_id="ISA",
            )
        component = buf[position + 1]
        terminator = buf[position + 2]
        if terminator.isalnum() or terminator in (separator, component, " "):
            return Finding(
                rule=TokenRule.BAD_ISA,
                severity=Severity.ERROR,
                message=f"no segment terminator after ISA16: found {terminator!r}",
                fix="end the ISA right after ISA16 with the segment terminator",
                offset=self._base,
                line_no=self._line,
                segment_id="ISA",
                element="ISA16",
            )
        elements = buf[: position + 2].split(separator)
        repetition: str | None = elements[11]
        version = elements[12]
        if (
            version < "00501"
            or repetition is None
            or len(repetition) != 1
            or repetition.isalnum()
            or repetition in (separator, component, terminator)
        ):
            repetition = None
        return Delimiters(
            element=separator, component=component, segment=terminator, repetition=repetition
        )

    def _read_fragment(self, lead: int) -> Delimiters | None:
        """Infer delimiters for a bare ``ST*837*...~`` fragment, or None if it is not one."""
        buf = self._buf
        if len(buf) <= lead + 2:
            return None
        separator = buf[lead + 2]
        if separator.isalnum() or separator in _WHITESPACE:
            return None
        for char in buf[lead + 3 : lead + 80]:
            if not char.isalnum() and char not in (separator, " "):
                component = ">" if separator == ":" else ":"
                return Delimiters(element=separator, component=component, segment=char)
        return None

    def _start_interchange(self, delimiters: Delimiters, *, isa: bool) -> None:
        self._delims = delimiters
        self._isa_pending = isa
        self._broke_line = False
        self._seen_interchange = True
        self._ordinal = 0
        self._noted = set()

    def _note(
        self, out: list[Token], rule: TokenRule, message: str, *, offset: int, line_no: int
    ) -> None:
        """Report a tolerance once per interchange."""
        if rule in self._noted:
            return
        self._noted.add(rule)
        out.append(
            Finding(
                rule=rule, severity=Severity.INFO, message=message, offset=offset, line_no=line_no
            )
        )

    def _split(self, out: list[Token], delims: Delimiters, *, plain: bool = False) -> bool:
        """Cut complete segments off the buffer. True when an interchange ended (seek again).

        This is the hot loop: one ``str.split`` per chunk, then a few operations per segment.
        Locals stand in for attributes, and tolerances are checked against a local flag before
        any call. When every terminator in the chunk is followed by a line break (one segment
        per line, the commonest layout) the chunk is split on terminator and line break
        together, so segments need no stripping; a chunk that ends inside the last framing
        (its ``~`` has come, its line break not yet) is split framed all the same, and its last
        segment then cut on the terminator alone. (A column-wise variant built from ``map``
        calls was measured no faster: the cost is in creating the strings and tuples.)

        With a :data:`Lane`, each run of body segments is offered to it first: the segments it
        takes are counted (offsets, lines, ordinals) and never made.
        """
        buf = self._buf
        terminator = delims.segment
        newline_terminated = 1 if terminator == "\n" else 0
        framing = terminator
        cut = False  # the chunk ends inside the last framing ("~" of "~\n")
        if not newline_terminated and not plain:
            count = buf.count(terminator)
            tail = buf[buf.rfind(terminator) :] if count else ""
            for candidate in (terminator + "\n", terminator + "\r\n"):
                cut = bool(tail) and len(tail) < len(candidate) and candidate.startswith(tail)
                if count and buf.count(candidate) == count - cut:
                    framing = candidate
                    break
            else:
                cut = False
        framed = framing != terminator
        step = len(framing)
        line_step = 1 if newline_terminated or framed else 0
        parts = buf.split(framing)
        parts.pop()  # the unterminated rest stays in the buffer
        separator = delims.element
        position = 0
        line = self._line
        base = self._base
        ordinal = self._ordinal
        valid_ids = self._valid_ids
        quiet_breaks = newline_terminated or TokenRule.LINE_BREAKS in self._noted
        max_length = self._max
        new_segment = tuple.__new__
        reseek = False
        lane = self._lane
        index = -1
        read_at = -1  # the part a lane stopped at: read here, not offered again
        remaining = iter(parts)
        for part in remaining:
            index += 1
            if lane is not None and ordinal and index != read_at and not self._skipping:
                # Not where the loop below would note the line breaks (that note is ours).
                noted_here = (framed and position) or (not position and self._broke_line)
                taken = lane(out, parts, index) if quiet_breaks or not noted_here else 0
                if taken:
                    # Plain segments, one per part: no line breaks inside, none skipped.
                    position += sum(map(len, parts[index : index + taken])) + taken * step
                    self.lane_offset = base + position - len(parts[index + taken - 1]) - step
                    line += taken * line_step
                    ordinal += taken
                    deque(islice(remaining, taken - 1), maxlen=0)
                    index += taken - 1
                    read_at = index + 1
                    continue
            start = position
            position += len(part) + step
            segment_line = line
            if "\n" in part:
                line += part.count("\n")
            line += line_step
            if self._skipping:  # the tail of an over-long segment
                self._skipping = False
                continue
            text = part
            if text and text[0] in _WHITESPACE:
                text = text.lstrip(_WHITESPACE)
                lead = part[: len(part) - len(text)]
                segment_line += lead.count("\n")
                start += len(lead)
                if lead.strip("\r\n"):
                    self._note(
                        out,
                        TokenRule.INDENTATION,
                        "whitespace before segments was ignored",
                        offset=base + start,
                        line_no=segment_line,
                    )
                elif not quiet_breaks:
                    quiet_breaks = 1
                    self._note(
                        out,
                        TokenRule.LINE_BREAKS,
                        "line breaks after segment terminators were ignored",
                        offset=base + start,
                        line_no=segment_line,
                    )
            elif not quiet_breaks and ((framed and start) or (not start and self._broke_line)):
                # The framing split ate the line break this segment followed.
                quiet_breaks = 1
                self._note(
                    out,
                    TokenRule.LINE_BREAKS,
                    "line breaks after segment terminators were ignored",
                    offset=base + start,
                    line_no=segment_line,
                )
            if newline_terminated and text.endswith("\r"):
                text = text[:-1]
            if not text:
                out.append(
                    Finding(
                        rule=TokenRule.EMPTY_SEGMENT,
                        severity=Severity.WARNING,
                        message="an empty segment was skipped",
                        fix="remove the doubled segment terminator",
                        offset=base + start,
                        line_no=segment_line,
                    )
                )
                continue
            if len(text) > max_length:
                if ordinal:  # still a segment of the transaction set: SE counts it
                    ordinal += 1
                out.append(self._too_long(base + start, segment_line, ordinal))
                continue
            elements = text.split(separator)
            segment_id = elements[0]
            if segment_id not in valid_ids:
                if (
                    segment_id != "ISA"
                    and text.startswith("ISA")
                    and not text[3:4].isalnum()
                    and text[3:4].strip()
                ):
                    # An ISA with other delimiters and no IEA before it: read them afresh.
                    position = start
                    line = segment_line
                    reseek = True
                    break
                if _SEGMENT_ID.fullmatch(segment_id) is None:
                    # Counted where it stands (SE counts it) and answered as IK304 1.
                    if ordinal:
                        ordinal += 1
                    out.append(self._bad_id(segment_id, base + start, segment_line, ordinal))
                    continue
                valid_ids.add(segment_id)
            if ordinal:
                ordinal += 1
            if segment_id == "ST":
                ordinal = 1
            elif segment_id == "ISA":
                if not self._isa_pending:  # a new interchange before IEA: read its delimiters
                    position = start
                    line = segment_line
                    reseek = True
                    break
                self._isa_pending = False
            out.append(
                new_segment(
                    Segment,
                    (
                        segment_id,
                        tuple(elements),
                        base + start,
                        segment_line,
                        ordinal,
                        delims,
                        text,
                    ),
                )
            )
            if segment_id == "SE":
                ordinal = 0
            elif segment_id == "IEA":
                reseek = True
                # A framed split ate the line break after IEA's terminator; a plain one left
                # it in the buffer, where seek mode must eat it too (identical results).
                self._eat_line_break = not framed
                break
        self._ordinal = ordinal
        if position:
            self._broke_line = framed and not reseek
        ended = self._finish_split(position, line, reseek, out, complete=cut)
        if cut and not ended:
            # The last segment's line break is still to come: cut it on its terminator alone.
            return self._split(out, delims, plain=True)
        return ended

    def _finish_split(
        self, position: int, line: int, reseek: bool, out: list[Token], *, complete: bool = False
    ) -> bool:
        """Drop the consumed text; guard against a segment that never ends (unless the rest
        is ``complete``: a whole segment waiting for its line break)."""
        max_length = self._max
        self._buf = self._buf[position:]
        self._base += position
        self._line = line
        if reseek:
            self._delims = None
            return True
        rest = self._buf
        if len(rest) > max_length and not complete:
            if not self._skipping:
                self._skipping = True
                lead = len(rest) - len(rest.lstrip(_WHITESPACE))
                out.append(self._too_long(self._base + lead, self._line))
            self._consume(len(rest))
        return False

    def _too_long(self, offset: int, line_no: int, ordinal: int | None = None) -> Finding:
        return Finding(
            rule=TokenRule.SEGMENT_TOO_LONG,
            severity=Severity.ERROR,
            message=f"a segment is longer than {self._max} bytes and was skipped",
            fix="check the segment terminator; an 837 segment is rarely over 1 KiB",
            offset=offset,
            line_no=line_no,
            ordinal=ordinal or None,
        )

    @staticmethod
    def _bad_id(segment_id: str, offset: int, line_no: int, ordinal: int) -> Finding:
        """A segment whose id is not one (``Nd4``, ``NM31``, empty): IK3 with IK304 1
        (unrecognized segment id) at its own position. IK301 names what it began with, in
        letters and digits, two or three of them (``XX`` if it had none)."""
        shown = re.sub(r"[^A-Za-z0-9]", "", segment_id)[:3] or "XX"
        return Finding(
            rule=TokenRule.BAD_SEGMENT_ID,
            severity=Severity.ERROR,
            message="a segment does not start with a valid segment id and was skipped",
            fix="check the file for binary data or a wrong segment terminator",
            offset=offset,
            line_no=line_no,
            ordinal=ordinal or None,
            syntax=SyntaxDetail(segment_code="1", segment_id=shown.ljust(2, "X")),
        )
