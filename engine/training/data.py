"""Data sets a training run can use, and the fixed inputs its periodic samples are made from.

A :class:`DataSpec` names a data set; :func:`load_run_data` turns it into
arrays. Five are built in (:func:`register_dataset` adds more):

- ``mnist``: the 60k MNIST training images (uint8 0..255), dynamically
  binarized per batch; validation on the static binarized valid split when
  it is in the data folder.
- ``binarized_mnist``: the static binarized train split (50k, 0/1), no
  re-binarization; validation on its valid split.
- ``generated``: :func:`engine.data.generated.generated_digits`, made with
  numpy from a seed; works with no data folder. Dynamically binarized.
- ``fsdd``: the Free Spoken Digit Dataset (8 kHz), training rows of
  ``segment`` μ-law codes with the digit last; validation on rows of the
  official test split.
- ``generated_audio``: tones and plucked strings (label: the note), offline.
- ``shakespeare``: Shakespeare's works split by whole works (:mod:`engine.data.text`), rows of ``segment`` + 1
  character indices; ``text``: the user's UTF-8 file or folder ``path``, the last 10 % validating. Both put the
  training text's vocabulary in ``info["model_hparams"]`` (a model built for them takes it).

:func:`make_samples` draws what the training monitor shows: decodes of fixed
latent codes z for latent models, or ``model.samples(n, generator)`` for
others, and the 2-D codes of a fixed subset when the latent space is 2-D.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from engine.data.folder import resolve_data_folder
from engine.data.generated import generated_digits
from engine.data.mnist import load_binarized_mnist, load_mnist
from engine.device import make_generator, torch_threads
from engine.errors import ConfigError, DataError
from engine.sampling.pixelcnn import image_samples
from engine.sampling.text import text_samples
from engine.sampling.wavenet import audio_samples

DATASETS = ("mnist", "binarized_mnist", "generated", "fsdd", "generated_audio", "shakespeare", "text")
AUDIO_DATASETS = ("fsdd", "generated_audio")
MNIST_LICENSE = "CC BY-SA 3.0"
_FIXED_Z_SEED = 7_777  # added to the run seed: the z behind every samples grid of a run


@dataclass(frozen=True)
class DataSpec:
    """Which data set to train on.

    ``folder``: the data folder (None: the default order of
    :func:`engine.data.folder.resolve_data_folder`); ``limit``: use only the
    first N training examples; ``val_limit``: validate on only the first N
    validation examples; ``size`` and ``seed``: how many generated images and
    from which seed (``generated`` only); ``segment``: samples per training
    row of the audio sets, characters per row of the text sets; ``path``: the
    user's text file or folder (``text`` only).
    """

    name: str = "generated"
    folder: str | None = None
    limit: int | None = None
    size: int = 5000
    seed: int = 0
    val_limit: int | None = None
    segment: int = 1024
    path: str | None = None

    def __post_init__(self) -> None:
        if self.name not in _LOADERS:
            raise ConfigError(f"Unknown data set {self.name!r}; choose from: {', '.join(_LOADERS)}.")
        limits = (self.limit, self.val_limit)
        if any(n is not None and n < 1 for n in limits) or self.size < 1 or self.segment < 2:
            raise ConfigError(f"limit, val_limit and size must be positive, got {self.limit}, {self.val_limit} "
                              f"and {self.size}.")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "DataSpec":
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class RunData:
    """Arrays of a run. ``train`` (N, 28, 28) uint8 0..255 or (N, 784) bool; ``val`` likewise or None.

    ``binarize``: re-sample each batch as Bernoulli(intensity). ``labels``
    (N,) uint8 or None. ``info``: the description stored in config.json.
    """

    train: np.ndarray
    val: np.ndarray | None
    labels: np.ndarray | None
    binarize: bool
    info: dict


def _root(spec: DataSpec):
    return resolve_data_folder(spec.folder).path


def _mnist(spec: DataSpec) -> RunData:
    root = _root(spec)
    images, labels = load_mnist(root, "train")  # DataError names the folder and the download command
    try:
        val, val_name = load_binarized_mnist(root, "valid").astype(bool), "binarized MNIST valid split (static)"
    except DataError:
        val, val_name = None, None
    info = {"dataset": "MNIST", "split": "train", "license": MNIST_LICENSE, "binarization": "dynamic",
            "validation": val_name, "folder": str(root)}
    return RunData(images, val, labels, True, info)


def _binarized(spec: DataSpec) -> RunData:
    root = _root(spec)
    train = load_binarized_mnist(root, "train").astype(bool)
    try:
        val, val_name = load_binarized_mnist(root, "valid").astype(bool), "binarized MNIST valid split (static)"
    except DataError:
        val, val_name = None, None
    info = {"dataset": "binarized MNIST", "split": "train", "license": MNIST_LICENSE,
            "binarization": "static (Larochelle & Murray)", "validation": val_name, "folder": str(root)}
    return RunData(train, val, None, False, info)


def _generated(spec: DataSpec) -> RunData:
    images, labels = generated_digits(spec.size, spec.seed)
    val, _ = generated_digits(max(spec.size // 10, 1), spec.seed + 1)
    val = np.random.default_rng(spec.seed + 2).random(val.shape) < val / 255.0  # one fixed binarization
    info = {"dataset": "generated shapes", "split": "train", "license": "generated (no license needed)",
            "binarization": "dynamic", "validation": f"{len(val)} generated images (seed {spec.seed + 1})"}
    return RunData(images, val, labels, True, info)


def _audio(spec: DataSpec) -> RunData:
    """Training and validation rows (N, segment + 1) int16: μ-law codes (256 levels), the label last."""
    from engine.data.audio import clip_rows, generated_audio, load_fsdd

    if spec.name == "fsdd":
        train, val = load_fsdd(_root(spec), "train", "digit"), load_fsdd(_root(spec), "test", "digit")
    else:
        train, val = generated_audio(max(spec.size // 10, 20), seed=spec.seed), generated_audio(20, seed=spec.seed + 1)
    rows, val_rows = clip_rows(train, spec.segment), clip_rows(val, spec.segment)
    info = {**train.info, "rows": f"{len(rows)} rows of {spec.segment} samples", "sample_rate": train.rate,
            "validation": f"{len(val_rows)} rows of {val.info.get('split', 'held-out clips')}"}
    return RunData(rows, val_rows, rows[:, -1].astype(np.uint8), False, info)


def _text(spec: DataSpec) -> RunData:
    """Rows (N, segment + 1) int16 of character indices of the training text; validation rows likewise."""
    from engine.data.text import encode_text, load_shakespeare, load_user_text, text_rows

    if spec.name == "shakespeare":
        corpus = load_shakespeare(_root(spec))
    elif spec.path:
        corpus = load_user_text(spec.path)
    else:
        raise ConfigError("The text data set needs a file or folder of UTF-8 text (--text PATH).")
    vocab = corpus.vocab
    train, valid = encode_text(corpus.train, vocab), encode_text(corpus.valid, vocab)
    rows = text_rows(train, min(spec.segment, len(train) - 1), bos=len(vocab))  # a short text: one row of it all
    val = text_rows(valid, min(spec.segment, len(valid) - 1), bos=len(vocab), bos_every=len(valid))
    info = {**corpus.info, "rows": f"{len(rows)} rows of {rows.shape[1] - 1} characters", "characters": len(train),
            "validation": f"{corpus.info['validation']} ({len(val)} rows)", "model_hparams": {"vocab": vocab}}
    return RunData(rows, val, None, False, info)


_LOADERS: dict[str, Callable[[DataSpec], RunData]] = {
    "mnist": _mnist, "binarized_mnist": _binarized, "generated": _generated, "fsdd": _audio, "generated_audio": _audio,
    "shakespeare": _text, "text": _text}


def register_dataset(name: str, loader: Callable[[DataSpec], RunData]) -> None:
    """Make ``name`` a run data set (a new family's data, a test's toy rows): ``loader(spec)`` returns its RunData."""
    _LOADERS[name] = loader


def dataset_names() -> tuple[str, ...]:
    """Every run data set: the built-in :data:`DATASETS` and the registered ones."""
    return tuple(_LOADERS)


def load_run_data(spec: DataSpec) -> RunData:
    """Load the data set ``spec`` names (DataError with the folder and the download command if missing)."""
    data = _LOADERS[spec.name](spec)
    if spec.limit:
        labels = data.labels[: spec.limit] if data.labels is not None else None
        data = RunData(data.train[: spec.limit], data.val, labels, data.binarize, data.info)
    val = data.val[: spec.val_limit] if data.val is not None and spec.val_limit else data.val
    info = {**data.info, "examples": len(data.train), "spec": spec.to_dict()}
    if val is not None and len(val) < len(data.val):
        info["validation"] = f"{info['validation']}, first {len(val)} {'rows' if 'rows' in info else 'images'}"
    return RunData(data.train, val, data.labels, data.binarize, info)


# --------------------------------------------------------------------------- samples


def fixed_subset(data: RunData, count: int) -> tuple[torch.Tensor, np.ndarray | None]:
    """The same ``count`` training examples for every samples file: floats (M, ...) in [0, 1] and labels (M,) or None."""
    n = len(data.train)
    rows = np.sort(np.random.default_rng(0).choice(n, size=min(count, n), replace=False))
    x = torch.as_tensor(data.train[rows])
    x = x.float() / 255.0 if x.dtype == torch.uint8 else x.float()
    return x, (data.labels[rows] if data.labels is not None else None)


def fixed_latents(model: nn.Module, count: int, seed: int) -> torch.Tensor | None:
    """z ~ N(0, I) (count, latent_dim) from ``seed``, or None for a model without a latent space."""
    if not hasattr(model, "latent_dim") or not hasattr(model, "decode"):
        return None
    return torch.randn(count, int(model.latent_dim), generator=make_generator(seed + _FIXED_Z_SEED))


def _as_images(images, count: int) -> np.ndarray:
    """A model's samples (tensor or array, (G, H, W) / (G, 1, H, W) / (G, 784)) as float16 (G, H, W)."""
    arr = images.detach().float().cpu().numpy() if torch.is_tensor(images) else np.asarray(images, dtype=np.float32)
    arr = arr.reshape(len(arr), 28, 28) if arr.ndim == 2 and arr.shape[1] == 784 else arr.reshape(len(arr), *arr.shape[-2:])
    if len(arr) != count:
        raise ConfigError(f"The model's samples() returned {len(arr)} images; {count} were asked for.")
    return arr.astype(np.float16)


@torch.no_grad()
def make_samples(model: nn.Module, z: torch.Tensor | None, subset: torch.Tensor, count: int,
                 seed: int) -> dict[str, np.ndarray] | None:
    """Arrays of one samples file, or None if the model can make none.

    Latent models: images = decode(z) (G, 28, 28) float16 and, when
    latent_dim == 2, codes = encoder means of ``subset`` (M, 2) float16.
    WaveNet: audio = ``model.audio_samples(count, seed)`` (G, T) float32 and
    its rate. Other models: images = ``model.samples(count, generator)`` with a
    generator seeded by ``seed`` (the same noise every time), on one torch
    thread.
    """
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        if z is not None:
            out = {"images": _as_images(model.decode(z.to(device)), len(z))}
            if int(model.latent_dim) == 2 and hasattr(model, "encode"):
                mu = torch.cat([model.encode(chunk.to(device))[0] for chunk in subset.split(500)])
                out["codes"] = mu.float().cpu().numpy().astype(np.float16)
            return out
        if hasattr(model, "sample_rate") and hasattr(model, "start"):  # WaveNet: clips from the compiled cached step
            audio = audio_samples(model, count, seed + _FIXED_Z_SEED)
            return {"audio": audio.astype(np.float32), "rate": np.array(model.sample_rate)}
        if hasattr(model, "vocab"):  # text: a paragraph from a fixed prompt and seed
            return {"text": text_samples(model, count, seed + _FIXED_Z_SEED)}
        if hasattr(model, "start"):  # autoregressive images: tiny ops per pixel, fastest on one thread
            gen = make_generator(seed + _FIXED_Z_SEED, device)
            with torch_threads(1):
                return {"images": _as_images(image_samples(model, count, generator=gen), count)}
        return None
    finally:
        model.train(was_training)
