"""Spark ``local[2]`` against ``edi63650 validate --jobs 2`` and ``--jobs 1`` on one directory.

Run with ``make bench-spark`` (not part of ``make test``). A directory of synthetic files
(``edi63650.testing.synth``, 837P and 837I in turn) is made in a temporary folder; then, each
in a process of its own and timed whole (start-up included, the figure a user sees):

- ``spark local[2]``: a Spark session, the x12 data source registered, the claims table of the
  directory written to Parquet in the temporary folder, the session stopped;
- ``validate --jobs N``: ``edi63650 validate DIR --format json --quiet --jobs N``, the report
  written to a file in the temporary folder.

Each figure is the best of ``--repeat`` runs; the table gives files/s, claims/s and each row's
ratio to ``--jobs 1``. Spark is started once before timing (a warm-up), so that the JVM's and
Python's files are in the page cache for every row alike.

``--large FILE`` (by hand; a generated file of 1 GB takes minutes) instead reads one large file
with the data source (``--frames``: with ``validate_frames``) once, sampling every half second
the peak resident memory (``VmHWM``) of each Spark Python worker, which runs the tasks, and of
the JVM: the figures of one executor task on that file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_BIN = Path(sys.executable).parent


def _spark_child(folder: str, out: str, dataset: bool = False) -> None:
    """In a child process: the claims table of ``folder`` to Parquet with local[2], read by
    the data source (each file alone) or, ``dataset``, the three tables of validate_frames
    (the rules across claims over all the files)."""
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from edi63650.spark import register, validate_frames

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    register(spark)
    if dataset:
        for name, frame in zip(
            ("claims", "lines", "findings"), validate_frames(spark, folder), strict=True
        ):
            frame.write.mode("overwrite").parquet(f"{out}-{name}")
    else:
        claims = spark.read.format("x12").option("table", "claims").load(folder)
        claims.write.mode("overwrite").parquet(out)
    spark.stop()


def _timed(command: list[str], stdout: Path | None = None) -> float:
    start = time.perf_counter()
    with (stdout or Path(os.devnull)).open("wb") as out:
        subprocess.run(command, stdout=out, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def _peaks(root: int) -> dict[int, tuple[str, int]]:
    """The processes under ``root`` (pid: what it is, its VmHWM in KiB)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: dict[int, tuple[str, int]] = {}
    for pid in parents:
        ancestor = pid
        while ancestor not in (0, 1, root) and ancestor in parents:
            ancestor = parents[ancestor]
        if ancestor != root or pid == root:
            continue
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        kind = "jvm" if b"java" in command.split(b"\0")[0] else "python worker"
        if b"pyspark" not in command and kind != "jvm":
            continue
        hwm = next((int(ln.split()[1]) for ln in status.splitlines() if ln.startswith("VmHWM")), 0)
        found[pid] = (kind, hwm)
    return found


def large(path: str, *, dataset: bool) -> None:
    """One read of ``path`` with its peak memory per Spark process (see the docstring)."""
    size = Path(path).stat().st_size
    with tempfile.TemporaryDirectory(prefix="edi63650-bench-spark-") as private:
        flag = "--frames-child" if dataset else "--spark-child"
        command = [sys.executable, __file__, flag, path, str(Path(private) / "parquet")]
        start = time.perf_counter()
        child = subprocess.Popen(command, stderr=subprocess.DEVNULL)
        seen: dict[int, tuple[str, int]] = {}
        while child.poll() is None:
            seen.update(_peaks(child.pid))
            time.sleep(0.5)
        seconds = time.perf_counter() - start
    workers = [hwm for kind, hwm in seen.values() if kind == "python worker"]
    jvm = [hwm for kind, hwm in seen.values() if kind == "jvm"]
    print(
        f"{path}: {size / 1e6:,.0f} MB in {seconds:,.0f} s ({size / 1e6 / seconds:.2f} MB/s), "
        f"{'validate_frames' if dataset else 'data source'}, exit status {child.returncode}"
    )
    print(f"Python workers: {len(workers)}, peak {max(workers, default=0) / 1024:.0f} MiB each")
    print(f"JVM: peak {max(jvm, default=0) / 1024:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--claims", type=int, default=1000, help="claims per file")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--large", metavar="FILE", help="one large file's peak memory per task")
    parser.add_argument("--frames", action="store_true", help="with --large: validate_frames")
    args = parser.parse_args()
    if args.large:
        large(args.large, dataset=args.frames)
        return
    from edi63650.testing import synth

    with tempfile.TemporaryDirectory(prefix="edi63650-bench-spark-") as private:
        root = Path(private)
        inbound = root / "inbound"
        inbound.mkdir()
        for number in range(args.files):
            kind = "837P" if number % 2 == 0 else "837I"
            (inbound / f"batch-{number:03d}.837").write_bytes(synth(kind, args.claims, number))
        size = sum(p.stat().st_size for p in inbound.iterdir())
        claims = args.files * args.claims
        print(f"{args.files} files, {claims:,} claims, {size / 1e6:.1f} MB; best of {args.repeat}")
        spark = [sys.executable, __file__, "--spark-child", str(inbound), str(root / "parquet")]
        frames = [*spark[:2], "--frames-child", *spark[3:]]
        rows = {
            "spark local[2]": spark,
            "spark validate_frames": frames,
            "validate --jobs 2": [str(_BIN / "edi63650"), str(inbound), "--jobs", "2"],
            "validate --jobs 1": [str(_BIN / "edi63650"), str(inbound), "--jobs", "1"],
        }
        for name in ("validate --jobs 2", "validate --jobs 1"):
            rows[name][1:1] = ["validate"]
            rows[name] += ["--format", "json", "--quiet"]
        _timed(spark)  # warm-up
        best = {
            name: min(_timed(command, root / "report.json") for _ in range(args.repeat))
            for name, command in rows.items()
        }
    base = best["validate --jobs 1"]
    print(f"{'':22} {'seconds':>8} {'files/s':>8} {'claims/s':>9} {'vs --jobs 1':>12}")
    for name, seconds in best.items():
        print(
            f"{name:22} {seconds:8.1f} {args.files / seconds:8.2f} {claims / seconds:9.0f} "
            f"{base / seconds:11.2f}x"
        )


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("--spark-child", "--frames-child"):
        _spark_child(sys.argv[2], sys.argv[3], dataset=sys.argv[1] == "--frames-child")
    else:
        main()
