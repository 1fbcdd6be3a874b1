"""The latent explorer's learned prior: fit a MAF on the model's codes, use it as the prior (its contours on the
map, samples from it), and the table of the test ELBO and log p(x) under N(0, I), a mixture and the flow.

Every fit, density raster and table runs on the main worker (``context.worker``) with its own copy of the
model loaded from the checkpoint; a result is tied to the checkpoint it was computed for, so a model switch
while a job runs leaves nothing stale: the result waits for that model, or is dropped.
"""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg

from app.worker import once

from engine.catalog import load_model
from engine.events import Done, Progress
from engine.evaluation.latent_prior import learned_prior_study
from engine.models.latent_prior import density_raster, mass_levels
from engine.training.latent_prior import tied_flow_prior

TABLE_DIGITS, TABLE_K = 1000, 100  # the table in the app: 1,000 evenly spaced test digits, k = 100 draws each
RASTER = 160


def contour_lines(density: np.ndarray, levels, x_range, y_range) -> np.ndarray:
    """Contours of a raster (S, S) (x index first, cell centres over the rectangle) at ``levels``, as one
    (M, 2) array of points in data coordinates with NaN rows between separate lines."""
    size = density.shape[0]
    dx, dy = (x_range[1] - x_range[0]) / size, (y_range[1] - y_range[0]) / size
    parts = []
    for level in levels:
        for line in pg.functions.isocurve(density, level, connected=True, extendToEdge=True):
            xy = np.asarray(line, np.float64)
            # isocurve puts a cell's value at index + 0.5: map that back onto the cell centres
            parts.append(np.stack([x_range[0] + xy[:, 0] * dx, y_range[0] + xy[:, 1] * dy], 1))
            parts.append(np.full((1, 2), np.nan))
    return np.concatenate(parts) if parts else np.zeros((0, 2))


class LearnedPrior:
    """Drives the panel's "Learned prior" box and the prior contours of the latent map (tab = the explorer)."""

    def __init__(self, tab) -> None:
        self.tab, self.panel, self.map = tab, tab.panel, tab.map
        self.fitted = None  # the last TiedPrior fitted here (any model's)
        self.tables: dict[str, str] = {}  # rich-text table per checkpoint
        self.raster = None  # (density (S, S), x_range, y_range, label) of the prior whose contours are drawn
        self.panel.fit_flow.clicked.connect(self.fit)
        self.panel.use_flow.clicked.connect(self.use)
        self.panel.table_button.clicked.connect(self.table)

    def _key(self) -> str:
        return str(self.tab.current_path.resolve()) if self.tab.current_path is not None else ""

    def _codes_ranges(self):
        codes = self.tab.current.codes if self.tab.current is not None else None
        if codes is None or not len(codes):
            return (-4.0, 4.0), (-4.0, 4.0)
        lo, hi = codes.min(0) - 2.0, codes.max(0) + 2.0
        return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))

    # ------------------------------------------------------------------ fit
    def fit(self) -> None:
        tab = self.tab
        if tab.current is None or getattr(tab.current.model, "kind", "") != "vae":
            self.panel.flow_status.setText("A flow prior replaces a VAE's N(0, I): choose a VAE first.")
            return
        path, codes = tab.current_path, tab.current.codes
        root = tab.context.data.path if tab.context.data.exists else None
        label = tab.panel.model.currentText()
        self.panel.fit_flow.setEnabled(False)
        self.panel.flow_status.setText(f"Fitting a MAF to the codes of {label}…")
        tab.context.worker.submit(lambda: tied_flow_prior(path, root, codes, label), name="Fitting a flow prior",
                                  key="latent-flow", cancel_running=True, on_event=self._fit_event,
                                  on_error=lambda e: self._failed(e.text()))

    def _failed(self, text: str) -> None:
        self.panel.fit_flow.setEnabled(True)
        self.panel.table_button.setEnabled(True)
        self.panel.flow_status.setText(text)

    def _fit_event(self, event) -> None:
        if isinstance(event, Progress):
            self.panel.flow_status.setText(event.message)
        elif isinstance(event, Done):
            self.fitted = event.result
            self.panel.fit_flow.setEnabled(True)
            self.model_changed()

    def use(self) -> None:
        if self.fitted is not None:
            self.tab.add_prior(self.fitted, self.fitted.note)
            self.panel.show_prior.setChecked(True)
            self.update_contours()

    # ---------------------------------------------------------------- table
    def table(self) -> None:
        tab = self.tab
        if tab.current is None or getattr(tab.current.model, "kind", "") != "vae":
            self.panel.table.setText("The prior table compares priors of a VAE: choose a VAE first.")
            return
        if not tab.context.data.exists:
            self.panel.table.setText("The prior table needs the binarized MNIST in the data folder "
                                     "(File › Download data sets).")
            return
        path, root, key = tab.current_path, tab.context.data.path, self._key()
        flow = self.fitted.prior if self.fitted is not None and tab._prior_applies(self.fitted) else None
        self.panel.table_button.setEnabled(False)

        def job():
            return learned_prior_study(load_model(path, expected_kind="vae"), root, k=TABLE_K, limit=TABLE_DIGITS,
                                       flow=flow)

        tab.context.worker.submit(job, name="Prior table", key="latent-prior-table", cancel_running=True,
                                  on_event=lambda e: self._table_event(key, e), on_error=lambda e: self._failed(e.text()))

    def _table_event(self, key: str, event) -> None:
        if isinstance(event, Progress):
            self.panel.flow_status.setText(f"Prior table: {event.message}")
        elif isinstance(event, Done):
            self.tables[key] = table_html(event.result)
            self.panel.table_button.setEnabled(True)
            self.model_changed()

    # -------------------------------------------------------------- the map
    def model_changed(self) -> None:
        """Show only what belongs to the current model: its fitted flow, its table, its prior's contours."""
        fitted = self.fitted if self.fitted is not None and self.tab._prior_applies(self.fitted) else None
        self.panel.use_flow.setEnabled(fitted is not None)
        if fitted is not None:
            self.panel.flow_status.setText(f"{fitted.label}, {fitted.note}.")
        elif self.panel.fit_flow.isEnabled():
            self.panel.flow_status.setText("No flow fitted for this model.")
        self.panel.table.setText(self.tables.get(self._key(), ""))
        self.update_contours()

    def update_contours(self) -> None:
        """The chosen prior's contours at 39 %, 86 % and 99 % of its mass (N(0, I): its 1, 2, 3 sigma circles)."""
        if not self.panel.show_prior.isChecked():
            self.map.show_prior_rings(False)
            return
        tied = self.tab.chosen_prior()
        if tied is None:
            self.raster = None
            self.map.show_prior_rings(True)
            return
        x_range, y_range = self._codes_ranges()
        prior = tied.prior
        self.tab.context.worker.submit(
            lambda: once(lambda: density_raster(prior, x_range, y_range, RASTER)), name="Prior contours",
            key="latent-contours", brief=True, on_event=lambda e: self._show_contours(tied, e.result, x_range, y_range),
            on_error=lambda e: self.tab.set_note(e.text()))

    def _show_contours(self, tied, density: np.ndarray, x_range, y_range) -> None:
        if self.tab.chosen_prior() is not tied or not self.panel.show_prior.isChecked():
            return  # the choice changed while the raster was computed
        cell = (x_range[1] - x_range[0]) * (y_range[1] - y_range[0]) / density.size
        self.raster = (density, x_range, y_range)
        self.map.show_prior_rings(True, contour_lines(density, mass_levels(density, cell), x_range, y_range))

    def density_text(self, x: float, y: float) -> str:
        """The chosen prior's density at (x, y) for the cursor label (a learned one read off its raster)."""
        if self.tab.chosen_prior() is None or self.raster is None:
            return f"prior density {np.exp(-(x * x + y * y) / 2) / (2 * np.pi):.3g}"
        density, (x0, x1), (y0, y1) = self.raster
        i, j = int((x - x0) / (x1 - x0) * len(density)), int((y - y0) / (y1 - y0) * len(density))
        inside = 0 <= i < len(density) and 0 <= j < len(density)
        return f"prior density {density[i, j]:.3g}" if inside else "prior density ≈ 0"


def table_html(table) -> str:
    """A PriorTable as a small rich-text table with its caption (what was scored, with how many draws): ELBO,
    log p(x) and the prior gap KL(q(z) || p) per prior."""
    kls = table.prior_kl or (float("nan"),) * len(table.labels)
    rows = "".join(f"<tr><td style='white-space:nowrap'>{html.escape(label)}</td><td align='right'>{elbo:.2f}</td>"
                   f"<td align='right'>{log_px:.2f}</td><td align='right'>{kl:.3f}</td></tr>"
                   for label, elbo, log_px, kl in zip(table.labels, table.elbo, table.log_px, kls))
    return (f"<table cellspacing='0' cellpadding='2'><tr><th align='left'>prior</th><th>ELBO</th>"
            f"<th>log p(x)</th><th>prior gap</th></tr>{rows}</table><small>nats per digit; {table.images:,} evenly "
            f"spaced test digits, k = {table.k}. Prior gap: KL(q(z) ‖ p), the ELBO a prior can still gain (0 for "
            "these digits' own aggregate posterior q(z))</small>")
