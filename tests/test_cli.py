"""The command line, run in-process through ``run(argv, stdout=, stderr=)``."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from edi63650.cli import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, run
from edi63650.testing import synth
from tests.helpers import FIXTURES


def call(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = run(list(argv), stdout=out, stderr=err, stdin=io.BytesIO(stdin))
    return status, out.getvalue(), err.getvalue()


def test_parse_prints_one_json_object_per_claim_with_its_context() -> None:
    status, out, err = call("parse", str(FIXTURES / "scs-professional.837"))
    assert (status, err) == (EXIT_OK, "")
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["claim_id"] for r in records] == ["TRIAL001", "PERM001", "OFFICE01"]
    first = records[0]
    assert first["context"]["interchange_control_number"] == "000000101"
    assert first["context"]["group_control_number"] == "101"
    assert first["context"]["transaction_control_number"] == "0001"
    assert first["context"]["billing_provider"]["npi"] == "1234567893"
    assert first["context"]["subscriber"]["member_id"] == "1EG4TE5MK73"
    assert first["context"]["payer"]["id"] == "04412"
    assert first["total_charge"] == "3045.00"
    assert first["lines"][0]["procedure"]["code"] == "63650"
    assert first["lines"][0]["units"] == "2"
    assert first["lines"][1]["procedure"]["modifiers"] == ["26"]


def test_parse_leaves_out_patient_names_and_birth_dates_unless_asked() -> None:
    path = str(FIXTURES / "scs-professional.837")
    _, out, _ = call("parse", path)
    assert "RIVERA" not in out
    assert "1954-03-12" not in out
    _, out, _ = call("parse", "--include-phi", path)
    record = json.loads(out.splitlines()[0])
    assert record["context"]["subscriber"]["person"]["last_name"] == "RIVERA"
    assert record["context"]["subscriber"]["birth_date"] == "1954-03-12"


def test_parse_reads_stdin_and_several_files() -> None:
    data = (FIXTURES / "bom.837").read_bytes()
    status, out, _ = call("parse", "-", str(FIXTURES / "newline-terminated.837"), stdin=data)
    assert status == EXIT_OK
    records = [json.loads(line) for line in out.splitlines()]
    assert [(r["file"], r["claim_id"]) for r in records] == [
        ("-", "PROG0001"),
        (str(FIXTURES / "newline-terminated.837"), "TRIAL002"),
    ]


def test_info_findings_only_with_verbose() -> None:
    path = str(FIXTURES / "bom.837")
    assert call("parse", path)[2] == ""
    _, _, err = call("parse", "--verbose", path)
    assert f"{path}: info: X12-BOM: a UTF-8 byte-order mark before the ISA was skipped" in err


def test_findings_go_to_stderr_without_segment_text_and_set_exit_1(tmp_path: Path) -> None:
    text = (FIXTURES / "scs-professional.837").read_text().replace("SE*70*", "SE*71*")
    bad = tmp_path / "bad.837"
    bad.write_text(text)
    status, out, err = call("parse", str(bad))
    assert status == EXIT_FINDINGS
    assert len(out.splitlines()) == 3
    assert err == (
        f"{bad}: error: ENV-SE-COUNT: SE01 says '71' segments (ST and SE included); "
        "there are 70 (line 72, byte 1883, SE01)\n"
    )


def test_not_x12_is_one_line_and_exit_1(tmp_path: Path) -> None:
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    status, out, err = call("parse", str(junk))
    assert (status, out) == (EXIT_FINDINGS, "")
    assert err.count("\n") == 1
    assert "X12-NOT-X12" in err
    assert "binary data" in err


@pytest.mark.parametrize(
    "argv",
    [
        ("parse", "/nonexistent/file.837"),
        ("parse",),
        ("frobnicate",),
        ("synth", "--kind", "837D", "--claims", "3"),
        ("synth", "--kind", "837P", "--claims", "0"),
    ],
)
def test_usage_and_unreadable_input_exit_2_with_one_line(argv: tuple[str, ...]) -> None:
    status, out, err = call(*argv)
    assert status == EXIT_USAGE
    assert out == ""
    assert "Traceback" not in err
    assert err.strip()


def test_directory_and_empty_file(tmp_path: Path) -> None:
    status, _, err = call("parse", str(tmp_path))
    assert status == EXIT_USAGE
    assert "is a directory" in err
    empty = tmp_path / "empty.837"
    empty.write_bytes(b"")
    status, _, err = call("parse", str(empty))
    assert status == EXIT_FINDINGS
    assert "X12-EMPTY-INPUT" in err


def test_an_empty_input_name_is_refused_not_read_as_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "claims.837").write_bytes(synth("837P", 2))
    monkeypatch.chdir(tmp_path)
    status, out, err = call("validate", "")
    assert (status, out) == (EXIT_USAGE, "")
    assert err.strip() == "edi63650 validate: an input name is empty"


def test_synth_writes_the_same_file_as_the_library(tmp_path: Path) -> None:
    target = tmp_path / "load.837"
    status, out, _ = call(
        "synth", "--kind", "837I", "--claims", "25", "--seed", "4", "--output", str(target)
    )
    assert (status, out) == (EXIT_OK, "")
    assert target.read_bytes() == synth("837I", 25, seed=4)
    status, out, _ = call("synth", "--kind", "837P", "--claims", "5")
    assert out.encode() == synth("837P", 5)


def test_help_exits_0() -> None:
    status, out, _ = call("--help")
    assert status == EXIT_OK
    assert "parse" in out


# -- several inputs at a time, progress ---------------------------------------------------------


def _validate_into(folder: Path, *argv: str) -> tuple[int, str, str, dict[str, bytes]]:
    status, out, err = call(
        "validate",
        str(FIXTURES),
        "--output-dir",
        str(folder),
        "--timestamp",
        "2026-11-26T09:30:00",
        *argv,
    )
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return status, out, err, {str(p.relative_to(folder)): p.read_bytes() for p in files}


@pytest.mark.parametrize("format_", ["text", "json"])
def test_jobs_give_the_same_outputs_as_one_at_a_time(tmp_path: Path, format_: str) -> None:
    one = _validate_into(tmp_path / "one", "--format", format_)
    two = _validate_into(tmp_path / "two", "--format", format_, "--jobs", "2")
    assert one[0] == two[0] == EXIT_FINDINGS
    assert one[1] == two[1]  # the reports on stdout, in the order of the inputs
    assert one[3] == two[3]  # every output file, byte for byte
    assert len(one[3]) >= 5 * len(list(FIXTURES.glob("*.837")))


def test_jobs_with_a_history_go_one_after_another(tmp_path: Path) -> None:
    history = str(tmp_path / "history.sqlite")
    status, _, err = call("validate", str(FIXTURES), "--history", history, "--jobs", "2")
    assert status == EXIT_FINDINGS
    assert "--history reads the inputs one after another; --jobs ignored" in err


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_on_a_terminal_unless_quiet() -> None:
    path = str(FIXTURES / "rulepack-professional.837")
    for quiet in (False, True):
        err = _Terminal()
        status = run(
            ["validate", path, *(["--quiet"] if quiet else [])],
            stdout=io.StringIO(),
            stderr=err,
            stdin=io.BytesIO(),
        )
        assert status == EXIT_FINDINGS
        shown = err.getvalue()
        if quiet:
            assert shown == ""
        else:
            assert "validating" in shown
            assert "claims" in shown
    _, _, err_text = call("validate", path)  # not a terminal: no progress
    assert err_text == ""


def _isa13s(folder: Path) -> list[int]:
    return [
        int(line[90:99])
        for reply in sorted([*folder.glob("*.277"), *folder.glob("*.999")])
        for line in reply.read_bytes().split(b"\n")
        if line.startswith(b"ISA")
    ]


def test_validate_numbers_its_acknowledgments_itself(tmp_path: Path) -> None:
    source = str(FIXTURES / "bom.837")
    out, err = io.StringIO(), io.StringIO()
    run(["validate", source, "--output-dir", str(tmp_path / "a"), "-q"], stdout=out, stderr=err)
    assert sorted(_isa13s(tmp_path / "a")) == [1, 2]  # not the inbound 000000601
    run(
        ["validate", source, "--output-dir", str(tmp_path / "b"), "--control-start", "90", "-q"],
        stdout=out,
        stderr=err,
    )
    assert sorted(_isa13s(tmp_path / "b")) == [90, 91]
    store = str(tmp_path / "numbers.sqlite")
    for folder in ("c", "d"):  # kept in a file: unique across runs
        run(
            [
                "validate",
                source,
                "--output-dir",
                str(tmp_path / folder),
                "--control-numbers",
                store,
                "--jobs",
                "2",
                "-q",
            ],
            stdout=out,
            stderr=err,
        )
    assert sorted(_isa13s(tmp_path / "c") + _isa13s(tmp_path / "d")) == [1, 2, 3, 4]
    assert "--control-numbers reads the inputs one after another" in err.getvalue()
    status = run(["validate", source, "--control-start", "0"], stdout=out, stderr=err)
    assert status == EXIT_USAGE


def test_version_names_the_package_pyx12_and_the_table_vintages() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run(["--version"], stdout=out, stderr=err) == EXIT_OK
    text = out.getvalue() + err.getvalue()
    assert text.startswith("edi63650 ")
    assert "\npyx12 " in text
    assert "ncci-ptp.xml: " in text  # the vintage of each table in use


def test_a_bare_command_lists_the_subcommands() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run([], stdout=out, stderr=err) == EXIT_USAGE
    for command in ("parse", "validate", "watch", "rules", "refresh-maps", "synth"):
        assert command in err.getvalue()


@pytest.mark.parametrize("command", ["validate", "parse", "rules", "synth", "watch"])
def test_every_option_has_help_and_exit_codes_are_said(command: str) -> None:
    out = io.StringIO()
    assert run([command, "--help"], stdout=out, stderr=io.StringIO()) == EXIT_OK
    text = out.getvalue()
    options = [line.split()[0] for line in text.splitlines() if line.startswith("  -")]
    assert options
    for line in text.splitlines():  # an option line with nothing after its name has no help
        if line.startswith("  -") and len(line.split()) == 1:
            index = text.splitlines().index(line)
            following = text.splitlines()[index + 1]
            assert following.startswith(" " * 10), (command, line)
    if command in ("validate", "parse"):
        assert "exit status: 0" in " ".join(text.split())


def test_os_errors_are_one_line_naming_the_path(tmp_path: Path) -> None:
    err = io.StringIO()
    status = run(
        ["synth", "--kind", "837P", "--claims", "1", "-o", str(tmp_path / "no" / "x.837")],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert status == EXIT_USAGE
    assert (
        err.getvalue()
        == f"edi63650: {tmp_path / 'no' / 'x.837'}: no such file or directory; check the path\n"
    )
    (tmp_path / "afile").write_text("")
    err = io.StringIO()
    status = run(
        ["validate", str(FIXTURES / "bom.837"), "--output-dir", str(tmp_path / "afile")],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert status == EXIT_USAGE
    assert err.getvalue().strip() == (
        f"edi63650 validate: --output-dir {tmp_path / 'afile'} is a file, not a folder"
    )


def test_a_temporary_output_that_cannot_be_made_names_its_folder() -> None:
    from edi63650.cli import describe_os_error

    error = PermissionError(13, "Permission denied", "ro/.bom.837.277.nx67wnot.tmp")
    assert (
        describe_os_error(error) == "cannot write in ro: permission denied; check its permissions"
    )


def test_library_misuse_says_what_was_expected() -> None:
    import edi63650
    from edi63650.errors import EdiUsageError
    from edi63650.reader import Reader

    with pytest.raises(EdiUsageError, match="takes bytes"):
        Reader().feed("ISA*00")  # type: ignore[arg-type]
    with pytest.raises(EdiUsageError, match="not a path"):
        list(edi63650.iter_claims("claims.837"))  # type: ignore[arg-type]
    with pytest.raises(EdiUsageError, match="open the file with 'rb'"):
        edi63650.validate_stream(io.StringIO("ISA*00"))  # type: ignore[arg-type]
    with pytest.raises(EdiUsageError, match="bytes or a path"):
        edi63650.validate(5)  # type: ignore[arg-type]


PHI = ("RIVERA", "MARIA", "1EG4TE5MK73", "19541399", "19540312")


def _with_phi_findings() -> bytes:
    """scs-professional.837 with findings on the subscriber's NM1 and DMG."""
    text = (FIXTURES / "scs-professional.837").read_text()
    text = text.replace("DMG*D8*19540312*F", "DMG*D8*19541399*F", 1)
    return text.replace("NM1*IL*1*RIVERA*MARIA****MI*", "NM1*IL*1*RIVERA*MARIA****ZZ*", 1).encode()


def test_reports_mask_patient_data_unless_asked(tmp_path: Path) -> None:
    source = tmp_path / "phi.837"
    source.write_bytes(_with_phi_findings())
    shown: dict[str, str] = {}
    for flag in ((), ("--show-phi",)):
        out_dir = tmp_path / ("shown" if flag else "masked")
        texts = []
        for form in ("text", "html"):
            out = io.StringIO()
            run(
                ["validate", str(source), "--format", form, *flag], stdout=out, stderr=io.StringIO()
            )
            texts.append(out.getvalue())
        run(
            ["validate", str(source), "--output-dir", str(out_dir), "-q", *flag],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
        texts.append((out_dir / "phi.837.html").read_text())
        shown["shown" if flag else "masked"] = "\n".join(texts)
    assert "IG-INVALID-DATE" in shown["masked"]  # the findings are there
    assert "DMG*D8*########*F" in shown["masked"]
    assert "NM1*IL*1*######*#####****ZZ*###########" in shown["masked"]
    for value in PHI[:4]:
        assert value not in shown["masked"], value
        assert value in shown["shown"], value


def test_terminal_escapes_in_the_input_never_reach_the_terminal(tmp_path: Path) -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    hostile = "X\x1b[2J\x1b]0;owned\x07\x00"
    data = text.replace("CLM*TRIAL001*", f"CLM*TRIAL{hostile}*", 1)
    data = data.replace("NTE*", f"NTE*{hostile}", 1) if "NTE*" in data else data
    source = tmp_path / "escape.837"
    source.write_bytes(data.encode("latin-1"))
    for argv in (["validate", str(source)], ["parse", "--format", "text", str(source)]):
        out, err = io.StringIO(), io.StringIO()
        run(argv, stdout=out, stderr=err)
        written = out.getvalue() + err.getvalue()
        assert "TRIAL" in written
        assert not [c for c in written if c in "\x1b\x07\x00"], argv
        assert "\\x1b[2J" in written, argv


def test_json_money_always_has_two_decimals() -> None:
    out = io.StringIO()
    run(
        ["validate", str(FIXTURES / "bom.837"), "--format", "json"],
        stdout=out,
        stderr=io.StringIO(),
    )
    report = json.loads(out.getvalue())["files"][0]
    assert report["summary"]["rejected_amount"] == "0.00"
    assert report["summary"]["accepted_amount"] == "120.00"


def test_a_directory_is_read_with_its_subfolders_and_outputs_never_collide(
    tmp_path: Path,
) -> None:
    inbox = tmp_path / "in"
    (inbox / "clinic" / "deep").mkdir(parents=True)
    data = (FIXTURES / "bom.837").read_bytes()
    (inbox / "x.837").write_bytes(data)
    (inbox / "clinic" / "x.837").write_bytes(data)
    (inbox / "clinic" / "deep" / "y.837").write_bytes(data)
    (inbox / ".hidden.837").write_bytes(data)
    (inbox / "link.837").symlink_to(FIXTURES / "bom.837")  # never followed
    out, err = tmp_path / "out", io.StringIO()
    status = run(
        ["validate", str(inbox), "--output-dir", str(out)], stdout=io.StringIO(), stderr=err
    )
    assert status == EXIT_OK
    assert f"edi63650: {inbox}: 3 files" in err.getvalue()
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.277"))
    assert written == ["clinic/deep/y.837.277", "clinic/x.837.277", "x.837.277"]
    flat = tmp_path / "flat"
    run(
        ["validate", str(inbox), "--no-recursive", "--output-dir", str(flat), "-q"],
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert sorted(p.name for p in flat.glob("*.277")) == ["x.837.277"]
    # Two inputs of the same name: the second's outputs get -2.
    same = tmp_path / "same"
    run(
        [
            "validate",
            str(inbox / "x.837"),
            str(inbox / "clinic" / "x.837"),
            "--output-dir",
            str(same),
            "-q",
        ],
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    assert sorted(p.name for p in same.glob("*.277")) == ["x-2.837.277", "x.837.277"]


def test_text_report_counts_add_up_and_end_with_a_tally_by_rule() -> None:
    out = io.StringIO()
    run(
        ["validate", str(FIXTURES / "rulepack-professional.837"), str(FIXTURES / "bom.837")],
        stdout=out,
        stderr=io.StringIO(),
    )
    lines = out.getvalue().splitlines()
    head = lines[0]
    claims, accepted, warned, rejected = (
        int(n) for n in re.findall(r"(\d+) (?:claims?|accepted|of them|rejected)", head)
    )
    assert claims == accepted + rejected  # the warned are among the accepted
    assert warned <= accepted
    assert " transaction set;" in head  # singular for one
    tally = next(line for line in lines if line.startswith("errors by rule: "))
    counts = {
        rule: int(n) for rule, n in re.findall(r"([A-Z0-9-]+) (\d+)", tally.split(": ", 1)[1])
    }
    shown = sum(1 for line in lines if re.match(r"  error ", line))
    assert sum(counts.values()) >= shown > 0
    assert lines[-1].startswith("total: 2 files, ")
    assert "bom.837: 1 claim in 1 transaction set; 1 accepted" in out.getvalue()


def test_findings_outside_claims_are_listed_in_file_order() -> None:
    text = (FIXTURES / "scs-professional.837").read_text()
    text = re.sub(r"(?m)^SE\*(\d+)\*", lambda m: f"SE*{int(m[1]) + 5}*", text, count=1)
    text = text.replace("IEA*1*", "IEA*3*", 1)  # found at the end, after the set's SE
    out = io.StringIO()
    run(["validate", "-"], stdout=out, stderr=io.StringIO(), stdin=io.BytesIO(text.encode()))
    block = out.getvalue().split("File and envelope findings\n", 1)[1].split("\n\n", 1)[0]
    lines = [int(n) for n in re.findall(r"\(file line (\d+)\)", block)]
    assert len(lines) >= 2, block
    assert lines == sorted(lines), block


def test_jsonl_streams_one_object_per_claim_and_one_per_file(tmp_path: Path) -> None:
    text = (FIXTURES / "two-interchanges.837").read_text()
    flipped = tmp_path / "flip.837"  # the first interchange is rejected only at its IEA
    flipped.write_text(text.replace("IEA*1*000000301", "IEA*2*000000301"))
    out = io.StringIO()
    run(
        ["validate", "--format", "jsonl", str(flipped), str(FIXTURES / "bom.837")],
        stdout=out,
        stderr=io.StringIO(),
    )
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    files = [r for r in records if r["record"] == "file"]
    assert [f["file"] for f in files] == ["flip.837", "bom.837"]
    for summary in files:
        claims = [r for r in records if r["record"] == "claim" and r["file"] == summary["file"]]
        assert len(claims) == summary["summary"]["claims"]  # each claim once, as decided
        assert len({c["claim_id"] for c in claims}) == len(claims)
    assert files[0]["verdict"] == "rejected"
    assert records[-1]["record"] == "file"
