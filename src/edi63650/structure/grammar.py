"""The implementation guide as lookup tables, compiled once from pyx12's XML maps.

pyx12 ships the TR3 structure of each transaction set as an XML map (loops, segments, elements,
usage, repeat counts, code lists, syntax notes) plus a data-element dictionary (``dataele.xml``:
type and length of every X12 element) and external code sets (``codes.xml``). We read those
files with lxml, through :mod:`importlib.resources`, and turn them into frozen objects that the
walker and the element checker use without touching XML again. Nothing here is global: a
:class:`Grammars` value is built once by the caller and passed in.

Two changes to the map's shape make walking simpler without changing its meaning:

- *wrapper* loops (``HEADER``, ``DETAIL``, ``FOOTER``), which group loops but start with no
  segment of their own, are flattened into the ``ST_LOOP``; their children keep their order
  through a two-part sort key (wrapper position, child position);
- only the ``ST_LOOP`` is compiled: ISA, GS, GE and IEA belong to the envelope layer.
"""

from __future__ import annotations

import importlib.resources
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from edi63650 import cache
from edi63650.errors import MapError

if TYPE_CHECKING:  # lxml is imported where a map is read: a cached start needs none
    from lxml import etree

#: The pyx12 package whose ``map/`` folder holds the maps.
MAP_PACKAGE = "pyx12"

#: Maximum count used for ">1" (unbounded) repeats and uses.
UNBOUNDED = 1 << 30


@attrs.frozen(eq=False)
class ElementSpec:
    """One element or component of a segment, as the TR3 defines it.

    ``ref`` is the TR3 name (``CLM05``, ``CLM05-03``); ``index`` the 1-based element position in
    the segment and ``component`` the 1-based position in a composite (0 for a simple element
    or for the composite itself). ``data_ele`` is the X12 dictionary number the 999 reports in
    IK402. A composite has ``components``; its own type and lengths are unused.
    """

    ref: str
    index: int
    component: int
    name: str
    usage: str  # R required, S situational, N not used
    data_ele: str
    data_type: str  # AN, ID, DT, TM, N0..N9, R, B
    min_len: int
    max_len: int
    codes: frozenset[str] | None  # the map's valid codes, or an external code set's
    external: str  # name of the external code set ("states", "country", ...) or ""
    pattern: str  # a regular expression the map gives for the value, or ""
    repeat: int  # maximum repetitions (1: not repeatable)
    is_composite: bool = False
    components: tuple[ElementSpec, ...] = ()


@attrs.frozen
class SyntaxNote:
    """An X12 syntax note on a segment (X12.6 section 3.8.3); positions are 1-based.

    P paired: all or none; R required: at least one; E exclusion: at most one;
    C conditional: if the first, then all the others; L list conditional: if the first, then
    at least one of the others.
    """

    kind: str
    positions: tuple[int, ...]

    @property
    def text(self) -> str:
        return self.kind + "".join(f"{p:02d}" for p in self.positions)


@attrs.frozen(eq=False)
class SegmentSpec:
    """A segment at one place of the implementation guide (``NM1`` of 2010AA, say)."""

    id: str
    name: str
    usage: str
    pos: int  # the map's position number (pyx12 compares it to drop pending missing errors)
    order: tuple[int, int]  # sort key within the (flattened) loop
    max_use: int
    elements: tuple[ElementSpec, ...]
    syntax: tuple[SyntaxNote, ...]
    key: tuple[int, int, frozenset[str]] | None  # (element, component, codes) telling it apart
    loop: str  # id of the loop holding it (``2010AA``)
    path: str  # loop path, e.g. ``2000A/2000B/2300/2400/SV1``

    def matches(self, elements: tuple[str, ...], component: str) -> bool:
        """Does a segment with these elements belong here? (The id is already equal.)"""
        key = self.key
        if key is None:
            return True
        index, position, codes = key
        value = elements[index] if index < len(elements) else ""
        if position:
            value = value.split(component, 1)[0]
        return value in codes


@attrs.frozen(eq=False)
class LoopSpec:
    """A loop: its first segment starts it; ``children`` are in the map's order."""

    id: str
    name: str
    usage: str
    pos: int
    order: tuple[int, int]
    repeat: int
    children: tuple[SegmentSpec | LoopSpec, ...]
    path: str

    @property
    def first(self) -> SegmentSpec:
        child = self.children[0]
        if not isinstance(child, SegmentSpec):
            raise MapError(f"loop {self.id} does not start with a segment")
        return child


@attrs.frozen(eq=False)
class Grammar:
    """One implementation guide, compiled: the transaction-set loop and its parents' table.

    ``parents`` maps every node to the loop that holds it (the ``ST_LOOP`` maps to None);
    ``depth`` gives the number of loops above a node.
    """

    version: str  # the guide the map describes, e.g. 005010X222A1
    map_name: str
    root: LoopSpec
    parents: dict[SegmentSpec | LoopSpec, LoopSpec | None]
    ids: frozenset[str]  # every segment id the guide uses
    key_positions: dict[str, tuple[tuple[int, int], ...]]  # per segment id, the key elements

    def start(self) -> SegmentSpec:
        """The ``ST`` segment, where every transaction set begins."""
        return self.root.first

    def ancestors(self, node: SegmentSpec | LoopSpec) -> list[LoopSpec]:
        """The loops holding ``node``, outermost first."""
        chain: list[LoopSpec] = []
        parent = self.parents[node]
        while parent is not None:
            chain.append(parent)
            parent = self.parents[parent]
        chain.reverse()
        return chain


class Grammars:
    """The compiled guides by map file name; made once with :meth:`load` and passed in.

    A guide is compiled (or read from the cache) the first time it is asked for, so a run
    over 837P files never reads the 837I guide. ``by_map`` maps each name to its guide."""

    def __init__(self, names: tuple[str, ...], compiled: dict[str, Grammar] | None = None):
        self.names = names
        self._compiled = dict(compiled or {})
        self.by_map: Mapping[str, Grammar] = _Guides(self)

    @classmethod
    def load(cls, names: tuple[str, ...] = ()) -> Grammars:
        """The maps ``names`` (default :data:`DEFAULT_MAPS`), each compiled once per user and
        kept in :mod:`edi63650.cache`, keyed by its map files and this module."""
        return cls(names or DEFAULT_MAPS)

    @classmethod
    def compile(cls, names: tuple[str, ...] = ()) -> Grammars:
        """Compile the maps ``names`` from their XML now (what the cache holds, map by map)."""
        names = names or DEFAULT_MAPS
        return cls(names, {name: _compile(name) for name in names})

    def get(self, map_name: str) -> Grammar | None:
        if map_name not in self.names:
            return None
        found = self._compiled.get(map_name)
        if found is None:
            maps = importlib.resources.files(MAP_PACKAGE) / "map"
            files = [Path(str(maps / name)) for name in (map_name, "dataele.xml", "codes.xml")]
            key = cache.fingerprint(files=[*files, Path(__file__)], parts=[map_name])
            found = self._compiled[map_name] = cache.cached(
                "grammar", key, lambda: _compile(map_name)
            )
        return found


class _Guides(Mapping[str, Grammar]):
    """:attr:`Grammars.by_map`: the guides by name, each read when first looked up."""

    def __init__(self, grammars: Grammars) -> None:
        self._grammars = grammars

    def __getitem__(self, name: str) -> Grammar:
        found = self._grammars.get(name)
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._grammars.names)

    def __len__(self) -> int:
        return len(self._grammars.names)


def _compile(name: str) -> Grammar:
    return compile_map(name, _data_elements(), _code_sets())


#: The maps compiled by default: 837P (X222A1) and 837I (X223A1), the 5010 837 maps pyx12 has.
DEFAULT_MAPS = ("837.5010.X222.A1.xml", "837Q3.I.5010.X223.A1.xml")


@attrs.frozen
class _DataElement:
    data_type: str
    min_len: int
    max_len: int


def _parser() -> etree.XMLParser:
    from lxml import etree  # noqa: PLC0415 - only when a map is compiled

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, remove_comments=True
    )


def _read(name: str) -> etree._Element:
    from lxml import etree  # noqa: PLC0415 - only when a map is compiled

    resource = importlib.resources.files(MAP_PACKAGE) / "map" / name
    try:
        data = resource.read_bytes()
    except (OSError, ModuleNotFoundError) as error:
        raise MapError(f"pyx12 map {name} cannot be read: {error}") from error
    try:
        return etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as error:
        raise MapError(f"pyx12 map {name}:{error.lineno}: {error.msg}") from error


def _data_elements() -> dict[str, _DataElement]:
    out = {}
    for node in _read("dataele.xml").iter("data_ele"):
        out[node.get("ele_num", "")] = _DataElement(
            data_type=node.get("data_type", "AN"),
            min_len=int(node.get("min_len", "0")),
            max_len=int(node.get("max_len", "0")),
        )
    return out


def _code_sets() -> dict[str, frozenset[str]]:
    out = {}
    for codeset in _read("codes.xml").iter("codeset"):
        name = codeset.findtext("id", "")
        out[name] = frozenset(code.text or "" for code in codeset.iter("code"))
    return out


def compile_map(
    name: str,
    dictionary: dict[str, _DataElement],
    code_sets: dict[str, frozenset[str]],
) -> Grammar:
    """Compile one pyx12 transaction map into a :class:`Grammar`."""
    root = _read(name)
    st_loop = next((n for n in root.iter("loop") if n.get("xid") == "ST_LOOP"), None)
    if st_loop is None:
        raise MapError(f"pyx12 map {name}: no ST_LOOP")
    compiler = _Compiler(name, dictionary, code_sets)
    loop = compiler.loop(st_loop, "", (0, 0))
    version = next(
        (
            code
            for element in st_loop.iter("element")
            if element.get("xid") == "ST03"
            for code in (c.text or "" for c in element.iter("code"))
        ),
        "",
    )
    parents: dict[SegmentSpec | LoopSpec, LoopSpec | None] = {loop: None}
    ids: set[str] = set()
    keys: dict[str, set[tuple[int, int]]] = {}
    for parent, node in _walk(loop):
        parents[node] = parent
        if isinstance(node, SegmentSpec):
            ids.add(node.id)
            if node.key is not None:
                keys.setdefault(node.id, set()).add(node.key[:2])
    return Grammar(
        version=version,
        map_name=name,
        root=loop,
        parents=parents,
        ids=frozenset(ids),
        key_positions={sid: tuple(sorted(positions)) for sid, positions in keys.items()},
    )


def _walk(loop: LoopSpec) -> Iterator[tuple[LoopSpec, SegmentSpec | LoopSpec]]:
    for child in loop.children:
        yield loop, child
        if isinstance(child, LoopSpec):
            yield from _walk(child)


def _int(text: str | None, default: int) -> int:
    if text is None or not text.strip():
        return default
    text = text.strip()
    if text == ">1":
        return UNBOUNDED
    try:
        return int(text)
    except ValueError as error:
        raise MapError(f"not a count: {text!r}") from error


class _Compiler:
    def __init__(
        self,
        name: str,
        dictionary: dict[str, _DataElement],
        code_sets: dict[str, frozenset[str]],
    ) -> None:
        self._name = name
        self._dictionary = dictionary
        self._code_sets = code_sets

    def loop(self, node: etree._Element, parent_path: str, order: tuple[int, int]) -> LoopSpec:
        xid = node.get("xid", "")
        path = xid if not parent_path else f"{parent_path}/{xid}"
        if xid == "ST_LOOP":
            path = ""
        children: list[SegmentSpec | LoopSpec] = []
        for child in node:
            pos = _int(child.findtext("pos"), 0)
            if child.tag == "segment":
                children.append(self.segment(child, xid, path, (pos, 0)))
            elif child.tag == "loop" and child.get("type") == "wrapper":
                # Flatten: the wrapper's children take (wrapper position, their position).
                for inner in child:
                    inner_pos = _int(inner.findtext("pos"), 0)
                    if inner.tag == "segment":
                        children.append(self.segment(inner, xid, path, (pos, inner_pos)))
                    elif inner.tag == "loop":
                        children.append(self.loop(inner, path, (pos, inner_pos)))
            elif child.tag == "loop":
                children.append(self.loop(child, path, (pos, 0)))
        children.sort(key=lambda c: c.order)  # stable: equal positions keep the map's order
        return LoopSpec(
            id=xid,
            name=node.findtext("name", ""),
            usage=node.findtext("usage", "S"),
            pos=_int(node.findtext("pos"), 0),
            order=order,
            repeat=_int(node.findtext("repeat"), 1),
            children=tuple(children),
            path=path,
        )

    def segment(
        self, node: etree._Element, loop: str, loop_path: str, order: tuple[int, int]
    ) -> SegmentSpec:
        sid = node.get("xid", "")
        elements = []
        for child in node:
            if child.tag == "element":
                elements.append(self.element(child, sid, 0))
            elif child.tag == "composite":
                elements.append(self.composite(child, sid, len(elements) + 1))
        syntax = tuple(_syntax(s.text or "") for s in node.iter("syntax"))
        return SegmentSpec(
            id=sid,
            name=node.findtext("name", ""),
            usage=node.findtext("usage", "S"),
            pos=_int(node.findtext("pos"), 0),
            order=order,
            max_use=_int(node.findtext("max_use"), 1),
            elements=tuple(elements),
            syntax=syntax,
            key=_key(sid, elements),
            loop=loop if loop != "ST_LOOP" else "",
            path=f"{loop_path}/{sid}" if loop_path else sid,
        )

    def element(self, node: etree._Element, sid: str, composite_index: int) -> ElementSpec:
        number = node.findtext("data_ele", "")
        definition = self._dictionary.get(number)
        if definition is None:
            raise MapError(f"pyx12 map {self._name}: element {number!r} not in dataele.xml")
        seq = _int(node.findtext("seq"), 0)
        valid = node.find("valid_codes")
        codes: frozenset[str] | None = None
        external = ""
        if valid is not None:
            external = valid.get("external", "")
            listed = [code.text or "" for code in valid.iter("code")]
            if listed:
                codes = frozenset(listed)
            elif external and external in self._code_sets:
                codes = self._code_sets[external]
        index, component = (composite_index, seq) if composite_index else (seq, 0)
        ref = f"{sid}{index:02d}" + (f"-{component:02d}" if component else "")
        return ElementSpec(
            ref=ref,
            index=index,
            component=component,
            name=node.findtext("name", ""),
            usage=node.findtext("usage", "S"),
            data_ele=number,
            data_type=definition.data_type,
            min_len=definition.min_len,
            max_len=definition.max_len,
            codes=codes,
            external=external,
            pattern=node.findtext("regex", ""),
            repeat=_int(node.findtext("repeat"), 1),
        )

    def composite(self, node: etree._Element, sid: str, index: int) -> ElementSpec:
        parts = tuple(self.element(child, sid, index) for child in node.iter("element"))
        return ElementSpec(
            ref=f"{sid}{index:02d}",
            index=index,
            component=0,
            name=node.findtext("name", ""),
            usage=node.findtext("usage", "S"),
            data_ele=node.findtext("data_ele", ""),
            data_type="",
            min_len=0,
            max_len=0,
            codes=None,
            external="",
            pattern="",
            repeat=_int(node.findtext("repeat"), 1),
            is_composite=True,
            components=parts,
        )


def _syntax(text: str) -> SyntaxNote:
    text = text.strip()
    if len(text) < 5 or text[0] not in "PRECL" or not text[1:].isdigit() or len(text) % 2 == 0:
        raise MapError(f"unreadable syntax note {text!r}")
    positions = tuple(int(text[i : i + 2]) for i in range(1, len(text), 2))
    return SyntaxNote(kind=text[0], positions=positions)


def _key(sid: str, elements: list[ElementSpec]) -> tuple[int, int, frozenset[str]] | None:
    """Which element tells this segment apart from others with the same id (pyx12's rule:
    a required ID element 01 with codes, else the first component of composite 01 when it is
    an ID with codes, else HL03)."""
    first = elements[0] if elements else None
    if (
        first is not None
        and not first.is_composite
        and first.data_type == "ID"
        and first.usage == "R"
        and first.codes
        and not first.external
    ):
        return (1, 0, first.codes)
    if first is not None and first.is_composite:
        head = first.components[0]
        if head.data_type == "ID" and head.codes and not head.external:
            return (1, 1, head.codes)
    if sid == "HL" and len(elements) >= 3 and elements[2].codes:
        return (3, 0, elements[2].codes)
    return None
