"""The maps/ folder: found from a checkout and from an installed wheel, checked on load."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from edi63650.errors import MapError
from edi63650.maps import Implementations, default_maps_dir
from tests.helpers import FIXTURES, ROOT


def test_implementations_table_routes_the_claim_guides() -> None:
    table = Implementations.load()
    entry = table.lookup("005010X222A1")
    assert entry is not None
    assert (entry.kind, entry.supported) == ("837P", True)
    a3 = table.lookup("005010X223A3")
    assert a3 is not None
    assert (a3.kind, a3.validate_as) == ("837I", "005010X223A2")
    dental = table.lookup("005010X224A2")
    assert dental is not None
    assert not dental.supported


def test_the_checkout_maps_are_found() -> None:
    assert (default_maps_dir() / "implementations.xml").is_file()


def copy_maps(tmp_path: Path) -> Path:
    target = tmp_path / "maps"
    shutil.copytree(default_maps_dir(), target)
    return target


def test_a_broken_map_names_file_line_and_problem(tmp_path: Path) -> None:
    maps = copy_maps(tmp_path)
    path = maps / "implementations.xml"
    text = path.read_text().replace(
        'kind="837I" supported="true"', 'kind="837X" supported="true"', 1
    )
    path.write_text(text)
    with pytest.raises(MapError) as caught:
        Implementations.load(maps)
    lines = text.splitlines()
    first = next(i for i, s in enumerate(lines, 1) if 'version="005010X223A2"' in s)
    last = next(i for i, s in enumerate(lines, 1) if i > first and s.rstrip().endswith("/>"))
    message = str(caught.value)
    assert message.startswith(f"{path}:")
    reported = int(message[len(str(path)) + 1 :].split(":", maxsplit=1)[0])
    assert first <= reported <= last  # libxml2 names a line of the offending element
    assert "837X" in message


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    maps = copy_maps(tmp_path)
    path = maps / "implementations.xml"
    path.write_text(path.read_text().replace("</implementations>", "</implementation>"))
    with pytest.raises(MapError, match=r"implementations\.xml:\d+: "):
        Implementations.load(maps)


def test_entities_are_not_expanded(tmp_path: Path) -> None:
    maps = copy_maps(tmp_path)
    path = maps / "implementations.xml"
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = (
        path.read_text()
        .replace(
            '<?xml version="1.0" encoding="UTF-8"?>',
            f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY leak SYSTEM "file://{secret}">]>',
        )
        .replace('name="837 Dental"', 'name="&leak;"', 1)
    )
    path.write_text(text)
    try:
        table = Implementations.load(maps)
    except MapError:
        return  # refusing the file is as good as not expanding it
    assert all("TOP-SECRET" not in entry.name for entry in table.by_version.values())


@pytest.mark.slow
def test_wheel_installs_and_parses_a_fixture(tmp_path: Path) -> None:
    """Build the wheel, install it in a fresh virtual environment, run ``edi63650 parse``."""
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(env_dir)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    subprocess.run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [str(bin_dir / "edi63650"), "parse", str(FIXTURES / "scs-institutional.837")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [line.count('"claim_id"') for line in result.stdout.splitlines()] == [1, 1]
    located = subprocess.run(
        [
            str(bin_dir / "python"),
            "-c",
            "from edi63650.maps import default_maps_dir; print(default_maps_dir())",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    assert str(env_dir) in located.stdout
