"""Registry and sha256-verified downloader, against a local HTTP server."""

from __future__ import annotations

import gzip
import hashlib
import io
import socket
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.data import download as dl
from engine.data.folder import shared_data_dir
from engine.data.registry import (
    DATASETS, FSDD_MANIFEST, ArchiveSpec, DatasetSpec, RemoteFile,
    dataset_status, drop_rownames_column, get_spec, load_manifest,
)
from engine.errors import DataError
from engine.events import Done, DownloadProgress, Message, Progress

SHARED = shared_data_dir()
needs_shared = pytest.mark.skipif(SHARED is None, reason="../shared/data not present")
FAITHFUL_SHA = "d40b983752ab7ec0b15b740089c3ca7b7b59d0c7433a029a1714d134de1e8d14"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FixtureServer:
    """In-memory bodies by path, misbehaving per path on request."""

    def __init__(self):
        self.bodies: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}   # corrupt | truncate | 404 | norange
        self.requests: list[tuple[str, str | None]] = []
        self.url = ""

    def paths(self) -> list[str]:
        return [p for p, _ in self.requests]


def _handler(state: FixtureServer):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            rng = self.headers.get("Range")
            state.requests.append((self.path, rng))
            body, mode = state.bodies.get(self.path), state.modes.get(self.path)
            if body is None or mode == "404":
                self.send_error(404, "Not Found")
                return
            if mode == "corrupt":
                body = body[:-1] + bytes([body[-1] ^ 0xFF])
            start = 0
            if rng and mode != "norange":
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(body):
                    self.send_error(416, "Range Not Satisfiable")
                    return
            payload = body[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Length", str(len(payload)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            self.wfile.write(payload[: len(payload) // 2] if mode == "truncate" else payload)
            self.close_connection = True

    return Handler


@pytest.fixture
def server():
    state = FixtureServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def tiny_spec(files: dict[str, bytes], name: str = "tiny") -> DatasetSpec:
    remotes = tuple(RemoteFile(n, f"https://example.invalid/up/{n}", sha(b), len(b))
                    for n, b in files.items())
    return DatasetSpec(name, "Tiny set", name, "CC0", "A test data set.", remotes)


def serve(server: FixtureServer, spec_name: str, files: dict[str, bytes]) -> None:
    for n, body in files.items():
        server.bodies[f"/{spec_name}/{n}"] = body


FILES = {"a.bin": bytes(range(256)) * 20, "b.txt": b"hello world\n" * 50}


def run(spec, root, server, **kw):
    kw.setdefault("chunk_size", 512)
    return list(dl.download_dataset(spec, root, base_url=server.url, **kw))


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_happy_path(server, tmp_path):
    serve(server, "tiny", FILES)
    events = run(tiny_spec(FILES), tmp_path, server)
    folder = tmp_path / "tiny"
    assert isinstance(events[-1], Done) and events[-1].result == folder
    assert not any(isinstance(e, Done) for e in events[:-1])
    for name, body in FILES.items():
        assert (folder / name).read_bytes() == body
        prog = [e for e in events if isinstance(e, DownloadProgress) and e.filename == name]
        assert len(prog) > 2 and all(e.total == len(body) for e in prog)
        assert [e.done for e in prog] == sorted(e.done for e in prog)
        assert prog[-1].done == len(body)
    assert leftovers(folder) == sorted(FILES)
    assert any(isinstance(e, Message) for e in events)


def test_present_file_is_skipped_without_request(server, tmp_path):
    serve(server, "tiny", FILES)
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.bin").write_bytes(FILES["a.bin"])
    events = run(tiny_spec(FILES), tmp_path, server)
    assert server.paths() == ["/tiny/b.txt"]
    assert any("skipped" in e.text for e in events if isinstance(e, Message))


def test_present_but_wrong_file_is_replaced(server, tmp_path):
    serve(server, "tiny", FILES)
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.bin").write_bytes(b"stale")
    dl.fetch(tiny_spec(FILES), tmp_path, base_url=server.url)
    assert (tmp_path / "tiny" / "a.bin").read_bytes() == FILES["a.bin"]


@pytest.mark.parametrize("mode, match", [
    ("corrupt", "is corrupt: sha256"), ("truncate", "truncated"), ("404", "HTTP 404")])
def test_bad_download_leaves_nothing(server, tmp_path, mode, match):
    serve(server, "tiny", FILES)
    server.modes["/tiny/a.bin"] = mode
    with pytest.raises(DataError, match=match) as info:
        run(tiny_spec(FILES), tmp_path, server)
    assert "a.bin" in str(info.value) and "nothing was saved" in str(info.value)
    assert leftovers(tmp_path / "tiny") == []


def test_resume_uses_range(server, tmp_path):
    serve(server, "tiny", FILES)
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "a.bin.part").write_bytes(FILES["a.bin"][:1000])
    events = run(tiny_spec(FILES), tmp_path, server)
    assert ("/tiny/a.bin", "bytes=1000-") in server.requests
    assert (folder / "a.bin").read_bytes() == FILES["a.bin"]
    first = next(e for e in events if isinstance(e, DownloadProgress) and e.filename == "a.bin")
    assert first.done == 1000
    assert leftovers(folder) == sorted(FILES)


def test_resume_restarts_when_server_ignores_range(server, tmp_path):
    serve(server, "tiny", FILES)
    server.modes["/tiny/a.bin"] = "norange"
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.bin.part").write_bytes(b"garbage" * 10)
    dl.fetch(tiny_spec(FILES), tmp_path, base_url=server.url)
    assert (tmp_path / "tiny" / "a.bin").read_bytes() == FILES["a.bin"]


def test_bad_resumed_bytes_are_rejected(server, tmp_path):
    serve(server, "tiny", FILES)
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "a.bin.part").write_bytes(b"\0" * 1000)
    with pytest.raises(DataError, match="corrupt"):
        run(tiny_spec(FILES), tmp_path, server)
    assert leftovers(tmp_path / "tiny") == []


def test_oversized_part_restarts(server, tmp_path):
    serve(server, "tiny", FILES)
    (tmp_path / "tiny").mkdir()
    (tmp_path / "tiny" / "b.txt.part").write_bytes(b"x" * 10_000)
    dl.fetch(tiny_spec(FILES), tmp_path, base_url=server.url)
    assert (tmp_path / "tiny" / "b.txt").read_bytes() == FILES["b.txt"]


def test_close_mid_download_keeps_only_part(server, tmp_path):
    serve(server, "tiny", FILES)
    gen = dl.download_dataset(tiny_spec(FILES), tmp_path, base_url=server.url, chunk_size=256)
    for event in gen:
        if isinstance(event, DownloadProgress) and 0 < event.done < event.total:
            break
    gen.close()
    assert leftovers(tmp_path / "tiny") == ["a.bin.part"]
    dl.fetch(tiny_spec(FILES), tmp_path, base_url=server.url)
    assert server.requests[-2][1] == "bytes=256-"
    assert (tmp_path / "tiny" / "a.bin").read_bytes() == FILES["a.bin"]


def test_unreachable_host_is_a_clear_error(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DataError, match="Could not reach 127.0.0.1 to download Tiny set"):
        dl.fetch(tiny_spec(FILES), tmp_path, base_url=f"http://127.0.0.1:{port}", timeout=2)


def test_mirror_env_var(server, tmp_path, monkeypatch):
    serve(server, "tiny", FILES)
    monkeypatch.setenv(dl.MIRROR_ENV, server.url + "/")
    assert dl.fetch(tiny_spec(FILES), tmp_path) == tmp_path / "tiny"
    assert set(server.paths()) == {"/tiny/a.bin", "/tiny/b.txt"}


def test_unknown_dataset():
    with pytest.raises(DataError, match="Unknown data set 'nope'"):
        get_spec("nope")


# --- fsdd-style archive -----------------------------------------------------

WAVS = {f"{d}_spk_{i}.wav": bytes([d, i]) * 100 for d in range(3) for i in range(2)}


def archive_spec(tmp_path: Path, hashes: dict[str, str]) -> DatasetSpec:
    manifest = tmp_path / "sums.txt.gz"
    lines = "".join(f"{h}  {n}\n" for n, h in hashes.items())
    manifest.write_bytes(gzip.compress(lines.encode()))
    load_manifest.cache_clear()
    arch = ArchiveSpec("https://example.invalid/archive/abc123.zip", "recordings",
                       manifest, "*/recordings/*.wav")
    return DatasetSpec("zipset", "Zip set", "zipset", "CC0", "Archive test.", archive=arch)


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("repo-abc123/README.md", b"readme")
        zf.writestr("repo-abc123/recordings/stray.wav", b"not in manifest")
        for name, body in files.items():
            zf.writestr(f"repo-abc123/recordings/{name}", body)
    return buf.getvalue()


def test_archive_extracts_verified_files(server, tmp_path):
    data = tmp_path / "data"
    spec = archive_spec(tmp_path, {n: sha(b) for n, b in WAVS.items()})
    server.bodies["/zipset/abc123.zip"] = make_zip(WAVS)
    assert not spec.is_present(data) and len(spec.missing(data)) == len(WAVS)
    events = run(spec, data, server)
    rec = data / "zipset" / "recordings"
    assert {p.name: p.read_bytes() for p in rec.iterdir()} == WAVS
    counts = [e.done for e in events if type(e) is Progress]
    assert counts == list(range(1, len(WAVS) + 1))
    assert leftovers(data / "zipset") == ["recordings"]
    assert spec.is_present(data)
    n = len(server.requests)
    run(spec, data, server)
    assert len(server.requests) == n


def test_archive_with_bad_member_saves_nothing(server, tmp_path):
    data = tmp_path / "data"
    hashes = {n: sha(b) for n, b in WAVS.items()}
    hashes["1_spk_0.wav"] = "0" * 64
    spec = archive_spec(tmp_path, hashes)
    server.bodies["/zipset/abc123.zip"] = make_zip(WAVS)
    with pytest.raises(DataError, match="1_spk_0.wav in abc123.zip .* is corrupt"):
        run(spec, data, server)
    assert leftovers(data / "zipset") == []


def test_archive_missing_member_or_not_a_zip(server, tmp_path):
    data = tmp_path / "data"
    spec = archive_spec(tmp_path, {**{n: sha(b) for n, b in WAVS.items()}, "9_x_9.wav": "0" * 64})
    server.bodies["/zipset/abc123.zip"] = make_zip(WAVS)
    with pytest.raises(DataError, match="lacks 1 of the 7 expected files"):
        run(spec, data, server)
    server.bodies["/zipset/abc123.zip"] = b"<html>not a zip</html>"
    with pytest.raises(DataError, match="not a valid zip"):
        run(spec, data, server)
    assert leftovers(data / "zipset") == []


# --- the real registry ------------------------------------------------------

def test_registry_shape(tmp_path):
    assert set(DATASETS) == {"mnist", "binarized_mnist", "faithful", "fsdd"}
    for spec in DATASETS.values():
        assert spec.license and spec.description and spec.title
    assert dataset_status(tmp_path) == dict.fromkeys(DATASETS, False)
    assert len(DATASETS["fsdd"].missing(tmp_path)) == 3000
    assert DATASETS["fsdd"].archive.remote_name.endswith(".zip")


def test_binarized_gz_copy_counts_as_present(tmp_path):
    folder = tmp_path / "binarized_mnist"
    folder.mkdir()
    for split in ("train", "valid", "test"):
        (folder / f"binarized_mnist_{split}.amat.gz").write_bytes(b"")
    assert DATASETS["binarized_mnist"].is_present(tmp_path)


@needs_shared
def test_shared_folder_is_complete():
    assert dataset_status(SHARED) == dict.fromkeys(DATASETS, True)
    shipped = dict(load_manifest(FSDD_MANIFEST))
    assert shipped == dict(load_manifest(SHARED / "fsdd" / "SHA256SUMS"))


def rdatasets_style(plain: bytes, quoted: bool, eol: str) -> bytes:
    rows = plain.decode().splitlines()
    q = (lambda s: f'"{s}"') if quoted else (lambda s: s)
    head = ",".join(q(c) for c in ["rownames", *rows[0].split(",")])
    body = [f"{q(str(i))},{row}" for i, row in enumerate(rows[1:], 1)]
    return (eol.join([head, *body]) + eol).encode()


@needs_shared
@pytest.mark.parametrize("quoted, eol", [(True, "\n"), (False, "\n"), (True, "\r\n")])
def test_faithful_transform_reproduces_shared_file(quoted, eol):
    plain = (SHARED / "faithful" / "faithful.csv").read_bytes()
    assert sha(plain) == FAITHFUL_SHA == DATASETS["faithful"].files[0].sha256
    assert drop_rownames_column(rdatasets_style(plain, quoted, eol)) == plain


@needs_shared
def test_faithful_download_applies_transform(server, tmp_path):
    plain = (SHARED / "faithful" / "faithful.csv").read_bytes()
    server.bodies["/faithful/faithful.csv"] = rdatasets_style(plain, True, "\n")
    dl.fetch("faithful", tmp_path, base_url=server.url)
    assert (tmp_path / "faithful" / "faithful.csv").read_bytes() == plain
    changed = rdatasets_style(plain.replace(b"3.6,79", b"3.7,79"), True, "\n")
    server.bodies["/faithful/faithful.csv"] = changed
    with pytest.raises(DataError, match="faithful.csv .* is corrupt"):
        dl.fetch("faithful", tmp_path / "other", base_url=server.url)
    assert leftovers(tmp_path / "other" / "faithful") == []


def test_transform_rejects_csv_without_rownames():
    with pytest.raises(DataError, match="rownames"):
        drop_rownames_column(b"eruptions,waiting\n3.6,79\n")
