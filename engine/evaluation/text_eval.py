"""How well a character model predicts a text: exact bits per character, beside n-gram baselines of the training text.

Shapes: texts are Python strings; per-character figures are (T,) float64 nats.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from engine.device import torch_threads


@torch.no_grad()
def char_surprisal(model, text: str) -> np.ndarray:
    """-log p of every character of ``text`` given the ones before it: (T,) float64 nats (the model's windows past
    its context; ConfigError naming a character outside its vocabulary)."""
    ids = model.encode(text)
    if len(ids) == 0:
        return np.zeros(0)
    model.eval()
    return -model.char_log_probs(ids[None])[0].double().numpy()


def bits_per_char(model, text: str, threads: int | None = None) -> float:
    """Mean -log2 p per character of ``text`` under ``model`` (exact), on ``threads`` torch threads."""
    with torch_threads(threads):
        return float(char_surprisal(model, text).mean() / math.log(2))


def ngram_bits_per_char(train_text: str, test_text: str, n: int = 1, alpha: float = 0.5) -> float:
    """Bits per character of ``test_text`` under an add-``alpha`` unigram (n = 1) or bigram (n = 2) model counted on
    ``train_text``; the alphabet is the training text's characters plus one slot for any other (the first test
    character of a bigram model uses the unigram counts)."""
    if n not in (1, 2):
        raise ValueError("n must be 1 (unigram) or 2 (bigram).")
    vocab = {c: i for i, c in enumerate(sorted(set(train_text)))}
    size = len(vocab) + 1
    train = np.fromiter((vocab[c] for c in train_text), dtype=np.int64, count=len(train_text))
    test = np.fromiter((vocab.get(c, size - 1) for c in test_text), dtype=np.int64, count=len(test_text))
    uni = np.bincount(train, minlength=size) + alpha
    logp_uni = np.log2(uni / uni.sum())
    if n == 1 or len(test) < 2:
        return float(-logp_uni[test].mean())
    pairs = np.bincount(train[:-1] * size + train[1:], minlength=size * size).reshape(size, size) + alpha
    logp_bi = np.log2(pairs / pairs.sum(1, keepdims=True))
    total = logp_uni[test[0]] + logp_bi[test[:-1], test[1:]].sum()
    return float(-total / len(test))


__all__ = ["bits_per_char", "char_surprisal", "ngram_bits_per_char"]
