"""Model cards (markdown) for PixelCNN checkpoints, written from the checkpoint's own config.

Everything on the card is read from the config (hparams, data, training
settings, per-epoch history, measured test metrics), so the card never
disagrees with the weights it describes.
"""

from __future__ import annotations

from pathlib import Path

from engine.cards.common import history_table, optimizer_line, results_section, time_line, weights_text, write_markdown

# van den Oord, Kalchbrenner & Kavukcuoglu (2016), "Pixel Recurrent Neural Networks", MNIST results table:
# PixelCNN on the static binarized MNIST, test NLL in nats.
PUBLISHED_PIXELCNN_NATS = 81.30
TARGET_NATS = 88.0  # GenScope's goal for a PixelCNN trainable in about an hour on 2 CPU cores


def _architecture(hp: dict) -> list[str]:
    out = "one Bernoulli logit per pixel" if hp["levels"] == 2 else f"a categorical over {hp['levels']} grey levels per pixel"
    cond = f"; a learned per-label bias on every gate ({hp['num_classes']} classes)" if hp.get("num_classes") else ""
    k, k0 = hp["kernel"], hp["first_kernel"]
    return [f"- Gated PixelCNN (van den Oord et al. 2016): {hp['layers']} gated layers of {hp['channels']} channels, "
            f"vertical + horizontal stacks (no blind spot), tanh x sigmoid gates, residual horizontal stack, "
            f"skip connections into a 1x1 head of {hp['head']} channels; {out}{cond}.",
            f"- First layer {k0}x{k0} receptive window (vertical {k0 // 2}x{k0} rows above, horizontal 1x{k0 // 2} "
            f"to the left), later layers {k}x{k} (vertical {k // 2 + 1}x{k}, horizontal 1x{k // 2 + 1}); "
            f"images {hp['height']}x{hp['width']}, raster order."]


def _size(checkpoint: Path) -> list[str]:
    return [f"- {weights_text(checkpoint)}."]


def _training(config: dict) -> list[str]:
    t, data = config.get("training", {}), config.get("data", {})
    lines = [f"- Data: {data.get('dataset')} — {data.get('split')}, {data.get('examples')} images; "
             f"{data.get('binarization')}. MNIST by LeCun, Cortes & Burges, license {data.get('license')}.",
             f"- Validation: {data.get('validation')}; test: {data.get('test')}."]
    if "epochs" in t:
        lines.append(optimizer_line(t, f"{t.get('epochs_done', t['epochs'])} epochs, seed {t['seed']}; no data "
                                       "augmentation."))
        lines.append(time_line(t))
    return lines


def _history(config: dict) -> list[str]:
    return history_table(config.get("history", []), "train NLL (nats, mean over the epoch)",
                         "valid NLL (nats, after the epoch)", 2)


def _reproduce(name: str, hp: dict, t: dict) -> str:
    cond = " --conditional" if hp.get("num_classes") else ""
    return (f"python -m engine train pixelcnn --levels {hp['levels']} --channels {hp['channels']} --layers {hp['layers']} "
            f"--kernel {hp['kernel']} --first-kernel {hp['first_kernel']}{cond} --epochs {t.get('epochs')} "
            f"--batch-size {t.get('batch_size')} --lr {t.get('lr')} --lr-decay {t.get('lr_decay', 1.0)} "
            f"--seed {t.get('seed')} --threads {t.get('cpu_threads', 1)} --out /tmp/{name}.safetensors")


def _results(hp: dict, test: dict) -> list[str]:
    if not test:
        return ["Not evaluated yet: run `python -m engine eval pixelcnn --checkpoint ... --save`."]
    lines = [f"Exact negative log-likelihood on the {test['test_images']:,} images of the {test['test_set']}: "
             f"**{test['nll_nats']:.2f} nats per image** ({test['bits_per_dim']:.4f} bits per pixel)."]
    if hp["levels"] == 2 and not hp.get("num_classes"):
        gap = test["nll_nats"] - PUBLISHED_PIXELCNN_NATS
        lines += ["", f"For scale: van den Oord et al. (2016, \"Pixel Recurrent Neural Networks\") report "
                  f"{PUBLISHED_PIXELCNN_NATS:.2f} nats for a larger PixelCNN trained far longer; this "
                  f"small CPU-trained model is {gap:.2f} nats behind it. The published figure could not be re-checked "
                  "offline.",
                  "", f"GenScope's target for a model trainable in about an hour on two CPU cores is <= {TARGET_NATS:.0f} "
                  "nats: " + ("met." if test["nll_nats"] <= TARGET_NATS else
                              f"missed by {test['nll_nats'] - TARGET_NATS:.2f} nats (the validation curve above was "
                              "still falling; more epochs or channels would close part of the gap).")]
    return lines


def write_pixelcnn_card(checkpoint: Path, config: dict) -> Path:
    """Write ``<checkpoint>.md`` from ``config`` (hparams, data, training, history, metrics); return its path."""
    checkpoint = Path(checkpoint)
    name, hp = checkpoint.stem, config["hparams"]
    what = "binarized MNIST" if hp["levels"] == 2 else f"MNIST, {hp['levels']} grey levels"
    title = f"# {name}: gated PixelCNN, {what}" + (", class-conditional" if hp.get("num_classes") else "")
    settings = ", ".join(f"{k} {v}" for k, v in hp.items())
    lines = [title, "", f"Checkpoint `{name}.safetensors` (kind `pixelcnn`; settings: {settings}).", "",
             "## Model", "", *_architecture(hp), *_size(checkpoint), "", "## Training", "", *_training(config),
             f"- Reproduce: `{_reproduce(name, hp, config.get('training', {}))}` "
             f"(then copy the file to `assets/{name}.safetensors`).", *_history(config), "",
             *results_section("pixelcnn", f"{name}.safetensors", _results(hp, config.get("metrics", {}).get("test", {}))),
             "## Sampling", "", "`python -m engine sample pixelcnn --strategy top-p --top-p 0.99 -n 16 --out grid.png`; "
             "strategies: sample, greedy, temperature, top-k, top-p, min-p, beam. Speed: `python bench/pixelcnn.py`.", ""]
    return write_markdown(checkpoint.with_suffix(".md"), lines)
