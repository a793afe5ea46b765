"""Walking a transaction set through its implementation guide, one segment at a time.

For each segment the walker finds its place in the guide the way pyx12 does (so that the two
agree on where a segment belongs): look forward from the current segment through the siblings
at the same or a later position, entering a child loop when the segment starts it; when nothing
matches, go up one loop and look forward from that loop's position (which includes the loop
itself: a repeat); at the top, the segment has no place. Required segments and loops skipped
on the way are missing, unless a segment at the same position satisfies them.

Where a segment goes depends only on the current place and on the segment's id and key element
(``NM1*85`` is not ``NM1*87``), never on counts; so each (place, id, key) is searched once and
the answer, a :class:`Step`, is cached. Counts (segment uses, loop repeats) are kept per open
loop and checked when a step is taken.

Cascades are suppressed: after a segment that has no place, the walker stays where it was, and
further unplaced segments are not reported until one is placed again.

:meth:`Walker.run` is the fast lane of a structure-only read: it takes segments as text,
straight from the tokenizer's cut, while each is clean (placed with no problem, every element
rule met), and stops at the first that is not, which then goes the full way as a segment. Its
:class:`LaneTable` caches, per (place, id, key), the step and the element expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import attrs

from edi63650.loops import LINE_LOOP, indexed
from edi63650.structure.codes import SegmentCode
from edi63650.structure.grammar import Grammar, LoopSpec, SegmentSpec

#: Segments the lane never takes: the reader reads envelopes (ST and SE are in the guide too).
ENVELOPE_IDS = frozenset({"ISA", "IEA", "GS", "GE", "ST", "SE", "TA1"})

#: Entries a cache of steps or a lane table keeps at most (keys come from the data, so a hostile
#: file could grow them).
CACHE_LIMIT = 20_000

#: Segment texts a lane table remembers as clean, at most (a file repeats many segments whole:
#: the same payer, address, date or service line; a set lookup is cheaper than the expression).
CLEAN_LIMIT = 50_000

#: Loop ids that start a claim: findings inside are confined to that claim.
CLAIM_LOOP = "2300"


@attrs.frozen
class Expected:
    """A required segment or loop the search went past: missing if it has not occurred in
    the loop at ``depth``."""

    depth: int
    node: SegmentSpec | LoopSpec
    segment: SegmentSpec  # what the 999 names: the segment, or the loop's first segment


@attrs.frozen
class Step:
    """Where a segment goes from a place: ``None`` when it has no place."""

    target: SegmentSpec | None
    pops: int  # loops left
    enters: LoopSpec | None  # loop entered (or repeated) by the segment
    expected: tuple[Expected, ...]


@attrs.frozen
class Problem:
    """A structural problem with the 999 code of the segment; the walker's output."""

    code: SegmentCode
    segment: SegmentSpec | None  # the guide's segment concerned (the missing one, say)
    message: str
    claim_id: str | None
    path: str


class Steps:
    """The cache of steps for one grammar; shared by the walkers of one reader."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self._cache: dict[tuple[SegmentSpec, str, str], Step] = {}
        self._ancestors: dict[SegmentSpec, tuple[LoopSpec, ...]] = {}

    def ancestors(self, node: SegmentSpec) -> tuple[LoopSpec, ...]:
        found = self._ancestors.get(node)
        if found is None:
            found = self._ancestors[node] = tuple(self.grammar.ancestors(node))
        return found

    def key(self, sid: str, elements: tuple[str, ...], component: str) -> str:
        """The values of the elements that tell segments with id ``sid`` apart."""
        positions = self.grammar.key_positions.get(sid)
        if not positions:
            return ""
        values = []
        for index, part in positions:
            value = elements[index] if index < len(elements) else ""
            if part:
                value = value.split(component, 1)[0]
            values.append(value)
        return "\x00".join(values)

    def step(self, node: SegmentSpec, sid: str, elements: tuple[str, ...], component: str) -> Step:
        key = (node, sid, self.key(sid, elements, component))
        found = self._cache.get(key)
        if found is None:
            found = self._search(node, sid, elements, component)
            if len(self._cache) < CACHE_LIMIT:  # key values come from the data: stay bounded
                self._cache[key] = found
        return found

    def __len__(self) -> int:
        """Steps kept (at most :data:`CACHE_LIMIT`)."""
        return len(self._cache)

    def _search(
        self, node: SegmentSpec, sid: str, elements: tuple[str, ...], component: str
    ) -> Step:
        loops = self.ancestors(node)
        depth = len(loops) - 1
        start = node.order
        expected: list[Expected] = []
        pops = 0
        here: SegmentSpec | LoopSpec = node  # where the walk is: it has occurred, never missing
        while True:
            loop = loops[depth]
            for child in loop.children:
                if child.order < start:
                    continue
                if isinstance(child, SegmentSpec):
                    if child.id == sid and child.matches(elements, component):
                        if child is loop.children[0] and depth > 0:
                            # The loop's first segment again: the loop repeats. What the
                            # closing repeat still lacks is missing too (pyx12 misses it when
                            # the first segment follows itself: LX, LX).
                            rest = [
                                Expected(depth, other, _first(other))
                                for other in loop.children[1:]
                                if other.usage == "R" and other.order >= start
                            ]
                            return Step(child, pops + 1, loop, (*expected, *rest))
                        kept = tuple(
                            e
                            for e in expected
                            if e.segment.pos != child.pos and e.segment is not child
                        )
                        return Step(child, pops, None, kept)
                    if child.usage == "R" and child is not here:
                        expected.append(Expected(depth, child, child))
                else:
                    first = child.first
                    if first.id == sid and first.matches(elements, component):
                        return Step(first, pops, child, tuple(expected))
                    if child.usage == "R" and child is not here:
                        expected.append(Expected(depth, child, first))
            if depth == 0:
                return Step(None, 0, None, ())
            start = loop.order
            here = loop
            pops += 1
            depth -= 1

    def misplaced(
        self, node: SegmentSpec, sid: str, elements: tuple[str, ...], component: str
    ) -> SegmentCode:
        """Why a segment has no place: used elsewhere in the open loops (out of sequence),
        elsewhere in the guide (unexpected), or nowhere in it (unrecognized)."""
        if sid not in self.grammar.ids:
            return SegmentCode.UNRECOGNIZED
        for loop in self.ancestors(node):
            for child in loop.children:
                first = child if isinstance(child, SegmentSpec) else child.first
                if first.id == sid and first.matches(elements, component):
                    return SegmentCode.OUT_OF_SEQUENCE
        return SegmentCode.UNEXPECTED


@attrs.frozen(eq=False)
class Entry:
    """A step the lane may take from one place, ready for the hot loop."""

    pattern: re.Pattern[str]  # the element expression the segment's text must match
    plain: bool  # no loop left or entered, nothing required skipped
    target: SegmentSpec
    counted: SegmentSpec | LoopSpec  # the segment, or the loop it enters
    limit: int  # the segment's maximum use, or the loop's repeat
    row: Row  # the entries from ``target`` on
    step: Step
    clean: set[str] = attrs.Factory(set)  # texts that matched ``pattern`` (see CLEAN_LIMIT)


@attrs.frozen(eq=False)
class Cell:
    """The entries for one segment id from one place: by the value of the id's key element
    (``element``, and ``component`` within it; element 0: the id has no key)."""

    element: int
    component: int
    by_key: dict[str, Entry | None]


#: The cells of one place, by segment id.
Row = dict[str, Cell]


class LaneTable:
    """The fast lane's entries for one grammar and one set of delimiters, as rows per place;
    shared by the walkers of one structure. ``pattern`` gives a guide segment's expression."""

    def __init__(
        self,
        steps: Steps,
        pattern: Callable[[SegmentSpec], re.Pattern[str]],
        element_sep: str,
        component_sep: str,
    ) -> None:
        self.steps = steps
        self.sep = element_sep
        self.component = component_sep
        self._rows: dict[SegmentSpec, Row] = {}
        self._ids = steps.grammar.ids - ENVELOPE_IDS
        self._pattern = pattern
        self._size = 0
        self.remembered = 0  # clean texts the entries hold (at most CLEAN_LIMIT)

    def row(self, node: SegmentSpec) -> Row:
        found = self._rows.get(node)
        if found is None:
            found = self._rows[node] = {}
        return found

    def entry(self, node: SegmentSpec, sid: str, part: str) -> Entry | None:
        """Make (and keep) the entry for a segment text from ``node``; None: not for the lane
        (no place, or one that is always a problem, or an id the lane leaves to the reader)."""
        elements = tuple(part.split(self.sep))
        positions = self.steps.grammar.key_positions.get(sid, ((0, 0),))
        usable = sid in self._ids and len(positions) == 1
        entry = self._make(node, sid, elements) if usable else None
        if self._size >= CACHE_LIMIT:  # ids and keys come from the data: keep the table bounded
            return entry
        row = self.row(node)
        cell = row.get(sid)
        if cell is None:
            element, component = positions[0] if usable else (0, 0)  # else: always says no
            cell = row[sid] = Cell(element, component, {})
            self._size += 1
        key = self.steps.key(sid, elements, self.component) if cell.element else ""
        cell.by_key[key] = entry
        self._size += 1
        return entry

    def __len__(self) -> int:
        """Cells and entries kept (at most :data:`CACHE_LIMIT`)."""
        return self._size

    def _make(self, node: SegmentSpec, sid: str, elements: tuple[str, ...]) -> Entry | None:
        step = self.steps.step(node, sid, elements, self.component)
        target = step.target
        loop = step.enters
        if target is None or target.usage == "N" or (loop is not None and loop.usage == "N"):
            return None
        return Entry(
            pattern=self._pattern(target),
            plain=not (step.pops or loop or step.expected),
            target=target,
            counted=target if loop is None else loop,
            limit=target.max_use if loop is None else loop.repeat,
            row=self.row(target),
            step=step,
        )


class Walker:
    """The state of one transaction set: the current place, open loops and their counts."""

    def __init__(self, steps: Steps) -> None:
        self._steps = steps
        start = steps.grammar.start()
        self._node = start
        self._loops: list[LoopSpec] = [steps.grammar.root]
        self._counts: list[dict[object, int]] = [{start: 1}]
        self._claim_id: str | None = None
        self._claim_depth = 0  # depth of the open 2300 loop, 0 when none
        self._line: str | None = None  # LX01 of the open 2400 loop
        self._line_depth = 0
        self._lost = False
        self._row: Row = {}  # the lane's row of _row_of (the place where run last stopped)
        self._row_of: SegmentSpec | None = None

    @property
    def node(self) -> SegmentSpec:
        return self._node

    @property
    def claim_id(self) -> str | None:
        return self._claim_id

    def path(self, path: str) -> str:
        """A guide path with the open service line marked (``2400[3]``, :mod:`edi63650.loops`)."""
        return indexed(path, self._line) if self._line_depth else path

    def walk(
        self, sid: str, elements: tuple[str, ...], component: str
    ) -> tuple[SegmentSpec | None, list[Problem], list[Problem]]:
        """Place a segment. Returns its guide segment (None when it has no place), the problems
        of the loops it closed (belonging to the claim that was open), and its own problems."""
        steps = self._steps
        step = steps.step(self._node, sid, elements, component)
        target = step.target
        if target is None:
            if self._lost:
                return None, [], []
            self._lost = True
            code = steps.misplaced(self._node, sid, elements, component)
            claim = self._claim_id if sid not in ("HL", "CLM") else None
            where = self._node.path.rsplit("/", 1)[0] or "header"
            return (
                None,
                [],
                [
                    Problem(
                        code,
                        None,
                        _MESSAGES[code].format(sid=sid, where=where),
                        claim,
                        self.path(self._node.path),
                    )
                ],
            )
        self._lost = False
        counts = self._counts
        closed: list[Problem] = []
        for expected in step.expected:
            seen_here = counts[expected.depth]
            if seen_here.get(expected.node, 0) == 0 and (_REPORTED, expected.node) not in seen_here:
                seen_here[(_REPORTED, expected.node)] = 1  # once per loop occurrence
                missing = expected.segment
                what = (
                    f"required loop {expected.node.id} ({expected.node.name})"
                    if isinstance(expected.node, LoopSpec)
                    else f"required segment {missing.id} ({missing.name})"
                )
                claim = (
                    self._claim_id
                    if self._claim_depth and expected.depth >= self._claim_depth
                    else None
                )
                closed.append(
                    Problem(
                        SegmentCode.MISSING,
                        missing,
                        f"{what} is missing",
                        claim,
                        self.path(missing.path),
                    )
                )
        seen = self._take(step, target, lambda: elements[1] if len(elements) > 1 else "")
        own: list[Problem] = []
        loop = step.enters
        if loop is not None:
            if loop.usage == "N":
                own.append(
                    self._problem(
                        SegmentCode.NOT_USED, target, f"loop {loop.id} is not used in this guide"
                    )
                )
            elif seen > loop.repeat:
                own.append(
                    self._problem(
                        SegmentCode.LOOP_REPEAT,
                        target,
                        f"loop {loop.id} occurs {seen} times; the most is {loop.repeat}",
                    )
                )
        elif target.usage == "N":
            own.append(
                self._problem(
                    SegmentCode.NOT_USED, target, f"{target.id} is not used here in this guide"
                )
            )
        elif seen > target.max_use:
            own.append(
                self._problem(
                    SegmentCode.SEGMENT_REPEAT,
                    target,
                    f"{target.id} occurs {seen} times here; the most is {target.max_use}",
                )
            )
        return target, closed, own

    def run(self, parts: list[str], start: int, lane: LaneTable) -> int:
        """Take segment texts from ``parts[start]`` on while each is clean; return how many
        were taken. What :meth:`walk` and the element checks would do for a clean segment is
        done here without making it a segment; the first that is not clean is left for them.
        (The hot loop of a structure-only read: the common step, a segment in the same loop,
        is a few dictionary lookups and one regular expression.)
        """
        node = self._node
        counts = self._counts
        here = counts[-1]
        row = self._row if self._row_of is node else lane.row(node)
        sep = lane.sep
        index = start
        for index in range(start, len(parts)):
            part = parts[index]
            sid, _, rest = part.partition(sep)
            cell = row.get(sid)
            if cell is None:
                entry = lane.entry(node, sid, part)
            else:
                element = cell.element
                if not element:
                    key = ""
                elif element == 1:
                    key = rest.partition(sep)[0]
                else:
                    key = _element(rest, sep, element - 1)
                if cell.component:
                    key = key.partition(lane.component)[0]
                try:
                    entry = cell.by_key[key]
                except KeyError:  # a key not seen from here yet
                    entry = lane.entry(node, sid, part)
            if entry is None:
                break
            if part not in entry.clean:
                if part.endswith(sep) or entry.pattern.fullmatch(part) is None:
                    break  # (trailing separators are a finding: TR3 B.1.1.3.10)
                if lane.remembered < CLEAN_LIMIT:
                    entry.clean.add(part)
                    lane.remembered += 1
            if entry.plain:
                seen = here.get(entry.target, 0) + 1
                if seen > entry.limit:
                    break
                here[entry.target] = seen
            elif not self._advance(entry, part, lane):
                break
            else:
                here = counts[-1]
            node = entry.target
            row = entry.row
        else:
            index = len(parts)
        if index > start:
            self._node = node
            self._lost = False
            self._row, self._row_of = row, node
        return index - start

    def _advance(self, entry: Entry, part: str, lane: LaneTable) -> bool:
        """The lane's less common step (a loop left or entered, required segments passed):
        take it when clean, else change nothing and say no."""
        step = entry.step
        counts = self._counts
        if step.expected and not all(counts[e.depth].get(e.node) for e in step.expected):
            return False  # something required is missing: the full walk reports it
        if counts[-1 - step.pops].get(entry.counted, 0) >= entry.limit:
            return False  # one use or repeat too many: the full walk reports it
        self._take(step, entry.target, lambda: _element(part, lane.sep, 1))
        return True

    def _take(self, step: Step, target: SegmentSpec, first: Callable[[], str]) -> int:
        """Move to ``target``: leave the loops the step leaves, enter (or repeat) the one it
        enters, and count the use. Returns that count (of the segment here, or of the loop in
        its parent), for the caller to hold against its limit. ``first`` reads the segment's
        first element: CLM01 when the step starts a claim, LX01 when it starts a line."""
        counts = self._counts
        loops = self._loops
        if step.pops:
            del loops[-step.pops :]
            del counts[-step.pops :]
            if self._claim_depth >= len(loops):
                self._claim_id, self._claim_depth = None, 0
            if self._line_depth >= len(loops):
                self._line, self._line_depth = None, 0
        loop = step.enters
        counted: SegmentSpec | LoopSpec = target if loop is None else loop
        here = counts[-1]
        seen = here.get(counted, 0) + 1
        here[counted] = seen
        if loop is not None:
            loops.append(loop)
            counts.append({target: 1})
            if loop.id == CLAIM_LOOP:
                self._claim_id = first()
                self._claim_depth = len(loops) - 1
            elif loop.id == LINE_LOOP:
                self._line = first()
                self._line_depth = len(loops) - 1
        self._node = target
        return seen

    def _problem(self, code: SegmentCode, segment: SegmentSpec, message: str) -> Problem:
        return Problem(code, segment, message, self._claim_id, self.path(segment.path))


_REPORTED = "reported missing"


def _element(text: str, separator: str, index: int) -> str:
    """Element ``index`` of a segment's text, or ``""``."""
    fields = text.split(separator, index + 1)
    return fields[index] if index < len(fields) else ""


def _first(node: SegmentSpec | LoopSpec) -> SegmentSpec:
    return node if isinstance(node, SegmentSpec) else node.first


_MESSAGES = {
    SegmentCode.UNRECOGNIZED: "{sid} is not a segment of this implementation guide",
    SegmentCode.UNEXPECTED: "{sid} cannot occur here (after {where})",
    SegmentCode.OUT_OF_SEQUENCE: "{sid} is out of sequence: its place in {where} is earlier",
}
