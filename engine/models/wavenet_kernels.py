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

Decoding here mirrors :mod:`engine.sampling.decoding` exactly (temperature, top-k with
ties broken by index, top-p keeping the smallest most-probable set with mass
>= p, min-p, greedy = first argmax, inverse-CDF draw in float64 with one
uniform per step), so both paths draw the same values from the same uniforms.
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
def choose(logits, greedy, temperature, top_k, top_p, min_p, u):  # pragma: no cover - compiled
    """One value from logits (Q,) under the strategy; returns (value, log p_model(value))."""
    q = logits.shape[0]
    x = logits.astype(np.float64)
    m = x.max()
    e = np.exp(x - m)
    lse = m + math.log(e.sum())
    if greedy or temperature == 0.0:
        best = int(np.argmax(logits))
        return best, x[best] - lse
    z = x / temperature
    ez = e if temperature == 1.0 else np.exp(z - z.max())  # exp(z - max z): the top value has weight 1
    keep = np.ones(q, np.bool_)
    if top_k > 0 and top_k < q:
        order = np.argsort(-z, kind="mergesort")
        keep[:] = False
        for i in range(top_k):
            keep[order[i]] = True
    if top_p < 1.0:
        order = np.argsort(-z, kind="mergesort")
        total = ez.sum()
        mass = 0.0
        for i in range(q):
            keep[order[i]] = mass < top_p or i == 0
            mass += ez[order[i]] / total
    if min_p > 0.0:
        for i in range(q):
            keep[i] = ez[i] >= min_p
    target, weights = 0.0, np.where(keep, ez, 0.0)
    target = u * weights.sum()
    cdf, value, last = 0.0, 0, 0
    for i in range(q):
        cdf += weights[i]
        if cdf <= target:
            value += 1
        if weights[i] > 0:
            last = i
    value = min(value, last)
    return value, x[value] - lse


@njit(cache=True, nogil=True)
def generate_chunk(prev, t0, n, dil, queue, weights, strategy, uniforms, forced, n_forced,
                   codes_out, logp_out, probs_out, prob_stride):  # pragma: no cover - compiled
    """Generate ``n`` steps for stream 0 from time ``t0`` fed ``prev``; returns the last code.

    ``forced[i]`` replaces the draw for i < ``n_forced`` (priming). ``codes_out`` (n,),
    ``logp_out`` (n,) the model log-probability of each value, ``probs_out``
    (ceil(n / prob_stride), Q) the model's distribution every ``prob_stride`` steps.
    """
    emb, wd, bd, wr, br, ws, bs, w1, b1, w2, b2 = weights
    greedy, temperature, top_k, top_p, min_p = strategy
    logits = np.empty((1, w2.shape[0]), np.float32)
    p = np.empty(1, np.int64)
    p[0] = prev
    for i in range(n):
        network_step(p, t0 + i, dil, queue, emb, wd, bd, wr, br, ws, bs, w1, b1, w2, b2, True, logits)
        row = logits[0]
        if i % prob_stride == 0:
            m = row.max()
            e = np.exp(row - m)
            probs_out[i // prob_stride] = e / e.sum()
        if i < n_forced:
            value = forced[i]
            m = row.max()
            logp = row[value] - (m + math.log(np.exp(row - m).sum()))
        else:
            value, logp = choose(row, greedy > 0, temperature, int(top_k), top_p, min_p, uniforms[i])
        codes_out[i] = value
        logp_out[i] = logp
        p[0] = value
    return p[0]
