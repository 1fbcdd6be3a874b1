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

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError
from engine.models import wavenet_kernels as K


def bits_per_sample(nats: Tensor | float) -> Tensor | float:
    """Nats per sample -> bits per sample."""
    return nats / math.log(2)


def cost(hp: dict) -> tuple[int, int]:
    """(weights, bytes per clip being generated) of a WaveNet with settings ``hp`` (already range-checked):
    per clip, each layer's queue of past inputs (its dilation x R) and the step's channels."""
    q, r, s = hp.get("levels", 256), hp.get("residual", 32), hp.get("skip", 64)
    per_stack, stacks = hp.get("layers_per_stack", 8), hp.get("stacks", 2)
    n = per_stack * stacks
    weights = q * r + n * (4 * r * r + 2 * r + r * r + r + r * s + s) + hp.get("cond_classes", 0) * n * 2 * r
    weights += s * s + s + s * q + q
    field = stacks * (2 ** per_stack - 1) + 1
    return weights, 4 * (field * r + n * 4 * r + 2 * s + q)


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

    def layer_step(self, layer: int, past: Tensor, cur: Tensor, bias: Tensor) -> tuple[Tensor, Tensor]:
        """THE layer body, shared by the teacher-forced and the cached path.

        ``past`` / ``cur`` (B, R, T) the layer's inputs at t - d and t, ``bias``
        (B, L, 2R) -> (the next layer's input (B, R, T), skip contribution (B, S, T)).
        """
        conv = self.dilated[layer]
        a = F.conv1d(past, conv.weight[:, :, :1]) + F.conv1d(cur, conv.weight[:, :, 1:], conv.bias)
        a = a + bias[:, layer, :, None]
        z = torch.tanh(a[:, : self.residual]) * torch.sigmoid(a[:, self.residual :])
        return cur + self.res[layer](z), self.skips[layer](z)

    def head(self, skip: Tensor) -> Tensor:
        """Summed skips (B, S, T) -> logits (B, Q, T)."""
        return self.head2(F.relu(self.head1(F.relu(skip))))

    def forward_embedded(self, h: Tensor, bias: Tensor) -> Tensor:
        """Embedded inputs (B, R, T) and gate biases (B, L, 2R) -> logits (B, T, Q); output t sees h[..., :t+1]."""
        skip = 0.0
        for layer, d in enumerate(self.dilations):
            h, s = self.layer_step(layer, F.pad(h, (d, 0))[:, :, : h.shape[2]], h, bias)
            skip = skip + s
        return self.head(skip).transpose(1, 2)

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

    # ------------------------------------------------------------------ the autoregressive protocol

    @property
    def n_values(self) -> int:
        """V = Q μ-law levels."""
        return self.levels

    def n_steps(self, length: int | None = None) -> int:
        """D = ``length`` samples, chosen by the caller."""
        if length is None or int(length) < 1:
            raise ConfigError("A WaveNet generates as many samples as asked; give a length >= 1.")
        return int(length)

    def order(self, length: int | None = None) -> Tensor:
        """Time order: step t generates sample t, (D,) int64."""
        return torch.arange(self.n_steps(length))

    def start(self, batch: int, labels=None, length: int | None = None, method: str = "fast",
              known: Tensor | None = None):
        """Incremental state for ``batch`` streams (see :mod:`engine.sampling.autoregressive`).

        ``method``: "fast" (the compiled queues on the CPU with numba, else
        torch queues), "torch" (torch queues), "naive" (a forward pass over
        the last receptive field per sample). ``known`` is not needed.
        """
        if method not in ("fast", "torch", "naive"):
            raise ConfigError(f"Unknown generation method {method!r}; choose one of: fast, naive.")
        labels = None if labels is None else torch.as_tensor(np.atleast_1d(labels)).long()
        self.check_label(labels, batch)
        if method == "naive":
            return WindowState(self, batch, labels)
        if method == "fast" and K.HAVE_NUMBA and self.embed.weight.device.type == "cpu":
            return CompiledState(self, batch, labels)
        return QueueState(self, batch, labels)

    def mflop_per_sample(self) -> float:
        """Multiply-adds x 2 per generated sample on the cached path, in MFLOP."""
        r, s, q, n = self.residual, self.skip_channels, self.levels, len(self.dilations)
        per_layer = 2 * r * 2 * r + r * r + r * s
        return 2 * (n * per_layer + s * s + s * q) / 1e6


class QueueState:
    """Cached generation in torch for B streams (CUDA, or the CPU without numba): per-layer queues (B, R, d).

    Step t feeds the previous value ``prev`` (B,) through :meth:`WaveNet.layer_step`
    with the layer's input at t - d read from slot t mod d of its queue.
    """

    def __init__(self, model: WaveNet, batch: int, labels: Tensor | None):
        device = model.embed.weight.device
        self.model, self.t, self._logits = model, 0, None
        self.bias = model.cond_bias(None if labels is None else labels.to(device), batch)  # (B, L, 2R)
        self.queues = [torch.zeros(batch, model.residual, d, device=device) for d in model.dilations]
        self.prev = torch.full((batch,), model.start_code, device=device)

    def _run(self) -> Tensor:
        m, x, skip = self.model, self.model.embed(self.prev)[:, :, None], 0.0
        for layer, d in enumerate(m.dilations):
            slot = self.t % d
            past = self.queues[layer][:, :, slot : slot + 1].clone()
            self.queues[layer][:, :, slot : slot + 1] = x
            x, s = m.layer_step(layer, past, x, self.bias)
            skip = skip + s
        return m.head(skip)[:, :, 0]

    def logits(self) -> Tensor:
        """Logits (B, Q) of sample t."""
        if self._logits is None:
            self._logits = self._run()
        return self._logits

    def advance(self, values: Tensor) -> None:
        """Feed samples t (B,) and move to t + 1."""
        self.logits()
        self.prev, self.t, self._logits = torch.as_tensor(values).to(self.prev.device).long(), self.t + 1, None

    def reorder(self, index: Tensor) -> None:
        """Keep streams ``index`` (n,)."""
        index = index.to(self.prev.device)
        self.queues = [q.index_select(0, index) for q in self.queues]
        self.bias, self.prev = self.bias.index_select(0, index), self.prev.index_select(0, index)
        self._logits = None if self._logits is None else self._logits.index_select(0, index)


class WindowState(QueueState):
    """No cache: a teacher-forced pass over the last receptive field of inputs (B, <= RF) per sample."""

    def __init__(self, model: WaveNet, batch: int, labels: Tensor | None):
        super().__init__(model, batch, labels)
        self.inputs = self.prev[:, None]

    def _run(self) -> Tensor:
        h = self.model.embed(self.inputs).transpose(1, 2)
        return self.model.forward_embedded(h, self.bias)[:, -1]

    def advance(self, values: Tensor) -> None:
        super().advance(values)
        self.inputs = torch.cat([self.inputs, self.prev[:, None]], 1)[:, -self.model.receptive_field :]

    def reorder(self, index: Tensor) -> None:
        super().reorder(index)
        self.inputs = self.inputs.index_select(0, index.to(self.inputs.device))


def kernel_weights(model: WaveNet, labels: Tensor | None, batch: int) -> tuple[np.ndarray, ...]:
    """The model's weights laid out for :mod:`engine.models.wavenet_kernels` (see its docstring)."""
    def f32(t: Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().float().numpy())

    with torch.no_grad():
        wd = torch.stack([torch.cat([c.weight[:, :, 0], c.weight[:, :, 1]], 1) for c in model.dilated])
        bd = torch.stack([c.bias for c in model.dilated])[None] + model.cond_bias(labels, batch).cpu()
        wr = torch.stack([c.weight[:, :, 0] for c in model.res])
        br = torch.stack([c.bias for c in model.res])
        ws = torch.stack([c.weight[:, :, 0] for c in model.skips])
        bs = torch.stack([c.bias for c in model.skips]).sum(0)
        return tuple(f32(t) for t in (model.embed.weight, wd, bd, wr, br, ws, bs, model.head1.weight[:, :, 0],
                                      model.head1.bias, model.head2.weight[:, :, 0], model.head2.bias))


class CompiledState:
    """The compiled back end (numba, CPU): queue (L, B, D, R) and :func:`~engine.models.wavenet_kernels.network_step`.

    :meth:`run_chunk` generates whole chunks in one compiled call, decoding
    with the chain exported by :meth:`~engine.sampling.decoding.Strategy.chain`.
    """

    def __init__(self, model: WaveNet, batch: int, labels: Tensor | None):
        self.weights = list(kernel_weights(model, labels, batch))
        self.dil = np.asarray(model.dilations, np.int64)
        self.queue = np.zeros((len(self.dil), batch, int(self.dil.max()), model.residual), np.float32)
        self.prev = np.full(batch, model.start_code, np.int64)
        self.t, self._logits, self.levels = 0, None, model.levels

    def _run(self, head: bool) -> np.ndarray:
        logits = np.zeros((len(self.prev), self.levels), np.float32)
        K.network_step(self.prev, self.t, self.dil, self.queue, *self.weights, head, logits)
        return logits

    def logits(self) -> Tensor:
        """Logits (B, Q) of sample t."""
        if self._logits is None:
            self._logits = torch.from_numpy(self._run(True))
        return self._logits

    def advance(self, values: Tensor) -> None:
        """Feed samples t (B,) and move to t + 1."""
        if self._logits is None:
            self._run(False)
        self.prev = np.ascontiguousarray(torch.as_tensor(values).cpu().numpy(), np.int64)
        self.t, self._logits = self.t + 1, None

    def reorder(self, index: Tensor) -> None:
        """Keep streams ``index`` (n,)."""
        idx = torch.as_tensor(index).cpu().numpy()
        self.queue, self.prev = np.ascontiguousarray(self.queue[:, idx]), self.prev[idx].copy()
        self.weights[2] = np.ascontiguousarray(self.weights[2][idx])
        self._logits = None if self._logits is None else self._logits[idx]

    def run_chunk(self, n: int, strategy, uniforms: Tensor, known: Tensor, known_mask: Tensor,
                  prob_stride: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """n steps in one compiled call -> values (n, B), log p (n, B) float64, probs (ceil(n / stride), B, Q)."""
        if self._logits is not None:
            raise RuntimeError("run_chunk starts at a fresh step; this one's logits were already computed")
        chain, greedy = strategy.chain()
        batch = len(self.prev)
        values, logp = np.empty((n, batch), np.int64), np.empty((n, batch), np.float64)
        probs = np.empty((-(-n // prob_stride), batch, self.levels), np.float32)
        K.generate_chunk(self.prev, self.t, n, self.dil, self.queue, tuple(self.weights), chain, greedy,
                         np.ascontiguousarray(uniforms.numpy(), np.float64),
                         np.ascontiguousarray(known.numpy(), np.int64), np.ascontiguousarray(known_mask.numpy()),
                         values, logp, probs, int(prob_stride))
        self.t += n
        return values, logp, probs
