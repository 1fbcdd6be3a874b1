"""Benchmark: PixelCNN sampling speed, fast (row cache + compiled step) against naive (full pass per pixel).

One CPU thread (torch.set_num_threads(1)), the bundled model
assets/pixelcnn.safetensors when present, else a random-weight model of the
same default size (the JSON says which). Both samplers draw the same 28x28
image from the same seed; the bench checks they are identical.

- ``sample_s``: one image, fast sampler (median of ``--repeats``), target <= 1.0
- ``naive_s`` and ``speedup_fast_vs_naive`` = naive_s / sample_s, target >= 10
- ``batch16_s``: 16 images at once, fast sampler, target <= 5
- ``first_call_s``: the first fast image of the process (includes loading the
  compiled numba step from its cache, or compiling it on a fresh checkout)

    python bench/pixelcnn.py [--repeats 3] [--strategy top-p --top-p 0.9]

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.assets import ASSETS_DIR  # noqa: E402
from engine.decoding import make_strategy  # noqa: E402
from engine.models import pixelcnn_kernels  # noqa: E402
from engine.models.pixelcnn import PixelCNN  # noqa: E402
from engine.models.registry import load_model  # noqa: E402
from engine.pixel_sampling import sample  # noqa: E402


def bench_model() -> tuple[PixelCNN, str]:
    """The bundled PixelCNN, or a same-size random-weight one."""
    path = ASSETS_DIR / "pixelcnn.safetensors"
    if path.exists():
        return load_model(path, expected_kind="pixelcnn"), "assets/pixelcnn.safetensors"
    torch.manual_seed(0)
    return PixelCNN(channels=32, layers=6).eval(), "random weights (no bundled assets/pixelcnn.safetensors)"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategy", default="sample")
    parser.add_argument("--top-p", type=float, default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    strategy = make_strategy(args.strategy, top_p=args.top_p)
    model, source = bench_model()

    first_s, _ = timed(lambda: sample(model, 1, strategy=strategy, seed=0))
    fast = [timed(lambda: sample(model, 1, strategy=strategy, seed=1)) for _ in range(args.repeats)]
    sample_s = statistics.median(t for t, _ in fast)
    print(f"fast sampler: {sample_s:.3f} s per image (first call {first_s:.2f} s)", file=sys.stderr)
    naive_s, naive = timed(lambda: sample(model, 1, strategy=strategy, seed=1, method="naive"))
    print(f"naive sampler: {naive_s:.2f} s per image", file=sys.stderr)
    batch16_s, _ = timed(lambda: sample(model, 16, strategy=strategy, seed=2))
    print(f"16 images: {batch16_s:.2f} s", file=sys.stderr)
    result = {
        "bench": "pixelcnn_sampling",
        "model": source,
        "hparams": model.hparams(),
        "strategy": strategy.describe(),
        "threads": torch.get_num_threads(),
        "compiled_step": bool(pixelcnn_kernels.HAVE_NUMBA),
        "sample_s": round(sample_s, 4),
        "naive_s": round(naive_s, 3),
        "speedup_fast_vs_naive": round(naive_s / sample_s, 1),
        "batch16_s": round(batch16_s, 3),
        "first_call_s": round(first_s, 3),
        "naive_equals_fast": bool(np.array_equal(naive.image, fast[0][1].image)),
        "targets": {"sample_s": 1.0, "speedup_fast_vs_naive": 10, "batch16_s": 5},
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
