"""Running ``edi63650 validate`` over its inputs: one after another, or in worker processes.

Each input is validated by a :class:`Runner` (one :class:`~edi63650.validate.Validator` per
process), which writes the input's outputs itself and hands back a :class:`Done`: the report
for standard output, the lines for standard error and the exit status. The command line prints
them in the order of the inputs, so ``--jobs 4`` answers exactly as ``--jobs 1`` does.

Progress goes to standard error on a terminal (tqdm): bytes read, claims and rate within a file
when inputs are read one by one, files and claims across them with workers.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Never, TextIO

import attrs

from edi63650.errors import EdiError
from edi63650.outputs import write_outputs
from edi63650.rules.history import HistoryStore
from edi63650.rules.pack import check_profile
from edi63650.rules.tables import Tables
from edi63650.validate import Summary, Validator
from edi63650.writers.common import Tally
from edi63650.writers.numbers import StoredNumbers
from edi63650.writers.report_html import COMPACT_ABOVE, HtmlSink
from edi63650.writers.report_json import JsonlSink, JsonSink
from edi63650.writers.report_text import TextSink
from edi63650.writers.sink import Sink

if TYPE_CHECKING:  # imported where used: start-up pays for neither on most runs
    from tqdm import tqdm

#: Exit status of validate: every claim accepted; something rejected; a usage error or an
#: input that could not be read.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2

#: One input: its name as given, where it was spooled (stdin) or None, and the path its
#: outputs are named after, relative to the output folder.
Input = tuple[str, Path | None, str]

#: Calls the progress display gets: (bytes read so far, claims so far).
Advance = Callable[[int, int], None]


@attrs.frozen
class Job:
    """What the command line asked of every input (picklable, for worker processes)."""

    format: str
    output_dir: str | None
    maps: str | None
    profile: str
    history: str | None
    syntax_policy: str
    colour: bool
    timestamp: datetime.datetime | None
    reports: str  # a private folder: each report for stdout waits there, never in memory
    control_start: int = 1
    control_numbers: str | None = None  # a SQLite file keeping them across runs
    show_phi: bool = False  # patients' data unmasked in the text and HTML reports


@attrs.frozen
class Done:
    """One input validated: the file in the job's ``reports`` folder holding its report for
    standard output (UTF-8; empty when there is none), lines for standard error, exit status,
    size and claims."""

    report: str
    errors: tuple[str, ...]
    status: int
    size: int
    claims: int
    tally: Tally = attrs.field(factory=Tally)  # what its claims came to
    transactions: int = 0


class Runner:
    """Validates inputs for a :class:`Job`; one per process, reused for every input."""

    def __init__(self, job: Job) -> None:
        self._job = job
        tables = Tables.load(Path(job.maps) if job.maps else None)
        check_profile(tables, job.profile)  # before anything is opened
        self._history = HistoryStore(Path(job.history)) if job.history else None
        # Our control numbers are kept where there is a place: their own file, or the history.
        place = job.control_numbers or job.history
        self._numbers = (
            StoredNumbers(Path(place), start=job.control_start) if place is not None else None
        )
        self._validator = Validator(
            tables=tables,
            profile=job.profile,
            history=self._history,
            syntax_policy=job.syntax_policy,
            now=job.timestamp,
            control_numbers=self._numbers,
            control_start=job.control_start,
        )

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
        if self._numbers is not None:
            self._numbers.close()

    def run(
        self,
        name: str,
        path: Path | None,
        advance: Advance | None = None,
        output: str | None = None,
    ) -> Done:
        """Validate ``path`` (or the file ``name``), shown as ``name``; its outputs are named
        after ``output`` (a path relative to the output folder; the input's name if None)."""
        try:
            stream = (path or Path(name)).open("rb")
        except OSError as error:
            return _failed(f"edi63650: {name}: cannot read: {error.strerror or error}")
        job = self._job
        label = Path(name).name
        when = self._validator.when()
        # Owner-only, in the command line's private folder (removed with it).
        out = tempfile.NamedTemporaryFile(dir=job.reports, suffix=".report", delete=False)  # noqa: SIM115 - closed below
        with out, stream:
            size = os.fstat(stream.fileno()).st_size
            report: list[Sink] = []
            if job.format == "text":
                report.append(TextSink(out, label, colour=job.colour, show_phi=job.show_phi))
            elif job.format == "json":
                report.append(JsonSink(out, label, when))
            elif job.format == "jsonl":
                report.append(JsonlSink(out, label, when))
            elif job.output_dir is None:
                compact = size > COMPACT_ABOVE
                report.append(HtmlSink(out, label, when, compact=compact, show_phi=job.show_phi))
            progress = _progress(advance)
            try:
                if job.output_dir is not None:
                    relative = Path(output or label)
                    folder = Path(job.output_dir)
                    for part in relative.parent.parts:  # mirrored subfolders, owner-only
                        folder = folder / part
                        folder.mkdir(mode=0o700, exist_ok=True)
                    summary = write_outputs(
                        self._validator,
                        stream,
                        label,
                        folder,
                        base=relative.name,
                        size=size,
                        extra=tuple(report),
                        progress=progress,
                        show_phi=job.show_phi,
                    )
                else:
                    summary = self._validator.write(stream, report, label, progress=progress)
            except (EdiError, OSError):
                raise
            except (
                Exception
            ) as error:  # the promise is one line naming the input, never a traceback
                return _failed(
                    f"edi63650: {name}: internal error ({type(error).__name__}): {error}"
                )
        status = EXIT_FINDINGS if summary.rejected else EXIT_OK
        return Done(
            out.name,
            (),
            status,
            size,
            summary.tally.claims,
            summary.tally.copy(),
            summary.transactions,
        )


def _failed(line: str) -> Done:
    return Done("", (line,), EXIT_USAGE, 0, 0)


def _progress(advance: Advance | None) -> Callable[[int, Summary], None] | None:
    if advance is None:
        return None
    return lambda read, summary: advance(read, summary.tally.claims)


def run_all(
    job: Job,
    inputs: Sequence[Input],
    *,
    jobs: int,
    progress: TextIO | None,
) -> Iterator[Done]:
    """Validate every ``(name, path, output)`` and yield what each gave, in order.
    ``progress`` is where the progress display goes (None: no display)."""
    sizes = [_size(path or Path(name)) for name, path, _ in inputs]
    bar: tqdm[Never] | None = None
    if progress is not None:
        from tqdm import tqdm  # noqa: PLC0415 - only on a terminal

        bar = tqdm(
            None,
            total=sum(sizes),
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            file=progress,
            dynamic_ncols=True,
            desc="validating",
        )
    claims = 0
    try:
        if jobs <= 1 or len(inputs) <= 1:
            runner = Runner(job)
            try:
                done_bytes = 0
                for (name, path, output), size in zip(inputs, sizes, strict=True):
                    advance = _advancer(bar, done_bytes, claims) if bar is not None else None
                    done = runner.run(name, path, advance, output)
                    done_bytes += size
                    claims += done.claims
                    _show(bar, done_bytes, claims)
                    yield done
            finally:
                runner.close()
            return
        import multiprocessing  # noqa: PLC0415 - only with workers
        from concurrent.futures import ProcessPoolExecutor  # noqa: PLC0415

        context = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
        with ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_start, initargs=(job,)
        ) as pool:
            done_bytes = 0
            for done, size in zip(pool.map(_run, inputs, chunksize=1), sizes, strict=True):
                done_bytes += size
                claims += done.claims
                _show(bar, done_bytes, claims)
                yield done
    finally:
        if bar is not None:
            bar.close()


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _advancer(bar: tqdm[Never], before: int, claims: int) -> Advance:
    return lambda read, seen: _show(bar, before + read, claims + seen)


def _show(bar: tqdm[Never] | None, done: int, claims: int) -> None:
    if bar is None:
        return
    bar.update(done - bar.n)
    bar.set_postfix_str(f"{claims:,} claims", refresh=False)


# -- worker processes -------------------------------------------------------------------------

_runner: Runner | None = None  # this worker process's runner


def _start(job: Job) -> None:
    global _runner  # noqa: PLW0603 - one runner per worker process, made when it starts
    _runner = Runner(job)


def _run(item: Input) -> Done:
    """In a worker: validate one input (an error of the maps or the outputs goes back to the
    command line, which stops as it would without workers)."""
    assert _runner is not None  # noqa: S101 - _start ran first
    name, path, output = item
    return _runner.run(name, path, output=output)
