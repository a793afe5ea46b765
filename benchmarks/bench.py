"""Throughput and peak memory of edi63650 against pyx12 on the same synthetic file.

Run with ``make bench``. Every job runs in a process of its own, so that peak memory
(``ru_maxrss``, read with ``os.wait4``) belongs to that job alone, and all rows are measured in
one run on the same file. Figures are printed as ratios: the machines are shared and noisy, so
absolute times mean little. Each figure is the best of ``--repeat`` runs.

Whole processes, start-up included (the figure a user sees; both sides after one warm-up run,
so that bytecode and edi63650's cache of compiled guides exist, as after an install):

- ``validate --output-dir``: ``edi63650 validate FILE --output-dir DIR`` (277CA, 999, JSON,
  HTML and the accepted 837), the job the streaming issue measures;
- ``validate --format json``: the same validation, the JSON report on stdout only;
- ``pyx12 x12valid -q``: pyx12's validator on the same file, the anchor named in design.md;
- the 100,000-claim file with ``--output-dir``: peak memory and time against the 10,000-claim
  file's (memory must stay flat, time about ten times).

In-process jobs, imports and tables loaded before the clock (where the time goes):

- ``raw split``: ``bytes.split`` on the segment terminator, then on the element separator,
  for every segment: the ceiling for any pure-Python reader;
- ``tokenize``: the sans-IO tokenizer alone, streaming the file in 64 KiB chunks;
- ``parse``: tokenizer, envelope checks and typed claims (``iter_claims``);
- ``structure only``: full syntax validation (SNIP 1-2) with no claims built;
- ``parse + structure``: the same checks while building typed claims;
- ``parse + rules``: the same, then the SNIP 3-5 rules and the spinal-cord-stimulator pack;
- ``validate, all outputs``: the one pass with every output written (what the CLI does).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHUNK = 1 << 16
_BIN = Path(sys.executable).parent


def _child(task: str, path: str) -> None:
    """Do one in-process job and print its seconds and claim count as JSON (imports and
    tables before the clock)."""
    claims = 0
    if task == "raw":
        start = time.perf_counter()
        data = Path(path).read_bytes()
        for segment in data.split(b"~"):
            segment.split(b"*")
        claims = data.count(b"CLM*")
        print(json.dumps({"seconds": time.perf_counter() - start, "claims": claims}))
        return

    import datetime
    import gc

    import edi63650
    from edi63650.cli import GC_THRESHOLD
    from edi63650.outputs import write_outputs
    from edi63650.reader import Reader
    from edi63650.rules.pack import Engine
    from edi63650.segment import Segment
    from edi63650.structure import Structure
    from edi63650.tokenizer import Tokenizer
    from edi63650.validate import Validator

    gc.set_threshold(*GC_THRESHOLD)  # as the command line does
    now = datetime.datetime(2026, 11, 26, 12, 0)
    engine = Engine(today=now.date()) if task == "rules" else None
    validator = Validator(now=now) if task == "validate" else None
    structure = Structure.load() if task in ("structure", "syntax") else None
    if structure is not None:
        structure.grammars.get("837.5010.X222.A1.xml")  # read before the clock too
    folder = tempfile.mkdtemp()
    start = time.perf_counter()
    with Path(path).open("rb") as stream:
        if task == "tokenize":
            tokenizer = Tokenizer()
            while chunk := stream.read(CHUNK):
                tokens = tokenizer.feed(chunk)
                claims += sum(1 for t in tokens if isinstance(t, Segment) and t.id == "CLM")
            tokenizer.close()
        elif task == "parse":
            claims = sum(1 for _ in edi63650.iter_claims(stream))
        elif structure is not None:
            # A structure-only read builds no claims: ``claims`` stays 0 and rates use the
            # file's known claim count.
            reader = Reader(structure=structure, claims=task == "structure")
            while chunk := stream.read(CHUNK):
                for event in reader.feed(chunk):
                    claims += isinstance(event, edi63650.Claim)
            reader.close()
        elif engine is not None:
            claims = sum(1 for _ in engine.check(edi63650.iter_claims(stream)))
        elif validator is not None:
            size = Path(path).stat().st_size
            summary = write_outputs(validator, stream, Path(path).name, Path(folder), size=size)
            claims = summary.tally.claims
    seconds = time.perf_counter() - start
    shutil.rmtree(folder)
    print(json.dumps({"seconds": seconds, "claims": claims}))


def _environment() -> dict[str, str]:
    """The children's environment: bytecode may be cached, as in any installed package."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _measure(argv: list[str]) -> tuple[float, int, str]:
    """Run ``argv``; return wall seconds, peak RSS in KiB and its stdout."""
    elapsed, rss, output, _ = _measure_writes(argv)
    return elapsed, rss, output


def _measure_writes(argv: list[str]) -> tuple[float, int, str, int]:
    """:func:`_measure`, and the bytes the job wrote to the file system (``ru_oublock``,
    counted in 512-byte blocks as the kernel dirties them)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=_environment()
    )
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # x12valid exits 1 even for "OK"
        raise SystemExit(f"benchmark job failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss, output, usage.ru_oublock * 512


def _ours(task: str, path: Path, repeat: int) -> tuple[float, int]:
    best, peak = float("inf"), 0
    for _ in range(repeat):
        _, rss, output = _measure([sys.executable, __file__, "--child", task, str(path)])
        best = min(best, json.loads(output)["seconds"])
        peak = max(peak, rss)
    return best, peak


def _process(argv: list[str], repeat: int) -> tuple[float, int]:
    """Best wall time of ``argv`` as a whole process, after one warm-up run, and its peak."""
    _measure(argv)
    best, peak = float("inf"), 0
    for _ in range(repeat):
        seconds, rss, _ = _measure(argv)
        best = min(best, seconds)
        peak = max(peak, rss)
    return best, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--kind", default="837P", choices=("837P", "837I"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", nargs=2, metavar=("TASK", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    # The files are made in a child process: a child's peak RSS starts from its parent's at
    # fork time, so the parent stays small for the measurements to be fair.
    out = HERE / "out"
    out.mkdir(exist_ok=True)

    def make(claims: int) -> Path:
        path = out / f"synth-{args.kind}-{claims}.837"
        if not path.exists():
            command = [sys.executable, "-m", "edi63650", "synth", "--kind", args.kind]
            subprocess.run(
                [*command, "--claims", str(claims), "--seed", "1", "-o", str(path)], check=True
            )
        return path

    path = make(args.claims)
    big = make(args.claims * 10)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name}: {args.claims:,} claims, {size_mb:.1f} MB (edi63650 synth, seed 1)")

    edi = str(_BIN / "edi63650")
    target = tempfile.mkdtemp(prefix="edi63650-bench-")
    processes: dict[str, tuple[float, int]] = {}
    processes["validate --output-dir"] = _process(
        [edi, "validate", str(path), "--output-dir", target, "--quiet"], args.repeat
    )
    processes["validate --format json"] = _process(
        [edi, "validate", str(path), "--format", "json", "--quiet"], args.repeat
    )
    x12valid = shutil.which("x12valid") or str(_BIN / "x12valid")
    if Path(x12valid).exists():
        processes["pyx12 x12valid -q"] = _process([x12valid, "-q", str(path)], 1)
    else:
        print("pyx12 x12valid not found: install pyx12 to compare")
    large_argv = [edi, "validate", str(big), "--output-dir", target, "--quiet"]
    _measure(large_argv)  # (warm-up)
    large, large_rss, _, large_writes = _measure_writes(large_argv)
    large_outputs = sum(f.stat().st_size for f in Path(target).glob(f"{big.name}.*"))
    shutil.rmtree(target)

    rows: dict[str, tuple[float, int]] = {}
    rows["raw split"] = _ours("raw", path, args.repeat)
    rows["tokenize"] = _ours("tokenize", path, args.repeat)
    rows["parse"] = _ours("parse", path, args.repeat)
    rows["structure only"] = _ours("syntax", path, args.repeat)
    rows["parse + structure"] = _ours("structure", path, args.repeat)
    rows["parse + rules"] = _ours("rules", path, args.repeat)
    rows["validate, all outputs"] = _ours("validate", path, args.repeat)

    anchor = processes.get("pyx12 x12valid -q", (None, 0))[0]
    print()
    print("whole processes, start-up included")
    print(f"{'job':<26}{'seconds':>9}{'claims/s':>11}{'peak MiB':>10}{'x pyx12':>9}")
    for name, (seconds, rss) in processes.items():
        versus = f"{anchor / seconds:.1f}x" if anchor else "-"
        print(
            f"{name:<26}{seconds:>9.2f}{args.claims / seconds:>11,.0f}{rss / 1024:>10.1f}"
            f"{versus:>9}"
        )
    ten = processes["validate --output-dir"][0]
    print(
        f"{args.claims * 10:,} claims with --output-dir: peak {large_rss / 1024:.1f} MiB, "
        f"{large / ten:.1f}x the time of {args.claims:,} claims; "
        f"wrote {large_writes / 1e6:,.0f} MB to the file system, its outputs "
        f"{large_outputs / 1e6:,.0f} MB"
    )

    print()
    print("in process, start-up before the clock")
    print(f"{'job':<26}{'claims/s':>11}{'MB/s':>8}{'peak MiB':>10}{'x raw':>8}{'x pyx12':>9}")
    raw = rows["raw split"][0]
    for name, (seconds, rss) in rows.items():
        versus = f"{anchor / seconds:.0f}x" if anchor else "-"
        print(
            f"{name:<26}{args.claims / seconds:>11,.0f}{size_mb / seconds:>8.1f}"
            f"{rss / 1024:>10.1f}{seconds / raw:>8.1f}{versus:>9}"
        )
    print(
        "x raw: time as a multiple of the raw split (lower is better); "
        "x pyx12: throughput as a multiple of pyx12's whole process (higher is better)"
    )
    if anchor:
        whole = processes["validate --output-dir"]
        print(
            f"validate --output-dir, whole process: {anchor / whole[0]:.1f}x pyx12 x12valid -q, "
            f"peak {whole[1] / 1024:.1f} MiB"
        )


if __name__ == "__main__":
    main()
