"""Model cards (markdown) for WaveNet checkpoints, written from the checkpoint's own config.

Everything on the card comes from the config (hparams, data, training
settings, measured test metrics), so it never disagrees with the weights.
"""

from __future__ import annotations

from pathlib import Path

from engine.catalog import build_model
from engine.cards.common import history_table, optimizer_line, results_section, time_line, weights_text, write_markdown


def _model_lines(config: dict, checkpoint: Path) -> list[str]:
    hp = config["hparams"]
    model = build_model("wavenet", hp)
    cond = (f"global conditioning on the {hp['cond_name']} ({hp['cond_classes']} classes, a learned bias on every gate)"
            if hp["cond_classes"] else "no conditioning")
    return [f"- WaveNet (van den Oord et al. 2016): {hp['stacks']} stacks x {hp['layers_per_stack']} dilated causal "
            f"convolutions (kernel 2, dilations 1..{2 ** (hp['layers_per_stack'] - 1)}), tanh x sigmoid gates, "
            f"{hp['residual']} residual and {hp['skip']} skip channels, head relu-1x1-relu-1x1; {cond}.",
            f"- Output: a categorical over {hp['levels']} μ-law codes (μ = {hp['levels'] - 1}) at {hp['sample_rate']} Hz; "
            f"receptive field {model.receptive_field} samples ({1000 * model.receptive_field / hp['sample_rate']:.0f} ms).",
            f"- {weights_text(checkpoint)}; "
            f"{model.mflop_per_sample():.2f} MFLOP per generated sample on the cached path."]


def _training_lines(config: dict) -> list[str]:
    t, data = config.get("training", {}), config.get("data", {})
    lines = [f"- Data: {data.get('dataset')} — {data.get('split')}; {data.get('clips')} clips cut into "
             f"{data.get('rows')}; license {data.get('license')}. Validation: {data.get('validation')}."]
    if "epochs" in t:
        lines.append(optimizer_line(t, f"gradient norm clipped at 1, {t.get('epochs_done', t['epochs'])} of "
                                       f"{t['epochs']} planned epochs, seed {t['seed']}."))
        lines.append(time_line(t))
    return lines


def _metric_lines(config: dict) -> list[str]:
    m = config.get("metrics", {})
    test = m.get("test", {})
    lines = []
    if "bits_per_sample" in test:
        lines.append(f"- **Test NLL: {test['bits_per_sample']:.3f} bits per sample** ({test['nats_per_sample']:.4f} nats), "
                     f"exact, over {test['clips']} whole clips ({test['samples']:,} samples) of the {test.get('test_set')}.")
        if "unigram_bits" in test:
            lines.append(f"- For scale, on the same test samples: a uniform guess costs {test.get('uniform_bits', 8):.3f} "
                         f"bits per sample and the training set's μ-law histogram (no context) {test['unigram_bits']:.3f}.")
    else:
        lines.append("- Not evaluated yet: run the eval command below.")
    if m.get("val"):
        lines.append(f"- Last validation (the first 64 rows of the test split, each scored from a cold start): "
                     f"{m['val'].get('bits_per_sample', float('nan')):.3f} bits per sample.")
    return lines


def _history_lines(config: dict) -> list[str]:
    return history_table(config.get("history", []), "train bits/sample (mean over the epoch)",
                         "validation bits/sample (after it)", 3)


def write_wavenet_card(checkpoint: Path, config: dict, name: str = "wavenet") -> Path:
    """Write ``<checkpoint>.md`` beside the weights and return its path."""
    checkpoint = Path(checkpoint)
    hp, t = config["hparams"], config.get("training", {})
    cmd = (f"python -m engine train wavenet --dataset fsdd --condition {hp['cond_name']} --residual {hp['residual']} "
           f"--skip {hp['skip']} --layers-per-stack {hp['layers_per_stack']} --stacks {hp['stacks']} "
           f"--batch-size {t.get('batch_size')} --lr {t.get('lr')} --lr-decay {t.get('lr_decay')} "
           f"--epochs {t.get('epochs')} --threads 1 --seed {t.get('seed')} --out assets/{name}.safetensors")
    lines = [f"# Model card: WaveNet, {config.get('data', {}).get('dataset', '')}", "",
             f"Checkpoint `{checkpoint.name}` (kind `wavenet`).", "", "## Model", "", *_model_lines(config, checkpoint),
             "", "## Training", "", *_training_lines(config), f"- Reproduce: `{cmd}`.", *_history_lines(config), "",
             *results_section("wavenet", checkpoint.name, _metric_lines(config)), "## Limits", "", "- A small model trained for little more than an hour on a shared CPU: it babbles speech-like "
             "sounds with the speaker's timbre; words are rarely intelligible. More channels, layers and hours help.", ""]
    return write_markdown(checkpoint.with_suffix(".md"), lines)
