"""Compiled per-sample WaveNet step (numba) with per-layer queues (Fast WaveNet, Paine et al. 2016).

A dilated layer at time t needs its input at t and at t - d. Each layer keeps
the last d inputs in a ring buffer, so one new sample costs one matrix-vector
product per layer instead of a pass over the whole receptive field. One
eager PyTorch op costs microseconds, and a sample needs ~6 per layer, so
:func:`generate_chunk` runs whole chunks of steps (network, decoding and the
draw) in one compiled call.

Buffers (float32; ``L`` layers, ``R`` residual, ``S`` skip, ``Q`` levels,
``B`` streams, ``D`` the largest dilation):

- ``queue`` (L, B, D, R): layer inputs of the last d steps, slot t mod d;
- ``emb`` (Q, R); ``wd`` (L, 2R, 2R) = [tap t-d | tap t]; ``bd`` (B, L, 2R)
  conv bias plus conditioning; ``wr`` (L, R, R), ``br`` (L, R);
  ``ws`` (L, S, R), ``bs`` (S,) the summed skip biases; head ``w1`` (S, S),
  ``b1`` (S,), ``w2`` (Q, S), ``b2`` (Q,).

Decoding: :func:`apply_chain` applies the processor chain that
:meth:`engine.sampling.decoding.Strategy.chain` exports, rows (op code,
parameter) in order, with the torch processors' semantics in float64
(temperature, 0 = keep the first argmax; top-k with ties broken by index;
top-p keeping the smallest most-probable set with mass >= p; min-p), then
:func:`select` takes the first argmax (greedy) or the inverse-CDF draw with
one uniform per step per stream, so the compiled and the generic path draw
the same values from the same uniforms (tested).
"""

from __future__ import annotations

import math

import numpy as np

from engine.models.jit import HAVE_NUMBA, njit  # noqa: F401 - HAVE_NUMBA is read as kernels.HAVE_NUMBA


@njit(cache=True, fastmath=True, nogil=True, inline="always")
def fast_tanh(x):  # pragma: no cover - compiled
    """tanh(x) in float32 to 3e-7 absolute: a [13/6] rational fit (Eigen's fast tanh); libm's tanh is ~9x slower."""
    x = min(max(x, np.float32(-7.90531110763549805)), np.float32(7.90531110763549805))
    x2 = x * x
    p = np.float32(-2.76076847742355e-16)
    p = p * x2 + np.float32(2.00018790482477e-13)
    p = p * x2 + np.float32(-8.60467152213735e-11)
    p = p * x2 + np.float32(5.12229709037114e-08)
    p = p * x2 + np.float32(1.48572235717979e-05)
    p = p * x2 + np.float32(6.37261928875436e-04)
    p = p * x2 + np.float32(4.89352455891786e-03)
    q = np.float32(1.19825839466702e-06)
    q = q * x2 + np.float32(1.18534705686654e-04)
    q = q * x2 + np.float32(2.26843463243900e-03)
    q = q * x2 + np.float32(4.89352518554385e-03)
    return x * p / q


@njit(cache=True, fastmath=True, nogil=True)
def network_step(prev, t, dil, queue, emb, wd, bd, wr, br, ws, bs, w1, b1, w2, b2, head, logits):  # pragma: no cover
    """Advance every stream b by one step fed ``prev[b]``; with ``head`` fill logits (B, Q)."""
    n_layers, batch, _, r = queue.shape
    s, q = w1.shape[0], w2.shape[0]
    x = np.empty(r, np.float32)
    both = np.empty(2 * r, np.float32)
    z = np.empty(r, np.float32)
    skip = np.empty(s, np.float32)
    hid = np.empty(s, np.float32)
    for b in range(batch):
        x[:] = emb[prev[b]]
        skip[:] = bs
        for layer in range(n_layers):
            slot = t % dil[layer]
            both[:r] = queue[layer, b, slot]
            both[r:] = x
            queue[layer, b, slot] = x
            for j in range(r):
                a_t = bd[b, layer, j]
                a_s = bd[b, layer, r + j]
                for i in range(2 * r):
                    a_t += wd[layer, j, i] * both[i]
                    a_s += wd[layer, r + j, i] * both[i]
                z[j] = fast_tanh(a_t) * (np.float32(0.5) + np.float32(0.5) * fast_tanh(np.float32(0.5) * a_s))
            for j in range(s):
                acc = np.float32(0.0)
                for i in range(r):
                    acc += ws[layer, j, i] * z[i]
                skip[j] += acc
            if layer < n_layers - 1:
                for j in range(r):
                    acc = br[layer, j]
                    for i in range(r):
                        acc += wr[layer, j, i] * z[i]
                    x[j] += acc
        if head:
            for j in range(s):
                skip[j] = max(skip[j], 0.0)
            for j in range(s):
                acc = b1[j]
                for i in range(s):
                    acc += w1[j, i] * skip[i]
                hid[j] = max(acc, 0.0)
            for j in range(q):
                acc = b2[j]
                for i in range(s):
                    acc += w2[j, i] * hid[i]
                logits[b, j] = acc


@njit(cache=True, nogil=True)
def apply_chain(x, chain):  # pragma: no cover - compiled
    """Apply the processor rows ``chain`` (P, 2) = (op, parameter) in order to logits ``x`` (Q,) float64, in place."""
    q = x.shape[0]
    for row in range(chain.shape[0]):
        op, param = int(chain[row, 0]), chain[row, 1]
        if op == 0 and param == 0.0:  # temperature 0: keep only the first argmax
            best = np.argmax(x)
            for i in range(q):
                if i != best:
                    x[i] = -np.inf
        elif op == 0:
            for i in range(q):
                x[i] = x[i] / param
        elif op == 1 and int(param) < q:  # top-k, ties by index (stable sort)
            order = np.argsort(-x, kind="mergesort")
            for i in range(int(param), q):
                x[order[i]] = -np.inf
        elif op == 2:  # top-p: keep while the mass ranked above is < p (the first always)
            order = np.argsort(-x, kind="mergesort")
            m = x[order[0]]
            total = np.exp(x - m).sum()
            cum = 0.0
            for i in range(q):
                pr = math.exp(x[order[i]] - m) / total
                cum += pr
                if i > 0 and not (cum - pr < param):
                    x[order[i]] = -np.inf
        elif op == 3:  # min-p: drop log p < max log p + log(p)
            m = x.max()
            lse = m + math.log(np.exp(x - m).sum())
            threshold = (m - lse) + math.log(param)
            for i in range(q):
                if x[i] - lse < threshold:
                    x[i] = -np.inf


@njit(cache=True, nogil=True)
def select(x, greedy, u):  # pragma: no cover - compiled
    """The value chosen from processed logits ``x`` (Q,) float64: first argmax, or the inverse-CDF draw at ``u``."""
    if greedy:
        return int(np.argmax(x))
    m = x.max()
    e = np.exp(x - m)
    probs = e / e.sum()
    cdf = np.cumsum(probs)
    target = u * cdf[-1]
    value, last = 0, 0
    for i in range(x.shape[0]):
        if cdf[i] <= target:
            value += 1
        if probs[i] > 0:
            last = i
    return min(value, last)


@njit(cache=True, nogil=True)
def choose(logits, chain, greedy, u):  # pragma: no cover - compiled
    """One value from logits (Q,) under the chain and selector; returns (value, log p_model(value))."""
    x = logits.astype(np.float64)
    m = x.max()
    lse = m + math.log(np.exp(x - m).sum())
    processed = x.copy()
    apply_chain(processed, chain)
    value = select(processed, greedy, u)
    return value, x[value] - lse


@njit(cache=True, nogil=True)
def generate_chunk(prev, t0, n, dil, queue, weights, chain, greedy, uniforms, known, known_mask,
                   values_out, logp_out, probs_out, prob_stride):  # pragma: no cover - compiled
    """Generate ``n`` steps for B streams from time ``t0`` fed ``prev`` (B,) (updated in place).

    ``uniforms`` (n, B) float64; ``known`` (n, B) int64 replaces the draw where
    ``known_mask`` (n, B). Out: ``values_out`` (n, B) int64, ``logp_out`` (n, B)
    float64 model log p of each value, ``probs_out`` (ceil(n / prob_stride), B, Q)
    the model's distribution every ``prob_stride`` steps.
    """
    emb, wd, bd, wr, br, ws, bs, w1, b1, w2, b2 = weights
    batch = prev.shape[0]
    logits = np.empty((batch, w2.shape[0]), np.float32)
    for i in range(n):
        network_step(prev, t0 + i, dil, queue, emb, wd, bd, wr, br, ws, bs, w1, b1, w2, b2, True, logits)
        for b in range(batch):
            if i % prob_stride == 0:
                x = logits[b].astype(np.float64)
                e = np.exp(x - x.max())
                probs_out[i // prob_stride, b] = e / e.sum()
            if known_mask[i, b]:
                value = known[i, b]
                x = logits[b].astype(np.float64)
                m = x.max()
                logp = x[value] - (m + math.log(np.exp(x - m).sum()))
            else:
                value, logp = choose(logits[b], chain, greedy, uniforms[i, b])
            values_out[i, b] = value
            logp_out[i, b] = logp
        for b in range(batch):
            prev[b] = values_out[i, b]
