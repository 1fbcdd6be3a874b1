"""Model cards (markdown) for MAF and IAF checkpoints, written from the checkpoint's own config.

Settings, data, training and the held-out log-likelihood (``eval ... --save``)
all come from the config, so the card never disagrees with the weights.
"""

from __future__ import annotations

from pathlib import Path

from engine.cards.common import optimizer_line, results_section, time_line, write_markdown

_DIRECTIONS = {"maf": ("density in one masked pass per layer", "sampling in D passes per layer"),
               "iaf": ("sampling in one masked pass per layer", "the density of a given point in D passes per layer")}


def _model_lines(kind: str, hp: dict) -> list[str]:
    fast, slow = _DIRECTIONS[kind]
    return [f"- {kind.upper()}: {hp['layers']} autoregressive affine layers on {hp['dim']}-D points, each a MADE "
            f"(hidden widths {hp['hidden']}, tanh) giving a shift and a log-scale per dimension; orderings reversed "
            f"between layers; weights and masks from seed {hp['seed']}.",
            f"- Exact log-density by change of variables, log|det| = the sum of the log-scales (O(D)); {fast}, "
            f"{slow}."]


def _training_lines(config: dict) -> list[str]:
    t, data = config.get("training", {}), config.get("data", {})
    lines = [f"- Data: {data.get('dataset')} {data.get('split')}; held out: {data.get('validation')}."]
    if "epochs" in t:
        lines += [optimizer_line(t, f"{t.get('epochs_done', t['epochs'])} epochs, seed {t['seed']}."), time_line(t)]
    return lines


def _results(kind: str, test: dict) -> list[str]:
    if not test:
        return [f"Not evaluated yet: run `python -m engine eval {kind} --checkpoint ... --save`."]
    return [f"Held-out average log-likelihood: **{test['heldout_ll_nats']:.3f} nats per point** on the "
            f"{test['test_set']} of {test['dataset']} (training points: {test['train_ll_nats']:.3f}).",
            "", "Compare with the GMM (best K by BIC) on the same split: `python bench/flows.py`."]


def write_flow_card(checkpoint: Path, config: dict) -> Path:
    """Write ``<checkpoint>.md`` for a MAF or IAF from ``config``; return its path."""
    checkpoint = Path(checkpoint)
    name, kind, hp = checkpoint.stem, config["kind"], config["hparams"]
    test = config.get("metrics", {}).get("test", {})
    lines = [f"# {name}: {kind.upper()} on a point set", "",
             f"Checkpoint `{name}.safetensors` (kind `{kind}`; settings: "
             f"{', '.join(f'{k} {v}' for k, v in hp.items())}).", "",
             "## Model", "", *_model_lines(kind, hp), "", "## Training", "", *_training_lines(config), "",
             *results_section(kind, f"{name}.safetensors", _results(kind, test))]
    return write_markdown(checkpoint.with_suffix(".md"), lines)
