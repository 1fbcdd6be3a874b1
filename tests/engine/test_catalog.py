"""The catalog of model kinds: CLI defaults come from it, options are range-checked, a new kind plugs in, one printer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import engine.cli.main as cli
from engine.catalog import KINDS, Kind, Option, build_model, get, load_model, presets, register, unregister
from engine.checkpoints import read_config
from engine.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_train_without_settings_uses_the_kinds_catalog_defaults(tmp_path):
    """Issue 11: argparse's defaults (30 epochs, batch 128) used to override the PixelCNN's (2 epochs, batch 32)."""
    run = tmp_path / "pcnn"
    assert cli.main(["--device", "cpu", "train", "pixelcnn", "--dataset", "generated", "--limit", "40", "--channels",
                     "4", "--layers", "2", "--max-steps", "1", "--threads", "1", "--run-dir", str(run)]) == 0
    settings = json.loads((run / "config.json").read_text())["settings"]
    want = get("pixelcnn").settings
    assert (settings["epochs"], settings["batch_size"], settings["lr"]) == (want["epochs"], want["batch_size"], want["lr"])
    assert settings["sample_every"] == want["sample_every"] and settings["sample_count"] == want["sample_count"]


def test_options_are_checked_against_the_table_before_anything_is_built(tmp_path, capsys):
    run = tmp_path / "bad"
    assert cli.main(["train", "pixelcnn", "--channels", "0", "--dataset", "generated", "--run-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --channels must be between 1 and 1024") and err.count("\n") == 1
    assert not run.exists()
    with pytest.raises(ConfigError, match="--hidden"):
        get("vae").hparams_from({"hidden": [16, 0]})
    assert get("vae").hparams_from({}) == {"latent_dim": 2, "arch": "mlp", "hidden": [512, 256], "activation": "elu",
                                          "beta": 1.0}


def test_every_preset_builds_and_every_kind_names_its_functions():
    for label, (kind, hparams) in presets().items():
        from_data = {name: "ab" for name in KINDS[kind].from_data}  # e.g. a vocabulary, which the data set supplies
        assert build_model(kind, {**hparams, **from_data}).kind == kind, label
    for entry in KINDS.values():
        for ref in (entry.train, entry.evaluate, entry.card):
            assert ref is None or callable(__import__("engine.catalog").catalog.resolve(ref))


class Pixels(nn.Module):
    """A toy kind defined here: independent Bernoulli pixels, one learned logit each (images (N, 28, 28))."""

    kind = "toy_pixels"

    def __init__(self, bias: float = 0.0):
        super().__init__()
        self.bias = bias
        self.logits = nn.Parameter(torch.full((784,), float(bias)))

    def hparams(self) -> dict:
        return {"bias": self.bias}

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        nll = nn.functional.binary_cross_entropy_with_logits(self.logits.expand(len(x), -1), x.reshape(len(x), -1),
                                                             reduction="none").sum(1).mean()
        return nll, {"bits_per_dim": nll.detach() / (784 * 0.6931471805599453)}


@pytest.fixture
def toy_kind():
    register(Kind("toy_pixels", Pixels, (Option("bias", 0.0, float, "initial logit", -10, 10),),
                  {"epochs": 1, "batch_size": 8, "lr": 0.05, "sample_every": 0, "checkpoint_every": 0},
                  ("generated",), {"Toy pixels": {"bias": 0.0}}, metrics={"bits_per_dim": "bits/dim"}))
    yield get("toy_pixels")
    unregister("toy_pixels")


def test_a_kind_registered_in_a_test_trains_through_the_cli(toy_kind, tmp_path):
    assert "Toy pixels" in presets()
    run, out = tmp_path / "toy", tmp_path / "toy.safetensors"
    assert cli.main(["--device", "cpu", "train", "toy_pixels", "--bias", "0.5", "--dataset", "generated", "--limit",
                     "16", "--run-dir", str(run), "--out", str(out)]) == 0
    model = load_model(out, expected_kind="toy_pixels")
    assert model.hparams() == {"bias": 0.5} and not torch.allclose(model.logits, torch.full((784,), 0.5))
    config = json.loads((run / "config.json").read_text())
    assert config["settings"]["batch_size"] == 8 and config["settings"]["lr"] == 0.05


def test_a_registered_kind_trains_to_a_file_and_evaluates_with_the_generic_functions(toy_kind, tmp_path, capsys):
    out = tmp_path / "toy.safetensors"
    assert cli.main(["--device", "cpu", "train", "toy_pixels", "--limit", "24", "--out", str(out)]) == 0
    config = read_config(out)
    assert config["training"]["epochs_done"] == 1 and config["data"]["dataset"] == "generated shapes"
    assert cli.main(["eval", "toy_pixels", "--checkpoint", str(out), "--save"]) == 0
    test = read_config(out)["metrics"]["test"]
    assert 0 < test["bits_per_dim"] < 1.5 and test["nll_nats"] == pytest.approx(test["loss"])
    assert "nll_nats" in capsys.readouterr().out and not out.with_suffix(".md").exists()  # no card writer
    assert cli.main(["train", "toy_pixels", "--dataset", "mnist", "--out", str(out)]) == 2
    assert "not 'mnist'" in capsys.readouterr().err


def test_piped_training_output_is_whole_lines(tmp_path):
    """One printer (tqdm): piped to a file, no carriage-return updates run together."""
    err = tmp_path / "err.txt"
    with open(err, "w") as f:
        code = subprocess.run([sys.executable, "-m", "engine", "--device", "cpu", "train", "vae", "--dataset",
                               "generated", "--limit", "48", "--hidden", "8", "--batch-size", "16", "--epochs", "1",
                               "--threads", "1", "--run-dir", str(tmp_path / "run")], cwd=ROOT, stderr=f,
                              stdout=subprocess.DEVNULL).returncode
    text = err.read_text()
    assert code == 0 and "\r" not in text and "epoch 1:" in text
    with open(err, "w") as f:
        code = subprocess.run([sys.executable, "-m", "engine", "train", "vae", "--dataset", "generated", "--run-dir",
                               str(tmp_path / "run")], cwd=ROOT, stderr=f, stdout=subprocess.DEVNULL).returncode
    assert code == 2 and err.read_text().startswith("error: ") and err.read_text().count("\n") == 1


def test_a_registered_data_set_feeds_a_registered_kind(tmp_path):
    import numpy as np

    from engine.training.data import _LOADERS, RunData, register_dataset

    def rows(spec):
        x = np.random.default_rng(spec.seed).random((40, 784)) < 0.3
        return RunData(x[:32], x[32:], None, False, {"dataset": "toy rows"})

    class RowPixels(Pixels):
        kind = "toy_rows_model"

    register_dataset("toy_rows", rows)
    register(Kind("toy_rows_model", RowPixels, (), {"epochs": 2, "batch_size": 16, "lr": 0.1}, ("toy_rows",)))
    try:
        out = tmp_path / "t.safetensors"
        assert cli.main(["train", "toy_rows_model", "--out", str(out)]) == 0
        assert read_config(out)["data"]["dataset"] == "toy rows" and read_config(out)["training"]["epochs_done"] == 2
        assert cli.main(["eval", "toy_rows_model", "--checkpoint", str(out)]) == 0
    finally:
        unregister("toy_rows_model")
        _LOADERS.pop("toy_rows")


def test_resume_takes_the_runs_settings_and_what_the_command_line_changes(tmp_path, capsys):
    run = tmp_path / "vae"
    base = ["--device", "cpu", "train", "vae", "--run-dir", str(run)]
    assert cli.main([*base, "--dataset", "generated", "--limit", "32", "--hidden", "8", "--batch-size", "16",
                     "--epochs", "1", "--sample-every", "0"]) == 0
    assert "finished at step 2" in capsys.readouterr().out
    assert cli.main([*base, "--resume", "--epochs", "2"]) == 0  # the README's "--resume --epochs 20"
    assert "finished at step 4" in capsys.readouterr().out


def test_the_apps_views_read_their_kinds_from_the_catalog(toy_kind):
    from engine.catalog import kinds_for

    assert kinds_for("latent") == ("vae", "autoencoder", "ppca")
    assert kinds_for("images") == ("pixelcnn", "nade", "made") and kinds_for("audio") == ("wavenet",)
    register(Kind("toy_images", Pixels, (), {"epochs": 1}, ("generated",), views=("images",)))
    try:
        assert kinds_for("images") == ("pixelcnn", "nade", "made", "toy_images")
    finally:
        unregister("toy_images")
