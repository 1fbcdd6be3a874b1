"""The fault suite (issue #13): hostile and careless input gets one ``error:`` sentence, exit status 2, bounded work.

Every refusal is checked the same way (:func:`refused`): exit status 2,
exactly one line starting with ``error:`` on stderr, no traceback, a few
seconds at most, and the user's files unchanged. CLI cases run in-process
through :func:`engine.cli.main.main`. Audio, training runs, progress bars
and capped-memory subprocesses are in ``test_faults_runs.py``.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from engine.catalog import check_settings, load_model, read_checked_config
from engine.checkpoints import load_checkpoint, read_config, save_checkpoint, write_file
from engine.cli.main import main
from engine.errors import CheckpointError, ConfigError, GenScopeError

ROOT = Path(__file__).resolve().parents[2]
ASSETS = ROOT / "assets"
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def refused(capsys, argv: list[str], *keep: Path, seconds: float = 10.0) -> str:
    """Run the CLI on ``argv``; assert a clean refusal that changed none of ``keep``; return the error line."""
    before = {p: p.read_bytes() if p.is_file() else None for p in keep}
    peak, start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
    code = main([str(a) for a in argv])
    elapsed = time.perf_counter() - start
    grew = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak) / 1024  # kB -> MB (Linux)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2, err
    assert len(errors) == 1 and "Traceback" not in err, err
    assert elapsed < seconds, f"took {elapsed:.1f} s"
    assert grew < 512, f"the peak memory grew by {grew:.0f} MB"
    for p, data in before.items():
        assert (p.read_bytes() if p.is_file() else None) == data, f"{p} changed"
    return errors[0]


def crafted(tmp_path: Path, asset: str, **hparams) -> Path:
    """A copy of bundled ``asset`` whose header claims ``hparams`` (its tensors unchanged)."""
    ckpt = load_checkpoint(ASSETS / f"{asset}.safetensors")
    config = {**ckpt.config, "hparams": {**ckpt.hparams, **hparams}}
    return save_checkpoint(tmp_path / f"crafted-{asset}.safetensors", ckpt.state_dict, config)


def raw_checkpoint(path: Path, header: bytes, data: bytes = b"") -> Path:
    """A file of a safetensors length prefix, ``header`` and ``data`` as they are."""
    path.write_bytes(struct.pack("<Q", len(header)) + header + data)
    return path


@pytest.fixture
def old_png(tmp_path) -> Path:
    """The user's existing output file, which no failed command may touch."""
    path = tmp_path / "old.png"
    path.write_bytes(b"the user's picture")
    return path


# --------------------------------------------------------------------------- settings in a checkpoint header

HUGE = [("pixelcnn", {"channels": 10**7}, "1024"), ("pixelcnn", {"num_classes": 10**9}, "1000"),
        ("pixelcnn", {"layers": 10**7}, "64"), ("pixelcnn", {"height": 100000, "width": 100000}, "256"),
        ("pixelcnn", {"channels": 1024, "layers": 64, "height": 256, "width": 256}, "limit"),
        ("pixelcnn", {"channels": 32.5}, "whole number"), ("pixelcnn", {"levels": True}, "whole number"),
        ("pixelcnn", {"shape": [1, 2]}, "no setting"), ("wavenet", {"residual": 10**6}, "1024"),
        ("wavenet", {"sample_rate": 10**15}, "192000"), ("wavenet", {"layers_per_stack": 62}, "16"),
        ("wavenet", {"cond_name": ["digit"]}, "text"), ("vae", {"hidden": ["x", "y"]}, "whole number"),
        ("vae", {"hidden": [10**6, 10**6]}, "65536"), ("vae", {"hidden": [[[1]]]}, "whole number"),
        ("vae", {"hidden": [8] * 10**5}, "list of 1 to 16"), ("vae", {"beta": float("nan")}, "finite number"),
        ("vae", {"hidden": [65536] * 16}, "limit")]


@pytest.mark.parametrize("asset, hparams, named", HUGE, ids=[f"{a}-{next(iter(h))}" for a, h, _ in HUGE])
def test_settings_are_checked_before_anything_is_allocated(tmp_path, capsys, old_png, asset, hparams, named):
    path = crafted(tmp_path, asset, **hparams)
    argv = (["eval", "vae", "--checkpoint", path] if asset == "vae"
            else ["sample", asset, "--checkpoint", path, "--out", old_png])
    line = refused(capsys, argv, old_png, path)
    assert named in line and str(path) in line
    with pytest.raises(CheckpointError, match=named):
        load_model(path)
    with pytest.raises(CheckpointError):
        read_checked_config(path)  # what File > Open checkpoint reads


def test_every_bundled_model_passes_its_own_limits():
    for path in sorted(ASSETS.glob("*.safetensors")):
        load_model(path)


def test_check_settings_names_the_work_that_does_not_fit():
    hp = load_checkpoint(ASSETS / "pixelcnn.safetensors").hparams
    assert check_settings("pixelcnn", hp, examples=16) == hp
    with pytest.raises(ConfigError, match="100000 images"):
        check_settings("pixelcnn", hp, examples=100000, work="100000 images")


def test_claimed_shapes_that_do_not_match_the_settings(tmp_path, capsys, old_png):
    path = crafted(tmp_path, "pixelcnn", channels=8)
    assert "does not fit this model" in refused(capsys, ["sample", "pixelcnn", "--checkpoint", path, "--out", old_png],
                                                old_png)
    table = {"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 16]},
             "__metadata__": {"genscope": json.dumps({"kind": "pixelcnn", "hparams": {}})}}
    lying = raw_checkpoint(tmp_path / "lying.safetensors", json.dumps(table).encode(), bytes(16))
    assert "not a GenScope checkpoint" in refused(capsys, ["sample", "pixelcnn", "--checkpoint", lying, "--out", old_png],
                                                  old_png)


# --------------------------------------------------------------------------- the header parser

@pytest.mark.parametrize("where", ["header", "config"])
@pytest.mark.parametrize("command", ["inspect", "sample"])
def test_deeply_nested_headers_are_one_sentence(tmp_path, capsys, old_png, where, command):
    deep = "[" * 100_000 + "]" * 100_000
    header = (deep if where == "header" else
              json.dumps({"__metadata__": {"genscope": '{"kind": "vae", "hparams": {"hidden": ' + deep + "}}"}}))
    path = raw_checkpoint(tmp_path / "deep.safetensors", header.encode())
    argv = ["inspect", path] if command == "inspect" else ["sample", "pixelcnn", "--checkpoint", path, "--out", old_png]
    assert "nest deeper than" in refused(capsys, argv, old_png)
    with pytest.raises(CheckpointError, match="nest deeper"):
        read_config(path)


def test_a_header_longer_than_the_limit_is_refused_unread(tmp_path, capsys):
    path = tmp_path / "long.safetensors"
    path.write_bytes(struct.pack("<Q", 10**9) + b"{}" * 1000)
    assert "header length" in refused(capsys, ["inspect", path])


# --------------------------------------------------------------------------- unbounded requests

BOUNDS = [(["-n", "1000000"], "-n must be between 1 and 1024"), (["--scale", "100000"], "--scale"),
          (["--strategy", "beam", "--beam-width", "1000000"], "--beam-width must be between 1 and 64"),
          (["--threads", "-1"], "--threads must be between 1 and 256"), (["--seed", "-5"], "--seed"),
          (["--strategy", "top-p", "--top-p", "nan"], "--top-p must be a finite number"),
          (["--strategy", "temperature", "--temperature", "inf"], "--temperature"),
          (["-n", "600"], "600 images"), (["-n", "300", "--scale", "16"], "pixels")]


@pytest.mark.parametrize("extra, named", BOUNDS, ids=[" ".join(e) for e, _ in BOUNDS])
def test_pixelcnn_sample_requests_are_bounded(capsys, old_png, extra, named):
    argv = ["sample", "pixelcnn", "--checkpoint", ASSETS / "pixelcnn.safetensors", *extra, "--out", old_png]
    assert named in refused(capsys, argv, old_png)


@pytest.mark.parametrize("extra, named", [(["--seconds", "nan"], "--seconds must be a finite number between"),
                                          (["--seconds", "inf"], "--seconds"), (["--seconds", "1e9"], "600"),
                                          (["--prime-seconds", "nan"], "--prime-seconds"),
                                          (["--prime-seconds", "-1"], "--prime-seconds")])
def test_wavenet_sample_requests_are_bounded(tmp_path, capsys, extra, named):
    out = tmp_path / "old.wav"
    out.write_bytes(b"the user's recording")
    argv = ["sample", "wavenet", "--prime", tmp_path / "none.wav", *extra, "--out", out]
    assert named in refused(capsys, argv, out)


def test_an_evaluation_batch_is_bounded_by_memory(capsys):
    line = refused(capsys, ["eval", "pixelcnn", "--checkpoint", ASSETS / "pixelcnn.safetensors", "--batch", "5000"])
    assert "batches of 5000 images" in line and "limit" in line


def test_training_numbers_are_bounded(tmp_path, capsys):
    run = tmp_path / "run"
    for extra, named in ((["--epochs", "0"], "--epochs"), (["--batch-size", "10000000"], "--batch-size"),
                         (["--lr", "nan"], "--lr"), (["--threads", "0"], "--threads")):
        assert named in refused(capsys, ["train", "vae", "--dataset", "generated", "--run-dir", run, *extra])
    assert not run.exists()


# --------------------------------------------------------------------------- output files

def _sample_small(out) -> list[str]:
    return ["sample", "pixelcnn", "--checkpoint", ASSETS / "pixelcnn.safetensors", "-n", "1", "--out", out]


def test_outputs_to_a_missing_folder_or_a_folder_are_sentences(tmp_path, capsys):
    assert "does not exist" in refused(capsys, _sample_small(tmp_path / "nowhere" / "x.png"))
    assert "is a folder" in refused(capsys, _sample_small(tmp_path))


@pytest.mark.skipif(AS_ROOT, reason="running as root: chmod cannot make a folder read-only")
def test_a_read_only_folder_keeps_the_users_file(tmp_path, capsys, old_png):
    tmp_path.chmod(0o555)
    try:
        assert "Nothing was changed there" in refused(capsys, _sample_small(old_png), old_png)
    finally:
        tmp_path.chmod(0o755)


def test_a_full_disk_keeps_the_users_file(tmp_path, capsys, old_png, monkeypatch):
    real = os.fsync

    def full(fd):  # the write reached the page cache; the disk is full when it is flushed
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    line = refused(capsys, _sample_small(old_png), old_png)
    monkeypatch.setattr(os, "fsync", real)
    assert "No space left" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.png"]  # no temporary file left behind


@pytest.fixture
def tmpfs(tmp_path):
    """A function that mounts a small tmpfs of ``size`` (e.g. "64k") and returns its folder; skips where mounting
    is not permitted; everything mounted is unmounted at the end."""
    mounted = []

    def mount(size: str, name: str = "disk") -> Path:
        disk = tmp_path / name
        disk.mkdir()
        if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                          capture_output=True).returncode:
            pytest.skip("cannot mount a small tmpfs here (needs root and mount permission)")
        mounted.append(disk)
        return disk

    yield mount
    for disk in mounted:
        subprocess.run(["umount", str(disk)], check=False)


def test_a_real_full_disk_keeps_the_users_file(tmpfs, capsys):
    disk = tmpfs("64k")
    old = disk / "old.png"
    old.write_bytes(b"x" * 1000)
    (disk / "filler").write_bytes(b"\0" * 60_000)
    line = refused(capsys, ["sample", "pixelcnn", "--checkpoint", ASSETS / "pixelcnn.safetensors", "-n", "64",
                            "--out", old], old)
    assert "No space left" in line and sorted(p.name for p in disk.iterdir()) == ["filler", "old.png"]


def test_every_writer_of_a_user_file_gives_a_sentence(tmp_path):
    from engine.cards.common import write_markdown
    from engine.data.sound import write_wav

    for write in (lambda p: write_markdown(p, ["# card"]), lambda p: write_wav(p, np.zeros(8), 8000),
                  lambda p: write_file(p, b"{}")):
        with pytest.raises(GenScopeError, match="is a folder"):
            write(tmp_path)
    assert write_markdown(tmp_path / "card.md", ["# card"]).read_text() == "# card"


def test_a_read_only_file_system_keeps_the_users_file(tmpfs, capsys):
    disk = tmpfs("1m", "ro")
    old = disk / "old.png"
    old.write_bytes(b"the user's picture")
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True)
    assert "Read-only file system" in refused(capsys, _sample_small(old), old)


def test_a_toy_kinds_sample_length_is_bounded_by_memory():
    from engine.catalog import Kind, register, unregister

    register(Kind("toy_faults", "torch.nn:Identity", (), {}, ("generated",)))
    try:
        with pytest.raises(ConfigError, match="1024 sequences of 1048576 steps"):
            check_settings("toy_faults", {}, 1024, "1024 sequences of 1048576 steps", 16 * 1024 * (1 << 20))
    finally:
        unregister("toy_faults")
