"""A per-user cache of what start-up would otherwise rebuild on every run.

Compiling the implementation guides from pyx12's maps and loading the rule tables take longer
than validating a small file. Both are built once and kept as pickles in
``$EDI63650_CACHE`` (else ``$XDG_CACHE_HOME/edi63650``, else ``~/.cache/edi63650``), under a
name that hashes everything they were built from: the Python version, the code that builds
them and their input files (pyx12's maps, the rule tables). ``EDI63650_CACHE=off`` turns the
cache off.

A pickle runs code when loaded, so the cache trusts only what its own user wrote: the folder
is created owner-only, and a file is read only if it is a regular file (not a link) owned by
this user that nobody else may write. Anything else is rebuilt, never an error.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar, cast

T = TypeVar("T")

#: Bumped when what is cached changes shape without the code's hash saying so.
_FORMAT = "1"


def folder() -> Path | None:
    """The cache folder, made owner-only if new; None when turned off or unusable."""
    chosen = os.environ.get("EDI63650_CACHE", "")
    if chosen.lower() in ("off", "0", "no"):
        return None
    if chosen:
        path = Path(chosen)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "edi63650"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = path.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
        return None
    return path


def fingerprint(*, files: Iterable[Path] = (), parts: Iterable[str] = ()) -> str:
    """A hash of what shapes a cached value: the Python version, the ``files`` it is built
    from and with, and other ``parts``. A file counts by its path, size and modification time
    (to the nanosecond): a file edited or replaced gets a new entry, at no cost to start-up."""
    digest = hashlib.sha256(_FORMAT.encode())
    digest.update(sys.version.encode() + b"\0")
    for part in parts:
        digest.update(part.encode() + b"\0")
    for path in files:
        try:
            info = path.stat()
            digest.update(f"{path.resolve()}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
        except OSError:
            digest.update(f"{path}\0missing\0".encode())
    return digest.hexdigest()[:24]


def cached(name: str, key: str, build: Callable[[], T]) -> T:
    """The value cached as ``name`` under ``key``, else ``build()`` (then cached)."""
    where = folder()
    if where is None:
        return build()
    path = where / f"{name}-{key}.pickle"
    found = _load(path)
    if found is not None:
        return cast("T", found)
    value = build()
    _store(path, value)
    return value


def _load(path: Path) -> object | None:
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o022:
            return None
        try:
            value: object = pickle.load(stream)  # noqa: S301 - our own file, checked above
        except Exception:  # a damaged or stale cache entry is rebuilt
            return None
        return value


def _store(path: Path, value: object) -> None:
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError:
        return
    try:
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(value, stream, protocol=pickle.HIGHEST_PROTOCOL)
        Path(temporary).replace(path)
    except (OSError, pickle.PicklingError):
        Path(temporary).unlink(missing_ok=True)
