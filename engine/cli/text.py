"""``eval transformer`` (test bits/char beside n-gram baselines) and ``sample transformer --prompt`` (text).

    python -m engine eval transformer --checkpoint assets/transformer.safetensors --save
    python -m engine sample transformer --prompt "ROMEO." --chars 400 --strategy top-p --top-p 0.9
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from engine.cards.common import save_test_metrics
from engine.cli.eval import load_for_eval
from engine.checkpoints import read_config, write_file
from engine.data.folder import resolve_data_folder
from engine.data.text import load_shakespeare, load_user_text
from engine.errors import ConfigError
from engine.evaluation.text_eval import bits_per_char, ngram_bits_per_char
from engine.sampling import autoregressive as ar
from engine.sampling.text import text_events


def _corpus(args: argparse.Namespace):
    """The corpus the checkpoint was trained on: Shakespeare's works, or the user's text named in its config."""
    data = read_config(args.checkpoint).get("data", {})
    spec = data.get("spec", {})
    if spec.get("name") == "text" and spec.get("path"):
        return load_user_text(spec["path"])
    return load_shakespeare(resolve_data_folder(args.data).path)


def eval_text(args: argparse.Namespace) -> int:
    """Print the exact bits/char on the held-out text (the test plays; a user's text: its validation part) beside
    the unigram and bigram baselines of the training text; ``--save`` stores them and writes the card."""
    args.batch = 1  # one text, scored window by window (``--batch`` counts images for the image models)
    model, _ = load_for_eval(args)
    corpus = _corpus(args)
    test, test_set = (corpus.test, corpus.info.get("test")) if corpus.test else (corpus.valid, corpus.info["validation"])
    test = test[: args.limit] if args.limit else test
    start = time.perf_counter()
    bpc = bits_per_char(model, test)
    metrics = {"bits_per_char": bpc, "nats_per_char": bpc * math.log(2), "test_chars": len(test),
               "test_set": str(test_set), "unigram_bits_per_char": ngram_bits_per_char(corpus.train, test, 1),
               "bigram_bits_per_char": ngram_bits_per_char(corpus.train, test, 2),
               "seconds": time.perf_counter() - start}
    print(f"test {bpc:.4f} bits/char ({metrics['nats_per_char']:.4f} nats/char) on {len(test):,} characters of "
          f"{test_set}; baselines of the training text: unigram {metrics['unigram_bits_per_char']:.4f}, bigram "
          f"{metrics['bigram_bits_per_char']:.4f} bits/char")
    if args.save:
        card = save_test_metrics(args.checkpoint, metrics)
        print(f"metrics stored in {args.checkpoint}" + (f"; model card {card}" if card else ""))
    return 0


def add_text_sample_args(p: argparse.ArgumentParser) -> None:
    """``sample transformer`` options: the prompt, how many characters, how many texts, the back end."""
    p.add_argument("--prompt", default="", help="text to continue (every character must be in the vocabulary)")
    p.add_argument("--chars", type=int, default=400, help="characters to add (default 400)")
    p.add_argument("-n", type=int, default=1, help="texts to generate (default 1)")
    p.add_argument("--method", choices=("fast", "naive"), default="fast",
                   help="fast: key/value cache; naive: recompute the whole context every step")


def sample_text(args: argparse.Namespace, strategy) -> int:
    """Continue ``--prompt`` with ``strategy``; write the texts with their log p to ``--out`` (``-``: print them)."""
    model, _ = load_for_eval(args)
    if args.chars < 1 or args.n < 1:
        raise ConfigError("--chars and -n must be at least 1.")
    if len(args.prompt) >= model.context:
        print(f"note: the prompt has {len(args.prompt)} characters; the model sees the last {model.context // 2} to "
              f"{model.context - 1} of them (its context is {model.context}).", file=sys.stderr)
    model.encode(args.prompt)  # an unknown character is refused (named) before anything runs
    if strategy.is_beam:
        if args.prompt:
            raise ConfigError("Beam search starts from the beginning of a text; give no --prompt with it.")
        done = ar.drain(ar.beam_steps(model, strategy.beam_width, length=args.chars, method=args.method))
    else:
        done = ar.drain(text_events(model, args.prompt, args.chars, strategy=strategy, n=args.n, seed=args.seed,
                                    method=args.method))
    texts = [model.decode(row) for row in done.values]
    sampled = done.log_prob if strategy.is_beam else done.sampled_log_prob
    report = "\n\n".join(f"{t}\n--- log p {lp:.2f} nats, {-lp / args.chars / math.log(2):.3f} bits/char over the "
                         f"{args.chars} new characters ({strategy.describe()})" for t, lp in zip(texts, sampled))
    if str(args.out) != "-":
        print(f"{len(texts)} text(s) -> {write_file(args.out, (report + chr(10)).encode('utf-8'))}")
    else:
        print(report)
    return 0


__all__ = ["add_text_sample_args", "eval_text", "sample_text"]
