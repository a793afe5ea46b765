"""Taking files from a hostile inbox: what is in it, what may be read, and reading it once.

A shared inbox holds whatever its users can put there: links to other people's files, FIFOs
that block a reader, files still being written, names that are not UTF-8 or are as long as
the file system allows. Here:

- only regular files are read, opened with ``O_NOFOLLOW`` after an ``lstat`` and checked
  again on the open descriptor (a link swapped in between is refused, not followed);
- a file some process still holds open for writing is not taken (Linux: ``/proc``; writers
  of other users are visible only to root, remote writers on a network share never: partners
  should upload as ``NAME.part`` and rename);
- a file is read once, into a private spool, hashing as it goes; the spool is what is
  validated and archived, so the bytes validated are the bytes archived;
- names are handled as bytes; what is shown and stored is an escaped, printable form, and
  archive names are bounded in length.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import attrs

from edi63650.values import shown

#: Names skipped: uploads in progress by convention, and hidden files.
IGNORED_SUFFIXES = (b".part", b".tmp")

#: Longest readable part of an archive name, in characters (the rest becomes a hash).
NAME_LIMIT = 96

_READ = 1 << 20
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._+=@,-]")
_O_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_NOFOLLOW", 0) | os.O_CLOEXEC


@attrs.frozen
class Entry:
    """Something found in the inbox, as ``lstat`` saw it (``kind`` is None for a regular file,
    else what it is instead)."""

    path: Path
    raw: bytes  # the name relative to the inbox, as the file system has it
    size: int
    mtime_ns: int
    device: int
    inode: int
    kind: str | None

    @property
    def name(self) -> str:
        return printable(self.raw)

    @property
    def identity(self) -> tuple[int, int]:
        return self.device, self.inode


@attrs.frozen
class Taken:
    """A file read into ``spool``: its bytes from ``offset`` to ``end`` of the source."""

    spool: Path
    offset: int
    end: int
    digest: str  # SHA-256 of the spooled bytes
    whole: str  # SHA-256 of the source's bytes up to ``end``
    mtime_ns: int  # the source's modification time while it was read


def printable(raw: bytes) -> str:
    """A name as it may be shown, logged and stored: undecodable bytes and control
    characters escaped (``\\xff``), as in JSON strings."""
    return shown(raw.decode("utf-8", "backslashreplace"))


def archive_name(raw: bytes, stamp: str) -> str:
    """``stamp-name``: the name reduced to portable characters, its readable part at most
    :data:`NAME_LIMIT` characters, with a hash of the whole when it had to be cut."""
    text = _UNSAFE_NAME.sub("_", raw.decode("utf-8", "replace").replace("/", "_"))
    if len(text) > NAME_LIMIT:
        text = f"{text[:NAME_LIMIT]}-{hashlib.sha256(raw).hexdigest()[:12]}"
    return f"{stamp}-{text}"


def _kind(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def scan(
    inbox: Path, *, recursive: bool = False, skip: tuple[int, int] | None = None
) -> list[Entry]:
    """What the inbox holds (hidden names and ``.part``/``.tmp`` skipped), in arrival order:
    modification time, then name. Folders are entries too unless ``recursive`` (which goes
    into them, never through a link, and never into the folder ``skip`` names)."""
    found = list(_walk(inbox, b"", recursive=recursive, skip=skip))
    found.sort(key=lambda e: (e.mtime_ns, e.raw))
    return found


def _walk(
    folder: Path, prefix: bytes, *, recursive: bool, skip: tuple[int, int] | None
) -> Iterator[Entry]:
    try:
        entries = list(os.scandir(os.fsencode(folder)))
    except OSError:
        return
    for item in entries:
        name = item.name
        if name.startswith(b".") or name.endswith(IGNORED_SUFFIXES):
            continue
        try:
            info = item.stat(follow_symlinks=False)
        except OSError:
            continue  # taken away meanwhile
        path = folder / os.fsdecode(name)
        raw = prefix + name
        kind = _kind(info.st_mode)
        if kind == "a folder" and recursive:
            if skip != (info.st_dev, info.st_ino):
                yield from _walk(path, raw + b"/", recursive=True, skip=skip)
            continue
        yield Entry(path, raw, info.st_size, info.st_mtime_ns, info.st_dev, info.st_ino, kind)


def open_for_writing() -> set[tuple[int, int]] | None:
    """(device, inode) of every file some other process holds open for writing, as far as
    ``/proc`` shows; None where there is no ``/proc``."""
    proc = Path("/proc")
    if not (proc / "self" / "fdinfo").is_dir():
        return None
    me = str(os.getpid())
    held: set[tuple[int, int]] = set()
    for process in proc.iterdir():
        if not process.name.isdigit() or process.name == me:
            continue
        try:
            descriptors = [fd.name for fd in (process / "fd").iterdir()]
        except OSError:
            continue  # gone, or not ours to see
        for fd in descriptors:
            try:
                info = (process / "fd" / fd).stat()  # the file the descriptor is open on
                if not stat.S_ISREG(info.st_mode):
                    continue
                flags = _flags((process / "fdinfo" / fd).read_text())
            except (OSError, ValueError):
                continue
            if flags & os.O_ACCMODE in (os.O_WRONLY, os.O_RDWR):
                held.add((info.st_dev, info.st_ino))
    return held


def _flags(fdinfo: str) -> int:
    for line in fdinfo.splitlines():
        if line.startswith("flags:"):
            return int(line.split()[1], 8)
    raise ValueError("no flags")


def read(
    entry: Entry, spool_folder: Path, *, prefix: tuple[int, str] | None = None
) -> Taken | None:
    """Copy ``entry`` into a new owner-only spool in ``spool_folder``; None if it is not the
    regular file that was seen or changed while it was read. With ``prefix`` (bytes already
    taken and their SHA-256), only what follows them is spooled, if the file still begins
    with them; otherwise the whole file is."""
    descriptor = os.open(entry.path, _O_FLAGS)
    try:
        before = os.fstat(descriptor)
        if not stat.S_ISREG(before.st_mode) or (before.st_dev, before.st_ino) != entry.identity:
            return None
        os.set_blocking(descriptor, True)
        handle, name = tempfile.mkstemp(dir=spool_folder, prefix=".take-", suffix=".tmp")
        spool = Path(name)
        try:
            taken = _copy(descriptor, handle, spool, prefix, before.st_mtime_ns)
        except BaseException:
            os.close(handle)
            spool.unlink(missing_ok=True)
            raise
        os.close(handle)
        after = os.fstat(descriptor)
        if (after.st_size, after.st_mtime_ns) != (taken.end, before.st_mtime_ns):
            spool.unlink(missing_ok=True)  # still being written: wait for it to settle
            return None
        return taken
    finally:
        os.close(descriptor)


def _copy(
    source: int, target: int, spool: Path, prefix: tuple[int, str] | None, mtime_ns: int
) -> Taken:
    whole = hashlib.sha256()
    offset = 0
    if prefix is not None:
        length, expected = prefix
        left = length
        while left > 0 and (chunk := os.read(source, min(_READ, left))):
            whole.update(chunk)
            left -= len(chunk)
        if left == 0 and whole.hexdigest() == expected:
            offset = length
        else:  # not the file it was: take all of it
            os.lseek(source, 0, os.SEEK_SET)
            whole = hashlib.sha256()
    # The part taken is the whole file unless a prefix was taken before: one hash then.
    part = hashlib.sha256() if offset else whole
    end = offset
    while chunk := os.read(source, _READ):
        whole.update(chunk)
        if part is not whole:
            part.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(target, view) :]
        end += len(chunk)
    os.fsync(target)
    return Taken(spool, offset, end, part.hexdigest(), whole.hexdigest(), mtime_ns)


def digest_of(path: Path) -> str:
    """SHA-256 of a file of ours (a spool)."""
    value = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_READ):
            value.update(chunk)
    return value.hexdigest()


def unchanged(path: Path, identity: tuple[int, int], end: int, mtime_ns: int | None) -> bool:
    """Whether ``path`` is still the very file taken (device and inode), ``end`` bytes long
    and (unless ``mtime_ns`` is None) not touched since: then it may be removed, as
    everything in it was taken."""
    try:
        now = os.lstat(path)
    except FileNotFoundError:
        return False
    same = (now.st_dev, now.st_ino, now.st_size) == (*identity, end)
    return same and mtime_ns in (None, now.st_mtime_ns)


def private_folder(path: Path) -> Path:
    """``path`` made (with its parents) and owner-only, whatever the umask."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.chmod(0o700)
    return path
