"""A bench never reports a figure it cannot measure (bench/wavenet.py's underruns), and reports the median of its
repeats (bench/training.py)."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_underruns_are_null_with_a_reason_without_a_clocked_sink():
    wavenet = load("wavenet")
    count, reason = wavenet.measured_underruns(336700, clocked=False, error="")
    assert count is None and "faster than real time" in reason and "jackd" in reason
    count, reason = wavenet.measured_underruns(0, clocked=False, error="PortAudio: no device")
    assert count is None and "PortAudio: no device" in reason
    assert wavenet.measured_underruns(3, clocked=True, error="") == (3, None)


def test_training_overhead_is_the_median_of_paired_runs(monkeypatch, tmp_path):
    training = load("training")
    heads = iter([100.0, 50.0, 100.0, 90.0, 100.0])
    guis = iter([95.0, 49.0, 80.0, 81.0, 20.0])  # overheads 0.05, 0.02, 0.2, 0.1, 0.8
    monkeypatch.setattr(training, "headless", lambda root, config: next(heads))
    monkeypatch.setattr(training, "monitored", lambda root, config: (next(guis), [1.0] * 10, 0.05))
    figures = training.measure(training.CONFIGS["vae"], 5)
    assert figures["monitor_overhead"] == 0.1
    assert figures["runs_overhead"] == [0.05, 0.02, 0.2, 0.1, 0.8]
    assert figures["overhead_of_medians"] == round(1 - 80.0 / 100.0, 4) and figures["gui_cpu_share"] == 0.05
