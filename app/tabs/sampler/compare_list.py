"""The "compare strategies" list shared by the Sampler's image and text modes: 2 to 4 strategies from one seed.

A list widget with Add strategy (the strategy box's current one) and Clear;
refusals (an invalid strategy, a full list) go to the strategy box's red line.
"""

from __future__ import annotations

from PySide6.QtWidgets import QListWidget, QPushButton

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
