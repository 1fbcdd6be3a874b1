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

and the 2-D point sets of :data:`engine.data.points2d.POINT_SOURCES`
(``faithful``, ``moons``, ``rings``, ``spiral``, ``blobs``, ``latent_codes``,
``mnist_pca2``, ``csv`` with ``path``): standardized per column, split by
:func:`engine.data.points2d.holdout_split` (20 % held out, seed ``seed``).

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
from engine.data.points2d import POINT_SOURCES, holdout_split, load_points, standardized
from engine.device import make_generator, torch_threads
from engine.errors import ConfigError, DataError
from engine.sampling.pixelcnn import image_samples
from engine.sampling.wavenet import audio_samples

DATASETS = ("mnist", "binarized_mnist", "generated", "fsdd", "generated_audio")
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
    from which seed (``generated`` only; the generated point sets have
    :data:`POINT_COUNT` points, ``seed`` also seeds their held-out split);
    ``segment``: samples per training row of the audio sets; ``path`` and
    ``columns`` ("a,b"): the CSV file of the ``csv`` point set.
    """

    name: str = "generated"
    folder: str | None = None
    limit: int | None = None
    size: int = 5000
    seed: int = 0
    val_limit: int | None = None
    segment: int = 1024
    path: str | None = None
    columns: str | None = None

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


def _points(spec: DataSpec) -> RunData:
    """A 2-D point set as rows (N, 2) float32, standardized; the held-out 20 % of :func:`holdout_split` validates."""
    root = _root(spec) if spec.name in ("faithful", "mnist_pca2") else None
    columns = [c.strip() for c in spec.columns.split(",")] if spec.columns else None
    points = standardized(load_points(spec.name, root, spec.path, columns, POINT_COUNT, spec.seed))
    train, held = holdout_split(len(points.points), HELD_OUT, spec.seed)
    x = points.points.astype(np.float32)
    info = {"dataset": points.note, "split": f"{len(train)} training points", "license": "see the data source",
            "validation": f"{len(held)} held-out points ({HELD_OUT:.0%}, split seed {spec.seed})",
            "axes": list(points.axes), "points": len(x)}
    labels = points.labels[train].astype(np.uint8) if points.labels is not None else None
    return RunData(x[train], x[held], labels, False, info)


POINT_COUNT = 1000  # points of a generated point set
HELD_OUT = 0.2  # the held-out fraction of every point set
_LOADERS: dict[str, Callable[[DataSpec], RunData]] = {
    "mnist": _mnist, "binarized_mnist": _binarized, "generated": _generated, "fsdd": _audio, "generated_audio": _audio,
    **{name: _points for name in POINT_SOURCES}}


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
        info["validation"] = f"{info['validation']}, first {len(val)} images"
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
        if hasattr(model, "start"):  # autoregressive images: tiny ops per pixel, fastest on one thread
            gen = make_generator(seed + _FIXED_Z_SEED, device)
            with torch_threads(1):
                return {"images": _as_images(image_samples(model, count, generator=gen), count)}
        return None
    finally:
        model.train(was_training)
