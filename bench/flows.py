"""Benchmark: autoregressive flows (MAF, IAF) against the GMM, the O(D) log-determinant, and which direction is fast.

One CPU thread. Every figure is computed in this run.

- ``maf_faithful_ll``, ``gmm_faithful_ll``: held-out average log-likelihood
  per point (nats) on Old Faithful, standardized, the held-out 20 % of the
  one split (:func:`engine.data.points2d.holdout_split`); the GMM is the
  full-covariance one with the K in 1..10 of lowest BIC on the training
  points (``gmm_faithful_k``). ``maf_moons_ll``, ``iaf_moons_ll``,
  ``gmm_moons_ll``: the same on two moons (1,000 points, noise 0.1,
  standardized). The flows train with the catalog's default settings
  (``python -m engine train maf``). ``maf_minus_gmm_faithful``,
  ``maf_minus_gmm_moons``: the MAF's figure minus the GMM's on the same
  points (the median of the paired differences over ``--seeds``). Targets:
  the MAF at least matches the GMM on Old Faithful and beats it on two
  moons (``targets_met``, from the paired differences).
- ``logdet_speedup_d1024``: at D = 1024, on a random MAF, the time of
  slogdet of the full autograd Jacobian over the time of the density pass
  that gives the log-determinant as the sum of the log-scales (median of
  ``--repeats``); ``logdet_curve``: the same for D = 2 .. 1024.
- ``maf_density_ms``, ``maf_sample_ms``, ``iaf_density_ms``,
  ``iaf_sample_ms``: log p of 100 points and 100 samples at D =
  ``timing_dim``, a MAF and an IAF of the same size; ``direction_curve``: the
  same over D (:mod:`engine.evaluation.flow_costs`, which the Density lab
  runs live).

    python bench/flows.py [--repeats 5] [--quick] [--seeds 0,1,2]

``--seeds 0,1,2``: every likelihood is the median over those seeds (seed s
draws the moons, the split, the flows' weights and batches and the GMM's
start; ``per_seed`` lists each; the K and point counts are the first
seed's); the default is seed 0 alone, the one
shared split. ``--quick`` (the smoke test): a few epochs and small D; the figures are then
not the published ones. The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.errors import GenScopeError  # noqa: E402
from engine.evaluation.density_compare import compare_on  # noqa: E402
from engine.evaluation.flow_costs import direction_costs, logdet_costs  # noqa: E402
from engine.training.data import DataSpec, load_run_data  # noqa: E402


def likelihoods(quick: bool, seeds: tuple[int, ...] = (0,)) -> dict:
    """The held-out log-likelihoods of the flows and the GMM on Old Faithful and two moons, each the median over
    ``seeds`` (seed s: the moons' sample, the split, the flows' weights and batches, the GMM's start);
    ``per_seed``: every seed's figures."""
    settings = {"epochs": 3} if quick else {}
    runs = []
    for seed in seeds:
        fig = {}
        for name, kinds in (("faithful", ("maf",)), ("moons", ("maf", "iaf"))):
            try:
                data = load_run_data(DataSpec(name, seed=seed))
            except GenScopeError as exc:
                print(f"no {name} data: {exc}", file=sys.stderr)
                continue
            result = compare_on(data, kinds, seed=seed, **settings)
            fig.update({f"{key.split('_')[0]}_{name}_{'_'.join(key.split('_')[1:])}": value
                        for key, value in result.items()})
        runs.append(fig)
    out = {key: round(statistics.median(run[key] for run in runs), 4) if isinstance(runs[0][key], float)
           else runs[0][key] for key in runs[0]}
    for name in ("faithful", "moons"):  # paired: the flow minus the GMM on the same points, seed by seed
        if f"maf_{name}_ll" in out:
            out[f"maf_minus_gmm_{name}"] = round(statistics.median(r[f"maf_{name}_ll"] - r[f"gmm_{name}_ll"]
                                                                   for r in runs), 4)
    if len(seeds) > 1:
        out["seeds"] = list(seeds)
        out["per_seed"] = [{k: round(v, 4) for k, v in run.items() if k.endswith("_ll")} for run in runs]
    return out


def costs(quick: bool, repeats: int) -> dict:
    """The log-determinant speed-up at the largest D and the MAF/IAF direction timings."""
    top, timing_dim = (64, 16) if quick else (1024, 64)
    logdet = logdet_costs((2, 16, 64, 256, top) if not quick else (2, 16, top), repeats=repeats)
    direction = direction_costs((2, 16, 64, 256) if not quick else (2, timing_dim), repeats=repeats)
    at = next(row for row in direction if row["dim"] == timing_dim)
    rounded = [{k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()} for row in logdet]
    return {f"logdet_speedup_d{top}": round(logdet[-1]["speedup"], 1), "logdet_curve": rounded,
            "timing_dim": timing_dim, **{k: round(v, 3) for k, v in at.items() if k != "dim"},
            "direction_curve": [{k: round(v, 3) for k, v in row.items()} for row in direction]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="smoke test: a few epochs, small D")
    p.add_argument("--seeds", default="0", help="comma-separated seeds; the likelihoods are their medians")
    args = p.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    fig = {"threads": 1, "quick": args.quick, **likelihoods(args.quick, tuple(int(v) for v in args.seeds.split(","))), **costs(args.quick, args.repeats)}
    if "maf_faithful_ll" in fig and "maf_moons_ll" in fig:
        fig["targets_met"] = fig["maf_minus_gmm_faithful"] >= 0 and fig["maf_minus_gmm_moons"] > 0
    fig["bench_seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
