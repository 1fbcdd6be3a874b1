"""Command-line interface: ``python -m engine <command> ...``, one module per command under :mod:`engine.cli`.

Each command is a tuple (name, help, add its arguments, run it) in
:data:`COMMANDS`. Expected mistakes (:class:`GenScopeError`) print one
sentence starting with ``error:`` on a line of its own (any progress bar is
closed first) and exit with status 2; nothing prints a traceback for them. Every number on the command
line is checked against :data:`engine.cli.options.LIMITS` before the command runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from engine.cli.codes import CODES_COMMAND
from engine.cli.data import DATA_COMMAND
from engine.cli.download import DOWNLOAD_COMMAND
from engine.cli.eval import EVAL_COMMAND
from engine.cli.gmm import GMM_COMMAND
from engine.cli.info import INFO_COMMAND, versions
from engine.cli.inspect import INSPECT_COMMAND
from engine.cli.options import add_common, check_limits, common_parent
from engine.cli.progress import close_all
from engine.cli.sample import SAMPLE_COMMAND
from engine.cli.train import TRAIN_COMMAND
from engine.cli.warmup import WARMUP_COMMAND
from engine.errors import GenScopeError

Command = tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]

COMMANDS: list[Command] = [INFO_COMMAND, DOWNLOAD_COMMAND, DATA_COMMAND, INSPECT_COMMAND, WARMUP_COMMAND, TRAIN_COMMAND,
                           EVAL_COMMAND, CODES_COMMAND, GMM_COMMAND, SAMPLE_COMMAND]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m engine", description="GenScope engine command line.")
    add_common(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="command", required=True)
    for name, help_text, add_args, run in COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common_parent()])
        add_args(p)
        p.set_defaults(run=run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        check_limits(args)
        return args.run(args)
    except GenScopeError as exc:
        close_all()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        close_all()
        print("\ninterrupted", file=sys.stderr)
        return 130


__all__ = ["COMMANDS", "build_parser", "main", "versions"]
