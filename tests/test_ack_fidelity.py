"""Acknowledgments a trading partner's translator accepts, on messy input: characters outside
the X12 sets, composite IK402s, claim ids holding delimiters, partner qualifiers, TA1
rejections, acknowledgments sent back to us; and a seeded fuzz run checked by pyx12."""

from __future__ import annotations

import datetime
import random
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

from edi63650.segment import Segment
from edi63650.tokenizer import Tokenizer
from edi63650.validate import ValidationResult, Validator
from tests.helpers import CORPUS, FIXTURES
from tests.mutants import mutants
from tests.pyx12_oracle import pyx12_check

NOW = datetime.datetime(2026, 11, 26, 9, 30)
CLEAN = (FIXTURES / "bom.837").read_text()
ALT = (FIXTURES / "alt-delimiters.837").read_text()


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(now=NOW)


def segments(data: bytes) -> list[list[str]]:
    tokenizer = Tokenizer()
    tokens = tokenizer.feed(data) + tokenizer.close()
    return [list(t.elements) for t in tokens if isinstance(t, Segment)]


def everything_found(result: ValidationResult) -> set[str]:
    """The rules of the findings outside claims: the file's and every transaction set's."""
    return {f.rule for f in result.findings} | {
        f.rule for t in result.transactions for f in t.findings
    }


def accepted_by_pyx12(data: bytes, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    valid, report = pyx12_check(path)
    assert valid, report[-3000:]


def test_names_outside_the_x12_character_sets_are_transliterated(
    validator: Validator, tmp_path: Path
) -> None:
    nm1 = next(s for s in CLEAN.split("~") if s.lstrip().startswith("NM1*IL*"))
    elements = nm1.split("*")
    elements[3:5] = ["MUÑOZ", "MARÍA"]
    data = CLEAN.replace(nm1, "*".join(elements), 1).encode("utf-8")
    result = validator.validate(data)
    reply = result.to_277ca()
    assert reply.isascii()
    patient = [s for s in segments(reply) if s[:2] == ["NM1", "QC"]]
    assert patient, reply
    assert patient[0][3:5] == ["MUNOZ", "MARIA"], patient
    accepted_by_pyx12(reply, tmp_path, "names.277")
    accepted_by_pyx12(result.to_999(), tmp_path, "names.999")


def test_ik402_is_a_number_or_left_out(validator: Validator, tmp_path: Path) -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    line = next(s for s in text.split("~") if s.lstrip().startswith("SV1*"))
    elements = line.split("*")
    elements[7] = "1:2:3:4:5"  # a composite with too many components
    data = text.replace(line, "*".join(elements), 1).encode()
    reply = validator.validate(data).to_999()
    ik4s = [s for s in segments(reply) if s[0] == "IK4"]
    assert ik4s, reply
    assert all(s[2] == "" or s[2].isdigit() for s in ik4s), ik4s
    assert b"C004" not in reply
    accepted_by_pyx12(reply, tmp_path, "composite.999")


def test_claim_ids_holding_delimiters_stay_unique_and_reversible(
    validator: Validator, tmp_path: Path
) -> None:
    # The input's own delimiters are | \ { }, so CLM01 may hold * : ' < > of ours.
    ids = ["ALT*1", "ALT:1", "ALT'1", "ALT 1", "<b>X</b>", "A%2A1"]
    claim = ALT[ALT.index("CLM|") : ALT.index("{SE|")]
    body = "".join(claim.replace("CLM|REV0001|", f"CLM|{i}|", 1) + "{" for i in ids)
    count = (
        int(ALT.split("{SE|")[1].split("|")[0]) + (len(ids) - 1) * claim.count("{") + len(ids) - 1
    )
    data = (ALT[: ALT.index("CLM|")] + body.rstrip("{") + ALT[ALT.index("{SE|") :]).replace(
        f"{{SE|{ALT.split('{SE|')[1].split('|')[0]}|", f"{{SE|{count}|"
    )
    result = validator.validate(data.encode())
    assert len(result.claims) == len(ids)
    reply = result.to_277ca()
    traces = [s[2] for s in segments(reply) if s[:2] == ["TRN", "2"]][1:]  # after the batch's
    assert traces == ["ALT%2A1", "ALT%3A1", "ALT%271", "ALT 1", "<b%3EX</b%3E", "A%252A1"]
    assert [unquote(t) for t in traces] == ids  # reversible: percent-decoding gives CLM01
    accepted_by_pyx12(reply, tmp_path, "ids.277")


def test_partner_qualifiers_outside_the_code_list_are_answered_as_zz(
    validator: Validator, tmp_path: Path
) -> None:
    isa = CLEAN[: CLEAN.index("~")]
    parts = isa.split("*")
    parts[5] = "99"  # ISA05: not an I05 code
    data = CLEAN.replace(isa, "*".join(parts), 1).encode()
    result = validator.validate(data)
    for name, reply in (("q.277", result.to_277ca()), ("q.999", result.to_999())):
        isa_out = segments(reply)[0]
        assert isa_out[7] == "ZZ", isa_out  # our receiver: the partner
        accepted_by_pyx12(reply, tmp_path, name)


def test_an_interchange_rejected_at_the_ta1_gets_no_999(
    validator: Validator, tmp_path: Path
) -> None:
    isa = CLEAN[: CLEAN.index("~")]
    parts = isa.split("*")
    parts[9] = "261399"  # ISA09: no such date
    data = CLEAN.replace(isa, "*".join(parts), 1).encode()
    reply = validator.validate(data).to_999()
    ids = [s[0] for s in segments(reply)]
    assert ids == ["ISA", "TA1", "IEA"], reply
    ta1 = segments(reply)[1]
    assert ta1[4:] == ["R", "014"]
    assert segments(reply)[2][1] == "0"  # IEA01: no functional group
    accepted_by_pyx12(reply, tmp_path, "ta1.999")


@pytest.mark.parametrize(
    "source",
    ["staedi/simple999.edi", "staedi/invalid999.edi", "pyx12/834_ls_le_ls.999.txt"],
)
def test_acknowledgments_are_not_acknowledged(validator: Validator, source: str) -> None:
    path = CORPUS / source
    if not path.exists():
        pytest.skip(f"{path} is not here (../shared/corpus is read-only and optional)")
    result = validator.validate(path)
    rules = everything_found(result)
    assert "ENV-ACKNOWLEDGMENT" in rules, rules
    assert result.to_999() == b""
    assert result.to_277ca() == b""


def test_a_997_and_a_ta1_are_not_acknowledged_either(validator: Validator) -> None:
    isa = CLEAN[: CLEAN.index("~") + 1]
    ack997 = (
        isa + "GS*FA*CLEARHOUSE01*SPINEPAIN01*20261104*1100*9*X*004010~"
        "ST*997*0001~AK1*HC*601~AK9*A*1*1*1~SE*4*0001~GE*1*9~IEA*1*000000601~"
    )
    ta1 = isa + "TA1*000000601*261104*1100*A*000~IEA*0*000000601~"
    for data in (ack997, ta1):
        result = validator.validate(data.encode())
        assert "ENV-ACKNOWLEDGMENT" in everything_found(result)
        assert result.to_999() == b"", data
        assert result.to_277ca() == b""


def _inputs() -> list[tuple[str, bytes]]:
    out = [(p.name, p.read_bytes()) for p in sorted(FIXTURES.glob("*.837"))]
    if CORPUS.is_dir():
        out += [
            (str(p.relative_to(CORPUS)), p.read_bytes())
            for p in sorted(CORPUS.rglob("*"))
            if p.is_file() and b"ST*837" in p.read_bytes()[:4000]
        ]
    return out


def _messy(data: bytes, rng: random.Random) -> bytes:
    """One of the issue's hand mutations: non-ASCII names, delimiters inside a claim id."""
    text = data.decode("latin-1")
    if rng.random() < 0.5:
        text = text.replace("NM1*IL*1*", "NM1*IL*1*MUÑOZ ", 1)
    elif "CLM*" in text:
        text = text.replace("CLM*", "CLM*" + rng.choice(["A:", "B'", "C>", "D%", "É"]), 1)
    return text.encode("utf-8")


def test_fuzzed_inputs_get_acknowledgments_pyx12_accepts(
    validator: Validator, tmp_path: Path
) -> None:
    rng = random.Random(20261202)  # noqa: S311 - test data
    inputs = _inputs()
    cases: list[tuple[str, bytes]] = []
    while len(cases) < 500:
        name, data = rng.choice(inputs)
        (variant,) = mutants(data, rng.randrange(10**9), 1)
        cases.append((name, _messy(variant, rng) if rng.random() < 0.3 else variant))
    rejected = []
    for number, (name, data) in enumerate(cases):
        result = validator.validate(data)
        replies = {"277": result.to_277ca(), "999": result.to_999()}
        for ack, reply in replies.items():
            kind = ack
            if not reply:
                continue
            path = tmp_path / f"{number}.{kind}"
            path.write_bytes(reply)
            try:
                valid = pyx12_check(path)[0]
            except Exception as error:  # pyx12 failing on our file counts as a rejection
                valid = False
                kind += f" (pyx12 failed: {type(error).__name__}: {error})"
            if not valid:
                rejected.append(f"{name} #{number}: {kind}")
                (tmp_path / f"rejected-{number}.{ack}").write_bytes(reply)
                (tmp_path / f"rejected-{number}.in").write_bytes(data)
        claim_traces = _claim_traces(replies["277"])
        assert len(claim_traces) == len(set(claim_traces)) or _duplicated_in_input(
            result, claim_traces
        ), (name, number)
        for kind in replies:
            (tmp_path / f"{number}.{kind}").unlink(missing_ok=True)
    assert rejected == [], rejected


def _claim_traces(reply: bytes) -> list[str]:
    out = []
    patient = False
    for segment in segments(reply):
        if segment[0] == "HL":
            patient = segment[3:4] == ["PT"]
        elif patient and segment[:2] == ["TRN", "2"]:
            out.append(segment[2])
    return out


def _duplicated_in_input(result: object, traces: list[str]) -> bool:
    """Two claims with the same CLM01 in the input answer with the same TRN02, rightly."""
    ids = [c.claim.claim_id for c in result.claims]  # type: ignore[attr-defined]
    return len(set(ids)) < len(ids)


def test_a_ta1_riding_in_an_interchange_of_claims_is_no_reason_to_reject_it(
    validator: Validator,
) -> None:
    end = CLEAN.index("~") + 1
    data = CLEAN[:end] + "\nTA1*000000600*261104*1100*A*000~" + CLEAN[end:]
    result = validator.validate(data.encode())
    assert "ENV-ACKNOWLEDGMENT" not in everything_found(result)
    assert [c.accepted for c in result.claims] == [True]
    assert result.to_999() != b""


def test_only_structure_findings_make_ik3_and_ik4(validator: Validator, tmp_path: Path) -> None:
    # LX removed before a service line: the structure cannot place SV1 and what follows; the
    # builder's finding about the DTP that follows (an unknown RD9 format) stays in the report.
    text = (FIXTURES / "scs-professional.837").read_text()
    start = text.index("LX*2~")
    text = text[:start] + text[start + len("LX*2~") :].lstrip("\n")
    date = text.index("DTP*472*D8*", text.index("SV1*", start))
    text = text[:date] + "DTP*472*RD9*" + text[date + len("DTP*472*D8*") :]
    text = re.sub(r"(?m)^SE\*(\d+)\*", lambda m: f"SE*{int(m[1]) - 1}*", text, count=1)
    result = validator.validate(text.encode())
    reply = result.to_999()
    ik3s = [s for s in segments(reply) if s[0] == "IK3"]
    assert [s[1] for s in ik3s] == ["SV1", "REF"], ik3s  # no IK3 for the DTP
    assert not [s for s in segments(reply) if s[0] == "IK4"]
    found = {f.rule for c in result.claims for f in c.findings}
    assert "837-BAD-DATE" in found, found
    accepted_by_pyx12(reply, tmp_path, "unplaced.999")


TRAILING = {
    # In a claim: the claim is rejected, the set accepted with errors (claim policy).
    "HI*ABK:G8929*ABF:M961**~": ("HI*ABK:G8929*ABF:M961~", "IK3*HI*23**8", "IK5*E*5"),
    # Outside claims (the billing provider's tax id): the set is rejected.
    "REF*EI*741234567*~": ("REF*EI*741234567~", "IK3*REF*11**8", "IK5*R*5"),
}


@pytest.mark.parametrize("new", TRAILING)
def test_trailing_separators_are_an_error(validator: Validator, tmp_path: Path, new: str) -> None:
    old, ik3, ik5 = TRAILING[new]
    text = (FIXTURES / "scs-professional.837").read_text()
    assert old in text
    result = validator.validate(text.replace(old, new, 1).encode())
    reply = result.to_999().decode()
    lines = [s for s in reply.replace("\n", "").split("~") if s.startswith(("IK3", "IK4", "IK5"))]
    assert lines == [ik3, ik5], reply  # IK304 8 and no IK4, as pyx12 answers
    accepted_by_pyx12(reply.encode(), tmp_path, "trailing.999")


@pytest.mark.parametrize(
    ("bad", "ik301"), [("Nd4*X", "Nd4"), ("*IC*DAVID", "XX"), ("NM31*X", "NM3")]
)
def test_a_segment_with_a_malformed_id_is_counted_where_it_stands(
    validator: Validator, tmp_path: Path, bad: str, ik301: str
) -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    at = text.index("HI*")
    ordinal = text[text.index("ST*837") : at].count("~") + 1
    text = text[:at] + bad + "~\n" + text[at:]
    text = re.sub(r"(?m)^SE\*(\d+)\*", lambda m: f"SE*{int(m[1]) + 1}*", text, count=1)
    result = validator.validate(text.encode())
    assert "ENV-SE-COUNT" not in everything_found(result)  # SE01 counts it, rightly
    reply = result.to_999().decode()
    lines = [s for s in reply.replace("\n", "").split("~") if s.startswith(("IK3", "IK5"))]
    assert lines == [f"IK3*{ik301}*{ordinal}**1", "IK5*R*5"], reply  # at its own position
    accepted_by_pyx12(reply.encode(), tmp_path, "badid.999")


def test_every_functional_group_is_answered_even_an_empty_one(
    validator: Validator, tmp_path: Path
) -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    end = text.index("~", text.index("GE*")) + 1
    empty = "\nGS*HC*SPINEPAIN01*CLEARHOUSE01*20261104*1100*602*X*005010X222A1~\nGE*0*602~"
    data = (text[:end] + empty + text[end:]).replace("IEA*1*", "IEA*2*")
    reply = validator.validate(data.encode()).to_999()
    lines = [s for s in reply.decode().replace("\n", "").split("~") if s.startswith("AK")]
    assert lines[-2:] == ["AK1*HC*602*005010X222A1", "AK9*A*0*0*0"], lines  # as pyx12 answers
    assert [s for s in lines if s.startswith("AK1")] == [
        "AK1*HC*101*005010X222A1",
        "AK1*HC*602*005010X222A1",
    ]
    accepted_by_pyx12(reply, tmp_path, "empty-group.999")
    # An interchange holding only an empty group is answered too.
    isa = text[: text.index("~") + 1]
    alone = isa + empty + "\nIEA*1*" + isa.split("*")[13] + "~\n"
    reply = validator.validate(alone.encode()).to_999()
    assert b"AK1*HC*602*005010X222A1~\nAK9*A*0*0*0~" in reply, reply
    accepted_by_pyx12(reply, tmp_path, "only-empty.999")


def test_sets_outside_every_group_are_answered_in_the_order_they_came(
    validator: Validator, tmp_path: Path
) -> None:
    # A file of bare transaction sets, one group in their midst: each run of sets without a
    # GS is answered as a group of its own (AK1 control 0) where it stood, since a group's
    # answer is written when the group ends.
    text = (FIXTURES / "scs-professional.837").read_text()
    gs = text[text.index("GS*") : text.index("~", text.index("GS*")) + 1]
    bare = text[text.index("ST*") : text.index("~", text.index("SE*")) + 1]
    data = bare + gs + bare + "GE*1*" + gs.split("*")[6].rstrip("~") + "~" + bare
    reply = validator.validate(data.encode()).to_999()
    lines = [s for s in reply.decode().replace("\n", "").split("~") if s.startswith("AK")]
    assert [s.split("*")[2] for s in lines if s.startswith("AK1")] == ["0", "101", "0"], lines
    accepted_by_pyx12(reply, tmp_path, "bare-sets.999")


def test_the_findings_cap_never_changes_an_acknowledgment(validator: Validator) -> None:
    # The report lists 100 findings of a rule per file; the TA1s and AK9s answer every one.
    one = (FIXTURES / "scs-professional.837").read_bytes()
    isa = one[: one.index(b"~")]
    bad_date = isa.replace(isa.split(b"*")[9], b"261399")  # ISA09: no 99th day
    reply = validator.validate(one.replace(isa, bad_date) * 120).to_999()
    assert reply.count(b"TA1*") == 120
    assert b"AK1*" not in reply
    gs_end = one.index(b"GE*") + 3
    wrong_count = one[:gs_end] + b"9" + one[gs_end + 1 :]  # GE01 counts nine sets
    reply = validator.validate(wrong_count * 120).to_999()
    assert reply.count(b"AK1*") == 120
    assert reply.count(b"AK9*R*1*1*0*5~") == 120  # AK905 5: the count is wrong


def test_a_long_escaped_id_is_cut_between_characters_never_inside_an_escape() -> None:
    from edi63650.writers.common import echo_id

    echoed = echo_id("A*" * 30)  # each * becomes %2A: more than 50 characters in all
    assert len(echoed) <= 50
    assert not re.search(r"%.?$", echoed), echoed  # no escape cut short
    assert ("A*" * 30).startswith(unquote(echoed))


def _claim_segment(segment: str) -> str:
    """``CLEAN`` with ``segment`` put right after its CLM."""
    clm = next(s for s in CLEAN.split("~") if s.lstrip().startswith("CLM*"))
    return CLEAN.replace(clm, clm + "~" + segment, 1)


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (  # element 782 is R 1..18: rounded to 18 digits
            "amount",
            CLEAN.replace("CLM*PROG0001*120.00", "CLM*PROG0001*12345678901234567.99"),
            ["STC", "A1:19:AY", "20261126", "WQ", "12345678901234568.0"],
        ),
        (  # element 67 is AN 2..80
            "receiver id",
            CLEAN.replace("46*CH0001", "46*" + "9" * 100),
            ["NM1", "AY", "2", "CLEARHOUSE", "", "", "", "", "46", "9" * 80],
        ),
        (
            "member id",
            CLEAN.replace("MI*7PQ2XY8ZW15", "MI*" + "8" * 100),
            ["NM1", "QC", "1", "HOLT", "GRACE", "", "", "", "MI", "8" * 80],
        ),
        (  # SVC01: a qualifier of the guide's list, modifiers of two characters in the sets
            "procedure",
            CLEAN.replace("SV1*HC:95972*", "SV1*hc:95972:\u00d1Z:@:5X:TOOLONG*"),
            ["SVC", "HC:95972:NZ:5X", "120.00", "", "", "", "", "1"],
        ),
        (  # STC01-03 only from the entities 2200D allows; "{}" is the input's NM101
            "entity",
            _claim_segment("NM1*{}*1*BLUE*JACKIE****XX*1112223336"),
            ["STC", "A7:562", "20261126"],
        ),
        (  # GS02 and GS03 are 2..15 characters: ours instead of the partner's one
            "application code",
            CLEAN.replace("GS*HC*SPINEPAIN01", "GS*HC*S"),
            ["GS", "HN", "CLEARHOUSE01", "SUBMITTER"],
        ),
    ],
)
def test_values_echoed_from_the_input_fit_the_277ca_elements(
    name: str, data: str, expected: list[str], tmp_path: Path
) -> None:
    result = Validator(now=datetime.datetime(2026, 11, 26, 12)).validate(data.encode("utf-8"))
    reply = result.to_277ca()
    written = [s[: len(expected)] for s in segments(reply)]
    flat = [[":".join(e) if isinstance(e, tuple) else e for e in s] for s in written]
    assert expected in flat, reply.decode()
    accepted_by_pyx12(reply, tmp_path, f"{name}.277")
    accepted_by_pyx12(result.to_999(), tmp_path, f"{name}.999")
