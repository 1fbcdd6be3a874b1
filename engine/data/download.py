"""Fetch a data set into the data folder, verified by sha256.

:func:`download_dataset` is a generator: it yields
:class:`~engine.events.DownloadProgress` (bytes) after every chunk,
:class:`~engine.events.Progress` (files) while an archive is checked and
unpacked, :class:`~engine.events.Message` lines, and ends with
:class:`~engine.events.Done` whose ``result`` is the data set folder.
:func:`fetch` drains it.

Every file is streamed into ``<name>.part`` beside its final place and
hashed on the way; only a file whose sha256 (and size, when known) is right
is moved into place with :func:`os.replace`, so a final file is never
partial or corrupt. A ``.part`` left by a cancelled run is resumed with an
HTTP ``Range`` request. Closing the generator (cooperative cancel) closes
the connection and leaves only the ``.part``. Standard library only.

Why not ``pooch``: pooch (1.9) verifies hashes and moves finished files into
place as this does, but an interrupted download starts again from byte 0
(it never resumes a partial file with ``Range``: the FSDD archive is ~16 MB
and the MNIST files ~10 MB on links that drop), and it reports progress
through a tqdm bar rather than events a GUI worker can forward and cancel
between chunks. Both are what this module exists for.

``base_url`` (or the ``GENSCOPE_MIRROR`` environment variable) replaces
upstream: file ``f`` of data set ``d`` is then fetched from
``{base_url}/{d}/{basename of f's upstream URL}``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Iterator
from urllib.parse import urlsplit

from engine.data.registry import ArchiveSpec, DatasetSpec, RemoteFile, get_spec
from engine.errors import DataError
from engine.events import Done, DownloadProgress, Message, Progress

MIRROR_ENV = "GENSCOPE_MIRROR"
CHUNK_SIZE = 64 * 1024
TIMEOUT = 30.0
USER_AGENT = "GenScope data downloader (Python urllib)"

Event = DownloadProgress | Progress | Message | Done


class _Broken(Exception):
    """A download failed; the message is the user-facing sentence."""


class _RangeRejected(Exception):
    """The server answered 416 to a resume request."""


@dataclass(frozen=True)
class _Job:
    """Settings shared by every file of one data set download."""

    spec: DatasetSpec
    root: Path
    base_url: str | None
    chunk_size: int
    timeout: float

    @property
    def folder(self) -> Path:
        return self.spec.folder(self.root)

    def url_for(self, url: str, remote_name: str) -> str:
        if not self.base_url:
            return url
        return f"{self.base_url.rstrip('/')}/{self.spec.name}/{remote_name}"


def download_dataset(name: str | DatasetSpec, root: str | os.PathLike, *,
                     base_url: str | None = None, chunk_size: int = CHUNK_SIZE,
                     timeout: float = TIMEOUT) -> Iterator[Event]:
    """Download data set ``name`` (or a spec) into ``root/<subdir>``.

    Files already there with the right sha256 are skipped. Raises
    :class:`DataError` with one clear sentence on any failure.
    """
    spec = name if isinstance(name, DatasetSpec) else get_spec(name)
    job = _Job(spec, Path(root), base_url or os.environ.get(MIRROR_ENV) or None,
               max(1, int(chunk_size)), timeout)
    job.folder.mkdir(parents=True, exist_ok=True)
    yield Message(f"Fetching {spec.title} into {job.folder}")
    for remote in spec.files:
        yield from _ensure_file(job, remote)
    if spec.archive is not None:
        yield from _ensure_archive(job, spec.archive)
    yield Message(f"{spec.title} is ready in {job.folder}")
    yield Done(result=job.folder)


def fetch(name: str | DatasetSpec, root: str | os.PathLike, **kw) -> Path:
    """Run :func:`download_dataset` to the end; return the data set folder."""
    result = None
    for event in download_dataset(name, root, **kw):
        if isinstance(event, Done):
            result = event.result
    return Path(result)


def file_sha256(path: Path, gunzip: bool = False) -> str:
    """sha256 of a file's bytes (of its decompressed bytes if ``gunzip``)."""
    hasher = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def _ensure_file(job: _Job, remote: RemoteFile) -> Iterator[Event]:
    """Download one file unless a copy with the right sha256 is there."""
    existing = remote.present_path(job.folder)
    if existing is not None:
        is_gz = existing.name != remote.name
        if file_sha256(existing, gunzip=is_gz) == remote.sha256:
            yield Message(f"{existing.name} is already there and verified; skipped.")
            return
        yield Message(f"{existing.name} is there but its sha256 is wrong; downloading again.")
    url = job.url_for(remote.url, remote.remote_name)
    part = job.folder / (remote.name + ".part")
    size = remote.size if remote.transform is None else None
    digest, nbytes = yield from _stream(job, url, part, remote.name, size)
    _finish_file(part, job.folder / remote.name, remote, url, digest, nbytes)
    yield Message(f"{remote.name}: downloaded and verified.")


def _finish_file(part: Path, dest: Path, remote: RemoteFile, url: str,
                 digest: str, nbytes: int) -> None:
    """Apply the transform, check sha256 and size, then move into place."""
    try:
        if remote.transform is not None:
            data = remote.transform(part.read_bytes())
            digest, nbytes = hashlib.sha256(data).hexdigest(), len(data)
            if digest == remote.sha256:
                part.write_bytes(data)
        _check(remote.name, url, digest, remote.sha256, nbytes, remote.size)
    except (_Broken, DataError) as exc:
        part.unlink(missing_ok=True)
        raise DataError(str(exc)) from None
    os.replace(part, dest)


def _check(label: str, url: str, got: str, want: str,
           nbytes: int, size: int | None) -> None:
    """Raise :class:`_Broken` unless hash and size are the pinned ones."""
    if got != want:
        raise _Broken(f"{label} from {url} is corrupt: sha256 {got[:16]}… != "
                      f"expected {want[:16]}…; nothing was saved.")
    if size is not None and nbytes != size:
        raise _Broken(f"{label} from {url} has {nbytes} bytes, expected {size}; "
                      "nothing was saved.")


def _stream(job: _Job, url: str, part: Path, label: str,
            size: int | None) -> Iterator[Event]:
    """Stream ``url`` into ``part`` (resuming it); return (sha256, bytes)."""
    resp, offset = _open_resumable(job, url, part, label)
    try:
        hasher = hashlib.sha256()
        if offset:
            with open(part, "rb") as old:
                for block in iter(lambda: old.read(1 << 20), b""):
                    hasher.update(block)
        total = _total(resp, offset) or size
        done = offset
        yield DownloadProgress(done, total, f"Downloading {label}", label)
        with open(part, "ab" if offset else "wb") as out:
            while chunk := _read(resp, job.chunk_size, label, url):
                out.write(chunk)
                hasher.update(chunk)
                done += len(chunk)
                yield DownloadProgress(done, total, f"Downloading {label}", label)
        if total is not None and done < total:
            raise _Broken(f"{label} from {url} is truncated: got {done} of "
                          f"{total} bytes; nothing was saved.")
    except _Broken as exc:
        part.unlink(missing_ok=True)
        raise DataError(str(exc)) from None
    finally:
        resp.close()
    return hasher.hexdigest(), done


def _read(resp, n: int, label: str, url: str) -> bytes:
    """One chunk of the body; a dropped connection becomes :class:`_Broken`."""
    try:
        return resp.read(n)
    except (http.client.HTTPException, OSError) as exc:
        raise _Broken(f"The connection dropped while downloading {label} from "
                      f"{url} ({exc}); nothing was saved.") from exc


def _total(resp, offset: int) -> int | None:
    """Expected final size from Content-Length (plus the resumed offset)."""
    length = resp.headers.get("Content-Length")
    return offset + int(length) if length and length.isdigit() else None


def _open_resumable(job: _Job, url: str, part: Path, label: str):
    """Open ``url``, resuming ``part`` when the server honours Range.

    Returns ``(response, offset)``; offset 0 means start afresh.
    """
    offset = part.stat().st_size if part.is_file() else 0
    if offset:
        try:
            resp = _open(job, url, part, offset)
        except _RangeRejected:
            part.unlink(missing_ok=True)
        else:
            if resp.status == 206 and _range_start(resp) == offset:
                return resp, offset
            if resp.status == 200:
                return resp, 0
            resp.close()
            part.unlink(missing_ok=True)
    return _open(job, url, part, 0), 0


def _range_start(resp) -> int | None:
    """First byte position of a ``Content-Range: bytes a-b/n`` header."""
    value = resp.headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _open(job: _Job, url: str, part: Path, offset: int):
    """urlopen with clear errors; ``offset`` > 0 asks for the rest only."""
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        return urllib.request.urlopen(request, timeout=job.timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:
            raise _RangeRejected() from None
        part.unlink(missing_ok=True)
        raise DataError(f"Downloading {part.name.removesuffix('.part')} from {url} "
                        f"failed: HTTP {exc.code} {exc.reason}; nothing was saved.") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        host = urlsplit(url).hostname or url
        raise DataError(
            f"Could not reach {host} to download {job.spec.title}: {reason}. Put the "
            f"files in {job.folder} by hand (see README) or try again online.") from None


def _ensure_archive(job: _Job, archive: ArchiveSpec) -> Iterator[Event]:
    """Download the zip, verify every wanted member, extract them atomically."""
    if not archive.missing(job.folder):
        yield Message(f"All files of {archive.target}/ are already there; skipped.")
        return
    url = job.url_for(archive.url, archive.remote_name)
    part = job.folder / (archive.remote_name + ".part")
    yield from _stream(job, url, part, archive.remote_name, None)
    try:
        yield from _extract(job, archive, part, url)
    except _Broken as exc:
        part.unlink(missing_ok=True)
        raise DataError(str(exc)) from None
    part.unlink(missing_ok=True)
    yield Message(f"{archive.target}/: all files verified and in place.")


def _extract(job: _Job, archive: ArchiveSpec, zip_path: Path, url: str) -> Iterator[Event]:
    """Check each manifest file from the zip into a temp dir, then move it in."""
    hashes = archive.hashes()
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.target}-", dir=job.folder))
    try:
        seen = 0
        for name, data in _members(archive, zip_path, hashes, url):
            _check(f"{name} in {archive.remote_name}", url,
                   hashlib.sha256(data).hexdigest(), hashes[name], len(data), None)
            (tmp / name).write_bytes(data)
            seen += 1
            yield Progress(seen, len(hashes), f"Verifying {archive.target}/ files")
        lacking = sorted(set(hashes) - {p.name for p in tmp.iterdir()})
        if lacking:
            raise _Broken(f"{archive.remote_name} from {url} lacks {len(lacking)} of the "
                          f"{len(hashes)} expected files (e.g. {lacking[0]}); nothing was saved.")
        _move_into_place(tmp, job.folder / archive.target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _members(archive: ArchiveSpec, zip_path: Path, hashes: dict[str, str], url: str):
    """Yield ``(base name, bytes)`` of zip members listed in the manifest."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                name = PurePosixPath(info.filename).name
                if fnmatch(info.filename, archive.member_glob) and name in hashes:
                    yield name, zf.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise _Broken(f"{archive.remote_name} from {url} is not a valid zip "
                      f"archive ({exc}); nothing was saved.") from None


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename ``tmp`` to ``target``, or move its files in if it exists."""
    if not target.exists():
        os.rename(tmp, target)
        return
    for path in tmp.iterdir():
        os.replace(path, target / path.name)
