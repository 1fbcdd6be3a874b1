"""Model kinds by name, and rebuilding a model from a checkpoint.

A checkpoint's config holds ``kind`` and ``hparams`` (the constructor's
keyword arguments, see each model's ``hparams()``); :func:`load_model`
builds the model and copies the tensors in, raising
:class:`~engine.errors.CheckpointError` with one sentence when they do not fit.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from torch import nn

from engine.checkpoints import load_checkpoint, load_into
from engine.errors import CheckpointError, GenScopeError


def model_classes() -> dict[str, type[nn.Module]]:
    """Kind name -> model class (imported lazily so adding a model costs nothing here)."""
    from engine.models.pixelcnn import PixelCNN
    from engine.models.ppca import PPCA
    from engine.models.vae import VAE, Autoencoder
    from engine.models.wavenet import WaveNet

    return {"vae": VAE, "autoencoder": Autoencoder, "ppca": PPCA, "pixelcnn": PixelCNN, "wavenet": WaveNet}


def build_model(kind: str, hparams: dict | None = None) -> nn.Module:
    """A fresh model of ``kind`` built with keyword arguments ``hparams``."""
    classes = model_classes()
    if kind not in classes:
        raise CheckpointError(f"Unknown model kind {kind!r}; GenScope knows: {', '.join(sorted(classes))}.")
    try:
        return classes[kind](**(hparams or {}))
    except TypeError as exc:
        raise CheckpointError(f"The settings {hparams} do not fit a '{kind}' model ({exc}).") from exc
    except GenScopeError as exc:
        raise CheckpointError(f"The settings of this '{kind}' model are invalid: {exc}") from exc


def load_model(
    path: str | os.PathLike,
    expected_kind: str | Iterable[str] | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Load checkpoint ``path`` into a new model of its kind, on ``device``, in eval mode.

    The checkpoint's config dict is kept as ``model.checkpoint_config``.
    """
    ckpt = load_checkpoint(path, expected_kind=expected_kind, map_location="cpu")
    model = build_model(ckpt.kind, ckpt.hparams)
    load_into(model, ckpt)
    model.checkpoint_config = ckpt.config
    return model.to(device).eval()
