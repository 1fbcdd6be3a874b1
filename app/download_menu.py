"""File › Download data sets: one entry per public data set, ticked with "present" when the data folder has it.

The marks are refreshed each time the menu opens, so a finished download or
another data folder shows at once.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from engine.data.registry import DATASETS


def fill_download_menu(menu: QMenu, data_folder: Callable[[], object], download: Callable[[str], object]) -> None:
    """Add an action per data set to ``menu``; ``data_folder()`` is the current DataFolder (``.path``,
    ``.exists``), ``download(key)`` fetches one set."""
    actions: dict[str, QAction] = {}
    for key, spec in DATASETS.items():
        action = menu.addAction(spec.title)
        action.setCheckable(True)
        action.triggered.connect(lambda _=False, k=key: _call(download, k))
        actions[key] = action

    def refresh() -> None:
        folder = data_folder()
        for key, action in actions.items():
            spec = DATASETS[key]
            present = bool(folder.exists and spec.is_present(folder.path))
            action.setChecked(present)
            action.setText(f"{spec.title} (present; download again)" if present else f"{spec.title} (not yet here)")
            action.setToolTip(f"In {folder.path / spec.subdir}" if present else f"Fetch into {folder.path}")

    menu.setToolTipsVisible(True)
    menu.aboutToShow.connect(refresh)
    refresh()


def _call(fn: Callable[[str], object], key: str) -> None:
    fn(key)  # a slot returns None (PySide refcount bug with returned objects)
