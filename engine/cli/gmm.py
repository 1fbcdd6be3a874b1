"""``python -m engine gmm fit data.csv --k 3 --cov full``: fit a Gaussian mixture to a CSV file.

Prints the fitted parameters (weights, means, covariances), the final
log-likelihood (per point and total), BIC and AIC, whether EM converged and
how many rows of the file were skipped. Registered in :mod:`engine.cli.main`
through :data:`GMM_COMMAND`.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from engine.data.tables import read_csv_columns
from engine.errors import ConfigError
from engine.models.gmm import COVARIANCE_TYPES, INITS, GaussianMixture, expand_full


def add_gmm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["fit"], help="fit: run EM and print the mixture")
    p.add_argument("file", help="a CSV file with at least two numeric columns")
    p.add_argument("--k", type=int, default=2, help="number of components (default 2)")
    p.add_argument("--cov", choices=COVARIANCE_TYPES, default="full", help="covariance type (default full)")
    p.add_argument("--init", choices=INITS, default="kmeans++", help="initialisation (default kmeans++)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initialisation (default 0)")
    p.add_argument("--columns", default=None,
                   help="two column names or 0-based indices, comma-separated (default: first two numeric)")
    p.add_argument("--max-iter", type=int, default=100, help="EM iterations at most (default 100)")
    p.add_argument("--tol", type=float, default=1e-3, help="stop when the mean log-likelihood changes less (1e-3)")
    p.add_argument("--reg-covar", type=float, default=1e-6, help="added to covariance diagonals (default 1e-6)")


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    parts = [c.strip() for c in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--columns takes two names or indices separated by a comma, e.g. 'x,y'; got {text!r}.")
    return parts


def _matrix(a: np.ndarray, indent: str) -> str:
    text = np.array2string(np.atleast_1d(a), precision=5, suppress_small=True, max_line_width=120)
    return text.replace("\n", "\n" + indent)


def _print_components(model: GaussianMixture) -> None:
    k, d = model.means_.shape
    covs = expand_full(torch.as_tensor(model.covariances_), model.covariance_type, k, d).numpy()
    for j in range(k):
        print(f"Component {j + 1}: weight {model.weights_[j]:.5f}")
        print(f"  mean        {_matrix(model.means_[j], ' ' * 14)}")
        print(f"  covariance  {_matrix(covs[j], ' ' * 14)}")


def cmd_gmm(args: argparse.Namespace) -> int:
    table = read_csv_columns(args.file, _columns(args.columns))
    model = GaussianMixture(args.k, covariance_type=args.cov, init=args.init, seed=args.seed,
                            max_iter=args.max_iter, tol=args.tol, reg_covar=args.reg_covar,
                            device=getattr(args, "device", None))
    model.fit(table.X)
    n = len(table.X)
    mean_ll = model.score(table.X)
    print(f"Data: {table.note}")
    print(f"Skipped rows: {table.skipped} of {table.total_rows}")
    print(f"Model: {args.k} components, {args.cov} covariances, init {args.init}, seed {args.seed}")
    state = "converged" if model.converged_ else "did NOT converge"
    print(f"EM: {state} after {model.n_iter_} iterations (tol {args.tol:g}, max {args.max_iter})")
    print(f"Log-likelihood: {mean_ll:.6f} per point, {mean_ll * n:.4f} total")
    print(f"BIC: {model.bic(table.X):.4f}")
    print(f"AIC: {model.aic(table.X):.4f}")
    _print_components(model)
    for warning in model.warnings_:
        print(f"warning: {warning}")
    return 0


GMM_COMMAND = ("gmm", "fit a Gaussian mixture to a CSV file (EM), print parameters, BIC and AIC", add_gmm_args, cmd_gmm)
