"""Where a Spark job's files are: on a file system the tasks see as files (local, NFS, a FUSE
mount such as ``/dbfs``), or in a store that pyarrow reaches by URL (``s3://``, ``gs://``,
``abfs://``, ``hdfs://``: :meth:`pyarrow.fs.FileSystem.from_uri`, with the credentials the
store's usual chain finds on each machine, the environment or an instance role). pyarrow
comes with the ``spark`` extra; no pyspark here.

A name is a URL when it starts with ``scheme://``. ``file://`` URLs are local paths and take
the local road (links skipped); any other URL is a store's:

- :func:`remote_files` lists what a URL names: the object itself, the objects under it (a
  "folder": its prefix), or, when a path component holds ``*`` or ``[``, the objects matching
  it, component by component (``*`` never crosses a ``/``). In a URL ``?`` starts the query
  (``s3://bucket/key?region=us-east-1``), which every listed URL keeps, so it is no wildcard.
  Names starting with ``.`` under what was given are skipped, as on a local disk.
- :func:`open_binary` and :func:`size_of` open or measure one file by its name, local or
  remote, so that the driver and the tasks read them the same way.

Every failure of a store (an unknown scheme, a missing object, credentials refused) is an
:class:`OSError` or :class:`~edi63650.errors.EdiUsageError` naming the URL: one line, never a
traceback.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Protocol, cast
from urllib.parse import unquote, urlsplit

from edi63650.errors import EdiUsageError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
#: What makes a component of a URL's path a pattern (``?`` starts a URL's query instead).
_PATTERN = re.compile(r"[*\[]")


class Readable(Protocol):
    """What a task reads a piece from: a seekable binary file (local or a store's)."""

    def read(self, size: int = -1, /) -> bytes: ...
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def close(self) -> None: ...


def is_remote(name: str) -> bool:
    """Whether ``name`` is a store's URL (any ``scheme://`` but ``file://``)."""
    return bool(_URL.match(name)) and name[:7].lower() != "file://"


def local(name: str) -> str:
    """A local path for ``name``: a ``file://`` URL's path (of this machine only), any other
    name as it is."""
    if name[:7].lower() != "file://":
        return name
    parts = urlsplit(name)
    if parts.netloc not in ("", "localhost"):
        raise EdiUsageError(f"{name}: a file:// URL names this machine's files, not {parts.netloc}")
    return unquote(parts.path)


def _store(url: str) -> tuple[object, str]:
    """The pyarrow file system of ``url`` and the path in it."""
    # pyarrow only when a store is named (it comes with the extra, edi63650 alone lacks it)
    from pyarrow import ArrowException  # noqa: PLC0415
    from pyarrow.fs import FileSystem  # noqa: PLC0415

    try:
        store, path = FileSystem.from_uri(url)
    except (ArrowException, ValueError) as error:
        raise EdiUsageError(f"{url}: {_first_line(error)}") from None
    return store, str(path)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def open_binary(name: str) -> Readable:
    """``name`` opened for reading: a local file, or a store's object (seekable)."""
    if not is_remote(name):
        return Path(local(name)).open("rb")
    try:
        store, path = _store(name)
    except EdiUsageError as error:
        raise OSError(str(error)) from None
    return cast(Readable, store.open_input_file(path))  # type: ignore[attr-defined]


def size_of(name: str) -> int:
    """How many bytes ``name`` holds."""
    if not is_remote(name):
        return Path(local(name)).stat().st_size
    from pyarrow.fs import FileType  # noqa: PLC0415 - as _store

    try:
        store, path = _store(name)
    except EdiUsageError as error:
        raise OSError(str(error)) from None
    info = store.get_file_info(path)  # type: ignore[attr-defined]
    if info.type != FileType.File:
        raise FileNotFoundError(f"{name}: no such object")
    return int(info.size)


def remote_files(name: str, *, recursive: bool) -> list[str]:
    """The URLs of the objects ``name`` (a store's URL) names: itself, what is under it, or
    what its pattern matches; see the module's docstring. Nothing found is an error."""
    bare, query = _split_query(name)
    scheme_end = bare.index("://") + 3
    components = bare[scheme_end:].split("/")
    fixed = next((i for i, part in enumerate(components) if _PATTERN.search(part)), None)
    if fixed is None:
        found = _under(bare.rstrip("/"), recursive=recursive, query=query)
    else:
        if fixed == 0:
            raise EdiUsageError(f"{name}: a pattern may not be in the bucket or host")
        base = bare[:scheme_end] + "/".join(components[:fixed])
        pattern = [part for part in components[fixed:] if part]
        found = [
            url
            for url, relative in _listing(base, query, recursive=True)
            if _matches(relative, pattern, recursive=recursive)
        ]
    if not found:
        raise EdiUsageError(f"{name}: no file matches")
    return sorted(found)


def _split_query(name: str) -> tuple[str, str]:
    bare, _, query = name.partition("?")
    return bare, query


def _with_query(url: str, query: str) -> str:
    return f"{url}?{query}" if query else url


def _under(bare: str, *, recursive: bool, query: str) -> list[str]:
    """The object ``bare`` names, or the objects under it."""
    from pyarrow.fs import FileType  # noqa: PLC0415 - as _store

    store, path = _store(_with_query(bare, query))
    try:
        info = store.get_file_info(path)  # type: ignore[attr-defined]
    except OSError as error:
        raise EdiUsageError(f"{bare}: {_first_line(error)}") from None
    if info.type == FileType.File:
        return [_with_query(bare, query)]
    if info.type != FileType.Directory:
        raise EdiUsageError(f"{bare}: no such file or folder")
    return [url for url, _ in _listing(bare, query, recursive=recursive)]


def _listing(base: str, query: str, *, recursive: bool) -> list[tuple[str, list[str]]]:
    """The objects under ``base`` (a URL without its query): each one's URL and its path's
    components below ``base``, hidden names (``.`` at any level below) left out."""
    from pyarrow.fs import FileSelector, FileType  # noqa: PLC0415 - as _store

    store, path = _store(_with_query(base, query))
    prefix = path.rstrip("/")
    try:
        infos = store.get_file_info(  # type: ignore[attr-defined]
            FileSelector(prefix, recursive=recursive, allow_not_found=True)
        )
    except OSError as error:
        raise EdiUsageError(f"{base}: {_first_line(error)}") from None
    listed: list[tuple[str, list[str]]] = []
    for info in infos:
        if info.type != FileType.File or not str(info.path).startswith(prefix + "/"):
            continue
        relative = str(info.path)[len(prefix) + 1 :].split("/")
        if any(part.startswith(".") for part in relative):
            continue
        listed.append((_with_query(base.rstrip("/") + "/" + "/".join(relative), query), relative))
    return listed


def _matches(relative: list[str], pattern: list[str], *, recursive: bool) -> bool:
    """Whether an object (its components below the pattern's base) is named by ``pattern``:
    it matches it component by component, or lies under a folder that does (a folder's
    subfolders only if ``recursive``)."""
    extra = len(relative) - len(pattern)
    if extra < 0 or (extra > 1 and not recursive):
        return False
    return all(
        fnmatch.fnmatchcase(part, want) for part, want in zip(relative, pattern, strict=False)
    )


def display_name(name: str) -> str:
    """The last component of a local path or a URL (its query left out), for messages."""
    bare = _split_query(name)[0] if is_remote(name) else local(name)
    return bare.rstrip("/").rsplit("/", 1)[-1] or bare
