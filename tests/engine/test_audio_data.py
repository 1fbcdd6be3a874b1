"""Audio data: reading and converting files, FSDD split and labels, generated clips, training rows, the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from engine.data.sound import read_audio, resample, write_wav
from engine.cli.main import main
from engine.data.audio import clip_rows, generated_audio, load_audio_folder, load_fsdd, parse_fsdd_name
from engine.data.folder import shared_data_dir
from engine.errors import DataError

SHARED = shared_data_dir()


def test_stereo_44k_is_mixed_and_resampled_with_notes(tmp_path):
    t = np.arange(44100) / 44100
    left = 0.5 * np.sin(2 * np.pi * 440 * t)
    sf.write(tmp_path / "a.wav", np.stack([left, left], 1), 44100)
    clip = read_audio(tmp_path / "a.wav", 8000)
    assert clip.rate == 8000 and len(clip.audio) == 8000
    assert any("mono" in n for n in clip.notes) and any("44100 Hz -> 8000 Hz" in n for n in clip.notes)
    spectrum = np.abs(np.fft.rfft(clip.audio[1000:7000]))
    assert abs(np.argmax(spectrum) * 8000 / 6000 - 440) < 3  # the pitch survives resampling


def test_resample_keeps_length_ratio_and_level():
    x = np.sin(np.linspace(0, 200, 16000)).astype(np.float32) * 0.3
    y = resample(x, 16000, 8000)
    assert len(y) == 8000 and abs(np.abs(y).max() - 0.3) < 0.02


@pytest.mark.parametrize("content", [b"", b"RIFF\x00\x00garbage not audio"])
def test_unreadable_audio_names_the_file(tmp_path, content):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(content)
    with pytest.raises(DataError, match="broken.wav"):
        read_audio(bad, 8000)


def test_empty_wav_is_refused(tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(0), 8000)
    with pytest.raises(DataError, match="silent.wav.*no samples"):
        read_audio(tmp_path / "silent.wav", 8000)


def test_write_wav_is_atomic_and_round_trips(tmp_path):
    audio = np.linspace(-0.5, 0.5, 800, dtype=np.float32)
    path = write_wav(tmp_path / "out" / "x.wav", audio, 8000)
    back, rate = sf.read(path, dtype="float32")
    assert rate == 8000 and np.abs(back - audio).max() < 1e-4
    assert [p.name for p in path.parent.iterdir()] == ["x.wav"]


def test_folder_loader_reads_fsdd_names_as_digits(tmp_path):
    for name in ("3_theo_1.wav", "5_george_9.wav"):
        sf.write(tmp_path / name, np.zeros(100) + 0.1, 8000)
    data = load_audio_folder(tmp_path, 8000)
    assert data.labels.tolist() == [3, 5] and len(data.clips) == 2
    with pytest.raises(DataError, match="No audio files"):
        load_audio_folder(tmp_path / "nothing", 8000) if (tmp_path / "nothing").mkdir() is None else None


def test_parse_fsdd_name():
    assert parse_fsdd_name("7_theo_12.wav") == (7, "theo", 12)
    assert parse_fsdd_name("notes.wav") is None


@pytest.mark.skipif(SHARED is None or not (SHARED / "fsdd").is_dir(), reason="needs ../shared/data/fsdd")
def test_fsdd_official_split():
    test = load_fsdd(SHARED, "test", "speaker")
    assert len(test.clips) == 300 and test.rate == 8000
    assert sorted(np.bincount(test.labels).tolist()) == [50] * 6
    train = load_fsdd(SHARED, "train", "digit", limit=20)
    assert len(train.clips) == 20 and train.labels.max() <= 9


def test_fsdd_missing_says_how_to_get_it(tmp_path):
    with pytest.raises(DataError, match="download fsdd"):
        load_fsdd(tmp_path)


def test_generated_audio_and_rows():
    data = generated_audio(6, seconds=0.1, seed=0)
    assert len(data.clips) == 6 and all(np.abs(c).max() <= 0.61 for c in data.clips)
    rows = clip_rows(data, 300)
    assert rows.shape == (6 * 3, 301) and rows.dtype == np.int16
    assert set(rows[:, -1]) <= set(data.labels.tolist())
    short = clip_rows(data, 1000, with_labels=False)
    assert short.shape == (6, 1000) and np.all(short[:, -1] == 128)


def test_cli_trains_evaluates_and_samples_a_tiny_wavenet(tmp_path, capsys):
    ckpt = tmp_path / "wn.safetensors"
    args = ["train", "wavenet", "--dataset", "generated_audio", "--epochs", "1", "--limit", "8", "--batch-size", "4",
            "--residual", "4", "--skip", "8", "--layers-per-stack", "3", "--segment", "256", "--out", str(ckpt)]
    assert main(args) == 0 and ckpt.exists()
    out = tmp_path / "note.wav"
    assert main(["sample", "wavenet", "--checkpoint", str(ckpt), "--seconds", "0.05", "--digit", "3",
                 "--strategy", "top-k", "--top-k", "5", "--out", str(out)]) == 0
    audio, rate = sf.read(out)
    assert rate == 8000 and len(audio) == 400 and "real time" in capsys.readouterr().out
    assert main(["sample", "wavenet", "--checkpoint", str(ckpt), "--strategy", "beam", "--beam-width", "2",
                 "--out", str(out)]) == 2
    assert "Beam search is not offered" in capsys.readouterr().err


def test_resample_matches_the_analytic_signal_inside_the_clip():
    """soxr's band-limited resampling of a 440 Hz tone equals the tone sampled at the new rate."""
    t_in, t_out = np.arange(16000) / 16000, np.arange(8000) / 8000
    y = resample((0.5 * np.sin(2 * np.pi * 440 * t_in + 0.7)).astype(np.float32), 16000, 8000)
    assert np.abs(y - 0.5 * np.sin(2 * np.pi * 440 * t_out + 0.7))[20:-20].max() < 5e-3


@pytest.mark.parametrize(("n", "rate"), [(1, 48000), (2, 44100), (5, 16000)])
def test_very_short_files_are_resampled_not_crashed(tmp_path, n, rate):
    path = tmp_path / "tiny.wav"
    write_wav(path, np.full(n, 0.25, np.float32), rate)
    clip = read_audio(path, 8000)
    assert len(clip.audio) == max(1, round(n * 8000 / rate)) and np.isfinite(clip.audio).all()


def test_reading_only_the_first_seconds(tmp_path):
    path = tmp_path / "long.wav"
    write_wav(path, np.linspace(-0.5, 0.5, 16000 * 4).astype(np.float32), 16000)
    clip = read_audio(path, 8000, seconds=0.25)
    assert len(clip.audio) == 2000 and clip.audio.mean() < -0.45  # only the start of the ramp was read
    with pytest.raises(DataError, match="positive number of seconds"):
        read_audio(path, 8000, seconds=float("nan"))
