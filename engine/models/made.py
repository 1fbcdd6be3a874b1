"""MADE (Germain et al. 2015): a masked MLP whose outputs are autoregressive in any ordering of its inputs.

Every unit has a connectivity label: input ``i`` its step in the ordering
(0 .. D-1), a hidden unit a label drawn in [min of the previous layer, D-2];
a weight is kept where the receiving label >= the sending one (hidden) or
> it (output), so output ``i`` sees only inputs generated before it. The
masks are applied functionally (``F.linear(x, W * M, b)``). With ``direct``
the inputs also reach the outputs through one masked linear layer (output
``i`` from the inputs before it: an autoregressive logistic model beside the MLP).

A *mask set* is an ordering plus the hidden labels, drawn from a seed.
``masks`` > 1 trains order- and connectivity-agnostically: each minibatch
uses the next of ``masks`` sets (with ``order_agnostic`` each has its own
random ordering). :meth:`ensemble_log_prob` evaluates the mixture of mask
sets as the log of the MEAN probability (logsumexp over sets minus log M).

Shapes: ``B`` images, ``D = height * width`` binary pixels in flat raster
index, hidden widths ``hidden``. Images are 0/1 values (B, D) or (B, H, W).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.models.binary_image import BinaryImageModel, binary_logits
from engine.models.orderings import check_ordering, make_ordering


def cost(hp: dict) -> tuple[int, int]:
    """(weights, activation bytes per image) of a MADE with settings ``hp`` (already range-checked):
    the masked layers (weights plus one float mask per weight and mask set); per image each layer's outputs."""
    d, hidden = hp.get("height", 28) * hp.get("width", 28), [int(h) for h in hp.get("hidden", [500])]
    sizes = [d, *hidden, d]
    weights = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:])) + (d * d if hp.get("direct") else 0)
    return weights * (1 + hp.get("masks", 1)), 4 * 3 * sum(sizes)


def hidden_labels(sizes: list[int], d: int, generator: torch.Generator) -> list[Tensor]:
    """Connectivity labels of each hidden layer: (size,) int64 in [min of the layer below, D-2]."""
    labels, low = [], 0
    for size in sizes:
        m = torch.randint(low, max(d - 1, low + 1), (size,), generator=generator)
        labels.append(m)
        low = int(m.min())
    return labels


def direct_mask(order: Tensor) -> Tensor:
    """(D, D) float mask of the direct input -> output connection: output i sees input j iff j comes before i."""
    degree = torch.empty(len(order), dtype=torch.long)
    degree[order] = torch.arange(len(order))
    return (degree[:, None] > degree[None, :]).float()


def build_masks(order: Tensor, labels: list[Tensor]) -> list[Tensor]:
    """Masks (out, in) float of every layer for ``order`` (D,) and the hidden ``labels``; the last one is the output's."""
    d = len(order)
    degree = torch.empty(d, dtype=torch.long)
    degree[order] = torch.arange(d)  # input i's label: its step in the ordering
    masks, below = [], degree
    for m in labels:
        masks.append((m[:, None] >= below[None, :]).float())
        below = m
    masks.append((degree[:, None] > below[None, :]).float())
    return masks


class MADEState:
    """B images part-way through sampling: the first layer's pre-activation (B, H1), updated per pixel ("fast"),
    or the pixels so far (B, D) run through the whole network at every step ("naive")."""

    def __init__(self, model: "MADE", batch: int, naive: bool):
        self.model, self.t, self.naive = model, 0, naive
        self.x = torch.zeros(batch, model.size, device=model.out.weight.device)
        self.pre = model.layers[0].bias.detach().expand(batch, -1).clone()
        self.perm = model.perm.tolist()
        with torch.no_grad():  # the masked weights, multiplied once per image batch instead of once per pixel
            self.first = (model.layers[0].weight * model.masks[0]).T.contiguous()  # (D, H1): row i feeds input i
            self.hidden = [(layer.weight * mask, layer.bias) for layer, mask in zip(model.layers[1:], model.masks[1:-1])]
            self.out_w, self.out_b = model.out.weight * model.masks[-1], model.out.bias
            self.direct = None if model.direct is None else model.direct.weight * model.direct_mask

    def logits(self) -> Tensor:
        pos = self.perm[self.t]
        if self.naive:
            return binary_logits(self.model.logits(self.x)[:, pos])
        h = torch.relu(self.pre)
        for weight, bias in self.hidden:
            h = torch.relu(F.linear(h, weight, bias))
        logit = self.out_b[pos] + h @ self.out_w[pos]
        if self.direct is not None:  # unknown pixels are 0 in x and masked out anyway
            logit = logit + self.x @ self.direct[pos]
        return binary_logits(logit)

    def advance(self, values: Tensor) -> None:
        pos = self.perm[self.t]
        v = values.to(self.x.dtype)
        self.pre = self.pre + v[:, None] * self.first[pos]
        self.x[:, pos] = v
        self.t += 1

    def reorder(self, index: Tensor) -> None:
        self.pre, self.x = self.pre[index], self.x[index]


class MADE(BinaryImageModel, nn.Module):
    """A masked MLP over ``height x width`` binary images; ``masks`` mask sets (see the module docstring)."""

    kind = "made"
    state_class = MADEState

    def __init__(self, hidden: list[int] | tuple[int, ...] = (500,), height: int = 28, width: int = 28,
                 ordering: str = "raster", order_seed: int = 0, masks: int = 1, order_agnostic: bool = False,
                 direct: bool = False):
        super().__init__()
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1 or height < 1 or width < 1 or masks < 1:
            raise ConfigError("hidden widths, height, width and masks must be positive.")
        self.hidden, self.height, self.width, self.ordering = hidden, height, width, ordering
        self.order_seed, self.n_masks, self.order_agnostic = order_seed, masks, order_agnostic
        self.size = d = height * width
        sizes = [d, *hidden]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.out = nn.Linear(hidden[-1], d)
        self.direct = nn.Linear(d, d, bias=False) if direct else None  # masked like an autoregressive logistic model
        self.register_buffer("perm", torch.arange(d), persistent=False)
        self.mask_index, self._next = 0, 0
        self.select(0)

    def hparams(self) -> dict:
        return {"hidden": list(self.hidden), "height": self.height, "width": self.width, "ordering": self.ordering,
                "order_seed": self.order_seed, "masks": self.n_masks, "order_agnostic": self.order_agnostic,
                **({"direct": True} if self.direct is not None else {})}

    def mask_set(self, index: int) -> tuple[Tensor, list[Tensor]]:
        """Mask set ``index``: its ordering (D,) and hidden labels, drawn from (order_seed, index)."""
        gen = torch.Generator().manual_seed(self.order_seed * 100_003 + index)
        if self.order_agnostic and index > 0:
            order = torch.randperm(self.size, generator=gen)
        else:
            order = make_ordering(self.ordering, self.height, self.width, self.order_seed)
        return order, hidden_labels(self.hidden, self.size, gen)

    def select(self, index: int = 0, order=None) -> None:
        """Use mask set ``index`` (mod ``masks``), optionally with the ordering ``order`` (D,) instead of its own."""
        self.mask_index = int(index) % self.n_masks
        own, labels = self.mask_set(self.mask_index)
        order = own if order is None else check_ordering(order, self.size)
        self.perm = order.to(self.out.weight.device)
        self.masks = [m.to(self.out.weight.device) for m in build_masks(order, labels)]
        self.direct_mask = direct_mask(order).to(self.out.weight.device) if self.direct is not None else None

    def logits(self, x: Tensor) -> Tensor:
        """Bernoulli logits (B, D) of every pixel under the current mask set, one masked pass."""
        h = self._flat(x)
        for layer, mask in zip(self.layers, self.masks):
            h = torch.relu(F.linear(h, layer.weight * mask, layer.bias))
        out = F.linear(h, self.out.weight * self.masks[-1], self.out.bias)
        return out if self.direct is None else out + F.linear(self._flat(x), self.direct.weight * self.direct_mask)

    def ensemble_log_prob(self, x: Tensor, count: int | None = None) -> Tensor:
        """log of the mean of p(x) over the first ``count`` mask sets (default all): (B,) nats."""
        count = self.n_masks if count is None else int(count)
        if not 1 <= count <= self.n_masks:
            raise ConfigError(f"This MADE has {self.n_masks} mask set(s); ask for 1 to {self.n_masks}.")
        keep = self.mask_index
        try:
            per_set = []
            for i in range(count):
                self.select(i)
                per_set.append(self.log_prob(x))
        finally:
            self.select(keep)
        return torch.logsumexp(torch.stack(per_set), 0) - math.log(count)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean NLL under the next mask set (cycling through all of them, one per minibatch, while training)."""
        if self.training and self.n_masks > 1:
            self.select(self._next)
            self._next += 1
        return self.nll(x)


    def train(self, mode: bool = True) -> "MADE":
        """Leaving training puts the first mask set back (evaluation and sampling start from set 0); eval() on a
        model already in eval mode keeps whatever set and ordering were selected."""
        leaving = self.training and not mode
        super().train(mode)
        if leaving and self.n_masks > 1 and self.mask_index != 0:
            self.select(0)
        return self

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self.masks = [fn(m) for m in self.masks]
        if self.direct_mask is not None:
            self.direct_mask = fn(self.direct_mask)
        return out


__all__ = ["MADE", "MADEState", "build_masks", "direct_mask", "hidden_labels"]
