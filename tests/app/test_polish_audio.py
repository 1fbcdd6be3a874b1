"""Audio panel polish (issue #12), pressed as a user does: the output device by name, Stop greyed once a clip
has played, empty plots in plain seconds, default strategy settings that sound."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.audio import AudioStatus, probe_audio
from app.tabs.sampler.audio_panel import AUDIO_STRATEGIES
from app.tabs.sampler.strategy_box import PARAMS, StrategyBox
from app.widgets.axes import IntegerAxis
from engine.catalog import load_model
from engine.sampling.wavenet import generate

DEVICE = AudioStatus(True, device="HDA Intel PCH: ALC3246 Analog", host_api="ALSA", rate=48000.0)


def open_audio(qtbot, make_window, audio=DEVICE):
    window = make_window(audio=audio)
    tab = window.tab_by_key["sampler"]
    window.tabs.setCurrentWidget(tab)
    window.show()
    audio_button = next(b for b in tab.findChildren(QPushButton) if b.text() == "Audio")
    qtbot.mouseClick(audio_button, Qt.MouseButton.LeftButton)
    page = tab.audio
    qtbot.waitUntil(lambda: page.model is not None, timeout=30000)
    return window, page


def test_the_panel_names_the_output_device_and_rates(qtbot, make_window):
    _, page = open_audio(qtbot, make_window)
    text = page.panel.sound.text()
    assert "HDA Intel PCH: ALC3246 Analog (ALSA, 48,000 Hz)" in text and "played at 8,000 Hz" in text
    assert text != "Sound: default"


def test_probe_names_host_api_and_rate():
    status = probe_audio()  # the null ALSA device of the tests (or no PortAudio: then it says why)
    if status.available:
        assert status.host_api and status.rate > 0 and f"{status.rate:,.0f} Hz" in status.describe()
    else:
        assert status.reason


def test_stop_is_greyed_once_the_clip_has_played(qtbot, make_window):
    _, page = open_audio(qtbot, make_window, AudioStatus(True, device="null"))
    page.panel.seconds.selectAll()
    qtbot.keyClicks(page.panel.seconds, "0.2")
    qtbot.mouseClick(page.panel.buttons["Start"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.panel.buttons["Stop"].isEnabled(), timeout=5000)
    qtbot.waitUntil(lambda: page.panel.clips.count() == 1, timeout=60000)
    qtbot.waitUntil(lambda: page.player is None or page.player.done.is_set(), timeout=10000)
    qtbot.waitUntil(lambda: not page.panel.buttons["Stop"].isEnabled(), timeout=2000)
    assert page.panel.buttons["Start"].isEnabled()


def test_empty_plots_read_plain_seconds(qtbot, make_window):
    _, page = open_audio(qtbot, make_window)
    qtbot.wait(100)  # a redraw of the empty clip
    scope = page.scope
    for plot in (scope.wave_plot, scope.spec_plot, scope.prob_plot):
        for side in ("left", "bottom"):
            axis = plot.getAxis(side)
            assert axis.autoSIPrefixScale == 1.0 and "(x" not in axis.labelString()
    assert "seconds </span>" in scope.prob_plot.getAxis("bottom").labelString()
    assert scope.wave_plot.viewRange()[0][1] >= 1.0, "an empty clip shows seconds, not a millisecond"
    hz = scope.spec_plot.getAxis("left")
    assert hz.tickStrings([1000.0, 4000.0], hz.autoSIPrefixScale, 1000.0) == ["1000", "4000"], "Hz read as Hz"


def test_integer_axis_never_ticks_between_whole_numbers():
    axis = IntegerAxis("bottom")
    for lo, hi in ((0.0, 3.2), (0.5, 1.4), (1.0, 62.0), (0.2, 0.8)):
        values = [v for _, level in axis.tickValues(lo, hi, 600) for v in level]
        assert all(float(v).is_integer() for v in values)
    assert [v for _, level in axis.tickValues(0.5, 1.4, 600) for v in level] == [1.0]


@pytest.mark.parametrize("name", ["top-k", "top-p", "min-p"])
def test_default_audio_strategy_settings_are_not_silent(name):
    """The form's defaults (top-k 1, top-p 0.9, min-p 0.1 went silent on the bundled WaveNet)."""
    box = StrategyBox(AUDIO_STRATEGIES)
    box.strategy_name.setCurrentText(name)
    model = load_model("assets/wavenet.safetensors")
    audio = np.asarray(generate(model, 0.5, strategy=box.strategy(), seed=0, label=7).audio)
    silence = np.asarray(generate(model, 0.5, strategy="greedy", seed=0, label=7).audio)
    rms = float(np.sqrt(np.mean(audio[1000:] ** 2)))
    assert rms > 10 * float(np.sqrt(np.mean(silence[1000:] ** 2))) and rms > 0.002, (name, PARAMS, rms)
