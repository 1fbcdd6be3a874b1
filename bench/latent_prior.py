"""A learned prior for the bundled 2-D VAE: test ELBO and importance-sampled log p(x) under N(0, I), the Gaussian
mixture with the best K by BIC and a MAF, both fitted on one draw of q(z|x) per static binarized MNIST training
image (50,000 draws of the aggregate posterior). Last line: one JSON object.

elbo_normal, elbo_gmm, elbo_maf   mean test ELBO (nats per digit; the mean of log w over the k draws)
iwae_normal, iwae_gmm, iwae_maf   mean importance-sampled log p(x) with k draws of q(z|x) per digit
gap_normal, gap_gmm, gap_maf      log p(x) - ELBO under each prior
gap_narrowed_nats                 gap_normal - gap_maf: how much the MAF prior narrows the variational gap
prior_gap_normal, _gmm, _maf      KL(q(z) || p): the prior gap, the part of the ELBO's KL term that depends on the
                                  prior (q(z): the test digits' aggregate posterior; 0 for p = q(z))
prior_gap_narrowed_nats           prior_gap_normal - prior_gap_maf; prior_gap_closed_fraction: that over
                                  prior_gap_normal
elbo_gain_maf, iwae_gain_maf      the MAF prior's ELBO and log p(x) minus N(0, I)'s
seconds, fit_seconds              the whole run; the fits (codes, mixture, flow) alone

The same k draws score all three priors (common random numbers), so the differences are not sampling noise.
Defaults: all 10,000 static binarized test digits with k = 100 (about 70 s with one thread on two shared
cores); ``--k 1000`` is the README table's setting (several minutes).

    python bench/latent_prior.py [--limit N] [--train-limit N] [--k K] [--flow-epochs E] [--threads T]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cards.bundled import find_bundled  # noqa: E402
from engine.catalog import load_model  # noqa: E402
from engine.data.folder import resolve_data_folder  # noqa: E402
from engine.events import Done, Progress  # noqa: E402
from engine.evaluation.latent_prior import learned_prior_study  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--limit", type=int, default=None, help="score the first N test digits (default all 10,000)")
    p.add_argument("--train-limit", type=int, default=None,
                   help="fit the priors on the first N training images (default all 50,000; smoke tests)")
    p.add_argument("--k", type=int, default=100, help="draws of q(z|x) per digit (default 100)")
    p.add_argument("--flow-epochs", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(find_bundled("vae").path, expected_kind="vae")
    start, fit_end, table = time.perf_counter(), None, None
    for event in learned_prior_study(model, resolve_data_folder(None).path, k=args.k, limit=args.limit,
                                     flow_epochs=args.flow_epochs, train_limit=args.train_limit):
        if isinstance(event, Progress) and event.message.startswith("scoring") and fit_end is None:
            fit_end = time.perf_counter()
        if isinstance(event, Done):
            table = event.result
    print(table.text())
    figures = table.figures()
    figures.update({"elbo_gain_maf": round(figures["elbo_maf"] - figures["elbo_normal"], 3),
                    "iwae_gain_maf": round(figures["iwae_maf"] - figures["iwae_normal"], 3),
                    "gmm_k": int(table.labels[1].split("=")[1]), "threads": args.threads,
                    "fit_seconds": round(fit_end - start, 1), "seconds": round(time.perf_counter() - start, 1)})
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
