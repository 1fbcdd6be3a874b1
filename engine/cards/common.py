"""What every model card shares: storing test metrics in a checkpoint, then writing its card; per-epoch tables.

:func:`save_test_metrics` is the one "store the metrics, rewrite the card"
path of ``python -m engine eval ... --save``: the card writer is the kind's
``card`` in :mod:`engine.catalog`.
"""

from __future__ import annotations

from pathlib import Path

from engine.catalog import get, resolve
from engine.checkpoints import load_checkpoint, read_config, save_checkpoint, stored_dtypes, write_file


def save_test_metrics(checkpoint: str | Path, metrics: dict) -> Path | None:
    """Store ``metrics`` as config["metrics"]["test"] in ``checkpoint`` (atomically); rewrite its card; return its path.

    None: the kind has no card writer.
    """
    ckpt = load_checkpoint(checkpoint)
    config = {**ckpt.config, "metrics": {**ckpt.config.get("metrics", {}), "test": metrics}}
    save_checkpoint(checkpoint, ckpt.state_dict, config)
    return write_card(checkpoint)


def weights_text(checkpoint: Path) -> str:
    """"N numbers (float32), file X MB" for a checkpoint's card: its tensors' count, stored dtype and file size."""
    state = load_checkpoint(checkpoint).state_dict
    n = sum(t.numel() for t in state.values())
    return f"{n:,} numbers ({stored_dtypes(state)}), file {checkpoint.stat().st_size / 1e6:.2f} MB"


def write_card(checkpoint: str | Path) -> Path | None:
    """Write ``checkpoint``'s markdown card (``<checkpoint>.md``) with its kind's card writer (None: the kind has none)."""
    config = read_config(checkpoint)
    writer = get(config["kind"]).card
    return None if writer is None else resolve(writer)(Path(checkpoint), config)


def history_table(history: list[dict], train_title: str, val_title: str, digits: int) -> list[str]:
    """Markdown lines of a per-epoch table from a checkpoint's ``history`` ([] when empty)."""
    if not history:
        return []
    rows = [f"| {h['epoch']} | {h['train']:.{digits}f} | {h['val']:.{digits}f} |" for h in history]
    return ["", f"| epoch | {train_title} | {val_title} |", "|---|---|---|", *rows]


def optimizer_line(t: dict, details: str) -> str:
    """The card's "- Adam, learning rate ..., batch ..., <details>" line from the checkpoint's training settings ``t``."""
    decay = f", x{t['lr_decay']} per epoch" if t.get("lr_decay", 1) != 1 else ""
    adam = f"AdamW (weight decay {t['weight_decay']})" if t.get("weight_decay") else "Adam"
    return f"- {adam}, learning rate {t['lr']}{decay}, batch {t['batch_size']}, {details}"


def time_line(t: dict, decimals: int = 0) -> str:
    """The card's "- Training time: N min on <device>, K torch threads ..." line."""
    n, device = t.get("cpu_threads") or t.get("threads"), t.get("device") or "cpu"  # a run folder stores None: cpu
    threads = f", {n} torch thread{'s' if n != 1 else ''}" if device == "cpu" and n else ""
    return (f"- Training time: {t.get('seconds', 0) / 60:.{decimals}f} min on {device}{threads} "
            "(development machine: 2 CPU cores shared with other jobs).")


def results_section(kind: str, checkpoint_name: str, result_lines: list[str], eval_options: str = "") -> list[str]:
    """The card's "## Test results" section: ``result_lines``, then the ``eval --save`` command that rewrites them."""
    return ["## Test results", "", *result_lines, "",
            f"Regenerate: `python -m engine eval {kind} --checkpoint assets/{checkpoint_name}{eval_options} --save`.", ""]


def write_markdown(path: Path, lines: list[str]) -> Path:
    """Write a card's ``lines`` to ``path`` (UTF-8, one line each) atomically; return the path.

    An OS error (read-only folder, full disk) is one sentence and leaves an earlier card as it was."""
    return write_file(path, "\n".join(lines).encode("utf-8"))
