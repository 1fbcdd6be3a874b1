"""Command-line interface: ``python -m engine <command> ...``.

Each command is a pair (add its arguments, run it). Later capabilities add
theirs to :data:`COMMANDS`. Expected mistakes (:class:`GenScopeError`) print
one sentence and exit with status 2; nothing prints a traceback for them.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable, Iterable

import numpy as np
import torch

import engine
from engine.cards.bundled import ASSETS_DIR, bundled_models
from engine.data.folder import resolve_data_folder
from engine.device import describe_device, select_device
from engine.errors import GenScopeError
from engine.events import DownloadProgress, Message, Progress
from engine.cli.gmm import GMM_COMMAND
from engine.cli.sample import SAMPLE_COMMAND
from engine.cli.train import CODES_COMMAND, EVAL_COMMAND, TRAIN_COMMAND


def versions() -> dict[str, str]:
    """Versions of the pieces a bug report needs (no Qt: the engine has none)."""
    return {
        "genscope": engine.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "platform": platform.platform(),
    }


def cmd_info(args: argparse.Namespace) -> int:
    from engine.data.registry import DATASETS

    device = select_device(args.device)
    folder = resolve_data_folder(args.data)
    print("GenScope", engine.__version__)
    for name, version in versions().items():
        if name != "genscope":
            print(f"  {name:<9} {version}")
    print(f"Device:      {device} — {describe_device(device)}")
    print(f"Data folder: {folder.describe()}")
    for key, spec in DATASETS.items():
        present = folder.exists and spec.is_present(folder.path)
        mark = "present" if present else f"missing (python -m engine download {key})"
        print(f"  {key:<16} {mark}")
    models = bundled_models()
    print(f"Bundled models in {ASSETS_DIR}: {len(models) or 'none yet'}")
    for model in models:
        print(f"  {model.name:<16} {model.kind if model.ok else 'UNUSABLE: ' + model.problem}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from engine.data.download import download_dataset
    from engine.data.registry import DATASETS

    folder = resolve_data_folder(args.data)
    names = list(DATASETS) if args.dataset == ["all"] else args.dataset
    for name in names:
        if name not in DATASETS:
            raise GenScopeError(f"Unknown data set {name!r}; choose from: {', '.join(DATASETS)}, all.")
    for name in names:
        print(f"{name} -> {folder.path / DATASETS[name].subdir}")
        _print_progress(download_dataset(name, folder.path, base_url=args.mirror))
    return 0


def _print_progress(events: Iterable[object]) -> None:
    """Render download/progress events as one updating terminal line."""
    for event in events:
        if isinstance(event, DownloadProgress):
            total = f"/{event.total / 1e6:.1f}" if event.total else ""
            sys.stderr.write(f"\r  {event.filename}: {event.done / 1e6:.1f}{total} MB   ")
        elif isinstance(event, Progress) and event.total:
            sys.stderr.write(f"\r  {event.message} {event.done}/{event.total}   ")
        elif isinstance(event, Message):
            sys.stderr.write(f"\n  {event.text}")
    sys.stderr.write("\n")


def cmd_inspect(args: argparse.Namespace) -> int:
    from engine.checkpoints import read_config

    print(json.dumps(read_config(args.checkpoint), indent=2, sort_keys=True))
    return 0


def cmd_warmup(args: argparse.Namespace) -> int:
    from engine.cli.warmup import warm_up_kernels

    seconds = warm_up_kernels()
    if not seconds:
        print("numba is not installed: the samplers use their torch paths (slower, same results).")
    for name, s in seconds.items():
        print(f"{name} kernels ready in {s:.1f} s")
    return 0


def _add_info(p: argparse.ArgumentParser) -> None:
    pass


def _add_download(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", nargs="+", help="mnist, binarized_mnist, fsdd, faithful, or all")
    p.add_argument("--mirror", default=None, help="base URL of a mirror holding <dataset>/<file>")


def _add_inspect(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a .safetensors checkpoint")


Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: list[Command] = [
    ("info", "versions, compute device, data folder, data sets and bundled models", _add_info, cmd_info),
    ("download", "fetch public data sets into the data folder (sha256-verified)", _add_download, cmd_download),
    ("inspect", "print a checkpoint's configuration (kind, settings, data, metrics)", _add_inspect, cmd_inspect),
    ("warmup", "compile the PixelCNN and WaveNet kernels now (once per checkout; make does it)", _add_info, cmd_warmup),
    TRAIN_COMMAND,
    EVAL_COMMAND,
    CODES_COMMAND,
    GMM_COMMAND,
    SAMPLE_COMMAND,
]


def _add_common(parser: argparse.ArgumentParser, default) -> None:
    """--device and --data, accepted before or after the command name."""
    parser.add_argument("--device", default=default, help="auto, cpu, cuda, cuda:N or mps (env GENSCOPE_DEVICE)")
    parser.add_argument("--data", default=default, help="data folder (env GENSCOPE_DATA)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="GenScope engine command line.")
    _add_common(parser, None)
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for name, help_text, add_args, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except GenScopeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
