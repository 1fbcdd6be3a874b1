"""``python -m engine codes``: encode the MNIST test set with the bundled 2-D models (assets/latent_codes.npz)."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import torch

from engine.cards.bundled import ASSETS_DIR
from engine.catalog import load_model
from engine.checkpoints import write_file
from engine.data.folder import resolve_data_folder
from engine.data.mnist import load_mnist

CODE_MODELS = ("vae", "beta_vae", "autoencoder", "ppca")


def add_codes_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--assets", default=None, help="folder of the bundled models (default: the project's assets/)")
    p.add_argument("--out", default=None, help="output .npz (default: <assets>/latent_codes.npz)")


@torch.no_grad()
def latent_codes(models: dict[str, torch.nn.Module], images: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Encode uint8 images (N, 28, 28) with each 2-D model: {name_mu, name_logvar (if any), labels} as float16."""
    x = torch.as_tensor(images).reshape(len(images), -1).float() / 255.0
    out: dict[str, np.ndarray] = {"labels": labels.astype(np.uint8)}
    for name, model in models.items():
        mus, logvars = [], []
        for chunk in x.split(1000):
            mu, logvar = model.encode(chunk)
            mus.append(mu.float())
            if logvar is not None:
                logvars.append(logvar.float())
        out[f"{name}_mu"] = torch.cat(mus).numpy().astype(np.float16)
        if logvars:
            out[f"{name}_logvar"] = torch.cat(logvars).numpy().astype(np.float16)
    return out


def cmd_codes(args: argparse.Namespace) -> int:
    assets = Path(args.assets) if args.assets else ASSETS_DIR
    images, labels = load_mnist(resolve_data_folder(args.data).path, "test")
    models = {name: load_model(assets / f"{name}.safetensors") for name in CODE_MODELS}
    codes = latent_codes(models, images, labels)
    out = Path(args.out) if args.out else assets / "latent_codes.npz"
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **codes)
    write_file(out, buffer.getvalue())
    print(f"wrote {out} ({out.stat().st_size / 1e3:.0f} kB): {', '.join(sorted(codes))}")
    return 0


CODES_COMMAND = ("codes", "encode the MNIST test set with the bundled 2-D models (assets/latent_codes.npz)",
                 add_codes_args, cmd_codes)
