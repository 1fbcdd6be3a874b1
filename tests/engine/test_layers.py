"""Masked and shifted convolutions keep the raster order, proven by gradients."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.errors import ConfigError
from engine.models.layers import DownShiftConv2d, MaskedConv2d, RightShiftConv2d, raster_mask

H, W = 5, 6


def input_grad(net: nn.Module, channels: int, out_channel: int, r: int, c: int) -> torch.Tensor:
    """d net(x)[0, out_channel, r, c] / dx as (channels, H, W), at a random x."""
    x = torch.randn(1, channels, H, W, requires_grad=True)
    (grad,) = torch.autograd.grad(net(x)[0, out_channel, r, c], x)
    return grad[0]


def raster_index() -> torch.Tensor:
    """(H, W) raster position of every pixel."""
    return torch.arange(H * W).reshape(H, W)


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_sees_only_earlier_pixels(mask_type):
    torch.manual_seed(0)
    conv = MaskedConv2d(2, 3, 5, mask_type)
    order = raster_index()
    for r in range(H):
        for c in range(W):
            g = input_grad(conv, 2, 1, r, c).abs().sum(0)
            i = r * W + c
            assert torch.all(g[order > i] == 0)
            assert (g[r, c] != 0) == (mask_type == "B")  # mask A hides the centre, B shows it


def test_stacked_masks_keep_order_through_depth():
    torch.manual_seed(1)
    net = nn.Sequential(MaskedConv2d(1, 4, 3, "A"), nn.ReLU(), MaskedConv2d(4, 4, 3, "B"), nn.ReLU(),
                        MaskedConv2d(4, 1, 3, "B"))
    order = raster_index()
    for i in range(H * W):
        r, c = divmod(i, W)
        g = input_grad(net, 1, 0, r, c)[0]
        assert torch.all(g[order >= i] == 0)


def test_mask_is_applied_functionally_and_saved():
    torch.manual_seed(0)
    conv = MaskedConv2d(1, 2, 3, "A")
    before = conv.weight.detach().clone()
    conv(torch.randn(1, 1, H, W))
    assert torch.equal(conv.weight, before)  # the stored weight is never masked in place
    assert (conv.weight[:, :, 2, 2] != 0).all()  # a hidden position keeps its (unused) weight
    assert "mask" in conv.state_dict()
    assert dict(conv.named_buffers())["mask"].requires_grad is False


def test_rgb_channel_order_on_a_tiny_three_channel_model():
    """R sees only earlier pixels, G also R of this pixel, B also R and G of this pixel."""
    torch.manual_seed(2)
    net = nn.Sequential(MaskedConv2d(3, 12, 3, "A", color_groups=3), nn.ReLU(),
                        MaskedConv2d(12, 12, 3, "B", color_groups=3), nn.ReLU(),
                        MaskedConv2d(12, 3, 3, "B", color_groups=3))
    order = raster_index()
    for i in (0, 7, 14, H * W - 1):
        r, c = divmod(i, W)
        for colour in range(3):
            g = input_grad(net, 3, colour, r, c).abs()
            assert torch.all(g[:, order > i] == 0)  # never a later pixel
            at_pixel = g[:, r, c]
            assert torch.all(at_pixel[colour:] == 0)  # never itself or a later colour
            assert torch.all(at_pixel[:colour] > 0)  # but every earlier colour of the same pixel


def test_raster_mask_values():
    a = raster_mask(1, 1, 3, "A")[0, 0]
    b = raster_mask(1, 1, 3, "B")[0, 0]
    assert a.tolist() == [[1, 1, 1], [1, 0, 0], [0, 0, 0]]
    assert b.tolist() == [[1, 1, 1], [1, 1, 0], [0, 0, 0]]
    rgb = raster_mask(3, 3, 1, "A", color_groups=3)[:, :, 0, 0]
    assert rgb.tolist() == [[0, 0, 0], [1, 0, 0], [1, 1, 0]]


@pytest.mark.parametrize("kwargs", [dict(mask_type="C"), dict(kernel=4), dict(color_groups=3, in_channels=4)])
def test_invalid_masks_are_refused(kwargs):
    args = {"in_channels": 3, "out_channels": 3, "kernel": 3, "mask_type": "A", **kwargs}
    with pytest.raises(ConfigError):
        MaskedConv2d(**args)


@pytest.mark.parametrize("include_current", [True, False])
def test_down_shift_sees_rows_above_and_output_row_matches(include_current):
    torch.manual_seed(0)
    conv = DownShiftConv2d(2, 3, (2, 3), include_current)
    for r in range(H):
        g = input_grad(conv, 2, 0, r, 2).abs().sum(0)
        last = r if include_current else r - 1
        assert torch.all(g[last + 1 :] == 0)
        if last >= 0:
            assert g[last].sum() > 0
    x = torch.randn(2, 2, H, W)
    full = conv(x)
    for r in range(H):
        torch.testing.assert_close(conv.output_row(x, r), full[:, :, r : r + 1])


@pytest.mark.parametrize("include_current", [True, False])
def test_right_shift_sees_pixels_to_the_left_in_the_row(include_current):
    torch.manual_seed(0)
    conv = RightShiftConv2d(2, 3, 2, include_current)
    for c in range(W):
        g = input_grad(conv, 2, 0, 3, c).abs().sum(0)
        assert torch.all(g[torch.arange(H) != 3] == 0)
        last = c if include_current else c - 1
        assert torch.all(g[3, last + 1 :] == 0)
        if last >= 0:
            assert g[3, last] > 0
