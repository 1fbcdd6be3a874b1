"""The mask X-ray: a MADE's dependencies from its masks and from autograd agree and are autoregressive."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.cards.bundled import find_bundled
from engine.catalog import load_model
from engine.evaluation import connectivity as cx
from engine.models.made import MADE
from engine.models.orderings import ORDERINGS, make_ordering


@pytest.mark.parametrize("ordering", ORDERINGS)
@pytest.mark.parametrize("hidden", [[7], [12, 10], [9, 6, 8]])
@pytest.mark.parametrize("direct", [False, True])
def test_masks_and_autograd_agree_and_are_lower_triangular_in_the_ordering(ordering, hidden, direct):
    torch.manual_seed(0)
    model = MADE(hidden=hidden, height=3, width=5, ordering=ordering, order_seed=4, direct=direct)
    by_masks, by_grad = cx.mask_dependency(model), cx.autograd_dependency(model)
    np.testing.assert_array_equal(by_masks, by_grad)
    assert cx.is_autoregressive(by_masks, model.perm.numpy())
    assert by_masks.any(), "some output depends on some input"
    if direct:  # the direct connection reaches every earlier input
        assert by_masks.sum() == 15 * 14 // 2


def test_every_mask_set_of_an_order_agnostic_made_agrees_and_follows_its_own_ordering():
    torch.manual_seed(1)
    model = MADE(hidden=[16, 16], height=4, width=4, masks=6, order_agnostic=True)
    orders = []
    for index in range(model.n_masks):
        model.select(index)
        ray = cx.xray(model)
        assert ray.differences() == 0
        assert cx.is_autoregressive(ray.by_masks, ray.order)
        orders.append(tuple(ray.order))
    assert len(set(orders)) == model.n_masks, "each mask set has its own ordering"


def test_a_chosen_ordering_moves_the_dependencies_with_it():
    model = MADE(hidden=[20], height=4, width=4, masks=3, order_agnostic=True)
    spiral = make_ordering("spiral", 4, 4)
    model.select(2, spiral)
    ray = cx.xray(model)
    assert ray.differences() == 0 and cx.is_autoregressive(ray.by_masks, spiral.numpy())
    assert not cx.is_autoregressive(ray.by_masks, np.arange(16)), "not autoregressive in raster order"
    first = int(spiral[0])
    assert not ray.by_masks[first].any(), "the first pixel of the ordering depends on nothing"


def test_the_tiny_made_labels_explain_every_mask_entry():
    model = cx.tiny_made(seed=5)
    assert (model.height, model.width, model.hidden) == (4, 4, [12, 10])
    labels, masks = cx.unit_labels(model), cx.layer_masks(model)
    assert [len(a) for a in labels] == [16, 12, 10, 16]
    assert [m.shape for m in masks] == [(12, 16), (10, 12), (16, 10)]
    for layer, mask in enumerate(masks):
        below, above = labels[layer], labels[layer + 1]
        output = layer == len(masks) - 1
        want = above[:, None] > below[None, :] if output else above[:, None] >= below[None, :]
        np.testing.assert_array_equal(mask, want)
    np.testing.assert_array_equal(np.sort(labels[0]), np.arange(16))
    assert all(0 <= h.min() and h.max() <= 14 for h in labels[1:3]), "hidden labels lie in [0, D-2]"


def test_the_tiny_made_is_the_same_for_the_same_seed_and_leaves_the_global_rng_alone():
    torch.manual_seed(9)
    before = torch.rand(1)
    torch.manual_seed(9)
    a, b, c = cx.tiny_made(seed=2), cx.tiny_made(seed=2), cx.tiny_made(seed=3)
    assert torch.rand(1) == before
    assert all(torch.equal(x, y) for x, y in zip(a.masks, b.masks))
    assert torch.equal(a.layers[0].weight, b.layers[0].weight)
    assert not all(torch.equal(x, y) for x, y in zip(a.masks, c.masks))


def test_the_per_output_view_is_that_outputs_row_as_a_picture():
    model = cx.tiny_made(seed=0, ordering="raster")
    ray = cx.xray(model)
    view = cx.output_view(ray.by_masks, 15, 4, 4)
    assert view.shape == (4, 4)
    np.testing.assert_array_equal(view.reshape(-1), ray.by_masks[15])
    assert not view[3, 3] and not cx.output_view(ray.by_masks, 0, 4, 4).any()


class LeakyMADE(MADE):
    """A broken MADE: its forward pass forgets the output layer's mask (so it may see the pixel it predicts)."""

    def logits(self, x):
        h = self._flat(x)
        for layer, mask in zip(self.layers, self.masks):
            h = torch.relu(F.linear(h, layer.weight * mask, layer.bias))
        return self.out(h)


def test_autograd_catches_a_forward_pass_that_forgets_a_mask():
    torch.manual_seed(0)
    model = LeakyMADE(hidden=[12, 10], height=4, width=4, ordering="random", order_seed=1)
    ray = cx.xray(model)
    assert ray.differences() > 0, "the masks say autoregressive, the forward pass is not"
    assert cx.is_autoregressive(ray.by_masks, ray.order)
    assert not cx.is_autoregressive(ray.by_autograd, ray.order)
    assert ray.differences(pixel=int(ray.order[0])) > 0


@pytest.mark.parametrize("name", ["made", "made_orderless"])
def test_the_bundled_mnist_mades_agree_both_ways(name):
    bundled = find_bundled(name)
    if not bundled.ok:
        pytest.skip(bundled.problem)
    model = load_model(bundled.path, expected_kind="made")
    model.select(model.n_masks - 1)
    ray = cx.xray(model)
    assert ray.by_masks.shape == (784, 784)
    assert ray.differences() == 0
    assert cx.is_autoregressive(ray.by_masks, ray.order)
