"""What a Spark job reads: the files named, and the pieces (partitions) they are cut into.
Runs on the driver; no pyspark here.

- :func:`expand` turns what ``load()`` was given (a file, a list, a directory, a glob) into a
  sorted list of files, the way ``edi63650 validate`` reads a directory: into subfolders,
  hidden names and links skipped, so nothing outside what was given is read; a store's URL
  (``s3://...``) is listed by :mod:`edi63650.spark.storage`.
- :func:`pieces` gives one piece per file; a file larger than ``split_size`` is cut into
  pieces of about ``split_size`` bytes, at interchange boundaries and, inside an interchange
  larger than that, between transaction sets (:mod:`edi63650.spark.cuts`). A task reads its
  :class:`~edi63650.spark.piece.Piece` through a :class:`~edi63650.spark.piece.PieceStream`.
"""

from __future__ import annotations

import glob
import re
from collections.abc import Iterable
from contextlib import closing
from pathlib import Path

from edi63650.cli_validate import walk
from edi63650.errors import EdiUsageError
from edi63650.spark import storage
from edi63650.spark.cuts import cut, interchange_starts
from edi63650.spark.piece import Piece

__all__ = ["SPLIT_SIZE", "Piece", "expand", "interchange_starts", "pieces"]

#: Files above this many bytes are cut by ``validate_frames`` (the
#: ``split_size`` option's default there; the data source cuts only when asked).
SPLIT_SIZE = 64 << 20

_GLOB = re.compile(r"[*?\[]")


def expand(names: Iterable[str], *, recursive: bool = True) -> list[str]:
    """The files that ``names`` name, sorted, each once.

    A name that is a directory gives the files under it (see
    :func:`edi63650.cli_validate.walk`); a name with ``*``, ``?`` or ``[`` that is not a file
    is a glob, each match taken as a name (links among the matches skipped); any other name is
    taken as it is (a file that cannot be read gives a finding when it is read, as the command
    line reports it). A directory without files, or a glob matching nothing, is an error.
    """
    found: set[str] = set()
    for given in names:
        if storage.is_remote(given):
            found.update(storage.remote_files(given, recursive=recursive))
            continue
        name = storage.local(given)
        path = Path(name)
        if _GLOB.search(name) and not path.exists():
            # glob.glob, not Path.glob: the pattern may be absolute and glob in any part.
            matches = [Path(m) for m in glob.glob(name) if not Path(m).is_symlink()]  # noqa: PTH207
            if not matches:
                raise EdiUsageError(f"{name}: no file matches")
            for match in matches:
                found.update(_files(match, recursive=recursive))
        else:
            found.update(_files(path, recursive=recursive))
    return sorted(found)


def _files(path: Path, *, recursive: bool) -> list[str]:
    if not path.is_dir():
        return [str(path)]
    files = [str(p) for p in walk(path, recursive=recursive)]
    if not files:
        raise EdiUsageError(f"{path}: the directory holds no files")
    return files


def pieces(path: str, split_size: int = SPLIT_SIZE) -> list[Piece]:
    """The pieces of one file: the whole file, or, above ``split_size`` bytes, pieces of about
    ``split_size`` bytes cut where :func:`edi63650.spark.cuts.cut` finds it may be. A file
    that cannot be read is one piece (its task reports it)."""
    try:
        size = storage.size_of(path)
        if size <= split_size:
            return [Piece(path)]
        with closing(storage.open_binary(path)) as stream:
            return cut(path, stream, size, split_size)
    except OSError:
        return [Piece(path)]
