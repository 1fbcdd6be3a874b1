"""The main window: tabs, menus, status bar, settings, degraded start, close."""

import time

import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.audio import AudioStatus
from app.main_window import build_context, parse_args, startup_notices
from app.worker import JobState
from engine.checkpoints import save_checkpoint
from engine.data.folder import DataFolder
from tests.app.gui import open_checkpoint_from_menu, press


def menu_texts(window):
    return {a.text().replace("&", ""): a for a in window.menuBar().actions()}


def test_title_and_tabs(make_window):
    window = make_window()
    assert window.windowTitle() == "GenScope"
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles == ["Latent explorer", "Sampler", "Orderings", "GMM fitter", "Density lab", "Training monitor"]


def test_menus(make_window):
    window = make_window()
    menus = menu_texts(window)
    assert set(menus) == {"File", "Help"}
    file_items = [a.text().replace("&", "") for a in menus["File"].menu().actions() if a.text()]
    assert file_items[:2] == ["Open checkpoint…", "Choose data folder…"] and file_items[-1] == "Quit"
    help_items = [a.text().replace("&", "") for a in menus["Help"].menu().actions()]
    assert "About GenScope" in help_items


def test_about_names_versions_and_device(make_window):
    import PySide6

    text = make_window().about_text()
    assert torch.__version__ in text and PySide6.QtCore.qVersion() in text
    assert "Python 3." in text and "Compute device: cpu" in text


def test_status_bar_shows_device_and_job_progress(qtbot, make_window):
    window = make_window()
    assert "CPU" in window.device_label.text()
    assert not window.job_label.isVisible()
    window.show()
    import threading

    gate = threading.Event()

    def job():
        from engine.events import Progress

        yield Progress(1, 4, "step 1")
        gate.wait(5)
        yield Progress(4, 4)

    j = window.context.worker.submit(job, name="Demo job")
    qtbot.waitUntil(lambda: window.job_progress.value() == 250, timeout=5000)
    assert window.job_label.isVisible() and "Demo job" in window.job_label.text()
    gate.set()
    qtbot.waitUntil(lambda: j.state is JobState.DONE and not window.job_label.isVisible(), timeout=5000)


def test_stop_button_cancels_running_job(qtbot, make_window):
    window = make_window()
    window.show()

    def forever():
        while True:
            time.sleep(0.005)
            yield None

    job = window.context.worker.submit(forever, name="forever")
    qtbot.waitUntil(lambda: window.job_stop.isVisible(), timeout=5000)
    press(qtbot, window.job_stop)
    qtbot.waitUntil(lambda: job.state is JobState.CANCELLED, timeout=2000)


def test_geometry_and_last_tab_are_remembered(qtbot, make_window):
    first = make_window()
    first.show()
    first.resize(790, 560)  # above the minimum (776 x 524) and inside the offscreen test screen (800 x 600)
    first.tabs.setCurrentIndex(3)
    first.close()
    second = make_window()
    assert second.tabs.currentIndex() == 3
    assert (second.width(), second.height()) == (790, 560)


def test_error_in_job_shows_message_and_app_keeps_working(qtbot, make_window):
    window = make_window()
    window.show()

    def broken():
        yield 1
        raise RuntimeError("kaput")

    window.context.worker.submit(broken, name="Broken job")
    qtbot.waitUntil(lambda: window.findChild(QMessageBox) is not None, timeout=5000)
    box = window.findChild(QMessageBox)
    assert "Broken job failed unexpectedly: kaput" in box.text()
    assert "RuntimeError" in box.detailedText()
    box.close()
    ok = window.context.worker.submit(lambda: iter([1, 2]), name="next")
    qtbot.waitUntil(lambda: ok.state is JobState.DONE, timeout=5000)


def test_open_corrupt_checkpoint_gives_one_sentence(qtbot, make_window, tmp_path, monkeypatch):
    window = make_window()
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x00\x01garbage")
    open_checkpoint_from_menu(qtbot, window, monkeypatch, bad)
    qtbot.waitUntil(lambda: window.findChild(QMessageBox) is not None, timeout=2000)
    box = window.findChild(QMessageBox)
    assert "broken.safetensors" in box.text() and box.detailedText() == ""


def test_open_checkpoint_of_kind_no_tab_takes(qtbot, make_window, tmp_path, monkeypatch):
    """A kind the catalog knows but no view shows is refused by name."""
    from dataclasses import replace

    from engine import catalog

    catalog.register(replace(catalog.get("nade"), kind="headless", views=()))
    try:
        window = make_window()
        path = save_checkpoint(tmp_path / "m.safetensors", {"w": torch.zeros(2)},
                               {"kind": "headless", "hparams": {}})
        open_checkpoint_from_menu(qtbot, window, monkeypatch, path)
        qtbot.waitUntil(lambda: window.findChild(QMessageBox) is not None, timeout=2000)
        assert "'headless'" in window.findChild(QMessageBox).text()
    finally:
        catalog.unregister("headless")


def test_close_joins_worker_within_two_seconds(qtbot, make_window):
    window = make_window()
    window.show()
    steps = []

    def forever():
        while True:
            time.sleep(0.01)
            steps.append(1)
            yield None

    window.context.worker.submit(forever, name="forever")
    qtbot.waitUntil(lambda: len(steps) > 2, timeout=5000)
    start = time.monotonic()
    window.close()
    assert time.monotonic() - start < 2.0
    assert not window.context.worker.alive


def test_starts_without_audio_or_data_and_says_why(qtbot, make_window, tmp_path):
    audio = AudioStatus(False, reason="PortAudio library not found.", fix="sudo apt-get install libportaudio2")
    data = DataFolder(tmp_path / "nowhere", "explicit")
    notices = startup_notices(data, audio)
    assert any("libportaudio2" in n for n in notices)
    assert any("No data folder" in n for n in notices)
    window = make_window(audio=audio, data=data, notices=notices)
    assert window.audio_label.text() == "Audio off" and "libportaudio2" in window.audio_label.toolTip()
    assert any("Audio off" in line for line in window.system_check_lines())


def test_corrupt_bundled_asset_becomes_notice(tmp_path, monkeypatch):
    import engine.cards.bundled as assets

    (tmp_path / "vae.safetensors").write_bytes(b"not a checkpoint")
    monkeypatch.setattr(assets, "ASSETS_DIR", tmp_path)
    monkeypatch.setattr("app.main_window.bundled_models", lambda: assets.bundled_models(tmp_path))
    notices = startup_notices(DataFolder(tmp_path, "explicit"), AudioStatus(True, "null"))
    assert len(notices) == 1 and "'vae' is disabled" in notices[0]


def test_bad_device_falls_back_with_notice(qtbot, settings):
    context = build_context(parse_args(["--device", "cuda:7"]), settings)
    try:
        assert context.device.type == "cpu" or context.device.type == "cuda"
        assert any("not available" in n or "does not exist" in n for n in context.notices)
    finally:
        context.worker.shutdown()


def test_probe_audio_without_sounddevice(monkeypatch):
    import sys

    from app.audio import probe_audio

    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as if not installed
    status = probe_audio()
    assert not status.available and "pip install sounddevice" in status.fix


def test_probe_audio_without_portaudio(monkeypatch):
    import builtins

    from app.audio import probe_audio

    real_import = builtins.__import__

    def no_portaudio(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(__import__("sys").modules, "sounddevice", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_portaudio)
    status = probe_audio()
    assert not status.available and "PortAudio" in status.reason
    assert "libportaudio2" in status.fix or "sounddevice" in status.fix


def test_probe_audio_with_the_null_device():
    from app.audio import probe_audio

    status = probe_audio()
    assert status.available, status.describe()


def test_status_bar_and_stop_see_every_worker(qtbot, make_window):
    """A job on the sampler worker shows and is stopped by the status bar's Stop; brief requests never show."""
    window = make_window()
    window.show()
    ctx = window.context
    assert {w._name for w in ctx.all_workers()} == {"window", "interactive", "sampler"}
    qtbot.waitUntil(lambda: all(w.current is None and not w.pending() for w in ctx.all_workers()),
                    timeout=60000)  # the tabs' bundled models have loaded

    def forever():
        while True:
            time.sleep(0.005)
            yield None

    main = ctx.worker.submit(forever, name="Training")
    qtbot.waitUntil(lambda: "Training" in window.job_label.text() and window.job_stop.isVisible(), timeout=5000)
    painting = ctx.sampler.submit(forever, name="Painting digits", key="sampler-paint")
    qtbot.waitUntil(lambda: "Painting digits" in window.job_label.text(), timeout=5000)
    hover = ctx.interactive.submit(forever, name="decode", key="hover", brief=True)
    qtbot.waitUntil(lambda: hover.state is JobState.RUNNING and hover.steps > 3, timeout=5000)
    assert "Painting digits" in window.job_label.text() and window.shown_job is painting
    qtbot.mouseClick(window.job_stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: painting.state is JobState.CANCELLED, timeout=2000)
    qtbot.waitUntil(lambda: "Training" in window.job_label.text(), timeout=2000)  # the main job shows again
    assert main.state is JobState.RUNNING and hover.state is JobState.RUNNING
    qtbot.mouseClick(window.job_stop, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: main.state is JobState.CANCELLED and not window.job_stop.isVisible(), timeout=2000)
    window.close()
    assert not any(w.alive for w in ctx.all_workers()) and hover.cancelled
