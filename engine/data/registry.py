"""The data sets GenScope knows how to find and fetch.

A data folder mirrors ``../shared/data``: one sub-folder per data set
(``mnist/``, ``binarized_mnist/``, ``faithful/``, ``fsdd/recordings/``).
Each :class:`DatasetSpec` says which files belong there, where upstream
serves them and the sha256 every file must have once it is on disk.
Presence checks here look at names only (fast); the downloader in
:mod:`engine.data.download` verifies hashes.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from engine.errors import DataError

FSDD_MANIFEST = Path(__file__).with_name("fsdd_sha256sums.txt.gz")


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set.

    ``name`` is the path inside the data set folder, ``sha256`` (and
    ``size`` when known) describe the bytes stored there, i.e. *after*
    ``transform`` (bytes -> bytes) has been applied to what upstream serves.
    ``gz_alternative`` names a gzip-compressed copy of the same bytes that
    counts as present too (e.g. ``x.amat.gz`` for ``x.amat``).
    """

    name: str
    url: str
    sha256: str
    size: int | None = None
    transform: Callable[[bytes], bytes] | None = None
    gz_alternative: str | None = None

    @property
    def remote_name(self) -> str:
        """Last component of the upstream URL (used for mirrors)."""
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    def present_path(self, folder: Path) -> Path | None:
        """The file (or its gzip alternative) in ``folder``, if either exists."""
        for name in (self.name, self.gz_alternative):
            if name and (folder / name).is_file():
                return folder / name
        return None


@dataclass(frozen=True)
class ArchiveSpec:
    """Files that come inside one zip archive whose own hash is not stable.

    Members matching ``member_glob`` are extracted by base name into
    ``target`` (a folder inside the data set folder) and each one is
    checked against ``manifest``: a ``sha256  filename`` list, plain text or
    gzip. Only names listed in the manifest are kept.
    """

    url: str
    target: str
    manifest: Path
    member_glob: str = "*"

    @property
    def remote_name(self) -> str:
        return urlsplit(self.url).path.rsplit("/", 1)[-1]

    def hashes(self) -> dict[str, str]:
        """``{filename: sha256}`` read from the manifest (cached)."""
        return dict(load_manifest(self.manifest))

    def missing(self, folder: Path) -> list[str]:
        """Manifest names absent from ``folder/target`` (names only)."""
        target = folder / self.target
        if not target.is_dir():
            return [f"{self.target}/{n}" for n in self.hashes()]
        have = {p.name for p in target.iterdir()}
        return [f"{self.target}/{n}" for n in self.hashes() if n not in have]


@dataclass(frozen=True)
class DatasetSpec:
    """A data set: where it lives in the data folder and what it holds."""

    name: str
    title: str
    subdir: str
    license: str
    description: str
    files: tuple[RemoteFile, ...] = ()
    archive: ArchiveSpec | None = None
    homepage: str = field(default="", compare=False)

    def folder(self, root: Path) -> Path:
        return Path(root) / self.subdir

    def missing(self, root: Path) -> list[str]:
        """Names (relative to the data set folder) that are not there yet."""
        folder = self.folder(root)
        out = [f.name for f in self.files if f.present_path(folder) is None]
        if self.archive is not None:
            out += self.archive.missing(folder)
        return out

    def is_present(self, root: Path) -> bool:
        return not self.missing(root)


@lru_cache(maxsize=8)
def load_manifest(path: Path) -> tuple[tuple[str, str], ...]:
    """Parse a ``sha256  filename`` list (``sha256sum`` format, maybe gzip)."""
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    entries = []
    for line in raw.decode("utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries.append((name.lstrip("*").strip(), digest.lower()))
    return tuple(entries)


def drop_rownames_column(raw: bytes) -> bytes:
    """Turn an Rdatasets CSV into a plain one: drop the leading row-name column.

    Quotes are removed, values are kept as written, lines end with ``\\n``.
    """
    try:
        rows = [r for r in csv.reader(io.StringIO(raw.decode("utf-8-sig"))) if r]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"The downloaded CSV cannot be read ({exc}).") from None
    if not rows or rows[0][0] not in ("rownames", ""):
        raise DataError("The downloaded CSV has no leading 'rownames' column; "
                        "the upstream format changed.")
    return "".join(",".join(r[1:]) + "\n" for r in rows).encode("utf-8")


_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_MNIST = {
    "train-images-idx3-ubyte.gz": (9912422, "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
    "train-labels-idx1-ubyte.gz": (28881, "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
    "t10k-images-idx3-ubyte.gz": (1648877, "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
    "t10k-labels-idx1-ubyte.gz": (4542, "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
}
_BIN_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
_BIN = {
    "train": (78400000, "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d"),
    "valid": (15680000, "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2"),
    "test": (15680000, "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c"),
}
_FAITHFUL_URL = ("https://raw.githubusercontent.com/vincentarelbundock/Rdatasets/"
                 "cc03c29690889dbe83089f5206e2422db8c3f71f/csv/datasets/faithful.csv")
_FSDD_COMMIT = "26eb9aaf76e81b692f806f9140c2d2777410d7a1"
_FSDD_URL = ("https://github.com/Jakobovski/free-spoken-digit-dataset/archive/"
             f"{_FSDD_COMMIT}.zip")


def _amat(split: str) -> RemoteFile:
    size, sha = _BIN[split]
    name = f"binarized_mnist_{split}.amat"
    return RemoteFile(name, _BIN_URL + name, sha, size, gz_alternative=name + ".gz")


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec(
        "mnist", "MNIST", "mnist", "CC BY-SA 3.0 (Yann LeCun and Corinna Cortes)",
        "70000 handwritten digits, 28x28 grayscale, with labels (IDX, gzip).",
        tuple(RemoteFile(n, _MNIST_URL + n, sha, size) for n, (size, sha) in _MNIST.items()),
        homepage="http://yann.lecun.com/exdb/mnist/"),
    "binarized_mnist": DatasetSpec(
        "binarized_mnist", "Binarized MNIST", "binarized_mnist",
        "No license stated; derived from MNIST (CC BY-SA 3.0)",
        "Static binarization of MNIST (Larochelle & Murray): 50k/10k/10k binary images.",
        tuple(_amat(s) for s in ("train", "valid", "test")),
        homepage=_BIN_URL),
    "faithful": DatasetSpec(
        "faithful", "Old Faithful", "faithful",
        "R datasets package (base R, GPL-2 | GPL-3); factual measurements",
        "272 Old Faithful eruptions: duration and waiting time (CSV).",
        (RemoteFile("faithful.csv", _FAITHFUL_URL,
                    "d40b983752ab7ec0b15b740089c3ca7b7b59d0c7433a029a1714d134de1e8d14",
                    2271, transform=drop_rownames_column),),
        homepage="https://github.com/vincentarelbundock/Rdatasets"),
    "fsdd": DatasetSpec(
        "fsdd", "Free Spoken Digit Dataset", "fsdd", "CC BY-SA 4.0",
        "3000 recordings of spoken digits 0-9, six speakers, 8 kHz mono WAV.",
        archive=ArchiveSpec(_FSDD_URL, "recordings", FSDD_MANIFEST, "*/recordings/*.wav"),
        homepage="https://github.com/Jakobovski/free-spoken-digit-dataset"),
}


def get_spec(name: str, datasets: Mapping[str, DatasetSpec] = DATASETS) -> DatasetSpec:
    """The spec called ``name``, or a :class:`DataError` listing the known ones."""
    try:
        return datasets[name]
    except KeyError:
        known = ", ".join(sorted(datasets))
        raise DataError(f"Unknown data set {name!r}; known data sets: {known}.") from None


def dataset_status(root: Path, datasets: Mapping[str, DatasetSpec] = DATASETS) -> dict[str, bool]:
    """``{name: is_present}`` for every known data set under ``root``."""
    return {name: spec.is_present(Path(root)) for name, spec in datasets.items()}
