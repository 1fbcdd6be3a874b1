"""Exact held-out log-likelihoods of density models on one point set and one split: flows against the GMM.

Shapes: ``N`` points, ``D`` dimensions. The split is the one of the run data
set (:func:`engine.data.points2d.holdout_split`, via
:func:`engine.training.data.load_run_data`), so every model here is scored
on the same held-out points, in nats per point.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.catalog import build_model, get
from engine.device import torch_threads
from engine.events import Done
from engine.models.flows import MAF
from engine.models.gmm import GaussianMixture, choose_k
from engine.training.data import RunData
from engine.training.loop import train


def gmm_by_bic(train_points: np.ndarray, k_max: int = 10, seed: int = 0) -> GaussianMixture:
    """The full-covariance GMM with the K in 1..k_max of lowest BIC on ``train_points`` (N, D), refitted with it."""
    result = None
    for event in choose_k(train_points, k_max, "full", seed):
        if isinstance(event, Done):
            result = event.result
    ks, bic, _ = result
    best = int(ks[int(np.argmin(bic))])
    return GaussianMixture(best, covariance_type="full", seed=seed, max_iter=200).fit(train_points)


@torch.no_grad()
def flow_log_likelihood(model: MAF, points: np.ndarray, batch: int = 4096) -> float:
    """Average log-likelihood per point (nats) of ``points`` (N, D) under a flow (exact)."""
    x = torch.as_tensor(np.asarray(points, np.float32))
    param = next(model.parameters())
    total = sum(float(model.log_prob(chunk.to(param.device, param.dtype)).sum()) for chunk in x.split(batch))
    return total / len(x)


def fit_flow(kind: str, data: RunData, hparams: dict | None = None, seed: int = 0, threads: int | None = 1,
             **settings) -> tuple[MAF, dict]:
    """A ``kind`` ("maf" / "iaf") flow trained by the one training loop on ``data.train`` (N, D) with the catalog's
    settings (``settings`` overrides epochs, batch_size, lr, lr_decay); (model in eval mode, the loop's Done result)."""
    entry = get(kind)
    s = {**entry.settings, **settings}
    hp = {**entry.hparams_from({"dim": int(data.train.shape[1])}), "seed": seed, **(hparams or {})}
    with torch_threads(threads):
        torch.manual_seed(seed)
        model = build_model(kind, hp)
        result = {}
        for event in train(model, data.train, val_data=data.val, epochs=s["epochs"], batch_size=s["batch_size"],
                           lr=s["lr"], lr_decay=s.get("lr_decay", 1.0), seed=seed, dynamic_binarize=False,
                           data_info=data.info, log_every=10**9):
            if isinstance(event, Done):
                result = event.result
    return model.eval(), result


def compare_on(data: RunData, kinds: tuple[str, ...] = ("maf",), k_max: int = 10, seed: int = 0,
               **settings) -> dict:
    """Held-out average log-likelihood per point of each flow kind and of the GMM chosen by BIC, on ``data``'s split:
    {"<kind>_ll", "gmm_ll", "gmm_k", "heldout_points", "<kind>_seconds"}."""
    gmm = gmm_by_bic(data.train.astype(np.float64), k_max, seed)
    out = {"gmm_ll": float(gmm.score(data.val.astype(np.float64))), "gmm_k": gmm.n_components,
           "heldout_points": int(len(data.val))}
    for kind in kinds:
        model, result = fit_flow(kind, data, seed=seed, **settings)
        out[f"{kind}_ll"] = flow_log_likelihood(model, data.val)
        out[f"{kind}_seconds"] = float(result.get("seconds", 0.0))
    return out


__all__ = ["compare_on", "fit_flow", "flow_log_likelihood", "gmm_by_bic"]
