"""``edi63650 validate``: the files, the reports on stdout, the outputs in ``--output-dir``.

Each input is validated in one pass (:meth:`~edi63650.validate.Validator.write`): its outputs
are written as it is read, to temporary names renamed into place at the end, with owner-only
permissions (they hold patient data like the 837 itself). Standard input is spooled to an
owner-only temporary file first, so that every input can be read again by position.
"""

from __future__ import annotations

import argparse
import datetime
import os
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, BinaryIO, TextIO

from edi63650.errors import EdiError
from edi63650.rules.history import HistoryStore
from edi63650.rules.tables import Tables
from edi63650.validate import Summary, Validator
from edi63650.writers.accepted import AcceptedSink
from edi63650.writers.ack277 import Ack277Sink
from edi63650.writers.ack999 import Ack999Sink
from edi63650.writers.report_html import COMPACT_ABOVE, HtmlSink
from edi63650.writers.report_json import JsonSink
from edi63650.writers.report_text import TextSink
from edi63650.writers.sink import Sink, Spool

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

#: Bytes read from standard input at a time while it is spooled.
_STDIN_CHUNK = 1 << 16


class UsageError(Exception):
    """A command line that cannot be carried out; one line for the user, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="FILE|DIR|-",
        help="837 files, directories of them, or - for stdin",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="report on stdout (default text)",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="write NAME.277, NAME.999, NAME.json, NAME.html and NAME.accepted.837 for each input",
    )
    parser.add_argument("--profile", choices=("auto", "medicare", "commercial"), default="auto")
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="SQLite history of accepted SCS procedures, across submissions",
    )
    parser.add_argument(
        "--syntax-policy",
        choices=("claim", "transaction"),
        default="claim",
        help="what a syntax error in one claim rejects (default: the claim)",
    )
    parser.add_argument("--maps", metavar="DIR", help="read the rule tables from DIR")


def _inputs(names: list[str]) -> Iterator[str]:
    for name in names:
        path = Path(name)
        if name != "-" and path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
            if not found:
                raise UsageError(f"edi63650 validate: {name}: the directory holds no files")
            yield from (str(p) for p in found)
        else:
            yield name


class AtomicFile:
    """An output written whole or not at all: a temporary owner-only file beside ``path``,
    flushed to disk and renamed onto ``path`` by :meth:`commit`; :attr:`size` counts what was
    written through it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        self._temporary = Path(name)
        self._file: IO[bytes] = os.fdopen(handle, "wb")
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return self._file.write(data)

    def commit(self, *, keep: bool = True) -> None:
        """Rename into place (or, with ``keep`` false, leave nothing behind)."""
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            if keep:
                self._temporary.chmod(0o600)
                self._temporary.replace(self.path)
                return
        except BaseException:
            self.abort()
            raise
        self._temporary.unlink(missing_ok=True)

    def abort(self) -> None:
        self._file.close()
        self._temporary.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (see :class:`AtomicFile`)."""
    target = AtomicFile(path)
    try:
        target.write(data)
    except BaseException:
        target.abort()
        raise
    target.commit()


class Outputs:
    """The outputs of one input in ``folder``, as sinks for one pass: NAME.277 (kept when
    there are claims), .999 (when there are transaction sets), .json, .html and .accepted.837
    (when a claim was accepted). Nothing is in place until :meth:`commit`."""

    KINDS = ("277", "999", "json", "html", "accepted.837")

    def __init__(self, folder: Path, name: str, when: datetime.datetime, *, size: int) -> None:
        base = name if name != "-" else "stdin"
        self.files = {kind: AtomicFile(folder / f"{base}.{kind}") for kind in self.KINDS}
        files = self.files
        self._accepted = AcceptedSink(files["accepted.837"])
        self.sinks: list[Sink] = [
            Ack277Sink(files["277"], when),
            Ack999Sink(files["999"], when),
            JsonSink(files["json"], name, when),
            HtmlSink(files["html"], name, when, compact=size > COMPACT_ABOVE),
            self._accepted,
        ]

    def commit(self, kinds: Collection[str] = KINDS) -> list[Path]:
        """Put the outputs of ``kinds`` that have content in place; drop the others."""
        written = []
        for kind, target in self.files.items():
            has = self._accepted.written if kind == "accepted.837" else target.size > 0
            target.commit(keep=has and kind in kinds)
            if has and kind in kinds:
                written.append(target.path)
        return written

    def abort(self) -> None:
        for target in self.files.values():
            target.abort()


def write_outputs(
    validator: Validator,
    stream: BinaryIO,
    name: str,
    folder: Path,
    *,
    size: int,
    extra: tuple[Sink, ...] = (),
) -> Summary:
    """Validate ``stream`` (seekable, ``size`` bytes) once, writing its :class:`Outputs` into
    ``folder``; ``extra`` sinks are fed in the same pass."""
    outputs = Outputs(folder, name, validator.when(), size=size)
    try:
        summary = validator.write(stream, [*outputs.sinks, *extra], name)
    except BaseException:
        outputs.abort()
        raise
    outputs.commit()
    return summary


class _Text:
    """A binary stream (what sinks write) onto a text stream (stdout)."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def write(self, data: bytes) -> int:
        self._out.write(data.decode())
        return len(data)


def _source(name: str, stdin: BinaryIO) -> tuple[BinaryIO, int]:
    """The input as a seekable binary stream (the caller closes it), with its size.
    Standard input goes to an owner-only temporary file, gone once closed."""
    if name != "-":
        stream = Path(name).open("rb")  # noqa: SIM115 - closed by the caller
        return stream, os.fstat(stream.fileno()).st_size
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the caller
    while chunk := stdin.read(_STDIN_CHUNK):
        spool.write(chunk)
    size = spool.tell()
    spool.seek(0)
    return spool, size


def run_validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: BinaryIO) -> int:
    inputs = list(_inputs(args.inputs))
    if args.format == "html" and len(inputs) > 1 and not args.output_dir:
        raise UsageError(
            "edi63650 validate: --format html prints one report; give one input or --output-dir"
        )
    folder = Path(args.output_dir) if args.output_dir else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    tables = Tables.load(Path(args.maps) if args.maps else None)
    history = HistoryStore(Path(args.history)) if args.history else None
    validator = Validator(
        tables=tables, profile=args.profile, history=history, syntax_policy=args.syntax_policy
    )
    progress = stderr.isatty() and len(inputs) > 1
    colour = stdout.isatty()
    status = EXIT_OK
    reports = Spool()  # JSON reports, printed at the end as one document
    ends: list[int] = []  # where each report ends in the spool
    out = _Text(stdout)
    try:
        for number, name in enumerate(inputs, start=1):
            if progress:
                stderr.write(f"\rvalidating {number}/{len(inputs)}: {Path(name).name[:40]:<40}")
            try:
                stream, size = _source(name, stdin)
            except OSError as error:
                print(f"edi63650: {name}: cannot read: {error.strerror or error}", file=stderr)
                status = EXIT_USAGE
                continue
            label = Path(name).name
            when = validator.when()
            report: list[Sink] = []
            if args.format == "text":
                report.append(TextSink(out, label, colour=colour))
            elif args.format == "json":
                report.append(JsonSink(reports, label, when))
            elif folder is None:
                report.append(HtmlSink(out, label, when, compact=size > COMPACT_ABOVE))
            try:
                with stream:
                    if folder is not None:
                        summary = write_outputs(
                            validator, stream, label, folder, size=size, extra=tuple(report)
                        )
                    else:
                        summary = validator.write(stream, report, label)
            except (EdiError, OSError):
                raise
            except (
                Exception
            ) as error:  # the promise is one line naming the input, never a traceback
                reports.truncate(ends[-1] if ends else 0)
                print(
                    f"edi63650: {name}: internal error ({type(error).__name__}): {error}",
                    file=stderr,
                )
                status = EXIT_USAGE
                continue
            if args.format == "json":
                ends.append(reports.size)
            if summary.rejected and status == EXIT_OK:
                status = EXIT_FINDINGS
            if args.format == "text" and number < len(inputs):
                stdout.write("\n")
    finally:
        if progress:
            stderr.write("\r" + " " * 70 + "\r")
        if history is not None:
            history.close()
    if args.format == "json":
        _print_reports(reports, ends, stdout)
    reports.close()
    return status


def _print_reports(reports: Spool, ends: list[int], stdout: TextIO) -> None:
    """One report as an object, several (or none) as an array."""
    if len(ends) == 1:
        stdout.write(reports.read(0, ends[0]).decode())
        return
    starts = [0, *ends[:-1]]
    items = [reports.read(a, b).decode().rstrip("\n") for a, b in zip(starts, ends, strict=True)]
    stdout.write("[" + ",\n".join(items) + "]\n" if items else "[]\n")
