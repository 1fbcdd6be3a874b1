"""The "compare strategies" list shared by the Sampler's image and text modes: 2 to 4 strategies from one seed.

A list widget with Add strategy (the strategy box's current one) and Clear;
refusals (an invalid strategy, a full list) go to the strategy box's red line.
"""

from __future__ import annotations

from PySide6.QtWidgets import QGridLayout, QLabel, QListWidget, QPushButton

from app.tabs.sampler.strategy_box import StrategyBox, describe
from engine.errors import ConfigError
from engine.sampling.compare import MAX_PANELS


class CompareList:
    """``list`` (QListWidget), ``add`` and ``clear`` buttons and ``strategies`` for ``box``; starts with ``initial``."""

    def __init__(self, box: StrategyBox, initial: list, what: str = "painted") -> None:
        self.box = box
        self.list = QListWidget()
        self.list.setMaximumHeight(78)
        self.list.setToolTip(f"2 to {MAX_PANELS} strategies {what} side by side from the same seed")
        self.add = QPushButton("Add strategy")
        self.add.setToolTip("Add the strategy above to the comparison")
        self.clear = QPushButton("Clear")
        self.strategies = list(initial)
        self.list.addItems([describe(s) for s in self.strategies])
        self.add.clicked.connect(lambda _=False: self.add_current())
        self.clear.clicked.connect(lambda _=False: self.clear_all())

    def add_current(self) -> None:
        try:
            strategy = self.box.strategy()
        except ConfigError as exc:
            self.box.error.setText(str(exc))
            return
        if len(self.strategies) >= MAX_PANELS:
            self.box.error.setText(f"A comparison holds {MAX_PANELS} strategies at most; Clear it first.")
            return
        self.strategies.append(strategy)
        self.list.addItem(describe(strategy))

    def clear_all(self) -> None:
        self.strategies = []
        self.list.clear()

    def set_enabled(self, on: bool) -> None:
        for widget in (self.list, self.add, self.clear):
            widget.setEnabled(on)


def run_grid(grid: QGridLayout, rows, compare: CompareList, buttons: dict) -> int:
    """Lay out a run box: ``rows`` of (label, widget), the comparison's list with Add strategy and Clear, then the
    run ``buttons`` (Start, Pause, Step, Stop) in one row; returns the next free row of ``grid``."""
    for row, (label, widget) in enumerate(rows):
        grid.addWidget(QLabel(label), row, 0)
        grid.addWidget(widget, row, 1, 1, 3)
    n = len(rows)
    grid.addWidget(compare.list, n, 0, 1, 4)
    grid.addWidget(compare.add, n + 1, 0, 1, 2)
    grid.addWidget(compare.clear, n + 1, 2, 1, 2)
    for i, button in enumerate(buttons.values()):
        grid.addWidget(button, n + 2, i)
    return n + 3
