"""Benchmark: NADE and MADE, the asymmetry of autoregressive models in numbers, and the bundled models' test NLLs.

One CPU thread. The bundled checkpoints (assets/nade.safetensors,
assets/made.safetensors, assets/made_orderless.safetensors) when present,
else random-weight models of the same size (the JSON says which).

- ``made_cached_speedup``: 16 images of 28 x 28 (the Sampler's grid), naive
  MADE sampler (a full pass per pixel) over the cached one (first-layer
  pre-activations updated per pixel), same seed, identical images checked;
  target >= 5. ``made_cached_speedup_1_image``: the same for one image, where
  the sampler's own per-step work (strategy, events) is most of the time
- ``nade_sample_s``, ``made_sample_s``: one image with the fast sampler
  (median of ``--repeats``); target <= 0.3 s each
- ``nade_eval_images_per_s``, ``made_eval_images_per_s``: exact log p(x) of
  a batch of 500 test images in one pass; ``*_one_pass_vs_sampling``: how
  many times longer sampling a batch takes than scoring it (D sequential
  steps against one pass)
- ``nade_test_nll``, ``made_test_nll``, ``made_ensemble_test_nll`` (nats
  per image on the 10,000 static binarized MNIST test images, computed in
  this run; the ensemble uses all of the order-agnostic model's mask sets,
  ``made_ensemble_masks``; ``made_ensemble32_test_nll`` when it has 32)

    python bench/nade_made.py [--repeats 5] [--test-limit N]

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

from engine.cards.bundled import ASSETS_DIR  # noqa: E402
from engine.catalog import load_model  # noqa: E402
from engine.data.folder import resolve_data_folder  # noqa: E402
from engine.data.mnist import load_binarized_mnist  # noqa: E402
from engine.errors import GenScopeError  # noqa: E402
from engine.events import Done as Measured  # noqa: E402
from engine.evaluation.likelihood import ensemble_nll, exact_nll  # noqa: E402
from engine.models.made import MADE  # noqa: E402
from engine.models.nade import NADE  # noqa: E402
from engine.sampling.autoregressive import drain, sample  # noqa: E402


def bundled(name: str, fallback):
    """(model, where it came from): assets/<name>.safetensors, else ``fallback()`` with random weights."""
    path = ASSETS_DIR / f"{name}.safetensors"
    if path.exists():
        return load_model(path), f"assets/{name}.safetensors"
    torch.manual_seed(0)
    return fallback().eval(), "random weights"


def median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def test_rows(limit: int | None) -> np.ndarray | None:
    try:
        rows = load_binarized_mnist(resolve_data_folder(None).path, "test").astype(np.float32)
    except GenScopeError as exc:
        print(f"no test set: {exc}")
        return None
    return rows[:limit] if limit else rows


def speed(prefix: str, model, rows: np.ndarray, repeats: int) -> dict:
    """Fast one-image sampling, one-pass scoring of 500 images and sampling the same batch, for one model."""
    one, _ = median_time(lambda: sample(model, 1, strategy="sample", seed=0), repeats)
    batch = torch.as_tensor(rows[:500])
    with torch.no_grad():
        score_s, _ = median_time(lambda: model.log_prob(batch), repeats)
    batch_sample_s, _ = median_time(lambda: sample(model, len(batch), strategy="sample", seed=0, score=False), 1)
    return {f"{prefix}_sample_s": round(one, 4), f"{prefix}_eval_images_per_s": round(len(batch) / score_s, 1),
            f"{prefix}_one_pass_vs_sampling": round(batch_sample_s / score_s, 1)}


def cached_speedup(model: MADE, images: int, repeats: int) -> float:
    """Naive over cached sampling time for ``images`` images at once, the same seed (identical images checked)."""
    fast_s, fast = median_time(lambda: sample(model, images, strategy="sample", seed=3), repeats)
    naive_s, naive = median_time(lambda: sample(model, images, strategy="sample", seed=3, method="naive"), repeats)
    if not np.array_equal(fast.values, naive.values):
        raise SystemExit("the cached and naive MADE samplers drew different images from the same seed")
    return naive_s / fast_s


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--test-limit", type=int, default=None, help="score only the first N test images")
    args = p.parse_args()
    torch.set_num_threads(1)
    nade, nade_from = bundled("nade", NADE)
    made, made_from = bundled("made", MADE)
    agnostic, agnostic_from = bundled("made_orderless", lambda: MADE(masks=8, order_agnostic=True))
    rows = test_rows(args.test_limit)
    fig = {"threads": 1, "nade_from": nade_from, "made_from": made_from, "made_ensemble_from": agnostic_from,
           "made_cached_speedup": round(cached_speedup(made, 16, args.repeats), 1),
           "made_cached_speedup_1_image": round(cached_speedup(made, 1, args.repeats), 1)}
    probe = rows if rows is not None else np.random.default_rng(0).integers(0, 2, (500, 784)).astype(np.float32)
    fig.update(speed("nade", nade, probe, args.repeats))
    fig.update(speed("made", made, probe, args.repeats))
    if rows is not None:
        fig["test_images"] = len(rows)
        fig["nade_test_nll"] = round(drain(exact_nll(nade, rows), Measured).result["nll_nats"], 2)
        fig["made_test_nll"] = round(drain(exact_nll(made, rows), Measured).result["nll_nats"], 2)
        masks = agnostic.n_masks
        ens = drain(ensemble_nll(agnostic, rows, (1, masks)), Measured).result
        fig.update(made_ensemble_masks=masks, made_ensemble_single_mask_test_nll=round(ens[1], 2),
                   made_ensemble_test_nll=round(ens[masks], 2))
        if masks == 32:
            fig["made_ensemble32_test_nll"] = round(ens[32], 2)
    fig["targets_met"] = (fig["made_cached_speedup"] >= 5 and fig["nade_sample_s"] <= 0.3
                          and fig["made_sample_s"] <= 0.3)
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
