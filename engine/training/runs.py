"""Training runs: train any model live into a run folder, resume it, list and read runs.

The one entry point is :func:`run_training`, a generator the GUI's worker, the
CLI (``python -m engine train vae --run-dir runs/my-vae``) and the tests
all advance. It yields, in order:

- :class:`RunStarted` (folder, starting step, total steps, config),
- per step: :class:`SettingChanged` for each live change from
  :class:`Controls`, then :class:`~engine.training.step.TrainStep` or
  :class:`Diverged`, then when due :class:`~engine.training.step.CheckpointSaved`,
  :class:`SamplesReady` and :class:`~engine.events.Progress`,
- per epoch: :class:`~engine.training.step.EpochEnd`,
- :class:`RunFinished` at the end (after a last checkpoint and samples).

Everything is also written to the run folder (:mod:`engine.training.folder`), so
a run can be reopened, plotted and resumed later. ``generator.close()`` (the
GUI's Stop, or cancelling the job) saves a checkpoint and marks the run
"stopped"; a killed process loses at most the steps since the last
checkpoint, and ``resume=True`` continues from it with the metrics trimmed
to match. A non-finite loss or gradient is never applied: the weights and
optimizer go back to the last checkpoint, :class:`Diverged` is yielded (the
GUI pauses there: pass ``Controls(on_diverged=job.pause)``), and advancing
again continues training, e.g. after ``controls.set_lr(smaller)``.

Models: any kind :mod:`engine.catalog` knows whose
``loss(x[, generator])`` returns a loss or (loss, metrics). Samples come from
``decode`` of fixed latent codes (latent models) or ``samples(n, generator)``
(PixelCNN). :data:`engine.catalog.KINDS` lists the kinds the monitor
offers, with their defaults, data sets, live controls and metrics.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import torch
from torch import nn

from engine.catalog import build_model, check_run
from engine.device import select_device
from engine.training.distributed import DistContext
from engine.errors import ConfigError
from engine.events import Message
from engine.training.data import DATASETS, DataSpec, load_run_data
from engine.training.folder import (STATUSES, RunError, RunFolder, RunInfo, list_runs, load_metrics, load_samples,
                               run_info, sample_files)
from engine.training.run_loop import RunLoop
from engine.training.settings import (Controls, Diverged, RunFinished, RunStarted, SamplesReady, SettingChanged,
                              TrainSettings)
from engine.training.step import CheckpointSaved, EpochEnd, TrainStep


def _settings(settings: TrainSettings | dict | None, default: dict | None = None) -> TrainSettings:
    if isinstance(settings, TrainSettings):
        return settings
    if settings is None and default is not None:
        return TrainSettings.from_dict(default)
    return TrainSettings.from_dict(settings or {})


def _device(device, settings: TrainSettings, dist: DistContext | None) -> torch.device:
    """The rank's device under torchrun, else ``device`` or ``settings.device`` (None: best available)."""
    if dist is not None:
        return dist.device
    return select_device(str(device) if device is not None else settings.device)


def _build(kind: str | None, hparams: dict | None, seed: int) -> nn.Module:
    """A fresh model whose initial weights depend only on ``seed`` (the global RNG is left as it was)."""
    if not kind:
        raise ConfigError("A new run needs a model kind, e.g. 'vae'.")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build_model(kind, hparams)


def _new_run(folder: RunFolder, kind, hparams, data, settings, model, device, dist) -> RunLoop:
    if folder.exists():
        raise RunError(f"{folder.path} already holds a run; resume it (resume=True, CLI --resume) "
                       "or choose another folder.")
    settings = _settings(settings)
    spec = data if isinstance(data, DataSpec) else DataSpec.from_dict(data or {})
    run_data = load_run_data(spec)  # before creating the folder: a missing data set leaves nothing behind
    if model is None:  # settings the data fixes (a text model's vocabulary) win over the caller's
        model = _build(kind, {**(hparams or {}), **run_data.info.get("model_hparams", {})}, settings.seed)
    check_run(model.kind, model.hparams(), spec.name)
    device = _device(device, settings, dist)
    config = folder.create({"kind": model.kind, "hparams": model.hparams(), "data": run_data.info,
                            "settings": settings.to_dict(), "device": str(device),
                            "world_size": dist.world_size if dist else 1})
    return RunLoop(folder, model, run_data, settings, config, device, dist=dist)


def _resumed_run(folder: RunFolder, kind, settings, model, device, dist) -> RunLoop:
    config = folder.read_config()
    if kind and kind != config["kind"]:
        raise ConfigError(f"{folder.path} holds a '{config['kind']}' run, not '{kind}'.")
    settings = _settings(settings, config["settings"])
    saved = folder.load_state()
    hparams = saved.weights.config["hparams"] if saved else config["hparams"]  # a live beta change is kept
    model = model if model is not None else _build(config["kind"], hparams, settings.seed)
    run_data = load_run_data(DataSpec.from_dict(config["data"]["spec"]))
    device = _device(device, settings, dist)
    loop = RunLoop(folder, model, run_data, settings, config, device, dist=dist)
    if saved is not None:
        loop.restore(saved)
    stored = config["settings"]
    if (stored["batch_size"], stored["seed"]) != (settings.batch_size, settings.seed):
        loop.notes.append(Message("batch_size or seed differ from the run's; its epochs resume at the same batch "
                                  "index, so some examples of this epoch are skipped or repeated."))
    folder.drop_metrics_after(loop.step)
    loop.resumed = True
    return loop


def open_run(
    run_dir: str | os.PathLike,
    *,
    kind: str | None = None,
    hparams: dict | None = None,
    data: DataSpec | dict | None = None,
    settings: TrainSettings | dict | None = None,
    controls: Controls | None = None,
    resume: bool = False,
    model: nn.Module | None = None,
    device: str | torch.device | None = None,
    dist: DistContext | None = None,
) -> RunLoop:
    """Prepare a run now (errors surface here); ``.events()`` is its generator, ``.model`` the module.

    New run (``resume=False``): ``run_dir`` must not hold a run yet; the model
    is ``build_model(kind, hparams)`` with weights seeded by ``settings.seed``
    (or ``model``, a ready module with ``kind``, ``hparams()`` and ``loss``);
    ``data`` defaults to the generated shapes. Resume: kind, hparams and data
    come from the run; ``settings`` (if given) replaces the stored ones, e.g.
    more epochs; metrics past the checkpoint are dropped. ``controls``: live
    lr/beta changes and the divergence hook (under DDP every rank must get
    the same changes). ``dist``: this rank's
    :class:`~engine.training.distributed.DistContext` under torchrun (rank 0 alone
    writes). ``device`` (e.g. "cpu", "cuda") overrides ``settings.device``
    for this session only. Errors are GenScopeErrors with one sentence (missing data set,
    unwritable folder, bad settings, run already there).
    """
    folder = RunFolder(run_dir, writable=dist is None or dist.is_main)
    if resume:
        loop = _resumed_run(folder, kind, settings, model, device, dist)
    else:
        loop = _new_run(folder, kind, hparams, data, settings, model, device, dist)
    folder.fsync_every = loop.settings.fsync_every
    loop.set_controls(controls)
    return loop


def run_training(run_dir: str | os.PathLike, **kwargs) -> Iterator[object]:
    """The run generator: :func:`open_run` with the same keyword arguments, then its events.

    Being a generator, its errors surface at the first advance (on the
    worker thread, for the GUI).
    """
    yield from open_run(run_dir, **kwargs).events()


__all__ = [
    "DATASETS", "STATUSES", "CheckpointSaved", "Controls", "DataSpec", "Diverged", "EpochEnd", "RunError",
    "RunFinished", "RunInfo", "RunStarted", "SamplesReady", "SettingChanged", "TrainSettings", "TrainStep",
    "list_runs", "load_metrics", "load_samples", "open_run", "run_info", "sample_files", "run_training",
]
