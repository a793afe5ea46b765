"""Our 999 against pyx12's, file by file: the differential test's machinery.

Both acknowledgments are reduced to sets of (IK302, IK301, IK304, IK401, IK403) tuples with
:func:`tests.pyx12_oracle.parse_999`. Where the two tools differ *by design* (a class of
difference, each with its reason in ``tests/structure-differences.json``), our tuple is
mapped onto what pyx12 writes before comparing; every remaining difference must be listed for
its file in the same document, with its reason.

Run ``python -m tests.differential`` to print the current differences and agreement.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path

import edi63650
from edi63650.maps import Implementations
from tests.helpers import CORPUS
from tests.pyx12_oracle import Pyx12Error, parse_999, pyx12_999_errors

ROOT = Path(__file__).resolve().parents[1]
DIFFERENCES = Path(__file__).with_name("structure-differences.json")

#: Each guide checked with another's map (our "closest map", maps/implementations.xml).
CLOSEST = {
    version.encode(): entry.structure_as.encode()
    for version, entry in Implementations.load().by_version.items()
    if entry.structure_as and entry.structure_as != version
}
_VERSION = re.compile(rb"005010X22[23](?:A[0-9])?(?![A-Z0-9])")
_ST_837 = re.compile(rb"(?:^|[~\n])\s*ST[^A-Za-z0-9 ]837[^A-Za-z0-9 ]")
_GUIDE = re.compile(rb"005010X22[23]")


def _is_837(data: bytes) -> bool:
    """A 5010 837P/837I: an ST*837 and the X222/X223 guide in GS08 or ST03."""
    return bool(_ST_837.search(data)) and bool(_GUIDE.search(data))


def files() -> list[tuple[str, Path]]:
    """(name, path) of every fixture and every 5010 837P/837I corpus file."""
    out = [
        (f"fixtures/{p.relative_to(ROOT / 'fixtures')}", p)
        for p in sorted(ROOT.glob("fixtures/**/*.837"))
    ]
    if CORPUS.is_dir():
        for path in sorted(CORPUS.rglob("*")):
            if path.is_file() and path.suffix not in (".md", ".txt") and _is_837(path.read_bytes()):
                out.append((str(path.relative_to(CORPUS)), path))
    return out


def ours(data: bytes) -> frozenset[Pyx12Error]:
    """Our 999, reduced to tuples with the by-design classes mapped onto pyx12's writing."""
    result = edi63650.validate(data)
    out = set()
    for transaction in parse_999(result.to_999().decode("latin-1")):
        for error in transaction["errors"]:
            out.add(_as_pyx12(error))
    return frozenset(out)


def _as_pyx12(error: Pyx12Error) -> Pyx12Error:
    ordinal, segment, code, element, element_code = error
    if code in ("2", "7"):  # a segment without a place: pyx12 always says "unrecognized"
        return (ordinal, segment, "1", "", "")
    if element_code == "I10":  # a not-used element present: pyx12 writes 10
        return (ordinal, segment, code, element, "10")
    if element_code in ("2", "3", "10", "12", "13"):
        return (ordinal, segment, code, "", "")  # pyx12 writes no IK4 for these
    return error


def theirs(name: str, path: Path) -> frozenset[Pyx12Error] | str:
    """pyx12's tuples; for guides it has no map for, on a copy relabelled to the closest map
    (which is what we check the file against). A string says why there is no answer."""
    data = path.read_bytes()
    data = _VERSION.sub(lambda m: CLOSEST.get(m.group(0), m.group(0)), data)
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "input.837"
        copy.write_bytes(data)
        try:
            return pyx12_999_errors(copy)
        except Exception as error:  # pyx12 crashes on some inputs: that is its answer
            return f"pyx12 gives no 999: {type(error).__name__}"


def compare() -> dict[str, dict[str, object]]:
    """Per file: pyx12's answer, the tuples only we report and those only pyx12 reports."""
    out: dict[str, dict[str, object]] = {}
    for name, path in files():
        answer = theirs(name, path)
        mine = ours(path.read_bytes())
        if isinstance(answer, str):
            out[name] = {"pyx12": answer}
            continue
        out[name] = {
            "only_ours": sorted(list(t) for t in mine - answer),
            "only_pyx12": sorted(list(t) for t in answer - mine),
        }
    return out


def main() -> None:
    results = compare()
    compared = {k: v for k, v in results.items() if "pyx12" not in v}
    same = [k for k, v in compared.items() if not v["only_ours"] and not v["only_pyx12"]]
    print(json.dumps({k: v for k, v in results.items() if k not in same}, indent=1))
    print(
        f"{len(same)} of {len(compared)} files agree exactly; "
        f"{len(results) - len(compared)} without a pyx12 999",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()
