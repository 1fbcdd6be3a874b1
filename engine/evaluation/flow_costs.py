"""Measured costs of autoregressive flows as the dimension D grows, on random flows, one torch thread.

- :func:`logdet_costs`: the log-determinant as the O(D) sum of the
  log-scales (one density pass, which yields it) against ``slogdet`` of the
  full D x D Jacobian built by autograd (D backward passes, then O(D^3)).
- :func:`direction_costs`: a MAF and an IAF of the same size, time per
  density evaluation and per sample of ``n`` points: each is one pass per
  layer in its fast direction and D passes in the other.

Both return one row (a dict) per D, for ``bench/flows.py`` and the Density
lab's live curves. Times are medians of ``repeats`` runs, in milliseconds.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable

import torch

from engine.device import torch_threads
from engine.models.flows import IAF, MAF

COST_DIMS = (2, 8, 32, 128, 512, 1024)


def median_ms(fn: Callable[[], object], repeats: int = 3) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls, in milliseconds (one untimed warm-up call first)."""
    fn()
    times = []
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def random_flow(cls: type[MAF], dim: int, layers: int = 2, hidden: int = 64, seed: int = 0) -> MAF:
    """A ``cls`` flow of ``dim`` dimensions with its initial (random) weights, in eval mode."""
    return cls(dim=dim, layers=layers, hidden=[hidden], seed=seed).eval()


def logdet_costs(dims: Iterable[int] = COST_DIMS, repeats: int = 3, layers: int = 2, hidden: int = 64,
                 seed: int = 0) -> list[dict]:
    """Per D: {"dim", "sum_ms" (to_base of one point, its log-det the sum of log-scales), "slogdet_ms" (autograd
    Jacobian (D, D) then slogdet), "speedup", "difference" (|sum - slogdet|, nats: they agree)}."""
    rows = []
    with torch_threads(1):
        for dim in dims:
            model = random_flow(MAF, dim, layers, hidden, seed)
            x = torch.randn(1, dim, generator=torch.Generator().manual_seed(seed))
            with torch.no_grad():
                fast = median_ms(lambda: model.to_base(x), repeats)
                summed = float(model.log_det_sum(x)[0])
            slow = median_ms(lambda: torch.linalg.slogdet(model.jacobian(x[0])), repeats)
            full = float(torch.linalg.slogdet(model.jacobian(x[0]))[1])
            rows.append({"dim": dim, "sum_ms": fast, "slogdet_ms": slow, "speedup": slow / fast,
                         "difference": abs(summed - full)})
    return rows


@torch.no_grad()
def direction_costs(dims: Iterable[int] = COST_DIMS, n: int = 100, repeats: int = 3, layers: int = 2,
                    hidden: int = 64, seed: int = 0) -> list[dict]:
    """Per D: {"dim", "maf_density_ms", "maf_sample_ms", "iaf_density_ms", "iaf_sample_ms"}: time to evaluate
    log p of ``n`` points and to draw ``n`` points, for a MAF and an IAF of the same size."""
    rows = []
    with torch_threads(1):
        for dim in dims:
            x = torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))
            row = {"dim": dim}
            for name, cls in (("maf", MAF), ("iaf", IAF)):
                model = random_flow(cls, dim, layers, hidden, seed)
                row[f"{name}_density_ms"] = median_ms(lambda: model.log_prob(x), repeats)
                row[f"{name}_sample_ms"] = median_ms(lambda: model.sample(n, torch.Generator().manual_seed(seed)),
                                                     repeats)
            rows.append(row)
    return rows


__all__ = ["COST_DIMS", "direction_costs", "logdet_costs", "median_ms", "random_flow"]
