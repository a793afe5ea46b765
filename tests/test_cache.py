"""The start-up cache: built once, trusted only when it is the user's own, rebuilt otherwise."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from edi63650 import cache
from edi63650.errors import MapError
from edi63650.rules.tables import Tables
from edi63650.structure import grammar
from edi63650.structure.grammar import Grammar, Grammars
from tests.helpers import ROOT


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "cache"
    monkeypatch.setenv("EDI63650_CACHE", str(where))
    return where


def test_guides_are_compiled_once_then_read_from_the_cache(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Grammars.load()
    assert list(folder.glob("grammar-*.pickle")) == []  # a guide is read when first used
    professional = first.by_map["837.5010.X222.A1.xml"]
    (entry,) = folder.glob("grammar-*.pickle")
    assert entry.stat().st_mode & 0o777 == 0o600
    assert folder.stat().st_mode & 0o777 == 0o700

    def refuse(name: str) -> Grammar:
        raise AssertionError("compiled again")

    monkeypatch.setattr(grammar, "_compile", refuse)
    again = Grammars.load().by_map["837.5010.X222.A1.xml"]
    assert again is not professional
    assert (again.start().id, again.version) == ("ST", professional.version)
    with pytest.raises(AssertionError, match="compiled again"):
        Grammars.load().by_map["837Q3.I.5010.X223.A1.xml"]  # not cached yet


def test_a_cache_entry_others_may_write_or_a_link_is_not_trusted(
    folder: Path, tmp_path: Path
) -> None:
    key = cache.fingerprint(parts=["test"])
    assert cache.cached("value", key, lambda: [1, 2]) == [1, 2]
    (entry,) = folder.glob("value-*.pickle")
    entry.chmod(0o666)
    assert cache.cached("value", key, lambda: ["rebuilt"]) == ["rebuilt"]
    elsewhere = tmp_path / "planted.pickle"
    shutil.copy(entry, elsewhere)
    entry.unlink()
    entry.symlink_to(elsewhere)
    assert cache.cached("value", key, lambda: ["again"]) == ["again"]
    entry.unlink()
    entry.write_bytes(b"not a pickle")
    entry.chmod(0o600)
    assert cache.cached("value", key, lambda: ["repaired"]) == ["repaired"]
    assert cache.cached("value", key, lambda: ["unused"]) == ["repaired"]


def test_a_folder_others_may_write_is_not_used(folder: Path) -> None:
    folder.mkdir()
    folder.chmod(0o777)  # the point: a folder anyone may write
    assert cache.folder() is None
    assert cache.cached("value", "k", lambda: 3) == 3
    assert list(folder.iterdir()) == []


def test_the_cache_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EDI63650_CACHE", "off")
    assert cache.folder() is None
    assert cache.cached("value", "k", lambda: 4) == 4


def test_tables_follow_their_files(folder: Path, tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    shutil.copytree(ROOT / "maps", maps)
    before = Tables.load(maps)
    rules = maps / "rules.xml"
    rules.write_text(rules.read_text().replace('commercial="error"', 'commercial="warning"', 1))
    after = Tables.load(maps)
    assert before.rules != after.rules
    rules.write_text("<broken")
    with pytest.raises(MapError, match=r"rules\.xml"):
        Tables.load(maps)
