"""The mask X-ray: which inputs each output of a MADE may depend on, computed two ways.

- **From the masks**: the product of the layers' binary masks, output mask
  first, (D, H_L) @ ... @ (H_1, D); entry (i, j) counts the paths from input
  j to output i, so > 0 means output i may depend on input j.
- **From autograd**: the gradient of every output logit with respect to the
  input, taken through the model's own masked forward pass
  (:meth:`MADE.logits`) on a copy whose weights are all 1 and biases 0, at
  an all-ones input. Every unit then has a positive pre-activation (each
  hidden label is >= the smallest input label, so each unit has at least one
  input), no ReLU is off and no two paths cancel: the gradient is nonzero
  exactly where a path survives the masks *as the forward pass applies
  them*. A forward that forgot a mask shows up here and not in the product.

The autoregressive property is that both are strictly lower-triangular once
rows and columns are put in the ordering (:func:`is_autoregressive`).

Shapes: ``D = height * width`` pixels in flat raster index; dependency
matrices are (D, D) bool with rows = outputs, columns = inputs.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from engine.models.made import MADE

TINY_HIDDEN = (12, 10)
TINY_SIDE = 4


def unit_labels(model: MADE) -> list[np.ndarray]:
    """Connectivity labels of every unit, layer by layer: [inputs (D,), hidden 1 (H1,), ..., outputs (D,)] int64.

    An input's (and an output's) label is its step in the current ordering;
    a hidden unit's is the label drawn for the current mask set.
    """
    order = model.perm.cpu()
    degree = np.empty(model.size, dtype=np.int64)
    degree[order.numpy()] = np.arange(model.size)
    _, hidden = model.mask_set(model.mask_index)
    return [degree, *[h.numpy().astype(np.int64) for h in hidden], degree.copy()]


def layer_masks(model: MADE) -> list[np.ndarray]:
    """The current masks as (out, in) bool arrays, first layer first, the output's last."""
    return [m.detach().cpu().numpy() > 0 for m in model.masks]


def mask_dependency(model: MADE) -> np.ndarray:
    """(D, D) bool: output i may depend on input j when some path from j to i survives every mask."""
    paths = None
    for mask in model.masks:
        m = mask.detach().cpu().double()
        paths = m if paths is None else m @ paths
    if getattr(model, "direct_mask", None) is not None:  # the direct input -> output connection is a path too
        paths = paths + model.direct_mask.detach().cpu().double()
    return (paths > 0).numpy()


def autograd_dependency(model: MADE) -> np.ndarray:
    """(D, D) bool: the gradient of output logit i w.r.t. input j is nonzero (module docstring: all-ones probe)."""
    probe = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in probe.named_parameters():
            param.fill_(1.0 if name.endswith("weight") else 0.0)
    d = model.size
    x = torch.ones(d, d, device=probe.out.weight.device, requires_grad=True)  # row i answers for output i
    with torch.enable_grad():
        probe.logits(x).diagonal().sum().backward()
    return (x.grad != 0).cpu().numpy()


def output_view(dependency: np.ndarray, pixel: int, height: int, width: int) -> np.ndarray:
    """(H, W) bool: the inputs output ``pixel`` (flat raster index) may depend on."""
    return np.asarray(dependency[int(pixel)]).reshape(height, width)


def is_autoregressive(dependency: np.ndarray, order) -> bool:
    """True if, with rows and columns in the ordering ``order`` (D,), ``dependency`` is strictly lower-triangular."""
    order = np.asarray(order)
    return not np.triu(np.asarray(dependency)[np.ix_(order, order)]).any()


@dataclass(frozen=True)
class XRay:
    """One MADE mask set seen through: ``masks`` (out, in) bool per layer, ``labels`` of every unit
    (:func:`unit_labels`), ``order`` (D,) and the dependency matrices ``by_masks`` and ``by_autograd`` (D, D) bool."""

    height: int
    width: int
    masks: list[np.ndarray]
    labels: list[np.ndarray]
    order: np.ndarray
    by_masks: np.ndarray
    by_autograd: np.ndarray

    def differences(self, pixel: int | None = None) -> int:
        """How many (output, input) pairs the two ways disagree on; for one output ``pixel``, how many inputs."""
        diff = self.by_masks != self.by_autograd
        return int(diff.sum() if pixel is None else diff[int(pixel)].sum())


def xray(model: MADE) -> XRay:
    """The X-ray of ``model``'s current mask set and ordering (numpy only: safe to hand to a GUI thread)."""
    return XRay(model.height, model.width, layer_masks(model), unit_labels(model), model.perm.cpu().numpy().copy(),
                mask_dependency(model), autograd_dependency(model))


def tiny_made(seed: int = 0, ordering: str = "random", hidden=TINY_HIDDEN, side: int = TINY_SIDE) -> MADE:
    """A small untrained MADE (``side`` x ``side`` pixels, layers ``hidden``) whose masks come from ``seed``.

    The ordering (random ones drawn from ``seed`` too) and the hidden labels
    follow the seed; the weights come from a generator seeded with it, so the
    global random state is left alone. Same seed, same model.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return MADE(hidden=list(hidden), height=side, width=side, ordering=ordering, order_seed=seed).eval()


__all__ = ["TINY_HIDDEN", "TINY_SIDE", "XRay", "autograd_dependency", "is_autoregressive", "layer_masks",
           "mask_dependency", "output_view", "tiny_made", "unit_labels", "xray"]
