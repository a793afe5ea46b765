"""Conversions of X12 element values (data types DT, TM, R, N0), and of input text to what a
terminal or log may show, that never raise."""

from __future__ import annotations

import datetime
import functools
import re
from decimal import Decimal, InvalidOperation

_TIME = re.compile(r"([01][0-9]|2[0-3])[0-5][0-9]([0-5][0-9][0-9]{0,2})?")
_DECIMAL = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def is_digits(value: str) -> bool:
    """ASCII digits only. (``str.isdigit`` accepts superscripts and other scripts' digits,
    which Latin-1 input can hold and ``int`` refuses.)"""
    return value.isascii() and value.isdigit()


def shown(text: str) -> str:
    """Text from the input as a terminal or log may show it: control characters (ESC, BEL,
    NUL, C1 controls) escaped as ``\\x1b``, so that a file cannot drive the terminal or forge
    a log line."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m[0]):02x}", text)


def shown_name(name: str) -> str:
    """A file name as text any writer can encode: bytes that were not UTF-8 (held as
    surrogate escapes, as :func:`os.fsdecode` gives them) shown as ``\\xff``, control
    characters escaped as by :func:`shown`."""
    if not name.isascii():
        name = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return shown(name)


#: Values remembered with what they read as (a file repeats its dates and amounts; the
#: results are immutable, so a bounded memo of these pure functions is safe to share).
_REMEMBER = 4096


@functools.lru_cache(maxsize=_REMEMBER)
def parse_date(value: str) -> datetime.date | None:
    """DT, CCYYMMDD (X12.6 data type DT with eight digits)."""
    if len(value) != 8 or not is_digits(value):
        return None
    try:
        return datetime.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        return None


def parse_short_date(value: str) -> datetime.date | None:
    """DT, YYMMDD as in ISA09. Read as 20YY: interchanges before 2000 are not claims today."""
    if len(value) != 6 or not is_digits(value):
        return None
    return parse_date("20" + value)


def is_time(value: str) -> bool:
    """TM: HHMM, HHMMSS or HHMMSSD[D] (X12.6)."""
    return _TIME.fullmatch(value) is not None


@functools.lru_cache(maxsize=_REMEMBER)
def parse_decimal(value: str) -> Decimal | None:
    """R or N: a finite decimal number, or None. Exponents, NaN and infinity are refused."""
    if _DECIMAL.fullmatch(value) is None:
        return None
    try:
        return Decimal(value)
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
        return None


@functools.lru_cache(maxsize=_REMEMBER)
def parse_period(date_format: str, value: str) -> tuple[datetime.date | None, datetime.date | None]:
    """DTP02/DTP03: D8 a date, DT a date and time (CCYYMMDDHHMM), RD8 ``CCYYMMDD-CCYYMMDD``.

    Unknown formats give (None, None)."""
    if date_format in ("D8", "DT"):
        day = parse_date(value[:8]) if len(value) == (8 if date_format == "D8" else 12) else None
        return day, day
    if date_format == "RD8":
        first, _, last = value.partition("-")
        return parse_date(first), parse_date(last)
    return None, None
