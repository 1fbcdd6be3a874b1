"""The command line: help lists commands; info reports the environment."""

import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.device import DeviceError, select_device

ROOT = Path(__file__).resolve().parents[2]


def test_help_lists_subcommands():
    out = subprocess.run([sys.executable, "-m", "engine", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("info", "download", "inspect"):
        assert cmd in out.stdout


def test_info_reports_versions_device_data_and_models(capsys, tmp_path):
    assert main(["--data", str(tmp_path), "info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "Device:" in out and str(tmp_path) in out
    assert "mnist" in out and "missing" in out
    assert "Bundled models" in out


def test_bad_device_is_one_line_error(capsys):
    assert main(["--device", "tpu", "info"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "tpu" in err and err.count("\n") == 1


def test_inspect_corrupt_checkpoint(capsys, tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"\xff" * 10)
    assert main(["inspect", str(bad)]) == 2
    assert "x.safetensors" in capsys.readouterr().err


def test_device_selection_order(monkeypatch):
    monkeypatch.delenv("GENSCOPE_DEVICE", raising=False)
    assert select_device().type in ("cuda", "mps", "cpu")
    monkeypatch.setenv("GENSCOPE_DEVICE", "cpu")
    assert select_device().type == "cpu"
    assert select_device("cpu").type == "cpu"
    with pytest.raises(DeviceError):
        select_device("nonsense")


def test_seed_helper_repeats():
    import torch

    from engine.device import make_generator, seed_everything

    a = torch.rand(3, generator=seed_everything(7))
    b = torch.rand(3, generator=make_generator(7))
    assert torch.equal(a, b)


def test_eval_half_needs_save_and_writes_nothing_without_it(tmp_path, capsys):
    import torch

    from engine.checkpoints import load_checkpoint, save_checkpoint
    from engine.models.made import MADE

    model = MADE(height=4, width=4, hidden=[8])
    config = {"kind": "made", "hparams": model.hparams()}
    path = save_checkpoint(tmp_path / "made.safetensors", model.state_dict(), config)
    before = path.read_bytes()
    assert main(["eval", "made", "--checkpoint", str(path), "--half"]) == 2
    assert "--half" in capsys.readouterr().err and path.read_bytes() == before
    assert main(["eval", "nade", "--checkpoint", str(path), "--save", "--half"]) == 2  # wrong kind: refused first
    state = load_checkpoint(path).state_dict
    assert path.read_bytes() == before and all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())
