"""Ordering studio: choose or draw an ordering, score the binary MNIST models each under an ordering.

The ordering (raster, column, snake, spiral, random from a seed, drawn: the
pixels in the order the mouse visits them, the rest in raster order, or from
a file) is shown as a step map. Evaluate runs one engine generator
(:func:`engine.evaluation.ordering_study.study`) on the main worker, which
loads and owns the models and the test rows: the bundled NADE and MADE and
the order-agnostic MADE in their own orderings, the order-agnostic MADE
under the chosen ordering, every checkpoint opened from File, then the
order-agnostic MADE's ensemble-of-masks curve. Its events fill the table,
the per-pixel NLL maps (one colour scale for all) and the curve.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QFormLayout, QGroupBox, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from app.tabs.orderings.views import PixelMap, lut_colours, scrolled
from app.widgets import spin_box, with_side_panel
from app.worker import Job
from engine.cards.bundled import find_bundled
from engine.catalog import load_model
from engine.data.mnist import load_binarized_mnist
from engine.evaluation.lens import subset
from engine.errors import GenScopeError
from engine.evaluation.ordering_study import Contender, EnsembleCurve, Scored, read_ordering, study, visit_ordering
from engine.events import Done, Progress
from engine.models.orderings import ORDERINGS, make_ordering, step_map

SIDE, SIZE = 28, 784
BUNDLED = (("nade", "NADE"), ("made", "MADE"), ("made_orderless", "MADE-OA"))
DRAWN, FROM_FILE = "drawn", "from file"


class StudioPage(QWidget):
    """Step map, table, per-pixel maps and the ensemble curve on the left; the ordering and Evaluate on the right."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.opened: list[tuple[str, Path]] = []
        self.results: list[Scored] = []
        self.curve_data: EnsembleCurve | None = None
        self.job: Job | None = None
        self._owned: dict = {}  # models by path and the test rows: touched only on the main worker, their owner
        self._build_controls()
        self._build_views()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(with_side_panel(scrolled(self.main), self.panel, 300))
        self.redraw_order()

    # ------------------------------------------------------------------ layout
    def _build_controls(self) -> None:
        self.ordering = QComboBox()
        self.ordering.addItems([*ORDERINGS, DRAWN])
        self.ordering.setCurrentText("spiral")
        self.ordering.setToolTip("The ordering the order-agnostic MADE is scored under")
        self.ordering.activated.connect(lambda _: self.redraw_order())
        self.seed = spin_box(0, 99999, 0, tip="Seed of the random ordering")
        self.seed.valueChanged.connect(lambda _: self.redraw_order())
        self.clear = QPushButton("Clear drawing")
        self.clear.clicked.connect(self._clear_drawing)
        self.load = QPushButton("Load ordering…")
        self.load.setToolTip("A permutation of 0..783 from a .npy file or a text file of numbers")
        self.load.clicked.connect(self._load_dialog)
        self.file_order, self.file_name = None, ""
        self.images = spin_box(1, 10000, 1000, tip="How many test images (evenly spaced over the 10,000)")
        self.evaluate = QPushButton("Evaluate")
        self.evaluate.setToolTip("Score every model on the test images, on the main worker")
        self.evaluate.clicked.connect(self.start)
        self.note = QLabel("Choose or draw an ordering, then press Evaluate.")
        self.note.setWordWrap(True)
        order_box, eval_box = QGroupBox("Ordering"), QGroupBox("Test NLL")
        form = QFormLayout(order_box)
        form.addRow("Ordering:", self.ordering)
        form.addRow("Seed:", self.seed)
        form.addRow(self.clear)
        form.addRow(self.load)
        hint = QLabel("With 'drawn', drag over the step map: the pixels in the order you visit them, "
                      "then the rest in raster order.")
        hint.setWordWrap(True)
        form.addRow(hint)
        form2 = QFormLayout(eval_box)
        form2.addRow("Test images:", self.images)
        form2.addRow(self.evaluate)
        self.panel = QWidget()
        column = QVBoxLayout(self.panel)
        for widget in (order_box, eval_box, self.note):
            column.addWidget(widget)
        column.addStretch(1)

    def _build_views(self) -> None:
        self.step_view = PixelMap(SIDE, SIDE, 7, "The ordering: the step at which each pixel is generated")
        self.step_view.visited_changed.connect(self.redraw_order)
        self.order_caption = QLabel()
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Model", "Ordering", "Test NLL (nats)"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.heat_row = QHBoxLayout()
        self.heat_row.addStretch(1)
        self.heat_views: list[PixelMap] = []
        self.heat_scale = QLabel()
        self.curve = pg.PlotWidget(background="w")
        self.curve.setMinimumHeight(130)
        self.curve.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)  # takes the room left
        self.curve.setLabel("bottom", "masks in the ensemble")
        self.curve.setLabel("left", "test NLL (nats)")
        self.curve.setLogMode(x=True, y=False)
        self.curve.setMouseEnabled(False, False)
        self.curve_line = self.curve.plot([], [], pen=pg.mkPen("#1f77b4", width=2), symbol="o", symbolSize=7)
        self.curve_title = QLabel("Ensemble-of-masks gain of the order-agnostic MADE")
        for label in (self.heat_scale, self.curve_title):
            label.setWordWrap(True)
        top = QHBoxLayout()
        left = QVBoxLayout()
        left.addWidget(self.step_view)
        left.addWidget(self.order_caption)
        left.addStretch(1)
        top.addLayout(left)
        top.addWidget(self.table, 1)
        self.main = QWidget()
        column = QVBoxLayout(self.main)
        column.addLayout(top)
        column.addWidget(QLabel("Per-pixel NLL, mean over the test images (each under its ordering):"))
        column.addLayout(self.heat_row)
        column.addWidget(self.heat_scale)
        column.addWidget(self.curve_title)
        column.addWidget(self.curve, 1)

    # ------------------------------------------------------------------ the ordering
    def order(self):
        """The chosen or drawn ordering (784,) and a few words naming it."""
        name = self.ordering.currentText()
        if name == DRAWN:
            visited = self.step_view.visited
            return visit_ordering(visited, SIZE), f"drawn ({len(visited)} pixels, then raster)"
        if name == FROM_FILE:
            return self.file_order, f"from {self.file_name}"
        order = make_ordering(name, SIDE, SIDE, self.seed.value())
        return order, f"random (seed {self.seed.value()})" if name == "random" else name

    def redraw_order(self) -> None:
        drawn = self.ordering.currentText() == DRAWN
        self.step_view.drawable = drawn
        self.seed.setEnabled(self.ordering.currentText() == "random")
        self.clear.setEnabled(drawn)
        order, label = self.order()
        self.step_view.set_rgb(lut_colours(step_map(order, SIDE, SIDE), SIZE - 1, "viridis"))
        self.order_caption.setText(f"{label}\ndark: early, bright: late")
        if self.results:
            self.note.setText("The ordering changed since the table was made: press Evaluate to score it.")

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load an ordering", "",
                                              "Orderings (*.npy *.txt *.csv);;All files (*)")
        if path:
            self.load_ordering(Path(path))

    def load_ordering(self, path: Path) -> None:
        """Use the ordering in file ``path``; one sentence in the note, the ordering unchanged, if it is not one."""
        try:
            self.file_order = read_ordering(path, SIZE)
        except GenScopeError as exc:
            self.note.setText(str(exc))
            return
        self.file_name = path.name
        if self.ordering.findText(FROM_FILE) < 0:
            self.ordering.addItem(FROM_FILE)
        self.ordering.setCurrentText(FROM_FILE)
        self.redraw_order()
        self.note.setText(f"Ordering loaded from {path.name}: press Evaluate to score it.")

    def _clear_drawing(self) -> None:
        self.step_view.visited.clear()
        self.redraw_order()

    # ------------------------------------------------------------------ checkpoints from File
    def accepts_checkpoint(self, config: dict) -> bool:
        hp = config.get("hparams", {})
        square = hp.get("height", SIDE) == SIDE and hp.get("width", SIDE) == SIDE
        return config.get("kind") in ("nade", "made") and square

    def open_checkpoint(self, path, config: dict) -> None:
        path = Path(path)
        name = path.parent.parent.name if path.parent.name == "checkpoints" else path.stem
        if path not in [p for _, p in self.opened]:
            self.opened.append((f"{name} (opened)", path))
        self.note.setText(f"{name} will be scored too: press Evaluate.")

    # ------------------------------------------------------------------ evaluation
    def plan(self):
        """What Evaluate scores: [(name, path, ordering label, order)] (label and order None: its own ordering),
        the ensemble's (name, path), and notes on bundled models that are missing."""
        order, label = self.order()
        entries, notes, paths = [], [], {}
        for key, name in BUNDLED:
            bundled = find_bundled(key)
            if bundled.ok:
                paths[key] = bundled.path
                entries.append((name, bundled.path, None, None))
            else:
                notes.append(bundled.problem)
        if "made_orderless" in paths:
            entries.append(("MADE-OA", paths["made_orderless"], label, order))
        entries += [(name, path, None, None) for name, path in self.opened]
        ensemble = ("MADE-OA", paths["made_orderless"]) if "made_orderless" in paths else None
        return entries, ensemble, notes

    def start(self) -> None:
        """Score the plan on the main worker (a newer Evaluate replaces a running one)."""
        entries, ensemble, notes = self.plan()
        root, n, owned = self.context.data.path, self.images.value(), self._owned

        def model(path):
            key = (path, path.stat().st_mtime_ns)  # a checkpoint rewritten since (a run's) is loaded again
            if key not in owned:
                owned[key] = load_model(path, expected_kind=("nade", "made"))
            return owned[key]

        def contender(name, path, label, order):
            m = model(path)
            return Contender(name, m, label or f"{getattr(m, 'ordering', 'raster')} (its own)", order)

        def run():
            yield Progress(0, None, "loading the test images and models")
            if ("rows", root) not in owned:  # the test split of this data folder, read once
                owned["rows", root] = load_binarized_mnist(root, "test")
            test = owned["rows", root]
            rows = test[subset(len(test), n)]
            contenders = [contender(*entry) for entry in entries]
            oa = None if ensemble is None else contender(*ensemble, None, None)
            yield from study(contenders, rows, oa)

        self._reset(" ".join(notes))
        self.job = self.context.worker.submit(run, name="Scoring orderings", key="orderings-study", cancel_running=True,
                                              on_event=self._on_event, on_error=lambda e: self.note.setText(e.text()))

    def _reset(self, note: str) -> None:
        self.results, self.curve_data = [], None
        self.table.setRowCount(0)
        for view in self.heat_views:
            self.heat_row.removeWidget(view.parentWidget())
            view.parentWidget().deleteLater()
        self.heat_views = []
        self.heat_scale.setText("")
        self.curve_line.setData([], [])
        self.note.setText(note or "Scoring…")

    def _on_event(self, event) -> None:
        if isinstance(event, Scored):
            self._add_result(event)
        elif isinstance(event, EnsembleCurve):
            self._draw_curve(event)
        elif isinstance(event, Done):
            count = event.result[0].images if event.result else 0
            self.note.setText(f"Exact test NLL in nats per image on {count} images of the static binarized MNIST "
                              "test split; lower is better.")

    def _add_result(self, scored: Scored) -> None:
        self.results.append(scored)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for col, text in enumerate((scored.name, scored.ordering, f"{scored.nll:.2f}")):
            self.table.setItem(row, col, QTableWidgetItem(text))
        box = QWidget()
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        title = QLabel(f"{row + 1}. {scored.name}")
        title.setToolTip(f"{scored.name} under {scored.ordering}: {scored.nll:.2f} nats")
        view = PixelMap(SIDE, SIDE, 4, title.toolTip())
        column.addWidget(title)
        column.addWidget(view)
        self.heat_row.insertWidget(len(self.heat_views), box)
        self.heat_views.append(view)
        top = max(float(r.heatmap.max()) for r in self.results)
        for result, heat in zip(self.results, self.heat_views):
            heat.set_rgb(lut_colours(result.heatmap, top))
        self.heat_scale.setText(f"Colour: 0 (black) to {top:.2f} nats (yellow) per pixel, the same scale for all.")

    def _draw_curve(self, curve: EnsembleCurve) -> None:
        self.curve_data = curve
        self.curve_line.setData(np.asarray(curve.counts, float), np.asarray(curve.nlls))
        # Ticks at the counts themselves (1, 2, 4, ...), not pyqtgraph's "2·10¹" on a log axis.
        self.curve.getAxis("bottom").setTicks([[(float(np.log10(c)), str(c)) for c in curve.counts]])
        gain = curve.nlls[0] - curve.nlls[-1]
        self.curve_title.setText(f"Ensemble-of-masks gain of the order-agnostic MADE: {curve.nlls[0]:.2f} nats with "
                                 f"1 mask, {curve.nlls[-1]:.2f} with {curve.counts[-1]} ({gain:+.2f} nats better)")

    def shutdown(self) -> None:
        if self.job is not None:
            self.job.cancel()
