"""Shared masked / causal convolution layers for autoregressive image models.

Raster order: pixel (r, c) comes before (r', c') when r < r' or (r == r' and
c < c'). Every layer here keeps that order, proven by gradient tests
(tests/engine/test_layers.py):

- :class:`MaskedConv2d` (van den Oord et al. 2016, "Pixel Recurrent Neural
  Networks"): a k x k convolution whose weight is multiplied by a fixed mask
  buffer inside ``forward`` (``F.conv2d(x, weight * mask)``; the stored
  weight is never modified). Mask "A" hides the centre pixel (first layer),
  mask "B" shows it (later layers). With ``color_groups=3`` the channels are
  split in three contiguous blocks R, G, B (input and output alike) and at
  the centre pixel R sees nothing (A) / R (B), G sees R (A) / R, G (B), B sees
  R, G (A) / R, G, B (B).
- :class:`DownShiftConv2d` / :class:`RightShiftConv2d`: the vertical and
  horizontal stacks of the gated PixelCNN (van den Oord et al. 2016,
  "Conditional Image Generation with PixelCNN Decoders"), written with
  asymmetric zero padding instead of masks so no multiply is wasted on a
  zero weight. ``output_row`` computes one output row from a buffer, for
  incremental (cached) sampling; it equals the row of the full ``forward``.

Shapes: x is (B, C, H, W) float.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError

MASK_TYPES = ("A", "B")


def raster_mask(out_channels: int, in_channels: int, kernel: int, mask_type: str, color_groups: int = 1) -> Tensor:
    """The (out, in, k, k) 0/1 mask of a raster-order masked convolution.

    Positions above the centre row and left of the centre in its row are
    visible; positions after the centre are hidden. At the centre, output
    group g sees input groups g' < g (mask A) or g' <= g (mask B); with one
    group that is "centre hidden" (A) or "centre visible" (B).
    """
    if mask_type not in MASK_TYPES:
        raise ConfigError(f"Mask type must be 'A' (centre hidden) or 'B' (centre visible), got {mask_type!r}.")
    if kernel < 1 or kernel % 2 == 0:
        raise ConfigError(f"A masked convolution needs an odd kernel size, got {kernel}.")
    if color_groups < 1 or in_channels % color_groups or out_channels % color_groups:
        raise ConfigError(
            f"{in_channels} input and {out_channels} output channels cannot be split in {color_groups} colour groups."
        )
    centre = kernel // 2
    mask = torch.zeros(out_channels, in_channels, kernel, kernel)
    mask[:, :, :centre, :] = 1
    mask[:, :, centre, :centre] = 1
    out_group = torch.arange(out_channels) // (out_channels // color_groups)
    in_group = torch.arange(in_channels) // (in_channels // color_groups)
    visible = in_group[None, :] < out_group[:, None] if mask_type == "A" else in_group[None, :] <= out_group[:, None]
    mask[:, :, centre, centre] = visible.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """k x k convolution with a raster-order mask (see :func:`raster_mask`), 'same' padding.

    (B, in_channels, H, W) -> (B, out_channels, H, W). The mask is a buffer
    (saved with the weights, moved with ``.to``) applied functionally.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, mask_type: str,
                 color_groups: int = 1, bias: bool = True):
        mask = raster_mask(out_channels, in_channels, kernel, mask_type, color_groups)
        super().__init__(in_channels, out_channels, kernel, padding=kernel // 2, bias=bias)
        self.mask_type, self.color_groups = mask_type, color_groups
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


class DownShiftConv2d(nn.Conv2d):
    """Vertical-stack convolution: output (r, c) sees rows above, columns c - kw//2 .. c + kw//2.

    With ``include_current=True`` the rows seen are r - kh + 1 .. r, else
    r - kh .. r - 1 (the first layer, so the stack never sees row r of the
    image). (B, Cin, H, W) -> (B, Cout, H, W); ``kw`` must be odd.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: tuple[int, int], include_current: bool):
        kh, kw = kernel
        if kh < 1 or kw < 1 or kw % 2 == 0:
            raise ConfigError(f"A vertical-stack kernel needs height >= 1 and an odd width, got {kh}x{kw}.")
        super().__init__(in_channels, out_channels, (kh, kw))
        self.include_current = include_current

    def forward(self, x: Tensor) -> Tensor:
        kh, kw = self.kernel_size
        shift = 0 if self.include_current else 1
        out = F.conv2d(F.pad(x, (kw // 2, kw // 2, kh - 1 + shift, 0)), self.weight, self.bias)
        return out[:, :, : x.shape[2]] if shift else out

    def output_row(self, x: Tensor, row: int) -> Tensor:
        """Row ``row`` of ``forward(x)``: (B, Cin, H, W) -> (B, Cout, 1, W); reads only the rows it sees."""
        kh, kw = self.kernel_size
        last = row - (0 if self.include_current else 1)  # last input row seen
        first = last - kh + 1
        if last < 0:
            window = x.new_zeros(x.shape[0], x.shape[1], kh, x.shape[3])
        else:
            window = F.pad(x[:, :, max(first, 0) : last + 1], (0, 0, max(0, -first), 0))
        return F.conv2d(F.pad(window, (kw // 2, kw // 2, 0, 0)), self.weight, self.bias)


class RightShiftConv2d(nn.Conv2d):
    """Horizontal-stack convolution, kernel (1, kw): output (r, c) sees row r, columns left of c.

    With ``include_current=True`` the columns seen are c - kw + 1 .. c, else
    c - kw .. c - 1 (first layer: mask A). (B, Cin, H, W) -> (B, Cout, H, W);
    a one-row slice in gives that row out, which incremental sampling uses.
    """

    def __init__(self, in_channels: int, out_channels: int, width: int, include_current: bool):
        if width < 1:
            raise ConfigError(f"A horizontal-stack kernel needs width >= 1, got {width}.")
        super().__init__(in_channels, out_channels, (1, width))
        self.include_current = include_current

    def forward(self, x: Tensor) -> Tensor:
        kw = self.kernel_size[1]
        shift = 0 if self.include_current else 1
        out = F.conv2d(F.pad(x, (kw - 1 + shift, 0, 0, 0)), self.weight, self.bias)
        return out[..., : x.shape[3]] if shift else out


def gate(x: Tensor) -> Tensor:
    """Gated activation tanh(a) * sigmoid(b) of the two channel halves: (B, 2C, ...) -> (B, C, ...)."""
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


__all__ = ["DownShiftConv2d", "MaskedConv2d", "RightShiftConv2d", "gate", "raster_mask"]
