"""Tables by date of service, and a refresh-maps that never damages an installed table."""

from __future__ import annotations

import datetime
import hashlib
import io
import shutil
from pathlib import Path

import pytest

import edi63650
from edi63650.cli import run
from edi63650.maps import default_maps_dir
from edi63650.rules.engine import ClaimResult
from edi63650.rules.pack import Engine
from edi63650.rules.tables import Tables
from edi63650.testing import ProviderSpec, SubscriberSpec, interchange
from tests.rulepack_cases import TODAY, TRIAL, Case, claim, line, rules

D = datetime.date
PTP_HEADER = (
    "column_1,column_2,prior_to_1996,effective_date,deletion_date,modifier_indicator,rationale"
)


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), stdout=out, stderr=err, stdin=io.BytesIO())
    return status, out.getvalue(), err.getvalue()


def fingerprints(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def maps(tmp_path: Path) -> Path:
    folder = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), folder)
    return folder


# -- refresh-maps never damages an installed table ------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("wrong.csv", b"code,description\n63650,leads\n", "no column column_1, column_2"),
        ("binary.csv", bytes(range(256)) * 4, "not UTF-8 text"),
        ("empty.csv", b"", "empty"),
        ("header-only.csv", (PTP_HEADER + "\n").encode(), "holds no rows"),
        ("nul.csv", (PTP_HEADER + "\n63650,\x00,,,,1,x\n").encode(), "NUL bytes"),
        (
            "bad-indicator.csv",
            (PTP_HEADER + "\n63650,36000,,,9999-12-31,7,Misuse\n").encode(),
            "line 2: modifier_indicator '7' is not one of 0, 1, 9",
        ),
        (
            "bad-date.csv",
            (PTP_HEADER + "\n63650,36000,,2024-13-01,,1,Misuse\n").encode(),
            "line 2: effective_date '2024-13-01' is not a date",
        ),
        (
            "bad-code.csv",
            (PTP_HEADER + "\n63650,not a code,,,,1,Misuse\n").encode(),
            "the extracts do not make a valid table",
        ),
    ],
)
def test_a_bad_extract_leaves_every_installed_file_byte_identical(
    maps: Path, tmp_path: Path, name: str, content: bytes, problem: str
) -> None:
    extract = tmp_path / name
    extract.write_bytes(content)
    before = fingerprints(maps)
    status, out, err = call(
        "refresh-maps",
        "--ptp",
        str(extract),
        "--output",
        str(maps),
        "--source",
        "s",
        "--vintage",
        "v",
    )
    assert status == 2
    assert out == ""
    assert len(err.splitlines()) == 1
    assert str(extract) in err
    assert problem in err
    assert "internal error" not in err
    assert fingerprints(maps) == before  # nothing written, nothing left behind
    Tables.read(maps)  # and the installed tables still load


def test_one_bad_extract_of_several_changes_nothing(maps: Path, tmp_path: Path) -> None:
    good = tmp_path / "mue.csv"
    good.write_text(
        "code,setting,mue,mai,mai_desc,rationale,source\n63650,Practitioner,9,3,x,y,z\n"
    )
    bad = tmp_path / "fee.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    before = fingerprints(maps)
    status, _, err = call(
        "refresh-maps",
        "--mue",
        str(good),
        "--fee-schedule",
        str(bad),
        "--output",
        str(maps),
        "--source",
        "s",
        "--vintage",
        "v",
    )
    assert status == 2
    assert str(bad) in err
    assert fingerprints(maps) == before


# -- several quarters merge into one dated table ----------------------------------------------


def test_quarterly_ptp_extracts_merge_into_one_dated_table(maps: Path, tmp_path: Path) -> None:
    first = tmp_path / "ptp-2025q1.csv"
    first.write_text(
        f"{PTP_HEADER}\n"
        "63650,36000,,20100101,99991231,1,Misuse of column two code\n"
        "63650,62323,,2012-01-01,*,0,Anesthesia service included\n"
    )
    later = tmp_path / "ptp-2025q3.csv"  # deletes one pair, adds another
    later.write_text(
        f"{PTP_HEADER}\n"
        "63650,36000,,20100101,20250630,1,Misuse of column two code\n"
        "63650,62323,,2012-01-01,*,0,Anesthesia service included\n"
        "63650,64999,,2025-07-01,,1,Standards of medical practice\n"
    )
    status, out, err = call(
        "refresh-maps",
        "--ptp",
        str(first),
        "--ptp",
        str(later),
        "--output",
        str(maps),
        "--source",
        "s",
        "--vintage",
        "v",
    )
    assert (status, err) == (0, "")
    assert out == "ncci-ptp.xml: 3 pairs\n"
    tables = Tables.load(maps)
    assert tables.ptp_pair("63650", "36000", D(2025, 6, 30)) is not None
    assert tables.ptp_pair("63650", "36000", D(2025, 7, 1)) is None
    assert tables.ptp_pair("63650", "64999", D(2025, 6, 30)) is None
    assert tables.ptp_pair("63650", "64999", D(2025, 7, 1)) is not None
    assert tables.ptp_pair("63650", "62323", D(2011, 12, 31)) is None
    assert tables.ptp_pair("63650", "62323", D(2026, 10, 1)) is not None


# -- the edit applied to a line is the one in force on its date of service ---------------------

DATED_PTP = """<?xml version='1.0' encoding='UTF-8'?>
<ptp-edits xmlns="urn:edi63650:maps" source="test" vintage="test">
  <pair column1="63650" column2="36000" indicator="1" rationale="Misuse" deleted="2025-06-30"/>
  <pair column1="63650" column2="62323" indicator="0" rationale="Anesthesia"
        effective="2026-12-01"/>
  <pair column1="63650" column2="64999" indicator="1" rationale="Standards"
        effective="2025-01-01"/>
</ptp-edits>
"""

DATED_CASES = [
    # deleted 2025-06-30: a line of 2026-10-01 is accepted, one of 2025-05-01 is not
    Case(
        claim("DT1", line("63650", "1450.00"), line("36000", "40.00"), notes=TRIAL),
        "DT1",
        "MB",
        True,
        phase="trial",
    ),
    Case(
        claim(
            "DT2",
            line("63650", "1450.00", day=D(2025, 5, 1)),
            line("36000", "40.00", day=D(2025, 5, 1)),
            notes=TRIAL,
        ),
        "DT2",
        "MB",
        False,
        rules(("SCS-PTP", 2)),
        "trial",
    ),
    # added 2026-12-01, after the date of service: accepted
    Case(
        claim("DT3", line("63650", "1450.00"), line("62323", "300.00"), notes=TRIAL),
        "DT3",
        "MB",
        True,
        phase="trial",
    ),
    # in force since 2025-01-01: rejected
    Case(
        claim("DT4", line("63650", "1450.00"), line("64999", "300.00"), notes=TRIAL),
        "DT4",
        "MB",
        False,
        rules(("SCS-PTP", 2)),
        "trial",
    ),
]


def test_each_line_is_judged_by_the_edit_in_force_on_its_date(maps: Path) -> None:
    (maps / "ncci-ptp.xml").write_text(DATED_PTP)
    data = interchange(
        "837P",
        providers=[
            ProviderSpec(
                subscribers=tuple(
                    SubscriberSpec(case.member, claims=(case.claim,), filing_indicator=case.filing)
                    for case in DATED_CASES
                )
            )
        ],
    )
    engine = Engine(Tables.load(maps), today=TODAY)
    got: dict[str, ClaimResult] = {
        r.claim.claim_id: r for r in engine.check(edi63650.iter_claims(io.BytesIO(data)))
    }
    for case in DATED_CASES:
        result = got[case.claim.claim_id]
        found = {(f.rule, f.line) for f in result.findings}
        assert (result.accepted, found) == (case.accepted, set(case.rules)), case.claim.claim_id
        assert (result.phase.value if result.phase else None) == case.phase
