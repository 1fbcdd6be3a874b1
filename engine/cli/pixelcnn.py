"""``train pixelcnn`` and ``eval pixelcnn``: the PixelCNN's half of the train/eval commands.

:mod:`engine.cli.train` owns the commands and hands the ``pixelcnn`` kind
to :func:`cmd_train_pixelcnn` / :func:`cmd_eval_pixelcnn`::

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
import sys
from pathlib import Path

import numpy as np
import torch

from engine.checkpoints import load_checkpoint, read_config, save_checkpoint
from engine.data.folder import resolve_data_folder
from engine.data.mnist import load_binarized_mnist, load_mnist
from engine.device import select_device, seed_everything
from engine.events import Done, Progress
from engine.models.pixelcnn import PixelCNN, bits_per_dim
from engine.models.registry import load_model
from engine.training.loop import print_training, train

STATIC = "static binarization (Larochelle & Murray 2011, binarized_mnist_{train,valid,test}.amat)"


def add_pixelcnn_args(p: argparse.ArgumentParser) -> None:
    """Architecture options of ``train pixelcnn`` (ignored by the other kinds)."""
    g = p.add_argument_group("pixelcnn")
    g.add_argument("--levels", type=int, default=2, help="values per pixel: 2 (binarized), 16 or 256 grey levels")
    g.add_argument("--channels", type=int, default=32, help="channels per gated layer (default 32)")
    g.add_argument("--layers", type=int, default=5, help="gated layers (default 5)")
    g.add_argument("--kernel", type=int, default=3, help="kernel of the later layers (default 3)")
    g.add_argument("--first-kernel", type=int, default=7, help="kernel of the first layer (default 7)")
    g.add_argument("--conditional", action="store_true", help="condition on the digit label (grey levels only)")


def pixelcnn_hparams(args: argparse.Namespace) -> dict:
    """The PixelCNN's constructor arguments from the command line."""
    return {"levels": args.levels, "channels": args.channels, "layers": args.layers, "kernel": args.kernel,
            "first_kernel": args.first_kernel, "num_classes": 10 if args.conditional else 0}


def pixelcnn_data(root: Path, levels: int, conditional: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """(train, valid, test) rows (N, 784 [+1 label]) and the data description for the checkpoint.

    Binary: float32 0/1 rows of the static binarized splits. Grey: uint8
    0..255 rows (the training loop divides by 255), label appended last.
    """
    if levels == 2:
        if conditional:
            from engine.errors import ConfigError

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
    if args.threads:
        torch.set_num_threads(args.threads)
    tr, va, _, info = pixelcnn_data(resolve_data_folder(args.data).path, args.levels, args.conditional)
    tr = tr[: args.limit] if args.limit else tr
    device = select_device(args.device)
    seed_everything(args.seed)
    model = PixelCNN(**pixelcnn_hparams(args))
    events = train(model, tr, val_data=va, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   lr_decay=args.lr_decay, seed=args.seed, device=device, dynamic_binarize=False,
                   checkpoint_path=Path(args.out), data_info={**info, "examples": len(tr)})
    history: list[dict] = []
    result = print_training(events, history)
    ckpt = load_checkpoint(args.out)  # keep the per-epoch curve beside the weights, for the model card
    save_checkpoint(args.out, ckpt.state_dict, {**ckpt.config, "history": history})
    print(f"trained {result.get('steps')} steps in {result.get('seconds', 0):.0f} s -> {args.out}")
    return 0


@torch.no_grad()
def test_nll(model: PixelCNN, rows: np.ndarray, batch: int = 500):
    """Yield Progress per batch and Done({nll_nats, bits_per_dim, test_images}) over ``rows``."""
    total, n = 0.0, len(rows)
    for start in range(0, n, batch):
        x = torch.as_tensor(rows[start : start + batch]).float()
        x = x / 255.0 if rows.dtype == np.uint8 else x
        loss, _ = model.loss(x.to(model.head[1].weight.device))
        total += float(loss) * len(x)
        yield Progress(min(start + batch, n), n, "test NLL")
    nll = total / n
    yield Done({"nll_nats": nll, "bits_per_dim": float(bits_per_dim(nll, model.height * model.width)), "test_images": n})


def cmd_eval_pixelcnn(args: argparse.Namespace) -> int:
    """Print the exact test NLL (nats per image, bits/dim); ``--save`` stores it and writes the card."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, expected_kind="pixelcnn", device=select_device(args.device))
    _, _, te, info = pixelcnn_data(resolve_data_folder(args.data).path, model.levels, model.num_classes > 0)
    te = te[: args.limit] if args.limit else te
    metrics: dict = {}
    for event in test_nll(model, te, args.batch):
        if isinstance(event, Progress):
            sys.stderr.write(f"\r  {event.message} {event.done}/{event.total} images   ")
        elif isinstance(event, Done):
            metrics = {**event.result, "test_set": info["test"]}
    sys.stderr.write("\n")
    print(f"test NLL  {metrics['nll_nats']:.2f} nats per image  ({metrics['bits_per_dim']:.4f} bits/dim, "
          f"{metrics['test_images']} images of the {metrics['test_set']})")
    if args.save:
        from engine.cards.pixelcnn import write_pixelcnn_card

        ckpt = load_checkpoint(args.checkpoint)
        config = {**ckpt.config, "metrics": {**ckpt.config.get("metrics", {}), "test": metrics}}
        save_checkpoint(args.checkpoint, ckpt.state_dict, config)
        card = write_pixelcnn_card(Path(args.checkpoint), read_config(args.checkpoint))
        print(f"metrics stored in {args.checkpoint}; model card {card}")
    return 0
