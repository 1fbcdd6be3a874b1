"""End-to-end smoke run: ``main.py`` as a subprocess under a private Xvfb at 1200 x 800, one real mouse action
per tab with xdotool, each checked from outside the app: a screenshot region that changed, a run folder that
appeared, a WAV file that the sound device wrote.

Where to point the mouse comes from the same window built in this process (offscreen, same size, same fonts,
same style: the layout is the same pixel for pixel), so a widget that moves moves the click with it. The sound
device is ALSA's ``file`` plugin: whatever the app plays lands in a WAV file. The tests share one app and run
in file order; all of them together are bounded by ``BUDGET_S``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = {"Xvfb": "xvfb", "xdotool": "xdotool", "import": "imagemagick"}
MISSING = [f"{tool} (apt-get install {package})" for tool, package in TOOLS.items() if not shutil.which(tool)]
BUDGET_S = 90.0  # the whole module, app start-up included
SIZE = (1200, 800)

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(MISSING), reason=f"end-to-end run needs {', '.join(MISSING)}"),
              pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb and ALSA are Linux only")]


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left(self) -> float:
        return self.end - time.monotonic()

    def wait(self, condition, timeout: float, what: str, poll: float = 0.25):
        """Poll ``condition()`` until it is truthy (returned) or ``timeout`` (or the module's budget) runs out."""
        end = time.monotonic() + min(timeout, max(self.left(), 0.0))
        while True:
            value = condition()
            if value or time.monotonic() > end:
                break
            time.sleep(poll)
        assert value, f"gave up after {timeout:.0f} s waiting for {what}"
        return value


@pytest.fixture(scope="module")
def deadline():
    return Deadline(BUDGET_S)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A private home, runs folder and sound device (ALSA's file plugin writing ``played.wav``)."""
    tmp = tmp_path_factory.mktemp("e2e")
    home = tmp / "home"
    (home / ".config").mkdir(parents=True)
    alsa = tmp / "asound.conf"
    alsa.write_text("</usr/share/alsa/alsa.conf>\n"
                    f'pcm.!default {{ type file slave.pcm "null" file "{tmp / "played.wav"}" format "wav" }}\n')
    yield {"HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"), "XDG_DATA_HOME": str(home / "data"),
           "GENSCOPE_RUNS": str(tmp / "runs"), "ALSA_CONFIG_PATH": str(alsa), "PYTHONPATH": str(ROOT),
           "E2E_DIR": str(tmp)}
    # The null device under the file plugin is not clocked: the recording holds tens of MB of silence.
    (tmp / "played.wav").unlink(missing_ok=True)


@pytest.fixture(scope="module")
def display(deadline):
    """A private X server; its display name (":N")."""
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x900x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    assert number, "Xvfb did not start"
    yield f":{number}"
    server.terminate()
    server.wait(5)


@pytest.fixture(scope="module")
def app(display, env, deadline):
    """``main.py`` on the private display; yields (x, y) of its window's top-left corner on the screen."""
    run_env = {**os.environ, **env, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    log = open(Path(env["E2E_DIR"]) / "app.log", "w")
    proc = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=run_env, stdout=log, stderr=subprocess.STDOUT)
    xdo = Xdo(display)
    try:
        try:
            window = deadline.wait(lambda: proc.poll() is not None or xdo.main_window(), 40, "the GenScope window")
        except AssertionError:
            window = None
        log.flush()
        assert proc.poll() is None and window, f"main.py showed no window; its output:\n{log_text(env)}"
        assert window[2:] == SIZE, f"the window opened at {window[2:]}, not {SIZE}"
        yield window[:2]
    finally:
        xdo.run("key", "--clearmodifiers", "ctrl+q")  # File > Quit: workers stop, settings saved
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def log_text(env) -> str:
    return (Path(env["E2E_DIR"]) / "app.log").read_text(errors="replace")[-3000:]


class Xdo:
    """xdotool and ImageMagick's ``import`` on one display."""

    def __init__(self, display: str, shots: Path | None = None) -> None:
        self.env = {**os.environ, "DISPLAY": display}
        self.shots = shots  # where a failed check saves the screen

    def screenshot(self, name: str) -> Path | None:
        if self.shots is None:
            return None
        path = self.shots / f"{name}.png"
        subprocess.run(["import", "-silent", "-window", "root", str(path)], env=self.env, timeout=15)
        return path

    def run(self, *args: str) -> str:
        done = subprocess.run(["xdotool", *args], env=self.env, capture_output=True, text=True, timeout=10)
        return done.stdout

    def main_window(self) -> tuple[int, int, int, int] | None:
        """(x, y, width, height) of the largest visible window named GenScope, or None."""
        found = []
        for wid in self.run("search", "--onlyvisible", "--name", "^GenScope$").split():
            shell = dict(line.split("=", 1) for line in self.run("getwindowgeometry", "--shell", wid).split())
            found.append(tuple(int(shell[k]) for k in ("X", "Y", "WIDTH", "HEIGHT")))
        return max(found, key=lambda g: g[2] * g[3], default=None)

    def grab(self, rect: tuple[int, int, int, int]) -> np.ndarray:
        """The screen's pixels (h, w, 3) uint8 in ``rect`` = (x, y, w, h)."""
        x, y, w, h = rect
        done = subprocess.run(["import", "-silent", "-window", "root", "-crop", f"{w}x{h}+{x}+{y}", "+repage",
                               "-depth", "8", "rgb:-"], env=self.env, capture_output=True, timeout=15)
        return np.frombuffer(done.stdout, np.uint8)[: w * h * 3].reshape(h, w, 3)


@pytest.fixture(scope="module")
def xdo(display, env):
    return Xdo(display, Path(env["E2E_DIR"]))


@pytest.fixture(scope="module")
def layout(env, qapp):
    """Where things are in the window (x, y, w, h relative to its top-left): the same window built here."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QPushButton

    from app.main_window import MainWindow, build_context, parse_args

    with mock.patch.dict(os.environ, {k: v for k, v in env.items() if k != "PYTHONPATH"}):
        settings = QSettings(str(Path(env["E2E_DIR"]) / "mirror.ini"), QSettings.Format.IniFormat)
        window = MainWindow(build_context(parse_args([]), settings), settings)
    window.resize(*SIZE)
    window.show()

    def rect(widget) -> tuple[int, int, int, int]:
        qapp.processEvents()
        corner = widget.mapTo(window, widget.rect().topLeft())
        return corner.x(), corner.y(), widget.width(), widget.height()

    def button(page, text: str):
        qapp.processEvents()
        return next(b for b in page.findChildren(QPushButton) if b.isVisible() and b.text().replace("&", "") == text)

    tabs, where = window.tabs, {}
    bar = tabs.tabBar()
    for i in range(tabs.count()):
        corner = bar.mapTo(window, bar.tabRect(i).topLeft())
        where[f"tab {tabs.tabText(i)}"] = (corner.x(), corner.y(), bar.tabRect(i).width(), bar.tabRect(i).height())
    latent, sampler, gmm, density, training = (window.tab_by_key[k]
                                                for k in ("latent", "sampler", "gmm", "density", "training"))
    tabs.setCurrentWidget(latent)
    where.update(map=rect(latent.map), decoded=rect(latent.panel.decoded), strip=rect(latent.panel.strip))
    tabs.setCurrentWidget(sampler)
    for mode, page in (("Images", sampler.images), ("Audio", sampler.audio)):
        where[f"mode {mode}"] = rect(button(sampler, mode))
        button(sampler, mode).click()
        where[f"start {mode}"] = rect(button(page, "Start"))
    where.update(board=rect(sampler.images.grid), scope=rect(sampler.audio.scope))
    button(sampler, "Images").click()
    tabs.setCurrentWidget(gmm)
    where.update(fit=rect(button(gmm, "Fit")), mixture=rect(gmm.view), k=rect(gmm.panel.k))
    tabs.setCurrentWidget(density)
    where.update(density=rect(density.view), density_train=rect(density.panel.train_button),
                 density_stop=rect(density.panel.stop_button))
    tabs.setCurrentWidget(training)
    where.update(data=rect(training.panel.data), train=rect(training.panel.buttons["Start"]))
    tabs.setCurrentIndex(0)
    window.close()
    for worker in window.context.all_workers():
        worker.shutdown()
    return where


def centre(rect, fx: float = 0.5, fy: float = 0.5) -> tuple[int, int]:
    x, y, w, h = rect
    return int(x + fx * w), int(y + fy * h)


def on_screen(app, rect) -> tuple[int, int, int, int]:
    return app[0] + rect[0], app[1] + rect[1], rect[2], rect[3]


def click(xdo, app, rect, fx: float = 0.5, fy: float = 0.5, button: str = "1") -> None:
    x, y = centre(rect, fx, fy)
    xdo.run("mousemove", "--sync", str(app[0] + x), str(app[1] + y))
    xdo.run("click", button)


def changed(before: np.ndarray, after: np.ndarray) -> float:
    """The fraction of pixels that differ."""
    return float(np.any(before != after, axis=-1).mean())


def wait_changed(deadline, xdo, app, rect, before, what: str, timeout: float = 15, at_least: float = 0.002):
    try:
        deadline.wait(lambda: changed(before, xdo.grab(on_screen(app, rect))) >= at_least, timeout, what)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen then: {xdo.screenshot(what.replace(' ', '-'))}") from None


def test_latent_map_hover_decodes(app, xdo, layout, deadline):
    click(xdo, app, layout["tab Latent explorer"])
    grid = on_screen(app, layout["map"])
    deadline.wait(lambda: xdo.grab(grid).std() > 10, 30, "the latent map to show the test digits")
    before = xdo.grab(on_screen(app, layout["decoded"]))
    xdo.run("mousemove", "--sync", *map(str, np.add(app, centre(layout["map"], 0.45, 0.5))))
    wait_changed(deadline, xdo, app, layout["decoded"], before, "the decode under the cursor", 10)


def test_latent_map_clicks_pin_points(app, xdo, layout, deadline):
    """Two clicks pin two points; the interpolation strip between them fills."""
    before = xdo.grab(on_screen(app, layout["strip"]))
    for fx in (0.3, 0.7):
        click(xdo, app, layout["map"], fx, 0.45)
        time.sleep(0.3)
    wait_changed(deadline, xdo, app, layout["strip"], before, "the interpolation strip between two pins", 10)


def test_sampler_start_paints(app, xdo, layout, deadline):
    click(xdo, app, layout["tab Sampler"])
    click(xdo, app, layout["mode Images"])
    time.sleep(0.5)
    before = xdo.grab(on_screen(app, layout["board"]))
    click(xdo, app, layout["start Images"])
    wait_changed(deadline, xdo, app, layout["board"], before, "pixels painted on the board", 15)


def test_sampler_start_audio_plays(app, xdo, layout, deadline, env):
    click(xdo, app, layout["mode Audio"])
    time.sleep(0.5)
    before = xdo.grab(on_screen(app, layout["scope"]))
    played = Path(env["E2E_DIR"]) / "played.wav"
    click(xdo, app, layout["start Audio"])
    wait_changed(deadline, xdo, app, layout["scope"], before, "the waveform being drawn", 15)

    def sound() -> bool:  # the header (44 bytes) and then samples, not all silence
        data = played.read_bytes() if played.exists() else b""
        return len(data) > 44 + 4000 and any(data[44:])

    deadline.wait(sound, 20, f"sound in {played.name} (what the app played)")


def test_gmm_fit(app, xdo, layout, deadline):
    click(xdo, app, layout["tab GMM fitter"])
    time.sleep(0.5)
    click(xdo, app, layout["k"], button="4")  # wheel up: K + 1, so the fit differs from the one on screen
    before = xdo.grab(on_screen(app, layout["mixture"]))
    click(xdo, app, layout["fit"])
    wait_changed(deadline, xdo, app, layout["mixture"], before, "the mixture redrawn by the fit", 15, 0.01)


def test_density_lab_train_draws_the_flow(app, xdo, layout, deadline):
    click(xdo, app, layout["tab Density lab"])  # shown the first time: it loads its data
    x, y, w, h = on_screen(app, layout["density"])
    inside = (x + w // 4, y + h // 4, w // 2, h // 2)  # inside the axes: white until the points come
    deadline.wait(lambda: (xdo.grab(inside).min(axis=-1) < 200).mean() > 0.005, 15, "the lab's data on the canvas")
    time.sleep(0.3)
    before = xdo.grab(on_screen(app, layout["density"]))
    click(xdo, app, layout["density_train"])
    wait_changed(deadline, xdo, app, layout["density"], before, "the flow's density drawn while it trains", 20, 0.05)
    click(xdo, app, layout["density_stop"])


def test_training_start_makes_a_run_folder(app, xdo, layout, deadline, env):
    click(xdo, app, layout["tab Training monitor"])
    click(xdo, app, layout["data"])  # the combo's list opens; type to choose, Return to take it
    time.sleep(0.5)
    xdo.run("type", "--delay", "50", "Generated shapes")
    xdo.run("key", "Return")
    time.sleep(0.3)
    runs = Path(env["GENSCOPE_RUNS"])
    click(xdo, app, layout["train"])
    deadline.wait(lambda: runs.is_dir() and any((p / "config.json").exists() for p in runs.iterdir()), 20,
                  f"a run folder with its config in {runs}")
