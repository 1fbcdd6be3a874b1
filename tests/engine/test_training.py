"""The training generator, checkpoints per epoch, divergence errors, and the train/eval/codes CLI."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch
from torch import nn

import engine.cli.main as cli
from engine.checkpoints import read_config
from engine.errors import GenScopeError
from engine.events import Done, Progress
from engine.catalog import load_model
from engine.models.vae import VAE
from engine.cards.latent import write_model_card
from engine.cli.codes import CODES_COMMAND, latent_codes
from engine.cli.eval import EVAL_COMMAND
from engine.cli.train import TRAIN_COMMAND
from engine.training.loop import run_training, train
from engine.training.step import CheckpointSaved, EpochEnd, TrainingDiverged, TrainStep


def synthetic_images(n: int = 256, seed: int = 0) -> np.ndarray:
    """uint8 (n, 28, 28): two stroke patterns (a bar and a block) with random intensities."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    images[::2, 10:18, 4:24] = rng.integers(150, 256, size=(len(images[::2]), 8, 20))
    images[1::2, 4:24, 12:16] = 255
    return images


def tiny_vae(seed: int = 0) -> VAE:
    torch.manual_seed(seed)
    return VAE(latent_dim=2, hidden=[32])


def test_train_yields_events_and_loss_decreases():
    events = list(train(tiny_vae(), synthetic_images(), epochs=3, batch_size=32, lr=3e-3, seed=0, log_every=4))
    steps = [e for e in events if isinstance(e, TrainStep)]
    assert len(steps) == 3 * 8 and [s.step for s in steps] == list(range(1, 25))
    assert {"elbo", "recon", "kl"} <= steps[0].metrics.keys()
    assert all(s.grad_norm > 0 and s.samples_per_s > 0 and s.lr == pytest.approx(3e-3) for s in steps)
    assert np.mean([s.loss for s in steps[-4:]]) < 0.7 * np.mean([s.loss for s in steps[:4]])
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress[-1].done == progress[-1].total == 24
    assert [e.epoch for e in events if isinstance(e, EpochEnd)] == [1, 2, 3]
    assert isinstance(events[-1], Done) and events[-1].result["steps"] == 24


def test_same_seed_same_weights():
    a, b = tiny_vae(), tiny_vae()
    for model in (a, b):
        run_training(model, synthetic_images(64), epochs=1, batch_size=16, lr=1e-3, seed=5)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_validation_and_checkpoint_every_epoch(tmp_path):
    path = tmp_path / "run" / "m.safetensors"
    val = synthetic_images(40, seed=1).reshape(40, -1) >= 128  # already binary: bool -> 0/1 floats
    events = list(train(tiny_vae(), synthetic_images(64), val_data=val.astype(np.float32), epochs=2, batch_size=32,
                        lr=1e-3, seed=0, checkpoint_path=path, data_info={"dataset": "synthetic"}))
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [s.step for s in saved] == [2, 4] and saved[-1].path == str(path)
    assert "loss" in [e for e in events if isinstance(e, EpochEnd)][-1].val
    config = read_config(path)
    assert config["training"]["dynamic_binarization"] is True and config["training"]["epochs_done"] == 2
    assert config["data"] == {"dataset": "synthetic"} and "val" in config["metrics"]
    assert isinstance(load_model(path, expected_kind="vae"), VAE)


class NanAtStep3(nn.Module):
    kind = "nan"

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(1))
        self.calls = 0

    def hparams(self):
        return {}

    def loss(self, x):
        self.calls += 1
        return (self.w * x.mean()).sum() * (float("nan") if self.calls == 3 else 1.0)


def test_nan_loss_stops_with_error_naming_the_step():
    model = NanAtStep3()
    with pytest.raises(GenScopeError, match="step 3") as info:
        run_training(model, synthetic_images(64), epochs=1, batch_size=8, lr=0.1, seed=0)
    assert isinstance(info.value, TrainingDiverged) and info.value.step == 3
    assert model.w.grad is None or torch.isfinite(model.w.grad).all()


def test_bad_settings_are_config_errors():
    with pytest.raises(GenScopeError):
        run_training(tiny_vae(), synthetic_images(8), epochs=0, batch_size=4, lr=1e-3, seed=0)
    with pytest.raises(GenScopeError):
        run_training(tiny_vae(), synthetic_images(8), epochs=1, batch_size=4, lr=-1.0, seed=0)


# --------------------------------------------------------------------------- CLI on a synthetic data folder


def write_idx(path, array: np.ndarray) -> None:
    header = struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def data_folder(tmp_path):
    root = tmp_path / "data"
    (root / "mnist").mkdir(parents=True)
    (root / "binarized_mnist").mkdir()
    for prefix, n in (("train", 96), ("t10k", 20)):
        write_idx(root / "mnist" / f"{prefix}-images-idx3-ubyte.gz", synthetic_images(n))
        write_idx(root / "mnist" / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    for split in ("valid", "test"):
        rows = (synthetic_images(20, seed=2).reshape(20, -1) >= 128).astype(int)
        text = "".join(" ".join(map(str, r)) + "\n" for r in rows)
        (root / "binarized_mnist" / f"binarized_mnist_{split}.amat").write_text(text)
    return root


@pytest.fixture
def run_cli(monkeypatch):
    present = {command[0] for command in cli.COMMANDS}
    extra = [c for c in (TRAIN_COMMAND, EVAL_COMMAND, CODES_COMMAND) if c[0] not in present]
    monkeypatch.setattr(cli, "COMMANDS", [*cli.COMMANDS, *extra])  # registered by cli.py itself once wired
    return cli.main


def test_train_and_eval_cli(run_cli, data_folder, tmp_path, capsys):
    out = tmp_path / "vae.safetensors"
    args = ["--data", str(data_folder), "--device", "cpu", "train", "vae", "--epochs", "1", "--hidden", "16",
            "--batch-size", "32", "--out", str(out)]
    assert run_cli(args) == 0
    model = load_model(out, expected_kind="vae")
    assert model.hparams()["hidden"] == [16]
    assert read_config(out)["data"]["license"] == "CC BY-SA 3.0"
    assert run_cli(["--data", str(data_folder), "eval", "vae", "--checkpoint", str(out), "--k", "5", "--save"]) == 0
    printed = capsys.readouterr().out
    assert "log_likelihood" in printed and "elbo" in printed
    test = read_config(out)["metrics"]["test"]
    assert test["test_images"] == 20 and test["k"] == 5 and test["log_likelihood"] < 0
    card = out.with_suffix(".md").read_text()
    assert "CC BY-SA 3.0" in card and f"{test['log_likelihood']:.2f}" in card


def test_eval_wrong_kind_is_one_line_error(run_cli, data_folder, tmp_path, capsys):
    out = tmp_path / "p.safetensors"
    assert run_cli(["--data", str(data_folder), "train", "ppca", "--out", str(out)]) == 0
    assert run_cli(["--data", str(data_folder), "eval", "vae", "--checkpoint", str(out)]) == 2
    assert "'ppca' checkpoint" in capsys.readouterr().err


def test_ppca_eval_and_card(run_cli, data_folder, tmp_path):
    out = tmp_path / "ppca.safetensors"
    assert run_cli(["--data", str(data_folder), "train", "ppca", "--out", str(out)]) == 0
    assert run_cli(["--data", str(data_folder), "eval", "ppca", "--checkpoint", str(out), "--k", "10", "--save"]) == 0
    test = read_config(out)["metrics"]["test"]
    assert test["log_likelihood_is"] == pytest.approx(test["log_likelihood"], abs=1e-6)
    assert "NOT comparable" in out.with_suffix(".md").read_text()


def test_latent_codes_and_card_without_metrics(tmp_path):
    images, labels = synthetic_images(30), np.arange(30) % 10
    codes = latent_codes({"vae": tiny_vae()}, images, labels)
    assert codes["vae_mu"].shape == codes["vae_logvar"].shape == (30, 2) and codes["labels"].dtype == np.uint8
    model = tiny_vae()
    card = write_model_card(tmp_path / "x.md", "x", {"kind": "vae", "hparams": model.hparams()})
    assert "Not evaluated yet" in card.read_text()
