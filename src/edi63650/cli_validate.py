"""``edi63650 validate``: the files, the reports on stdout, the outputs in ``--output-dir``.

Outputs are written to a temporary name and renamed into place, with owner-only permissions:
they hold patient data like the 837 itself.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TextIO

from edi63650.errors import EdiError
from edi63650.rules.history import HistoryStore
from edi63650.rules.tables import Tables
from edi63650.validate import ValidationResult, Validator
from edi63650.writers import report_json

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


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


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all: a temporary file, flushed to disk, then renamed.
    Owner-only: outputs hold patient data."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        Path(temporary).chmod(0o600)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_outputs(result: ValidationResult, data: bytes, folder: Path) -> list[Path]:
    """NAME.277 (when there are claims), .999, .json, .html, .accepted.837 (when any)."""
    name = result.name if result.name != "-" else "stdin"
    written = []
    outputs = {
        f"{name}.277": result.to_277ca(),
        f"{name}.999": result.to_999(),
        f"{name}.json": result.to_json().encode(),
        f"{name}.html": result.to_html(data).encode(),
        f"{name}.accepted.837": result.accepted_837() or b"",
    }
    for file_name, content in outputs.items():
        if content:
            target = folder / file_name
            write_atomic(target, content)
            written.append(target)
    return written


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
    reports = []
    try:
        for number, name in enumerate(inputs, start=1):
            if progress:
                stderr.write(f"\rvalidating {number}/{len(inputs)}: {Path(name).name[:40]:<40}")
            try:
                data = stdin.read() if name == "-" else Path(name).read_bytes()
            except OSError as error:
                print(f"edi63650: {name}: cannot read: {error.strerror or error}", file=stderr)
                status = EXIT_USAGE
                continue
            try:
                result = validator.validate_stream(io.BytesIO(data), Path(name).name)
                if folder is not None:
                    write_outputs(result, data, folder)
            except (EdiError, OSError):
                raise
            except (
                Exception
            ) as error:  # the promise is one line naming the input, never a traceback
                print(
                    f"edi63650: {name}: internal error ({type(error).__name__}): {error}",
                    file=stderr,
                )
                status = EXIT_USAGE
                continue
            if result.rejected and status == EXIT_OK:
                status = EXIT_FINDINGS
            if args.format == "text":
                stdout.write(result.to_text(colour=colour) + ("\n" if number < len(inputs) else ""))
            elif args.format == "html":
                if folder is None:
                    stdout.write(result.to_html(data))
            else:
                reports.append(report_json.report(result))
    finally:
        if progress:
            stderr.write("\r" + " " * 70 + "\r")
        if history is not None:
            history.close()
    if args.format == "json":
        document = reports[0] if len(reports) == 1 else reports
        stdout.write(json.dumps(document, indent=2) + "\n")
    return status
