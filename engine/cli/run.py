"""``train ... --run-dir``: the command-line face of :mod:`engine.training.runs` (the training monitor's run folders).

:mod:`engine.cli.train` adds these options to ``train`` and hands over when
``--run-dir`` is given::

    python -m engine train vae --dataset generated --epochs 5 --run-dir runs/my-vae
    python -m engine train vae --run-dir runs/my-vae --resume [--set-lr 1e-4]
    python -m engine train pixelcnn --channels 32 --layers 5 --limit 10000 --epochs 2 --batch-size 32 --run-dir runs/pcnn
    torchrun --nproc_per_node 2 --standalone -m engine train vae --run-dir runs/ddp ...

The folder is the one the GUI reads (config.json, metrics.jsonl,
checkpoints/, samples/). Under torchrun each process trains its shard
(DistributedDataParallel) and rank 0 alone writes and prints. A divergence
stops the command (the run is rolled back and saved); resume it with a
lower learning rate via ``--resume --set-lr``.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

from engine.catalog import Kind
from engine.checkpoints import load_checkpoint, save_checkpoint, write_file
from engine.cli.options import kind_options, train_settings
from engine.cli.progress import track
from engine.errors import ConfigError, GenScopeError
from engine.training import distributed
from engine.training.data import AUDIO_DATASETS, DataSpec, dataset_names
from engine.training.folder import RunFolder
from engine.training.history import epoch_history
from engine.training.step import EpochEnd, TrainStep
from engine.training.runs import open_run
from engine.training.settings import Controls, Diverged, RunFinished, TrainSettings


def add_run_args(p: argparse.ArgumentParser) -> None:
    """The run-folder options of ``train`` (used only with ``--run-dir``)."""
    g = p.add_argument_group("run folder (training monitor)")
    g.add_argument("--run-dir", default=None, help="train into this run folder (what the GUI's training monitor reads)")
    g.add_argument("--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint")
    g.add_argument("--set-lr", type=float, default=None, help="with --resume: continue with this learning rate")
    g.add_argument("--dataset", choices=dataset_names(), default=None,
                   help="generated and generated_audio need no data folder; default: the model's first data set "
                        "in the catalog (mnist for the latent models, binarized_mnist for pixelcnn, fsdd for wavenet)")
    g.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default 500)")
    g.add_argument("--sample-every", type=int, default=None,
                   help="steps between sample grids (default: the model's, 200)")
    g.add_argument("--max-steps", type=int, default=None, help="stop after this many steps in all")
    g.add_argument("--tensorboard", action="store_true", help="also write TensorBoard event files (needs tensorboard)")
    g.add_argument("--dump-weights", default=None, help=argparse.SUPPRESS)  # tests: each rank writes its weights' hash


def _data(args: argparse.Namespace, entry: Kind) -> DataSpec:
    """The data set the command line names (default: the kind's first), with the kind's validation subset."""
    name = args.dataset or entry.datasets[0]
    segment = getattr(args, "segment", None)
    extra = {"segment": segment} if segment and name in AUDIO_DATASETS else {}
    return DataSpec(name, folder=args.data, limit=args.limit, val_limit=entry.data.get("val_limit"),
                    path=getattr(args, "text", None), **extra)


def _hparams(args: argparse.Namespace, entry: Kind) -> dict:
    """The model's constructor arguments: the command line's options over the catalog's defaults."""
    values = kind_options(args, entry)
    if entry.kind == "wavenet":
        if values.get("condition") == "speaker":
            raise ConfigError("A WaveNet run conditions on the digit or on nothing (--condition digit|none).")
        if values.get("audio_folder"):
            raise ConfigError("A run folder trains on --dataset fsdd or generated_audio; train on --audio-folder "
                              "with --out FILE.safetensors instead.")
        values["dataset"] = args.dataset
    return entry.hparams_from(values)


class _TensorBoard:
    """Scalars to ``<run>/tensorboard`` when the tensorboard package is installed; else one line and nothing."""

    def __init__(self, run_dir: Path, enabled: bool):
        self.writer = None
        if not enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            print("--tensorboard: the tensorboard package is not installed (pip install tensorboard); "
                  "training without it.", file=sys.stderr)
            return
        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def add(self, event: object) -> None:
        if self.writer is None:
            return
        if isinstance(event, TrainStep):
            for name, value in {"loss": event.loss, "lr": event.lr, "grad_norm": event.grad_norm, **event.metrics}.items():
                self.writer.add_scalar(f"train/{name}", value, event.step)
        elif isinstance(event, EpochEnd):
            for name, value in event.val.items():
                self.writer.add_scalar(f"val/{name}", value, event.epoch)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _dump_weights(folder: str, model: torch.nn.Module, rank: int) -> None:
    """Write ``folder/rank{rank}.sha256``: the hash of every weight's bytes, in state_dict order."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # write_file says why the folder cannot be used
    write_file(Path(folder) / f"rank{rank}.sha256", (digest.hexdigest() + "\n").encode())


def _drive(loop, main: bool, run_dir: Path, tensorboard: bool) -> tuple[str, int]:
    """Advance the run to its end, printing on rank 0; return (status, step). A divergence closes the run."""
    tb, last, status = _TensorBoard(run_dir, tensorboard and main), None, "stopped"
    events = loop.events()
    try:
        for event in track(events) if main else events:
            last = event if isinstance(event, TrainStep) else last
            if main:
                tb.add(event)
            if isinstance(event, Diverged):
                events.close()
                raise GenScopeError(
                    f"Training diverged at step {event.step} (the {event.what} is not finite); the run was rolled "
                    f"back to step {event.checkpoint_step} and saved. Resume with a lower learning rate: "
                    f"--resume --set-lr {last.lr / 10 if last else 1e-4:.2g}.")
            if isinstance(event, RunFinished):
                status = event.status
    finally:
        events.close()
        tb.close()
    return status, loop.step


def _resumed_settings(args: argparse.Namespace, entry: Kind) -> TrainSettings:
    """The run's stored settings with the command line's over them; one line says what changed (or that nothing did)."""
    old = RunFolder(args.run_dir).read_config()["settings"]
    new = train_settings(args, entry, old)
    changed = [f"{k} {old[k]} -> {v}" for k, v in new.to_dict().items() if k in old and old[k] != v]
    ignored = sorted(kind_options(args, entry))
    print(f"resuming {args.run_dir}: " + (", ".join(changed) if changed else "same settings")
          + (f"; the model's settings stay as they were (ignored: {', '.join(ignored)})" if ignored else ""),
          file=sys.stderr)
    return new


def cmd_train_run(args: argparse.Namespace, entry: Kind) -> int:
    """``train KIND --run-dir DIR``: train (or resume) a run folder; under torchrun, data-parallel."""
    if not entry.iterative:
        raise ConfigError(f"{args.kind} is fitted in closed form; --run-dir is for models trained step by step.")
    if args.set_lr is not None and not args.resume:
        raise ConfigError("--set-lr changes the learning rate of a resumed run; use --lr for a new one.")
    if args.resume:  # the run's own settings, with what the command line changes (e.g. more --epochs)
        hparams, data, settings = None, None, _resumed_settings(args, entry)
    else:
        hparams, data, settings = _hparams(args, entry), _data(args, entry), train_settings(args, entry)
    ctx = distributed.init_from_env(args.device)
    try:
        controls = Controls()
        if args.set_lr is not None:
            controls.set_lr(args.set_lr)
        loop = open_run(args.run_dir, kind=args.kind, hparams=hparams, data=data, controls=controls,
                        settings=settings, resume=args.resume, dist=ctx)
        main = ctx is None or ctx.is_main
        status, step = _drive(loop, main, Path(args.run_dir), args.tensorboard)
        if args.dump_weights:
            _dump_weights(args.dump_weights, loop.model, ctx.rank if ctx else 0)
        if main and args.out and status == "finished":
            last = load_checkpoint(loop.folder.last_path)
            save_checkpoint(args.out, last.state_dict, {**last.config, "history": epoch_history(args.run_dir)})
        if main:
            print(f"{status} at step {step}: {args.run_dir}" + (f" -> {args.out}" if args.out else ""))
        distributed.barrier(ctx)
    finally:
        distributed.cleanup(ctx)
    return 0
