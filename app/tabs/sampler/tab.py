"""Sampler tab: autoregressive models generating, one mode per kind of output.

A switch ("Images": PixelCNN, NADE, MADE; "Audio": WaveNet; "Text": the character Transformer) over a stack of pages. Each page is a
QWidget that may implement ``accepts_checkpoint(config)``,
``open_checkpoint(path, config)`` and ``shutdown()``; the tab forwards
them. Pages are added with :meth:`SamplerTab.add_mode`.
"""

from __future__ import annotations

from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QLabel, QPushButton, QStackedWidget, QVBoxLayout, QWidget


class SamplerTab(QWidget):
    """Mode buttons over a stack of pages."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.stack = QStackedWidget()
        self.mode_buttons = QButtonGroup(self)
        self.mode_buttons.setExclusive(True)
        self.mode_buttons.idClicked.connect(self.stack.setCurrentIndex)
        self.mode_row = QHBoxLayout()
        self.mode_row.addWidget(QLabel("Mode:"))
        self.mode_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(self.mode_row)
        layout.addWidget(self.stack, 1)
        from app.tabs.sampler.audio import AudioSamplerPage
        from app.tabs.sampler.image import ImageSamplerPage
        from app.tabs.sampler.text import TextSamplerPage

        self.images = ImageSamplerPage(context)
        self.add_mode("Images", self.images)
        self.audio = AudioSamplerPage(context)
        self.add_mode("Audio", self.audio)
        self.text = TextSamplerPage(context)
        self.add_mode("Text", self.text)

    def add_mode(self, title: str, page: QWidget) -> None:
        """Add a page with a mode button ``title``; the first page added is shown."""
        button = QPushButton(title)
        button.setCheckable(True)
        index = self.stack.addWidget(page)
        self.mode_buttons.addButton(button, index)
        self.mode_row.insertWidget(self.mode_row.count() - 1, button)
        if index == 0:
            button.setChecked(True)

    def pages(self) -> list[QWidget]:
        return [self.stack.widget(i) for i in range(self.stack.count())]

    def show_mode(self, title: str) -> None:
        """Switch to the page whose button reads ``title``."""
        for button in self.mode_buttons.buttons():
            if button.text() == title:
                button.setChecked(True)
                self.stack.setCurrentIndex(self.mode_buttons.id(button))

    def accepts_checkpoint(self, config: dict) -> bool:
        return any(getattr(page, "accepts_checkpoint", lambda c: False)(config) for page in self.pages())

    def open_checkpoint(self, path, config: dict) -> None:
        takers = [p for p in self.pages() if getattr(p, "accepts_checkpoint", lambda c: False)(config)]
        for page in takers:
            page.open_checkpoint(path, config)
        if takers:
            self.stack.setCurrentWidget(takers[0])
            self.mode_buttons.button(self.stack.indexOf(takers[0])).setChecked(True)

    def shutdown(self) -> None:
        for page in self.pages():
            shutdown = getattr(page, "shutdown", None)
            if shutdown is not None:
                shutdown()
