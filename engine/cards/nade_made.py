"""Model cards (markdown) for NADE and MADE checkpoints, written from the checkpoint's own config.

Like the PixelCNN's card: settings, data, training, the per-epoch history and
the measured test figures all come from the config, so the card never
disagrees with the weights. The published figures are for the static
binarized MNIST test set (nats per image) and could not be re-checked offline.
"""

from __future__ import annotations

from pathlib import Path

from engine.cards.common import history_table, results_section, write_markdown
from engine.cards.pixelcnn import _size, _training

# Uria et al. (2016, "Neural Autoregressive Distribution Estimation", JMLR) and Germain et al. (2015, "MADE").
PUBLISHED = {"nade": 88.33, "made": 88.40, "made_ensemble32": 86.64}
TARGETS = {"nade": 90.0, "made": 91.0, "made_ensemble32": 89.0}  # issue #14, trainable on two CPU cores


def _model_lines(kind: str, hp: dict) -> list[str]:
    order = f"{hp['ordering']} ordering" + (f" (seed {hp['order_seed']})" if hp["ordering"] == "random" else "")
    size = f"{hp['height']}x{hp['width']} binary images"
    if kind == "nade":
        return [f"- NADE (Larochelle & Murray 2011): {hp['hidden']} sigmoid hidden units shared by all "
                f"{hp['height'] * hp['width']} conditionals through one weight matrix, {order}; {size}.",
                "- log p(x) in one pass with a running sum of the hidden pre-activation (O(D H)); sampling in D "
                "steps of O(H)."]
    masks = hp.get("masks", 1)
    agnostic = (f"; {masks} mask sets cycled over minibatches" +
                (", each with its own random ordering (order-agnostic)" if hp.get("order_agnostic") else "")
                if masks > 1 else "")
    direct = ("; plus a direct input -> output connection masked in the same ordering (an autoregressive logistic "
              "model beside the MLP)" if hp.get("direct") else "")
    return [f"- MADE (Germain et al. 2015): a masked MLP with hidden widths {hp['hidden']}, masks from "
            f"connectivity labels, {order}{agnostic}{direct}; {size}.",
            "- log p(x) in one pass; sampling in D passes (or D cached first-layer updates)."]


def _verdict(key: str, nats: float, history: list[dict]) -> str:
    """"met." or by how much it is missed, with what the validation curve did over the last epochs."""
    target = TARGETS[key]
    if nats <= target:
        return "met."
    trend = ""
    if len(history) >= 2:
        last = history[-min(5, len(history)):]
        change = last[0]["val"] - last[-1]["val"]
        trend = (f" Over the last {len(last)} epochs the validation NLL fell by {change:.2f} nats"
                 + ("; more epochs would close part of the gap." if change > 1.0 else
                    "; it had levelled off, so longer training alone would not close the gap."))
    return f"missed by {nats - target:.2f} nats.{trend}"


def _results(kind: str, hp: dict, test: dict, history: list[dict]) -> list[str]:
    if not test:
        return [f"Not evaluated yet: run `python -m engine eval {kind} --checkpoint ... --save`."]
    nats = test["nll_nats"]
    lines = [f"Exact negative log-likelihood on the {test['test_images']:,} images of the {test['test_set']}: "
             f"**{nats:.2f} nats per image** ({test['bits_per_dim']:.4f} bits per pixel)"
             + (f", mask set 0 alone." if hp.get("masks", 1) > 1 else ".")]
    if hp.get("masks", 1) == 1:
        lines += ["", f"Published for this model: {PUBLISHED[kind]:.2f} nats. GenScope's target on two CPU cores: "
                  f"<= {TARGETS[kind]:.0f} nats: {_verdict(kind, nats, history)}"]
    ensembles = test.get("ensemble_nll_nats", {})
    if ensembles:
        lines += ["", "Ensembles of mask sets (log of the mean probability over the masks):", "",
                  "| masks | test NLL (nats) |", "|---|---|", *(f"| {c} | {ensembles[c]:.2f} |" for c in sorted(ensembles, key=int))]
        best = max(ensembles, key=int)
        lines += ["", f"Gain of {best} masks over one: {ensembles['1'] - ensembles[best]:.2f} nats. Published for an "
                  f"order-agnostic MADE with 32 masks: {PUBLISHED['made_ensemble32']:.2f} nats (target <= "
                  f"{TARGETS['made_ensemble32']:.0f}" + ("; this model has fewer than 32 mask sets)." if int(best) < 32
                                                        else f"): {_verdict('made_ensemble32', ensembles[best], history)}")]
    return lines


def _reproduce(kind: str, hp: dict, t: dict) -> str:
    hidden = hp["hidden"] if kind == "nade" else " ".join(map(str, hp["hidden"]))
    extra = ""
    if kind == "made" and hp.get("masks", 1) > 1:
        extra = f" --masks {hp['masks']}" + (" --order-agnostic" if hp.get("order_agnostic") else "")
    if kind == "made" and hp.get("direct"):
        extra += " --direct"
    return (f"python -m engine train {kind} --dataset binarized_mnist --hidden {hidden} --ordering {hp['ordering']}"
            f"{extra} --epochs {t.get('epochs')} --batch-size {t.get('batch_size')} --lr {t.get('lr')} "
            f"--lr-decay {t.get('lr_decay', 1.0)}{f' --weight-decay {wd}' if (wd := t.get('weight_decay')) else ''} "
            f"--seed {t.get('seed')} --threads {t.get('threads', 1)} "
            f"--run-dir RUN --out /tmp/model.safetensors")


def write_nade_made_card(checkpoint: Path, config: dict) -> Path:
    """Write ``<checkpoint>.md`` for a NADE or MADE from ``config``; return its path."""
    checkpoint = Path(checkpoint)
    name, kind, hp = checkpoint.stem, config["kind"], config["hparams"]
    t, test = config.get("training", {}), config.get("metrics", {}).get("test", {})
    config = {**config, "data": {**config.get("data", {}), "test": test.get("test_set", "not evaluated yet")}}
    lines = [f"# {name}: {kind.upper()}, binarized MNIST", "",
             f"Checkpoint `{name}.safetensors` (kind `{kind}`; settings: "
             f"{', '.join(f'{k} {v}' for k, v in hp.items())}).", "",
             "## Model", "", *_model_lines(kind, hp), *_size(checkpoint), "", "## Training", "", *_training(config),
             *([f"- {config['note']}"] if config.get("note") else []),
             f"- Reproduce: `{_reproduce(kind, hp, t)}`.",
             *history_table(config.get("history", []), "train NLL (nats)", "valid NLL (nats)", 2), "",
             *results_section(kind, f"{name}.safetensors", _results(kind, hp, test, config.get("history", []))),
             "## Sampling", "", f"`python -m engine sample {kind} --checkpoint assets/{name}.safetensors -n 16 "
             "--out grid.png`; every strategy of the generic sampler, beam search and `--known` completion. "
             "Speed: `python bench/nade_made.py`.", ""]
    return write_markdown(checkpoint.with_suffix(".md"), lines)
