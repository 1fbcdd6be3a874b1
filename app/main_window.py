"""The GenScope main window: tabs, menus, status bar, settings, shutdown."""

from __future__ import annotations

import argparse
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import PySide6
import torch
from PySide6.QtCore import QByteArray, QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTabWidget,
)

import engine
from app.audio import AudioStatus, probe_audio
from app.gui_gc import collect_on_gui_thread
from app.tabs import TABS
from app.download_menu import fill_download_menu
from app.worker import EngineWorker, Job, JobError, JobState
from engine.cards.bundled import bundled_models
from engine.catalog import read_checked_config
from engine.data.folder import DataFolder, resolve_data_folder
from engine.data.registry import DATASETS
from engine.device import DeviceError, describe_device, select_device
from engine.errors import GenScopeError

ORG, APP = "GenScope", "GenScope"


@dataclass
class AppContext:
    """What every tab needs: compute device, data folder, the engine workers, audio.

    The workers are a fixed set, declared here once (each its own thread, so
    a job on one never waits behind a job on another):

    - ``worker``, the main one: long jobs (training, EM, choosing K, data
      loads and downloads);
    - ``interactive``: the Latent explorer's models, and its latest-wins
      requests on them that must answer at once (hover decoding); also the
      Density lab's Jacobian X-ray of a clicked point, on a frozen copy of
      the flow that the training job handed over;
    - ``sampler``: the Sampler's models, painting, audio generation and the
      likelihood lens.

    A loaded model belongs to the worker that loaded it and is used only on
    that worker. The status bar watches every worker (:meth:`all_workers`).
    """

    device: torch.device
    data: DataFolder
    worker: EngineWorker
    audio: AudioStatus
    notices: list[str] = field(default_factory=list)
    interactive: EngineWorker = field(default_factory=lambda: EngineWorker("interactive"))
    sampler: EngineWorker = field(default_factory=lambda: EngineWorker("sampler"))

    def all_workers(self) -> list[EngineWorker]:
        """Every worker: main, interactive, sampler."""
        return [self.worker, self.interactive, self.sampler]


def startup_notices(data: DataFolder, audio: AudioStatus) -> list[str]:
    """Sentences about what is degraded at startup, and how to fix it."""
    notices = []
    if not audio.available:
        notices.append(audio.describe())
    if not data.exists:
        notices.append(f"No data folder at {data.path}: only the bundled models and samples are available. "
                       "Use File > Choose data folder… or File > Download data sets.")
    for model in bundled_models():
        if not model.ok:
            notices.append(f"Bundled model '{model.name}' is disabled: {model.problem}")
    return notices


class MainWindow(QMainWindow):
    """The tabs (app.tabs.TABS) over the context's workers; remembers geometry and the last tab."""

    checkpoint_opened = Signal(object, object)  # path, config dict

    def __init__(self, context: AppContext, settings: QSettings | None = None) -> None:
        super().__init__()
        self.context = context
        self.settings = settings if settings is not None else QSettings(ORG, APP)
        self.setWindowTitle("GenScope")
        self.tabs = QTabWidget()
        self.setCentralWidget(self.tabs)
        self.tab_by_key = {}
        for spec in TABS:
            self.tab_by_key[spec.key] = spec.build(context)
            self.tabs.addTab(self.tab_by_key[spec.key], spec.title)
        self._wire_tabs()
        self._build_menus()
        self._build_status_bar()
        self._connect_workers()
        self._restore_settings()
        if context.notices:
            self.statusBar().showMessage(context.notices[0], 15000)

    def _wire_tabs(self) -> None:
        """Cross-tab links: a mixture fitted on latent codes becomes a prior."""
        gmm, latent = self.tab_by_key.get("gmm"), self.tab_by_key.get("latent")
        if hasattr(gmm, "prior_fitted") and hasattr(latent, "set_mixture_prior"):
            gmm.prior_fitted.connect(latent.set_mixture_prior)
            gmm.prior_fitted.connect(lambda _: self.tabs.setCurrentWidget(latent))
        training = self.tab_by_key.get("training")
        if hasattr(training, "run_checkpoint"):
            training.run_checkpoint.connect(self._open_run_checkpoint)

    def _open_run_checkpoint(self, path) -> None:
        self.open_checkpoint(Path(path))  # a slot returns None (see gmm_panel)

    # ------------------------------------------------------------ layout
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open checkpoint…", self.open_checkpoint_dialog, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Choose &data folder…", self.choose_data_folder_dialog)
        fill_download_menu(file_menu.addMenu("Do&wnload data sets"), lambda: self.context.data, self.download_dataset)
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        help_menu = self.menuBar().addMenu("&Help")
        self._action(help_menu, "&System check", self.show_system_check)
        self._action(help_menu, "&About GenScope", self.show_about)

    def _action(self, menu, text, slot, shortcut=None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.job_label = QLabel()
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(180)
        self.job_stop = QPushButton("Stop")
        self.job_stop.setToolTip("Cancel the job shown")
        self.job_stop.clicked.connect(self._stop_current_job)
        self.device_label = QLabel(describe_device(self.context.device))
        self.device_label.setToolTip(f"Compute device: {self.context.device}")
        audio = self.context.audio
        self.audio_label = QLabel("Audio on" if audio.available else "Audio off")
        self.audio_label.setToolTip(audio.describe())
        for widget in (self.job_label, self.job_progress, self.job_stop, self.device_label, self.audio_label):
            bar.addPermanentWidget(widget)
        self._show_job(None)

    # ----------------------------------------------------------- workers
    def _connect_workers(self) -> None:
        """Watch every worker: the status bar shows the latest running job of any of them (brief ones aside)."""
        self.running_jobs: list[Job] = []  # shown jobs now running, oldest first
        for worker in self.context.all_workers():
            worker.job_started.connect(self._on_job_started)
            worker.job_progress.connect(self._on_job_progress)
            worker.job_finished.connect(self._on_job_finished)
            worker.job_failed.connect(self._on_job_failed)

    @property
    def shown_job(self) -> Job | None:
        """The job the status bar shows and its Stop button cancels: the latest started that still runs."""
        return self.running_jobs[-1] if self.running_jobs else None

    def _show_job(self, job: Job | None) -> None:
        for widget in (self.job_label, self.job_progress, self.job_stop):
            widget.setVisible(job is not None)
        if job is not None:
            self.job_label.setText(job.name)
            self.job_progress.setRange(0, 0)  # busy until the first Progress event

    def _on_job_started(self, job: Job) -> None:
        if not job.brief:  # hover decodes and lens measurements are too brief to show
            self.running_jobs.append(job)
            self._show_job(job)

    def _on_job_progress(self, job: Job, progress) -> None:
        if job is self.shown_job and progress.fraction is not None:
            self.job_progress.setRange(0, 1000)
            self.job_progress.setValue(int(1000 * progress.fraction))
            if progress.message:
                self.job_label.setText(f"{job.name}: {progress.message}")

    def _on_job_finished(self, job: Job) -> None:
        if job in self.running_jobs:
            shown = job is self.shown_job
            self.running_jobs.remove(job)
            if shown:
                self._show_job(self.shown_job)

    def _on_job_failed(self, job: Job, error: JobError) -> None:
        """A dialog for failures nobody handled; a tab's own on_error shows its note."""
        if job.on_error is None or not error.expected:
            self.show_error(error.text(), None if error.expected else error.details)

    def _stop_current_job(self) -> None:
        job = self.shown_job
        if job is not None:
            job.cancel()
            self.statusBar().showMessage(f"Stopping {job.name}…", 3000)

    # ------------------------------------------------------------ actions
    def show_error(self, text: str, details: str | None = None) -> QMessageBox:
        """A non-modal warning; the app keeps running behind it."""
        self.statusBar().showMessage(text, 10000)
        box = QMessageBox(QMessageBox.Icon.Warning, "GenScope", text, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def open_checkpoint_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", "", "GenScope checkpoints (*.safetensors)")
        if path:
            self.open_checkpoint(Path(path))

    def open_checkpoint(self, path: Path) -> bool:
        """Read a checkpoint's header and hand it to the tabs that take it."""
        try:
            config = read_checked_config(path)  # settings checked before any tab takes the file
        except GenScopeError as exc:
            self.show_error(str(exc))
            return False
        kind = config.get("kind", "?")
        takers = [w for w in map(self.tabs.widget, range(self.tabs.count()))
                  if getattr(w, "accepts_checkpoint", lambda c: False)(config)]
        if not takers:
            self.show_error(f"{Path(path).name} is a '{kind}' checkpoint; no tab can use a '{kind}' model yet.")
            return False
        for tab in takers:
            tab.open_checkpoint(path, config)
        self.tabs.setCurrentWidget(takers[0])
        self.checkpoint_opened.emit(path, config)
        self.statusBar().showMessage(f"Opened {kind} checkpoint {Path(path).name}", 5000)
        return True

    def choose_data_folder_dialog(self) -> None:
        start = str(self.context.data.path)
        path = QFileDialog.getExistingDirectory(self, "Choose data folder", start)
        if path:
            self.set_data_folder(Path(path))

    def set_data_folder(self, path: Path) -> None:
        self.context.data = resolve_data_folder(path)
        self.settings.setValue("data_folder", str(self.context.data.path))
        present = [k for k, spec in DATASETS.items() if spec.is_present(self.context.data.path)]
        found = ", ".join(present) if present else "no known data sets yet"
        self.statusBar().showMessage(f"Data folder: {self.context.data.path} ({found})", 10000)

    def download_dataset(self, key: str) -> Job:
        """Fetch a public data set through the worker, with progress."""
        from engine.data.download import download_dataset

        root = self.context.data.path
        spec = DATASETS[key]

        def finished(job: Job) -> None:
            if job.state is JobState.DONE:
                self.statusBar().showMessage(f"{spec.title} is ready in {root / spec.subdir}", 10000)

        return self.context.worker.submit(
            lambda: download_dataset(key, root), name=f"Downloading {spec.title}", on_finished=finished
        )

    def about_text(self) -> str:
        return (
            f"<b>GenScope {engine.__version__}</b> — see and hear deep generative models work.<br><br>"
            f"Python {platform.python_version()}<br>PyTorch {torch.__version__}<br>"
            f"Qt {PySide6.QtCore.qVersion()} (PySide6 {PySide6.__version__})<br>"
            f"pyqtgraph {pg.__version__}<br>NumPy {np.__version__}<br><br>"
            f"Compute device: {self.context.device} — {describe_device(self.context.device)}<br>"
            f"Data folder: {self.context.data.describe()}<br>{self.context.audio.describe()}"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, "About GenScope", self.about_text())

    def system_check_lines(self) -> list[str]:
        lines = [f"Compute device: {describe_device(self.context.device)}",
                 f"Data folder: {self.context.data.describe()}", self.context.audio.describe()]
        for key, spec in DATASETS.items():
            present = self.context.data.exists and spec.is_present(self.context.data.path)
            lines.append(f"Data set {spec.title}: {'present' if present else 'missing'}")
        models = bundled_models()
        lines += [f"Bundled model {m.name}: {m.kind if m.ok else m.problem}" for m in models]
        if not models:
            lines.append("Bundled models: none yet")
        return lines

    def show_system_check(self) -> None:
        QMessageBox.information(self, "System check", "\n".join(self.system_check_lines()))

    # ----------------------------------------------------------- settings
    def _restore_settings(self) -> None:
        geometry = self.settings.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 800)
        index = int(self.settings.value("last_tab", 0) or 0)
        if 0 <= index < self.tabs.count():
            self.tabs.setCurrentIndex(index)

    def save_settings(self) -> None:
        self.settings.setValue("geometry", self.saveGeometry())
        self.settings.setValue("last_tab", self.tabs.currentIndex())
        self.settings.sync()

    def closeEvent(self, event) -> None:
        """Save settings, stop and join every worker (2 s budget), close."""
        self.save_settings()
        for widget in map(self.tabs.widget, range(self.tabs.count())):
            shutdown = getattr(widget, "shutdown", None)
            if shutdown is not None:
                shutdown()
        for worker in self.context.all_workers():
            if not worker.shutdown(timeout=2.0):
                print(f"warning: worker {worker} did not stop within 2 s; leaving it behind", file=sys.stderr)
        event.accept()


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="genscope", description="GenScope desktop app.")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N or mps (env GENSCOPE_DEVICE)")
    parser.add_argument("--data", default=None, help="data folder (env GENSCOPE_DATA)")
    parser.add_argument("--tab", default=None, choices=[t.key for t in TABS], help="tab to open first")
    args, _qt_args = parser.parse_known_args(argv)
    return args


def build_context(args: argparse.Namespace, settings: QSettings) -> AppContext:
    """Resolve device, data folder and audio; bad choices become notices."""
    notices = []
    try:
        device = select_device(args.device)
    except DeviceError as exc:
        device = select_device("auto")
        notices.append(f"{exc} Using {device} instead.")
    data = resolve_data_folder(args.data or settings.value("data_folder") or None)
    audio = probe_audio()
    notices += startup_notices(data, audio)
    return AppContext(device, data, EngineWorker(), audio, notices)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0], *argv])
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    collect_on_gui_thread(app)  # never on a worker: see app/gui_gc.py
    settings = QSettings(ORG, APP)
    window = MainWindow(build_context(args, settings), settings)
    if args.tab:
        window.tabs.setCurrentIndex([t.key for t in TABS].index(args.tab))
    window.show()
    for notice in window.context.notices:
        print(f"note: {notice}", file=sys.stderr)
    return app.exec()
