"""pyx12 as the test oracle: does a file validate against pyx12's implementation-guide maps?

Two ways in:

* :func:`pyx12_check` -- pyx12's overall verdict plus its raw 999/997 and JSON output.
* :func:`pyx12_999_errors` / :func:`pyx12_999_details` -- the errors pyx12 writes into the
  999 it generates for a 5010 file, parsed back into comparable tuples.

What the 999 tuples mean (pyx12 4.0.0):

* ``ordinal`` is IK302, the segment's position counted from ST = 1 (BHT is 2, ...), reset at
  every ST.  For a *missing* segment (IK304 = 3) pyx12 writes the id of the missing segment in
  IK301 but the ordinal of the segment it was reading when it noticed the gap.
* ``element`` is IK401 normalised as ``"E"`` or ``"E:C"`` (element, component), each part as
  a plain integer.  If IK401 carried a repetition position (C030-03) it would come out as
  ``"E:C:R"`` (``"E::R"`` without a component); pyx12 4.0.0 never writes one.
* One tuple per IK4, carrying its IK3's fields; one tuple with ``element == code == ""`` for
  an IK3 that has no IK4.  pyx12 writes one IK3 per distinct IK304 code for the same segment,
  in ``set()`` order (it changes with ``PYTHONHASHSEED``), followed by that segment's IK4s;
  so that the result does not depend on that order, IK4s are attached to the segment's
  IK3 with code 8 ("segment has data element errors") when there is one, else to its last IK3.
* Errors pyx12 files against ST/SE, GS/GE or ISA/IEA land in IK5, AK9 or TA1, never in an
  IK3; they are in :func:`pyx12_999_details`, not in :func:`pyx12_999_errors`.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import pyx12.params
import pyx12.x12n_document

Pyx12Error = tuple[int, str, str, str, str]
"""(IK302 ordinal, IK301 segment id, IK304 code, normalised IK401 or "", IK403 or "")."""


class TransactionDetails(TypedDict):
    """One AK2 loop of a pyx12 999, for debugging."""

    group_control_number: str  # AK102: the GS06 of the functional group acknowledged
    transaction_set_id: str  # AK201, e.g. "837"
    control_number: str  # AK202: the ST02 of the transaction set acknowledged
    ik5: list[str]  # IK501 (A/E/R/...) then IK502..IK506
    ak9: list[str]  # the group's AK9 elements (AK901 first), shared by its transaction sets
    errors: list[Pyx12Error]  # in the order pyx12 wrote them; may hold duplicates
    segments: list[str]  # the raw AK2..IK5 segments as pyx12 wrote them


class Pyx12AcknowledgmentError(RuntimeError):
    """pyx12 ran but wrote no complete 999 (nothing at all, a 997, or a truncated 999)."""


def pyx12_check(path: Path) -> tuple[bool, str]:
    """(valid, pyx12's acknowledgment and error output) for the X12 file at ``path``."""
    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    param = pyx12.params.params()
    acknowledgment, errors = io.StringIO(), io.StringIO()
    valid = pyx12.x12n_document.x12n_document(
        param=param,
        src_file=str(path),
        fd_997=acknowledgment,
        fd_html=None,
        fd_xmldoc=None,
        fd_json=errors,
    )
    return bool(valid), acknowledgment.getvalue() + errors.getvalue()


# -- running pyx12 quietly ------------------------------------------------------------------------


class _Collect(logging.Handler):
    """Keeps the messages pyx12 logs, so a failure can say what pyx12 complained about."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextmanager
def _quiet_pyx12() -> Iterator[_Collect]:
    """Silence every ``pyx12.*`` logger for the duration, collecting its error messages.

    Raising the level of the ``pyx12`` logger is not enough: ``pyx12.error_999`` and
    ``pyx12.error_997`` set their own level to DEBUG and would reach the root logger (or
    logging's last-resort stderr handler).  Stopping propagation at ``pyx12`` catches them all.
    """
    logger = logging.getLogger("pyx12")
    saved = (logger.level, logger.propagate)
    collect = _Collect()
    logger.addHandler(collect)
    logger.setLevel(logging.ERROR)
    logger.propagate = False
    try:
        yield collect
    finally:
        logger.removeHandler(collect)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def pyx12_999_text(path: Path) -> str:
    """The 999 pyx12 writes for the 5010 X12 file at ``path``.

    Exceptions pyx12 raises (undecodable bytes, an unknown map, ...) propagate unchanged;
    :class:`Pyx12AcknowledgmentError` if pyx12 wrote no complete 999.
    """
    acknowledgment = io.StringIO()
    with _quiet_pyx12() as log:
        pyx12.x12n_document.x12n_document(
            param=pyx12.params.params(),
            src_file=str(path),
            fd_997=acknowledgment,
            fd_html=None,
            fd_xmldoc=None,
            fd_json=None,
        )
    text = acknowledgment.getvalue()
    said = "; ".join(log.messages[-3:]) or "nothing logged"
    if not text.strip():
        raise Pyx12AcknowledgmentError(f"pyx12 wrote no acknowledgment ({said})")
    segments = _Delimiters.of(text).segments(text)
    if not any(seg[:1] == ["ST"] and seg[1:2] == ["999"] for seg in segments):
        kind = next((seg[1] for seg in segments if seg[0] == "ST" and len(seg) > 1), "no ST")
        raise Pyx12AcknowledgmentError(f"pyx12 wrote a {kind}, not a 999 ({said})")
    if segments[-1][0] != "IEA":
        raise Pyx12AcknowledgmentError(f"pyx12 wrote a truncated 999 ({said})")
    return text


def pyx12_999_details(path: Path) -> list[TransactionDetails]:
    """Every AK2 loop of the 999 pyx12 writes for ``path``, in order (see :func:`parse_999`)."""
    return parse_999(pyx12_999_text(path))


def pyx12_999_errors(path: Path) -> frozenset[Pyx12Error]:
    """The IK3/IK4 errors pyx12 reports for ``path``, over all its transaction sets.

    Raises as :func:`pyx12_999_text` does.  Tuples are described in the module docstring.
    """
    return frozenset(err for ts in pyx12_999_details(path) for err in ts["errors"])


# -- parsing the 999 ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Delimiters:
    element: str
    component: str
    segment: str

    @classmethod
    def of(cls, text: str) -> _Delimiters:
        """Read the separators from the interchange's ISA (element, ISA16, terminator)."""
        body = text.lstrip("\ufeff \t\r\n")
        if not body.startswith("ISA") or len(body) < 4:
            raise ValueError(f"not an X12 interchange: {body[:20]!r}")
        element = body[3]
        parts = body.split(element, 16)
        if len(parts) < 17 or len(parts[16]) < 2:
            raise ValueError(f"truncated ISA: {body[:110]!r}")
        return cls(element=element, component=parts[16][0], segment=parts[16][1])

    def segments(self, text: str) -> list[list[str]]:
        """The interchange split into segments, each split into elements."""
        body = text.lstrip("\ufeff")
        raw = (seg.strip("\r\n\t ") for seg in body.split(self.segment))
        return [seg.split(self.element) for seg in raw if seg]


def _element(values: list[str], pos: int) -> str:
    """Element ``pos`` (1-based) of a split segment, "" if absent."""
    return values[pos] if pos < len(values) else ""


def _position(ik401: str, component: str) -> str:
    """IK401 (C030: element, component, repetition) as "E", "E:C" or "E:C:R"."""
    parts = [p.strip() for p in ik401.split(component)]
    parts = [str(int(p)) if p.isdigit() else p for p in parts]
    while len(parts) > 1 and not parts[-1]:
        parts.pop()
    return ":".join(parts)


@dataclass
class _Ik3:
    ordinal: int
    seg_id: str
    loop_id: str
    code: str
    ik4s: list[tuple[str, str]] = field(default_factory=list)


def _ik3_errors(ik3s: list[_Ik3]) -> list[Pyx12Error]:
    out: list[Pyx12Error] = []
    for ik3 in ik3s:
        if not ik3.ik4s:
            out.append((ik3.ordinal, ik3.seg_id, ik3.code, "", ""))
        out.extend((ik3.ordinal, ik3.seg_id, ik3.code, ele, cde) for ele, cde in ik3.ik4s)
    return out


def parse_999(text: str) -> list[TransactionDetails]:
    """One :class:`TransactionDetails` per AK2 loop of the 999 interchange ``text``."""
    delims = _Delimiters.of(text)
    out: list[TransactionDetails] = []
    group_start = 0
    group_control = ""
    current: TransactionDetails | None = None
    ik3s: list[_Ik3] = []  # of the current AK2 loop
    run: list[_Ik3] = []  # the IK3s written back to back for one segment occurrence

    for seg in delims.segments(text):
        tag = seg[0]
        raw = delims.element.join(seg)
        if tag == "AK1":
            group_control = _element(seg, 2)
            group_start = len(out)
        elif tag == "AK2":
            current = TransactionDetails(
                group_control_number=group_control,
                transaction_set_id=_element(seg, 1),
                control_number=_element(seg, 2),
                ik5=[],
                ak9=[],
                errors=[],
                segments=[raw],
            )
            ik3s, run = [], []
        elif tag in ("IK3", "IK4", "IK5"):
            if current is None:
                raise ValueError(f"{tag} outside an AK2 loop: {raw!r}")
            current["segments"].append(raw)
            if tag == "IK3":
                ik3 = _Ik3(
                    ordinal=int(_element(seg, 2)),
                    seg_id=_element(seg, 1),
                    loop_id=_element(seg, 3),
                    code=_element(seg, 4),
                )
                same = run and (run[-1].ordinal, run[-1].seg_id, run[-1].loop_id) == (
                    ik3.ordinal,
                    ik3.seg_id,
                    ik3.loop_id,
                )
                if not same or run[-1].ik4s:
                    run = []
                run.append(ik3)
                ik3s.append(ik3)
            elif tag == "IK4":
                if not run:
                    raise ValueError(f"IK4 before any IK3: {raw!r}")
                owner = next((r for r in run if r.code == "8"), run[-1])
                owner.ik4s.append((_position(_element(seg, 1), delims.component), _element(seg, 3)))
            else:
                current["ik5"] = seg[1:]
                current["errors"] = _ik3_errors(ik3s)
                out.append(current)
                current = None
        elif tag == "AK9":
            for ts in out[group_start:]:
                ts["ak9"] = seg[1:]
    if current is not None:
        raise ValueError(f"AK2 loop without IK5: {current['segments'][0]!r}")
    return out
