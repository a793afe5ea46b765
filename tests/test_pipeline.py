"""The streaming core: the same answers as before it, however the input is fed; bounded
memory; an interchange rejected at its trailer read again; findings capped, never verdicts.

``streaming-golden.json`` holds hashes of every output (277CA, 999, JSON as data, text, HTML,
accepted 837) that the code before the streaming core wrote, for every fixture, every corpus
file, damaged variants of the fixtures and generated files. A change meant to alter outputs
updates them with ``EDI63650_UPDATE_GOLDEN=1 pytest tests/test_pipeline.py`` and says why in
its commit.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import random
import re
import sqlite3
import tracemalloc
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from edi63650.outcome import GroupOutcome, InterchangeOutcome, StreamOutcome, TransactionOutcome
from edi63650.outputs import write_outputs
from edi63650.pipeline import CAP
from edi63650.rules import services
from edi63650.rules.history import HistoryStore, Service
from edi63650.segment import Segment
from edi63650.testing import ClaimSpec, LineSpec, SubscriberSpec, interchange, stress, synth
from edi63650.validate import Validator
from edi63650.writers.accepted import AcceptedSink
from edi63650.writers.ack277 import Ack277Sink
from edi63650.writers.ack999 import Ack999Sink
from edi63650.writers.numbers import StoredNumbers
from edi63650.writers.report_html import COMPACT_ABOVE, HtmlSink
from edi63650.writers.report_json import JsonSink
from edi63650.writers.report_text import TextSink
from tests.helpers import CORPUS, FIXTURES
from tests.mutants import mutants

NOW = datetime.datetime(2026, 11, 26, 9, 30)
GOLDEN_FILE = Path(__file__).with_name("streaming-golden.json")
GOLDEN: dict[str, dict[str, str]] = json.loads(GOLDEN_FILE.read_text())
KINDS = ("277", "999", "json", "text", "html", "accepted")
UPDATE = os.environ.get("EDI63650_UPDATE_GOLDEN") == "1"


def _two_interchanges_rejected_at_iea() -> bytes:
    text = (FIXTURES / "two-interchanges.837").read_text()
    return text.replace("IEA*1*000000301", "IEA*2*000000301").encode()


def generated() -> dict[str, bytes]:
    """The generated inputs of the golden file, made the same way every time."""
    out = {}
    for path in sorted(FIXTURES.glob("*.837")):
        for number, data in enumerate(mutants(path.read_bytes(), sum(path.name.encode()), 25)):
            out[f"mut-{path.name}-{number}"] = data
    out["synth-P-3000"] = synth("837P", 3000, 3)
    out["synth-I-2000"] = synth("837I", 2000, 5)
    out["flip-iea"] = _two_interchanges_rejected_at_iea()
    return out


def cases() -> Iterator[tuple[str, str, bytes, str]]:
    """(golden key, input name, bytes, syntax policy) of every case but the large one."""
    for path in sorted(p for p in FIXTURES.rglob("*.837") if p.is_file()):
        for policy in ("claim", "transaction"):
            name = str(path.relative_to(FIXTURES))
            yield f"fixtures/{name}|{policy}", path.name, path.read_bytes(), policy
    for name, data in generated().items():
        yield f"generated/{name}|claim", name, data, "claim"


def corpus_cases() -> Iterator[tuple[str, str, bytes, str]]:
    for path in sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix != ".md"):
        for policy in ("claim", "transaction"):
            key = f"corpus/{path.relative_to(CORPUS)}|{policy}"
            yield key, path.name, path.read_bytes(), policy


class Chunked(io.BytesIO):
    """A seekable stream that hands out chunks of random sizes, whatever was asked for."""

    def __init__(self, data: bytes, seed: int) -> None:
        super().__init__(data)
        self._rng = random.Random(seed)  # noqa: S311 - chunk sizes, not secrets

    def read(self, size: int | None = -1) -> bytes:
        return super().read(self._rng.randint(1, 4000))


def digest(kind: str, data: bytes) -> str:
    if kind == "json":
        data = json.dumps(json.loads(data), sort_keys=True).encode()
    return hashlib.sha256(data).hexdigest()[:20]


def streamed(validator: Validator, stream: io.BytesIO, name: str, size: int) -> dict[str, str]:
    """Every output of one pass of :meth:`Validator.write`, hashed."""
    outs = {kind: io.BytesIO() for kind in KINDS}
    accepted = AcceptedSink(outs["accepted"])
    sinks = [
        Ack277Sink(outs["277"], NOW),
        Ack999Sink(outs["999"], NOW),
        JsonSink(outs["json"], name, NOW),
        TextSink(outs["text"], name),
        HtmlSink(outs["html"], name, NOW, compact=size > COMPACT_ABOVE),
        accepted,
    ]
    validator.write(stream, sinks, name)
    return {kind: digest(kind, outs[kind].getvalue()) for kind in KINDS}


def in_memory(validator: Validator, data: bytes, name: str) -> dict[str, str]:
    result = validator.validate_stream(io.BytesIO(data), name)
    outputs = {
        "277": result.to_277ca(),
        "999": result.to_999(),
        "json": result.to_json().encode(),
        "text": result.to_text().encode(),
        "html": result.to_html(data).encode(),
        "accepted": result.accepted_837() or b"",
    }
    return {kind: digest(kind, data) for kind, data in outputs.items()}


@pytest.fixture(scope="module")
def validators() -> dict[str, Validator]:
    return {policy: Validator(now=NOW, syntax_policy=policy) for policy in ("claim", "transaction")}


def check(key: str, name: str, data: bytes, validator: Validator) -> None:
    got = streamed(validator, Chunked(data, seed=len(data)), name, len(data))
    if UPDATE:
        GOLDEN[key] = got
        return
    assert got == GOLDEN[key], key
    assert in_memory(validator, data, name) == GOLDEN[key], key


def test_outputs_equal_those_before_the_streaming_core(validators: dict[str, Validator]) -> None:
    for key, name, data, policy in cases():
        check(key, name, data, validators[policy])
    if UPDATE:
        GOLDEN_FILE.write_text(json.dumps(GOLDEN, indent=1, sort_keys=True) + "\n")


def test_corpus_outputs_equal_those_before_the_streaming_core(
    corpus: Path, validators: dict[str, Validator]
) -> None:
    for key, name, data, policy in corpus_cases():
        check(key, name, data, validators[policy])


@pytest.mark.slow
def test_a_large_file_in_compact_html_equals_what_it_was(validators: dict[str, Validator]) -> None:
    data = synth("837P", 17000, 11)
    assert len(data) > COMPACT_ABOVE
    key = "generated/synth-P-17000|claim"
    got = streamed(validators["claim"], Chunked(data, seed=1), "big", len(data))
    if UPDATE:
        GOLDEN[key] = got
        GOLDEN_FILE.write_text(json.dumps(GOLDEN, indent=1, sort_keys=True) + "\n")
    assert got == GOLDEN[key]


# -- an interchange rejected at its trailer ---------------------------------------------------


def test_sets_streamed_before_the_iea_are_rejected_with_their_interchange(tmp_path: Path) -> None:
    first = interchange("837P", [SubscriberSpec("M1", claims=(_claim("LATE"),))])
    first = first.replace(b"IEA*1*", b"IEA*2*")  # known only at the end of the interchange
    second = interchange(
        "837P", [SubscriberSpec("M2", claims=(_claim("KEPT"),))], control_number="2"
    )
    database = tmp_path / "history.sqlite"
    store = HistoryStore(database)
    outcomes = list(Validator(now=NOW, history=store).outcomes(io.BytesIO(first + second)))
    store.close()
    yielded, group, ended = outcomes[0], outcomes[1], outcomes[2]
    assert isinstance(yielded, TransactionOutcome)
    assert isinstance(group, GroupOutcome)
    assert (group.number, group.transactions) == (1, 1)
    assert isinstance(ended, InterchangeOutcome)
    assert yielded.ack.value == "A"  # yielded before the IEA said otherwise
    assert ended.rejected
    assert ended.retracts
    restated = ended.restate(yielded)
    assert restated.ack.value == "R"
    assert restated.claims[0].findings[0].rule == "X12-REJECTED-ENVELOPE"
    # What the rejected interchange recorded in the history was taken back; the other stays.
    rows = sqlite3.connect(database).execute("SELECT claim_id FROM procedures").fetchall()
    assert rows == [("KEPT",)]


def test_the_one_pass_writes_what_the_whole_result_says(tmp_path: Path) -> None:
    data = _two_interchanges_rejected_at_iea()
    source = tmp_path / "flip.837"
    source.write_bytes(data)
    validator = Validator(now=NOW)
    out = tmp_path / "out"
    out.mkdir()
    with source.open("rb") as stream:
        summary = write_outputs(validator, stream, "flip.837", out, size=len(data))
    result = validator.validate(data)
    written = {kind: (out / f"flip.837.{kind}").read_bytes() for kind in ("277", "999")}
    assert _numbers_out(written["277"]) == _numbers_out(result.to_277ca())
    assert _numbers_out(written["999"]) == _numbers_out(result.to_999())
    # One pass shares its control numbers between the 277CA and the 999: all different.
    numbers = [n for kind in ("277", "999") for n in _control_numbers(written[kind])]
    assert sorted(numbers) == list(range(1, len(numbers) + 1)), numbers
    assert (summary.tally.rejected, summary.tally.accepted) == (1, 1)
    assert b"FU0001" not in (out / "flip.837.accepted.837").read_bytes()


def _control_numbers(reply: bytes) -> list[int]:
    return [int(line[90:99]) for line in reply.split(b"\n") if line.startswith(b"ISA")]


def _numbers_out(reply: bytes) -> bytes:
    """A reply with its own control numbers (ISA13, GS06, GE02, IEA02) blanked."""
    reply = re.sub(rb"(?m)^(ISA(?:\*[^*]*){12}\*)\d{9}", rb"\1#", reply)
    reply = re.sub(rb"(?m)^(GS(?:\*[^*]*){5}\*)\d+", rb"\1#", reply)
    return re.sub(rb"(?m)^((?:GE|IEA)\*\d+\*)\d+", rb"\1#", reply)


# -- lazy, bounded ----------------------------------------------------------------------------


def test_outcomes_come_as_each_transaction_set_ends() -> None:
    data = synth("837P", 2500, seed=4)  # three transaction sets
    second_st = data.index(b"ST*837*0002")
    pipeline = Validator(now=NOW).pipeline()
    early = pipeline.feed(data[:second_st])
    assert [type(o) for o in early] == [TransactionOutcome]
    first = early[0]
    assert isinstance(first, TransactionOutcome)
    assert first.transaction.control_number == "0001"
    assert len(first.claims) == data[:second_st].count(b"CLM*")
    rest = pipeline.feed(data[second_st:]) + pipeline.close()
    kinds = [type(o) for o in rest]
    assert kinds == [
        TransactionOutcome,
        TransactionOutcome,
        GroupOutcome,  # at the GE
        InterchangeOutcome,
        StreamOutcome,
    ]


#: An interchange header for the envelope-only inputs below.
_ISA = b"ISA*00*          *00*          *ZZ*SUBMITTER01    *ZZ*PAYER01        *261001*1200*^*00501*000000001*0*T*:~"  # noqa: E501


def _peak(data: bytes, folder: Path) -> int:
    """Peak traced memory of writing every output of ``data`` into ``folder`` (made here)."""
    folder.mkdir(parents=True, exist_ok=True)
    validator = Validator(now=NOW)
    tracemalloc.start()
    try:
        write_outputs(validator, io.BytesIO(data), "x.837", folder, size=len(data))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_bounded_by_a_transaction_set_not_by_the_file(tmp_path: Path) -> None:
    # Both files hold transaction sets of 1,000 claims; the larger has four times as many.
    small = synth("837P", 2000, seed=5)
    large = synth("837P", 8000, seed=5)
    peak_small = _peak(small, tmp_path / "small")
    peak_large = _peak(large, tmp_path / "large")
    # What grows with the file is its SCS services' index and the spools' first megabyte.
    assert peak_large < 1.5 * peak_small + 4 * 1024 * 1024, (peak_small, peak_large)


def test_memory_is_bounded_by_an_interchange_not_by_how_many_there_are(tmp_path: Path) -> None:
    # Acknowledgments are written as each interchange ends: nothing of an ended interchange's
    # transaction sets (their claims) may wait for the end of the file.
    def interchanges(count: int) -> bytes:
        return b"".join(synth("837P", 500, seed=20 + i) for i in range(count))

    peak_small = _peak(interchanges(2), tmp_path / "small")
    peak_large = _peak(interchanges(8), tmp_path / "large")
    assert peak_large < 1.5 * peak_small + 4 * 1024 * 1024, (peak_small, peak_large)


def test_replies_carry_our_own_control_numbers_not_the_inbound_ones(tmp_path: Path) -> None:
    first, second, third = (synth("837P", 2, seed=seed) for seed in (1, 2, 3))
    assert [d[90:99] for d in (first, second, third)] == [b"000000002", b"000000003", b"000000004"]
    result = Validator(now=NOW).validate(first + second + third)
    for reply in (result.to_277ca(), result.to_999()):
        assert _control_numbers(reply) == [1, 2, 3]  # counting from 1, whatever came in
        groups = [line.split(b"*")[6] for line in reply.split(b"\n") if line.startswith(b"GS")]
        assert groups == [b"1", b"2", b"3"]
    assert b"AK1*HC*3*" in result.to_999()  # the inbound GS06 is referenced where X231A1 says
    assert _control_numbers(result.to_999(control_number=41)) == [41, 42, 43]
    # Kept in a store, they go on counting across runs and never repeat.
    store = tmp_path / "numbers.sqlite"
    taken = []
    for _ in range(2):
        numbers = StoredNumbers(store, start=500)
        validator = Validator(now=NOW, control_numbers=numbers)
        (tmp_path / "out").mkdir(exist_ok=True)
        data = first + second
        write_outputs(validator, io.BytesIO(data), "x.837", tmp_path / "out", size=len(data))
        numbers.close()
        for kind in ("277", "999"):
            taken += _control_numbers((tmp_path / "out" / f"x.837.{kind}").read_bytes())
    assert sorted(taken) == list(range(500, 508)), taken


def test_the_history_index_spills_to_disk_with_the_same_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = stress("patient-claims", 300) + synth("837P", 300, seed=9)
    validator = Validator(now=NOW)
    in_memory = validator.validate(data)
    monkeypatch.setattr(services, "MEMORY_LIMIT", 10)
    spilled = validator.validate(data)
    assert [c.findings for c in spilled.claims] == [c.findings for c in in_memory.claims]
    assert any(f.rule.startswith("SCS-GLOBAL") for c in in_memory.claims for f in c.findings)
    assert any(f.rule == "SCS-LIFETIME" for c in in_memory.claims for f in c.findings)


@pytest.mark.parametrize("patients", [4, 60], ids=["units in trees", "units summed from rows"])
def test_the_spilled_index_answers_as_the_memory_one_through_rewinds(patients: int) -> None:
    """Random services, queries and rewinds: an index that spills after a few services answers
    every query as one that keeps all in memory. With few patients, each patient's units of a
    code soon outnumber what the database sums row by row and go into a tree (some of them
    between a mark and its rewind); with many, most are summed from their rows."""
    rng = random.Random(7)  # noqa: S311 - test data
    start = datetime.date(2026, 1, 1).toordinal()
    periods = {"63650": 10, "63685": 90, "99213": None, "C1778": None}
    kept, spilled = (
        services.ServiceHistory(days=periods.get, counted=("63650", "63685"), limit=limit)
        for limit in (None, 5)
    )
    line = 0
    for step in range(400):
        if step % 50 == 0:
            mark = kept.mark()
            assert spilled.mark() == mark
        if step % 50 == 40 and rng.random() < 0.5:
            kept.rewind(mark)
            spilled.rewind(mark)
        batch = []
        for _ in range(rng.randint(1, 3)):
            line += 1
            batch.append(
                Service(
                    f"P{rng.randint(0, patients - 1)}",
                    f"N{rng.randint(0, 1)}",
                    rng.choice(list(periods)),
                    frozenset(),
                    datetime.date.fromordinal(start + rng.randint(0, 120)),
                    Decimal(rng.choice(["1", "2", "0.5"])),
                    f"C{line}",
                    1,
                )
            )
        kept.add(batch)
        spilled.add(batch)
        patient = f"P{rng.randint(0, patients - 1)}"
        day = datetime.date.fromordinal(start + rng.randint(0, 120))
        for code in ("63650", "63685"):
            units = kept.units(patient, code, day), spilled.units(patient, code, day)
            assert units[0] == units[1]
            if patients > 4:  # summed, they read as written (2, not 2.0, after a rewind)
                assert str(units[0]) == str(units[1])
        assert kept.has(patient, {"99213"}) == spilled.has(patient, {"99213"})
        low, high = day - datetime.timedelta(days=20), day + datetime.timedelta(days=1)

        def before(date: datetime.date, days: int, day: datetime.date = day) -> bool:
            return date <= day

        for provider in (None, "N0"):
            answers = [
                index.earliest(patient, low, high, before, provider=provider)
                for index in (kept, spilled)
            ]
            assert answers[0] == answers[1]
    kept.close()
    spilled.close()


def _claim(claim_id: str, lines: int = 1, code: str = "63650") -> ClaimSpec:
    return ClaimSpec(
        claim_id,
        tuple(LineSpec(code, Decimal(100)) for _ in range(lines)),
    )


# -- caps ---------------------------------------------------------------------------------------


def test_findings_of_one_rule_are_capped_per_claim_and_the_verdict_stays() -> None:
    lines = tuple(LineSpec("99213", Decimal(100), modifiers=("Z9",)) for _ in range(3 * CAP))
    data = interchange("837P", [SubscriberSpec("M1", claims=(ClaimSpec("MANY", lines),))])
    (claim,) = Validator(now=NOW).validate(data).claims
    unknown = [f for f in claim.findings if f.rule == "SNIP5-MODIFIER"]
    assert len(unknown) == CAP + 1
    assert (
        unknown[-1].message
        == f"{2 * CAP} more SNIP5-MODIFIER findings in this claim are not listed"
    )
    assert unknown[-1].severity.value == "error"
    assert unknown[-1].line is None
    assert not claim.accepted


def test_findings_outside_claims_are_capped_per_file() -> None:
    base = (FIXTURES / "scs-professional.837").read_bytes()
    data = base.replace(b"CLM*", b"~" * (3 * CAP) + b"CLM*", 1)
    result = Validator(now=NOW).validate(data)
    empties = [f for t in result.transactions for f in t.findings if f.rule == "X12-EMPTY-SEGMENT"]
    assert len(empties) == CAP
    summary = [f for f in result.findings if f.rule == "X12-EMPTY-SEGMENT"]
    assert len(summary) == 1
    assert (
        summary[0].message
        == f"{2 * CAP} more X12-EMPTY-SEGMENT findings in this file are not listed"
    )


class _CountingStream(io.BytesIO):
    """A stream that counts the bytes read from it."""

    read_bytes = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        self.read_bytes += len(data)
        return data


def test_an_interchange_read_again_is_read_alone() -> None:
    """An interchange rejected at its trailer after its sets were given out is read again:
    its own bytes and at most a few KiB after them, not a whole chunk of the interchanges
    that follow (each of which was built again, and dropped, for every such interchange)."""
    claims = (ClaimSpec("R1", (LineSpec("99213", Decimal(100)),)),)
    rejected = interchange("837P", [SubscriberSpec("M1", claims=claims)], control_number="1")
    rejected = rejected.replace(b"IEA*1*", b"IEA*2*")  # one group counted, two claimed
    after = synth("837P", 1_000, seed=4)
    stream = _CountingStream(rejected + after)
    summary = Validator(now=datetime.datetime(2026, 11, 26, 12)).write(stream, [])
    assert summary.tally.rejected >= 1  # (the replayed interchange's claim)
    again = stream.read_bytes - len(rejected + after)
    assert len(rejected) <= again <= len(rejected) + 4_096, again


def test_an_interchange_read_again_is_given_out_as_it_is_read_not_held(tmp_path: Path) -> None:
    """An interchange rejected at its trailer is read again and its outcomes (and, for the
    HTML report, its segments) go to the writers as each chunk gives them: memory stays
    bounded by a transaction set, not by the interchange (they were gathered in one list:
    4,000 sets of one claim took 286 MB, 8,000 took 528 MB)."""
    peaks = []
    for claims in (1_000, 4_000):  # (transaction sets of 1,000 claims: one, then four)
        data = synth("837P", claims, seed=5)
        assert data.count(b"IEA*1*") == 1
        folder = tmp_path / str(claims)
        peaks.append(_peak(data.replace(b"IEA*1*", b"IEA*2*"), folder))  # one group, not two
        report = json.loads((folder / "x.837.json").read_text())
        assert report["summary"]["rejected"] == claims, report["summary"]
    small, large = peaks
    assert large < 1.5 * small + 4 * 1024 * 1024, (small, large)


def _html_peak(groups: int, folder: Path) -> int:
    """Peak memory of the HTML report fed one interchange of ``groups`` empty functional
    groups, segment by segment, up to its end."""
    from edi63650.tokenizer import Tokenizer

    head = _ISA
    group = b"GS*HC*SUBMITTER01*PAYER01*20261001*1200*%d*X*005010X222A1~GE*0*%d~"
    tokenizer = Tokenizer()
    with (folder / "report.html").open("wb") as out:
        sink = HtmlSink(out, "x.837", NOW)
        tracemalloc.start()
        try:
            for chunk in (head, *(group % (n, n) for n in range(1, groups + 1))):
                for token in tokenizer.feed(chunk):
                    if isinstance(token, Segment):
                        sink.segment(token)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            sink.dispose()


def test_segments_outside_transaction_sets_wait_for_their_interchange_on_disk(
    tmp_path: Path,
) -> None:
    # An interchange of nothing but envelopes: the report places their findings when it ends,
    # and holds at most one piece of its segments in memory till then, not all of them.
    small, large = _html_peak(5_000, tmp_path), _html_peak(20_000, tmp_path)
    assert large < 1.5 * small + 1024 * 1024, (small, large)


def _empty_groups(groups: int) -> bytes:
    head = _ISA
    group = b"GS*HC*SUBMITTER01*PAYER01*20261001*1200*%d*X*005010X222A1~GE*0*%d~"
    body = b"".join(group % (n, n) for n in range(1, groups + 1))
    return head + body + b"IEA*%d*000000001~" % groups


def _empty_sets(sets: int) -> bytes:
    head = _ISA + b"GS*HC*SUBMITTER01*PAYER01*20261001*1200*1*X*005010X222A1~"
    body = b"".join(
        b"ST*837*%04d*005010X222A1~SE*2*%04d~" % (n % 10_000, n % 10_000) for n in range(sets)
    )
    return head + body + b"GE*%d*1~IEA*1*000000001~" % sets


def test_the_sets_of_one_group_wait_for_its_end_on_disk(tmp_path: Path) -> None:
    # One functional group of many (empty) transaction sets: the 999 copies the group's AK2
    # blocks from its spool into the reply set a piece at a time (it read them whole, and
    # copied them three times over), and the HTML report keeps where each set's block is in a
    # spool too (a tuple per set in a list, to the IEA).
    small = _peak(_empty_sets(2_000), tmp_path / "small")
    large = _peak(_empty_sets(40_000), tmp_path / "large")
    assert large < 1.2 * small + 1024 * 1024, (small, large)
    ack = (tmp_path / "large" / "x.837.999").read_bytes()
    assert ack.count(b"AK2*837*") == 40_000
    assert b"AK9*R*40000*40000*0~" in ack, ack[-200:]  # (sets without a claim are rejected)


def test_functional_groups_are_answered_as_each_ends_not_held_to_the_iea(tmp_path: Path) -> None:
    # Each group's AK1..AK9 goes to the 999's spool at its GE: nothing of an ended group (its
    # GS values, its findings, where its reply set lies) may wait for the IEA.
    small = _peak(_empty_groups(5_000), tmp_path / "small")
    large = _peak(_empty_groups(20_000), tmp_path / "large")
    assert large < 1.5 * small + 1024 * 1024, (small, large)
    ack = (tmp_path / "large" / "x.837.999").read_bytes()
    assert ack.count(b"AK1*HC*") == 20_000
    assert ack.count(b"AK9*A*0*0*0~") == 20_000
