"""Safetensors checkpoints: round trip, atomic writes, corrupt files, fitting a model."""

from __future__ import annotations

import errno
import json
import os

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import engine.checkpoints as ckpts
from engine.checkpoints import (Checkpoint, check_fits, load_checkpoint, load_into, read_config, save_checkpoint,
                                store_half, stored_dtypes)
from engine.errors import CheckpointError

CONFIG = {"kind": "vae", "hparams": {"hidden": 8}, "metrics": {"elbo": -101.5}}


def tiny(hidden: int = 8, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, hidden), nn.ReLU(), nn.Linear(hidden, 3), nn.BatchNorm1d(3))


@pytest.fixture
def saved(tmp_path):
    model = tiny()
    path = save_checkpoint(tmp_path / "model.safetensors", model.state_dict(), CONFIG)
    return path, model


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def temp_files(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- round trip


def test_round_trip(saved):
    path, model = saved
    ckpt = load_checkpoint(path, expected_kind="vae")
    assert isinstance(ckpt, Checkpoint) and ckpt.path == path
    assert ckpt.kind == "vae" and ckpt.hparams == {"hidden": 8}
    assert ckpt.config["format_version"] == 1 and ckpt.config["metrics"] == {"elbo": -101.5}
    assert "created" in ckpt.config and "engine_version" in ckpt.config
    assert_same_weights(ckpt.state_dict, model.state_dict())
    fresh = tiny(seed=1)
    load_into(fresh, ckpt)
    assert_same_weights(fresh.state_dict(), model.state_dict())


def test_store_half_halves_the_file_and_loads_the_rounded_weights(saved):
    path, model = saved
    size, floats = path.stat().st_size, sum(t.nbytes for t in model.state_dict().values() if t.is_floating_point())
    store_half(path)
    ckpt = load_checkpoint(path, expected_kind="vae")
    assert stored_dtypes(ckpt.state_dict) == "float16"
    assert size - path.stat().st_size >= floats // 2 - 64  # the weights take half the bytes (the header ~ the same)
    assert ckpt.config["metrics"] == CONFIG["metrics"]
    assert ckpt.state_dict["3.num_batches_tracked"].dtype == torch.int64  # integers stay as they were
    fresh = tiny(seed=1)
    load_into(fresh, ckpt)
    for name, value in model.state_dict().items():
        got = fresh.state_dict()[name]
        assert got.dtype == value.dtype  # the model keeps float32 parameters holding the rounded values
        if value.is_floating_point():
            assert torch.equal(got, value.half().float())


def test_save_does_not_mutate_config_and_accepts_noncontiguous(tmp_path):
    config = {"kind": "made", "hparams": {}}
    weight = torch.arange(12.0).reshape(3, 4).t()  # non-contiguous view
    save_checkpoint(tmp_path / "m.safetensors", {"w": weight}, config)
    assert config == {"kind": "made", "hparams": {}}
    assert torch.equal(load_checkpoint(tmp_path / "m.safetensors").state_dict["w"], weight)


def test_expected_kind_set(saved):
    path, _ = saved
    assert load_checkpoint(path, expected_kind={"vae", "iwae"}).kind == "vae"


@pytest.mark.parametrize("config", [{"hparams": {}}, {"kind": "vae"}, {"kind": "", "hparams": {}}])
def test_save_validates_config(tmp_path, config):
    with pytest.raises(CheckpointError):
        save_checkpoint(tmp_path / "x.safetensors", {"w": torch.zeros(1)}, config)
    assert list(tmp_path.iterdir()) == []


def test_save_rejects_unserialisable_config(tmp_path):
    with pytest.raises(CheckpointError, match="JSON"):
        save_checkpoint(tmp_path / "x.safetensors", {"w": torch.zeros(1)}, {"kind": "vae", "hparams": {"f": object()}})
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- atomic write


def test_failed_serialize_keeps_old_file(saved, monkeypatch):
    path, _ = saved
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(ckpts, "_serialize", boom)
    with pytest.raises(CheckpointError, match="Could not write checkpoint .*model.safetensors.*untouched"):
        save_checkpoint(path, tiny(seed=3).state_dict(), CONFIG)
    assert path.read_bytes() == before
    assert temp_files(path.parent) == []


def test_failure_after_partial_write_keeps_old_file(saved, monkeypatch):
    """Disk full reported at fsync, after the temp file already holds bytes."""
    path, _ = saved
    before = path.read_bytes()
    real_fsync = os.fsync
    seen = []

    def failing_fsync(fd):
        seen.append(os.fstat(fd).st_size)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(CheckpointError, match="No space left on device; the previous file is untouched"):
        save_checkpoint(path, tiny(hidden=16).state_dict(), CONFIG)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert seen and seen[0] > 0  # the temp file really was written before the failure
    assert path.read_bytes() == before
    assert temp_files(path.parent) == []
    assert load_checkpoint(path).hparams == {"hidden": 8}


def test_failed_first_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "replace", lambda *a: (_ for _ in ()).throw(PermissionError(errno.EACCES, "Permission denied")))
    with pytest.raises(CheckpointError, match="Permission denied; nothing was written"):
        save_checkpoint(tmp_path / "new.safetensors", {"w": torch.zeros(2)}, CONFIG)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_file(saved):
    path, _ = saved
    save_checkpoint(path, tiny(hidden=5).state_dict(), {"kind": "vae", "hparams": {"hidden": 5}})
    assert read_config(path)["hparams"] == {"hidden": 5}
    assert temp_files(path.parent) == []


# --------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="nope.safetensors does not exist"):
        load_checkpoint(tmp_path / "nope.safetensors")


def test_truncated_file(saved):
    path, _ = saved
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="model.safetensors is truncated"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="truncated"):
        read_config(path)


@pytest.mark.parametrize("cut", [3, 8, 20])
def test_truncated_inside_header(saved, cut):
    path, _ = saved
    path.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(CheckpointError, match="truncated or not a GenScope checkpoint"):
        load_checkpoint(path)


def test_trailing_bytes(saved):
    path, _ = saved
    path.write_bytes(path.read_bytes() + b"garbage")
    with pytest.raises(CheckpointError, match="unexpected bytes"):
        load_checkpoint(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.safetensors"
    path.write_bytes(os.urandom(4096))
    with pytest.raises(CheckpointError, match="noise.safetensors"):
        load_checkpoint(path)


def test_corrupt_header_json(saved):
    path, _ = saved
    data = bytearray(path.read_bytes())
    data[8] = ord("#")  # first header byte should be '{'
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="not a GenScope checkpoint"):
        load_checkpoint(path)


def test_plain_safetensors_without_metadata(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.ones(3)}, str(path))
    with pytest.raises(CheckpointError, match="plain.safetensors is a safetensors file but not a GenScope checkpoint"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="not a GenScope checkpoint"):
        read_config(path)


def test_wrong_kind(tmp_path):
    path = save_checkpoint(tmp_path / "p.safetensors", {"w": torch.ones(1)}, {"kind": "pixelcnn", "hparams": {}})
    with pytest.raises(CheckpointError, match="is a 'pixelcnn' checkpoint; this needs a 'vae' checkpoint"):
        load_checkpoint(path, expected_kind="vae")
    with pytest.raises(CheckpointError, match="'made' or 'nade'"):
        read_config(path, expected_kind={"made", "nade"})


def test_newer_format_version(tmp_path):
    path = tmp_path / "future.safetensors"
    config = {"kind": "vae", "hparams": {}, "format_version": 99}
    save_file({"w": torch.ones(1)}, str(path), metadata={"genscope": json.dumps(config)})
    with pytest.raises(CheckpointError, match="format 99, newer"):
        load_checkpoint(path)


def test_pickle_file_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    torch.save(tiny().state_dict(), path)
    import pickle

    def no_unpickling(*a, **k):
        raise AssertionError("a checkpoint file was unpickled")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    monkeypatch.setattr(torch, "load", no_unpickling)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="pickle"):
        read_config(path)


def test_header_length_128_is_not_mistaken_for_pickle(tmp_path):
    """A safetensors header of 128 bytes starts with 0x80, the pickle protocol byte."""
    for pad in range(200):
        config = {"kind": "vae", "hparams": {"p": "x" * pad}}
        path = save_checkpoint(tmp_path / "h.safetensors", {"w": torch.ones(1)}, config)
        if path.read_bytes()[0] == 0x80:
            assert load_checkpoint(path).hparams == config["hparams"]
            return
    pytest.skip("no padding gave a header of 128 bytes")


# --------------------------------------------------------------------------- read_config


def test_read_config_reads_header_only(saved, monkeypatch):
    path, _ = saved

    def no_tensors(*a, **k):
        raise AssertionError("tensors were loaded")

    monkeypatch.setattr(ckpts, "_st_load", no_tensors)
    config = read_config(path)
    assert config["kind"] == "vae" and config["hparams"] == {"hidden": 8}


# --------------------------------------------------------------------------- load_into


def test_shape_mismatch_names_tensor_and_leaves_module_unchanged(saved):
    path, _ = saved
    other = tiny(hidden=16, seed=5)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"0.weight has shape \(8, 4\) in the file but \(16, 4\) in the model"):
        load_into(other, load_checkpoint(path))
    assert_same_weights(other.state_dict(), before)


def test_missing_and_unexpected_keys(saved):
    path, _ = saved
    ckpt = load_checkpoint(path)
    bigger = nn.Sequential(*tiny(), nn.Linear(3, 2))
    before = {k: v.clone() for k, v in bigger.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"lacks 2 tensor\(s\) the model needs \(4.bias, 4.weight\)"):
        load_into(bigger, ckpt)
    assert_same_weights(bigger.state_dict(), before)
    smaller = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    with pytest.raises(CheckpointError, match=r"has 5 tensor\(s\) the model does not \(3.bias, 3.num_batches_tracked"):
        check_fits(smaller, ckpt)
