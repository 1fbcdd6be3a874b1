"""Gated PixelCNN (van den Oord et al. 2016, "Conditional Image Generation with PixelCNN Decoders").

An autoregressive model of H x W one-channel images in raster order:
p(x) = prod_i p(x_i | x_<i). Each pixel takes one of ``levels`` values:
``levels=2`` is binarized MNIST (one Bernoulli logit per pixel), 16 or 256
are grey levels (a categorical over the levels per pixel).

Architecture: a vertical stack (:class:`~engine.models.layers.DownShiftConv2d`,
rows strictly above the current one) and a horizontal stack
(:class:`~engine.models.layers.RightShiftConv2d`, pixels left in the current row)
so the receptive field has no blind spot; every layer is gated,
tanh(a) * sigmoid(b), the vertical features feed the horizontal stack
through a 1x1 convolution, the horizontal stack is residual, and every
layer adds a skip connection into a two-layer 1x1 output head. An optional
digit label (``num_classes > 0``) adds a learned bias to every gate.

Shapes: ``B`` images, ``H x W`` pixels, ``V`` values per pixel (V = levels).
Images are level values 0..levels-1 as (B, H, W), (B, 1, H, W) or
(B, H*W), any numeric dtype. Two evaluation paths share one body: the
teacher-forced :meth:`forward` over whole images and the incremental
:class:`RowCache` used by the fast sampler (tests prove they agree).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.models.layers import DownShiftConv2d, RightShiftConv2d, gate
from engine.models import pixelcnn_kernels as kernels

LOG2 = math.log(2.0)


def bits_per_dim(nats: Tensor | float, dims: int) -> Tensor | float:
    """Negative log-likelihood ``nats`` of an image of ``dims`` values, in bits per value."""
    return nats / (dims * LOG2)


def _check(levels: int, channels: int, layers: int, kernel: int, first_kernel: int, height: int, width: int,
           num_classes: int) -> None:
    if levels < 2 or levels > 256:
        raise ConfigError(f"levels must be between 2 (binary) and 256 grey levels, got {levels}.")
    if channels < 1 or layers < 1 or height < 1 or width < 1 or num_classes < 0:
        raise ConfigError("channels, layers, height and width must be positive and num_classes >= 0.")
    if kernel < 1 or kernel % 2 == 0 or first_kernel < 3 or first_kernel % 2 == 0:
        raise ConfigError(f"kernel must be odd and first_kernel odd and >= 3, got {kernel} and {first_kernel}.")


def cost(hp: dict) -> tuple[int, int]:
    """(weights, activation bytes per image) of a PixelCNN with settings ``hp`` (already range-checked):
    the gated layers, the label embedding and the head; per image about ten (C, H, W) maps per layer."""
    c, n, k, k1 = hp.get("channels", 32), hp.get("layers", 6), hp.get("kernel", 3), hp.get("first_kernel", 7)
    head, levels = hp.get("head", 0) or 2 * c, hp.get("levels", 2)
    first = 2 * c * (k1 // 2 * k1 + k1 // 2) + 4 * c * c + 2 * c * c
    later = 2 * c * c * ((k // 2 + 1) * k + k // 2 + 1) + 4 * c * c + 2 * c * c
    weights = first + (n - 1) * later + hp.get("num_classes", 0) * n * 4 * c + c * head + head * levels
    return weights, 4 * hp.get("height", 28) * hp.get("width", 28) * (10 * n * c + head + levels)


class GatedLayer(nn.Module):
    """One gated layer: (v, h) (B, Cin, H, W) each -> (v', h') (B, C, H, W) and a skip (B, C, H, W)."""

    def __init__(self, in_channels: int, channels: int, kernel: int, first: bool):
        super().__init__()
        kh, kw = (kernel // 2, kernel) if first else (kernel // 2 + 1, kernel)
        hw = kernel // 2 if first else kernel // 2 + 1
        self.first = first
        self.v_conv = DownShiftConv2d(in_channels, 2 * channels, (kh, kw), include_current=not first)
        self.h_conv = RightShiftConv2d(in_channels, 2 * channels, hw, include_current=not first)
        self.v_to_h = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.h_out = nn.Conv2d(channels, 2 * channels, 1)  # residual and skip, fused

    def vertical(self, v_feat: Tensor, cond: tuple[Tensor, Tensor] | None) -> tuple[Tensor, Tensor]:
        """Vertical features (B, 2C, h, W) -> (gated vertical output (B, C, h, W), input to the h stack (B, 2C, h, W))."""
        to_h = self.v_to_h(v_feat)
        if cond is not None:
            v_feat, to_h = v_feat + cond[0], to_h + cond[1]
        return gate(v_feat), to_h

    def horizontal(self, h: Tensor, to_h: Tensor) -> tuple[Tensor, Tensor]:
        """h (B, Cin, h, W) and the vertical input (B, 2C, h, W) -> (h' (B, C, h, W), skip (B, C, h, W))."""
        res, skip = self.h_out(gate(self.h_conv(h) + to_h)).chunk(2, dim=1)
        return (res if self.first else h + res), skip


class PixelCNN(nn.Module):
    """Gated PixelCNN over ``height x width`` images with ``levels`` values per pixel."""

    kind = "pixelcnn"

    def __init__(self, levels: int = 2, channels: int = 32, layers: int = 6, kernel: int = 3, first_kernel: int = 7,
                 height: int = 28, width: int = 28, num_classes: int = 0, head: int = 0):
        super().__init__()
        _check(levels, channels, layers, kernel, first_kernel, height, width, num_classes)
        self.levels, self.channels, self.n_layers, self.kernel = levels, channels, layers, kernel
        self.first_kernel, self.height, self.width, self.num_classes = first_kernel, height, width, num_classes
        self.head_channels = head or 2 * channels
        self.layers = nn.ModuleList(
            [GatedLayer(1, channels, first_kernel, True)]
            + [GatedLayer(channels, channels, kernel, False) for _ in range(layers - 1)])
        self.cond = nn.Embedding(num_classes, layers * 4 * channels) if num_classes else None
        n_out = 1 if levels == 2 else levels
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, self.head_channels, 1), nn.ReLU(),
                                  nn.Conv2d(self.head_channels, n_out, 1))

    def hparams(self) -> dict:
        """Constructor keyword arguments (stored in checkpoints)."""
        return {"levels": self.levels, "channels": self.channels, "layers": self.n_layers, "kernel": self.kernel,
                "first_kernel": self.first_kernel, "height": self.height, "width": self.width,
                "num_classes": self.num_classes, "head": self.head_channels}

    @property
    def n_values(self) -> int:
        """V: values a pixel can take (2 for binary images)."""
        return self.levels

    # ------------------------------------------------------------------ inputs

    def images(self, x: Tensor) -> Tensor:
        """Level values in any accepted shape -> (B, 1, H, W) float, checked against the model's size."""
        x = torch.as_tensor(x)
        if x.ndim < 2 or x[0].numel() != self.height * self.width:
            raise ConfigError(f"Expected {self.height}x{self.width} images, got shape {tuple(x.shape)}.")
        return x.reshape(len(x), 1, self.height, self.width).to(self.head[1].weight.device, torch.float32)

    def network_input(self, x: Tensor) -> Tensor:
        """(B, 1, H, W) level values -> network input in [0, 1]."""
        return x / (self.levels - 1)

    def conditioning(self, labels: Tensor | None, batch: int) -> list[tuple[Tensor, Tensor] | None]:
        """Per-layer gate biases ((B, 2C, 1, 1) vertical, (B, 2C, 1, 1) horizontal) for ``labels`` (B,)."""
        if self.cond is None:
            if labels is not None:
                raise ConfigError("This PixelCNN is not class-conditional; do not pass labels.")
            return [None] * self.n_layers
        if labels is None:
            raise ConfigError(f"This PixelCNN is class-conditional: pass one label (0-{self.num_classes - 1}) per image.")
        labels = torch.as_tensor(labels, device=self.cond.weight.device).long().reshape(-1)
        if len(labels) != batch or labels.min() < 0 or labels.max() >= self.num_classes:
            raise ConfigError(f"Pass {batch} label(s) between 0 and {self.num_classes - 1}.")
        emb = self.cond(labels)[:, :, None, None].chunk(2 * self.n_layers, dim=1)
        return [(emb[2 * i], emb[2 * i + 1]) for i in range(self.n_layers)]

    # ------------------------------------------------------------------ full pass

    def forward(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Teacher-forced raw outputs: images -> (B, 1, H, W) Bernoulli logits or (B, V, H, W) logits."""
        x = self.images(x)
        v = h = self.network_input(x)
        skip = None
        for layer, cond in zip(self.layers, self.conditioning(labels, len(x))):
            v, to_h = layer.vertical(layer.v_conv(v), cond)
            h, s = layer.horizontal(h, to_h)
            skip = s if skip is None else skip + s
        return self.head(skip)

    def categorical_logits(self, raw: Tensor) -> Tensor:
        """Raw outputs (B, 1 | V, h, W) -> logits (B, h, W, V); a Bernoulli logit l becomes [0, l]."""
        if self.levels == 2:
            return torch.stack([torch.zeros_like(raw[:, 0]), raw[:, 0]], dim=-1)
        return raw.permute(0, 2, 3, 1)

    def position_log_probs(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """log p(x_i | x_<i) (B, D) nats of every pixel, flat raster index: images (level values)."""
        values = self.images(x)
        raw = self.forward(values, labels)
        if self.levels == 2:
            return -F.binary_cross_entropy_with_logits(raw, values, reduction="none").flatten(1)
        return -F.cross_entropy(raw, values[:, 0].long(), reduction="none").flatten(1)

    def log_prob(self, x: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(x) in nats: images (level values) -> (B,)."""
        return self.position_log_probs(x, labels).sum(1)

    def quantize(self, x01: Tensor) -> Tensor:
        """Intensities in [0, 1] (B, ...) -> level values floor(x * levels) clipped to 0..levels-1."""
        return torch.clamp(torch.floor(x01 * self.levels), 0, self.levels - 1)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Training loss: mean NLL (nats per image) of intensities x (B, H*W [+1]) in [0, 1].

        For a class-conditional model each row carries its label as the last
        value, label / 255 (uint8 data divided by 255 by the training loop).
        """
        labels = None
        if self.cond is not None:
            x, labels = x[:, :-1], torch.round(x[:, -1] * 255).long()
        nll = -self.log_prob(self.quantize(x), labels).mean()
        return nll, {"bits_per_dim": bits_per_dim(nll.detach(), self.height * self.width)}

    # ------------------------------------------------------------------ the autoregressive protocol

    def n_steps(self, length: int | None = None) -> int:
        """D = H * W pixels (``length``, if given, must equal it)."""
        if length is not None and int(length) != self.height * self.width:
            raise ConfigError(f"This PixelCNN paints {self.height}x{self.width} images; the length is fixed.")
        return self.height * self.width

    def order(self, length: int | None = None) -> Tensor:
        """Raster order: step i paints flat pixel i = row * W + col, (D,) int64."""
        return torch.arange(self.n_steps(length))

    def start(self, batch: int, labels=None, length: int | None = None, method: str = "fast",
              known: Tensor | None = None) -> "PixelState":
        """Incremental state for ``batch`` images (see :mod:`engine.sampling.autoregressive`)."""
        self.n_steps(length)
        return PixelState(self, batch, labels, method, known)


def _as_linear(conv: nn.Conv2d) -> Tensor:
    """A (Cout, Cin, 1, k) convolution's weight as a linear map of the flattened (k, Cin) window: (Cout, k*Cin)."""
    weight = conv.weight.detach()
    return weight[:, :, 0].permute(0, 2, 1).reshape(weight.shape[0], -1).contiguous()


def step_weights(model: PixelCNN) -> dict[str, Tensor]:
    """The horizontal stack and head as stacked matrices for :mod:`engine.models.pixelcnn_kernels`."""
    layers = list(model.layers)
    later = [_as_linear(layer.h_conv) for layer in layers[1:]] or [torch.zeros(2 * model.channels, model.channels)]
    return {"w0": _as_linear(layers[0].h_conv), "wl": torch.stack(later),
            "bh": torch.stack([layer.h_conv.bias.detach() for layer in layers]),
            "wo": torch.stack([layer.h_out.weight.detach()[:, :, 0, 0] for layer in layers]),
            "bo": torch.stack([layer.h_out.bias.detach() for layer in layers]),
            "w1": model.head[1].weight.detach()[:, :, 0, 0].contiguous(), "b1": model.head[1].bias.detach(),
            "w2": model.head[3].weight.detach()[:, :, 0, 0].contiguous(), "b2": model.head[3].bias.detach()}


class RowCache:
    """Incremental evaluation of a :class:`PixelCNN` (the fast sampler's state).

    The vertical stack at row r depends only on image rows < r, so it is
    computed once per row (:meth:`start_row`) and kept per layer. Within the
    row, the horizontal stack at column c depends only on columns <= c of
    the layer below, so each layer's output is kept per column and
    :meth:`logits` computes just column c, in one compiled call
    (:func:`~engine.models.pixelcnn_kernels.column_step`) on the CPU when
    numba is installed, else with small torch ops.
    """

    def __init__(self, model: PixelCNN, image: Tensor, labels: Tensor | None = None, compiled: bool | None = None):
        """``image`` (B, 1, H, W) level values, written in place by the sampler as pixels are painted."""
        self.model, self.image = model, image
        b, c, w, n = image.shape[0], model.channels, model.width, model.n_layers
        self.cond = model.conditioning(labels, b)
        self.v = [image.new_zeros(b, c, model.height, w) for _ in range(n)]
        self.weights = step_weights(model)
        self.pad = model.layers[0].h_conv.kernel_size[1]
        self.x_row = image.new_zeros(b, self.pad + w)
        self.h = image.new_zeros(n, b, self.pad + w, c)
        self.to_h = image.new_zeros(n, b, w, 2 * c)
        self.raw = image.new_zeros(b, 1 if model.levels == 2 else model.levels)
        usable = kernels.HAVE_NUMBA and image.device.type == "cpu"
        self.compiled = usable if compiled is None else (compiled and usable)
        self.row, self.done, self._np = -1, 0, None  # numpy views of the buffers for the compiled step

    def start_row(self, row: int) -> None:
        """Compute every layer's vertical stack at ``row`` (needs image rows < ``row`` final)."""
        v_in = self.model.network_input(self.image)
        for i, (layer, cond) in enumerate(zip(self.model.layers, self.cond)):
            v_row, to_h = layer.vertical(layer.v_conv.output_row(v_in, row), cond)
            self.v[i][:, :, row : row + 1] = v_row
            self.to_h[i] = to_h[:, :, 0].transpose(1, 2)  # (B, W, 2C)
            v_in = self.v[i]
        self.row, self.done = row, 0
        self.x_row.zero_()
        self.h.zero_()

    def _column(self, col: int) -> None:
        """Horizontal stack at column ``col`` of the current row (columns < col done) into ``self.raw``."""
        if not self.compiled:
            if col:
                self.x_row[:, self.pad + col - 1] = self.model.network_input(self.image[:, 0, self.row, col - 1])
            kernels.column_step_torch(col, self.pad, *self._buffers())
            return
        if self._np is None:
            self._np = [t.numpy() for t in (self.image, *self._buffers())]
        image, x_row = self._np[0], self._np[1]
        if col:
            x_row[:, self.pad + col - 1] = image[:, 0, self.row, col - 1] / (self.model.levels - 1)
        kernels.column_step(col, self.pad, *self._np[1:])

    def _buffers(self) -> tuple[Tensor, ...]:
        wt = self.weights
        return (self.x_row, self.h, self.to_h, wt["w0"], wt["wl"], wt["bh"], wt["wo"], wt["bo"],
                wt["w1"], wt["b1"], wt["w2"], wt["b2"], self.raw)

    def logits(self, col: int) -> Tensor:
        """Logits (B, V) of pixel (current row, ``col``); needs the pixels before it final."""
        if col < self.done - 1 or col >= self.model.width:
            raise ValueError(f"column {col} was passed already (next is {self.done}) or is outside the image")
        while self.done <= col:
            self._column(self.done)
            self.done += 1
        if not self.compiled:
            return self.model.categorical_logits(self.raw[:, :, None, None].clone())[:, 0, 0]
        raw = self._np[-1]
        if self.model.levels > 2:
            return torch.from_numpy(raw.copy())
        out = np.zeros((len(raw), 2), dtype=np.float32)
        out[:, 1] = raw[:, 0]
        return torch.from_numpy(out)

    def reorder(self, index: Tensor) -> None:
        """Keep batch entries ``index`` (n,) in this order (beam search): image and every cache."""
        self.image, self.x_row, self.raw = (t.index_select(0, index) for t in (self.image, self.x_row, self.raw))
        self.h, self.to_h = self.h.index_select(1, index), self.to_h.index_select(1, index)
        self.v = [v.index_select(0, index) for v in self.v]
        self.cond = [c if c is None else (c[0].index_select(0, index), c[1].index_select(0, index)) for c in self.cond]
        self._np = None


class PixelState:
    """The protocol's incremental state: B images painted in raster order.

    ``method="fast"``: a :class:`RowCache` (compiled column step on the CPU
    with numba, else torch; "torch" forces torch); ``"naive"``: one full
    forward pass over the (B, 1, H, W) image per pixel. ``known`` (B, D)
    prefills the image (the sampler advances by those values anyway).
    """

    def __init__(self, model: PixelCNN, batch: int, labels=None, method: str = "fast", known: Tensor | None = None):
        if method not in ("fast", "naive", "torch"):
            raise ConfigError(f"Unknown sampling method {method!r}; use 'fast' or 'naive'.")
        device = model.head[1].weight.device
        self.labels = None if labels is None else torch.as_tensor(labels, device=device).long().reshape(-1)
        model.conditioning(self.labels, batch)  # validate the labels before painting anything
        image = torch.zeros(batch, 1, model.height, model.width, device=device)
        if known is not None:
            image[:] = torch.as_tensor(known, dtype=torch.float32).reshape(batch, 1, model.height, model.width)
        self.model, self.step, self._image = model, 0, image
        self.cache = None if method == "naive" else RowCache(model, image, self.labels, compiled=method == "fast")

    @property
    def image(self) -> Tensor:
        """The image buffer (B, 1, H, W) level values."""
        return self.cache.image if self.cache is not None else self._image

    def logits(self) -> Tensor:
        """Logits (B, V) of the next pixel."""
        r, c = divmod(self.step, self.model.width)
        if self.cache is None:
            return self.model.categorical_logits(self.model(self._image, self.labels))[:, r, c]
        if self.cache.row != r:
            self.cache.start_row(r)
        return self.cache.logits(c)

    def advance(self, values: Tensor) -> None:
        """Paint the next pixel with ``values`` (B,)."""
        r, c = divmod(self.step, self.model.width)
        self.image[:, 0, r, c] = values.to(self.image)
        self.step += 1

    def reorder(self, index: Tensor) -> None:
        """Keep images ``index`` (n,) in this order."""
        index = index.to(self.image.device)
        self.labels = None if self.labels is None else self.labels.index_select(0, index)
        if self.cache is not None:
            self.cache.reorder(index)
        else:
            self._image = self._image.index_select(0, index)
