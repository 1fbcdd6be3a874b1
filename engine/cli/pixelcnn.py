"""``train pixelcnn`` and ``eval pixelcnn``: the PixelCNN's train and eval, as :mod:`engine.catalog` names them::

    python -m engine train pixelcnn --channels 32 --layers 5 --epochs 6 --out /tmp/pixelcnn.safetensors
    python -m engine eval pixelcnn --checkpoint assets/pixelcnn.safetensors [--save]

Binary model (``--levels 2``): the STATIC binarized MNIST (Larochelle &
Murray) train split (50k) for training, valid (10k) for validation, test
(10k) for evaluation. Grey model (``--levels 16|256``): MNIST train images
1-50000 for training, 50001-60000 for validation (the first / last sixth), the MNIST test set for
evaluation; with ``--conditional`` each row carries its digit label.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from engine.catalog import build_model, get
from engine.cards.common import save_test_metrics
from engine.cli.options import kind_options, set_threads, train_settings
from engine.cli.eval import load_for_eval
from engine.cli.progress import track
from engine.cli.train import report_training
from engine.data.folder import resolve_data_folder
from engine.data.mnist import load_binarized_mnist, load_mnist
from engine.device import select_device, seed_everything
from engine.errors import ConfigError
from engine.events import Done
from engine.evaluation.likelihood import ensemble_nll, exact_nll
from engine.training.loop import train

STATIC = "static binarization (Larochelle & Murray 2011, binarized_mnist_{train,valid,test}.amat)"


def pixelcnn_hparams(values: dict) -> dict:
    """The PixelCNN's constructor arguments from the catalog's option values."""
    return {"levels": values["levels"], "channels": values["channels"], "layers": values["layers"],
            "kernel": values["kernel"], "first_kernel": values["first_kernel"],
            "num_classes": 10 if values["conditional"] else 0}


def pixelcnn_data(root: Path, levels: int, conditional: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(train, valid, test) rows (N, 784 [+1 label]) and the data description for the checkpoint.

    Binary: float32 0/1 rows of the static binarized splits. Grey: uint8
    0..255 rows (the training loop divides by 255), label appended last.
    """
    if levels == 2:
        if conditional:
            raise ConfigError("The static binarized MNIST has no labels; --conditional needs --levels 16 or 256.")
        splits = [load_binarized_mnist(root, s).astype(np.float32) for s in ("train", "valid", "test")]
        info = {"dataset": "binarized MNIST", "split": "train", "examples": len(splits[0]), "license": "CC BY-SA 3.0",
                "binarization": STATIC, "validation": f"binarized MNIST valid split, {len(splits[1])} images",
                "test": "binarized MNIST test split (static)"}
        return (*splits, info)
    images, labels = load_mnist(root, "train")
    test_images, test_labels = load_mnist(root, "test")

    def rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        flat = x.reshape(len(x), -1)
        return np.concatenate([flat, y[:, None].astype(np.uint8)], 1) if conditional else flat

    cut = len(images) * 5 // 6  # 50000 of 60000
    tr, va, te = rows(images[:cut], labels[:cut]), rows(images[cut:], labels[cut:]), rows(test_images, test_labels)
    info = {"dataset": "MNIST", "split": f"train images 1-{cut}", "examples": len(tr), "license": "CC BY-SA 3.0",
            "binarization": f"none; intensities quantized to {levels} grey levels", "labels": conditional,
            "validation": f"MNIST train images {cut + 1}-{len(images)}", "test": "MNIST test set"}
    return tr, va, te, info


def cmd_train_pixelcnn(args: argparse.Namespace) -> int:
    """Train a PixelCNN with the shared training loop; one atomic checkpoint per epoch."""
    entry = get("pixelcnn")
    s = train_settings(args, entry)
    set_threads(s.threads)
    hp = entry.hparams_from(kind_options(args, entry))
    tr, va, _, info = pixelcnn_data(resolve_data_folder(args.data).path, hp["levels"], hp["num_classes"] > 0)
    tr = tr[: args.limit] if args.limit else tr
    device = select_device(args.device)
    seed_everything(s.seed)
    model = build_model("pixelcnn", hp)
    events = train(model, tr, val_data=va, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, lr_decay=s.lr_decay,
                   seed=s.seed, device=device, dynamic_binarize=False, checkpoint_path=Path(args.out),
                   data_info={**info, "examples": len(tr)})
    report_training(events, args.out, keep_history=True)
    return 0


def cmd_eval_pixelcnn(args: argparse.Namespace) -> int:
    """Print the exact test NLL (nats per image, bits/dim) of a PixelCNN, NADE or MADE (with its ensembles of masks);
    ``--save`` stores it and writes the card."""
    model, _ = load_for_eval(args)
    _, _, te, info = pixelcnn_data(resolve_data_folder(args.data).path, model.levels, model.num_classes > 0)
    te = te[: args.limit] if args.limit else te
    metrics: dict = {}
    for event in track(exact_nll(model, te, args.batch), unit="image"):
        if isinstance(event, Done):
            metrics = {**event.result, "test_set": info["test"]}
    print(f"test NLL  {metrics['nll_nats']:.2f} nats per image  ({metrics['bits_per_dim']:.4f} bits/dim, "
          f"{metrics['test_images']} images of the {metrics['test_set']})")
    if getattr(model, "n_masks", 1) > 1:  # an order/connectivity-agnostic MADE: its ensembles of masks too
        counts = tuple(c for c in (1, 2, 4, 8, 16, 32, 64) if c <= model.n_masks)
        for event in track(ensemble_nll(model, te, counts, args.batch), unit="image"):
            if isinstance(event, Done):
                metrics["ensemble_nll_nats"] = {str(c): v for c, v in event.result.items()}
        print("ensembles  " + "  ".join(f"{c} masks {v:.2f}" for c, v in metrics["ensemble_nll_nats"].items()))
    if args.save:
        card = save_test_metrics(args.checkpoint, metrics)
        print(f"metrics stored in {args.checkpoint}; model card {card}")
    return 0
