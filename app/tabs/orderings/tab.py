"""Orderings tab: the order an autoregressive model generates pixels in, made visible.

Two pages behind a switch: "Mask X-ray" (:mod:`app.tabs.orderings.xray`: a
MADE's masks and what each output may see) and "Ordering studio"
(:mod:`app.tabs.orderings.studio`: test NLL under any ordering, per-pixel
maps, the ensemble-of-masks gain). Checkpoints opened from File go to the
studio.
"""

from __future__ import annotations

from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget

from app.tabs.orderings.studio import StudioPage
from app.tabs.orderings.views import scrolled
from app.tabs.orderings.xray import XRayPage


class OrderingsTab(QWidget):
    """Page buttons over a stack of the two pages."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.stack = QStackedWidget()
        self.page_buttons = QButtonGroup(self)
        self.page_buttons.idClicked.connect(self.stack.setCurrentIndex)
        row = QHBoxLayout()
        row.addWidget(QLabel("Page:"))
        self.xray, self.studio = XRayPage(context), StudioPage(context)
        for index, (title, page) in enumerate((("Mask X-ray", self.xray), ("Ordering studio", self.studio))):
            button = QPushButton(title)
            button.setCheckable(True)
            button.setChecked(index == 0)
            self.stack.addWidget(scrolled(page) if page is self.xray else page)  # the studio has its side panel
            self.page_buttons.addButton(button, index)
            row.addWidget(button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.stack, 1)

    def button(self, title: str) -> QPushButton:
        return next(b for b in self.page_buttons.buttons() if b.text() == title)

    def accepts_checkpoint(self, config: dict) -> bool:
        return self.studio.accepts_checkpoint(config)

    def open_checkpoint(self, path, config: dict) -> None:
        self.studio.open_checkpoint(path, config)

    def shutdown(self) -> None:
        self.studio.shutdown()
