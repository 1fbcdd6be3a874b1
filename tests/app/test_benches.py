"""Every benchmark script still runs to its JSON line (short settings; the figures are not judged here).

The benches drive the real pages and workers, so an app change can break them
without any other test noticing: bench/pixelcnn.py once waited forever for a
model that had moved to the Sampler's own worker.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

BENCHES = {
    "latent": (["bench/latent.py"], ["decode_p99_ms", "drag_fps"]),
    "latent_prior": (["bench/latent_prior.py", "--limit", "50", "--train-limit", "2000", "--k", "5",
                      "--flow-epochs", "1"],
                     ["elbo_normal", "elbo_gmm", "elbo_maf", "iwae_maf", "gap_narrowed_nats", "prior_gap_maf",
                      "prior_gap_narrowed_nats"]),
    "gmm": (["bench/gmm.py", "--quick", "--repeats", "1"], ["ratio_iter_vs_sklearn_2d", "anim_fps"]),
    "flows": (["bench/flows.py", "--quick", "--repeats", "1"], ["maf_moons_ll", "gmm_moons_ll", "iaf_moons_ll",
                                                               "maf_density_ms", "iaf_sample_ms", "direction_curve",
                                                               "maf_minus_gmm_moons", "targets_met"]),
    "pixelcnn": (["bench/pixelcnn.py", "--repeats", "1"], ["speedup_fast_vs_naive", "paint_fps"]),
    "wavenet": (["bench/wavenet.py", "--repeats", "1", "--seconds", "0.5", "--naive-samples", "50",
                 "--stream-seconds", "1"], ["realtime_factor", "speedup_vs_naive", "underruns"]),
    "transformer": (["bench/transformer.py", "--repeats", "1", "--test-limit", "3000", "--gui-chars", "120"],
                    ["test_bits_per_char", "kv_cache_speedup", "chars_per_s", "text_event_loop_p99_ms"]),
    "training": (["bench/training.py", "--repeats", "1"], ["monitor_overhead", "wavenet_monitor_overhead",
                                                           "event_loop_p99_ms"]),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_bench_prints_its_figures(name):
    args, keys = BENCHES[name]
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=200)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    missing = [k for k in keys if k not in figures]
    assert not missing, f"{name}: no {missing} in {sorted(figures)}"
