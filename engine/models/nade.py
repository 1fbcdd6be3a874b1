"""NADE (Larochelle & Murray 2011): a neural autoregressive density estimator for binary images, in any ordering.

p(x) = prod_t p(x_{o_t} | x_{o_<t}) with one shared input matrix: step t's
hidden layer is h_t = sigmoid(c + W[:, o_<t] x_{o_<t}) and
p(x_{o_t} = 1) = sigmoid(b_{o_t} + V_{o_t} . h_t). The pre-activation grows by
one column per step, so all D conditionals come from one running sum
(O(D H), not O(D^2 H)) and sampling advances it in O(H) per step.

Shapes: ``B`` images, ``D = height * width`` pixels in flat raster index,
``H`` hidden units. Images are 0/1 values as (B, D) or (B, H, W), any numeric
dtype. ``perm`` (D,) int64 is the ordering (:mod:`engine.models.orderings`),
kept in the state dict so any permutation, drawn or random, round-trips.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.models.binary_image import BinaryImageModel, binary_logits
from engine.models.orderings import check_ordering, make_ordering

BLOCK = 16  # steps per block of the teacher-forced running sum


def cost(hp: dict) -> tuple[int, int]:
    """(weights, activation bytes per image) of a NADE with settings ``hp`` (already range-checked):
    W, V (H x D each) and the biases; per image a few (D, H) running-sum pre-activations and hiddens."""
    d, h = hp.get("height", 28) * hp.get("width", 28), hp.get("hidden", 500)
    return 2 * d * h + d + h, 4 * 3 * d * h


class NADEState:
    """B images part-way through sampling: the running pre-activation (B, H) and the step t."""

    def __init__(self, model: "NADE", batch: int, naive: bool):
        self.model, self.t, self.naive = model, 0, naive
        self.a = model.c.detach().expand(batch, -1).clone()
        self.x = torch.zeros(batch, model.size, device=model.c.device)  # only the naive path reads it

    def logits(self) -> Tensor:
        m, pos = self.model, int(self.model.perm[self.t])
        if self.naive:  # one full pass over every pixel set so far
            seen = m.perm[: self.t]
            a = m.c + self.x[:, seen] @ m.W[:, seen].T
        else:
            a = self.a
        return binary_logits(m.b[pos] + torch.sigmoid(a) @ m.V[pos])

    def advance(self, values: Tensor) -> None:
        pos = int(self.model.perm[self.t])
        v = values.to(self.a.dtype)
        self.a = self.a + v[:, None] * self.model.W[:, pos]
        self.x[:, pos] = v
        self.t += 1

    def reorder(self, index: Tensor) -> None:
        self.a, self.x = self.a[index], self.x[index]


class NADE(BinaryImageModel, nn.Module):
    """NADE over ``height x width`` binary images with ``hidden`` units, generated in ``ordering``."""

    kind = "nade"
    state_class = NADEState

    def __init__(self, hidden: int = 500, height: int = 28, width: int = 28, ordering: str = "raster",
                 order_seed: int = 0):
        super().__init__()
        if hidden < 1 or height < 1 or width < 1:
            raise ConfigError("hidden, height and width must be positive.")
        self.hidden, self.height, self.width, self.ordering, self.order_seed = hidden, height, width, ordering, order_seed
        self.size = d = height * width
        order = torch.arange(d) if ordering == "custom" else make_ordering(ordering, height, width, order_seed)
        self.register_buffer("perm", order)
        self.W = nn.Parameter(torch.randn(hidden, d) * 0.01)
        self.c = nn.Parameter(torch.zeros(hidden))
        self.V = nn.Parameter(torch.randn(d, hidden) * 0.01)
        self.b = nn.Parameter(torch.zeros(d))

    def hparams(self) -> dict:
        return {"hidden": self.hidden, "height": self.height, "width": self.width, "ordering": self.ordering,
                "order_seed": self.order_seed}

    def set_order(self, order) -> None:
        """Use the permutation ``order`` (D,) from now on (a drawn ordering: ``ordering`` becomes "custom")."""
        self.perm.copy_(check_ordering(order, self.size))
        self.ordering = "custom"

    def logits(self, x: Tensor) -> Tensor:
        """Teacher-forced Bernoulli logits (B, D) of every pixel, in flat raster index, from one running sum.

        The sum runs over blocks of ``BLOCK`` steps; inside a block a small
        strictly-lower-triangular matmul adds the block's earlier pixels. Cost
        O(D H BLOCK), linear in D; 4x faster on a CPU than a (B, D, H) cumsum.
        """
        xo, w, v, b = self._flat(x)[:, self.perm], self.W[:, self.perm].T, self.V[self.perm], self.b[self.perm]
        lower = torch.tril(torch.ones(BLOCK, BLOCK, device=xo.device), -1)
        run, out = self.c.expand(len(xo), -1), []
        for s in range(0, self.size, BLOCK):
            xb, wb = xo[:, s : s + BLOCK], w[s : s + BLOCK]                    # (B, k), (k, H)
            k = xb.shape[1]
            a = run[:, None, :] + (xb[:, None, :] * lower[:k, :k]) @ wb        # (B, k, H): pixels before each
            out.append(b[s : s + k] + (torch.sigmoid(a) * v[s : s + k]).sum(-1))
            run = run + xb @ wb
        out_o = torch.cat(out, 1)                                               # (B, D) in generation order
        return torch.empty_like(out_o).index_copy_(1, self.perm, out_o)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        return self.nll(x)


__all__ = ["NADE", "NADEState"]
