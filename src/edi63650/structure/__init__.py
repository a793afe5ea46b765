"""Implementation-guide validation (WEDI SNIP levels 1 and 2), compiled from pyx12's maps.

:class:`Structure` holds the compiled guides, the cached walking steps and the element
expressions; build one (it takes a fraction of a second) and pass it to every
:class:`~edi63650.reader.Reader` that should check structure. Per transaction set it makes a
:class:`TransactionCheck`, which takes the segments of that set one at a time and returns
findings carrying their 999 codes (:class:`~edi63650.findings.SyntaxDetail`).

In a structure-only read (``Reader(structure=..., claims=False)``) the check also serves as the
tokenizer's lane: :meth:`TransactionCheck.run` takes clean segment texts without their ever
becoming segments, which is what makes full syntax validation fast.
"""

from __future__ import annotations

import re

from edi63650.findings import Finding, Scope, Severity, SyntaxDetail
from edi63650.loops import plain
from edi63650.maps import Implementation
from edi63650.segment import Delimiters, Segment
from edi63650.structure.codes import ElementCode, SegmentCode
from edi63650.structure.elements import ElementChecker, Issue
from edi63650.structure.grammar import Grammar, Grammars, SegmentSpec
from edi63650.structure.walker import LaneTable, Problem, Steps, Walker

__all__ = ["ElementCode", "Grammars", "SegmentCode", "Structure", "TransactionCheck"]

#: What to do about each kind of problem, for the report.
#: Separators at the end of a segment (``REF*G1*PA778812*``).
TRAILING_SEPARATOR = "IG-TRAILING-SEPARATOR"

_FIXES = {
    SegmentCode.UNRECOGNIZED: "remove the segment or correct its id",
    SegmentCode.UNEXPECTED: "remove the segment or move it to the loop where the guide puts it",
    SegmentCode.OUT_OF_SEQUENCE: "move the segment to its place in the loop's order",
    SegmentCode.MISSING: "add the segment (or loop) the guide requires",
    SegmentCode.LOOP_REPEAT: "split the data or drop the extra loop",
    SegmentCode.SEGMENT_REPEAT: "drop the extra occurrences of the segment",
    SegmentCode.NOT_USED: "remove the segment: this guide does not use it",
}
_ELEMENT_FIXES = {
    ElementCode.REQUIRED_MISSING: "fill in the element",
    ElementCode.CONDITIONAL_MISSING: "fill in the elements the syntax note pairs together",
    ElementCode.TOO_MANY_ELEMENTS: "remove the extra elements",
    ElementCode.TOO_SHORT: "lengthen the value to the guide's minimum",
    ElementCode.TOO_LONG: "shorten the value to the guide's maximum",
    ElementCode.INVALID_CHARACTER: "use only characters the element's type allows",
    ElementCode.INVALID_CODE: "use one of the codes the guide lists for the element",
    ElementCode.INVALID_DATE: "send a real date as CCYYMMDD",
    ElementCode.INVALID_TIME: "send a real time as HHMM",
    ElementCode.EXCLUSION: "send only one of the mutually exclusive elements",
    ElementCode.TOO_MANY_REPETITIONS: "send no more repetitions than the guide allows",
    ElementCode.TOO_MANY_COMPONENTS: "remove the extra components",
    ElementCode.NOT_USED: "leave the element empty: this guide does not use it",
    ElementCode.PATTERN: "send the value in the form the guide requires",
}


#: What :meth:`TransactionCheck.feed` returns for a clean segment (never added to).
_CLEAN: tuple[list[Finding], list[Finding]] = ([], [])


class Structure:
    """Compiled guides and their caches; one per reader or validator, not shared by threads
    (the caches grow as files are read). Build with :meth:`load`."""

    def __init__(self, grammars: Grammars) -> None:
        self.grammars = grammars
        self._steps: dict[str, Steps] = {}  # by map name, made when a guide is first used
        self._checker = ElementChecker()
        self._lanes: dict[tuple[str, Delimiters], LaneTable] = {}

    @classmethod
    def load(cls) -> Structure:
        return cls(Grammars.load())

    def begin(
        self, st: Segment, implementation: Implementation | None, scope: Scope
    ) -> tuple[TransactionCheck | None, list[Finding]]:
        """Start checking the transaction set opened by ``st`` (numbered by ``scope``, which
        its findings carry); None when no map applies."""
        if implementation is None or not implementation.structure_map:
            return None, []
        name = implementation.structure_map
        steps = self._steps.get(name)
        if steps is None:
            grammar = self.grammars.get(name)
            if grammar is None:
                return None, []
            steps = self._steps[name] = Steps(grammar)
        check = TransactionCheck(
            steps, self._checker, implementation, self._lane(steps, st.delimiters), scope
        )
        return check, check.start(st)

    def _lane(self, steps: Steps, delimiters: Delimiters) -> LaneTable:
        key = (steps.grammar.map_name, delimiters)
        lane = self._lanes.get(key)
        if lane is None:
            element, component = delimiters.element, delimiters.component
            repetition = delimiters.repetition or ""
            checker = self._checker

            def pattern(spec: SegmentSpec) -> re.Pattern[str]:
                return checker.pattern(spec, element, component, repetition)

            lane = self._lanes[key] = LaneTable(steps, pattern, element, component)
        return lane


class TransactionCheck:
    """The structure of one transaction set (ST to SE), checked as its segments arrive."""

    def __init__(
        self,
        steps: Steps,
        checker: ElementChecker,
        implementation: Implementation,
        lane: LaneTable,
        scope: Scope,
    ) -> None:
        self._scope = scope
        self._steps = steps
        self._lane = lane
        self._grammar: Grammar = steps.grammar
        self._checker = checker
        self._walker = Walker(steps)
        self._source = f"TR3 {implementation.structure_as}"
        self._implementation = implementation

    def start(self, st: Segment) -> list[Finding]:
        """The ST, where the walk begins: its elements, and a note when its guide is not the
        map's. ST03 routes the transaction set: a version the map does not list (a later
        errata read with the closest map) is the envelope layer's to judge, not a bad code."""
        own = [f for f in self._elements(st, self._walker.node) if f.element != "ST03"]
        version = st.get(3)
        target = self._implementation.structure_as
        if not version or version == target:
            return own
        return [
            Finding.at(
                st,
                "IG-CLOSEST-MAP",
                Severity.INFO,
                f"{version} is checked against the {target} implementation guide (the closest "
                f"map there is): requirements {version} changes from {target} are not checked",
                element="ST03",
                source=f"pyx12 map {self._grammar.map_name}",
                scope=self._scope,
            ),
            *own,
        ]

    def feed(self, segment: Segment) -> tuple[list[Finding], list[Finding]]:
        """Check one segment: (findings about loops it closed, findings about itself).

        The first list belongs before the claim the segment closes (a claim's missing segments
        are found at the next claim's CLM); the second after it. A clean segment takes the
        fast lane, as in a structure-only read.
        """
        if self._walker.run([segment.text], 0, self._lane):
            return _CLEAN
        spec, closed, own = self._walker.walk(
            segment.id, segment.elements, segment.delimiters.component
        )
        before = [self._problem(segment, p) for p in closed]
        after = [self._problem(segment, p) for p in own]
        if spec is not None:
            after += self._elements(segment, spec)
            if segment.text.endswith(segment.delimiters.element):
                after.append(self._trailing(segment))
        return before, after

    def _trailing(self, segment: Segment) -> Finding:
        """Separators at the end of a segment: TR3 B.1.1.3.10 (absence of data) says they
        must be left out. Answered as pyx12 does: IK3 with IK304 8, no IK4."""
        return Finding.at(
            segment,
            TRAILING_SEPARATOR,
            Severity.ERROR,
            f"{segment.id} ends with element separators; separators after the last element "
            "with data must be left out",
            fix=f"remove the trailing {segment.delimiters.element!r} from the {segment.id} segment",
            source=f"{self._source} appendix B.1.1.3.10 (absence of data)",
            claim_id=self._walker.claim_id,
            syntax=SyntaxDetail(segment_code=SegmentCode.ELEMENT_ERRORS.value),
            scope=self._scope,
        )

    def run(self, parts: list[str], start: int) -> int:
        """The fast lane: take segment texts from ``parts[start]`` on while each is clean
        (they need no findings); return how many were taken. A
        :data:`~edi63650.tokenizer.Lane` for a structure-only read, and the reader's way past
        the clean segments of a run when it builds claims."""
        return self._walker.run(parts, start, self._lane)

    def _elements(self, segment: Segment, spec: SegmentSpec) -> list[Finding]:
        delimiters = segment.delimiters
        issues = self._checker.check(
            spec,
            segment.elements,
            delimiters.element,
            delimiters.component,
            delimiters.repetition or "",
        )
        if not issues:
            return []
        claim_id = self._walker.claim_id
        return [self._issue(segment, spec, issue, claim_id) for issue in issues]

    def _problem(self, segment: Segment, problem: Problem) -> Finding:
        named = problem.segment
        return Finding.at(
            segment,
            problem.code.rule,
            Severity.ERROR,
            problem.message,
            fix=_FIXES[problem.code],
            source=f"{self._source} {plain(problem.path)}",
            path=problem.path,
            claim_id=problem.claim_id,
            syntax=SyntaxDetail(
                segment_code=problem.code.value,
                segment_id=named.id if named is not None else "",
            ),
            scope=self._scope,
        )

    def _issue(
        self, segment: Segment, spec: SegmentSpec, issue: Issue, claim_id: str | None
    ) -> Finding:
        ref = f"{spec.id}{issue.index:02d}" + (f"-{issue.component:02d}" if issue.component else "")
        return Finding.at(
            segment,
            issue.code.rule,
            Severity.ERROR,
            issue.message,
            element=ref,
            fix=_ELEMENT_FIXES[issue.code],
            source=f"{self._source} {spec.path} {ref}",
            path=self._walker.path(spec.path),
            claim_id=claim_id,
            syntax=SyntaxDetail(
                segment_code=SegmentCode.ELEMENT_ERRORS.value,
                element_code=issue.code.value,
                element=issue.index,
                component=issue.component,
                data_element=issue.data_ele,
                value=issue.value,
            ),
            scope=self._scope,
        )
