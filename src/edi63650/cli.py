"""The ``edi63650`` command line. ``main()`` only calls :func:`run`, which tests call in-process.

Exit status: 0 nothing wrong, 1 an error-level finding, 2 a usage error or an input that cannot
be read. Findings are printed without segment text so patient data never reaches a terminal or
log unless asked for.
"""

from __future__ import annotations

import argparse
import datetime
import errno
import gc
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from edi63650 import cli_validate
from edi63650.cli_validate import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from edi63650.errors import EdiError, EdiUsageError
from edi63650.findings import Finding, Severity
from edi63650.maps import Implementations
from edi63650.model import Claim
from edi63650.reader import iter_events
from edi63650.rules.pack import Engine
from edi63650.rules.tables import Tables
from edi63650.values import shown

__all__ = ["EXIT_FINDINGS", "EXIT_OK", "EXIT_USAGE", "format_finding", "main", "run"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors by raising instead of exiting the process."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


#: The exit statuses, said in the help of the commands that judge files.
EXIT_HELP = (
    "exit status: 0 every claim accepted; 1 something rejected (a claim, a transaction set or "
    "an interchange); 2 a usage error or an input that could not be read"
)


class _Version(argparse.Action):
    """--version: the package, pyx12 and the vintages of the rule tables in use (read only
    when asked)."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from importlib.metadata import version  # noqa: PLC0415 - only for --version

        from edi63650 import __version__  # noqa: PLC0415 - only for --version

        tables = Tables.load()
        lines = [
            f"edi63650 {__version__}",
            f"pyx12 {version('pyx12')}",
            "rule tables in use:",
            f"  ICD-10-CM code list: {tables.icd10_vintage}",
            *(f"  {name}: {vintage}" for name, (_, vintage) in sorted(tables.sources.items())),
        ]
        print("\n".join(lines), file=sys.stdout)  # (run() points stdout where it should go)
        parser.exit()


def _parser() -> _Parser:
    parser = _Parser(prog="edi63650", description="Read and validate X12 837 claims.")
    parser.add_argument(
        "--version",
        action=_Version,
        nargs=0,
        help="print the version, pyx12's and the vintages of the rule tables, then exit",
    )
    commands = parser.add_subparsers(
        dest="command", required=True, parser_class=_Parser, metavar="COMMAND"
    )
    parse = commands.add_parser(
        "parse", help="print each claim as one JSON object per line", epilog=EXIT_HELP
    )
    parse.add_argument("files", nargs="+", metavar="FILE", help="837 files, or - for stdin")
    parse.add_argument(
        "--include-phi",
        action="store_true",
        help="also print patient names, birth dates and addresses",
    )
    parse.add_argument(
        "--format",
        choices=("json", "text"),
        default="json",
        help="json: one JSON object per claim (default); text: one readable line per claim",
    )
    parse.add_argument(
        "--verbose", "-v", action="store_true", help="also print info findings (tolerances)"
    )
    check = commands.add_parser(
        "validate",
        help="validate 837 files: report, 277CA, 999 and the accepted claims",
        epilog=EXIT_HELP,
    )
    cli_validate.add_arguments(check)
    watch = commands.add_parser("watch", help="validate every file dropped into a folder")
    watch.add_argument("inbox", metavar="INBOX", help="the folder to watch")
    watch.add_argument(
        "--output-dir",
        metavar="OUT",
        required=True,
        help="outputs, archive/accepted, archive/rejected and quarantine go here",
    )
    watch.add_argument(
        "--once",
        action="store_true",
        help="process what is there now, then exit (for cron jobs and tests)",
    )
    watch.add_argument(
        "--poll",
        type=float,
        metavar="SECONDS",
        help="poll every SECONDS instead of filesystem events (network shares)",
    )
    watch.add_argument(
        "--settle",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="a file is complete once unchanged this long (default 1)",
    )
    watch.add_argument(
        "--history", metavar="PATH", help="SQLite history of accepted claims (its key in PATH.key)"
    )
    watch.add_argument(
        "--log-format",
        choices=("text", "json"),
        default="text",
        help="one line per event on stdout, with a UTC time: text (default) or JSON lines",
    )
    watch.add_argument(
        "--recursive",
        action="store_true",
        help="take files from the inbox's subfolders too (by default they are left alone, "
        "and said so once)",
    )
    cli_validate.add_rule_options(watch)
    watch.add_argument(
        "--control-start",
        type=int,
        default=1,
        metavar="N",
        help="the lowest interchange control number our acknowledgments take next (they "
        "count up in the journal, across runs)",
    )
    rules = commands.add_parser("rules", help="list every rule with its severities and sources")
    rules.add_argument(
        "--format", choices=("text", "json"), default="text", help="text (default) or JSON"
    )
    rules.add_argument("--maps", metavar="DIR", help="read the rule tables from DIR")
    refresh = commands.add_parser(
        "refresh-maps", help="rebuild the NCCI PTP, MUE and fee-schedule tables from CMS extracts"
    )
    refresh.add_argument(
        "--ptp",
        metavar="CSV",
        action="append",
        help="NCCI PTP extract; repeat for several quarters, oldest first (merged into one "
        "table dated by each pair's effective and deletion dates)",
    )
    refresh.add_argument(
        "--mue",
        metavar="CSV",
        action="append",
        help="MUE extract; repeat for several quarters, oldest first (each value kept with "
        "its vintage)",
    )
    refresh.add_argument("--fee-schedule", metavar="CSV", help="PPRRVU extract")
    refresh.add_argument("--output", metavar="DIR", required=True, help="maps folder to write")
    refresh.add_argument("--source", required=True, help="where the extracts come from")
    refresh.add_argument("--vintage", required=True, help="their effective date or release")
    refresh.add_argument(
        "--as-of",
        type=datetime.date.fromisoformat,
        help="leave out PTP pairs deleted before this date (default: keep every period, "
        "since claims are judged by their dates of service)",
    )
    make = commands.add_parser("synth", help="write a realistic 837 file for load tests")
    make.add_argument(
        "--kind", choices=("837P", "837I"), required=True, help="professional or institutional"
    )
    make.add_argument("--claims", type=int, required=True, help="how many claims to write")
    make.add_argument(
        "--seed", type=int, default=0, help="the same seed writes the same file (default 0)"
    )
    make.add_argument("--output", "-o", metavar="FILE", help="write here instead of stdout")
    return parser


def format_finding(name: str, finding: Finding) -> str:
    """One line per finding, without the raw segment (it may hold patient data)."""
    where = finding.location()
    return shown(f"{name}: {finding.severity}: {finding.rule}: {finding.message}") + (
        f" ({where})" if where else ""
    )


def claim_line(name: str, claim: Claim) -> str:
    """One readable line per claim, free of patient names and birth dates."""
    ctx = claim.context
    billing = ctx.billing_provider.npi if ctx.billing_provider else None
    payer = ctx.subscriber.payer_id if ctx.subscriber else None
    lines = []
    for line in claim.lines:
        procedure = line.procedure
        code = "-".join((procedure.code, *procedure.modifiers)) if procedure else "?"
        units = format(line.units.normalize(), "f") if line.units is not None else "?"
        lines.append(f"{code} x{units}")
    total = f"${claim.total_charge:,.2f}" if claim.total_charge is not None else "$?"
    return shown(
        f"{Path(name).name}  {claim.claim_id}  {claim.kind}  {total}  "
        f"billing NPI {billing}  payer {payer}  lines: {' | '.join(lines)}"
    )


@contextmanager
def _open(name: str, stdin: BinaryIO) -> Iterator[BinaryIO]:
    if name == "-":
        yield stdin
        return
    with Path(name).open("rb") as stream:
        yield stream


def _parse(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: BinaryIO) -> int:
    from edi63650.jsonify import claim_to_json  # noqa: PLC0415 - each command imports its own

    implementations = Implementations.load()
    status = EXIT_OK
    for name in args.files:
        if name != "-" and Path(name).is_dir():
            print(f"edi63650: {name}: is a directory; name the files to parse", file=stderr)
            status = EXIT_USAGE
            continue
        try:
            with _open(name, stdin) as stream:
                for event in iter_events(stream, implementations=implementations):
                    if isinstance(event, Claim):
                        if args.format == "text":
                            stdout.write(claim_line(name, event) + "\n")
                            continue
                        record = claim_to_json(event, include_phi=args.include_phi)
                        record["file"] = name
                        stdout.write(json.dumps(record, separators=(",", ":")) + "\n")
                    elif args.verbose or event.severity is not Severity.INFO:
                        print(format_finding(name, event), file=stderr)
                        if event.severity is Severity.ERROR and status == EXIT_OK:
                            status = EXIT_FINDINGS
        except BrokenPipeError:
            raise
        except OSError as error:
            print(f"edi63650: {name}: cannot read: {error.strerror or error}", file=stderr)
            status = EXIT_USAGE
    return status


def _watch(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from edi63650.watch import Watcher, install_signal_handlers  # noqa: PLC0415 - as _parse

    try:
        watcher = Watcher(
            Path(args.inbox),
            Path(args.output_dir),
            history=Path(args.history) if args.history else None,
            settle=args.settle,
            poll=args.poll or 5.0,
            log=stdout,
            log_format=args.log_format,
            tables=Tables.load(Path(args.maps) if args.maps else None),
            profile=args.profile,
            syntax_policy=args.syntax_policy,
            recursive=args.recursive,
            control_start=args.control_start,
        )
    except EdiUsageError as error:
        raise UsageError(str(error)) from None
    restore = install_signal_handlers(watcher)
    try:
        watcher.announce(events=not args.once and args.poll is None)
        if args.once:
            watcher.run_once()
        else:
            watcher.run(use_events=args.poll is None)
    finally:
        restore()
        watcher.close()
    return EXIT_OK


def _rules(args: argparse.Namespace, stdout: TextIO) -> int:
    tables = Tables.load(Path(args.maps) if args.maps else None)
    catalogue = Engine(tables).catalogue
    if args.format == "json":
        records = [
            {
                "id": info.id,
                "level": info.level,
                "title": info.title,
                "severity": {
                    profile: (s.value if s else "off") for profile, s in info.severities.items()
                },
                "source": info.source,
                "confirmed": info.confirmed,
                "statuses": [str(status) for status in info.statuses],
            }
            for info in catalogue
        ]
        stdout.write(json.dumps(records, indent=2) + "\n")
        return EXIT_OK
    for info in catalogue:
        severities = ", ".join(
            f"{profile} {s.value if s else 'off'}" for profile, s in info.severities.items()
        )
        statuses = " ".join(str(status) for status in info.statuses)
        flag = "" if info.confirmed else "  [source UNCONFIRMED]"
        stdout.write(
            f"{info.id}  (SNIP {info.level})  {info.title}\n"
            f"    severity: {severities}; 277CA: {statuses}{flag}\n"
            f"    source: {info.source}\n"
        )
    return EXIT_OK


def _refresh(args: argparse.Namespace, stdout: TextIO) -> int:
    from edi63650.rules import refresh  # noqa: PLC0415 - as _parse

    if not (args.ptp or args.mue or args.fee_schedule):
        raise UsageError("edi63650 refresh-maps: give --ptp, --mue or --fee-schedule")
    tables: dict[str, Any] = {}  # file name -> the lxml root to install
    written: list[str] = []
    inputs: list[Path] = []
    where = {"source": args.source, "vintage": args.vintage}
    if args.ptp:
        inputs += map(Path, args.ptp)
        root, count = refresh.build_ptp(list(map(Path, args.ptp)), as_of=args.as_of, **where)
        tables["ncci-ptp.xml"] = root
        written.append(f"ncci-ptp.xml: {count} pairs")
    if args.mue:
        inputs += map(Path, args.mue)
        root, count = refresh.build_mue(list(map(Path, args.mue)), **where)
        tables["mue.xml"] = root
        written.append(f"mue.xml: {count} edits")
    if args.fee_schedule:
        inputs.append(Path(args.fee_schedule))
        root, count = refresh.build_fee_schedule(Path(args.fee_schedule), **where)
        tables["fee-schedule.xml"] = root
        written.append(f"fee-schedule.xml: {count} codes")
    refresh.install(Path(args.output), tables, inputs)  # all or nothing, checked first
    stdout.write("\n".join(written) + "\n")
    return EXIT_OK


def _synth(args: argparse.Namespace, stdout: TextIO) -> int:
    from edi63650.testing import synth  # noqa: PLC0415 - as _parse

    if args.claims < 1:
        raise UsageError("edi63650 synth: --claims must be at least 1")
    data = synth(args.kind, args.claims, args.seed)
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        stdout.write(data.decode("latin-1"))
    return EXIT_OK


def run(
    argv: Sequence[str],
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: BinaryIO | None = None,
) -> int:
    """Run the command line; return the exit status instead of exiting."""
    out = stdout if stdout is not None else sys.stdout
    err = stderr if stderr is not None else sys.stderr
    inp = stdin if stdin is not None else sys.stdin.buffer
    try:
        parser = _parser()
        if not argv:  # say what there is to do
            print(parser.format_help().rstrip(), file=err)
            return EXIT_USAGE
        with redirect_stdout(out):  # argparse prints --help to sys.stdout
            args = parser.parse_args(list(argv))
        if args.command == "parse":
            return _parse(args, out, err, inp)
        if args.command == "validate":
            return cli_validate.run_validate(args, out, err, inp)
        if args.command == "watch":
            return _watch(args, out, err)
        if args.command == "rules":
            return _rules(args, out)
        if args.command == "refresh-maps":
            return _refresh(args, out)
        return _synth(args, out)
    except BrokenPipeError:  # the reader of stdout went away (| head): not an error of ours
        return EXIT_OK
    except UsageError as error:
        print(error, file=err)
        return EXIT_USAGE
    except SystemExit as exit_:  # --help and --version exit through argparse
        return int(exit_.code or 0)
    except OSError as error:
        print(f"edi63650: {describe_os_error(error)}", file=err)
        return EXIT_USAGE
    except EdiError as error:
        print(f"edi63650: {error}", file=err)
        return EXIT_USAGE
    except Exception as error:  # the promise is one line, never a traceback
        print(f"edi63650: internal error ({type(error).__name__}): {error}", file=err)
        return EXIT_USAGE


_HINTS = {
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.ENOENT: "check the path",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.EISDIR: "it is a folder, not a file",
    errno.ENOSPC: "free some space and run again",
    errno.EROFS: "the file system is read-only; choose another place",
    errno.ENAMETOOLONG: "choose a shorter name",
}


def describe_os_error(error: OSError) -> str:
    """One line for an OS error: the path (the folder, for one of our temporary files), what
    went wrong and what to do."""
    name = error.filename
    where = ""
    if name is not None:
        path = Path(os.fsdecode(name))
        if path.name.startswith(".") and path.name.endswith(".tmp"):
            path = path.parent  # a temporary output of ours: the folder is what matters
            where = f"cannot write in {path}: "
        else:
            where = f"{path}: "
    what = (error.strerror or str(error)).lower() if error.strerror else str(error)
    hint = _HINTS.get(error.errno or 0)
    return f"{where}{what}" + (f"; {hint}" if hint else "")


#: Allocations between collections of the youngest generation (Python's default is 700). The
#: objects of a validation are short-lived and hold no cycles, so most collections would find
#: nothing to free; a run over large files spends a third less time with fewer of them.
GC_THRESHOLD = (100_000, 50, 100)


def main() -> None:
    gc.set_threshold(*GC_THRESHOLD)
    gc.freeze()  # what the imports made lives as long as the process: no collection looks at it
    status = run(sys.argv[1:])
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at devnull so the interpreter's final flush does not complain again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    sys.exit(status)
