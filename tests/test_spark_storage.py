"""Files in a store (``s3://`` and the like, through pyarrow's file systems) and ``file://``
URLs: listed, cut and read as local files are, in process (no Spark, no network).

The store here is a ``test://`` scheme served by a pyarrow file system over a temporary folder
(``SubTreeFileSystem``), shaped as S3 is: the URL ``test://bucket/key`` is the path
``bucket/key``; everything above :func:`edi63650.spark.storage._store` is the code a real
``s3://`` URL runs. The Spark session reads ``file://`` URLs in tests/test_spark.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edi63650.errors import EdiUsageError
from edi63650.spark import storage
from edi63650.spark.inputs import Piece, expand, pieces
from edi63650.spark.rows import COLUMNS, FINDING_COLUMNS, Settings, rows
from tests.helpers import FIXTURES
from tests.test_spark import several_interchanges

pafs = pytest.importorskip("pyarrow.fs", reason="pyarrow comes with the spark extra")


@pytest.fixture
def bucket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``test://bucket/...`` served from ``tmp_path/bucket``; returns that folder."""
    real = storage._store

    def store(url: str) -> tuple[object, str]:
        if not url.startswith("test://"):
            return real(url)
        path = url[len("test://") :].partition("?")[0].rstrip("/")
        return pafs.SubTreeFileSystem(str(tmp_path), pafs.LocalFileSystem()), path

    monkeypatch.setattr(storage, "_store", store)
    folder = tmp_path / "bucket"
    folder.mkdir()
    return folder


def _put(folder: Path, name: str, data: bytes = b"x") -> None:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_a_folder_in_a_store_is_its_objects_sorted_hidden_names_skipped(bucket: Path) -> None:
    for name in ("in/b.837", "in/2026/01/a.837", "in/.tmp/c.837", "in/.d.837", "other.837"):
        _put(bucket, name)
    assert expand(["test://bucket/in"]) == [
        "test://bucket/in/2026/01/a.837",
        "test://bucket/in/b.837",
    ]
    assert expand(["test://bucket/in/"], recursive=False) == ["test://bucket/in/b.837"]
    assert expand(["test://bucket/in/b.837"]) == ["test://bucket/in/b.837"]


def test_a_pattern_in_a_store_matches_component_by_component(bucket: Path) -> None:
    for name in ("in/2026/01/a.837", "in/2026/02/b.837", "in/2026/02/c.txt", "in/2026/d.837"):
        _put(bucket, name)
    _put(bucket, "in/2026/03/deep/e.837")
    assert expand(["test://bucket/in/2026/*/*.837"]) == [
        "test://bucket/in/2026/01/a.837",
        "test://bucket/in/2026/02/b.837",
    ]
    # A matching folder gives what is under it (its subfolders only if recursive).
    assert expand(["test://bucket/in/2026/0[23]"]) == [
        "test://bucket/in/2026/02/b.837",
        "test://bucket/in/2026/02/c.txt",
        "test://bucket/in/2026/03/deep/e.837",
    ]
    assert expand(["test://bucket/in/2026/0[23]"], recursive=False) == [
        "test://bucket/in/2026/02/b.837",
        "test://bucket/in/2026/02/c.txt",
    ]
    # The query (a store's settings) is no wildcard, and every URL listed keeps it.
    assert expand(["test://bucket/in/2026/*/a.837?region=us-east-1"]) == [
        "test://bucket/in/2026/01/a.837?region=us-east-1"
    ]


def test_a_store_that_names_nothing_is_one_clear_error(bucket: Path) -> None:
    _put(bucket, "in/a.837")
    with pytest.raises(EdiUsageError, match=r"test://bucket/none: no such file or folder"):
        expand(["test://bucket/none"])
    with pytest.raises(EdiUsageError, match=r"no file matches"):
        expand(["test://bucket/in/*.x12"])
    with pytest.raises(EdiUsageError, match=r"may not be in the bucket"):
        expand(["test://buck*/in"])
    with pytest.raises(EdiUsageError, match=r"^nosuch://bucket/a\.837: .*nosuch") as raised:
        expand(["nosuch://bucket/a.837"])
    assert "\n" not in str(raised.value)


def test_a_file_in_a_store_is_cut_and_read_as_the_same_file_on_disk(
    bucket: Path, tmp_path: Path
) -> None:
    data = several_interchanges(4, 10)
    _put(bucket, "in/many.837", data)
    local = tmp_path / "many.837"
    local.write_bytes(data)
    url = "test://bucket/in/many.837"
    cut = pieces(url, 1)
    assert [(p.start, p.end) for p in cut] == [(p.start, p.end) for p in pieces(str(local), 1)]
    assert len(cut) == 4
    for table in COLUMNS:
        on_disk = list(rows(Piece(str(local)), Settings(table)))
        assert on_disk
        whole = list(rows(Piece(url), Settings(table)))
        file = COLUMNS[table].index("file")
        assert whole == [(*row[:file], url, *row[file + 1 :]) for row in on_disk]
        assert [row for piece in cut for row in rows(piece, Settings(table))] == whole


def test_an_object_that_cannot_be_read_is_one_finding_row(bucket: Path) -> None:
    found = list(rows(Piece("test://bucket/gone.837"), Settings("findings")))
    assert len(found) == 1
    assert found[0][FINDING_COLUMNS.index("file")] == "test://bucket/gone.837"
    assert "FILE-UNREADABLE" in found[0]
    assert list(rows(Piece("test://bucket/gone.837"), Settings("claims"))) == []
    unknown = list(rows(Piece("nosuch://bucket/a.837"), Settings("findings")))
    assert len(unknown) == 1
    assert "FILE-UNREADABLE" in unknown[0]


def test_file_urls_are_local_paths_links_still_skipped(tmp_path: Path) -> None:
    (tmp_path / "a.837").write_bytes((FIXTURES / "scs-professional.837").read_bytes())
    outside = tmp_path.parent / f"{tmp_path.name}-outside.837"
    outside.write_text("x")
    (tmp_path / "link.837").symlink_to(outside)
    assert expand([f"file://{tmp_path}"]) == [str(tmp_path / "a.837")]
    assert expand([f"file://localhost{tmp_path}/*.837"]) == [str(tmp_path / "a.837")]
    with pytest.raises(EdiUsageError, match="this machine's files, not elsewhere"):
        expand([f"file://elsewhere{tmp_path}"])
    assert storage.display_name("test://bucket/in/a.837?region=x") == "a.837"
    assert storage.display_name(f"file://{tmp_path}/a.837") == "a.837"
