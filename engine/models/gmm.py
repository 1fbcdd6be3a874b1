"""Gaussian mixture fitted by EM, in torch, following scikit-learn's conventions.

Shapes: ``N`` points, ``D`` features, ``K`` components. Parameters as in
``sklearn.mixture.GaussianMixture``: ``weights_`` (K,), ``means_`` (K, D),
``covariances_`` full (K, D, D) | tied (D, D) | diag (K, D) | spherical (K,),
and ``precisions_cholesky_`` of the same shape: the upper-triangular ``P``
with ``P P^T`` = precision, so ``||(x - mu) P||^2`` is the Mahalanobis term.

``em_steps(X)`` is the one EM loop: a generator of :class:`EMInit`,
(:class:`EStep`, :class:`MStep`) per iteration and :class:`EMDone`; ``fit``
drains it. As in scikit-learn, the lower bound of iteration ``i`` is the mean
log-likelihood of the parameters *before* its M step, and EM stops when it
changes by less than ``tol``. Internally the data are centred on their mean
(the means are shifted back when published), which keeps the one-GEMM
second-moment estimate of the full covariances accurate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

from engine.device import make_generator, select_device
from engine.errors import ConfigError, DataError
from engine.events import Done, Progress
from engine.models.gmm_kernels import (Design, covariances_from_cholesky, e_step, expand_full,
                                       initial_responsibilities, log_likelihood, m_step, precision_cholesky,
                                       precision_cholesky_from_precisions)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
INITS = ("kmeans++", "kmeans", "random", "random_from_data")


# ----------------------------------------------------------------------------- events
@dataclass(frozen=True, eq=False)
class EMInit:
    """Initial parameters: weights (K,), means (K, D), covariances always full (K, D, D)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    method: str


@dataclass(frozen=True, eq=False)
class EStep:
    """Responsibilities (N, K) float32 (None when not asked for) and the mean log-likelihood of the
    parameters they were computed from."""

    iteration: int
    responsibilities: np.ndarray | None
    log_likelihood: float


@dataclass(frozen=True, eq=False)
class MStep:
    """Parameters after iteration ``iteration``'s M step; covariances full (K, D, D).

    ``log_likelihood`` is the lower bound of this iteration (the E step's value).
    """

    iteration: int
    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    log_likelihood: float


@dataclass(frozen=True, eq=False)
class EMDone:
    """End of EM; ``log_likelihood`` is the mean log-likelihood of the final parameters."""

    converged: bool
    n_iter: int
    lower_bound: float
    log_likelihood: float
    warnings: tuple[str, ...] = ()


def _frozen(t: Tensor, dtype=None) -> np.ndarray:
    """A read-only numpy copy of ``t``."""
    a = np.array(t.detach().cpu().numpy(), dtype=dtype)
    a.setflags(write=False)
    return a


# ----------------------------------------------------------------------------- the estimator
_DTYPES = {"float64": torch.float64, "float32": torch.float32, torch.float64: torch.float64,
           torch.float32: torch.float32, np.float64: torch.float64, np.float32: torch.float32}
_INIT_KEYS = ("weights", "means", "covariances", "precisions")


def _reduce_full(m: Tensor, cov_type: str) -> Tensor:
    """Full (K, D, D) matrices (as events carry them) in ``cov_type``'s shape: tied takes the
    mean over components, diag the diagonals, spherical the mean of each diagonal."""
    if cov_type == "tied":
        return m.mean(0)
    if cov_type == "diag":
        return m.diagonal(dim1=1, dim2=2).clone()
    return m.diagonal(dim1=1, dim2=2).mean(1) if cov_type == "spherical" else m


def _check_number(name: str, value, low: float, integer: bool) -> None:
    kinds = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value) or value < low:
        what = "an integer" if integer else "a number"
        raise ConfigError(f"{name} must be {what} ≥ {low:g}, got {value!r}.")


class GaussianMixture:
    """A K-component Gaussian mixture fitted by EM (see the module docstring).

    ``seed`` drives the initialisation (a torch generator: the same seed gives
    the same fit, but not the same start as sklearn's ``random_state``).
    ``device=None`` picks cuda > mps > cpu, except that float64 on mps falls
    back to the CPU (mps has no float64). Public methods take numpy arrays or
    tensors and return numpy.
    """

    def __init__(self, n_components: int = 1, *, covariance_type: str = "full", init: str = "kmeans++",
                 reg_covar: float = 1e-6, tol: float = 1e-3, max_iter: int = 100, seed: int | None = None,
                 dtype=torch.float64, device=None) -> None:
        _check_number("n_components", n_components, 1, True)
        if covariance_type not in COVARIANCE_TYPES:
            raise ConfigError(f"Unknown covariance_type {covariance_type!r}; "
                              f"use one of: {', '.join(COVARIANCE_TYPES)}.")
        if init not in INITS:
            raise ConfigError(f"Unknown init {init!r}; use one of: {', '.join(INITS)}.")
        _check_number("reg_covar", reg_covar, 0, False)
        _check_number("tol", tol, 0, False)
        _check_number("max_iter", max_iter, 0, True)
        if seed is not None:
            _check_number("seed", seed, 0, True)
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype must be float32 or float64, got {dtype!r}.")
        self.n_components, self.covariance_type, self.init = int(n_components), covariance_type, init
        self.reg_covar, self.tol, self.max_iter, self.seed = float(reg_covar), float(tol), int(max_iter), seed
        self.dtype = _DTYPES[dtype]
        self.device = self._resolve_device(device)
        self.warnings_, self.lower_bounds_ = [], []  # list[str], list[float]
        self._weights = self._means = self._cov = self._prec_chol = None

    def _resolve_device(self, device) -> torch.device:
        chosen = select_device(None if device is None else str(device))
        if chosen.type == "mps" and self.dtype == torch.float64:
            if device is not None:
                raise ConfigError("The mps device has no float64; use dtype=torch.float32 or device='cpu'.")
            return torch.device("cpu")
        return chosen

    # ------------------------------------------------------------------ inputs
    def _tensor(self, value, what: str) -> Tensor:
        if isinstance(value, Tensor):
            return value.detach().to(device=self.device, dtype=self.dtype)
        array = np.asarray(value)
        if array.dtype.kind not in "biuf":
            raise DataError(f"{what} must hold numbers; got an array of {array.dtype}.")
        if not array.flags.writeable:  # e.g. an event's frozen arrays; torch wants writable memory
            array = array.copy()
        return torch.as_tensor(array, dtype=self.dtype, device=self.device)

    def _points(self, X, fitted: bool = False) -> Tensor:
        """X as a (N, D) tensor of finite values in the model's dtype and device."""
        X = self._tensor(X, "X")
        if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
            raise DataError(f"X must be a non-empty 2-D array of points (N, D); got shape {tuple(X.shape)}.")
        bad = int((~torch.isfinite(X).all(1)).sum())
        if bad:
            raise DataError(f"X has NaN or infinite values in {bad} of {X.shape[0]} rows; drop those rows first.")
        if fitted and X.shape[1] != self.n_features_in_:
            raise DataError(f"X has {X.shape[1]} features but the mixture was fitted on {self.n_features_in_}.")
        return X

    def _cov_shape(self, k: int, d: int) -> tuple[int, ...]:
        return {"full": (k, d, d), "tied": (d, d), "diag": (k, d), "spherical": (k,)}[self.covariance_type]

    def _check_init_params(self, init_params: dict | None, d: int, shift: Tensor) -> dict[str, Tensor]:
        """Validated initial parameters as tensors, means in the centred coordinates."""
        if init_params is None:
            return {}
        unknown = set(init_params) - set(_INIT_KEYS) if isinstance(init_params, dict) else {"?"}
        if unknown:
            raise ConfigError(f"init_params takes a dict with keys among {', '.join(_INIT_KEYS)}; "
                              f"got {sorted(unknown)}.")
        if "covariances" in init_params and "precisions" in init_params:
            raise ConfigError("Give init_params either covariances or precisions, not both.")
        k = self.n_components
        shapes = {"weights": (k,), "means": (k, d), "covariances": self._cov_shape(k, d),
                  "precisions": self._cov_shape(k, d)}
        out = {}
        for key, value in init_params.items():
            t = self._tensor(value, f"init_params[{key!r}]")
            if key in ("covariances", "precisions") and tuple(t.shape) == (k, d, d):
                t = _reduce_full(t, self.covariance_type)
            if tuple(t.shape) != shapes[key]:
                raise ConfigError(f"init_params[{key!r}] has shape {tuple(t.shape)}; expected {shapes[key]} for "
                                  f"{k} components in {d} dimensions ({self.covariance_type} covariances).")
            if not bool(torch.isfinite(t).all()):
                raise ConfigError(f"init_params[{key!r}] contains NaN or infinite values.")
            out[key] = t
        if "weights" in out:
            if bool((out["weights"] < 0).any()) or float(out["weights"].sum()) <= 0:
                raise ConfigError("Initial weights must be non-negative with a positive sum.")
            out["weights"] = out["weights"] / out["weights"].sum()
        if "means" in out:
            out["means"] = out["means"] - shift
        for key in ("covariances", "precisions"):
            if key in out:
                out[key] = self._positive_definite(out[key], key)
        return out

    def _positive_definite(self, m: Tensor, key: str) -> Tensor:
        """m itself (diag/spherical) or its symmetric part, after checking it is positive definite."""
        if self.covariance_type in ("diag", "spherical"):
            ok = bool((m > 0).all())
        else:
            ok = torch.allclose(m, m.mT, rtol=1e-5, atol=1e-12 * float(m.abs().max()))
            m = (m + m.mT) / 2
            ok = ok and bool((torch.linalg.cholesky_ex(m)[1] == 0).all())
        if not ok:
            raise ConfigError(f"The initial {key} are not all symmetric positive definite.")
        return m

    # ------------------------------------------------------------------ EM
    def _initial(self, design: Design, given: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor, str]:
        """(weights, means, covariances, precisions Cholesky, method) for the centred data."""
        X = design.X
        complete = {"weights", "means"} <= set(given) and ("covariances" in given or "precisions" in given)
        weights = means = cov = None
        if not complete:
            resp = initial_responsibilities(X.cpu(), self.n_components, self.init, make_generator(self.seed))
            resp = resp.to(X.device)
            nk, means, cov = m_step(design.statistics(resp), self.reg_covar, self.covariance_type, X, resp)
            weights = nk / X.shape[0]
        weights, means = given.get("weights", weights), given.get("means", means)
        if "precisions" in given:
            prec_chol = precision_cholesky_from_precisions(given["precisions"], self.covariance_type)
            cov = covariances_from_cholesky(prec_chol, self.covariance_type)
        else:
            cov = given.get("covariances", cov)
            prec_chol = precision_cholesky(cov, self.covariance_type)
        method = "given" if complete else self.init + (" + given" if given else "")
        return weights, means, cov, prec_chol, method

    def _publish(self, weights: Tensor, means: Tensor, cov: Tensor, prec_chol: Tensor) -> None:
        """Store the parameters (means in data coordinates) as tensors and as numpy attributes."""
        self._weights, self._means, self._cov, self._prec_chol = weights, means, cov, prec_chol
        self.weights_, self.means_, self.covariances_, self.precisions_cholesky_ = (
            t.cpu().numpy().copy() for t in (weights, means, cov, prec_chol))

    def _drawable(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        k, d = self._means.shape
        full = expand_full(self._cov, self.covariance_type, k, d)
        return _frozen(self._weights), _frozen(self._means), _frozen(full)

    def em_steps(self, X, init_params: dict | None = None, *, emit_responsibilities: bool = True) -> Iterator[object]:
        """Run EM on X (N, D), yielding EMInit, then EStep/MStep per iteration, then EMDone.

        ``init_params`` may hold ``weights`` (K,), ``means`` (K, D) and one of ``covariances``/``precisions``
        (shaped as ``covariances_``, or full (K, D, D) as the events carry them); missing ones come from ``init``.
        ``emit_responsibilities=False`` leaves ``EStep.responsibilities`` None (no (N, K) copy per iteration)."""
        X = self._points(X)
        n, d = X.shape
        if n < 2:
            raise DataError("Fitting a mixture needs at least 2 points; got 1.")
        if self.n_components > n:
            raise ConfigError(f"Cannot fit {self.n_components} components to {n} points; choose K ≤ {n}.")
        shift = X.mean(0)
        design = Design(X - shift, self.covariance_type)
        given = self._check_init_params(init_params, d, shift)
        self.n_features_in_, self.converged_, self.n_iter_ = d, False, 0
        self.lower_bound_, self.lower_bounds_, self.warnings_ = -math.inf, [], []
        weights, means, cov, prec_chol, method = self._initial(design, given)
        self._publish(weights, means + shift, cov, prec_chol)
        yield EMInit(*self._drawable(), method)
        yield from self._iterate(design, shift, weights, means, prec_chol, emit_responsibilities)
        final = float(log_likelihood(design.X, self._weights, self._means - shift, self._prec_chol,
                                     self.covariance_type).mean())
        self.warnings_ = self._collapse_warnings(n)
        yield EMDone(self.converged_, self.n_iter_, self.lower_bound_, final, tuple(self.warnings_))

    def _iterate(self, design: Design, shift: Tensor, weights: Tensor, means: Tensor, prec_chol: Tensor,
                 emit: bool) -> Iterator[object]:
        """The EM iterations on the centred data; stops when the lower bound changes by < tol."""
        lower = -math.inf
        for it in range(1, self.max_iter + 1):
            previous = lower
            ll, resp, moments = e_step(design.X, weights, means, prec_chol, self.covariance_type, design)
            lower = float(ll)
            yield EStep(it, _frozen(resp, np.float32) if emit else None, lower)
            nk, means, cov = m_step(moments, self.reg_covar, self.covariance_type, design.X, resp)
            weights, prec_chol = nk / nk.sum(), precision_cholesky(cov, self.covariance_type)
            self.lower_bounds_.append(lower)
            self.lower_bound_, self.n_iter_ = lower, it
            self._publish(weights, means + shift, cov, prec_chol)
            yield MStep(it, *self._drawable(), lower)
            if abs(lower - previous) < self.tol:
                self.converged_ = True
                break

    def fit(self, X, init_params: dict | None = None) -> "GaussianMixture":
        """Fit by draining :meth:`em_steps` without the per-iteration responsibilities; returns self."""
        for _ in self.em_steps(X, init_params, emit_responsibilities=False):
            pass
        return self

    def _collapse_warnings(self, n: int) -> list[str]:
        """Sentences about components that emptied or collapsed (numbered from 1)."""
        reg, cov = self.reg_covar, self._cov
        spread = {"full": lambda: torch.linalg.eigvalsh(cov), "tied": lambda: torch.linalg.eigvalsh(cov)[None],
                  "diag": lambda: cov, "spherical": lambda: cov[:, None]}[self.covariance_type]()
        small = (spread <= 2 * reg).cpu()
        out = []
        if self.covariance_type == "tied":
            if bool(small.any()):
                out.append(f"The shared covariance collapsed (no spread in some direction); "
                           f"reg_covar={reg:g} kept it positive.")
            small = torch.zeros(self.n_components, 1, dtype=torch.bool)
        for k, w in enumerate(self._weights.cpu().tolist()):
            if w * n < 1:
                out.append(f"Component {k + 1} ended up with almost no points (weight {w:.2g}); try fewer components.")
            elif bool(small[k].all()):
                out.append(f"Component {k + 1} collapsed onto duplicate points; "
                           f"reg_covar={reg:g} kept its covariance positive.")
            elif bool(small[k].any()):
                out.append(f"Component {k + 1} collapsed onto a line or plane (no spread in some direction); "
                           f"reg_covar={reg:g} kept its covariance positive.")
        return out

    # ------------------------------------------------------------------ fitted model
    def _fitted(self, X) -> tuple[Tensor, Tensor, Tensor, Tensor, str]:
        """(X as a tensor, weights, means, precisions Cholesky, covariance type) of the fitted model."""
        if self._means is None:
            raise ConfigError("This GaussianMixture is not fitted yet; call fit(X) first.")
        return self._points(X, fitted=True), self._weights, self._means, self._prec_chol, self.covariance_type

    def score_samples(self, X) -> np.ndarray:
        """log p(x_n) as (N,)."""
        return log_likelihood(*self._fitted(X)).cpu().numpy()

    def score(self, X) -> float:
        """Mean log-likelihood per point."""
        return float(log_likelihood(*self._fitted(X)).mean())

    def predict_proba(self, X) -> np.ndarray:
        """Responsibilities (N, K); rows sum to 1."""
        return e_step(*self._fitted(X))[1].cpu().numpy()

    def predict(self, X) -> np.ndarray:
        """Most responsible component (N,) int64."""
        return e_step(*self._fitted(X))[1].argmax(1).cpu().numpy()

    def _n_parameters(self) -> int:
        """Free parameters, as sklearn."""
        k, d = self._means.shape
        cov = {"full": k * d * (d + 1) // 2, "diag": k * d, "tied": d * (d + 1) // 2, "spherical": k}
        return int(cov[self.covariance_type] + k * d + k - 1)

    def bic(self, X) -> float:
        """Bayesian information criterion on X (lower is better)."""
        n = len(X)
        return -2 * self.score(X) * n + self._n_parameters() * math.log(n)

    def aic(self, X) -> float:
        """Akaike information criterion on X (lower is better)."""
        return -2 * self.score(X) * len(X) + 2 * self._n_parameters()

    def sample(self, n: int, seed: int | torch.Generator | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` points: (X (n, D), labels (n,) int64), in draw order; a seed or a CPU generator."""
        if self._means is None:
            raise ConfigError("This GaussianMixture is not fitted yet; call fit(X) first.")
        _check_number("n", n, 0, True)
        gen = seed if isinstance(seed, torch.Generator) else make_generator(seed)
        k, d = self._means.shape
        chol = torch.linalg.cholesky(expand_full(self._cov, self.covariance_type, k, d).cpu())
        labels = torch.multinomial(self._weights.cpu(), n, replacement=True, generator=gen) if n else \
            torch.zeros(0, dtype=torch.long)
        z = torch.randn(n, d, generator=gen, dtype=self.dtype)
        out = torch.empty(n, d, dtype=self.dtype)
        means = self._means.cpu()
        for j in range(k):
            idx = (labels == j).nonzero().flatten()
            out[idx] = means[j] + z[idx] @ chol[j].T
        return out.numpy(), labels.numpy()


def choose_k(X, k_max: int, covariance_type: str = "full", seed: int | None = None) -> Iterator[Progress | Done]:
    """Fit K = 1..k_max to X (N, D): a Progress per K, then Done((ks, bic, aic)), each (k_max,); lower is better."""
    _check_number("k_max", k_max, 1, True)
    fits = []
    for k in range(1, k_max + 1):
        gmm = GaussianMixture(k, covariance_type=covariance_type, seed=seed, max_iter=200).fit(X)
        fits.append((k, gmm.bic(X), gmm.aic(X)))
        yield Progress(k, k_max, f"K = {k}")
    yield Done(tuple(np.array(column) for column in zip(*fits)))
