"""``python -m engine info``: versions, compute device, data folder, data sets and bundled models."""

from __future__ import annotations

import argparse
import platform

import numpy as np
import torch

import engine
from engine.cards.bundled import ASSETS_DIR, bundled_models
from engine.data.folder import resolve_data_folder
from engine.data.registry import DATASETS
from engine.device import describe_device, select_device


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


INFO_COMMAND = ("info", "versions, compute device, data folder, data sets and bundled models", lambda p: None, cmd_info)
