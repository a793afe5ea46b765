"""Loop paths: how every finding says where it is, in one style.

A path is the guide's loop ids from the top of the claim's hierarchy down to the segment, a
service line marked with its LX01 in brackets: ``2000A/2000B/2300/2400[2]/SV1``,
``2000A/2000B/2000C/2300/2310B/NM1``, ``2000A/2010AA/NM1``. The implementation-guide layer,
the claim builder and the rules all name places this way (the guide layer from the guide's own
loop tree, the others from the claim's shape and :data:`NAME_LOOPS`).
"""

from __future__ import annotations

import re

from edi63650.model import ClaimKind

#: The service-line loop, which a path indexes by LX01.
LINE_LOOP = "2400"

#: Name loops (NM1 and what follows it) by NM101 entity code, within the loop that holds them.
NAME_LOOPS: dict[ClaimKind, dict[str, dict[str, str]]] = {
    # TR3 005010X222A1 section 2.4 (837P table of loops).
    ClaimKind.PROFESSIONAL: {
        "2000A": {"85": "2010AA", "87": "2010AB", "PE": "2010AC"},
        "2000B": {"IL": "2010BA", "PR": "2010BB"},
        "2000C": {"QC": "2010CA"},
        "2300": {
            "DN": "2310A",  # referring provider
            "P3": "2310A",
            "82": "2310B",  # rendering provider
            "77": "2310C",  # service facility
            "DQ": "2310D",  # supervising provider
            "PW": "2310E",  # ambulance pick-up
            "45": "2310F",  # ambulance drop-off
        },
        "2400": {
            "82": "2420A",  # rendering provider
            "QB": "2420B",  # purchased service provider
            "77": "2420C",  # service facility
            "DQ": "2420D",  # supervising provider
            "DK": "2420E",  # ordering provider
            "DN": "2420F",  # referring provider
            "P3": "2420F",
            "PW": "2420G",  # ambulance pick-up
            "45": "2420H",  # ambulance drop-off
        },
    },
    # TR3 005010X223A2 section 2.4 (837I table of loops).
    ClaimKind.INSTITUTIONAL: {
        "2000A": {"85": "2010AA", "87": "2010AB", "PE": "2010AC"},
        "2000B": {"IL": "2010BA", "PR": "2010BB"},
        "2000C": {"QC": "2010CA"},
        "2300": {
            "71": "2310A",  # attending provider
            "72": "2310B",  # operating physician
            "ZZ": "2310C",  # other operating physician
            "82": "2310D",  # rendering provider
            "77": "2310E",  # service facility
            "DN": "2310F",  # referring provider
        },
        "2400": {
            "72": "2420A",  # operating physician
            "ZZ": "2420B",  # other operating physician
            "82": "2420C",  # rendering provider
            "DN": "2420D",  # referring provider
        },
    },
}

_LINE = re.compile(rf"(^|/){LINE_LOOP}(?=/|$)")


def procedure_element(kind: ClaimKind, component: int = 2) -> str:
    """A component of the service line's procedure composite: ``SV101-02`` (837P) or
    ``SV202-02`` (837I) is the code, ``-03`` the first modifier."""
    composite = "SV101" if kind is ClaimKind.PROFESSIONAL else "SV202"
    return f"{composite}-{component:02d}"


def hierarchy(patient: bool) -> tuple[str, ...]:
    """The HL loops above a claim: billing provider, subscriber and, when the patient is not
    the subscriber, patient."""
    return ("2000A", "2000B", "2000C") if patient else ("2000A", "2000B")


def line_loop(number: int | str | None) -> str:
    """``2400[n]`` for the service line whose LX01 is ``n``; ``2400`` when it is unknown."""
    return f"{LINE_LOOP}[{number}]" if number not in (None, "") else LINE_LOOP


def indexed(path: str, number: int | str | None) -> str:
    """A guide path (``…/2300/2400/SV1``) with its service line marked by LX01."""
    if number in (None, "") or LINE_LOOP not in path:
        return path
    return _LINE.sub(lambda m: m[1] + line_loop(number), path, count=1)


def claim_path(
    kind: ClaimKind,
    patient: bool,
    *,
    line: int | str | None = None,
    in_line: bool = False,
    segment_id: str = "",
    entity: str = "",
) -> str:
    """The path of a segment of a claim: in its service line (``in_line``, LX01 ``line``) or
    the claim loop; an NM1 goes in the name loop of its ``entity`` (NM101), which for the
    billing provider, the subscriber and the patient sits in their HL loop, not the claim's."""
    loops = list(hierarchy(patient))
    names = NAME_LOOPS[kind]
    if segment_id == "NM1" and entity:
        for level in ("2000A", "2000B", "2000C"):
            loop = names[level].get(entity)
            if loop is not None and level in loops:
                return "/".join([*loops[: loops.index(level) + 1], loop, "NM1"])
    loops.append("2300")
    if in_line:
        loops.append(line_loop(line))
    loop = names[LINE_LOOP if in_line else "2300"].get(entity) if segment_id == "NM1" else None
    if loop is not None:
        loops.append(loop)
    if segment_id:
        loops.append(segment_id)
    return "/".join(loops)


_INDEX = re.compile(r"\[[^\]]*\]")


def plain(path: str) -> str:
    """``path`` without its line index: the guide's own path, which a citation names."""
    return _INDEX.sub("", path) if "[" in path else path
