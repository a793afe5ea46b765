"""Rules across a dataset read in parallel (edi63650.dataset): each file read alone, the claims
grouped by patient and judged again give what one ``validate --history`` run over the files in
order gives. The files are read by Spark's first pass (edi63650.spark.across, which imports
no pyspark); tests/test_spark.py runs both steps in Spark."""

from __future__ import annotations

import datetime
from collections import defaultdict
from pathlib import Path

from edi63650.dataset import Submission, rejudge
from edi63650.rules.engine import ClaimResult
from edi63650.rules.history import PatientKeys
from edi63650.spark.across import first_pass, opened
from edi63650.spark.inputs import Piece
from edi63650.spark.rows import Settings
from edi63650.testing import ClaimSpec, ProviderSpec, SubscriberSpec, interchange
from tests.rulepack_cases import DAY, TRIAL, claim, line
from tests.test_across_claims import validate

Verdicts = dict[str, set[str]]  # per file: claim id -> its rules and its verdict


def file_of(*subscribers: SubscriberSpec, control: str = "1") -> bytes:
    return interchange(
        "837P", providers=[ProviderSpec(subscribers=subscribers)], control_number=control
    )


def member(member_id: str, *claims: ClaimSpec) -> SubscriberSpec:
    return SubscriberSpec(member_id, claims=claims)


def dataset(tmp_path: Path) -> list[Path]:
    """Files whose verdicts depend on claims in other files, in the order they are read."""
    after = DAY + datetime.timedelta(days=4)
    implant = claim("A1", line("63650", "1500.00"), notes=TRIAL)
    files = {
        # the index procedure, and a patient whose interchange is rejected at its trailer
        "a.837": file_of(member("M1", implant), control="1"),
        "b.837": file_of(
            member("M3", claim("R1", line("63650", "1500.00"), notes=TRIAL)), control="2"
        ).replace(b"IEA*1*000000002", b"IEA*2*000000002"),
        # imaging split from its 63650 and an E/M in its global period, both in another file;
        # the rejected interchange's 63650 does not count; another patient is untouched
        "c.837": file_of(
            member(
                "M1", claim("B1", line("77003", "80.00")), claim("B2", line("99213", day=after))
            ),
            member("M3", claim("B3", line("77003", "80.00"))),
            member("M2", claim("B4", line("99213", day=after))),
            control="3",
        ),
        # two interchanges in one file: the first sends A1 again under another CLM01 (a
        # duplicate), the second a suspected duplicate of it (another charge)
        "d.837": file_of(
            member("M1", claim("A9", line("63650", "1500.00"), notes=TRIAL)), control="4"
        )
        + file_of(member("M1", claim("C2", line("63650", "1400.00"), notes=TRIAL)), control="5"),
    }
    paths = []
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def with_history(paths: list[Path], history: Path) -> dict[str, Verdicts]:
    """What ``validate --format json --history`` says, one file after the other."""
    return {path.name: validate(path, history)[1] for path in paths}


def in_parallel(paths: list[Path], *, backwards: bool = False) -> dict[str, Verdicts]:
    """Each file read alone (as tasks would), grouped by patient, judged again per patient;
    ``backwards``: the submissions come in the reverse order (tasks end in any order)."""
    keys = PatientKeys(b"k" * 32)
    patients: dict[str, list[Submission]] = defaultdict(list)
    for number, path in enumerate(paths):
        for patient, claims in first_pass(Piece(str(path)), number, Settings("claims"), keys):
            if patient:  # (not a row outside claims)
                patients[patient].append(opened(claims[3]))  # type: ignore[index]
    decided: dict[int, list[tuple[int, ClaimResult]]] = defaultdict(list)
    for submissions in patients.values():
        for submission, results in rejudge(submissions[::-1] if backwards else submissions):
            for result in results:
                offset = result.claim.segments[0].offset
                decided[submission.place[0]].append((offset, result))
    return {
        path.name: {
            r.claim.claim_id: {f.rule for f in r.findings}
            | {"accepted" if r.accepted else "rejected"}
            for _, r in sorted(decided[number], key=lambda pair: pair[0])
        }
        for number, path in enumerate(paths)
    }


def test_a_dataset_judged_per_patient_equals_one_run_with_a_history(tmp_path: Path) -> None:
    paths = dataset(tmp_path)
    expected = with_history(paths, tmp_path / "history.sqlite")
    # the cases are what they say: the edits across files did happen
    rules = {
        claim_id: found for verdicts in expected.values() for claim_id, found in verdicts.items()
    }
    assert "SCS-IMAGING" in rules["B1"]
    assert "SCS-GLOBAL-EM" in rules["B2"]
    assert "SCS-IMAGING" not in rules["B3"]  # its 63650 came in a rejected interchange
    assert "X12-REJECTED-ENVELOPE" in rules["R1"]
    assert "DUP-EXACT" in rules["A9"]
    assert "DUP-SUSPECT" in rules["C2"]
    assert expected["c.837"]["B4"] == {"accepted"}
    assert in_parallel(paths) == expected


def test_the_order_the_tasks_end_in_does_not_matter(tmp_path: Path) -> None:
    paths = dataset(tmp_path)
    assert in_parallel(paths, backwards=True) == in_parallel(paths)
