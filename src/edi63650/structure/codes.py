"""The 999 codes structural findings carry (ASC X12C 005010X231A1).

IK304 is X12 element 720 (implementation segment syntax error code); IK403 is element 723
(implementation data element syntax error code). Each finding of the structure layer has a rule
id made from the code's name (``IG-MISSING-SEGMENT``), so reports, filters and the 999 agree.
"""

from __future__ import annotations

import enum


class SegmentCode(enum.StrEnum):
    """IK304, X12 element 720."""

    UNRECOGNIZED = "1"  # unrecognized segment id
    UNEXPECTED = "2"  # unexpected segment
    MISSING = "3"  # required segment missing
    LOOP_REPEAT = "4"  # loop occurs over maximum times
    SEGMENT_REPEAT = "5"  # segment exceeds maximum use
    OUT_OF_SEQUENCE = "7"  # segment not in proper sequence
    ELEMENT_ERRORS = "8"  # segment has data element errors
    NOT_USED = "I4"  # implementation "not used" segment present

    @property
    def rule(self) -> str:
        return _SEGMENT_RULES[self]


class ElementCode(enum.StrEnum):
    """IK403, X12 element 723."""

    REQUIRED_MISSING = "1"  # required data element missing
    CONDITIONAL_MISSING = "2"  # conditional required data element missing
    TOO_MANY_ELEMENTS = "3"  # too many data elements
    TOO_SHORT = "4"  # data element too short
    TOO_LONG = "5"  # data element too long
    INVALID_CHARACTER = "6"  # invalid character in data element
    INVALID_CODE = "7"  # invalid code value
    INVALID_DATE = "8"  # invalid date
    INVALID_TIME = "9"  # invalid time
    EXCLUSION = "10"  # exclusion condition violated
    TOO_MANY_REPETITIONS = "12"  # too many repetitions
    TOO_MANY_COMPONENTS = "13"  # too many components
    NOT_USED = "I10"  # implementation "not used" data element present
    PATTERN = "I12"  # implementation pattern match failure

    @property
    def rule(self) -> str:
        return _ELEMENT_RULES[self]


_SEGMENT_RULES = {
    SegmentCode.UNRECOGNIZED: "IG-UNRECOGNIZED-SEGMENT",
    SegmentCode.UNEXPECTED: "IG-UNEXPECTED-SEGMENT",
    SegmentCode.MISSING: "IG-MISSING-SEGMENT",
    SegmentCode.LOOP_REPEAT: "IG-LOOP-REPEAT",
    SegmentCode.SEGMENT_REPEAT: "IG-SEGMENT-REPEAT",
    SegmentCode.OUT_OF_SEQUENCE: "IG-OUT-OF-SEQUENCE",
    SegmentCode.ELEMENT_ERRORS: "IG-ELEMENT",
    SegmentCode.NOT_USED: "IG-SEGMENT-NOT-USED",
}

_ELEMENT_RULES = {
    ElementCode.REQUIRED_MISSING: "IG-REQUIRED-ELEMENT",
    ElementCode.CONDITIONAL_MISSING: "IG-CONDITIONAL-ELEMENT",
    ElementCode.TOO_MANY_ELEMENTS: "IG-TOO-MANY-ELEMENTS",
    ElementCode.TOO_SHORT: "IG-TOO-SHORT",
    ElementCode.TOO_LONG: "IG-TOO-LONG",
    ElementCode.INVALID_CHARACTER: "IG-INVALID-CHARACTER",
    ElementCode.INVALID_CODE: "IG-INVALID-CODE",
    ElementCode.INVALID_DATE: "IG-INVALID-DATE",
    ElementCode.INVALID_TIME: "IG-INVALID-TIME",
    ElementCode.EXCLUSION: "IG-EXCLUSION",
    ElementCode.TOO_MANY_REPETITIONS: "IG-TOO-MANY-REPETITIONS",
    ElementCode.TOO_MANY_COMPONENTS: "IG-TOO-MANY-COMPONENTS",
    ElementCode.NOT_USED: "IG-ELEMENT-NOT-USED",
    ElementCode.PATTERN: "IG-PATTERN",
}
