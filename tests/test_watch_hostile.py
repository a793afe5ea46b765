"""edi63650 watch on a hostile, shared inbox: links, FIFOs, files still growing, names that
break things, files taken away, two watchers, a full disk, arrival order, permissions."""

from __future__ import annotations

import io
import os
import re
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edi63650 import inbox as inbox_module
from edi63650 import watch
from edi63650.errors import EdiUsageError
from edi63650.testing import synth
from edi63650.watch import JOURNAL, WatchBusyError, Watcher
from tests.helpers import FIXTURES
from tests.test_watch import make

VALID = (FIXTURES / "bom.837").read_bytes()
SECRET = b"SECRET-OF-ANOTHER-TENANT-0xC0FFEE"


def everything_written(out: Path) -> Iterator[bytes]:
    for path in out.rglob("*"):
        if path.is_file() and not path.is_symlink():
            yield path.read_bytes()


def drop(path: Path, data: bytes, *, age: float = 0) -> None:
    """Write ``path`` as if it had arrived ``age`` seconds ago."""
    path.write_bytes(data)
    moment = time.time() - age
    os.utime(path, (moment, moment))


def claim_ids_acknowledged(out: Path) -> list[str]:
    """Every CLM01 answered by a 277CA in ``out`` (TRN*2 at the claim level, after HL*PT)."""
    ids = []
    for reply in out.glob("*/*.277"):
        segments = reply.read_text().replace("\n", "").split("~")
        for index, segment in enumerate(segments):
            if segment.startswith("HL*") and segment.endswith("*PT"):
                ids.append(segments[index + 2].split("*")[2])
    return ids


def test_a_link_to_a_file_outside_the_inbox_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "other-tenant.837"
    secret.write_bytes(VALID.replace(b"PROG0001", SECRET))
    secret.chmod(0o600)
    inbox, out, watcher, log = make(tmp_path)
    (inbox / "p.837").symlink_to(secret)
    (inbox / "etc").symlink_to(tmp_path, target_is_directory=True)
    (inbox / "good.837").write_bytes(VALID)
    done = watcher.run_once()
    watcher.close()
    assert [p.name for p in done] == ["good.837"]
    assert not any(SECRET in data for data in everything_written(out))
    refused = sorted(p.name for p in (out / "refused").iterdir())
    assert len(refused) == 2
    assert all((out / "refused" / name).is_symlink() for name in refused)
    assert list(inbox.iterdir()) == []
    assert secret.read_bytes().count(SECRET) == 1  # the target is untouched
    assert log.getvalue().count("refused: p.837: reason=a symbolic link, not read") == 1


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    inbox, out, watcher, log = make(tmp_path)
    os.mkfifo(inbox / "pipe.837")
    (inbox / "good.837").write_bytes(VALID)
    done = watcher.run_once()  # would hang for ever if the FIFO were opened for reading
    watcher.close()
    assert [p.name for p in done] == ["good.837"]
    assert "refused: pipe.837: reason=a FIFO, not read" in log.getvalue()
    (moved,) = (out / "refused").iterdir()
    assert stat.S_ISFIFO(moved.lstat().st_mode)


def test_a_link_swapped_in_after_the_scan_is_not_followed(tmp_path: Path) -> None:
    secret = tmp_path / "secret.837"
    secret.write_bytes(VALID.replace(b"PROG0001", SECRET))
    inbox, out, watcher, _ = make(tmp_path)
    target = inbox / "swap.837"
    target.write_bytes(VALID)
    (entry,) = inbox_module.scan(inbox)
    target.unlink()
    target.symlink_to(secret)
    assert watcher.process(entry) is None
    watcher.close()
    assert not any(SECRET in data for data in everything_written(out))


def _interchange(number: int) -> bytes:
    """One small interchange whose claim ids are its own (``A{number}-...``)."""
    data = synth("837P", 3, seed=number)
    return data.replace(b"CLM*PCN", f"CLM*A{number}-".encode())


def test_a_file_appended_to_while_it_is_processed_is_acknowledged_claim_by_claim_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, out, watcher, _ = make(tmp_path)
    target = inbox / "growing.837"
    target.write_bytes(_interchange(1))
    validate = Watcher._validate
    appended: list[bool] = []

    def validate_then_append(self: Watcher, *args: object, **kwargs: object) -> object:
        summary = validate(self, *args, **kwargs)  # type: ignore[arg-type]
        if len(appended) < 3:  # the partner appends while we are busy with what we took
            appended.append(True)
            with target.open("ab") as stream:
                stream.write(_interchange(len(appended) + 1))
        return summary

    monkeypatch.setattr(Watcher, "_validate", validate_then_append)
    done = watcher.run_once()
    done += watcher.run_once()
    watcher.close()
    assert len(done) == 4  # the first bytes, then what each append added
    assert [p.claims for p in done] == [3, 3, 3, 3]
    ids = claim_ids_acknowledged(out)
    assert len(ids) == 12
    assert len(set(ids)) == 12  # every claim answered exactly once
    assert sorted({i.split("-")[0] for i in ids}) == ["A1", "A2", "A3", "A4"]
    assert list(inbox.iterdir()) == []  # taken whole in the end
    archived = b"".join(
        (out / row[0]).read_bytes()
        for row in sqlite3.connect(out / JOURNAL).execute(
            "SELECT archived_as FROM inputs ORDER BY id"
        )
    )
    assert archived == b"".join(_interchange(n) for n in range(1, 5))


_SLOW_WRITER = """
import sys, time
from tests.test_watch_hostile import _interchange
with open(sys.argv[1], "wb") as stream:
    print("open", flush=True)
    for number in range(1, 5):  # pauses longer than the settle time
        stream.write(_interchange(number))
        stream.flush()
        time.sleep(0.4)
"""


@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs Linux /proc")
def test_a_file_held_open_by_its_writer_waits_for_it(tmp_path: Path) -> None:
    inbox, _, watcher, _ = make(tmp_path, settle=0.1)
    writer = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(inbox / "slow.837")],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).parent.parent,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline() == b"open\n"
    done = watcher.run_once()
    assert writer.wait(30) == 0
    writer.stdout.close()
    watcher.close()
    assert [p.claims for p in done] == [12]  # taken once, whole, after the writer closed it


def test_poison_names_do_not_stop_the_service(tmp_path: Path) -> None:
    inbox, out, watcher, log = make(tmp_path)
    long_name = "x" * 251 + ".837"  # 255 bytes, the longest name most file systems allow
    bad = b"bad\xff\xfe.837"
    newline = "forged\n2026-01-01T00:00:00Z good.837: accepted.837"
    (inbox / long_name).write_bytes(VALID)
    (inbox / os.fsdecode(bad)).write_bytes(VALID.replace(b"PROG0001", b"PROG0002"))
    (inbox / newline).write_bytes(VALID.replace(b"PROG0001", b"PROG0003"))
    done = watcher.run_once()
    watcher.close()
    assert sorted(p.outcome for p in done) == ["accepted"] * 3
    assert list(inbox.iterdir()) == []
    names = [
        row[0] for row in sqlite3.connect(out / JOURNAL).execute("SELECT archived_as FROM inputs")
    ]
    assert all(len(Path(n).name.encode()) <= 150 for n in names), names
    for folder in out.iterdir():  # every output's name fits too
        if folder.is_dir():
            assert all(len(p.name.encode()) <= 255 for p in folder.iterdir())
    text = log.getvalue()
    assert "bad\\xff\\xfe.837: accepted" in text
    assert "forged\\x0a2026-01-01T00:00:00Z" in text
    assert len(text.splitlines()) == 3  # a name cannot forge a log line


def test_a_file_taken_away_is_logged_and_the_next_one_processed(tmp_path: Path) -> None:
    inbox, _, watcher, log = make(tmp_path)
    (inbox / "gone.837").write_bytes(VALID)
    (inbox / "next.837").write_bytes(VALID.replace(b"PROG0001", b"PROG0009"))
    entries = inbox_module.scan(inbox)
    (inbox / "gone.837").unlink()
    results = [watcher.process(entry) for entry in entries]
    watcher.close()
    assert [r.name if r else None for r in results].count("next.837") == 1
    assert None in results
    assert "vanished: gone.837" in log.getvalue()


def test_a_file_deleted_while_it_is_processed_is_still_answered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, out, watcher, _ = make(tmp_path)
    drop(inbox / "a.837", VALID, age=20)
    drop(inbox / "b.837", VALID.replace(b"PROG0001", b"PROG0009"), age=10)
    validate = Watcher._validate

    def validate_and_delete(self: Watcher, spool: Path, row: sqlite3.Row, **kw: bool) -> object:
        (inbox / str(row["inbox_name"])).unlink(missing_ok=True)  # taken away while we work
        return validate(self, spool, row, **kw)

    monkeypatch.setattr(Watcher, "_validate", validate_and_delete)
    done = watcher.run_once()
    watcher.close()
    # Each was read before it went: it is answered and archived, and the next one follows.
    assert [(p.name, p.outcome) for p in done] == [("a.837", "accepted"), ("b.837", "accepted")]
    assert (out / done[0].archived_as).read_bytes() == VALID
    assert list(inbox.iterdir()) == []


def test_one_watcher_per_inbox(tmp_path: Path) -> None:
    inbox, out, first, _ = make(tmp_path)
    with pytest.raises(WatchBusyError, match="another watcher is running on the inbox"):
        Watcher(inbox, tmp_path / "other-out", log=io.StringIO())
    (tmp_path / "other-in").mkdir()
    with pytest.raises(WatchBusyError, match="another watcher is running on the output"):
        Watcher(tmp_path / "other-in", out, log=io.StringIO())
    command = [sys.executable, "-m", "edi63650", "watch", str(inbox), "--output-dir"]
    second = subprocess.run(
        [*command, str(tmp_path / "third-out"), "--once"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert second.returncode == 2
    assert second.stderr.strip().splitlines() == [
        f"edi63650 watch: another watcher is running on the inbox {inbox}"
    ]
    first.close()
    Watcher(inbox, tmp_path / "other-out", log=io.StringIO()).close()  # free again


def test_the_output_folder_may_not_be_inside_the_inbox(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    for output in (inbox, inbox / "out"):
        with pytest.raises(EdiUsageError, match="inside the inbox"):
            Watcher(inbox, output, log=io.StringIO())


def test_the_backlog_is_taken_in_arrival_order(tmp_path: Path) -> None:
    inbox, _, watcher, _ = make(tmp_path)
    for name, age in (("tuesday-resend.837", 10), ("monday.837", 100), ("a-wednesday.837", 1)):
        (inbox / name).write_bytes(VALID)
        moment = time.time() - age
        os.utime(inbox / name, (moment, moment))
    done = watcher.run_once()
    watcher.close()
    assert [(p.name, p.outcome) for p in done] == [
        ("monday.837", "accepted"),
        ("tuesday-resend.837", "duplicate"),
        ("a-wednesday.837", "duplicate"),
    ]
    assert done[1].reason == f"duplicate of {done[0].archived_as}"


def test_subfolders_only_with_recursive(tmp_path: Path) -> None:
    inbox, _, watcher, log = make(tmp_path)
    (inbox / "clinic-a").mkdir()
    (inbox / "clinic-a" / "one.837").write_bytes(VALID)
    assert watcher.run_once() == []
    assert watcher.run_once() == []
    watcher.close()
    assert log.getvalue().count("ignored: clinic-a: reason=a folder (see --recursive)") == 1
    _, _, recursive, _ = make(tmp_path, recursive=True)
    assert [p.name for p in recursive.run_once()] == ["clinic-a/one.837"]
    recursive.close()


def test_everything_is_owner_only_under_umask_022(tmp_path: Path) -> None:
    inbox, out, history = tmp_path / "in", tmp_path / "out", tmp_path / "history.sqlite"
    inbox.mkdir()
    (inbox / "a.837").write_bytes(VALID)
    (inbox / "b.837").write_bytes(VALID)  # a duplicate
    (inbox / "junk.txt").write_bytes(b"not x12")
    script = (
        "import os, sys; os.umask(0o022); from edi63650.cli import main; "
        "sys.argv = ['edi63650', *sys.argv[1:]]; main()"
    )
    subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            "watch",
            str(inbox),
            "--output-dir",
            str(out),
            "--history",
            str(history),
            "--once",
            "--settle",
            "0.05",
        ],
        check=True,
        capture_output=True,
    )
    made = [out, history, *out.rglob("*")]
    assert len(made) > 15
    for path in made:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert mode & 0o077 == 0, (path, oct(mode))


def _mount_tmpfs(path: Path, size: str) -> bool:
    if os.geteuid() != 0:
        return False
    path.mkdir()
    done = subprocess.run(
        ["/usr/bin/mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


def test_a_full_disk_loses_nothing_and_processing_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    if not _mount_tmpfs(out, "160k"):
        pytest.skip("needs root and a tmpfs mount to fill a disk")
    try:
        monkeypatch.setattr(watch, "BACKOFF", (0.05, 0.2))
        inbox = tmp_path / "in"
        inbox.mkdir()
        big = synth("837P", 300, seed=3)  # its outputs do not fit in 160 KiB
        (inbox / "big.837").write_bytes(big)
        log = io.StringIO()
        watcher = Watcher(inbox, out, log=log, settle=0.05, poll=0.05)
        runner = threading.Thread(target=watcher.run, kwargs={"use_events": False})
        runner.start()
        deadline = time.monotonic() + 30
        while "error: big.837" not in log.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "error: big.837: error=No space left on device" in log.getvalue()
        assert (inbox / "big.837").read_bytes() == big  # nothing lost
        subprocess.run(["/usr/bin/mount", "-o", "remount,size=64m", str(out)], check=True)
        while (inbox / "big.837").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        watcher.stop()
        runner.join(30)
        watcher.close()
        assert not (inbox / "big.837").exists(), log.getvalue()[-2000:]
        rows = list(
            sqlite3.connect(out / JOURNAL).execute("SELECT state, outcome, archived_as FROM inputs")
        )
        assert len(rows) == 1
        assert rows[0][0] == "archived"
        assert (out / rows[0][2]).read_bytes() == big
        assert len(claim_ids_acknowledged(out)) == 300
        assert not list(out.rglob("*.tmp"))
    finally:
        subprocess.run(["/usr/bin/umount", "-l", str(out)], check=False)


def test_log_lines_carry_a_utc_time_and_the_start_up_settings(tmp_path: Path) -> None:
    inbox, _, watcher, log = make(tmp_path, log_format="json")
    (inbox / "a.837").write_bytes(VALID)
    watcher.announce(events=False)
    watcher.run_once()
    watcher.close()
    import json

    start, processed = (json.loads(line) for line in log.getvalue().splitlines())
    assert start["event"] == "start"
    assert start["inbox"] == str(inbox)
    assert start["profile"] == "auto"
    for record in (start, processed):
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record["time"])
    assert processed["name"] == "a.837"
    assert processed["reason"] == ""
