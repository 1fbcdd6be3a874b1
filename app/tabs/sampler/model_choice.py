"""The models a Sampler page offers in its combo box: the bundled one and checkpoints opened from File.

:class:`ModelChoice` loads the chosen entry on its worker, the model's owner; the
current model stays in use until the new one is ready, and a file that does
not load puts the combo back and says why in one sentence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QComboBox

from app.worker import once
from engine.cards.bundled import find_bundled
from engine.events import Done
from engine.catalog import load_model


class ModelChoice:
    """Entries (label, path) of the model ``kind`` (a name or the catalog's kinds of a view) behind ``combo``, loaded on ``worker`` (default: the main one).

    ``worker`` owns the loaded models: every job that uses one is submitted to it, never to another worker.

    ``on_loaded(model, path)`` runs on the GUI thread when a model is ready;
    ``on_note(text)`` shows progress and problems ("" clears); ``prepare(model)``,
    if given, runs on the worker after loading (e.g. to load compiled kernels
    before the first Start, not during it).
    """

    def __init__(self, context, combo: QComboBox, kind: str | tuple[str, ...], on_loaded: Callable, on_note: Callable[[str], None],
                 device=None, prepare: Callable | None = None, worker=None) -> None:
        self.context, self.combo, self.kind, self.device, self.prepare = context, combo, kind, device, prepare
        self.worker = worker or context.worker
        self.on_loaded, self.on_note = on_loaded, on_note
        self.entries: list[tuple[str, Path]] = []
        self.path: Path | None = None  # of the model in use
        combo.activated.connect(self.load)

    def add_bundled(self, name: str, label: str, missing: str) -> None:
        """Offer ``assets/<name>.safetensors`` (loaded if it is the first entry); if unusable say so, ending with ``missing``.

        The entry reads "label (bundled)", or "NADE (raster, bundled)" when ``label`` ends in parentheses."""
        bundled = find_bundled(name)
        if not bundled.ok:
            self.on_note(f"The bundled {label} is unavailable: {bundled.problem} {missing}")
            return
        shown = f"{label[:-1]}, bundled)" if label.endswith(")") else f"{label} (bundled)"
        self._add(shown, bundled.path, load=not self.entries)

    def add_opened(self, path) -> None:
        """Offer a checkpoint opened from File (a run's checkpoint is named after its run) and load it."""
        path = Path(path)
        name = path.parent.parent.name if path.parent.name == "checkpoints" else path.stem
        self._add(f"{name} (opened)", path)

    def _add(self, label: str, path: Path, load: bool = True) -> None:
        self.entries.append((label, path))
        self.combo.addItem(label)
        if load:
            self.load(len(self.entries) - 1)

    def load(self, index: int) -> None:
        """Load entry ``index`` on the worker."""
        label, path = self.entries[index]
        kind, device, prepare = self.kind, self.device, self.prepare

        def load():
            model = load_model(path, expected_kind=kind, device=device or "cpu")
            if prepare is not None:
                prepare(model)
            return model

        self.on_note(f"Loading {label}…")
        self.worker.submit(lambda: once(load),
                                   name=f"Loading {label}", on_event=lambda e: self._loaded(path, e),
                                   on_error=lambda e: self._failed(e.text()))

    def _loaded(self, path: Path, event) -> None:
        if not isinstance(event, Done):
            return
        self.path = path
        self.combo.setCurrentIndex(self._index(path))
        self.on_loaded(event.result, path)
        self.on_note("")

    def _failed(self, text: str) -> None:
        self.on_note(text)
        if self.path is not None:
            self.combo.setCurrentIndex(self._index(self.path))

    def _index(self, path: Path) -> int:
        return [p for _, p in self.entries].index(path)
