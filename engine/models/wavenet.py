"""WaveNet (van den Oord et al. 2016): raw audio, one μ-law sample at a time.

p(x) = prod_t p(x_t | x_<t, c): the chain rule, exact. Architecture:

- input: the previous sample's code, embedded (``Embedding(Q, R)``); the
  sequence is shifted right by one with the silence code first, so output t
  sees codes < t only;
- ``stacks`` x ``layers_per_stack`` gated layers; layer l has a dilated causal
  convolution of kernel 2 (taps t - d and t, d = 2^(l mod layers_per_stack))
  R -> 2R, plus a per-layer bias from the global conditioning embedding
  (digit or speaker), then tanh(a) * sigmoid(b), a 1x1 residual conv R -> R
  and a 1x1 skip conv R -> S;
- head: relu, 1x1 S -> S, relu, 1x1 S -> Q logits.

Shapes: codes (B, T) int; logits (B, T, Q). The receptive field is
``1 + stacks * (2^layers_per_stack - 1)`` previous samples.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError


def bits_per_sample(nats: Tensor | float) -> Tensor | float:
    """Nats per sample -> bits per sample."""
    return nats / math.log(2)


class WaveNet(nn.Module):
    """Gated dilated causal convolutions over μ-law codes with optional global conditioning."""

    kind = "wavenet"

    def __init__(self, levels: int = 256, residual: int = 32, skip: int = 64, layers_per_stack: int = 8,
                 stacks: int = 2, cond_classes: int = 0, cond_name: str = "digit", sample_rate: int = 8000):
        super().__init__()
        for name, value, low in (("levels", levels, 2), ("residual", residual, 1), ("skip", skip, 1),
                                 ("layers_per_stack", layers_per_stack, 1), ("stacks", stacks, 1),
                                 ("sample_rate", sample_rate, 1)):
            if int(value) != value or value < low:
                raise ConfigError(f"WaveNet {name} must be a whole number >= {low}, got {value!r}.")
        if cond_classes < 0 or cond_name not in ("digit", "speaker", "note"):
            raise ConfigError("WaveNet conditioning is 'digit', 'speaker' or 'note' with cond_classes >= 0.")
        self.levels, self.residual, self.skip_channels = levels, residual, skip
        self.layers_per_stack, self.stacks = layers_per_stack, stacks
        self.cond_classes, self.cond_name, self.sample_rate = cond_classes, cond_name, sample_rate
        self.dilations = [2 ** (i % layers_per_stack) for i in range(layers_per_stack * stacks)]
        n = len(self.dilations)
        self.embed = nn.Embedding(levels, residual)
        self.dilated = nn.ModuleList(nn.Conv1d(residual, 2 * residual, 2, dilation=d) for d in self.dilations)
        self.res = nn.ModuleList(nn.Conv1d(residual, residual, 1) for _ in range(n))
        self.skips = nn.ModuleList(nn.Conv1d(residual, skip, 1) for _ in range(n))
        self.cond = nn.Embedding(cond_classes, n * 2 * residual) if cond_classes else None
        if self.cond is not None:
            nn.init.normal_(self.cond.weight, std=0.02)
        self.head1 = nn.Conv1d(skip, skip, 1)
        self.head2 = nn.Conv1d(skip, levels, 1)

    def hparams(self) -> dict:
        return {"levels": self.levels, "residual": self.residual, "skip": self.skip_channels,
                "layers_per_stack": self.layers_per_stack, "stacks": self.stacks, "cond_classes": self.cond_classes,
                "cond_name": self.cond_name, "sample_rate": self.sample_rate}

    @property
    def receptive_field(self) -> int:
        """How many past samples can influence a prediction (the current one excluded)."""
        return 1 + sum(self.dilations)

    @property
    def start_code(self) -> int:
        """The code of silence (amplitude 0), fed before the first sample."""
        return self.levels // 2

    def check_label(self, labels: Tensor | None, batch: int) -> Tensor | None:
        """Validate the conditioning labels (B,) against ``cond_classes``; None for an unconditional model."""
        if self.cond is None:
            return None
        if labels is None:
            raise ConfigError(f"This WaveNet is conditioned on the {self.cond_name}; give one of 0..{self.cond_classes - 1}.")
        labels = torch.as_tensor(labels, device=self.embed.weight.device).long().reshape(-1).expand(batch)
        if int(labels.min()) < 0 or int(labels.max()) >= self.cond_classes:
            raise ConfigError(f"The {self.cond_name} must be in 0..{self.cond_classes - 1}, got {labels.tolist()[:4]}.")
        return labels

    def cond_bias(self, labels: Tensor | None, batch: int) -> Tensor:
        """Per-layer gate biases from the conditioning: (B, L, 2R) (zeros when unconditional)."""
        n = len(self.dilations)
        labels = self.check_label(labels, batch)
        if labels is None:
            return self.embed.weight.new_zeros(batch, n, 2 * self.residual)
        return self.cond(labels).view(batch, n, 2 * self.residual)

    def shifted_input(self, codes: Tensor) -> Tensor:
        """Codes (B, T) -> network input (B, T): the start code then codes[:, :-1]."""
        start = torch.full_like(codes[:, :1], self.start_code)
        return torch.cat([start, codes[:, :-1]], 1)

    def forward_embedded(self, h: Tensor, bias: Tensor) -> Tensor:
        """Embedded inputs (B, R, T) and gate biases (B, L, 2R) -> logits (B, T, Q); output t sees h[..., :t+1]."""
        skip = 0.0
        for layer, (conv, res, sk) in enumerate(zip(self.dilated, self.res, self.skips)):
            a = conv(F.pad(h, (conv.dilation[0], 0))) + bias[:, layer, :, None]
            z = torch.tanh(a[:, : self.residual]) * torch.sigmoid(a[:, self.residual :])
            skip = skip + sk(z)
            h = h + res(z)
        out = self.head2(F.relu(self.head1(F.relu(skip))))
        return out.transpose(1, 2)

    def forward(self, codes: Tensor, labels: Tensor | None = None) -> Tensor:
        """Teacher-forced logits (B, T, Q) of every sample given the ones before it."""
        codes = codes.long()
        h = self.embed(self.shifted_input(codes)).transpose(1, 2)
        return self.forward_embedded(h, self.cond_bias(labels, len(codes)))

    def log_prob(self, codes: Tensor, labels: Tensor | None = None) -> Tensor:
        """Exact log p(codes) in nats: (B, T) -> (B,)."""
        logits = self.forward(codes, labels)
        return -F.cross_entropy(logits.transpose(1, 2), codes.long(), reduction="none").sum(1)

    def split_rows(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Training rows (B, T [+1 label]) -> codes (B, T) long and labels (B,) or None."""
        if self.cond is not None:
            return x[:, :-1].round().long(), x[:, -1].round().long()
        return x.round().long(), None

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean NLL in nats per sample of rows (B, T [+1]) of codes (label last for a conditional model)."""
        codes, labels = self.split_rows(x)
        nll = -self.log_prob(codes, labels).mean() / codes.shape[1]
        return nll, {"bits_per_sample": bits_per_sample(nll.detach())}

    def audio_samples(self, count: int, seed: int, seconds: float = 1.0):
        """``count`` clips (count, T) float32 generated with the cached path; clip i asks for class i mod C."""
        import numpy as np

        from engine.sampling.wavenet import generate

        clips = []
        for i in range(count):
            label = i % self.cond_classes if self.cond_classes else None
            clips.append(generate(self, seconds, seed=seed + i, label=label).audio)
        return np.stack(clips)

    def mflop_per_sample(self) -> float:
        """Multiply-adds x 2 per generated sample on the cached path, in MFLOP."""
        r, s, q, n = self.residual, self.skip_channels, self.levels, len(self.dilations)
        per_layer = 2 * r * 2 * r + r * r + r * s
        return 2 * (n * per_layer + s * s + s * q) / 1e6
