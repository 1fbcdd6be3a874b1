"""Help > System check, opened with the mouse as a user does: it names the audio output device and its rate."""

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.audio import AudioStatus, probe_audio
from tests.app.gui import menu


def open_system_check(qtbot, window) -> str:
    """Click Help in the menu bar, then System check (the shared menu helper); return the dialog's text (the dialog
    is closed)."""
    window.show()
    qtbot.waitExposed(window)
    seen: list[str] = []

    def read_and_close() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, read_and_close)
            return
        seen.append(f"{box.windowTitle()}\n{box.text()}")
        box.accept()

    QTimer.singleShot(20, read_and_close)
    menu(qtbot, window, "Help", "System check")
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    return seen[0]


def test_system_check_names_the_output_device_and_its_rate(qtbot, make_window):
    audio = AudioStatus(True, device="Speakers", host_api="JACK Audio Connection Kit", rate=48000.0)
    text = open_system_check(qtbot, make_window(audio=audio))
    assert text.startswith("System check")
    assert "Audio output: Speakers (JACK Audio Connection Kit, 48,000 Hz)" in text


def test_system_check_reads_the_real_device(qtbot, make_window):
    """With the null ALSA device of tests/alsa-null.conf: the probe finds it, with the rate PortAudio reports."""
    audio = probe_audio()
    if not audio.available:
        text = open_system_check(qtbot, make_window(audio=audio))
        assert "Audio off:" in text and audio.reason in text
        return
    import sounddevice as sd

    info = sd.query_devices(kind="output")
    assert audio.device == info["name"] and audio.rate == info["default_samplerate"] > 0
    text = open_system_check(qtbot, make_window(audio=audio))
    assert f"Audio output: {audio.device_name}" in text and f"{info['default_samplerate']:,.0f} Hz" in text


def test_no_sound_says_why(qtbot, make_window):
    audio = AudioStatus(False, reason="no audio output device.", fix="Connect or enable a sound device.")
    text = open_system_check(qtbot, make_window(audio=audio))
    assert "Audio off: no audio output device. Connect or enable a sound device." in text
    assert " Hz" not in text.split("Audio off")[1].splitlines()[0]
