"""Latent explorer tab: hover, click and drag in a model's 2-D latent space.

The interactive worker owns the latent models: it loads them and runs
every request on them, with latest-wins keys ("hover", "grid", "strip",
...), so a fast mouse never queues stale decodes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QSizePolicy, QVBoxLayout, QWidget

from app.tabs.latent.learned_prior import LearnedPrior
from app.tabs.latent.panel import LatentPanel
from app.widgets import with_side_panel
from app.widgets.ellipses import many_ellipses
from app.widgets.image_view import save_png
from app.tabs.latent.latent_map import LatentMapView
from app.worker import once
from engine.catalog import kinds_for
from engine.sampling import latent as lm
from engine.cards.bundled import ASSETS_DIR, find_bundled
from engine.data.points2d import LATENT_CODES
from engine.events import Done
from engine.models.latent_prior import MixturePrior, TiedPrior
from engine.sampling.mosaic import mosaic

NO_PRIOR = ("The autoencoder has no prior: nothing in its training shaped its codes into N(0, I), so sampling "
            "from N(0, I) is a guess, not the model's own distribution; compare where the samples (×) land with "
            "where the digits are.")
BUNDLED = [("VAE", "vae"), ("β-VAE (β=4)", "beta_vae"), ("Autoencoder", "autoencoder"), ("PPCA", "ppca")]


class LatentExplorerTab(QWidget):
    """The map on the left, the panel on the right."""

    def __init__(self, context) -> None:
        super().__init__()
        self.context = context
        self.interactive = context.interactive  # owns the latent models: loads them and decodes with them
        self.current: lm.LatentModel | None = None
        self.current_path: Path | None = None  # the current model's checkpoint (a prior belongs to it)
        self.entries: list[tuple[str, Path, str]] = []  # (label, checkpoint path, codes name)
        self.priors: list[TiedPrior] = []  # the fitted priors, each tied to its latent space
        self.strip_image: np.ndarray | None = None
        self.map = LatentMapView()
        self.panel = LatentPanel()
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.map, 1)
        col.addWidget(self.panel.note)
        below = QHBoxLayout()
        below.addWidget(self.panel.inspect, 1)
        below.addWidget(self.panel.learned, 1)
        # the window's minimum stays the inspector's: the learned-prior box takes only the room to spare
        self.panel.learned.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        col.addLayout(below)
        split = with_side_panel(left, self.panel, 360)
        QHBoxLayout(self).addWidget(split)
        self.grid_timer = QTimer(self, singleShot=True, interval=40)
        self.grid_timer.timeout.connect(self.request_grid)
        self.learned = LearnedPrior(self)
        self._connect()
        self._add_bundled()

    def _connect(self) -> None:
        p, m = self.panel, self.map
        p.model.activated.connect(self.load_entry)
        m.hovered.connect(self.request_decode)
        m.clicked.connect(self._on_click)
        m.pin_moved.connect(self._on_pin_moved)
        m.view.sigRangeChanged.connect(lambda *_: self._on_range_changed())
        p.show_points.toggled.connect(m.cloud.setVisible)
        p.show_ellipses.toggled.connect(m.ellipses.setVisible)
        p.show_prior.toggled.connect(lambda _: self.learned.update_contours())
        p.prior_choice.currentIndexChanged.connect(lambda _: self.learned.update_contours())
        p.show_density.toggled.connect(lambda _: self.update_density())
        p.show_grid.toggled.connect(lambda _: self.request_grid())
        p.grid_size.valueChanged.connect(lambda _: self.request_grid())
        p.interp_mode.currentIndexChanged.connect(lambda _: self.request_strip())
        p.interp_steps.valueChanged.connect(lambda _: self.request_strip())
        p.clear_pins.clicked.connect(self.clear_pins)
        p.export_strip.clicked.connect(self.export_strip)
        p.sample_button.clicked.connect(self.sample_prior)
        p.pad.drawn.connect(self.inspect_image)
        m.ellipses.setVisible(False)

    # ------------------------------------------------------------- models
    def _add_bundled(self) -> None:
        problems = []
        for label, name in BUNDLED:
            bundled = find_bundled(name)
            if bundled.ok:
                self.entries.append((label, bundled.path, name))
                self.panel.model.addItem(label)
            else:
                problems.append(f"{label} is unavailable: {bundled.problem}")
        self.set_note(" ".join(problems))
        if self.entries:
            self.load_entry(0)
        else:
            self.set_note("No bundled latent models found; open a 2-D VAE checkpoint with File › Open checkpoint.")

    def accepts_checkpoint(self, config: dict) -> bool:
        return config.get("kind") in kinds_for("latent")

    def open_checkpoint(self, path, config: dict) -> None:
        path = Path(path)
        if not self.accepts_checkpoint(config):  # e.g. a PixelCNN: no latent space to map
            self.set_note(f"{path.name} holds a '{config.get('kind', '?')}' model, which has no latent space; the "
                          f"latent explorer maps {', '.join(kinds_for('latent'))} models (the current model stays).")
            return
        # A training run's checkpoint is runs/<run>/checkpoints/last.safetensors: name it after the run.
        name = path.parent.parent.name if path.parent.name == "checkpoints" else path.stem
        label = f"{name} (opened)"
        self.entries.append((label, path, name))
        self.panel.model.addItem(label)
        self.load_entry(len(self.entries) - 1)

    def load_entry(self, index: int) -> None:
        """Load model ``index`` on the worker; the current one stays until it is ready."""
        label, path, name = self.entries[index]
        data = self.context.data.path if self.context.data.exists else None
        codes = ASSETS_DIR / LATENT_CODES
        self.set_note(f"Loading {label}…")
        self.interactive.submit(lambda: once(lambda: lm.open_latent_model(path, name, codes, data)),
                                name=f"Loading {label}", key="load", cancel_running=True, on_event=self._model_loaded,
                                on_error=lambda e: self._load_failed(e.text()))

    def _load_failed(self, text: str) -> None:
        self.set_note(text)
        if self.current is not None:
            self.panel.model.setCurrentIndex([e[2] for e in self.entries].index(self.current.name))

    def _model_loaded(self, event) -> None:
        if not isinstance(event, Done):
            return
        self.current = event.result
        index = [e[2] for e in self.entries].index(self.current.name)
        self.current_path = self.entries[index][1]
        self.panel.model.setCurrentIndex(index)
        if self.current.codes is not None:
            self.map.set_codes(self.current.codes, self.current.labels, self.current.logvar)
        else:
            self.map.set_codes(np.zeros((0, 2), np.float32), None)
        self.map.inspected.setData([], [])
        self.map.samples.setData([], [])
        self.panel.samples_view.set_image(None)  # another model's prior samples
        self.set_note(self.current.note)
        self._refresh_priors()
        self.learned.model_changed()
        self.update_density()
        self.request_grid()
        self.request_strip()
        self._refresh_thumbs()

    # --------------------------------------------------------- decoding
    def _submit(self, key: str, fn, on_done, name: str = "decode") -> None:
        if self.current is None:
            return
        self.interactive.submit(lambda: once(fn), name=name, key=key, brief=True,
                                on_event=lambda e: on_done(e.result), on_error=lambda e: self.set_note(e.text()))

    def request_decode(self, x: float, y: float) -> None:
        model = self.current.model if self.current else None
        self._submit("hover", lambda: lm.decode_point(model, (x, y)), self._show_decode)
        self.panel.cursor_label.setText(f"z = ({x:+.2f}, {y:+.2f})\n{self.learned.density_text(x, y)}")

    def _show_decode(self, image: np.ndarray) -> None:
        self.panel.decoded.set_image(image)

    def _on_range_changed(self) -> None:
        if self.panel.show_grid.isChecked():
            self.grid_timer.start()
        if self.panel.show_density.isChecked():
            self.update_density()

    def request_grid(self) -> None:
        if not self.panel.show_grid.isChecked() or self.current is None:
            self.map.show_grid(None)
            return
        xr, yr = self.map.visible_range()
        n, model = self.panel.grid_size.value(), self.current.model
        self._submit("grid", lambda: lm.decode_grid(model, xr, yr, n), lambda img: self.map.show_grid(img, xr, yr))

    def update_density(self) -> None:
        if not self.panel.show_density.isChecked() or self.current is None or self.current.codes is None:
            self.map.show_density(None)
            return
        xr, yr = self.map.visible_range()
        self.map.show_density(lm.data_density(self.current.codes, xr, yr, 220, bandwidth=2.5), xr, yr)

    # -------------------------------------------------------------- pins
    def _on_click(self, x: float, y: float, modifiers) -> None:
        if modifiers & Qt.KeyboardModifier.ControlModifier:
            self.inspect_nearest(x, y)
            return
        if self.map.add_pin(x, y) is None:
            self.set_note("Eight pins at most; Clear to start again.")
            return
        self._refresh_thumbs()
        self.request_strip()

    def _on_pin_moved(self, i: int, x: float, y: float) -> None:
        model = self.current.model if self.current else None
        self._submit(f"pin{i}", lambda: lm.decode_point(model, (x, y)), self.panel.thumbs[i].set_image)
        self.request_strip()

    def _refresh_thumbs(self) -> None:
        positions = self.map.pin_positions()
        for i, thumb in enumerate(self.panel.thumbs):
            thumb.setVisible(i < len(positions))
            if i < len(positions):
                self._on_pin_moved(i, *positions[i])

    def clear_pins(self) -> None:
        self.map.clear_pins()
        self._refresh_thumbs()
        self.strip_image = None
        self.panel.strip.set_image(None)

    def request_strip(self) -> None:
        positions = self.map.pin_positions()
        if len(positions) < 2 or self.current is None:
            self.map.path.setData([], [])
            return
        path = lm.interpolate(positions[-2], positions[-1], self.panel.interp_steps.value(),
                              self.panel.interp_mode.currentText())
        self.map.path.setData(path[:, 0], path[:, 1])
        model = self.current.model
        self._submit("strip", lambda: lm.decode_path(model, path), self._show_strip)

    def _show_strip(self, strip: np.ndarray) -> None:
        self.strip_image = strip
        self.panel.strip.set_image(strip)

    def export_strip(self) -> None:
        if self.strip_image is None:
            self.set_note("Pin two points first: the strip interpolates between the last two pins.")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Export strip", "interpolation.png", "PNG images (*.png)")
        if path:
            try:
                save_png(self.strip_image, path)
                self.set_note(f"Saved {path}")
            except OSError as exc:
                self.set_note(f"Could not save the strip: {exc}")

    # ---------------------------------------------------------- sampling
    def set_mixture_prior(self, prior) -> None:
        """A mixture fitted on a model's codes (the GMM fitter's LatentPrior: gmm, checkpoint, dim, space) becomes
        a prior choice of that model only."""
        label = f"Mixture, K = {prior.gmm.n_components}"
        self.add_prior(TiedPrior(MixturePrior(prior.gmm), prior.checkpoint, prior.dim, prior.space, label),
                       "fitted on the latent codes")

    def add_prior(self, tied: TiedPrior, how: str) -> None:
        """A prior tied to a latent space joins the prior list of that model (and is chosen when it is current)."""
        self.priors = [p for p in self.priors if (p.label, p.checkpoint) != (tied.label, tied.checkpoint)] + [tied]
        if not self._prior_applies(tied):
            self.set_note(f"{tied.label} was fitted in the latent space of {tied.space}; it is a prior there only. "
                          f"Switch the model to it to sample from it.")
            return
        self._refresh_priors()
        self.panel.prior_choice.setCurrentText(tied.label)
        self.set_note(f"{tied.label} is now a prior ({how}): press Sample to compare it with N(0, I).")

    def chosen_prior(self) -> TiedPrior | None:
        """The chosen prior when it is a fitted one of the current model's latent space, else None (N(0, I))."""
        return self._applicable().get(self.panel.prior_choice.currentText())

    def _applicable(self) -> dict[str, TiedPrior]:
        """The fitted priors of the current model's latent space, by label."""
        return {p.label: p for p in self.priors if self._prior_applies(p)}

    def _prior_applies(self, prior: TiedPrior) -> bool:
        """A prior belongs to the latent space it was fitted in: the same checkpoint and latent dimension."""
        if self.current is None:
            return False
        dim = self.current.codes.shape[1] if self.current.codes is not None else 2
        return prior.applies_to(self.current_path, dim)

    def _refresh_priors(self) -> None:
        """The prior list of the current model: N(0, I) and the priors fitted in its latent space; a fitted prior
        that was chosen and does not belong here is dropped with a note."""
        box = self.panel.prior_choice
        chosen = box.currentText()
        box.blockSignals(True)  # one contour update below, not one per item
        box.clear()
        box.addItem("N(0, I)")
        box.addItems(list(self._applicable()))
        box.blockSignals(False)
        if box.findText(chosen) >= 0:
            box.setCurrentText(chosen)
        elif chosen != "N(0, I)":
            space = next((p.space for p in self.priors if p.label == chosen), "another model")
            self.set_note(f"The prior is back to N(0, I): {chosen} was fitted in the latent space of {space}, "
                          f"not of this model (switch back to use it).")
        self.learned.update_contours()
        kind = (getattr(self.current.model, "checkpoint_config", None) or {}).get("kind") if self.current else None
        self.panel.prior_note.setText(NO_PRIOR if kind == "autoencoder" else "")
        self.panel.prior_note.setVisible(kind == "autoencoder")

    def sample_prior(self) -> None:
        if self.current is None:
            return
        n, seed = self.panel.n_samples.value(), int(np.random.default_rng().integers(2**31))
        tied = self.chosen_prior()
        prior = tied.prior if tied is not None else None
        model = self.current.model
        self._submit("sample", lambda: lm.sample_prior(model, n, seed, prior), self._show_samples, "sampling")

    def _show_samples(self, result) -> None:
        z, images = result
        self.map.samples.setData(z[:, 0], z[:, 1])
        self.panel.samples_view.set_image(mosaic(np.asarray(images, np.float32)))

    # ---------------------------------------------------------- inspect
    def inspect_nearest(self, x: float, y: float) -> None:
        cur = self.current
        if cur is None or cur.codes is None or cur.images is None:
            self.set_note("Inspecting a test digit needs MNIST in the data folder; draw a digit on the pad instead.")
            return
        i = int(np.argmin(((cur.codes - (x, y)) ** 2).sum(1)))
        self.inspect_image(cur.images[i].astype(np.float32) / 255.0)

    def inspect_image(self, image: np.ndarray) -> None:
        if self.current is None:
            return
        if float(np.asarray(image).sum()) < 1.0:
            self.set_note("The pad is empty: draw a digit with the mouse (right-click clears).")
            return
        model, k = self.current.model, self.panel.k.value()
        self._submit("inspect", lambda: lm.inspect_digit(model, image, k), self._show_report, "Inspecting digit")

    def _show_report(self, r: lm.DigitReport) -> None:
        self.panel.input_view.set_image(r.image)
        self.panel.recon_view.set_image(r.recon)
        cov = np.diag(r.var) if r.var is not None else np.eye(2) * 1e-4
        rings = np.concatenate([many_ellipses(r.mu[None], cov[None], s) for s in (1, 2)])
        self.map.inspected.setData(rings[:, 0], rings[:, 1])
        lines = [f"z = ({r.mu[0]:+.2f}, {r.mu[1]:+.2f})"]
        if r.elbo is not None:
            lines.append(f"ELBO {r.elbo:.1f} = reconstruction {r.recon_ll:.1f} − KL {r.kl:.1f} nats")
        elif r.recon_ll is not None:
            lines.append(f"log p(x|z) = {r.recon_ll:.1f} nats")
        if r.log_px is not None:
            which = f"importance-sampled, k = {r.k}" if r.elbo is not None else "exact"
            lines.append(f"log p(x) ≈ {r.log_px:.1f} nats ({which})")
        if r.elbo is not None and r.log_px is not None:
            lines.append(f"gap log p(x) − ELBO = {r.log_px - r.elbo:.2f} nats")
        self.panel.report.setText("\n".join(lines))
        self.set_note(r.note)

    def set_note(self, text: str) -> None:
        self.panel.note.setText(text)
