"""Training monitor tab: train a model live, watch curves and samples, keep every run.

The run is an engine generator (``engine.training.runs.run_training``) on the main
worker; its events feed the curves (coalesced redraws), the samples view and
the progress/ETA line. Pause/Resume/Stop use the worker's cooperative
controls; a diverged step pauses the job at that event.
"""

from __future__ import annotations

import os
import time
import traceback
from datetime import datetime
from pathlib import Path

import platformdirs
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QListWidgetItem, QSplitter, QVBoxLayout, QWidget

from app.tabs.training.panel import TrainingPanel
from app.tabs.training.samples import SamplesView
from app.widgets import with_side_panel
from app.tabs.training.curves import CurvePanel
from app.worker import Job, JobError, JobState
from engine.errors import GenScopeError
from engine.events import Progress
from engine.training.data import DataSpec
from engine.training.folder import RunFolder, list_runs, sample_files
from engine.training.history import PLOTS, TRAIN_LOSS, run_curves, step_points, val_points
from engine.catalog import live_controls, run_model
from engine.training.settings import Controls, Diverged, RunFinished, RunStarted, SamplesReady, SettingChanged, TrainSettings
from engine.training.loop import EpochEnd, TrainStep

RUNS_ENV = "GENSCOPE_RUNS"


def default_runs_root() -> Path:
    """``$GENSCOPE_RUNS`` or the per-user runs folder (~/.local/share/GenScope/runs)."""
    env = os.environ.get(RUNS_ENV)
    return Path(env) if env else Path(platformdirs.user_data_dir("GenScope", appauthor=False)) / "runs"


class TrainingMonitorTab(QWidget):
    """Form and runs on the right; curves and samples on the left."""

    run_checkpoint = Signal(object)  # path of a run's checkpoint for "Use in explorer"

    def __init__(self, context, runs_root: Path | None = None) -> None:
        super().__init__()
        self.context = context
        self.runs_root = Path(runs_root) if runs_root else default_runs_root()
        self.job: Job | None = None
        self.controls: Controls | None = None
        self.run_dir: Path | None = None
        self.started_at = 0.0
        self._last_step = 0
        self._progress_shown = 0.0
        self.curve_names: dict[str, str] = {}  # metric -> curve name, from engine.catalog
        self.panel = TrainingPanel()
        self.curves = CurvePanel(list(PLOTS), columns=3, unsmoothed={"learning rate"}, zero_based={"learning rate"})
        self.samples = SamplesView(context.audio)
        self.status = QLabel()
        self.status.setWordWrap(True)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.curves)
        left.addWidget(self.samples)
        left.setSizes([480, 300])
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(left, 1)
        col.addWidget(self.status)
        QHBoxLayout(self).addWidget(with_side_panel(box, self.panel, 340))
        self._connect()
        self.panel.runs_root.setText(f"Runs folder: {self.runs_root}")
        self.refresh_runs()
        self._set_running(False)

    def _connect(self) -> None:
        p = self.panel
        # clicked(bool) would land in start's resume_dir: every button calls its action with no arguments
        for button, action in ((p.buttons["Start"], self.start), (p.buttons["Pause"], self.pause),
                               (p.buttons["Resume"], self.resume), (p.buttons["Stop"], self.stop),
                               (p.apply_lr, self.apply_lr), (p.apply_beta, self.apply_beta),
                               (p.refresh, self.refresh_runs), (p.overlay, self.overlay_selected),
                               (p.resume_run, self.resume_selected), (p.use_in_explorer, self.use_selected)):
            button.clicked.connect(lambda _checked=False, action=action: self._pressed(action))
        p.smoothing.valueChanged.connect(self._smoothing_changed)
        p.log_x.toggled.connect(self._log_changed)
        p.log_y.toggled.connect(self._log_changed)
        self.curves.set_smoothing(p.smoothing.value() / 100)

    def _pressed(self, action) -> None:
        """Run a button's ``action``; an unexpected failure is said in the tab, not only on stderr."""
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - a button must never fail silently
            traceback.print_exc()
            self.say(f"That did not work: {type(exc).__name__}: {exc}. Details are on the console.")

    # -------------------------------------------------------------- runs
    def start(self, resume_dir: Path | None = None) -> Job | None:
        """Start a new run from the form (or resume ``resume_dir``) on the worker."""
        if self.job is not None and not self.job.state.finished:
            self.say("A run is already going; stop it first.")
            return None
        try:
            if resume_dir is not None:  # kind, settings and data come from the run folder
                kind, hparams, settings, data = RunFolder(resume_dir).read_config()["kind"], None, None, None
            else:
                values = self.panel.settings()
                kind, hparams = values["kind"], values["hparams"]
                settings, data = self._new_run_inputs(values)
                if data is None:  # the folder dialog was cancelled
                    return None
        except GenScopeError as exc:
            self.say(str(exc))
            return None
        self.run_dir = Path(resume_dir or self.runs_root / f"{kind}-{datetime.now():%Y%m%d-%H%M%S}")
        self.controls = Controls()
        self.curves.reset()
        self.samples.set_files([])
        self._use_kind(kind)
        if resume_dir is not None:
            self._replay_metrics(self.run_dir)
        self.job = self._submit(dict(kind=kind, hparams=hparams, data=data, settings=settings,
                                     resume=resume_dir is not None))
        self.controls.on_diverged = self.job.pause
        self.started_at = time.monotonic()
        self._set_running(True)
        return self.job

    def _new_run_inputs(self, values: dict) -> tuple[TrainSettings, DataSpec | None]:
        """The form's settings over the model's defaults (engine.catalog), and its data set."""
        entry = run_model(values["kind"])
        form = {k: values[k] for k in ("epochs", "batch_size", "lr", "seed", "sample_every", "checkpoint_every",
                                       "threads")}
        settings = TrainSettings(**{**entry.settings, **form})
        return settings, self._data_spec(values["data"], values["limit"], entry.data.get("val_limit"))

    def _data_spec(self, name: str, limit: int | None, val_limit: int | None) -> DataSpec | None:
        """The chosen data set; "mnist-pick" asks for a folder holding mnist/, "text-pick" for a UTF-8 text file
        (None if cancelled)."""
        folder, path = str(self.context.data.path), None
        if name == "mnist-pick":
            folder = QFileDialog.getExistingDirectory(self, "Folder holding mnist/", folder)
            if not folder:
                return None
            name = "mnist"
        elif name == "text-pick":
            path, _ = QFileDialog.getOpenFileName(self, "Train on a UTF-8 text file", "",
                                                  "Text (*.txt);;All files (*)")
            if not path:
                return None
            name = "text"
        return DataSpec(name=name, folder=folder, limit=limit, val_limit=val_limit, path=path)

    def _use_kind(self, kind: str) -> None:
        """Curve names, live controls and the samples caption of a ``kind`` run."""
        entry = run_model(kind)
        self.curve_names = dict(entry.metrics) if entry else {}
        blank = TrainStep(0, 0, 0.0, dict.fromkeys(self.curve_names, 0.0), 0.0, 0.0, 0.0)
        self.curves.prepare(point[:2] for point in step_points(blank, self.curve_names))
        self.panel.allow_controls(live_controls(kind))
        if entry is not None:
            self.samples.set_caption(entry.caption)

    def _submit(self, run: dict) -> Job:
        """``run_training`` of ``self.run_dir`` with the ``run`` keyword arguments, on the worker."""
        from engine.training.runs import run_training

        run_dir, controls, device = self.run_dir, self.controls, str(self.context.device)
        return self.context.worker.submit(
            lambda: run_training(run_dir, **run, controls=controls, device=device),
            name=f"Training {run['kind']}", on_event=self._on_event, on_error=self._on_error,
            on_finished=self._on_finished, paced=True)

    def pause(self) -> None:
        if self.job is not None:
            self.job.pause()
            self.say("Paused: the run holds at its next step. Resume continues; the curves keep every point.")

    def resume(self) -> None:
        if self.job is not None:
            self.job.resume()
            self.say("Training.")

    def stop(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.say("Stopping: the run writes a last checkpoint, then ends.")

    def apply_lr(self) -> None:
        self._apply(lambda c: c.set_lr(self.panel.new_lr.value()))

    def apply_beta(self) -> None:
        self._apply(lambda c: c.set_beta(self.panel.new_beta.value()))

    def _apply(self, change) -> None:
        if self.controls is None or self.job is None or self.job.state.finished:
            self.say("Start a run first; changes apply to the running one.")
            return
        try:
            change(self.controls)
        except GenScopeError as exc:
            self.say(str(exc))

    # ------------------------------------------------------------ events
    def _on_event(self, event: object) -> None:
        if isinstance(event, TrainStep):
            self._add_step(event)
        elif isinstance(event, EpochEnd):
            for plot, series, value in val_points(event.val, self.curve_names):
                self.curves.add_point(plot, series, self._last_step, value)
        elif isinstance(event, Progress) and event.total:
            self._show_progress(event)
        elif isinstance(event, SamplesReady):
            self.samples.add(event)
        elif isinstance(event, SettingChanged):
            self._mark(event.step, event.name, event.value)
            self.say(f"{event.name} set to {event.value:g} from step {event.step + 1}.")
        elif isinstance(event, Diverged):
            self.say(f"Training diverged at step {event.step} (non-finite {event.what}); the weights of step "
                     f"{event.checkpoint_step} were restored and the run is paused. Lower the learning rate, "
                     "then Resume.")
        elif isinstance(event, RunStarted):
            self.run_dir = Path(event.path)
            self.curves.set_steps(event.total_steps)
            verb = "Resumed" if event.resumed else "Started"
            self.say(f"{verb} {self.run_dir.name} at step {event.step} of {event.total_steps}.")
        elif isinstance(event, RunFinished):
            self.say(f"Run {event.status} at step {event.step}.")

    def _add_step(self, e: TrainStep) -> None:
        self._last_step = e.step
        for plot, series, value in step_points(e, self.curve_names):
            self.curves.add_point(plot, series, e.step, value)

    def _mark(self, step: int, name: str, value: float) -> None:
        self.curves.mark(step, f"{name}→{value:g}")

    def _show_progress(self, p: Progress) -> None:
        now = time.monotonic()
        if p.done < p.total and now - self._progress_shown < 0.25:
            return  # a label repaint per step would cost the training thread more than it tells
        self._progress_shown = now
        self.panel.progress.setRange(0, p.total)
        self.panel.progress.setValue(p.done)
        elapsed = time.monotonic() - self.started_at
        eta = elapsed / max(p.done, 1) * (p.total - p.done) if p.done else 0.0
        self.panel.eta.setText(f"step {p.done} / {p.total} · {p.message} · ETA {eta / 60:.1f} min")

    def _on_error(self, error: JobError) -> None:
        self.say(error.text())

    def _on_finished(self, job: Job) -> None:
        self._set_running(False)
        if job.state is JobState.CANCELLED:
            self.say(f"Stopped; the run can be resumed from {self.run_dir}.")
        self.refresh_runs()

    def _set_running(self, running: bool) -> None:
        b = self.panel.buttons
        b["Start"].setEnabled(not running)
        for name in ("Pause", "Resume", "Stop"):
            b[name].setEnabled(running)

    # -------------------------------------------------------------- runs list
    def refresh_runs(self) -> None:
        self.panel.runs.clear()
        for run in list_runs(self.runs_root):
            loss = f"{run.loss:.2f}" if run.loss is not None else "—"
            item = QListWidgetItem(f"{run.name} · {run.kind} · {run.status} · step {run.step} · loss {loss}")
            item.setData(Qt.ItemDataRole.UserRole, str(run.path))
            self.panel.runs.addItem(item)

    def _selected(self) -> list[Path]:
        return [Path(i.data(Qt.ItemDataRole.UserRole)) for i in self.panel.runs.selectedItems()]

    def overlay_selected(self) -> None:
        for path in self._selected():
            loss = run_curves(path).curves.get(TRAIN_LOSS)
            if loss is not None:
                self.curves.add_overlay(TRAIN_LOSS[0], path.name, *loss)

    def _replay_metrics(self, path: Path) -> None:
        """A resumed run's curves so far (engine.training.history), then its samples."""
        history = run_curves(path, self.curve_names)
        for (plot, series), (steps, values) in history.curves.items():
            for step, value in zip(steps, values):
                self.curves.add_point(plot, series, step, value)
        for step, name, value in history.settings:
            self._mark(step, name, value)
        self._last_step = int(max((s[-1] for s, _ in history.curves.values()), default=0))
        self.samples.set_files(sample_files(path))

    def resume_selected(self) -> None:
        selected = self._selected()
        if len(selected) != 1:
            self.say("Select one run to resume.")
            return
        self.start(resume_dir=selected[0])

    def use_selected(self) -> None:
        selected = self._selected()
        ckpt = selected[0] / "checkpoints" / "last.safetensors" if len(selected) == 1 else None
        if ckpt is None or not ckpt.exists():
            self.say("Select one run that has a checkpoint.")
            return
        self.run_checkpoint.emit(ckpt)

    # -------------------------------------------------------------- misc
    def _smoothing_changed(self, value: int) -> None:
        self.curves.set_smoothing(value / 100)

    def _log_changed(self, _checked: bool) -> None:
        self.curves.set_log(self.panel.log_x.isChecked(), self.panel.log_y.isChecked())

    def say(self, text: str) -> None:
        self.status.setText(text)

    def shutdown(self) -> None:
        self.samples.clips.stop()
        if self.job is not None:
            self.job.cancel()
