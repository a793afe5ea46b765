"""Element checks of one segment against its place in the guide (999 IK4 codes).

Two paths give the same verdict:

- the *fast path* compiles each guide segment, for one set of delimiters, into a single regular
  expression over the segment text (counts, usage, lengths, character sets, code lists, dates
  and times, and syntax notes as lookaheads); a segment that matches it is clean. The expression
  may be stricter than the rules (a value it cannot express simply never matches), never looser;
- the *diagnosis* walks the elements one by one and names each problem with its IK403 code and
  position. It runs only for segments the fast path did not accept.

The rules follow X12.6 and the TR3, as pyx12 applies them (so the two can be compared): lengths
of numeric values leave out the sign and the decimal point; AN and ID values use the 5010
extended character set (printable ASCII) and carry no trailing spaces; a date is CCYYMMDD
(DTP03 follows its DTP02 format: D8, RD8, DT); a time is HHMM with optional seconds and
hundredths.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import attrs

from edi63650.structure.codes import ElementCode
from edi63650.structure.grammar import ElementSpec, SegmentSpec, SyntaxNote

_DATE_FORMATS = ("RD8", "D8", "D6", "DT", "TM")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PRINTABLE = re.compile(r"[ -~]*")
_NUMBER = re.compile(r"-?[0-9]+")
_DECIMAL = re.compile(r"-?[0-9]*(?:\.[0-9]+)?")

# Valid CCYYMMDD dates from 1800 on; leap years per the Gregorian calendar.
_YEAR = r"(?:1[89]|[2-9][0-9])[0-9][0-9]"
_LEAP = r"(?:(?:1[89]|[2-9][0-9])(?:0[48]|[2468][048]|[13579][26])|(?:[2468][048]|[3579][26])00)"
_DATE8 = (
    rf"(?:{_YEAR}(?:(?:0[13578]|1[02])(?:0[1-9]|[12][0-9]|3[01])"
    rf"|(?:0[469]|11)(?:0[1-9]|[12][0-9]|30)|02(?:0[1-9]|1[0-9]|2[0-8]))|{_LEAP}0229)"
)
_TIME4 = r"(?:[01][0-9]|2[0-3])[0-5][0-9]"
_NEVER = r"(?!)"
_LITERAL = frozenset(".- +")  # characters the expressions write as data


@attrs.frozen
class Issue:
    """One element problem: its code and where (element, component; 1-based)."""

    code: ElementCode
    index: int
    component: int
    data_ele: str
    value: str
    message: str


def check_syntax(notes: tuple[SyntaxNote, ...], elements: tuple[str, ...]) -> list[Issue]:
    """X12 syntax notes (P, R, E, C, L); problems are reported at the note's first element."""
    out = []
    count = len(elements)
    for note in notes:
        present = [p < count and elements[p] != "" for p in note.positions]
        kind = note.kind
        if kind == "P":
            bad = any(present) and not all(present)
        elif kind == "R":
            bad = not any(present)
        elif kind == "E":
            bad = sum(present) > 1
        elif kind == "C":
            bad = present[0] and not all(present[1:])
        else:  # L
            bad = present[0] and not any(present[1:])
        if bad:
            code = ElementCode.EXCLUSION if kind == "E" else ElementCode.CONDITIONAL_MISSING
            out.append(
                Issue(code, note.positions[0], 0, "", "", f"syntax note {note.text} is not met")
            )
    return out


class ElementChecker:
    """Checks segments' elements; compiles and keeps one expression per (segment, delimiters)."""

    def __init__(self) -> None:
        self._compiled: dict[tuple[SegmentSpec, str, str, str], re.Pattern[str]] = {}

    def check(
        self,
        spec: SegmentSpec,
        elements: tuple[str, ...],
        element_sep: str,
        component_sep: str,
        repetition_sep: str,
    ) -> list[Issue]:
        pattern = self.pattern(spec, element_sep, component_sep, repetition_sep)
        if pattern.fullmatch(element_sep.join(elements)):
            return []
        return diagnose(spec, elements, component_sep, repetition_sep)

    def pattern(
        self, spec: SegmentSpec, element_sep: str, component_sep: str, repetition_sep: str
    ) -> re.Pattern[str]:
        """The fast path's expression for ``spec`` with these delimiters (compiled once)."""
        key = (spec, element_sep, component_sep, repetition_sep)
        pattern = self._compiled.get(key)
        if pattern is None:
            pattern = self._compiled[key] = re.compile(
                segment_pattern(spec, element_sep, component_sep, repetition_sep), re.DOTALL
            )
        return pattern


# -- the diagnosis ------------------------------------------------------------------------


def diagnose(
    spec: SegmentSpec, elements: tuple[str, ...], component_sep: str, repetition_sep: str
) -> list[Issue]:
    """Every element problem of a segment, in element order, then its syntax notes."""
    out: list[Issue] = []
    specs = spec.elements
    given = len(elements) - 1
    if given > len(specs):
        position = len(specs) + 1
        out.append(
            Issue(
                ElementCode.TOO_MANY_ELEMENTS,
                position,
                0,
                "",
                elements[position],
                f"{spec.id} has {given} elements; the guide defines {len(specs)}",
            )
        )
    formats: list[str] = []  # DTP03's format from DTP02
    qualifiers: list[str] = []  # types named by a 1250 format qualifier before a 1251 value
    for element in specs:
        value = elements[element.index] if element.index <= given else ""
        if element.is_composite:
            out += _each_repetition(
                element,
                value,
                repetition_sep,
                partial(_composite, element, component_sep=component_sep),
            )
            continue
        if spec.id == "DTP" and element.index == 2 and value in _DATE_FORMATS:
            formats = [value]
        if element.data_ele == "1250" and element.codes:
            qualifiers.extend(sorted(element.codes))
        if spec.id == "DTP" and element.index == 3:
            types = formats
        elif element.data_ele == "1251":
            types = qualifiers
        else:
            types = []
        if component_sep in value:
            out.append(
                Issue(
                    ElementCode.TOO_MANY_COMPONENTS,
                    element.index,
                    0,
                    element.data_ele,
                    value,
                    f"{element.ref} is a simple element but has components",
                )
            )
            continue
        out += _each_repetition(
            element, value, repetition_sep, partial(_simple, element, types=types)
        )
    if spec.syntax:
        out += check_syntax(spec.syntax, elements)
    return out


def _each_repetition(
    element: ElementSpec, value: str, repetition_sep: str, check: Callable[[str], list[Issue]]
) -> list[Issue]:
    """``check`` on each repetition of ``value``, or one issue when there are too many."""
    if not repetition_sep or repetition_sep not in value:
        return check(value)
    parts = value.split(repetition_sep)
    if len(parts) > element.repeat:
        return [
            Issue(
                ElementCode.TOO_MANY_REPETITIONS,
                element.index,
                element.component,
                element.data_ele,
                value,
                f"{element.ref} repeats {len(parts)} times; the most is {element.repeat}",
            )
        ]
    return [issue for part in parts for issue in check(part)]


def _composite(element: ElementSpec, value: str, component_sep: str) -> list[Issue]:
    components = value.split(component_sep) if value else []
    if not any(components):
        if element.usage == "R":
            return [
                Issue(
                    ElementCode.REQUIRED_MISSING,
                    element.index,
                    0,
                    element.data_ele,
                    "",
                    f"required composite {element.ref} ({element.name}) is missing",
                )
            ]
        return []
    if element.usage == "N":
        return [
            Issue(
                ElementCode.NOT_USED,
                element.index,
                0,
                element.data_ele,
                value,
                f"{element.ref} ({element.name}) is not used in this guide",
            )
        ]
    out = []
    specs = element.components
    if len(components) > len(specs):
        out.append(
            Issue(
                ElementCode.TOO_MANY_COMPONENTS,
                element.index,
                0,
                element.data_ele,
                value,
                f"{element.ref} has {len(components)} components; the guide defines {len(specs)}",
            )
        )
    for spec in specs:
        text = components[spec.component - 1] if spec.component <= len(components) else ""
        if not text and spec.component == 1 and element.usage != "R":
            continue  # pyx12 and the TR3: a situational composite's first component
        out += _simple(spec, text, [])
    return out


def _simple(element: ElementSpec, value: str, types: list[str]) -> list[Issue]:
    ref = element.ref

    def issue(code: ElementCode, message: str) -> Issue:
        return Issue(code, element.index, element.component, element.data_ele, value, message)

    if value == "":
        if element.usage == "R":
            return [
                issue(ElementCode.REQUIRED_MISSING, f"required {ref} ({element.name}) is missing")
            ]
        return []
    if element.usage == "N":
        return [issue(ElementCode.NOT_USED, f"{ref} ({element.name}) is not used in this guide")]
    out = []
    data_type = element.data_type
    numeric = data_type == "R" or data_type.startswith("N")
    length = len(value.replace("-", "").replace(".", "")) if numeric else len(value)
    if length < element.min_len:
        out.append(
            issue(ElementCode.TOO_SHORT, f"{ref} is too short: {length} < {element.min_len}")
        )
    if length > element.max_len:
        out.append(issue(ElementCode.TOO_LONG, f"{ref} is too long: {length} > {element.max_len}"))
    if _CONTROL.search(value):
        out.append(issue(ElementCode.INVALID_CHARACTER, f"{ref} holds a control character"))
        return out
    if data_type in ("AN", "ID") and value.endswith(" ") and len(value.rstrip()) >= element.min_len:
        out.append(issue(ElementCode.INVALID_CHARACTER, f"{ref} has trailing spaces"))
    if element.codes is not None and value not in element.codes:
        out.append(issue(ElementCode.INVALID_CODE, f"{value!r} is not a valid code for {ref}"))
    if not _type_ok(value, data_type):
        if data_type == "DT":
            out.append(issue(ElementCode.INVALID_DATE, f"{ref} is not a valid date"))
        elif data_type == "TM":
            out.append(issue(ElementCode.INVALID_TIME, f"{ref} is not a valid time"))
        else:
            out.append(
                issue(
                    ElementCode.INVALID_CHARACTER,
                    f"{ref} holds characters type {data_type} does not allow",
                )
            )
    if types and not any(_type_ok(value, t) for t in types):
        if "TM" in types:
            out.append(issue(ElementCode.INVALID_TIME, f"{ref} is not a valid time"))
        elif any(t in types for t in ("RD8", "DT", "D8", "D6")):
            out.append(
                issue(
                    ElementCode.INVALID_DATE,
                    f"{ref} is not a valid date for its format {'/'.join(types)}",
                )
            )
    if element.pattern and not re.search(element.pattern, value):
        out.append(
            issue(ElementCode.INVALID_CODE, f"{ref} does not have the form the guide requires")
        )
    return out


def _type_ok(value: str, data_type: str) -> bool:
    if not data_type:
        return True
    if data_type[0] == "N":
        return _NUMBER.fullmatch(value) is not None
    if data_type == "R":
        return _DECIMAL.fullmatch(value) is not None
    if data_type in ("AN", "ID"):
        return _PRINTABLE.fullmatch(value) is not None
    if data_type == "RD8":
        first, dash, last = value.partition("-")
        return bool(dash) and "-" not in last and _date(first, "D8") and _date(last, "D8")
    if data_type in ("DT", "D8", "D6"):
        return _date(value, data_type)
    if data_type == "TM":
        return _time(value)
    return True


def _date(value: str, data_type: str) -> bool:
    if (data_type == "D8" and len(value) != 8) or (data_type == "D6" and len(value) != 6):
        return False
    if not value.isdigit() or not value.isascii() or len(value) not in (6, 8, 12):
        return False
    if len(value) == 6:
        value = ("20" if int(value[:2]) < 50 else "19") + value
    year, month, day = int(value[:4]), int(value[4:6]), int(value[6:8])
    if year < 1800 or not 1 <= month <= 12:
        return False
    if month in (4, 6, 9, 11):
        last = 30
    elif month == 2:
        last = 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    else:
        last = 31
    if not 1 <= day <= last:
        return False
    return len(value) != 12 or _time(value[8:12])


def _time(value: str) -> bool:
    if not value.isdigit() or not value.isascii():
        return False
    if value[0:2] > "23" or value[2:4] > "59":
        return False
    if len(value) > 4:
        return 6 <= len(value) <= 8 and value[4:6] <= "59"
    return True


# -- the fast path --------------------------------------------------------------------------


def segment_pattern(
    spec: SegmentSpec, element_sep: str, component_sep: str, repetition_sep: str
) -> str:
    """A regular expression matching only segments (text without terminator) that break no
    element rule of ``spec`` and meet its syntax notes."""
    delimiters = {element_sep, component_sep, repetition_sep} - {""}
    if any(d.isalnum() or d in _LITERAL for d in delimiters):
        # The expression writes digits, letters, points, signs and spaces as literals: one
        # of them used as a delimiter could be read as data. Leave such files to the diagnosis.
        return _NEVER
    forbidden = "".join(re.escape(d) for d in sorted(delimiters))
    char = f"[^\\x00-\\x1f\\x7f-\\xff{forbidden}]"
    last_char = f"[^\\x00-\\x20\\x7f-\\xff{forbidden}]"
    sep = re.escape(element_sep)
    slots: list[tuple[str, bool]] = []  # (pattern, required), one per element or DTP02+03
    elements = spec.elements
    qualified = False  # a 1250 format qualifier came before (pyx12 then types 1251 by it)
    index = 0
    while index < len(elements):
        element = elements[index]
        if spec.id == "DTP" and element.index == 2 and index + 1 < len(elements):
            value = elements[index + 1]
            pattern = _dtp_pattern(element, value, sep, char, last_char)
            slots.append((pattern, element.usage == "R" or value.usage == "R"))
            index += 2
            continue
        if element.is_composite:
            pattern = _composite_pattern(element, re.escape(component_sep), char, last_char)
        elif element.data_ele == "1251" and qualified:
            # Typed by every format its qualifier allows (DMG02, PAT06): only D8 is simple.
            formats = [c for e in elements[:index] if e.data_ele == "1250" for c in e.codes or ()]
            if set(formats) == {"D8"}:
                pattern = _value_pattern(element, char, last_char, ["D8"])
            else:
                pattern = _NEVER if element.usage == "R" else ""
        else:
            pattern = _value_pattern(element, char, last_char, [])
        qualified = qualified or element.data_ele == "1250"
        slots.append((pattern, element.usage == "R"))
        index += 1
    required = max((i for i, (_, needed) in enumerate(slots) if needed), default=-1)
    tail = ""
    for i in reversed(range(len(slots))):
        pattern = slots[i][0]
        tail = f"(?:{sep}{pattern}{tail})?" if i > required else f"{sep}{pattern}{tail}"
    notes = "".join(_note_pattern(note, sep) for note in spec.syntax)
    return notes + re.escape(spec.id) + tail


def _note_pattern(note: SyntaxNote, sep: str) -> str:
    """A syntax note as lookaheads from the start of the segment: element ``p`` is present
    when the text has ``p`` separators and something other than one after them."""

    def present(position: int) -> str:
        return f"(?=(?:[^{sep}]*{sep}){{{position}}}[^{sep}])"

    def absent(position: int) -> str:
        return f"(?!(?:[^{sep}]*{sep}){{{position}}}[^{sep}])"

    first, *rest = note.positions
    if note.kind == "P":
        every = "".join(present(p) for p in note.positions)
        none = "".join(absent(p) for p in note.positions)
        return f"(?:{every}|{none})"
    if note.kind == "R":
        return "(?:" + "|".join(present(p) for p in note.positions) + ")"
    if note.kind == "E":
        pairs = [(a, b) for i, a in enumerate(note.positions) for b in note.positions[i + 1 :]]
        return "".join(f"(?!{present(a)}{present(b)})" for a, b in pairs)
    if note.kind == "C":
        return f"(?:{absent(first)}|{''.join(present(p) for p in rest)})"
    return f"(?:{absent(first)}|" + "|".join(present(p) for p in rest) + ")"  # L


def _dtp_pattern(
    qualifier: ElementSpec, value: ElementSpec, sep: str, char: str, last_char: str
) -> str:
    """DTP02 and DTP03 as one alternative per format qualifier."""
    if qualifier.is_composite or value.is_composite or not qualifier.codes:
        return _NEVER
    options = []
    for code in sorted(qualifier.codes):
        types = [code] if code in _DATE_FORMATS else []
        options.append(re.escape(code) + sep + _value_pattern(value, char, last_char, types))
    return "(?:" + "|".join(options) + ")"


def _composite_pattern(element: ElementSpec, sep: str, char: str, last_char: str) -> str:
    components = element.components
    if element.usage == "N":
        return ""
    if element.repeat > 1 or (element.usage == "R" and not any(c.usage == "R" for c in components)):
        return _NEVER if element.usage == "R" else ""  # left to the diagnosis
    parts = [_value_pattern(c, char, last_char, []) for c in components]
    required = max((i for i, c in enumerate(components) if c.usage == "R"), default=0)
    tail = ""
    for i in reversed(range(1, len(parts))):
        tail = f"(?:{sep}{parts[i]}{tail})?" if i > required else f"{sep}{parts[i]}{tail}"
    body = parts[0] + tail
    return body if element.usage == "R" else f"(?:{body})?"


def _value_pattern(element: ElementSpec, char: str, last_char: str, types: list[str]) -> str:
    """A non-empty valid value of a simple element (optional unless required)."""
    body = _present(element, char, last_char, types)
    if element.usage == "N":
        return ""
    return body if element.usage == "R" else f"(?:{body})?"


def _present(element: ElementSpec, char: str, last_char: str, types: list[str]) -> str:
    if element.pattern:
        return _NEVER
    low, high = element.min_len, element.max_len
    data_type = element.data_type
    if types:
        (kind,) = types
        if kind == "D8" and low <= 8 <= high:
            return _DATE8
        if kind == "RD8" and low <= 17 <= high:
            return f"{_DATE8}-{_DATE8}"
        if kind == "DT" and low <= 12 <= high:
            return _DATE8 + _TIME4
        return _NEVER
    if element.codes is not None:
        # The codes the diagnosis itself finds clean (length and type too), longest first.
        good = sorted(
            (c for c in element.codes if c and not _simple(element, c, [])),
            key=lambda c: (-len(c), c),
        )
        return "(?:" + "|".join(re.escape(c) for c in good) + ")" if good else _NEVER
    if data_type in ("AN", "ID"):
        low = max(low, 1)
        return f"{char}{{{low - 1},{high - 1}}}{last_char}" if high >= 1 else _NEVER
    if data_type.startswith("N"):
        return f"-?[0-9]{{{low},{high}}}"
    if data_type == "R":
        # Digits only, or a decimal point with low..high digits around it (the point and the
        # sign do not count towards the length).
        decimal = f"(?=[0-9.]{{{low + 1},{high + 1}}}(?![0-9.]))[0-9]*\\.[0-9]+"
        return f"-?(?:[0-9]{{{low},{high}}}|{decimal})"
    if data_type == "DT" and low == high == 8:
        return _DATE8
    if data_type == "TM" and low >= 4:
        return f"(?=[0-9]{{{low},{high}}}(?![0-9])){_TIME4}(?:[0-5][0-9](?:[0-9]{{1,2}})?)?"
    return _NEVER
