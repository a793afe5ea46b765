"""The options of a read (``.option(...)`` of the ``x12`` source, or the keywords of
``validate_frames``), checked once on the driver so that a mistake is one clear error before
any task runs. No pyspark here.

========== ==========================================================================
option     meaning
========== ==========================================================================
table      ``claims``, ``lines`` or ``findings`` (required by the data source)
profile    ``auto`` (default) or a profile id of the maps, as ``--profile``
maps       a maps folder, as ``--maps`` (default: the bundled maps)
key        a history's key file (``PATH.key``): ``patient_key`` is the history's keyed hash;
           without it ``patient_key`` is null (a key made up per task would differ between
           tasks). The secret is read on the driver and travels with the tasks.
split_size bytes above which a file is cut at interchange boundaries. The data source cuts
           only when asked: its pieces are judged alone, so where a patient's claims span
           pieces the edits across claims see only their piece's. ``validate_frames``
           cuts above 64 MiB by default and judges those patients again across pieces.
recursive  ``true`` (default) or ``false``: whether a directory's subfolders are read
========== ==========================================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import attrs

from edi63650.errors import EdiUsageError
from edi63650.rules.history import PatientKeys
from edi63650.rules.pack import check_profile
from edi63650.spark.inputs import Piece, expand, pieces
from edi63650.spark.rows import COLUMNS, Settings, tables_of

#: The options a read takes (Spark passes ``path`` or ``paths`` for what ``load()`` got).
KNOWN = frozenset({"table", "profile", "maps", "key", "split_size", "recursive", "path", "paths"})


@attrs.frozen
class Request:
    """A read, checked: the files, how large a piece may be, and what each task is given."""

    settings: Settings
    files: tuple[str, ...]
    split_size: int | None = None

    def pieces(self) -> list[Piece]:
        """One piece per file, or several for a file above ``split_size``; in file order."""
        if self.split_size is None:
            return [Piece(file) for file in self.files]
        return [piece for file in self.files for piece in pieces(file, self.split_size)]


def table_of(options: Mapping[str, str]) -> str:
    """The ``table`` option, which must be one of the three tables."""
    table = options.get("table")
    if table is None or table not in COLUMNS:
        given = "no table option" if table is None else f"table {table!r}"
        raise EdiUsageError(
            f"the x12 source reads one table: .option('table', 'claims'|'lines'|'findings'); "
            f"got {given}"
        )
    return table


def request(
    options: Mapping[str, str], paths: list[str] | None = None, *, split: int | None = None
) -> Request:
    """The read that ``options`` ask for (keys compared in lower case, as Spark does), of
    ``paths`` or else of the ``path``/``paths`` options; ``split`` is the ``split_size`` when
    the options give none (None: files are not cut)."""
    options = {name.lower(): value for name, value in options.items()}
    unknown = sorted(set(options) - KNOWN)
    if unknown:
        raise EdiUsageError(
            f"the x12 source has no option {', '.join(unknown)}; it takes "
            + ", ".join(sorted(KNOWN - {"path", "paths"}))
        )
    table = table_of(options)
    profile = options.get("profile", "auto")
    maps = options.get("maps") or None
    tables, _ = tables_of(maps)
    check_profile(tables, profile)
    key = options.get("key")
    keys = PatientKeys.from_file(Path(key)) if key else None
    given = options.get("split_size")
    split_size = split if given is None else _number(given, "split_size")
    recursive = _flag(options.get("recursive"), "recursive")
    names = paths if paths is not None else _paths(options)
    if not names:
        raise EdiUsageError("the x12 source needs files: load(path), a list, a folder or a glob")
    return Request(
        Settings(table, profile=profile, maps=maps, keys=keys),
        tuple(expand(names, recursive=recursive)),
        split_size,
    )


def _paths(options: Mapping[str, str]) -> list[str]:
    if "paths" in options:
        value = json.loads(options["paths"])
        return [str(name) for name in value] if isinstance(value, list) else [str(value)]
    return [options["path"]] if options.get("path") else []


def _number(text: str, name: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise EdiUsageError(f"the x12 source's {name} option is a number of bytes, not {text!r}")
    return value


def _flag(text: str | None, name: str) -> bool:
    if text is None:
        return True
    if text.lower() not in ("true", "false"):
        raise EdiUsageError(f"the x12 source's {name} option is true or false, not {text!r}")
    return text.lower() == "true"
