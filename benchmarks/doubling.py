"""Doubling each hostile input shape at most about doubles the time of ``validate --output-dir``.

Run with ``make bench-doubling`` (also part of ``make bench``). For each shape of
:func:`edi63650.testing.stress` the file is made at size N and 2N; each is validated with all
its outputs in a child process of its own, timing the validation itself (imports and tables
are loaded before the clock, the same for both sizes), in CPU seconds of the process (the
machines are shared), best of ``--repeat``. A ratio near 2 means linear; 4 would mean
quadratic. The rows "on disk" run with the services index and the index of accepted claims on
disk from the 1,000th entry on, as a large file does
(:data:`~edi63650.rules.services.MEMORY_LIMIT`, :data:`~edi63650.rules.sameday.MEMORY_LIMIT`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Shape, row label, base size (as the streaming issue names them) and the services index's
#: memory limit (None: the default).
SHAPES = [
    ("empty-segments", "empty-segments", 10_000, None),
    ("lines", "lines", 5_000, None),
    ("patient-claims", "patient-claims", 5_000, None),
    ("interchanges", "interchanges", 5_000, None),
    ("patient-claims", "... on disk", 5_000, 1_000),
    ("same-claim", "same-claim", 5_000, None),
    ("one-day", "one-day on disk", 5_000, 1_000),
    ("replaced", "replaced on disk", 5_000, 1_000),
]


def _child(path: str, limit: int | None) -> None:
    import datetime
    import gc

    from edi63650.outputs import write_outputs
    from edi63650.rules import sameday, services
    from edi63650.validate import Validator

    if limit is not None:  # both indexes of the file's claims go on disk from there
        services.MEMORY_LIMIT = limit
        sameday.MEMORY_LIMIT = limit

    gc.set_threshold(100_000, 50, 100)  # as the command line does
    validator = Validator(now=datetime.datetime(2026, 11, 26, 12, 0))
    with tempfile.TemporaryDirectory() as folder, Path(path).open("rb") as stream:
        size = Path(path).stat().st_size
        start = time.process_time()
        write_outputs(validator, stream, Path(path).name, Path(folder), size=size)
        seconds = time.process_time() - start
    print(json.dumps({"seconds": seconds}))


def _time(path: Path, repeat: int, limit: int | None) -> float:
    best = float("inf")
    spill = [] if limit is None else ["--spill", str(limit)]
    for _ in range(repeat):
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(path), *spill],
            capture_output=True,
            check=True,
            text=True,
        )
        best = min(best, json.loads(done.stdout)["seconds"])
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the base sizes")
    parser.add_argument("--child", metavar="FILE", help=argparse.SUPPRESS)
    parser.add_argument("--spill", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.spill)
        return
    from edi63650.testing import stress

    print(f"{'shape':<16}{'N':>8}{'N s':>9}{'2N s':>9}{'ratio':>8}")
    worst = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for shape, label, base, limit in SHAPES:
            size = int(base * args.scale)
            times = []
            for n in (size, 2 * size):
                path = Path(folder) / f"{shape}-{n}.837"
                path.write_bytes(stress(shape, n))
                times.append(_time(path, args.repeat, limit))
            ratio = times[1] / times[0]
            worst = max(worst, ratio)
            print(f"{label:<16}{size:>8,}{times[0]:>9.3f}{times[1]:>9.3f}{ratio:>8.2f}")
    print(f"worst ratio {worst:.2f} (2 is linear, 4 quadratic)")


if __name__ == "__main__":
    main()
