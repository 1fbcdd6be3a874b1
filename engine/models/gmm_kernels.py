"""Numerical kernels of the Gaussian-mixture EM (torch), used by :mod:`engine.models.gmm`.

Shapes: ``N`` points (rows), ``D`` features, ``K`` components; ``X`` is (N, D),
responsibilities ``resp`` (N, K), ``weights`` (K,), ``means`` (K, D).
Covariances by ``cov_type``: full (K, D, D) | tied (D, D) | diag (K, D) |
spherical (K,); ``prec_chol`` (the precisions' Cholesky factors) has the same
shape: the upper-triangular ``P`` with ``P P^T`` = precision, so
``||(x - mu) P||^2`` is the Mahalanobis term (1/sqrt(var) for diag/spherical).
Log-densities are (N, K), log-likelihoods (N,). Work over N is done in row
chunks of about ``_CHUNK_ELEMENTS`` elements per (rows, K*D) temporary.
"""

from __future__ import annotations

import math
from typing import Iterator, NamedTuple

import torch
from torch import Tensor

from engine.errors import ConfigError, DataError


LOG_2PI = math.log(2 * math.pi)
_CHUNK_ELEMENTS = 1 << 19  # elements of a chunk's (rows, K*D) temporaries
_CACHE_ELEMENTS = 1 << 22  # largest N x D(D+1)/2 table of products kept for a fit
_ILL_DEFINED = ("Fitting the mixture failed: a component's covariance stopped being positive definite "
                "(collapsed or duplicate points). Use fewer components, a larger reg_covar, or rescale the data.")


# ----------------------------------------------------------------------------- tensor kernels


def _row_chunks(n: int, width: int) -> Iterator[slice]:
    """Row slices of about _CHUNK_ELEMENTS / width rows (cache-sized work for (rows, width) temporaries)."""
    step = max(256, _CHUNK_ELEMENTS // max(1, width))
    return (slice(s, min(s + step, n)) for s in range(0, n, step))


def _log_det_cholesky(prec_chol: Tensor, cov_type: str, d: int) -> Tensor:
    """log det P: (K,) for full/diag/spherical, a 0-d tensor for tied."""
    if cov_type in ("full", "tied"):
        return prec_chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    if cov_type == "diag":
        return prec_chol.log().sum(1)
    return d * prec_chol.log()


class _LogProb:
    """log(w_k) + log N(x | mu_k, Sigma_k) for rows of X, with everything per-component precomputed.

    full/tied: ||(x - mu_k) P_k||^2 by one GEMM against all K factors side by
    side, columns ordered (feature, component) so the sum over features adds
    contiguous (rows, K) blocks. diag/spherical: expanded squares, two GEMMs.
    """

    def __init__(self, means: Tensor, prec_chol: Tensor, cov_type: str, log_weights: Tensor | float = 0.0) -> None:
        k, d = means.shape
        self.cov_type, self.k, self.d = cov_type, k, d
        self.const = _log_det_cholesky(prec_chol, cov_type, d) - 0.5 * d * LOG_2PI + log_weights
        if cov_type in ("full", "tied"):
            p = prec_chol.expand(k, d, d)
            self.a = p.permute(1, 2, 0).reshape(d, d * k)
            self.b = torch.einsum("kd,kde->ek", means, p).reshape(d * k)
        elif cov_type == "diag":
            prec = prec_chol.square()
            self.a, self.b, self.c = (means * prec).T, prec.T, (means.square() * prec).sum(1)
        else:
            self.a, self.b, self.c = means.T, prec_chol.square(), means.square().sum(1)

    def _mahalanobis(self, X: Tensor) -> Tensor:
        if self.cov_type == "diag":
            return torch.addmm(self.c, X, self.a, alpha=-2.0).addmm_(X.square(), self.b)
        if self.cov_type == "spherical":
            return torch.addmm(self.c, X, self.a, alpha=-2.0).add_(X.square().sum(1, keepdim=True)).mul_(self.b)
        k, d = self.k, self.d
        y = torch.addmm(self.b, X, self.a, beta=-1).square_()
        if d > 8:
            return y.view(-1, d, k).sum(1)
        out = y[:, :k] + y[:, k:2 * k] if d > 1 else y
        for e in range(2, d):
            out += y[:, e * k:(e + 1) * k]
        return out

    def __call__(self, X: Tensor, out: Tensor | None = None) -> Tensor:
        """(rows, K) for X (rows, D), written into ``out`` when given."""
        return torch.add(self.const, self._mahalanobis(X), alpha=-0.5, out=out)


def _normalize_(lp: Tensor) -> Tensor:
    """Turn log(w_k p_k(x_n)) (N, K) into responsibilities in place; return log p(x_n) (N,)."""
    top = lp.amax(1, keepdim=True)
    total = lp.sub_(top).exp_().sum(1, keepdim=True)
    lp.div_(total)
    return total.log_().add_(top).squeeze(1)


def log_likelihood(X: Tensor, weights: Tensor, means: Tensor, prec_chol: Tensor, cov_type: str) -> Tensor:
    """log p(x_n) as (N,), in row chunks."""
    log_prob = _LogProb(means, prec_chol, cov_type, weights.log())
    return torch.cat([torch.logsumexp(log_prob(X[rows]), 1) for rows in _row_chunks(X.shape[0], means.numel())])


class Moments(NamedTuple):
    """Responsibility-weighted sums: nk (K,), sx = sum r x (K, D), sxx = sum r x x^T (K, D, D) for
    full, sum r x^2 (K, D) for diag/spherical, X^T X (D, D) for tied."""

    nk: Tensor
    sx: Tensor
    sxx: Tensor


class Design:
    """Per-fit tensors for the statistics: X (N, D) and Z = [1 | X | extra] (N, C).

    extra: x_i x_j (i <= j) for full covariances when that table is small,
    x^2 for diag/spherical, nothing for tied (X^T X is kept) or large full
    (then sum r x x^T is accumulated chunk by chunk from X).
    """

    def __init__(self, X: Tensor, cov_type: str) -> None:
        n, d = X.shape
        self.X, self.cov_type, self.d = X, cov_type, d
        self.xtx = X.T @ X if cov_type == "tied" else None
        extra = []
        self.triu = None
        if cov_type == "full" and n * d * (d + 1) // 2 <= _CACHE_ELEMENTS:
            self.triu = tuple(torch.triu_indices(d, d, device=X.device))
            extra = [X[:, self.triu[0]] * X[:, self.triu[1]]]
        elif cov_type in ("diag", "spherical"):
            extra = [X.square()]
        self.Z = torch.cat([X.new_ones(n, 1), X, *extra], dim=1)
        self.chunked_sxx = cov_type == "full" and self.triu is None

    def start(self, k: int) -> tuple[Tensor, Tensor | None]:
        """Zeroed accumulators: resp^T Z (K, C) and, for large full, sum r x x^T (K*D, D)."""
        acc = self.Z.new_zeros(k, self.Z.shape[1])
        return acc, (self.Z.new_zeros(k * self.d, self.d) if self.chunked_sxx else None)

    def accumulate(self, rows: slice, resp: Tensor, acc: Tensor, sxx: Tensor | None) -> None:
        """Add the chunk ``rows`` with responsibilities resp (rows, K) to the accumulators."""
        acc.addmm_(resp.T, self.Z[rows])
        if sxx is not None:
            xs = self.X[rows]
            sxx.addmm_((resp[:, :, None] * xs[:, None, :]).reshape(xs.shape[0], -1).T, xs)

    def moments(self, acc: Tensor, sxx: Tensor | None) -> Moments:
        k, d = acc.shape[0], self.d
        nk, sx, rest = acc[:, 0], acc[:, 1:1 + d], acc[:, 1 + d:]
        if self.cov_type == "tied":
            return Moments(nk, sx, self.xtx)
        if self.triu is not None:
            sxx = acc.new_empty(k, d, d)
            sxx[:, self.triu[0], self.triu[1]] = rest
            sxx[:, self.triu[1], self.triu[0]] = rest
            return Moments(nk, sx, sxx)
        return Moments(nk, sx, rest if sxx is None else sxx.view(k, d, d))

    def statistics(self, resp: Tensor) -> Moments:
        """Moments of given responsibilities (N, K) (initialisation)."""
        acc, sxx = self.start(resp.shape[1])
        for rows in _row_chunks(resp.shape[0], resp.shape[1] * self.d):
            self.accumulate(rows, resp[rows], acc, sxx)
        return self.moments(acc, sxx)


def e_step(X: Tensor, weights: Tensor, means: Tensor, prec_chol: Tensor, cov_type: str,
           design: Design | None = None) -> tuple[Tensor, Tensor, Moments | None]:
    """(mean log-likelihood (0-d), responsibilities (N, K), moments for the M step or None).

    Works in cache-sized row chunks; with a ``design`` the M step's sums are
    accumulated while each chunk of responsibilities is still in cache.
    """
    n, k = X.shape[0], means.shape[0]
    log_prob, resp, total = _LogProb(means, prec_chol, cov_type, weights.log()), X.new_empty(n, k), X.new_zeros(())
    acc, sxx = design.start(k) if design is not None else (None, None)
    for rows in _row_chunks(n, k * X.shape[1]):
        lp = log_prob(X[rows], out=resp[rows])
        total += _normalize_(lp).sum()
        if design is not None:
            design.accumulate(rows, lp, acc, sxx)
    return total / n, resp, (design.moments(acc, sxx) if design is not None else None)


def _cancelled(second: Tensor, var: Tensor) -> Tensor:
    """True where E[x^2] - mu^2 lost too many digits: second/var (both (K, D)) beyond ~1e-5 / eps."""
    return torch.finfo(var.dtype).eps * second.amax(-1) > 1e-5 * var.amin(-1)


def m_step(m: Moments, reg_covar: float, cov_type: str, X: Tensor, resp: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(nk (K,), means (K, D), covariances) as sklearn's ``_estimate_gaussian_parameters``.

    Covariances come from second moments minus mean products; where that
    subtraction loses precision (a component much tighter than its distance
    from the data's centre, float32) they are recomputed from centred
    differences, which needs X (N, D) and resp (N, K).
    """
    nk = m.nk + 10 * torch.finfo(m.nk.dtype).eps
    means = m.sx / nk[:, None]
    if cov_type == "tied":
        cov = (m.sxx - (nk[:, None] * means).T @ means) / nk.sum()
        if bool(_cancelled(m.sxx.diagonal() / nk.sum(), cov.diagonal())):
            diffs = [(X - means[j]) * resp[:, j, None].sqrt() for j in range(len(nk))]
            cov = sum(dj.T @ dj for dj in diffs) / nk.sum()
        cov.diagonal().add_(reg_covar)
        return nk, means, cov
    if cov_type != "full":
        second = m.sxx / nk[:, None]
        var = second - means.square()
        for j in _cancelled(second, var).nonzero().flatten().tolist():
            var[j] = ((X - means[j]).square() * resp[:, j, None]).sum(0) / nk[j]
        return nk, means, (var.mean(1) if cov_type == "spherical" else var) + reg_covar
    second = m.sxx / nk[:, None, None]
    cov = second - means[:, :, None] * means[:, None, :]
    for j in _cancelled(second.diagonal(dim1=1, dim2=2), cov.diagonal(dim1=1, dim2=2)).nonzero().flatten().tolist():
        diff = X - means[j]
        cov[j] = (diff * resp[:, j, None]).T @ diff / nk[j]
    cov.diagonal(dim1=1, dim2=2).add_(reg_covar)
    return nk, means, cov


def precision_cholesky(cov: Tensor, cov_type: str) -> Tensor:
    """Upper-triangular P with P P^T = inverse(cov) (full/tied); 1/sqrt(var) otherwise."""
    if cov_type in ("full", "tied"):
        chol, info = torch.linalg.cholesky_ex(cov)
        if bool((info != 0).any()):
            raise DataError(_ILL_DEFINED)
        eye = torch.eye(cov.shape[-1], dtype=cov.dtype, device=cov.device).expand_as(cov)
        return torch.linalg.solve_triangular(chol, eye, upper=False).mT
    if bool((cov <= 0).any()):
        raise DataError(_ILL_DEFINED)
    return cov.rsqrt()


def precision_cholesky_from_precisions(prec: Tensor, cov_type: str) -> Tensor:
    """P from precision matrices: Cholesky of the index-reversed matrix, reversed back."""
    if cov_type in ("full", "tied"):
        chol, info = torch.linalg.cholesky_ex(prec.flip(-2, -1))
        if bool((info != 0).any()):
            raise ConfigError("The initial precisions are not symmetric positive definite.")
        return chol.flip(-2, -1)
    return prec.sqrt()


def covariances_from_cholesky(prec_chol: Tensor, cov_type: str) -> Tensor:
    """Covariances (in ``cov_type``'s shape) back from P: inverse(P P^T)."""
    if cov_type in ("full", "tied"):
        eye = torch.eye(prec_chol.shape[-1], dtype=prec_chol.dtype, device=prec_chol.device)
        inv = torch.linalg.solve_triangular(prec_chol, eye.expand_as(prec_chol), upper=True)
        return inv.mT @ inv
    return prec_chol.square().reciprocal()


def expand_full(cov: Tensor, cov_type: str, k: int, d: int) -> Tensor:
    """Any covariance shape as full matrices (K, D, D) (for drawing ellipses)."""
    if cov_type == "full":
        return cov
    if cov_type == "tied":
        return cov.expand(k, *cov.shape)
    if cov_type == "diag":
        return torch.diag_embed(cov)
    return cov[:, None, None] * torch.eye(d, dtype=cov.dtype, device=cov.device)


# ----------------------------------------------------------------------------- initialisation


def _sq_dist(X: Tensor, C: Tensor) -> Tensor:
    """Squared distances (N, M) between rows of X (N, D) and C (M, D)."""
    return torch.cdist(X, C).square_()


def kmeans_plusplus(X: Tensor, k: int, gen: torch.Generator) -> Tensor:
    """Greedy k-means++ seeds (K, D) as sklearn (2 + log K trials per seed)."""
    n = X.shape[0]
    trials = 2 + int(math.log(k))
    first = int(torch.randint(n, (1,), generator=gen))
    centers = [X[first]]
    closest = _sq_dist(X, X[first:first + 1])[:, 0]
    for _ in range(1, k):
        if float(closest.sum()) > 0:
            cand = torch.multinomial(closest, trials, replacement=True, generator=gen)
        else:  # every point sits on a seed already (duplicates)
            cand = torch.randint(n, (trials,), generator=gen)
        pot = torch.minimum(closest[None, :], _sq_dist(X[cand], X))
        best = int(pot.sum(1).argmin())
        closest = pot[best]
        centers.append(X[cand[best]])
    return torch.stack(centers)


def _lloyd(X: Tensor, centers: Tensor, n_iter: int = 10) -> Tensor:
    """A few Lloyd iterations from ``centers``; returns labels (N,)."""
    labels = _sq_dist(X, centers).argmin(1)
    for _ in range(n_iter):
        counts = torch.bincount(labels, minlength=len(centers)).to(X.dtype)
        sums = torch.zeros_like(centers).index_add_(0, labels, X)
        keep = counts == 0
        centers = torch.where(keep[:, None], centers, sums / counts.clamp(min=1)[:, None])
        new = _sq_dist(X, centers).argmin(1)
        if torch.equal(new, labels):
            break
        labels = new
    return labels


def initial_responsibilities(X: Tensor, k: int, method: str, gen: torch.Generator) -> Tensor:
    """Responsibilities (N, K) to start EM from (X on the CPU, as the generator).

    kmeans++: k-means++ seeds, every point to its nearest seed; kmeans: the same
    followed by Lloyd iterations; random: uniform random responsibilities,
    normalised (as sklearn); random_from_data: K distinct random points as seeds.
    """
    n = X.shape[0]
    if method == "random":
        resp = torch.rand(n, k, generator=gen, dtype=X.dtype)
        return resp / resp.sum(1, keepdim=True)
    if method == "random_from_data":
        centers = X[torch.randperm(n, generator=gen)[:k]]
    else:
        centers = kmeans_plusplus(X, k, gen)
    labels = _lloyd(X, centers) if method == "kmeans" else _sq_dist(X, centers).argmin(1)
    return torch.nn.functional.one_hot(labels, k).to(X.dtype)
