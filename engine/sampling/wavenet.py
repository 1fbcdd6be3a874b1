"""Generating audio sample by sample with a :class:`~engine.models.wavenet.WaveNet`.

:func:`generate_steps` yields an :class:`AudioChunk` every ``chunk`` samples
and a final :class:`AudioDone` (numpy only, never tensors). Three paths, the
same values for the same seed (one uniform per step from
``numpy.random.default_rng(seed)``, decoding from :mod:`engine.sampling.decoding`):

- ``"fast"`` on the CPU: the compiled cached step of
  :mod:`engine.models.wavenet_kernels` (per-layer queues, numba);
- ``"fast"`` elsewhere (CUDA, or no numba): the same queues in torch
  (:class:`TorchQueues`), batched over streams;
- ``"naive"``: a full forward pass over the last receptive field per sample,
  what most open implementations do.

:func:`generate_batch` runs B clips at once through :class:`TorchQueues`
on the model's device (the batched path for a GPU).

Priming: ``prime`` (P,) float audio is fed through the network (teacher
forced) before generation continues from it; the chunks include it, marked
by ``AudioChunk.primed``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.sound import mu_law_decode, mu_law_encode
from engine.sampling.decoding import Strategy, inverse_cdf, make_strategy, MinP, Temperature, TopK, TopP
from engine.errors import ConfigError
from engine.models import wavenet_kernels as K
from engine.models.wavenet import WaveNet, bits_per_sample

METHODS = ("fast", "naive")
MAX_SECONDS = 600.0


@dataclass(frozen=True)
class AudioChunk:
    """Samples ``start`` .. ``start + len(codes)`` of the clip.

    ``codes`` (n,) int64; ``audio`` (n,) float32 in [-1, 1]; ``log_prob`` (n,)
    float32 nats, the model's log p of each value (before the strategy);
    ``probs`` (ceil(n / prob_stride), Q) float32 the model's distribution every
    ``prob_stride`` steps; ``log_prob_so_far`` nats over generated samples;
    ``elapsed_s`` wall time since generation started; ``primed`` how many of
    these samples came from the priming clip.
    """

    start: int
    codes: np.ndarray
    audio: np.ndarray
    log_prob: np.ndarray
    probs: np.ndarray
    prob_stride: int
    log_prob_so_far: float
    elapsed_s: float
    primed: int = 0


@dataclass(frozen=True)
class AudioDone:
    """The whole clip: ``audio`` (T,) float32 at ``rate`` Hz, ``codes`` (T,), log p and bits per generated sample."""

    audio: np.ndarray
    codes: np.ndarray
    rate: int
    log_prob: float
    bits_per_sample: float
    seconds: float
    generated: int


def strategy_params(strategy: Strategy) -> tuple[int, float, int, float, float]:
    """(greedy, temperature, top_k, top_p, min_p) for the compiled decoder; beam search is refused."""
    if strategy.is_beam:
        raise ConfigError("Beam search is not offered for audio: a beam over thousands of samples per second "
                          "collapses to silence; pick greedy, temperature, top-k, top-p or min-p.")
    greedy, temp, k, p, minp = int(strategy.selector == "greedy"), 1.0, 0, 1.0, 0.0
    for proc in strategy.processors:
        if isinstance(proc, Temperature):
            temp = proc.t
        elif isinstance(proc, TopK):
            k = proc.k
        elif isinstance(proc, TopP):
            p = proc.p
        elif isinstance(proc, MinP):
            minp = proc.p
    return greedy, float(temp), int(k), float(p), float(minp)


def kernel_weights(model: WaveNet, labels) -> tuple[np.ndarray, ...]:
    """The model's weights laid out for the compiled step (see the kernels' docstring); B = len(labels)."""
    def f32(t: torch.Tensor) -> np.ndarray:
        return np.ascontiguousarray(t.detach().cpu().float().numpy())

    batch = 1 if labels is None else len(np.atleast_1d(labels))
    with torch.no_grad():
        wd = torch.stack([torch.cat([c.weight[:, :, 0], c.weight[:, :, 1]], 1) for c in model.dilated])
        bd = torch.stack([c.bias for c in model.dilated])[None] + model.cond_bias(
            None if labels is None else torch.as_tensor(np.atleast_1d(labels)), batch).cpu()
        wr = torch.stack([c.weight[:, :, 0] for c in model.res])
        br = torch.stack([c.bias for c in model.res])
        ws = torch.stack([c.weight[:, :, 0] for c in model.skips])
        bs = torch.stack([c.bias for c in model.skips]).sum(0)
        return tuple(f32(t) for t in (model.embed.weight, wd, bd, wr, br, ws, bs, model.head1.weight[:, :, 0],
                                      model.head1.bias, model.head2.weight[:, :, 0], model.head2.bias))


class CompiledQueues:
    """One stream's cached generation state for the compiled CPU step."""

    def __init__(self, model: WaveNet, label):
        self.weights = kernel_weights(model, None if label is None else [label])
        self.dil = np.asarray(model.dilations, np.int64)
        self.queue = np.zeros((len(self.dil), 1, int(self.dil.max()), model.residual), np.float32)
        self.levels = model.levels

    def run(self, prev: int, t0: int, n: int, strategy: tuple, uniforms: np.ndarray, forced: np.ndarray,
            prob_stride: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        """n steps from time t0 -> (last code, codes (n,), log p (n,), probs (ceil(n/stride), Q))."""
        codes, logp = np.empty(n, np.int64), np.empty(n, np.float32)
        probs = np.empty((-(-n // prob_stride), self.levels), np.float32)
        n_forced = min(len(forced), n)
        forced = np.ascontiguousarray(forced, np.int64) if n_forced else np.zeros(1, np.int64)
        last = K.generate_chunk(int(prev), int(t0), int(n), self.dil, self.queue, self.weights, strategy,
                                np.ascontiguousarray(uniforms, np.float64), forced, n_forced,
                                codes, logp, probs, int(prob_stride))
        return int(last), codes, logp, probs


class TorchQueues:
    """Cached generation in torch for B streams at once (CUDA, or the CPU without numba): per-layer queues (B, R, d)."""

    def __init__(self, model: WaveNet, labels, batch: int = 1):
        self.model, device = model, model.embed.weight.device
        labels = None if labels is None else torch.as_tensor(np.atleast_1d(labels), device=device)
        self.bias = model.cond_bias(labels, batch)  # (B, L, 2R)
        self.queues = [torch.zeros(batch, model.residual, d, device=device) for d in model.dilations]
        self.levels = model.levels

    @torch.no_grad()
    def logits(self, prev, t: int) -> torch.Tensor:
        """One step fed codes ``prev`` (B,) (or an int for B = 1) at time t -> logits (B, Q)."""
        m = self.model
        prev = torch.as_tensor(prev, device=self.bias.device).reshape(-1)
        x = m.embed(prev)[:, :, None]  # (B, R, 1)
        skip = 0.0
        for layer, (conv, res, sk) in enumerate(zip(m.dilated, m.res, m.skips)):
            slot = t % conv.dilation[0]
            past = self.queues[layer][:, :, slot : slot + 1].clone()
            self.queues[layer][:, :, slot : slot + 1] = x
            w = conv.weight
            a = F.conv1d(past, w[:, :, :1]) + F.conv1d(x, w[:, :, 1:], conv.bias) + self.bias[:, layer, :, None]
            z = torch.tanh(a[:, : m.residual]) * torch.sigmoid(a[:, m.residual :])
            skip = skip + sk(z)
            x = x + res(z)
        return m.head2(F.relu(m.head1(F.relu(skip))))[:, :, 0]

    def run(self, prev, t0, n, strategy_obj: Strategy, uniforms, forced, prob_stride):
        return _torch_loop(lambda p, t: self.logits(p, t), prev, t0, n, strategy_obj, uniforms, forced, prob_stride,
                           self.levels)


@torch.no_grad()
def generate_batch(model: WaveNet, seconds: float, labels=None, *, batch: int | None = None,
                   strategy: Strategy | str | None = None, seed: int = 0) -> np.ndarray:
    """B clips at once on the model's device with :class:`TorchQueues` (the batched path for CUDA).

    ``labels`` (B,) for a conditional model (else ``batch`` streams); returns codes (B, T).
    Stream b draws its uniforms from ``default_rng([seed, b])``.
    """
    strategy = make_strategy(strategy or "sample") if not isinstance(strategy, Strategy) else strategy
    strategy_params(strategy)  # refuses beam search
    n_streams = len(np.atleast_1d(labels)) if labels is not None else int(batch or 1)
    if labels is not None:
        model.check_label(torch.as_tensor(np.atleast_1d(labels)), n_streams)
    total = _check_length(model, seconds)
    queues = TorchQueues(model, labels, n_streams)
    uniforms = np.stack([np.random.default_rng([seed, b]).random(total) for b in range(n_streams)])
    device = model.embed.weight.device
    prev = torch.full((n_streams,), model.start_code, device=device)
    codes = torch.empty(n_streams, total, dtype=torch.long, device=device)
    for t in range(total):
        logits = queues.logits(prev, t).float()
        if strategy.selector == "greedy":
            prev = logits.argmax(-1)
        else:
            u = torch.as_tensor(uniforms[:, t : t + 1], device=device)
            prev = inverse_cdf(strategy.process(logits), u)
        codes[:, t] = prev
    return codes.cpu().numpy()


class NaiveWindow:
    """No cache: a forward pass over the last receptive field of inputs for every sample."""

    def __init__(self, model: WaveNet, label):
        self.model, self.inputs, self.levels = model, [], model.levels
        device = model.embed.weight.device
        self.bias = model.cond_bias(None if label is None else torch.tensor([label], device=device), 1)

    @torch.no_grad()
    def logits(self, prev: int, t: int) -> torch.Tensor:
        """Inputs so far are [start, x_0 .. x_{t-1}]; the last receptive field of them decides x_t."""
        m = self.model
        self.inputs.append(prev)
        window = self.inputs[-m.receptive_field:]
        self.inputs = window  # older inputs can never matter again
        h = m.embed(torch.tensor([window], device=self.bias.device)).transpose(1, 2)
        return m.forward_embedded(h, self.bias)[:, -1]

    def run(self, prev, t0, n, strategy_obj: Strategy, uniforms, forced, prob_stride):
        return _torch_loop(self.logits, prev, t0, n, strategy_obj, uniforms, forced, prob_stride, self.levels)


def _torch_loop(step, prev, t0, n, strategy: Strategy, uniforms, forced, prob_stride, levels):
    """The compiled chunk loop in Python around a torch ``step(prev, t) -> logits (1, Q)``."""
    codes, logp = np.empty(n, np.int64), np.empty(n, np.float32)
    probs = np.empty((-(-n // prob_stride), levels), np.float32)
    for i in range(n):
        logits = step(prev, t0 + i).float().cpu()
        log_probs = torch.log_softmax(logits.double(), -1)[0]
        if i % prob_stride == 0:
            probs[i // prob_stride] = log_probs.exp().numpy()
        if i < len(forced):
            value = int(forced[i])
        elif strategy.selector == "greedy":
            value = int(logits.argmax(-1))
        else:
            value = int(inverse_cdf(strategy.process(logits), torch.tensor([[uniforms[i]]], dtype=torch.float64)))
        codes[i], logp[i], prev = value, float(log_probs[value]), value
    return prev, codes, logp, probs


def _stepper(model: WaveNet, label, method: str):
    if method not in METHODS:
        raise ConfigError(f"Unknown generation method {method!r}; choose one of: {', '.join(METHODS)}.")
    if method == "naive":
        return NaiveWindow(model, label)
    if K.HAVE_NUMBA and model.embed.weight.device.type == "cpu":
        return CompiledQueues(model, label)
    return TorchQueues(model, label)


def _check_length(model: WaveNet, seconds: float) -> int:
    if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and 0 < seconds <= MAX_SECONDS):
        raise ConfigError(f"The length must be between 0 and {MAX_SECONDS:.0f} seconds, got {seconds!r}.")
    return max(1, int(round(seconds * model.sample_rate)))


@torch.no_grad()
def generate_steps(model: WaveNet, seconds: float, *, strategy: Strategy | str | None = None, seed: int = 0,
                   label: int | None = None, prime: np.ndarray | None = None, method: str = "fast",
                   chunk: int = 400, prob_stride: int = 16) -> Iterator[AudioChunk | AudioDone]:
    """Generate ``seconds`` of audio (after the optional ``prime`` clip (P,)), yielding chunks as they are made."""
    strategy = make_strategy("sample") if strategy is None else strategy
    strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
    params = strategy_params(strategy)
    model.check_label(label, 1)
    n_new = _check_length(model, seconds)
    if chunk < 1 or prob_stride < 1:
        raise ConfigError("chunk and prob_stride must be positive.")
    primed = mu_law_encode(np.asarray(prime, np.float32), model.levels) if prime is not None else np.zeros(0, np.int64)
    stepper, rng = _stepper(model, label, method), np.random.default_rng(seed)
    total = len(primed) + n_new
    codes_all, t, prev, logp_sum, t_start = [], 0, model.start_code, 0.0, time.perf_counter()
    while t < total:
        n = min(chunk, total - t)
        forced = primed[t : t + n]
        uniforms = rng.random(n)
        arg = params if isinstance(stepper, CompiledQueues) else strategy
        prev, codes, logp, probs = stepper.run(prev, t, n, arg, uniforms, forced, prob_stride)
        logp_sum += float(logp[len(forced):].astype(np.float64).sum())
        codes_all.append(codes)
        yield AudioChunk(t, codes, mu_law_decode(codes, model.levels), logp, probs, prob_stride, logp_sum,
                         time.perf_counter() - t_start, len(forced))
        t += n
    codes = np.concatenate(codes_all)
    yield AudioDone(mu_law_decode(codes, model.levels), codes, model.sample_rate, logp_sum,
                    float(bits_per_sample(-logp_sum / n_new)), time.perf_counter() - t_start, n_new)


def generate(model: WaveNet, seconds: float, **kwargs) -> AudioDone:
    """Drain :func:`generate_steps` and return the finished clip."""
    done = None
    for event in generate_steps(model, seconds, **kwargs):
        if isinstance(event, AudioDone):
            done = event
    return done
