"""Small reusable views and layout helpers."""

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import (QApplication, QDoubleSpinBox, QGraphicsView, QHBoxLayout, QLabel, QScrollArea, QSpinBox,
                               QSplitter, QWidget)


class WheelScrollsPanel(QObject):
    """Event filter for the plots inside a scrolling side panel: the mouse wheel scrolls the panel (as over
    any other part of it) instead of zooming the plot; Ctrl+wheel still zooms. The main view beside the
    panel keeps its wheel zoom."""

    def __init__(self, scroll: QScrollArea) -> None:
        super().__init__(scroll)
        self.scroll = scroll

    def eventFilter(self, watched, event) -> bool:
        if event.type() != QEvent.Type.Wheel or event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False
        QApplication.sendEvent(self.scroll.verticalScrollBar(), event)
        return True


def with_side_panel(main: QWidget, panel: QWidget, panel_width: int = 360) -> QSplitter:
    """``main`` on the left taking the spare room, ``panel`` on the right in a
    vertical scroll area (so tall panels never force a tall window)."""
    scroll = QScrollArea()
    scroll.setWidget(panel)
    scroll.setWidgetResizable(True)
    # wide enough for every button and label of the panel at its natural size (no clipped text)
    natural = panel.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 2 * scroll.frameWidth()
    scroll.setMinimumWidth(max(panel_width, min(natural, panel.maximumWidth())))
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    wheel = WheelScrollsPanel(scroll)
    for plot in panel.findChildren(QGraphicsView):
        plot.viewport().installEventFilter(wheel)
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


def in_a_row(*widgets: QWidget) -> QWidget:
    """``widgets`` side by side in one form row (all but the labels share the spare width)."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    for widget in widgets:
        layout.addWidget(widget, 1 if not isinstance(widget, QLabel) else 0)
    return row
