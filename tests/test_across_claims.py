"""Edits across claims through the history (several files), the MAI 1 exception, the keyed
patient hashes, and the in-file index beyond memory. The one-file cases are rule-pack cases
(tests/rulepack_cases.py, X01-X18)."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import random
import shutil
import sqlite3
import stat
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import edi63650
from edi63650.cli import run
from edi63650.errors import EdiError
from edi63650.maps import default_maps_dir
from edi63650.rules import sameday
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import HistoryStore, Service
from edi63650.rules.pack import Engine
from edi63650.rules.tables import Tables
from edi63650.testing import ClaimSpec, ProviderSpec, SubscriberSpec, interchange
from tests.rulepack_cases import DAY, TODAY, TRIAL, claim, line

D = datetime.date


def file_of(*claims: ClaimSpec, member: str = "M1", control: str = "1") -> bytes:
    subscriber = SubscriberSpec(member, claims=claims)
    return interchange(
        "837P", providers=[ProviderSpec(subscribers=(subscriber,))], control_number=control
    )


def validate(path: Path, history: Path) -> tuple[int, dict[str, set[str]]]:
    """Exit status and each claim's rules, from ``validate --format json --history``."""
    out, err = io.StringIO(), io.StringIO()
    status = run(
        ["validate", "--format", "json", "--history", str(history), str(path)],
        stdout=out,
        stderr=err,
        stdin=io.BytesIO(),
    )
    assert status in (0, 1), err.getvalue()
    (report,) = json.loads(out.getvalue())["files"]
    rules = {c["claim_id"]: {f["rule"] for f in c["findings"]} for c in report["claims"]}
    verdicts = {c["claim_id"]: c["verdict"] for c in report["claims"]}
    return status, {k: rules[k] | {verdicts[k]} for k in rules}


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_a_pair_split_over_two_files_is_caught_through_the_history(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    first = write(tmp_path, "a.837", file_of(claim("A1", line("63650", "1450.00"), notes=TRIAL)))
    second = write(tmp_path, "b.837", file_of(claim("B1", line("77003", "95.00")), control="2"))
    third = write(tmp_path, "c.837", file_of(claim("C1", line("36000", "40.00")), control="3"))
    assert validate(first, history) == (0, {"A1": {"accepted"}})
    status, rules = validate(second, history)
    assert (status, rules["B1"]) == (1, {"rejected", "SCS-IMAGING"})
    status, rules = validate(third, history)
    assert (status, rules["C1"]) == (1, {"rejected", "SCS-PTP"})


def test_duplicates_across_files(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    original = claim("D1", line("63650", "2900.00", 2), notes=TRIAL)
    assert validate(write(tmp_path, "a.837", file_of(original)), history)[0] == 0
    again = claim("D2", line("63650", "2900.00", 2), notes=TRIAL)  # another CLM01, same claim
    status, rules = validate(write(tmp_path, "b.837", file_of(again, control="2")), history)
    assert (status, rules["D2"]) == (1, {"rejected", "DUP-EXACT"})
    visit = claim("D3", line("99213", "110.00", day=D(2026, 10, 20)))
    assert validate(write(tmp_path, "c.837", file_of(visit, control="3")), history)[0] == 0
    other = claim("D4", line("99213", "95.00", day=D(2026, 10, 20)))
    status, rules = validate(write(tmp_path, "d.837", file_of(other, control="4")), history)
    assert (status, rules["D4"]) == (0, {"accepted", "DUP-SUSPECT"})


def test_a_replacement_and_a_void_take_their_original_out_of_the_history(tmp_path: Path) -> None:
    history = tmp_path / "history.sqlite"
    original = claim("R1", line("63650", "2900.00", 2), notes=TRIAL)
    assert validate(write(tmp_path, "a.837", file_of(original)), history)[0] == 0
    # The replacement bills the same two units: the original's do not count beside them.
    replacement = claim(
        "R1", line("63650", "2800.00", 2), notes=TRIAL, frequency="7", original_reference="R1"
    )
    status, rules = validate(write(tmp_path, "b.837", file_of(replacement, control="2")), history)
    assert (status, rules) == (0, {"R1": {"accepted"}})
    with sqlite3.connect(history) as db:
        assert db.execute("SELECT COUNT(*) FROM claims").fetchone() == (1,)
        assert db.execute("SELECT SUM(units) FROM lines").fetchone() == (2,)
    removal = claim("V1", line("63661", "700.00", day=D(2026, 10, 9)))
    # (another patient: a removal inside the 63650's global period would be a repeat)
    assert (
        validate(write(tmp_path, "c.837", file_of(removal, member="M2", control="3")), history)[0]
        == 0
    )
    void = claim(
        "V1", line("63661", "700.00", day=D(2026, 10, 9)), frequency="8", original_reference="V1"
    )
    assert (
        validate(write(tmp_path, "d.837", file_of(void, member="M2", control="4")), history)[0] == 0
    )
    # With the removal voided, another removal of that date is the only one (MUE 1, MAI 2).
    again = claim("V2", line("63661", "650.00", day=D(2026, 10, 9)))
    status, rules = validate(
        write(tmp_path, "e.837", file_of(again, member="M2", control="5")), history
    )
    assert (status, rules) == (0, {"V2": {"accepted", "SCS-PHASE-UNKNOWN"}})


def test_an_mai_1_code_split_over_claims_stays_accepted(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), maps)
    text = (maps / "mue.xml").read_text()
    (maps / "mue.xml").write_text(
        text.replace(
            'code="63650" setting="practitioner" value="2" mai="3"',
            'code="63650" setting="practitioner" value="2" mai="1"',
        )
    )
    tables = Tables.load(maps)
    assert {m.mai for m in tables.mues[("63650", "practitioner")]} == {1}
    data = file_of(
        claim("M1", line("63650", "2900.00", 2), notes=TRIAL),
        claim("M2", line("63650", "2900.00", 2, "76"), notes=TRIAL),
    )
    results = check(Engine(tables, today=TODAY), data)
    assert [r.accepted for r in results] == [True, True]
    assert {f.rule for f in results[1].findings} == {"DUP-SUSPECT"}  # a warning, no MUE


def check(engine: Engine, data: bytes) -> list[ClaimResult]:
    return list(engine.check(edi63650.iter_claims(io.BytesIO(data))))


# -- patient keys ------------------------------------------------------------------------------


def test_patients_are_keyed_with_a_secret_kept_beside_the_database(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    store = HistoryStore(path)
    engine = Engine(history=store, today=TODAY)
    check(engine, file_of(claim("K1", line("63650", "1450.00"), notes=TRIAL), member="SECRET1"))
    store.close()
    key = tmp_path / "history.sqlite.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32
    with sqlite3.connect(path) as db:
        (patient,) = {row[0] for row in db.execute("SELECT patient_key FROM procedures")}
    for guess in ("MBRSECRET1", "SECRET1"):  # what hashing candidate ids would find
        assert patient != hashlib.sha256(guess.encode()).hexdigest()
    # The same secret on the next opening: the patient is found again.
    store = HistoryStore(path)
    assert store.services_for(patient)
    store.close()


def test_a_history_without_its_key_or_unkeyed_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    HistoryStore(path).close()
    (tmp_path / "history.sqlite.key").unlink()
    with pytest.raises(EdiError, match="missing"):
        HistoryStore(path)
    legacy = tmp_path / "legacy.sqlite"
    with sqlite3.connect(legacy) as db:
        db.execute(
            "CREATE TABLE procedures (patient_key TEXT NOT NULL, provider TEXT NOT NULL, code "
            "TEXT NOT NULL, modifiers TEXT NOT NULL, service_date TEXT NOT NULL, units TEXT NOT "
            "NULL, claim_id TEXT NOT NULL, line INTEGER NOT NULL, recorded_at TEXT NOT NULL)"
        )
        db.execute(
            "INSERT INTO procedures VALUES "
            "('x', 'p', '63650', '', '2026-10-01', '1', 'C', 1, 'now')"
        )
    with pytest.raises(EdiError, match="older edi63650"):
        HistoryStore(legacy)
    linked = tmp_path / "linked.sqlite"
    (tmp_path / "linked.sqlite.key").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(EdiError):
        HistoryStore(linked)
    assert not (tmp_path / "elsewhere").exists()  # never written through the link


# -- the in-file index beyond memory -----------------------------------------------------------


def test_the_index_on_disk_gives_the_same_verdicts(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.rulepack_cases import PROFESSIONAL

    data = PROFESSIONAL.read_bytes()
    in_memory = [
        (r.claim.claim_id, r.accepted, {(f.rule, f.line) for f in r.findings})
        for r in check(Engine(today=TODAY), data)
    ]
    monkeypatch.setattr(sameday, "MEMORY_LIMIT", 3)
    on_disk = [
        (r.claim.claim_id, r.accepted, {(f.rule, f.line) for f in r.findings})
        for r in check(Engine(today=TODAY), data)
    ]
    assert on_disk == in_memory


def test_lines_waiting_to_be_written_answer_as_written_ones() -> None:
    """Past memory, accepted lines wait in a batch for the database; a question about them
    is answered from the batch, without writing it, and as the database would answer."""
    day = datetime.date(2026, 10, 5)

    def service(claim_id: str, modifiers: frozenset[str]) -> Service:
        return Service("P1", "N1", "63650", modifiers, day, Decimal(2), claim_id, 1)

    index = sameday.SameDay(limit=0)  # everything beyond memory
    index.add("P1", "C1", [service("C1", frozenset({"LT", "A B"}))], "print-1")
    waiting = index.day("P1", "N1", day, frozenset())
    assert waiting.lines("63650") == [service("C1", frozenset({"LT", "A", "B"}))]
    assert index.duplicate("print-1", frozenset()) == "C1"
    assert index.duplicate("print-1", frozenset({"C1"})) is None
    assert index._pending_lines  # (asking wrote nothing: one transaction per batch)
    index._flush()  # the batch written: the same answers, as kept and as read again
    assert index.day("P1", "N1", day, frozenset()) == waiting
    index._days_read, index._read_lines, index._read_of = {}, 0, {}
    read = index.day("P1", "N1", day, frozenset())
    assert read.lines("63650") == waiting.lines("63650")
    assert read.units("63650") == waiting.units("63650") == Decimal(2)
    assert index.duplicate("print-1", frozenset()) == "C1"
    index.close()


def test_a_retracted_interchange_does_not_count_as_earlier_claims(tmp_path: Path) -> None:
    """The first interchange's trailer is wrong, so its claims are rejected; the same claim in
    the second interchange is then the first accepted one, not a duplicate."""
    first = file_of(claim("T1", line("63650", "2900.00", 2), notes=TRIAL), control="1")
    first = first.replace(b"IEA*1*000000001", b"IEA*1*000000009")
    second = file_of(claim("T2", line("63650", "2900.00", 2), notes=TRIAL), control="2")
    result = edi63650.validate(first + second)
    verdicts = {c.claim.claim_id: (c.accepted, {f.rule for f in c.findings}) for c in result.claims}
    assert verdicts["T1"][0] is False
    assert verdicts["T2"] == (True, set())


def test_a_replayed_interchange_does_not_count_the_interchanges_after_it_twice(
    tmp_path: Path,
) -> None:
    # An interchange rejected at its trailer is read again; the chunk read again holds the
    # interchanges after it, whose claims must be counted once (63650: 4 units per lifetime).
    retracted = file_of(claim("R1", line("63650", "1500.00"), notes=TRIAL), member="M3")
    retracted = retracted.replace(b"IEA*1*000000001", b"IEA*2*000000001")
    assert b"IEA*2*" in retracted
    later = DAY + datetime.timedelta(days=20)  # (MUE 2 per date; outside the global period)
    three = file_of(claim("L1", line("63650", "1500.00", 2), notes=TRIAL), control="2")
    four = file_of(claim("L2", line("63650", "500.00", 2, day=later), notes=TRIAL), control="3")
    path = write(tmp_path, "replayed.837", retracted + three + four)
    _, rules = validate(path, tmp_path / "history.sqlite")
    assert rules["R1"] == {"rejected", "X12-REJECTED-ENVELOPE"}
    assert rules["L1"] == {"accepted"}
    assert rules["L2"] == {"accepted"}  # 4 units: at the limit, not over it
    last = later + datetime.timedelta(days=20)
    five = file_of(claim("L3", line("63650", "500.00", day=last), notes=TRIAL), control="4")
    again = write(tmp_path, "over.837", retracted + three + four + five)
    assert "SCS-LIFETIME" in validate(again, tmp_path / "other.sqlite")[1]["L3"]


def test_an_index_past_memory_leaves_no_file_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past memory, both indexes of the file's services go to SQLite's own temporary
    database, which no other process can open by name: nothing appears in the temporary
    folder while they are in use, and they answer as before."""
    import tempfile

    from edi63650.rules.services import ServiceHistory

    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    day = datetime.date(2026, 10, 5)
    services = [
        Service("P1", "N1", "63650", frozenset(), day, Decimal(2), f"C{n}", 1) for n in range(3)
    ]
    same_day = sameday.SameDay(limit=0)
    history = ServiceHistory(counted=("63650",), limit=0)
    for n, service in enumerate(services):
        same_day.add("P1", service.claim_id, [service], f"print-{n}")
        history.add([service])
    same_day._flush()
    assert same_day.duplicate("print-1", frozenset()) == "C1"
    assert history.units("P1", "63650", day) == Decimal(6)
    assert list(tmp_path.iterdir()) == []
    same_day.close()
    history.close()


def _written_bytes() -> int:
    with Path("/proc/self/io").open() as io:  # (bytes this process has handed to write calls)
        return next(int(row.split()[1]) for row in io if row.startswith("wchar:"))


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="needs Linux's /proc/self/io")
def test_an_index_far_past_its_cache_writes_about_a_page_for_each_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once an index is many times SQLite's cache, each row written to an index keyed by
    something other than arrival lands on a page of its own, which is written out again when
    the cache lets it go: the bytes written for a file's claims follow the number of such
    indexes. A line is in one (by its day) and a claim in two (by fingerprint and by CLM01),
    and a patient's units of a code are summed from their rows until there are many, not kept
    in a Fenwick tree for every patient. (With an index by claim beside each line's, and a
    tree of some twenty nodes for every patient and code, a claim cost 6.4 and 8.7 KiB here.)"""
    import hashlib

    from edi63650.rules import scratch
    from edi63650.rules.services import ServiceHistory

    monkeypatch.setattr(scratch, "CACHE_KIB", 64)
    day = datetime.date(2026, 10, 5)
    claims = 40_000
    index = sameday.SameDay(limit=0)
    history = ServiceHistory(
        days={"63650": 10}.get, counted=("63650",), limit=0
    )  # (everything beyond memory)
    patients = [hashlib.sha256(b"%d" % n).hexdigest()[:12] for n in range(claims)]
    lines = [
        [
            Service(patient, "N1", code, frozenset(), day, Decimal(1), f"C{n}", number)
            for number, code in enumerate(("63650", "99213"), 1)
        ]
        for n, patient in enumerate(patients)
    ]
    start = _written_bytes()
    for n, patient in enumerate(patients):
        index.add(patient, f"C{n}", lines[n], f"print-{n}")
    index._flush()
    same_day = (_written_bytes() - start) / claims / 1024
    start = _written_bytes()
    for n in range(0, claims, 100):
        history.add([service for claim in lines[n : n + 100] for service in claim])
    services = (_written_bytes() - start) / claims / 1024
    index.close()
    history.close()
    assert same_day < 5.0, same_day  # KiB a claim (2 lines, 2 rows of the claim: 4.4 KiB)
    assert services < 7.0, services  # (4 rows in 3 indexes: 5.7 KiB)


# -- the in-file index grows linearly on hostile shapes ---------------------------------------


def _sameday_lines(work: list[int]) -> Callable[[FrameType, str, Any], Any]:
    """A trace function (for :func:`sys.settrace`) adding one to ``work[0]`` for each line
    run in sameday.py."""

    def count(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            work[0] += 1
        return count

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return count if frame.f_code.co_filename == sameday.__file__ else None

    return tracer


def _index_work(claims: int, *, same_claim: bool, limit: int, replaces: bool = False) -> int:
    """The work of asking about and adding ``claims`` claims of one patient, provider, day and
    code to a fresh index, each as a rule would: Python lines run in sameday.py plus
    SQLite virtual-machine steps (both deterministic, unlike a clock). With ``same_claim``
    each is the same claim under the same CLM01; else each has its own. With ``replaces``
    each takes out the claims of its CLM01 before it (a replacement, frequency 7)."""
    day = datetime.date(2026, 10, 5)
    index = sameday.SameDay(limit=limit)
    work = [0]

    def step() -> int:
        work[0] += 1
        return 0

    tracer = _sameday_lines(work)
    watched = None
    sys.settrace(tracer)
    try:
        for n in range(claims):
            claim_id = "C1" if same_claim else f"C{n}"
            print_ = "print-C1" if same_claim else f"print-{n}"
            skip = frozenset({claim_id})
            earlier = index.day("P1", "N1", day, skip)
            earlier.lines("99213")
            earlier.units("99213")
            index.duplicate(print_, skip)
            if replaces:
                index.withdraw("P1", [claim_id])
            service = Service("P1", "N1", "99213", frozenset(), day, Decimal(1), claim_id, 1)
            index.add("P1", claim_id, [service], print_)
            if index._db is not None and watched is None:
                watched = index._db
                watched.set_progress_handler(step, 1)
    finally:
        sys.settrace(None)
        index.close()
    return work[0]


@pytest.mark.parametrize(
    ("same_claim", "limit", "replaces"),
    [
        (True, 5_000, False),
        (True, 0, False),
        (False, 5_000, False),
        (False, 0, False),
        (True, 5_000, True),
        (True, 0, True),
    ],
    ids=[
        "same claim",
        "same claim on disk",
        "one day",
        "one day on disk",
        "replaced",
        "replaced on disk",
    ],
)
def test_claims_of_one_day_cost_the_index_the_same_however_many_came_before(
    same_claim: bool, limit: int, replaces: bool
) -> None:
    """Each claim asks once about its day: its own earlier copies (the same CLM01) are
    skipped in one lookup, and past memory a day is read once and kept, so doubling the
    claims doubles the work. (It grew with the square: every copy was walked, and every
    row of the day read, for each claim.) Claims withdrawn leave what a question reads: a
    claim replaced again and again does not leave its day ever longer to read past (it did,
    on disk: each claim's day was read again after its withdrawal, every row before it)."""
    small = _index_work(300, same_claim=same_claim, limit=limit, replaces=replaces)
    large = _index_work(600, same_claim=same_claim, limit=limit, replaces=replaces)
    assert large / small < 2.4, (small, large)


def _withdrawal_work(days: int) -> int:
    """Python lines run in sameday.py while a claim is replaced 100 times, once ``days``
    other days of its patient have been read from disk and kept."""
    first = datetime.date(2020, 1, 1)
    index = sameday.SameDay(limit=0)  # everything beyond memory
    for n in range(days):
        day = first + datetime.timedelta(days=n)
        visit = Service("P1", "N1", "99213", frozenset(), day, Decimal(1), f"X{n}", 1)
        index.add("P1", f"X{n}", [visit], f"print-X{n}")
    for n in range(days):
        index.day("P1", "N1", first + datetime.timedelta(days=n), frozenset())
    work = [0]

    tracer = _sameday_lines(work)
    later = first + datetime.timedelta(days=days + 100)
    sys.settrace(tracer)
    try:
        for n in range(100):
            index.withdraw("P1", ["C1"])
            replaced = Service("P1", "N1", "99213", frozenset(), later, Decimal(1), "C1", 1)
            index.add("P1", "C1", [replaced], f"print-{n}")
    finally:
        sys.settrace(None)
        index.close()
    return work[0]


def test_a_withdrawal_costs_the_same_however_many_days_are_kept_as_read() -> None:
    """A claim withdrawn lets go of the days read that hold its lines, found by the claim:
    the other days its patient has kept do not make it dearer. (Each withdrawal looked at
    every day kept: 2.5 ms each with 5,000 of them.)"""
    small, large = _withdrawal_work(200), _withdrawal_work(400)
    assert large / small < 1.2, (small, large)


def _database_steps(index: sameday.SameDay, run: Callable[[], object]) -> int:
    """SQLite virtual-machine steps of ``index``'s database while ``run`` runs."""
    assert index._db is not None
    steps = [0]

    def step() -> int:
        steps[0] += 1
        return 0

    index._db.set_progress_handler(step, 1)
    try:
        run()
    finally:
        index._db.set_progress_handler(None, 1)
    return steps[0]


def _busy_day_work(claims: int) -> tuple[int, int]:
    """Database steps of 50 withdrawals and re-readings of one day holding ``claims`` live
    claims, and of 50 duplicate checks of a fingerprint that many replacements share."""
    day = datetime.date(2026, 10, 5)
    index = sameday.SameDay(limit=0)  # everything beyond memory
    for n in range(claims):
        visit = Service("P1", "N1", "99213", frozenset(), day, Decimal(1), f"X{n}", 1)
        index.add("P1", f"X{n}", [visit], "one print")  # (replacements: never checked)
    index._flush()

    def rounds() -> None:
        for n in range(50):
            index.withdraw("P1", [f"X{n}"])
            visit = Service("P1", "N1", "99213", frozenset(), day, Decimal(1), f"X{n}", 1)
            index.add("P1", f"X{n}", [visit], f"print-{n}")
            index.day("P1", "N1", day, frozenset()).lines("99213")

    def checks() -> None:
        for n in range(50):
            index.duplicate("one print", frozenset({f"Y{n}"}))

    try:
        return _database_steps(index, rounds), _database_steps(index, checks)
    finally:
        index.close()


def test_a_busy_day_costs_a_question_no_more_than_the_lines_it_reads() -> None:
    """A day read again (after a withdrawal, a rewind, or when let go) reads its first
    :data:`~edi63650.rules.history.LINES_PER_DAY` live lines in the order they came, and a
    duplicate check the first claim with the fingerprint, straight from the index: however
    many live rows the day or fingerprint has. (Both sorted every live row first.)"""
    small, large = _busy_day_work(2_000), _busy_day_work(4_000)
    assert large[0] / small[0] < 1.2, (small, large)
    assert large[1] / small[1] < 1.2, (small, large)


def test_days_read_with_nothing_in_them_are_not_kept_without_end() -> None:
    """A day the filter thinks may be on disk but that has no live line is kept as read, and
    counts towards :data:`~edi63650.rules.sameday.DAYS_LINES` like a line (it counted as none,
    so they piled up: 20,000 of them took 4.9 MB)."""
    first = datetime.date(2020, 1, 1)
    index = sameday.SameDay(limit=0)  # everything beyond memory
    days = sameday.DAYS_LINES + 1_000
    for n in range(days):
        day = first + datetime.timedelta(days=n)
        visit = Service("P1", "N1", "99213", frozenset(), day, Decimal(1), f"X{n}", 1)
        index.add("P1", f"X{n}", [visit], f"print-{n}")
        index.withdraw("P1", [f"X{n}"])  # (a void)
    for n in range(days):
        assert index.day("P1", "N1", first + datetime.timedelta(days=n), frozenset()).empty
    assert len(index._days_read) <= sameday.DAYS_LINES
    index.close()


def test_a_day_kept_as_read_follows_what_is_added_withdrawn_and_rewound() -> None:
    day = datetime.date(2026, 10, 5)

    def service(claim_id: str, units: int) -> Service:
        return Service("P1", "N1", "63650", frozenset(), day, Decimal(units), claim_id, 1)

    def seen() -> tuple[list[str], Decimal]:
        found = index.day("P1", "N1", day, frozenset())
        return [s.claim_id for s in found.lines("63650")], found.units("63650")

    index = sameday.SameDay(limit=0)  # everything beyond memory
    index.add("P1", "C1", [service("C1", 1)], "print-1")
    assert seen() == (["C1"], Decimal(1))  # read, and kept
    index.add("P1", "C2", [service("C2", 2)], "print-2")
    assert seen() == (["C1", "C2"], Decimal(3))  # the kept day holds the new line too
    index.withdraw("P1", ["C1"])
    assert seen() == (["C2"], Decimal(2))
    mark = index.mark()
    index.add("P1", "C3", [service("C3", 4)], "print-3")
    assert seen() == (["C2", "C3"], Decimal(6))
    index.rewind(mark)
    assert seen() == (["C2"], Decimal(2))
    index.close()


@pytest.mark.parametrize("limit", [0, 7], ids=["all on disk", "spilling"])
def test_the_spilled_day_index_answers_as_the_memory_one_through_withdrawals_and_rewinds(
    limit: int,
) -> None:
    """Random claims, replacements (a withdrawal, then the new claim) and rewinds: an index
    that keeps some or none of them in memory answers every question as one that keeps all,
    the lines of a day in the order their claims came. (A claim withdrawn and brought back by
    a rewind went to the end of its day in memory, so which earlier claim a message named
    depended on what was kept in memory.)"""
    rng = random.Random(11)  # noqa: S311 - test data
    first = datetime.date(2026, 3, 1)
    kept, spilled = sameday.SameDay(), sameday.SameDay(limit=limit)
    both = (kept, spilled)
    live: list[tuple[str, str]] = []
    mark = kept.mark()
    for step in range(600):
        if step % 40 == 0:
            mark = kept.mark()
            assert spilled.mark() == mark
        if step % 40 == 30 and rng.random() < 0.6:
            for index in both:
                index.rewind(mark)
            live = [owner for owner in live if int(owner[1][1:]) <= mark]
        patient = f"P{rng.randint(0, 2)}"
        mine = [claim for p, claim in live if p == patient]
        if mine and rng.random() < 0.3:  # a replacement: the original leaves first
            gone = rng.choice(mine)
            for index in both:
                index.withdraw(patient, [gone])
            live.remove((patient, gone))
        claim_id = f"C{kept._seq + 1}"  # (the sequence number it is added under)
        lines = [
            Service(
                patient,
                "N1",
                rng.choice(["63650", "63685"]),
                frozenset(),
                first + datetime.timedelta(days=rng.randint(0, 2)),
                Decimal(rng.choice(["1", "2", "1.50"])),
                claim_id,
                number,
            )
            for number in range(1, rng.randint(1, 3) + 1)
        ]
        for index in both:
            index.add(patient, claim_id, lines, f"print-{patient}-{rng.random()}")
        live.append((patient, claim_id))
        asked = first + datetime.timedelta(days=rng.randint(0, 2))
        answers = []
        for index in both:
            found = index.day(patient, "N1", asked, frozenset())
            answers.append(
                [
                    ([(s.claim_id, s.line) for s in found.lines(code)], str(found.units(code)))
                    for code in ("63650", "63685")
                ]
            )
        assert answers[0] == answers[1], step
    for index in both:
        index.close()
