"""Small reusable views and layout helpers."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDoubleSpinBox, QScrollArea, QSpinBox, QSplitter, QWidget


def with_side_panel(main: QWidget, panel: QWidget, panel_width: int = 360) -> QSplitter:
    """``main`` on the left taking the spare room, ``panel`` on the right in a
    vertical scroll area (so tall panels never force a tall window)."""
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    scroll.setMinimumWidth(panel_width)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    split = QSplitter()
    split.addWidget(main)
    split.addWidget(scroll)
    split.setStretchFactor(0, 1)
    split.setSizes([820, 380])
    return split


def spin_box(lo, hi, value, step=1, decimals: int | None = None, tip: str = "") -> QSpinBox | QDoubleSpinBox:
    """An integer spin box, or a float one when ``decimals`` is given."""
    spin = QDoubleSpinBox() if decimals is not None else QSpinBox()
    if decimals is not None:
        spin.setDecimals(decimals)
    spin.setRange(lo, hi)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setToolTip(tip)
    return spin
