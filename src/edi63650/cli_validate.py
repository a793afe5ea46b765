"""``edi63650 validate``: the files, the reports on stdout, the outputs in ``--output-dir``.

Each input is validated in one pass (:meth:`~edi63650.validate.Validator.write`), its outputs
written as it is read (:mod:`edi63650.outputs`); several inputs may be validated in worker
processes (``--jobs``, :mod:`edi63650.jobs`), answered in the order they were given. Standard
input is spooled to an owner-only temporary file first, so that it can be read again by
position like any file.
"""

from __future__ import annotations

import argparse
import codecs
import datetime
import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from edi63650.jobs import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, Job, run_all
from edi63650.writers.common import Tally
from edi63650.writers.numbers import LAST
from edi63650.writers.report_json import tally_json
from edi63650.writers.report_text import counted, summary_line

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "UsageError", "add_arguments", "run_validate"]

#: Bytes read from standard input at a time while it is spooled.
_STDIN_CHUNK = 1 << 16


def add_rule_options(parser: argparse.ArgumentParser) -> None:
    """--profile, --syntax-policy and --maps: how claims are judged (validate and watch)."""
    parser.add_argument(
        "--profile",
        default="auto",
        metavar="ID",
        help="payer profile of the rule pack: auto (the default: chosen for each claim by its "
        "payer id and SBR09, as maps/profiles.xml says), medicare, commercial, or one the "
        "--maps folder defines",
    )
    parser.add_argument(
        "--syntax-policy",
        choices=("claim", "transaction"),
        default="claim",
        help="what a syntax error in one claim rejects (default: the claim)",
    )
    parser.add_argument("--maps", metavar="DIR", help="read the rule tables from DIR")


class UsageError(Exception):
    """A command line that cannot be carried out; one line for the user, exit 2."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="FILE|DIR|-",
        help="837 files, directories of them (subfolders too), or - for stdin",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "jsonl", "html"),
        default="text",
        help="report on stdout (default text); jsonl: one JSON object per claim and per "
        "finding outside claims, then one per file, as each interchange is decided",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="write NAME.277, NAME.999, NAME.json, NAME.html and NAME.accepted.837 for each "
        "input; a directory's files keep their path under it (DIR/sub/NAME.277), and inputs "
        "that would write the same names get -2, -3... (x-2.837.277)",
    )
    parser.add_argument(
        "--no-recursive",
        action="store_true",
        help="take only the files directly in a directory given, not its subfolders",
    )
    parser.add_argument(
        "--history",
        metavar="PATH",
        help="SQLite history of accepted claims, across submissions (global periods, edits "
        "across claims, duplicates); its patient key is kept in PATH.key",
    )
    add_rule_options(parser)
    parser.add_argument(
        "--show-phi",
        action="store_true",
        help="show patients' names, ids, addresses and birth dates in the text and HTML "
        "reports (masked with # by default)",
    )
    parser.add_argument(
        "--control-start",
        type=int,
        default=1,
        metavar="N",
        help="our acknowledgments' interchange control numbers count up from N (default 1; "
        "with --control-numbers or --history: the lowest number to take next)",
    )
    parser.add_argument(
        "--control-numbers",
        metavar="PATH",
        help="keep our control numbers in this SQLite file, so that they stay unique across "
        "runs (the --history file keeps them when given); inputs are then read one after "
        "another",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="validate N files at a time, in worker processes (the answers are the same, in "
        "the same order; with --history files are read one after another)",
    )
    parser.add_argument(
        "--quiet", "-q", action="store_true", help="no progress display on the terminal"
    )
    parser.add_argument(
        "--timestamp",
        type=datetime.datetime.fromisoformat,
        metavar="ISO",
        help="the date and time the acknowledgments and reports say they were made "
        "(default: now); for outputs that can be compared byte for byte",
    )


def _inputs(names: list[str], *, recursive: bool) -> tuple[list[tuple[str, str]], list[str]]:
    """Each input as (name, output): a directory gives its files (into subfolders unless not
    ``recursive``; hidden names and links skipped: nothing outside what was given is read),
    each output named by its path under the directory. Two inputs that would write the same
    outputs get ``-2``, ``-3``... before the extension. Also the lines that say what a
    directory held."""
    found: list[tuple[str, str]] = []
    notes: list[str] = []
    for name in names:
        if not name:  # (Path("") is the current folder: never read what was not named)
            raise UsageError("edi63650 validate: an input name is empty")
        path = Path(name)
        if name == "-" or not path.is_dir():
            found.append((name, "stdin" if name == "-" else path.name))
            continue
        files = sorted(walk(path, recursive=recursive))
        if not files:
            raise UsageError(f"edi63650 validate: {name}: the directory holds no files")
        notes.append(f"edi63650: {name}: {len(files)} file{'s' if len(files) != 1 else ''}")
        found += [(str(p), p.relative_to(path).as_posix()) for p in files]
    taken: set[str] = set()
    out = []
    for name, output in found:
        unique, number = output, 1
        while unique in taken:
            number += 1
            stem, dot, suffix = (
                output.rpartition(".") if "." in Path(output).name else (output, "", "")
            )
            unique = f"{stem}-{number}{dot}{suffix}"
        taken.add(unique)
        out.append((name, unique))
    return out, notes


def walk(folder: Path, *, recursive: bool) -> Iterator[Path]:
    """The regular files in ``folder`` (and its subfolders if ``recursive``), in no order;
    hidden names and links skipped, so nothing outside the folder is read."""
    for path in folder.iterdir():
        if path.name.startswith(".") or path.is_symlink():
            continue
        if path.is_dir():
            if recursive:
                yield from walk(path, recursive=True)
        elif path.is_file():
            yield path


def _spool_stdin(stdin: BinaryIO, folder: Path) -> Path:
    """Standard input in an owner-only file of ``folder`` (a private temporary folder)."""
    path = folder / "stdin"
    with path.open("wb") as out:
        shutil.copyfileobj(stdin, out, _STDIN_CHUNK)
    path.chmod(0o600)
    return path


def run_validate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: BinaryIO) -> int:
    inputs, notes = _inputs(args.inputs, recursive=not args.no_recursive)
    if not args.quiet:
        for note in notes:
            print(note, file=stderr)
    if args.format == "html" and len(inputs) > 1 and not args.output_dir:
        raise UsageError(
            "edi63650 validate: --format html prints one report; give one input or --output-dir"
        )
    if args.jobs < 1:
        raise UsageError("edi63650 validate: --jobs must be at least 1")
    jobs = args.jobs
    if jobs > 1 and (args.history or args.control_numbers):
        # Each file's global period must see the files before it, and control numbers kept
        # across runs are taken in the order of the inputs: one after another.
        what = "--history" if args.history else "--control-numbers"
        print(f"edi63650: {what} reads the inputs one after another; --jobs ignored", file=stderr)
        jobs = 1
    if not 1 <= args.control_start <= LAST:
        raise UsageError(f"edi63650 validate: --control-start must be 1 to {LAST}")
    folder = Path(args.output_dir) if args.output_dir else None
    if folder is not None:
        if folder.exists() and not folder.is_dir():
            raise UsageError(f"edi63650 validate: --output-dir {folder} is a file, not a folder")
        folder.mkdir(parents=True, exist_ok=True)
    shown = stderr if stderr.isatty() and not args.quiet else None
    status = EXIT_OK
    reports: list[str] = []  # JSON reports (files), printed at the end as one document
    grand, files, transactions = Tally(), 0, 0  # the total of several inputs
    with tempfile.TemporaryDirectory(prefix="edi63650-") as private:
        job = Job(
            format=args.format,
            output_dir=str(folder) if folder is not None else None,
            maps=args.maps,
            profile=args.profile,
            history=args.history,
            syntax_policy=args.syntax_policy,
            colour=stdout.isatty(),
            timestamp=args.timestamp,
            reports=private,  # each report waits there: a large file's is large
            control_start=args.control_start,
            control_numbers=args.control_numbers,
            show_phi=args.show_phi,
        )
        named = [
            (name, _spool_stdin(stdin, Path(private)) if name == "-" else None, output)
            for name, output in inputs
        ]
        for number, done in enumerate(run_all(job, named, jobs=jobs, progress=shown), 1):
            for line in done.errors:
                print(line, file=stderr)
            status = max(status, done.status) if done.status != EXIT_OK else status
            if done.status == EXIT_USAGE:
                continue
            files += 1
            transactions += done.transactions
            grand.merge(done.tally)
            if args.format == "json":
                reports.append(done.report)
                continue
            _copy(stdout, done.report)
            if args.format == "text" and number < len(inputs):
                stdout.write("\n")
        if args.format == "json":
            _print_reports(reports, _totals(grand, files, transactions), stdout)
    if args.format == "text" and len(inputs) > 1:
        stdout.write(
            f"\ntotal: {counted(files, 'file')}, {counted(grand.claims, 'claim')} in "
            f"{counted(transactions, 'transaction set')}; {summary_line(grand)}\n"
        )
    return status


def _copy(stdout: TextIO, report: str | None, *, strip: bool = False) -> None:
    """A report file to stdout in chunks (UTF-8), then removed; ``strip``: without its final
    line break."""
    if not report:
        return
    path = Path(report)
    decoder = codecs.getincrementaldecoder("utf-8")()
    left = path.stat().st_size
    with path.open("rb") as stream:
        while chunk := stream.read(_STDIN_CHUNK):
            left -= len(chunk)
            if strip and not left:
                chunk = chunk.rstrip(b"\n")
            stdout.write(decoder.decode(chunk))
        stdout.write(decoder.decode(b"", final=True))
    path.unlink(missing_ok=True)


def _totals(grand: Tally, files: int, transactions: int) -> dict[str, object]:
    return {"files": files, **tally_json(grand), "transaction_sets": transactions}


def _print_reports(reports: list[str], totals: dict[str, object], stdout: TextIO) -> None:
    """One document whatever the number of inputs (output.schema.json): each report (as in
    report.schema.json) in ``files``, then the ``totals``; the reports copied from their files."""
    stdout.write('{"schema_version": 1, "files": [\n')
    for index, report in enumerate(reports):
        if index:
            stdout.write(",\n")
        _copy(stdout, report, strip=True)
    stdout.write(f'\n], "totals": {json.dumps(totals)}}}\n')
