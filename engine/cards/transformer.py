"""The model card (markdown) of a character Transformer checkpoint, written from the checkpoint's own config."""

from __future__ import annotations

from pathlib import Path

from engine.cards.common import history_table, optimizer_line, results_section, time_line, write_markdown
from engine.cards.pixelcnn import _size

TARGET_BITS = 2.5  # issue #15: test bits/char on the three held-out plays, on two CPU cores


def _model_lines(hp: dict) -> list[str]:
    return [f"- Decoder-only Transformer (nanoGPT mould): {hp['layers']} pre-norm blocks, {hp['heads']} heads, width "
            f"{hp['width']}, context {hp['context']} characters, learned token and position embeddings, output "
            f"layer tied to the token embedding; a vocabulary of {len(hp['vocab'])} characters (from the training "
            "text) plus a start token.",
            "- log p(text) exact in one pass per window (texts longer than the context in windows moving by half a "
            "context); sampling one character per step with a key/value cache."]


def _training(config: dict) -> list[str]:
    t, data = config.get("training", {}), config.get("data", {})
    lines = [f"- Data: {data.get('dataset')} ({data.get('split')}, {data.get('characters', '?'):,} characters, "
             f"{data.get('rows')}). {data.get('license')}",
             f"- Validation: {data.get('validation')}; test: {data.get('test', 'the held-out works')}."]
    if "epochs" in t:
        lines += [optimizer_line(t, f"rows of {data.get('rows', '?').split(' of ')[-1]} cut into windows of the "
                                    f"context, {t.get('epochs_done', t['epochs'])} epochs, gradient clipping "
                                    f"{t.get('clip_grad')}, seed {t['seed']}."), time_line(t)]
    return lines


def _results(test: dict) -> list[str]:
    if not test:
        return ["Not evaluated yet: run `python -m engine eval transformer --checkpoint ... --save`."]
    bpc = test["bits_per_char"]
    verdict = "met" if bpc <= TARGET_BITS else f"missed by {bpc - TARGET_BITS:.2f}"
    return [f"Exact bits per character on the {test['test_chars']:,} characters of {test['test_set']}: "
            f"**{bpc:.3f} bits/char** ({test['nats_per_char']:.3f} nats/char); target <= {TARGET_BITS}: {verdict}.", "",
            "| model | test bits/char |", "|---|---|", f"| this Transformer | {bpc:.3f} |",
            f"| bigram of the training text (add-1/2) | {test['bigram_bits_per_char']:.3f} |",
            f"| unigram of the training text (add-1/2) | {test['unigram_bits_per_char']:.3f} |", "",
            "For scale: nanoGPT's character model on the smaller tiny-shakespeare file reaches 2.12 bits/char with "
            "its GPU recipe and about 2.71 with its CPU recipe (a different file and split)."]


def write_transformer_card(checkpoint: Path, config: dict) -> Path:
    """Write ``<checkpoint>.md`` for a character Transformer from ``config``; return its path."""
    checkpoint = Path(checkpoint)
    name, hp, t = checkpoint.stem, config["hparams"], config.get("training", {})
    test = config.get("metrics", {}).get("test", {})
    lines = [f"# {name}: character-level Transformer", "",
             f"Checkpoint `{name}.safetensors` (kind `transformer`; settings: "
             f"{', '.join(f'{k} {v}' for k, v in hp.items() if k != 'vocab')}).", "",
             "## Model", "", *_model_lines(hp), *_size(checkpoint), "", "## Training", "", *_training(config),
             f"- Reproduce: `python -m engine train transformer --dataset shakespeare --width {hp['width']} --layers "
             f"{hp['layers']} --heads {hp['heads']} --context {hp['context']} --epochs {t.get('epochs')} --batch-size "
             f"{t.get('batch_size')} --lr {t.get('lr')} --lr-decay {t.get('lr_decay', 1.0)} --threads 1 --run-dir RUN "
             f"--out /tmp/{name}.safetensors`.",
             *history_table(config.get("history", []), "train loss (nats/char)", "valid loss (nats/char)", 3), "",
             *results_section("transformer", f"{name}.safetensors", _results(test)),
             "## Sampling", "", f"`python -m engine sample transformer --checkpoint assets/{name}.safetensors "
             "--prompt 'ROMEO.' --chars 400 --out -`; every strategy of the generic sampler and beam search. Speed: "
             "`python bench/transformer.py`.", ""]
    return write_markdown(checkpoint.with_suffix(".md"), lines)


__all__ = ["write_transformer_card"]
