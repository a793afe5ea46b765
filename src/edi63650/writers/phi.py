"""Patient data kept out of the reports people read: the values of person-identifying elements
in segment text are masked (``#`` for each character, so a caret under an element still
lines up) unless the user asked to see them (``--show-phi``).

What is masked (TR3 005010X222A1/X223A2 loops 2010BA subscriber, 2010CA patient, 2330A other
subscriber): the person's name and id in ``NM1*IL``/``NM1*QC`` (NM103-NM105, NM107, NM109),
the address (N3, N4 01-03 and 07) and other ids (REF02) that follow such an NM1 in its loop,
and every birth date (DMG02). Everything else (providers, payers, codes, amounts) stays.
"""

from __future__ import annotations

import re

#: NM101 entity codes of people whose data is PHI: insured/subscriber, patient.
PEOPLE = frozenset({"IL", "QC"})

#: Positions masked in each segment: NM1 of a person; what follows in the person's loop.
_NM1 = frozenset({3, 4, 5, 7, 9})
_IN_LOOP = {"N3": frozenset({1, 2}), "N4": frozenset({1, 2, 3, 7}), "REF": frozenset({2})}
_ALWAYS = {"DMG": frozenset({2})}

#: Segments that end a person's name loop.
_LOOP_ENDS = frozenset({"HL", "CLM", "LX", "SBR", "PAT", "SE", "NM1"})

MASK = "#"

_ID = re.compile(r"[A-Za-z0-9]*")


def mask_elements(text: str, separator: str, positions: frozenset[int]) -> str:
    """``text`` with the elements at ``positions`` (1-based) masked, character for character."""
    parts = text.split(separator)
    for index in positions:
        if index < len(parts):
            parts[index] = MASK * len(parts[index])
    return separator.join(parts)


class PhiMask:
    """Masks segments shown in file order (it follows the loops: an address after
    ``NM1*IL`` is the subscriber's)."""

    def __init__(self) -> None:
        self._person = False

    def segment(self, text: str, separator: str) -> str:
        sid, _, rest = text.partition(separator)
        if sid in _LOOP_ENDS:
            self._person = sid == "NM1" and rest.partition(separator)[0] in PEOPLE
            return mask_elements(text, separator, _NM1) if self._person else text
        positions = _ALWAYS.get(sid) or (_IN_LOOP.get(sid) if self._person else None)
        return mask_elements(text, separator, positions) if positions else text


def mask_finding_segment(text: str, path: str) -> str:
    """A finding's segment text masked by what its segment is and the loop its path names
    (``…/2010BA/N3``); the separator follows the segment id."""
    sid = _ID.match(text)[0]  # type: ignore[index]  # (the pattern matches any text)
    if len(text) <= len(sid):
        return text
    separator = text[len(sid)]
    if sid == "NM1":
        entity = text.split(separator)[1:2]
        return mask_elements(text, separator, _NM1) if entity and entity[0] in PEOPLE else text
    if sid in _ALWAYS:
        return mask_elements(text, separator, _ALWAYS[sid])
    if sid in _IN_LOOP and any(loop in path for loop in ("2010BA", "2010CA", "2330A")):
        return mask_elements(text, separator, _IN_LOOP[sid])
    return text
