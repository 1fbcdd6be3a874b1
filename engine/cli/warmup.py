"""``python -m engine warmup``: compile the numba kernels now, so the first painting or generation starts at once.

numba compiles a kernel on its first call and caches the machine code next
to the source (``engine/models/__pycache__``); later processes load it in
well under a second. On a fresh checkout the first compile takes about
20 s per model family on a busy 2-core machine, so ``make`` runs
``python -m engine warmup`` once after installing. The kernels' types do
not depend on the sizes of the arrays, so tiny random models compile the
same code the bundled ones use.
"""

from __future__ import annotations

import argparse
import time

import torch

from engine.models.jit import HAVE_NUMBA


def warm_up_kernels() -> dict[str, float]:
    """Compile (or load from cache) the PixelCNN and WaveNet kernels; seconds each, {} without numba."""
    if not HAVE_NUMBA:
        return {}
    from engine.models.pixelcnn import PixelCNN
    from engine.models.wavenet import WaveNet
    from engine.sampling.pixelcnn import sample
    from engine.sampling.wavenet import generate

    seconds = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        start = time.perf_counter()
        generate(WaveNet(levels=16, residual=2, skip=2, layers_per_stack=2, stacks=1, cond_classes=2).eval(),
                 4 / 8000, label=0)
        seconds["wavenet"] = time.perf_counter() - start
        start = time.perf_counter()
        sample(PixelCNN(channels=2, layers=2, height=4, width=4).eval(), 1, seed=0)
        seconds["pixelcnn"] = time.perf_counter() - start
    return seconds


def cmd_warmup(args: argparse.Namespace) -> int:
    seconds = warm_up_kernels()
    if not seconds:
        print("numba is not installed: the samplers use their torch paths (slower, same results).")
    for name, s in seconds.items():
        print(f"{name} kernels ready in {s:.1f} s")
    return 0


WARMUP_COMMAND = ("warmup", "compile the PixelCNN and WaveNet kernels now (once per checkout; make does it)",
                  lambda p: None, cmd_warmup)
