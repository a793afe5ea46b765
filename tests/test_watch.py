"""edi63650 watch: outcomes, incomplete files, duplicates, signals, crashes and load."""

from __future__ import annotations

import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from edi63650.testing import synth
from edi63650.watch import JOURNAL, Watcher
from tests.helpers import FIXTURES

VALID = (FIXTURES / "bom.837").read_bytes()
REJECTED = (FIXTURES / "scs-professional.837").read_bytes()


def variant(data: bytes, number: int) -> bytes:
    """The same file with another claim id: different content, same verdict."""
    return data.replace(b"CLM*PROG0001*", f"CLM*P{number:07d}*".encode())


def make(tmp_path: Path, **options: object) -> tuple[Path, Path, Watcher, io.StringIO]:
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir(exist_ok=True)
    log = io.StringIO()
    options.setdefault("settle", 0.05)
    watcher = Watcher(inbox, out, log=log, **options)  # type: ignore[arg-type]
    return inbox, out, watcher, log


def drop(path: Path, data: bytes, *, age: float = 0) -> None:
    """Write ``path`` as if it had arrived ``age`` seconds ago."""
    path.write_bytes(data)
    moment = time.time() - age
    os.utime(path, (moment, moment))


def outputs_of(out: Path, archived_as: str) -> list[str]:
    """The suffixes of the outputs written for an archived input, in its own folder."""
    unique = Path(archived_as).name
    base = unique.split("-", 1)[1]
    return sorted(p.name.removeprefix(base) for p in (out / unique).iterdir())


def rows(out: Path) -> list[tuple[str, str, str, str]]:
    db = sqlite3.connect(out / JOURNAL)
    return list(db.execute("SELECT inbox_name, state, outcome, archived_as FROM inputs"))


def test_each_kind_of_file_gets_its_outcome(tmp_path: Path) -> None:
    inbox, out, watcher, log = make(tmp_path)
    drop(inbox / "good.837", VALID, age=40)
    drop(inbox / "bad.837", REJECTED, age=30)
    drop(inbox / "again.837", VALID, age=20)  # same content as good.837, dropped later
    drop(inbox / "garbage.bin", bytes(range(256)), age=10)
    (inbox / "upload.837.part").write_bytes(VALID[:100])
    (inbox / ".hidden.837").write_bytes(VALID)
    (inbox / "copying.tmp").write_bytes(VALID)
    done = watcher.run_once()
    watcher.close()
    assert [(p.name, p.outcome) for p in done] == [
        ("good.837", "accepted"),  # in arrival order: the first is the original
        ("bad.837", "rejected"),
        ("again.837", "duplicate"),
        ("garbage.bin", "quarantined"),
    ]
    assert sorted(p.name for p in inbox.iterdir()) == [
        ".hidden.837",
        "copying.tmp",
        "upload.837.part",
    ]
    archived = {row[0]: row[3] for row in rows(out)}
    assert archived["good.837"].startswith("archive/accepted/")
    assert archived["bad.837"].startswith("archive/rejected/")
    assert archived["again.837"].startswith("archive/rejected/")
    assert archived["garbage.bin"].startswith("quarantine/")
    for path in archived.values():
        assert (out / path).is_file()
    own = {name: outputs_of(out, path) for name, path in archived.items()}
    assert own["good.837"] == [".277", ".999", ".accepted.837", ".html", ".json"]
    assert own["bad.837"] == [".277", ".999", ".accepted.837", ".html", ".json"]
    assert own["again.837"] == [".277", ".txt"]  # the duplicate's answer, and a note
    assert own["garbage.bin"] == [".html", ".json"]  # a report says why it is not X12
    folder = out / Path(archived["again.837"]).name
    assert b"STC*A3:746:AY" in next(folder.glob("*.277")).read_bytes()
    assert archived["good.837"] in next(folder.glob("*.txt")).read_text()
    lines = log.getvalue().splitlines()
    assert len(lines) == 4
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ good.837: accepted, 1 claims, 1 accepted, 0 rejected, ",
        lines[0],
    )
    assert lines[1].endswith("(SCS-IMAGING)"), lines[1]  # why it was rejected
    assert lines[2].endswith(f"(duplicate of {archived['good.837']})")
    assert lines[3].endswith("(not X12: X12-NOT-X12)"), lines[3]
    assert "RIVERA" not in log.getvalue()  # no patient data in the log


def test_a_part_file_is_processed_once_renamed(tmp_path: Path) -> None:
    inbox, _, watcher, _ = make(tmp_path)
    (inbox / "claims.837.part").write_bytes(VALID)
    assert watcher.run_once() == []
    (inbox / "claims.837.part").rename(inbox / "claims.837")
    assert [p.outcome for p in watcher.run_once()] == ["accepted"]
    watcher.close()


def test_a_file_still_being_written_waits_until_it_settles(tmp_path: Path) -> None:
    inbox, _, watcher, _ = make(tmp_path, settle=0.4)
    target = inbox / "slow.837"
    data = REJECTED

    def write_slowly() -> None:
        with target.open("wb") as stream:
            for start in range(0, len(data), 200):
                stream.write(data[start : start + 200])
                stream.flush()
                time.sleep(0.05)

    writer = threading.Thread(target=write_slowly)
    writer.start()
    time.sleep(0.1)
    done = watcher.run_once()
    writer.join()
    watcher.close()
    assert [(p.outcome, p.claims) for p in done] == [("rejected", 3)]


def test_json_log_lines(tmp_path: Path) -> None:
    inbox, _, watcher, log = make(tmp_path, log_format="json")
    (inbox / "good.837").write_bytes(VALID)
    watcher.run_once()
    watcher.close()
    record = json.loads(log.getvalue())
    assert record["name"] == "good.837"
    assert record["outcome"] == "accepted"
    assert record["claims"] == 1


def _watch_command(inbox: Path, out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "edi63650",
        "watch",
        str(inbox),
        "--output-dir",
        str(out),
        "--settle",
        "0.05",
        *extra,
    ]


def test_sigterm_finishes_the_current_file_and_exits_0(tmp_path: Path) -> None:
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    process = subprocess.Popen(_watch_command(inbox, out), stdout=subprocess.PIPE, text=True)
    (inbox / "good.837").write_bytes(VALID)
    assert process.stdout is not None
    start = process.stdout.readline()
    assert re.match(r"\S+Z start: version=\S+, events=True, inbox=", start), start
    first = process.stdout.readline()
    assert " good.837: accepted" in first
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    process.stdout.close()


def _check_exactly_once(inbox: Path, out: Path, dropped: dict[str, bytes]) -> None:
    assert [p.name for p in inbox.iterdir()] == []
    journal = rows(out)
    assert sorted(r[0] for r in journal) == sorted(dropped)
    assert {r[1] for r in journal} == {"archived"}
    archived = [out / r[3] for r in journal]
    assert all(path.is_file() for path in archived)
    assert sorted(p.read_bytes() for p in archived) == sorted(dropped.values())
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(JOURNAL)]
    assert [p for p in files if p.name.endswith(".tmp")] == []
    uniques = {Path(r[3]).name for r in journal}
    folders = {p.parent.name for p in files if p.parent.parent == out}
    assert folders <= uniques | {"accepted", "rejected", "quarantine"}  # no output left over
    by_outcome: dict[str, int] = {}
    for name, _, outcome, archived_as in journal:
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
        own = outputs_of(out, archived_as)
        expected = {
            "accepted": [".277", ".999", ".accepted.837", ".html", ".json"],
            "rejected": [".277", ".999", ".accepted.837", ".html", ".json"],
            "duplicate": [".277", ".txt"],
        }[outcome]
        assert own == expected, (name, outcome, own)
    contents = set(dropped.values())
    assert by_outcome.get("duplicate", 0) == len(dropped) - len(contents)


@pytest.mark.slow
def test_kill_at_random_moments_then_restart_processes_each_input_exactly_once(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261126)  # noqa: S311 - kill timings, not secrets
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    dropped: dict[str, bytes] = {}
    for round_number in range(20):
        for index in range(3):
            if dropped and rng.random() < 0.2:
                data = rng.choice(list(dropped.values()))  # a duplicate submission
            else:
                # Files big enough (800 claims) that kills land while one is being processed.
                data = synth("837P", 800, seed=len(dropped))
            name = f"r{round_number:02d}-{index}.837"
            (inbox / name).write_bytes(data)
            dropped[name] = data
        process = subprocess.Popen(
            _watch_command(inbox, out, "--poll", "0.05"),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.6, 2.0))
        process.kill()
        process.wait()
    final = subprocess.run(
        _watch_command(inbox, out, "--once"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    _check_exactly_once(inbox, out, dropped)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_load_thousand_small_files_and_one_large(tmp_path: Path) -> None:
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    for number in range(1000):
        (inbox / f"small-{number:04d}.837").write_bytes(variant(VALID, number))
    large = synth("837P", 175_000, seed=9)
    assert len(large) >= 50 * 1024 * 1024
    (inbox / "large.837").write_bytes(large)
    started = time.monotonic()
    log = tmp_path / "log.txt"
    with log.open("w") as stdout:
        process = subprocess.Popen(
            _watch_command(inbox, out, "--once"), stdout=stdout, stderr=subprocess.PIPE, text=True
        )
        peak = _peak_while_running(process)
        _, stderr = process.communicate(timeout=1200)
    assert process.returncode == 0, stderr
    lines = log.read_text().splitlines()[1:]  # after the start-up line
    assert len(lines) == 1001
    assert sum(1 for line in lines if ": accepted," in line) == 1000
    assert list(inbox.iterdir()) == []
    report = json.loads(next(out.glob("*-large.837/large.837.json")).read_text())
    assert report["summary"]["claims"] == 175_000
    print(f"\nload: 1001 files in {time.monotonic() - started:.0f}s, peak RSS {peak // 1024} MiB")
    # A 55 MB file is read from its spool, streaming: memory does not follow its size.
    assert 0 < peak < 200 * 1024, f"peak RSS {peak // 1024} MiB"


def _peak_while_running(process: subprocess.Popen[str]) -> int:
    """The child's high-water RSS in KiB (VmHWM, which starts afresh at exec, unlike
    ``ru_maxrss``, which a forked child inherits from this large test process)."""
    peak = 0
    status = Path(f"/proc/{process.pid}/status")
    while process.poll() is None:
        try:
            text = status.read_text()
        except OSError:
            break
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peak = max(peak, int(line.split()[1]))
        time.sleep(0.05)
    return peak


def test_journal_survives_being_reopened(tmp_path: Path) -> None:
    inbox, out, watcher, _ = make(tmp_path)
    (inbox / "a.837").write_bytes(VALID)
    watcher.run_once()
    watcher.close()
    _, _, again, _ = make(tmp_path)
    (inbox / "b.837").write_bytes(VALID)  # the same content, dropped after a restart
    assert [p.outcome for p in again.run_once()] == ["duplicate"]
    again.close()
    assert (out / JOURNAL).stat().st_size > 0


def test_control_numbers_count_on_in_the_journal_across_restarts(tmp_path: Path) -> None:
    inbox, out, watcher, _ = make(tmp_path, control_start=7000)
    (inbox / "a.837").write_bytes(VALID)
    (inbox / "b.837").write_bytes(variant(REJECTED, 1))
    watcher.run_once()
    watcher.close()
    _, _, again, _ = make(tmp_path)  # a restart, without --control-start
    (inbox / "c.837").write_bytes(variant(VALID, 2))
    (inbox / "d.837").write_bytes(VALID)  # a duplicate: its 277CA takes a number too
    again.run_once()
    again.close()
    numbers = sorted(
        int(line[90:99])
        for reply in (*out.glob("*/*.277"), *out.glob("*/*.999"))
        for line in reply.read_bytes().split(b"\n")
        if line.startswith(b"ISA")
    )
    assert numbers == list(range(7000, 7000 + len(numbers))), numbers
    assert len(numbers) == 7  # three inputs with a 277CA and a 999, one duplicate's 277CA
