"""edi63650 on Spark: the x12 data source and validate_frames against the library's own JSON
report, the cutting of large files at interchange boundaries, and the rows without Spark.

The Spark tests share one local session (``local[2]``), started once and stopped at the end;
they skip, saying why, only when Java or pyspark is missing.
"""

from __future__ import annotations

import collections
import io
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import edi63650
from edi63650.cli import run
from edi63650.errors import EdiUsageError
from edi63650.rules.history import PatientKeys
from edi63650.spark.inputs import Piece, expand, interchange_starts, pieces
from edi63650.spark.options import request
from edi63650.spark.rows import (
    CLAIM_COLUMNS,
    COLUMNS,
    FINDING_COLUMNS,
    Settings,
    exact,
    rows,
    snip_level,
)
from edi63650.testing import synth
from edi63650.writers.ack277 import claim_statuses
from tests.helpers import FIXTURES
from tests.test_dataset import dataset

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

ROOT = Path(__file__).resolve().parent.parent
Record = tuple[object, ...]


# -- the library's own answer ------------------------------------------------------------------


def report(path: Path) -> dict[str, Any]:
    """What ``edi63650 validate --format json`` says for ``path``, computed in-process."""
    result = edi63650.validate(path)
    value: dict[str, Any] = json.loads(result.to_json())
    value["statuses"] = {
        c.claim.position.offset: [str(s) for stc in claim_statuses(c) for s in stc]
        for c in result.claims
    }
    return value


def every_finding(value: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's findings: outside transaction sets, of the sets, of the claims."""
    return [
        *value["findings"],
        *(f for t in value["transaction_sets"] for f in t["findings"]),
        *(f for c in value["claims"] for f in c["findings"]),
    ]


def finding_record(finding: dict[str, Any]) -> Record:
    return (
        finding["rule"],
        finding["severity"],
        finding["claim_id"],
        finding["line"],
        finding["path"] or None,
        finding["element"] or None,
        finding["message"],
        finding["fix"] or None,
        finding["source"] or None,
        finding["offset"],
    )


def _row_finding(row: dict[str, Any]) -> Record:
    names = ("rule", "severity", "claim_id", "line", "path", "element", "message", "fix")
    return (*(row[n] for n in names), row["source"], row["offset"])


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, ".2f")


def inputs() -> list[Path]:
    """Every file under fixtures/: the 837 fixtures, the rule-pack ones, the structure ones,
    and files that are not 837s at all (a 997, the expected results)."""
    return sorted(Path(p) for p in expand([str(FIXTURES)]))


# -- without Spark -----------------------------------------------------------------------------


def test_importing_and_validating_does_not_import_pyspark() -> None:
    code = (
        "import sys, edi63650\n"
        f"edi63650.validate({str(FIXTURES / 'scs-professional.837')!r})\n"
        "import edi63650.spark, edi63650.spark.rows\n"
        "assert not [m for m in sys.modules if m.startswith(('pyspark', 'pyarrow'))], 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_rows_of_a_fixture_are_the_reports() -> None:
    path = FIXTURES / "scs-professional.837"
    value = report(path)
    claims = list(rows(Piece(str(path)), Settings("claims")))
    columns = COLUMNS["claims"]
    got: list[dict[str, Any]] = [dict(zip(columns, row, strict=True)) for row in claims]
    assert [(r["claim_id"], r["verdict"], _money(r["total_charge"])) for r in got] == [
        (c["claim_id"], c["verdict"], c["total_charge"]) for c in value["claims"]
    ]
    assert got[0]["rules"] == ["SCS-IMAGING"]
    assert got[0]["statuses"] == ["A7:735", "A7:453"]
    assert all(r["patient_key"] is None for r in got)


def test_a_file_that_cannot_be_read_is_one_finding_row(tmp_path: Path) -> None:
    missing = str(tmp_path / "gone.837")
    assert list(rows(Piece(missing), Settings("claims"))) == []
    (row,) = rows(Piece(missing), Settings("findings"))
    found = dict(zip(FINDING_COLUMNS, row, strict=True))
    assert found["rule"] == "FILE-UNREADABLE"
    assert found["message"] == "edi63650: gone.837: cannot read: No such file or directory"
    assert (found["severity"], found["file"], found["snip_level"]) == ("error", missing, 1)


def test_a_file_that_is_not_x12_gives_its_findings_and_no_claim(tmp_path: Path) -> None:
    path = tmp_path / "binary.837"
    path.write_bytes(bytes(range(256)) * 8)
    assert list(rows(Piece(str(path)), Settings("claims"))) == []
    found = [
        dict(zip(FINDING_COLUMNS, r, strict=True))
        for r in rows(Piece(str(path)), Settings("findings"))
    ]
    assert [f["rule"] for f in found] == [f["rule"] for f in every_finding(report(path))]
    assert found[0]["rule"] == "X12-NOT-X12"


def test_an_interchange_rejected_at_its_trailer_is_rows_as_decided(tmp_path: Path) -> None:
    path = tmp_path / "bad-iea.837"
    text = (FIXTURES / "two-interchanges.837").read_text()
    path.write_text(text.replace("IEA*1*000000301", "IEA*2*000000301"))
    got: list[dict[str, Any]] = [
        dict(zip(COLUMNS["claims"], r, strict=True))
        for r in rows(Piece(str(path)), Settings("claims"))
    ]
    value = report(path)
    assert [(r["claim_id"], r["verdict"]) for r in got] == [
        (c["claim_id"], c["verdict"]) for c in value["claims"]
    ]
    assert got[0]["rules"][0] == "X12-REJECTED-ENVELOPE"


def test_exact_decimals() -> None:
    assert exact(Decimal("12.5"), (18, 2)) == Decimal("12.50")
    assert exact(Decimal("1.005"), (18, 2)) is None  # would round
    assert exact(Decimal("1E30"), (18, 2)) is None  # too large
    assert exact(Decimal("NaN"), (18, 2)) is None
    assert exact(None, (18, 2)) is None


def test_snip_levels() -> None:
    levels = {"SCS-PTP": 7}
    assert snip_level("SCS-PTP", levels) == 7
    assert [snip_level(r, levels) for r in ("X12-BOM", "ENV-SE-COUNT", "IG-TOO-LONG")] == [1, 1, 2]
    assert snip_level("SOMETHING-ELSE", levels) is None


def several_interchanges(count: int = 4, claims: int = 25) -> bytes:
    """A file of ``count`` synthetic interchanges (837P and 837I in turn), CRLF between them;
    each its own patients (the seeds differ), so no edit across claims joins two of them."""
    return b"\r\n".join(
        synth("837P" if seed % 2 == 0 else "837I", claims, seed=seed) for seed in range(count)
    )


def test_interchange_starts_are_found_in_any_chunking() -> None:
    data = several_interchanges(3, 5)
    expected = [m.start() for m in re.finditer(rb"ISA", data)][1:]
    assert len(expected) == 2
    for chunk in (1, 7, 105, 106, 4096, len(data)):
        assert list(interchange_starts(io.BytesIO(data), chunk)) == expected
    # Two interchanges written with different delimiters, CR/LF framed.
    two = (FIXTURES / "two-interchanges.837").read_bytes()
    assert list(interchange_starts(io.BytesIO(two), 3)) == [two.index(b"ISA", 1)]


def test_no_cut_where_the_interchange_before_has_no_proper_trailer() -> None:
    data = several_interchanges(2, 3)
    second = data.index(b"ISA", 1)
    broken = data[: second - 20] + b"JUNK~\r\n" + data[second:]
    assert list(interchange_starts(io.BytesIO(broken))) == []
    assert list(interchange_starts(io.BytesIO(b"ISA*too short~IEA*1*000000001~ISA"))) == []


def test_a_large_file_is_cut_into_runs_of_interchanges(tmp_path: Path) -> None:
    path = tmp_path / "many.837"
    data = several_interchanges(4, 10)
    path.write_bytes(data)
    starts = [m.start() for m in re.finditer(rb"ISA", data)]
    assert pieces(str(path), len(data)) == [Piece(str(path))]
    cut = pieces(str(path), 1)
    assert [(p.start, p.end) for p in cut] == list(zip(starts, [*starts[1:], None], strict=True))
    # About two interchanges a piece.
    assert len(pieces(str(path), starts[2] - starts[0])) == 2
    # Splitting never changes a row.
    for table in COLUMNS:
        whole = list(rows(Piece(str(path)), Settings(table)))
        assert [r for p in cut for r in rows(p, Settings(table))] == whole


def test_expand_reads_folders_as_the_command_line_does(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for name in ("b.837", "sub/a.837", ".hidden.837"):
        (tmp_path / name).write_text("x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.837"
    outside.write_text("x")
    (tmp_path / "link.837").symlink_to(outside)
    assert expand([str(tmp_path)]) == [str(tmp_path / "b.837"), str(tmp_path / "sub/a.837")]
    assert expand([str(tmp_path)], recursive=False) == [str(tmp_path / "b.837")]
    assert expand([str(tmp_path / "*.837"), str(tmp_path / "b.837")]) == [str(tmp_path / "b.837")]
    with pytest.raises(EdiUsageError, match="no file matches"):
        expand([str(tmp_path / "*.x12")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EdiUsageError, match="the directory holds no files"):
        expand([str(tmp_path / "empty")])


def test_options_are_checked_on_the_driver(tmp_path: Path) -> None:
    path = str(FIXTURES / "bom.837")
    with pytest.raises(EdiUsageError, match=r"got table 'claim'"):
        request({"table": "claim", "path": path})
    with pytest.raises(EdiUsageError, match="no option colour"):
        request({"table": "claims", "path": path, "colour": "red"})
    with pytest.raises(EdiUsageError, match="split_size option is a number of bytes"):
        request({"table": "claims", "path": path, "split_size": "big"})
    with pytest.raises(EdiUsageError, match="nosuch"):
        request({"table": "claims", "path": path, "profile": "nosuch"})
    planned = request({"TABLE": "lines", "paths": json.dumps([path, path])})
    assert (planned.settings.table, planned.files) == ("lines", (path,))


def test_the_data_source_cuts_only_when_asked(tmp_path: Path) -> None:
    # Pieces are judged alone: a patient whose claims span the interchanges of a file would
    # lose the edits across claims (imaging, global period, duplicates) if the file were cut
    # behind the user's back. validate_frames cuts and judges such patients again.
    paths = dataset(tmp_path)
    whole = tmp_path / "whole.837"
    whole.write_bytes(b"".join(p.read_bytes() for p in paths))
    settings = Settings("claims")
    planned = request({"table": "claims", "path": str(whole)})
    assert planned.pieces() == [Piece(str(whole))]
    assert request({"table": "claims", "path": str(whole)}, split=64 << 20).pieces() == [
        Piece(str(whole))
    ]
    at = [CLAIM_COLUMNS.index(name) for name in ("claim_id", "verdict", "phase", "rules")]

    def verdicts(piece: Piece) -> dict[object, tuple[object, ...]]:
        return {row[at[0]]: tuple(row[i] for i in at[1:]) for row in rows(piece, settings)}

    judged = verdicts(Piece(str(whole)))
    assert judged["B1"] == ("rejected", None, ["SCS-IMAGING"])
    cut = request({"table": "claims", "path": str(whole), "split_size": "1"}).pieces()
    assert len(cut) > 1
    alone = {claim: made for piece in cut for claim, made in verdicts(piece).items()}
    assert alone["B1"] == ("accepted", None, [])  # what the option's caveat says


# -- on Spark ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One local Spark session for every test here, stopped at the end."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip(
            "Spark needs Java 17 (java not found; .ci/run installs openjdk-17-jre-headless)"
        )
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        pytest.skip("pyspark is not installed (pip install -e '.[spark]', as make does)")
    # Spark's Python workers must run this interpreter, which has the extra's packages.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2]")
        .appName("edi63650-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    from edi63650.spark import register

    register(session)
    yield session
    session.stop()


def _by_file(frame: DataFrame) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in frame.collect():
        out[row["file"]].append(row.asDict())
    return out


@pytest.fixture(scope="session")
def tables(spark: SparkSession) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The three tables of every file under fixtures/, read with the data source."""
    return {
        table: _by_file(spark.read.format("x12").option("table", table).load(str(FIXTURES)))
        for table in COLUMNS
    }


@pytest.fixture(scope="session")
def reports() -> dict[str, dict[str, Any]]:
    return {str(path): report(path) for path in inputs()}


def test_claims_are_the_reports(
    tables: dict[str, dict[str, list[dict[str, Any]]]], reports: dict[str, dict[str, Any]]
) -> None:
    assert sum(len(r["claims"]) for r in reports.values()) > 100
    for file, value in reports.items():
        claims = {row["claim_offset"]: row for row in tables["claims"].get(file, [])}
        lines = collections.Counter(row["claim_offset"] for row in tables["lines"].get(file, []))
        assert sorted(claims) == sorted(c["position"]["offset"] for c in value["claims"]), file
        for expected in value["claims"]:
            offset = expected["position"]["offset"]
            row = claims[offset]
            rules = dict.fromkeys(
                f["rule"] for f in expected["findings"] if f["severity"] != "info"
            )
            assert (
                row["claim_id"],
                row["verdict"],
                row["phase"],
                _money(row["total_charge"]),
                row["rules"],
                row["statuses"],
                row["transaction_control_number"],
                row["interchange_control_number"],
                row["billing_npi"],
                lines[offset],
            ) == (
                expected["claim_id"],
                expected["verdict"],
                expected["phase"],
                expected["total_charge"],
                list(rules),
                value["statuses"][offset],
                expected["transaction_control_number"],
                expected["interchange_control_number"],
                expected["billing_provider_npi"],
                expected["lines"],
            ), (file, expected["claim_id"])


def test_lines_and_findings_are_the_reports(
    tables: dict[str, dict[str, list[dict[str, Any]]]], reports: dict[str, dict[str, Any]]
) -> None:
    for file, value in reports.items():
        lines = tables["lines"].get(file, [])
        rejected = sorted(
            (r["claim_offset"], r["line"]) for r in lines if r["verdict"] == "rejected"
        )
        assert rejected == sorted(
            (c["position"]["offset"], n) for c in value["claims"] for n in c["rejected_lines"]
        ), file
        found = collections.Counter(_row_finding(r) for r in tables["findings"].get(file, []))
        assert found == collections.Counter(finding_record(f) for f in every_finding(value)), file
    professional = next(
        r for r in tables["lines"][str(FIXTURES / "scs-professional.837")] if r["line"] == 1
    )
    assert (professional["procedure_code"], professional["units"], professional["charge"]) == (
        "63650",
        Decimal("2.000"),
        Decimal("2900.00"),
    )


def test_no_row_holds_a_patients_name_member_id_or_birth_date(
    tables: dict[str, dict[str, list[dict[str, Any]]]],
) -> None:
    secrets: set[str] = set()
    for path in inputs():
        with path.open("rb") as stream:
            for claim in edi63650.iter_claims(stream):
                ctx = claim.context
                for person in (ctx.subscriber, ctx.patient):
                    if person is None:
                        continue
                    party = person.person
                    if party is not None:
                        secrets.update(n for n in (party.last_name, party.first_name) if n)
                    if person.birth_date is not None:
                        secrets.add(person.birth_date.strftime("%Y%m%d"))
                if ctx.subscriber is not None and ctx.subscriber.member_id:
                    secrets.add(ctx.subscriber.member_id)
    assert "RIVERA" in secrets
    shown = " ".join(
        str(value)
        for table in tables.values()
        for file_rows in table.values()
        for row in file_rows
        for value in row.values()
    )
    assert [s for s in sorted(secrets) if len(s) >= 4 and s in shown] == []


def test_a_split_file_gives_the_rows_of_one_task(spark: SparkSession, tmp_path: Path) -> None:
    # no patient in two interchanges (see test_the_data_source_cuts_only_when_asked)
    path = tmp_path / "many.837"
    path.write_bytes(several_interchanges())
    for table in COLUMNS:
        reader = spark.read.format("x12").option("table", table)
        whole = reader.load(str(path))
        split = reader.option("split_size", "1").load(str(path))
        assert (whole.rdd.getNumPartitions(), split.rdd.getNumPartitions()) == (1, 4)
        assert sorted(map(tuple, split.collect())) == sorted(map(tuple, whole.collect()))
    claims = spark.read.format("x12").option("table", "claims").load(str(path)).collect()
    assert len(claims) == 100
    assert len({(r["file"], r["claim_offset"]) for r in claims}) == 100
    assert len({r["claim_id"] for r in claims}) == 25  # each interchange numbers its own


def test_the_patient_key_is_the_historys(spark: SparkSession, tmp_path: Path) -> None:
    key = tmp_path / "history.sqlite.key"
    key.write_bytes(bytes(range(32)))
    key.chmod(0o600)
    path = FIXTURES / "scs-institutional.837"
    got = (
        spark.read.format("x12")
        .option("table", "claims")
        .option("key", str(key))
        .load(str(path))
        .collect()
    )
    keys = PatientKeys.from_file(key)
    with path.open("rb") as stream:
        expected = [keys.key(claim) for claim in edi63650.iter_claims(stream)]
    assert [r["patient_key"] for r in got] == expected


def history_run(paths: list[Path], history: Path) -> dict[str, list[str]]:
    """Each file's claims (id, verdict, rules) and findings (rule, claim, line), as
    ``validate --format json --history`` gives them, one file after the other in order."""
    out: dict[str, list[str]] = {}
    for path in paths:
        stdout, stderr = io.StringIO(), io.StringIO()
        arguments = ["validate", "--format", "json", "--history", str(history), str(path)]
        status = run(arguments, stdout=stdout, stderr=stderr, stdin=io.BytesIO())
        assert status in (0, 1, 2), stderr.getvalue()
        for value in json.loads(stdout.getvalue())["files"]:
            claims = [
                (
                    "claim",
                    c["claim_id"],
                    c["verdict"],
                    tuple(sorted({f["rule"] for f in c["findings"] if f["severity"] != "info"})),
                )
                for c in value["claims"]
            ]
            found = [("finding", f["rule"], f["claim_id"], f["line"]) for f in every_finding(value)]
            lines = [("lines", c["claim_id"], c["lines"]) for c in value["claims"]]
            out[str(path)] = sorted(map(str, [*claims, *found, *lines]))
    return out


def frames_run(spark: SparkSession, paths: list[Path], **options: str) -> dict[str, list[str]]:
    """The same, from the three tables of ``validate_frames`` (with ``options``)."""
    from edi63650.spark import validate_frames

    claims, lines, findings = validate_frames(spark, [str(p) for p in paths], **options)
    out: dict[str, list[Record]] = collections.defaultdict(list)
    for row in claims.collect():
        out[row.file].append(("claim", row.claim_id, row.verdict, tuple(sorted(set(row.rules)))))
    for row in findings.collect():
        out[row.file].append(("finding", row.rule, row.claim_id, row.line))
    counts = collections.Counter((r.file, r.claim_offset, r.claim_id) for r in lines.collect())
    for row in claims.collect():
        out[row.file].append(
            ("lines", row.claim_id, counts[(row.file, row.claim_offset, row.claim_id)])
        )
    return {file: sorted(map(str, records)) for file, records in out.items()}


def test_validate_frames_judges_the_dataset_as_one_run_with_a_history(
    spark: SparkSession, tmp_path: Path
) -> None:
    # claims of one patient in several files: imaging and an E/M in the global period of a
    # 63650 billed in another file, a rejected interchange, duplicates across files
    paths = dataset(tmp_path)
    got = frames_run(spark, paths)
    assert got == history_run(paths, tmp_path / "history.sqlite")
    claims = [record for records in got.values() for record in records if "claim" in record]
    assert "('claim', 'B2', 'rejected', ('SCS-GLOBAL-EM',))" in claims
    assert "('claim', 'B1', 'rejected', ('SCS-IMAGING',))" in claims


def test_validate_frames_over_the_fixtures_is_one_run_with_a_history(
    spark: SparkSession, tmp_path: Path
) -> None:
    # several fixtures are one file under other delimiters: their patients meet across files
    paths = sorted(FIXTURES.glob("*.837"))
    assert frames_run(spark, paths) == history_run(paths, tmp_path / "history.sqlite")


def test_a_split_file_is_judged_as_one_in_the_dataset_pass(
    spark: SparkSession, tmp_path: Path
) -> None:
    # one patient in every interchange of a file cut into pieces: the pieces are one file
    paths = dataset(tmp_path)
    whole = tmp_path / "whole.837"
    whole.write_bytes(b"".join(p.read_bytes() for p in paths))
    from edi63650.spark import validate_frames

    small = validate_frames(spark, [str(whole)], split_size="1")[0]
    one = validate_frames(spark, [str(whole)])[0]
    assert small.rdd.getNumPartitions() >= 1

    def key(row: Any) -> Record:
        return (row.claim_offset, row.verdict, tuple(row.rules))

    assert sorted(map(key, small.collect())) == sorted(map(key, one.collect()))
    history = history_run([whole], tmp_path / "history.sqlite")[str(whole)]
    assert frames_run(spark, [whole])[str(whole)] == history


def test_an_interchange_cut_between_its_sets_is_judged_as_one_in_the_dataset_pass(
    spark: SparkSession, tmp_path: Path
) -> None:
    # the dataset's transaction sets in one interchange, cut into a piece per set: one
    # patient's implant, imaging, E/M and duplicates come in different pieces
    from tests.test_spark_cuts import sets_in_one

    one = tmp_path / "one.837"
    one.write_bytes(sets_in_one(*(p.read_bytes().replace(b"~", b"~\n") for p in dataset(tmp_path))))
    cut_into = pieces(str(one), 1)
    assert len(cut_into) > 3
    assert all(piece.tail for piece in cut_into)
    history = history_run([one], tmp_path / "history.sqlite")[str(one)]
    assert "('claim', 'B1', 'rejected', ('SCS-IMAGING',))" in history
    assert frames_run(spark, [one], split_size="1")[str(one)] == history


def test_file_urls_read_as_their_paths(spark: SparkSession, tmp_path: Path) -> None:
    # Stores (s3:// ...) take the same road through edi63650.spark.storage; see
    # tests/test_spark_storage.py. A file:// URL is the local path, in the tasks too.
    paths = dataset(tmp_path)
    url = f"file://{tmp_path}/*.837"
    local = spark.read.format("x12").option("table", "claims").load(str(tmp_path))
    remote = spark.read.format("x12").option("table", "claims").load(url)
    assert sorted(map(tuple, remote.collect())) == sorted(map(tuple, local.collect()))
    assert {row.file for row in remote.collect()} == {str(p) for p in paths}
    from edi63650.spark import validate_frames

    claims = validate_frames(spark, url)[0]
    assert sorted(map(tuple, claims.collect())) == sorted(
        map(tuple, validate_frames(spark, str(tmp_path))[0].collect())
    )


def test_an_unknown_table_is_one_clear_error(spark: SparkSession) -> None:
    path = str(FIXTURES / "bom.837")
    for reader in (
        spark.read.format("x12").option("table", "claim"),
        spark.read.format("x12"),
    ):
        with pytest.raises(Exception, match=r"the x12 source reads one table") as caught:
            reader.load(path).collect()
        assert "'claims'|'lines'|'findings'" in str(caught.value)


def test_the_schemas_are_the_readmes(spark: SparkSession) -> None:
    from edi63650.spark.schema import SCHEMAS

    text = (ROOT / "README.md").read_text()
    for table, schema in SCHEMAS.items():
        section = text.split(f"#### `{table}`", 1)[1].split("\n\n", 2)[1]
        documented = re.findall(r"^\| `(\w+)` \| `([^`]+)` \|", section, re.MULTILINE)
        assert documented == [(f.name, f.dataType.simpleString()) for f in schema.fields], table
        assert (
            spark.read.format("x12").option("table", table).load(str(FIXTURES / "bom.837")).schema
            == schema
        )


def test_the_second_pass_failing_is_a_row_not_a_failed_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from edi63650.spark import across

    paths = dataset(tmp_path)
    keys = PatientKeys(b"k" * 32)
    settings = Settings("claims")
    records = [
        record
        for number, path in enumerate(paths)
        for record in across.first_pass(Piece(str(path)), number, settings, keys)
        if record[0]
    ]
    by_patient: dict[str, list[Any]] = collections.defaultdict(list)
    for patient, claims in records:
        by_patient[patient].append(claims)
    patient = max(by_patient, key=lambda key: len({c[1] for c in by_patient[key]}))
    assert len({c[1] for c in by_patient[patient]}) > 1  # the patient of several files

    def broken(*_: object, **__: object) -> Iterator[object]:
        yield from ()
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(across, "rejudge", broken)
    made = list(across.second_pass(by_patient[patient], settings))
    errors = [row for table, row in made if table == "findings" and row[0] == "INTERNAL-ERROR"]
    assert len(errors) == 1
    assert "No space left on device" in str(errors[0])
    claims = [row for table, row in made if table == "claims"]
    sent = [across.opened(c[3]) for c in by_patient[patient]]
    assert sorted(str(row[4]) for row in claims) == sorted(  # every claim, once: the first results
        r.claim.claim_id for submission in sent for r in submission.first
    )
