"""``python -m engine inspect FILE``: print a checkpoint's configuration (kind, settings, data, metrics) as JSON."""

from __future__ import annotations

import argparse
import json

from engine.checkpoints import read_config


def add_inspect_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="a .safetensors checkpoint")


def cmd_inspect(args: argparse.Namespace) -> int:
    print(json.dumps(read_config(args.checkpoint), indent=2, sort_keys=True))
    return 0


INSPECT_COMMAND = ("inspect", "print a checkpoint's configuration (kind, settings, data, metrics)", add_inspect_args,
                   cmd_inspect)
