"""A character-level causal Transformer (decoder only, in the nanoGPT mould) that speaks the autoregressive protocol.

Token and learned position embeddings, ``layers`` pre-norm blocks of causal
self-attention and an MLP, a final LayerNorm and an output layer tied to the
token embedding. The vocabulary is a string (index -> character) stored in
the checkpoint's settings; one extra input token, BOS (index V), starts a
text, so the first character has a distribution too.

Long texts: the model sees at most ``context`` inputs. Past that, windows
of ``context`` inputs move on by ``context // 2``: the input at index j
(BOS is index 0) predicts from the window starting at ``a`` with
``j - a < context``, where ``a`` only jumps by half a context when it must.
:meth:`log_prob` (teacher forced, in windows) and the incremental state
(a key/value cache recomputed once per jump) use the same windows, so they
give the same numbers.

Shapes: ``B`` texts, ``T`` characters, ``V`` vocabulary size, ``H`` heads,
``W`` width.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from engine.errors import ConfigError


def cost(hp: dict) -> tuple[int, int]:
    """(weights, activation bytes per text of ``context`` characters) of a Transformer with settings ``hp``."""
    v, c = len(hp.get("vocab", "")) + 1, int(hp.get("context", 256))
    w, n = int(hp.get("width", 128)), int(hp.get("layers", 4))
    weights = (v + c) * w + n * 12 * w * w
    return weights, 4 * c * (n * (16 * w + 2 * int(hp.get("heads", 4)) * c) + v)


def window_start(index: int, context: int) -> int:
    """Where the window that predicts from input ``index`` starts (see the module docstring)."""
    half = max(context // 2, 1)
    return 0 if index < context else (index - context) // half * half + half


class CausalSelfAttention(nn.Module):
    """Multi-head attention where position t sees positions <= t only."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.qkv, self.proj = heads, nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.dropout = dropout

    def split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, T, W) -> q, k, v each (B, H, T, W / H)."""
        b, t, w = x.shape
        q, k, v = self.qkv(x).split(w, dim=2)
        return tuple(y.view(b, t, self.heads, w // self.heads).transpose(1, 2) for y in (q, k, v))

    def merge(self, y: Tensor) -> Tensor:
        """(B, H, T, W / H) -> (B, T, W) through the output projection."""
        b, h, t, d = y.shape
        return self.proj(y.transpose(1, 2).reshape(b, t, h * d))

    def forward(self, x: Tensor, weights: bool = False) -> tuple[Tensor, Tensor | None, tuple[Tensor, Tensor]]:
        """(B, T, W) -> output (B, T, W), attention (B, H, T, T) when ``weights``, and the keys/values."""
        q, k, v = self.split(x)
        if not weights:
            p = self.dropout if self.training else 0.0
            return self.merge(F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)), None, (k, v)
        t = x.shape[1]
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        causal = torch.ones(t, t, dtype=torch.bool, device=x.device).tril()
        att = torch.softmax(scores.masked_fill(~causal, float("-inf")), -1)
        return self.merge(att @ v), att, (k, v)

    def step(self, x: Tensor, cache: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor]]:
        """One new position: x (B, 1, W) with cached keys/values (B, H, n, W / H) -> output (B, 1, W),
        its attention (B, H, n + 1) over the cache and itself, and the grown cache."""
        q, k, v = self.split(x)
        k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        att = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1]), -1)
        return self.merge(att @ v), att[:, :, 0], (k, v)


class Block(nn.Module):
    """Pre-norm residual block: x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads, dropout)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width),
                                 nn.Dropout(dropout))

    def forward(self, x: Tensor, weights: bool = False):
        y, att, kv = self.attn(self.ln1(x), weights)
        x = x + y
        return x + self.mlp(self.ln2(x)), att, kv

    def step(self, x: Tensor, cache):
        y, att, kv = self.attn.step(self.ln1(x), cache)
        x = x + y
        return x + self.mlp(self.ln2(x)), att, kv


class CharTransformer(nn.Module):
    """A decoder-only Transformer over the characters of ``vocab`` (see the module docstring)."""

    kind = "transformer"

    def __init__(self, vocab: str = "", context: int = 256, layers: int = 4, heads: int = 4, width: int = 128,
                 dropout: float = 0.0):
        super().__init__()
        if len(vocab) < 2 or len(set(vocab)) != len(vocab):
            raise ConfigError("The vocabulary must hold at least 2 distinct characters (it comes from the training text).")
        if width % heads:
            raise ConfigError(f"The width ({width}) must be a multiple of the number of heads ({heads}).")
        self.vocab, self.context, self.n_layers, self.heads, self.width, self.dropout = (
            vocab, int(context), int(layers), int(heads), int(width), float(dropout))
        self.index = {c: i for i, c in enumerate(vocab)}
        self.bos = len(vocab)
        self.tok, self.pos = nn.Embedding(len(vocab) + 1, width), nn.Embedding(self.context, width)
        self.blocks = nn.ModuleList(Block(width, heads, dropout) for _ in range(layers))
        self.norm, self.drop = nn.LayerNorm(width), nn.Dropout(dropout)
        self.apply(self._init)
        for name, p in self.named_parameters():  # GPT-2's scaled init of the residual projections
            if name.endswith(("proj.weight", "mlp.2.weight")):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hparams(self) -> dict:
        return {"vocab": self.vocab, "context": self.context, "layers": self.n_layers, "heads": self.heads,
                "width": self.width, "dropout": self.dropout}

    # ------------------------------------------------------------------ text <-> indices

    def encode(self, text: str) -> Tensor:
        """(T,) int64 indices of ``text``; ConfigError naming the first character outside the vocabulary."""
        for i, c in enumerate(text):
            if c not in self.index:
                raise ConfigError(f"The character {c!r} (position {i + 1}) is not in this model's vocabulary "
                                  f"of {len(self.vocab)} characters; remove or replace it.")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        """The text of indices ``ids`` (any int sequence; BOS prints as nothing)."""
        return "".join(self.vocab[i] for i in (int(j) for j in ids) if i < len(self.vocab))

    # ------------------------------------------------------------------ teacher forcing

    def head(self, h: Tensor) -> Tensor:
        """Final norm and the tied output layer: (..., W) -> logits (..., V)."""
        return F.linear(self.norm(h), self.tok.weight[: self.bos])

    def forward(self, inputs: Tensor, attention: bool = False):
        """Inputs (B, T <= context) int64 at positions 0..T-1 -> logits (B, T, V) of the next character;
        with ``attention`` also a list of one (B, H, T, T) attention matrix per layer."""
        t = inputs.shape[1]
        if t > self.context:
            raise ConfigError(f"At most {self.context} inputs fit the context window; got {t}.")
        h = self.drop(self.tok(inputs) + self.pos(torch.arange(t, device=inputs.device)))
        maps = []
        for block in self.blocks:
            h, att, _ = block(h, attention)
            maps.append(att)
        return (self.head(h), maps) if attention else self.head(h)

    def inputs_for(self, values: Tensor) -> Tensor:
        """Texts (B, T) -> inputs (B, T): BOS then every character but the last."""
        bos = torch.full_like(values[:, :1], self.bos)
        return torch.cat([bos, values[:, :-1]], 1)

    def char_log_probs(self, values: Tensor) -> Tensor:
        """log p of every character given the ones before it (B, T) nats, in the windows of the module docstring."""
        values = values.long()
        inputs, t, c = self.inputs_for(values), values.shape[1], self.context
        out = torch.empty(values.shape, dtype=torch.float32, device=values.device)
        done = 0
        while done < t:
            a = window_start(done, c)
            stop = min(a + c, t)
            logp = torch.log_softmax(self(inputs[:, a:stop]).float(), -1)
            out[:, done:stop] = logp[:, done - a :].gather(2, values[:, done:stop, None])[..., 0]
            done = stop
        return out

    def log_prob(self, values: Tensor, labels=None) -> Tensor:
        """Exact log p of texts (B, T) int: (B,) nats (the first character conditioned on BOS)."""
        return self.char_log_probs(values).sum(1)

    def loss(self, x: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Mean NLL in nats per character of training rows (B, T + 1): row[:, 0] is an input (a character or BOS),
        row[:, 1:] the targets. Rows longer than the context are cut into windows of ``context`` + 1 (sharing one
        character), the remainder dropped."""
        rows = x.long()
        if rows.shape[1] > self.context + 1:
            rows = rows.unfold(1, self.context + 1, self.context).reshape(-1, self.context + 1)
        logits = self(rows[:, :-1])
        nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), rows[:, 1:].reshape(-1))
        return nll, {"bits_per_char": nll.detach() / math.log(2)}

    # ------------------------------------------------------------------ the autoregressive protocol

    @property
    def n_values(self) -> int:
        """V, the vocabulary size."""
        return self.bos

    def n_steps(self, length: int | None = None) -> int:
        """D = ``length`` characters (default one context)."""
        steps = self.context if length is None else int(length)
        if steps < 1:
            raise ConfigError(f"Generate at least 1 character; got {length}.")
        return steps

    def order(self, length: int | None = None) -> Tensor:
        return torch.arange(self.n_steps(length))

    def start(self, batch: int, labels=None, length: int | None = None, method: str = "fast",
              known: Tensor | None = None) -> "TextState":
        """A state for ``batch`` texts; ``method`` "fast" keeps a key/value cache, "naive" recomputes the window."""
        if labels is not None:
            raise ConfigError("A character Transformer takes no class label; give a prompt instead.")
        return TextState(self, batch, naive=method == "naive")


class TextState:
    """B texts part-way through generation (the incremental state of the protocol).

    ``tokens`` (B, n) every input so far (BOS first); ``window`` the index of
    the first input the model sees now; ``attention`` one (B, H, m) tensor per
    layer: the newest input's attention over the m inputs of the window.
    """

    def __init__(self, model: CharTransformer, batch: int, naive: bool = False):
        self.model, self.naive, self.window = model, naive, 0
        device = model.tok.weight.device
        self.tokens = torch.full((batch, 1), model.bos, dtype=torch.long, device=device)
        self.cache: list[tuple[Tensor, Tensor]] = []
        self._logits, self.attention = None, []
        self._compute()

    def _refill(self) -> None:
        """Run the whole window through the model (caching its keys/values unless naive)."""
        m = self.model
        with torch.no_grad():
            x = self.tokens[:, self.window :]
            h = m.tok(x) + m.pos(torch.arange(x.shape[1], device=x.device))
            self.cache, self.attention = [], []
            for block in m.blocks:
                h, att, kv = block(h, True)
                self.cache.append(kv)
                self.attention.append(att[:, :, -1])
            self._logits = m.head(h[:, -1])

    def _compute(self) -> None:
        """The logits after the newest input: a window jump or the naive method recompute, else one cached step."""
        n, m = self.tokens.shape[1], self.model
        start = window_start(n - 1, m.context)
        if self.naive or start != self.window or not self.cache:
            self.window = start
            self._refill()
            return
        with torch.no_grad():
            h = m.tok(self.tokens[:, -1:]) + m.pos.weight[n - 1 - self.window]
            cache, self.attention = [], []
            for block, kv in zip(m.blocks, self.cache):
                h, att, kv = block.step(h, kv)
                cache.append(kv)
                self.attention.append(att)
            self.cache, self._logits = cache, m.head(h[:, -1])

    def logits(self) -> Tensor:
        """(B, V) logits of the next character."""
        return self._logits

    def advance(self, values: Tensor) -> None:
        self.tokens = torch.cat([self.tokens, values.long().to(self.tokens.device)[:, None]], 1)
        self._compute()

    def reorder(self, index: Tensor) -> None:
        index = index.to(self.tokens.device)
        self.tokens, self._logits = self.tokens[index], self._logits[index]
        self.cache = [(k[index], v[index]) for k, v in self.cache]
        self.attention = [a[index] for a in self.attention]


def prompt_completion(model: CharTransformer, prompt: str, new_chars: int) -> tuple[Tensor, Tensor, int]:
    """A prompt as a completion for the generic sampler: known values (1, L) and mask (1, L) with
    L = len(prompt) + ``new_chars``, and L (pass it as ``length``)."""
    ids = model.encode(prompt)
    length = len(ids) + int(new_chars)
    known = torch.zeros(1, length, dtype=torch.long)
    known[0, : len(ids)] = ids
    mask = torch.zeros(1, length, dtype=torch.bool)
    mask[0, : len(ids)] = True
    return known, mask, length


__all__ = ["CharTransformer", "TextState", "cost", "prompt_completion", "window_start"]
