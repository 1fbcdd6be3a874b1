"""Fixtures for the Qt tests: a throwaway QSettings file and an app context."""

import gc

import pytest
from PySide6.QtCore import QSettings

from app.audio import AudioStatus
from app.gui_gc import GuiThreadCollector
from app.main_window import AppContext, MainWindow
from app.worker import EngineWorker
from engine.data.folder import DataFolder
from engine.device import select_device


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "genscope.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def worker(qtbot):
    w = EngineWorker("test")
    yield w
    assert w.shutdown(timeout=2.0), "worker did not stop"


@pytest.fixture
def make_window(qtbot, settings, tmp_path):
    """Build main windows on a fresh worker; each is closed at teardown."""
    windows = []

    def make(audio=AudioStatus(True, device="null"), data=None, notices=()):
        data = data or DataFolder(tmp_path / "data", "explicit")
        context = AppContext(select_device("cpu"), data, EngineWorker("window"), audio, list(notices))
        window = MainWindow(context, settings)
        qtbot.addWidget(window)
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


@pytest.fixture(autouse=True)
def _garbage_on_the_gui_thread(qapp):
    """As in the app (app/gui_gc.py): no automatic collection, which could run on an engine worker and
    destroy Qt objects there (a deadlock seen in CI); a GUI-thread timer collects instead. At the end a
    full collection, so a Qt reference-count bug fails the test that caused it instead of crashing the
    interpreter at exit."""
    collector = GuiThreadCollector().start()
    yield
    collector.stop()
    collector.deleteLater()
    gc.collect()
