"""The fault suite, part two (issue #13): audio files, training runs, progress lines, real processes.

Refusals are checked as in ``test_faults.py`` (:func:`refused`): exit status 2, one ``error:`` line, no
traceback, bounded time and memory, the user's files unchanged. Two cases run in a subprocess whose address
space is capped, so an attempt to allocate gigabytes fails the test instead of the machine.
"""

from __future__ import annotations

import os
import resource
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.checkpoints import load_checkpoint
from engine.cli.main import main
from engine.errors import DataError
from tests.engine.test_faults import ASSETS, ROOT, crafted, old_png, refused  # noqa: F401 (old_png: a fixture)


# --------------------------------------------------------------------------- audio

def wav_header(rate: int, data_bytes: int) -> bytes:
    """A 16-bit mono PCM WAV header announcing ``data_bytes`` of samples."""
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16) + b"data" + struct.pack("<I", data_bytes))


@pytest.fixture
def huge_wav(tmp_path) -> Path:
    """A sparse 2 GB WAV: 18 hours of 16 kHz silence that takes no disk space."""
    path = tmp_path / "hour.wav"
    with open(path, "wb") as f:
        f.write(wav_header(16000, 2**31 - 64))
        f.truncate(44 + 2**31 - 64)
    return path


def test_a_huge_audio_file_is_refused_unread_and_priming_reads_only_its_start(tmp_path, capsys, huge_wav):
    from engine.data.sound import read_audio

    with pytest.raises(DataError, match="more than the"):
        read_audio(huge_wav, 8000)
    out = tmp_path / "out.wav"
    start = time.perf_counter()
    code = main(["sample", "wavenet", "--prime", str(huge_wav), "--prime-seconds", "0.25", "--seconds", "0.01",
                 "--out", str(out)])
    assert code == 0 and time.perf_counter() - start < 20  # reading and resampling 18 hours took minutes
    assert out.stat().st_size < 10_000
    capsys.readouterr()
    lying = tmp_path / "lie.wav"  # a header announcing 2 GB in front of 100 bytes
    lying.write_bytes(wav_header(8000, 2**31) + bytes(100))
    assert len(read_audio(lying, 8000).audio) == 50


@pytest.mark.parametrize("rate, samples", [(48000, 1), (44100, 2)])
def test_very_short_clips_prime_and_load_as_a_folder(tmp_path, capsys, rate, samples):
    import soundfile as sf

    from engine.data.audio import load_audio_folder

    (tmp_path / "clips").mkdir()
    clip = tmp_path / "clips" / "short.wav"
    sf.write(clip, np.full(samples, 0.5, np.float32), rate)
    assert [len(c) for c in load_audio_folder(tmp_path / "clips", 8000).clips] == [1]
    out = tmp_path / "out.wav"
    assert main(["sample", "wavenet", "--prime", str(clip), "--seconds", "0.01", "--out", str(out)]) == 0
    assert "resampled" in capsys.readouterr().err and out.exists()


# --------------------------------------------------------------------------- training runs

def test_resume_takes_new_epochs_and_says_so(tmp_path, capsys):
    run = tmp_path / "run"
    base = ["train", "vae", "--run-dir", str(run), "--threads", "1"]
    assert main([*base, "--dataset", "generated", "--limit", "32", "--hidden", "8", "--batch-size", "16",
                 "--epochs", "1"]) == 0
    capsys.readouterr()
    assert main([*base, "--resume", "--epochs", "2", "--hidden", "64"]) == 0
    out, err = capsys.readouterr()
    assert "finished at step 4" in out
    assert "epochs 1 -> 2" in err and "ignored: hidden" in err


def test_a_diverged_runs_checkpoint_records_the_step_of_its_weights(tmp_path):
    from engine.training.runs import Diverged, run_training
    from tests.engine.test_runs import DATA, HP, BadAtStep, settings

    torch.manual_seed(0)
    model = BadAtStep(2, "loss", **HP)
    first = {k: v.clone() for k, v in model.state_dict().items()}
    events = run_training(tmp_path / "run", model=model, data=DATA, settings=settings(checkpoint_every=50))
    assert next(e for e in events if isinstance(e, Diverged)) == Diverged(2, "loss", 0)
    events.close()
    saved = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert saved.config["step"] == 0 and saved.config["resume"]["step"] == 0
    assert all(torch.equal(saved.state_dict[k], v) for k, v in first.items())


# --------------------------------------------------------------------------- a real process, memory capped

def _capped(argv: list) -> subprocess.CompletedProcess:
    def cap() -> None:  # 6 GiB of address space: torch and numba fit, a 100 GB allocation does not
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", *map(str, argv)], capture_output=True, text=True,
                          preexec_fn=cap, env=env, timeout=120, cwd=ROOT)


@pytest.mark.parametrize("case", ["channels", "images"])
def test_refusals_in_a_real_process_with_capped_memory(tmp_path, old_png, case):
    ckpt = crafted(tmp_path, "pixelcnn", channels=10**7) if case == "channels" else ASSETS / "pixelcnn.safetensors"
    extra = ["-n", "1000000"] if case == "images" else []
    result = _capped(["sample", "pixelcnn", "--checkpoint", ckpt, *extra, "--out", old_png])
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr
    assert old_png.read_bytes() == b"the user's picture"


def test_the_error_line_starts_after_the_progress_bar_is_cleared(monkeypatch, capsys):
    import io

    import engine.data.download as download
    from engine.events import DownloadProgress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def failing(name, folder, base_url=None):
        yield DownloadProgress(done=100, total=1000, filename="train.gz")
        raise DataError("The mirror sent a file whose sha256 does not match.")

    terminal = Terminal()
    monkeypatch.setattr(download, "download_dataset", failing)
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["download", "mnist", "--data", "/nonexistent/data"]) == 2
    bar, _, last = terminal.getvalue().rpartition("\r")
    assert "train.gz" in bar and last == "error: The mirror sent a file whose sha256 does not match.\n"


def test_a_run_folder_does_not_silently_ignore_an_audio_folder(tmp_path, capsys):
    line = refused(capsys, ["train", "wavenet", "--audio-folder", tmp_path, "--run-dir", tmp_path / "run"])
    assert "--audio-folder" in line and not (tmp_path / "run").exists()
