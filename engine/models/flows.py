"""Masked autoregressive flows (MAF, Papamakarios et al. 2017) and inverse autoregressive flows (IAF, Kingma et al. 2016).

Shapes: ``N`` points, ``D`` dimensions. Both are a stack of K invertible
autoregressive affine maps between the data space (x) and a standard normal
base space (z). Each map is one :class:`AutoregressiveAffine` built on
MADE's masks (:func:`engine.models.made.build_masks`): a masked MLP gives,
for every dimension ``i``, a shift ``mu_i`` and a log-scale ``alpha_i``
that depend only on the dimensions before ``i`` in that map's ordering, and

    A(y) = (y - mu(y)) * exp(-alpha(y))        one masked pass,
    log|det dA/dy| = -sum_i alpha_i(y)          O(D): the Jacobian is triangular,
    A^{-1}(w)_i = w_i * exp(alpha_i(y)) + mu_i(y)   D passes, one dimension each.

The orderings are reversed between consecutive maps.

- **MAF** uses A in the density direction: ``to_base(x)`` (and so
  ``log_prob``) is one pass per map; ``from_base`` (sampling) is D passes.
- **IAF** uses the same maps in the sampling direction: ``from_base(z)``
  applies A (one pass per map); ``to_base`` of an arbitrary point is D passes.

Shared weights (same ``dim, layers, hidden, seed`` give the same weights;
``load_state_dict`` moves them between the two): IAF(W) is the *inverse
flow* of MAF(W): ``IAF.from_base == MAF.to_base`` (the same one-pass map,
so IAF's samples from noise ``e`` are MAF's density map applied to ``e``)
and ``IAF.to_base == MAF.from_base`` (the same D-pass map). An IAF and a
MAF draw the same samples from the same noise only when the IAF holds the
weights of the *inverse* of the MAF's map, which no single autoregressive
affine layer can express in general; what the shared weights give exactly is
the pair of mutually inverse maps above.

Layers are numbered from the base side: layer 0 maps the base to stage 1,
layer K-1 ends at the data (:meth:`MAF.stages`). For MAF, layer ``k`` is
map ``K-1-k`` of :attr:`MAF.maps` (the data side is transformed first in the
density direction); for IAF it is map ``k``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.models.made import build_masks, hidden_labels

LOG_SCALE_BOUND = 2.0  # |alpha| per map stays below this (a soft clamp: bound * tanh(raw / bound))
# L2 penalty on the weights (0: none). With the catalog's schedule 1e-4 did not help: on two moons and Old Faithful,
# seeds 0-2, the held-out log-likelihood minus the GMM's had median -0.004 / +0.004 nats with it and -0.001 / +0.008
# without (worst seed -0.091 / -0.023 with, -0.018 / -0.026 without); within seed noise, so none (README, MAF, IAF).
WEIGHT_PENALTY = 0.0
OUTPUT_INIT_SCALE = 0.1  # each map's output layer starts at a tenth of PyTorch's default initial weights
_LOG_2PI = math.log(2 * math.pi)


def cost(hp: dict) -> tuple[int, int]:
    """(weights, activation bytes per point) of a flow with settings ``hp`` (already range-checked)."""
    d, hidden, k = int(hp.get("dim", 2)), [int(h) for h in hp.get("hidden", [64, 64])], int(hp.get("layers", 5))
    sizes = [d, *hidden, 2 * d]
    per_map = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    masks = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    return k * (per_map + masks), 4 * 3 * k * sum(sizes)


def standard_normal_log_prob(z: Tensor) -> Tensor:
    """log N(z; 0, I): z (N, D) -> (N,) nats."""
    return -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * _LOG_2PI


class AutoregressiveAffine(nn.Module):
    """One autoregressive affine map A of ``dim`` dimensions in ``order`` (D,) int64 (entry t: the dimension at step t).

    The masked MLP (hidden widths ``hidden``, tanh) maps y (N, D) to the shift
    mu (N, D) and log-scale alpha (N, D); output i sees only the dimensions
    before i in ``order``. Masks are rebuilt from ``generator`` (not stored).
    """

    def __init__(self, dim: int, hidden: list[int], order: Tensor, generator: torch.Generator):
        super().__init__()
        sizes = [dim, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(hidden[-1], 2 * dim)
        with torch.no_grad():  # near the identity map: a deep stack starts close to the base and trains better
            self.out.weight.mul_(OUTPUT_INIT_SCALE)
            self.out.bias.mul_(OUTPUT_INIT_SCALE)
        masks = build_masks(order, hidden_labels(hidden, dim, generator))
        masks[-1] = torch.cat([masks[-1], masks[-1]])  # the same connectivity for mu and alpha
        for i, mask in enumerate(masks):
            self.register_buffer(f"mask{i}", mask, persistent=False)
        self.register_buffer("order", order.clone(), persistent=False)
        self.dim = dim

    def masks(self) -> list[Tensor]:
        return [getattr(self, f"mask{i}") for i in range(len(self.layers) + 1)]

    def params(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """Shift mu (N, D) and log-scale alpha (N, D) of the points y (N, D); one masked pass."""
        masks, h = self.masks(), y
        for layer, mask in zip(self.layers, masks):
            h = torch.tanh(F.linear(h, layer.weight * mask, layer.bias))
        mu, raw = F.linear(h, self.out.weight * masks[-1], self.out.bias).chunk(2, dim=-1)
        return mu, LOG_SCALE_BOUND * torch.tanh(raw / LOG_SCALE_BOUND)

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """A(y) (N, D) and log|det dA/dy| (N,) = -sum alpha(y); one pass."""
        mu, alpha = self.params(y)
        return (y - mu) * torch.exp(-alpha), -alpha.sum(-1)

    def inverse(self, w: Tensor) -> tuple[Tensor, Tensor]:
        """A^{-1}(w) (N, D) and log|det dA^{-1}/dw| (N,) = +sum alpha(y): D passes, one dimension per pass in order.

        Built without in-place writes so that autograd can differentiate it (the Jacobian views of an IAF).
        """
        y, alphas = torch.zeros_like(w), torch.zeros_like(w)
        columns = torch.arange(self.dim, device=w.device)
        for i in self.order.tolist():
            mu, alpha = self.params(y)
            pick = columns == i
            y = torch.where(pick, w * torch.exp(alpha) + mu, y)
            alphas = torch.where(pick, alpha, alphas)
        return y, alphas.sum(-1)


class MAF(nn.Module):
    """Masked autoregressive flow: density in one pass, sampling in D passes (see the module docstring).

    ``dim`` D, ``layers`` K maps, ``hidden`` widths of each map's masked MLP,
    ``seed`` fixes the weights and the masks (same settings, same model).
    The catalog trains 10 layers of [32] by default (tuned on 2-D point sets, ``bench/flows.py``).
    """

    kind = "maf"
    fast_direction = "density"

    def __init__(self, dim: int = 2, layers: int = 5, hidden: list[int] | tuple[int, ...] = (64, 64), seed: int = 0):
        super().__init__()
        hidden = [int(h) for h in hidden]
        if dim < 1 or layers < 1 or not hidden or min(hidden) < 1:
            raise ConfigError("A flow needs dim >= 1, layers >= 1 and positive hidden widths.")
        self.dim, self.n_layers, self.hidden, self.seed = int(dim), int(layers), hidden, int(seed)
        gen = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.maps = nn.ModuleList(AutoregressiveAffine(self.dim, hidden, self._map_order(j), gen)
                                      for j in range(self.n_layers))

    def _map_order(self, j: int) -> Tensor:
        order = torch.arange(self.dim)
        return order if j % 2 == 0 else order.flip(0)

    def hparams(self) -> dict:
        return {"dim": self.dim, "layers": self.n_layers, "hidden": list(self.hidden), "seed": self.seed}

    # -------------------------------------------------------------- layers from the base side
    def layer_map(self, k: int) -> AutoregressiveAffine:
        """The map behind layer ``k`` (0: next to the base)."""
        return self.maps[self.n_layers - 1 - k]

    def layer_to_base(self, k: int, y: Tensor) -> tuple[Tensor, Tensor]:
        """Layer ``k`` alone from its data side to its base side: y (N, D) -> (N, D) and log|det| (N,) of that map."""
        return self.layer_map(k)(y)

    def layer_from_base(self, k: int, y: Tensor) -> Tensor:
        """Layer ``k`` alone from its base side to its data side: y (N, D) -> (N, D)."""
        return self.layer_map(k).inverse(y)[0]

    def layer_orders(self) -> list[Tensor]:
        """K orderings (D,) int64, layer 0 (next to the base) first: layer k's Jacobian is triangular in its ordering."""
        return [self.layer_map(k).order.clone() for k in range(self.n_layers)]

    # -------------------------------------------------------------- the flow
    def to_base(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (N, D) -> z (N, D) and log|det dz/dx| (N,)."""
        y, total = x, x.new_zeros(x.shape[0])
        for k in reversed(range(self.n_layers)):
            y, logdet = self.layer_to_base(k, y)
            total = total + logdet
        return y, total

    def from_base(self, z: Tensor) -> Tensor:
        """z (N, D) -> x (N, D)."""
        return self.stages(z)[-1]

    def stages(self, z: Tensor) -> list[Tensor]:
        """K+1 tensors (N, D): the base points z, after layer 0, ..., the data points."""
        out = [z]
        for k in range(self.n_layers):
            out.append(self.layer_from_base(k, out[-1]))
        return out

    def log_prob(self, x: Tensor) -> Tensor:
        """Exact log-density (N,) nats of the points x (N, D): log N(z; 0, I) + log|det dz/dx|."""
        z, logdet = self.to_base(x)
        return standard_normal_log_prob(z) + logdet

    def log_det_sum(self, x: Tensor) -> Tensor:
        """log|det dz/dx| (N,) as the O(D) sum of the log-scales (equals slogdet of :meth:`jacobian`)."""
        return self.to_base(x)[1]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n points (n, D) from the flow; base noise drawn with ``generator``."""
        weight = self.maps[0].out.weight
        z = torch.randn(n, self.dim, generator=generator, device=weight.device, dtype=weight.dtype)
        return self.from_base(z)

    def jacobian(self, x: Tensor, layer: int | None = None) -> Tensor:
        """dz/dx (D, D) at one data point x (D,) by autograd: entry [i, j] = d z_i / d x_j.

        ``layer=k``: layer k's own Jacobian (from its data side to its base
        side), taken where x's path through the flow enters that layer; it is
        lower triangular in ``layer_orders()[k]``. None: the whole flow's.
        """
        x = torch.as_tensor(x, dtype=self.maps[0].out.weight.dtype).reshape(-1).detach()
        if layer is None:
            return torch.autograd.functional.jacobian(lambda v: self.to_base(v[None])[0][0], x)
        if not 0 <= layer < self.n_layers:
            raise ConfigError(f"This flow has layers 0..{self.n_layers - 1}; got layer {layer}.")
        y = x[None]
        with torch.no_grad():
            for k in reversed(range(layer + 1, self.n_layers)):
                y = self.layer_to_base(k, y)[0]
        return torch.autograd.functional.jacobian(lambda v: self.layer_to_base(layer, v[None])[0][0], y[0])

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """For the training loop: the mean negative log-likelihood (nats per point) of the points x (N, D) plus
        :data:`WEIGHT_PENALTY` times the sum of the squared weights (biases free); metrics {"nll": the NLL alone}."""
        x = x.reshape(len(x), -1)
        if x.shape[1] != self.dim:
            raise ConfigError(f"The points have {x.shape[1]} dimensions; this flow models {self.dim}.")
        nll = -self.log_prob(x).mean()
        if not WEIGHT_PENALTY:
            return nll, {"nll": nll.detach()}
        penalty = sum((p * p).sum() for name, p in self.named_parameters() if name.endswith("weight"))
        return nll + WEIGHT_PENALTY * penalty, {"nll": nll.detach()}


class IAF(MAF):
    """Inverse autoregressive flow: the same maps run the other way; sampling in one pass, density in D passes."""

    kind = "iaf"
    fast_direction = "sample"

    def layer_map(self, k: int) -> AutoregressiveAffine:
        return self.maps[k]

    def layer_to_base(self, k: int, y: Tensor) -> tuple[Tensor, Tensor]:
        return self.layer_map(k).inverse(y)

    def layer_from_base(self, k: int, y: Tensor) -> Tensor:
        return self.layer_map(k)(y)[0]


__all__ = ["IAF", "LOG_SCALE_BOUND", "MAF", "WEIGHT_PENALTY", "AutoregressiveAffine", "cost", "standard_normal_log_prob"]
