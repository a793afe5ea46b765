"""Throughput and peak memory of edi63650 against pyx12 on the same synthetic file.

Run with ``make bench``. Each measurement runs in its own process so that peak memory
(``ru_maxrss``, read with ``os.wait4``) belongs to that job alone. Figures are printed as
ratios: the machines are shared and noisy, so absolute times mean little.

- ``raw split``: ``bytes.split`` on the segment terminator, then on the element separator,
  for every segment: the ceiling for any pure-Python reader;
- ``edi63650 tokenize``: the sans-IO tokenizer alone, streaming the file in 64 KiB chunks;
- ``edi63650 parse``: tokenizer, envelope checks and typed claims (``iter_claims``);
- ``structure only``: full syntax validation (SNIP 1-2: tokenizer, envelopes, the
  implementation-guide walk and element checks) with no claims built,
  ``Reader(structure=..., claims=False)``; clean segments take the structure's fast lane;
- ``parse + structure``: the same checks while building typed claims (what ``validate`` does);
- ``parse + rules``: the same, then the SNIP 3-5 rules and the spinal-cord-stimulator pack;
- ``validate + acks``: ``edi63650.validate`` with verdicts, then the 277CA and the 999;
- ``pyx12 x12valid``: pyx12's validator on the same file (its full job, which is more than a
  parse; it is the speed anchor named in design.md).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHUNK = 1 << 16


def _child(task: str, path: str) -> None:
    """Do one job in this process and print its elapsed seconds and claim count as JSON.

    Imports and table loading happen before the clock starts: the figures are throughput,
    not start-up (which ``make bench`` does not try to measure).
    """
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

    import edi63650
    from edi63650.reader import Reader
    from edi63650.rules.pack import Engine
    from edi63650.segment import Segment
    from edi63650.structure import Structure
    from edi63650.tokenizer import Tokenizer
    from edi63650.validate import Validator

    now = datetime.datetime(2026, 11, 26, 12, 0)
    engine = Engine(today=now.date()) if task == "rules" else None
    validator = Validator(now=now) if task == "validate" else None
    structure = Structure.load() if task in ("structure", "syntax") else None
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
            # Tokenizer, envelopes, the implementation-guide walk and element checks; with
            # "structure", the typed claims too (the reader builds them as it goes).
            # (A structure-only read builds no claims: ``claims`` stays 0; rates use the
            # file's known claim count.)
            reader = Reader(structure=structure, claims=task == "structure")
            while chunk := stream.read(CHUNK):
                for event in reader.feed(chunk):
                    claims += isinstance(event, edi63650.Claim)
            reader.close()
        elif engine is not None:
            claims = sum(1 for _ in engine.check(edi63650.iter_claims(stream)))
        elif validator is not None:
            result = validator.validate_stream(stream, Path(path).name)
            result.to_277ca()
            result.to_999()
            claims = len(result.claims)
    print(json.dumps({"seconds": time.perf_counter() - start, "claims": claims}))


def _measure(argv: list[str]) -> tuple[float, int, str]:
    """Run ``argv``; return wall seconds, peak RSS in KiB and its stdout."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):  # x12valid exits 1 even for "OK"
        raise SystemExit(f"benchmark job failed: {' '.join(argv)}")
    return elapsed, usage.ru_maxrss, output


def _ours(task: str, path: Path, repeat: int) -> tuple[float, int]:
    best, peak = float("inf"), 0
    for _ in range(repeat):
        _, rss, output = _measure([sys.executable, __file__, "--child", task, str(path)])
        best = min(best, json.loads(output)["seconds"])
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

    # The file is made in a child process: a child's peak RSS starts from its parent's at
    # fork time, so the parent stays small for the measurements to be fair.
    out = HERE / "out"
    out.mkdir(exist_ok=True)

    def make(claims: int) -> Path:
        path = out / f"synth-{args.kind}-{claims}.837"
        command = [sys.executable, "-m", "edi63650", "synth", "--kind", args.kind]
        subprocess.run(
            [*command, "--claims", str(claims), "--seed", "1", "-o", str(path)], check=True
        )
        return path

    path = make(args.claims)
    big = make(args.claims * 10)
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name}: {args.claims:,} claims, {size_mb:.1f} MB (edi63650 synth, seed 1)")

    rows: dict[str, tuple[float, int]] = {}
    rows["raw split"] = _ours("raw", path, args.repeat)
    rows["edi63650 tokenize"] = _ours("tokenize", path, args.repeat)
    rows["edi63650 parse"] = _ours("parse", path, args.repeat)
    rows["structure only"] = _ours("syntax", path, args.repeat)
    rows["parse + structure"] = _ours("structure", path, args.repeat)
    rows["parse + rules"] = _ours("rules", path, args.repeat)
    rows["validate + acks"] = _ours("validate", path, args.repeat)
    seconds, rss = _ours("parse", big, 1)
    print(
        f"memory is flat in file size: parse peaks at {rss / 1024:.1f} MiB on a file ten "
        f"times larger ({big.stat().st_size / 1e6:.0f} MB)"
    )
    x12valid = shutil.which("x12valid") or str(Path(sys.executable).parent / "x12valid")
    if Path(x12valid).exists():
        seconds, rss, _ = _measure([x12valid, str(path)])
        rows["pyx12 x12valid"] = (seconds, rss)
    else:
        print("pyx12 x12valid not found: install pyx12 to compare")

    print(f"{'job':<20}{'claims/s':>12}{'MB/s':>9}{'peak MiB':>10}{'x raw':>9}{'x pyx12':>10}")
    raw = rows["raw split"][0]
    anchor = rows.get("pyx12 x12valid", (None, 0))[0]
    for name, (seconds, rss) in rows.items():
        versus_raw = f"{seconds / raw:.1f}"
        versus_pyx12 = f"{anchor / seconds:.0f}x" if anchor else "-"
        print(
            f"{name:<20}{args.claims / seconds:>12,.0f}{size_mb / seconds:>9.1f}"
            f"{rss / 1024:>10.1f}{versus_raw:>9}{versus_pyx12:>10}"
        )
    parse, rules = rows["edi63650 parse"][0], rows["parse + rules"][0]
    structure = rows["parse + structure"][0]
    print(f"the rule pack adds {100 * (rules - parse) / parse:.0f}% to the time of parsing")
    print(f"the structure layer adds {100 * (structure - parse) / parse:.0f}% to it")
    if anchor:
        syntax, peak = rows["structure only"]
        print(
            f"full structure validation (structure only) runs at {anchor / syntax:.0f}x pyx12's "
            f"throughput, peak {peak / 1024:.1f} MiB"
        )
    print(
        "x raw: time as a multiple of the raw split (lower is better); "
        "x pyx12: throughput as a multiple of pyx12's (higher is better)"
    )


if __name__ == "__main__":
    main()
