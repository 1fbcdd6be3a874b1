"""Drive the real GenScope window and save README screenshots.

Run under a (virtual) display:  xvfb-run -a .venv/bin/python scripts/demo_shots.py docs/ [sampler]
Each shot is the real window rendered by Qt (QWidget.grab) after scripted
interaction: hovering and pinning in the latent explorer, a fitted mixture,
a PixelCNN painting, a comparison of decoding strategies and a WaveNet
saying "seven", a flow trained in the Density lab, a character Transformer writing. A second
argument ``sampler`` (or ``audio``, ``text``, ``density``) takes only the Sampler's shots (or only the audio
one, the text one, the Density lab's). The text shot uses the bundled Transformer, or the checkpoint named by
``$GENSCOPE_TEXT_CHECKPOINT`` (e.g. a run's checkpoints/last.safetensors).
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.gui_gc import collect_on_gui_thread  # noqa: E402
from app.main_window import MainWindow, build_context, parse_args  # noqa: E402


def pump(app: QApplication, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_until(app: QApplication, condition, timeout: float) -> None:
    end = time.time() + timeout
    while not condition() and time.time() < end:
        pump(app, 0.05)


def sampler_shots(app: QApplication, window: MainWindow, out: Path) -> None:
    """Image mode: the lens on a digit, its rotation and noise, a digit half painted, then a comparison."""
    tab = window.tab_by_key["sampler"]
    window.tabs.setCurrentWidget(tab)
    page, panel = tab.images, tab.images.panel
    wait_until(app, lambda: page.model is not None, 30)
    panel.index.setValue(7)
    for source in ("The digit above", "Rotated digit", "Noise"):
        panel.lens_source.setCurrentText(source)
        page.lens.measure()
        pump(app, 1)
    wait_until(app, lambda: page.hist.nlls is not None, 120)
    panel.strategy_name.setCurrentText("top-p")
    panel.seed.setValue(2)
    panel.speed.setCurrentText("400 pixels/s")
    page.start()
    wait_until(app, lambda: page.board.ticks >= 410, 30)
    page.pause()
    pump(app, 0.5)
    window.grab().save(str(out / "sampler_images.png"))
    page.stop()
    panel.mode.setCurrentText("Compare strategies")
    panel.n_images.setValue(4)
    panel.speed.setCurrentText("As fast as possible")
    page.start()
    wait_until(app, lambda: page.board.finished is not None, 60)
    pump(app, 0.5)
    window.grab().save(str(out / "sampler_compare.png"))


def audio_shot(app: QApplication, window: MainWindow, out: Path) -> None:
    """Audio mode: the bundled WaveNet asked for a "7", mid-generation."""
    tab = window.tab_by_key["sampler"]
    window.tabs.setCurrentWidget(tab)
    tab.show_mode("Audio")
    page = tab.audio
    wait_until(app, lambda: page.model is not None, 30)
    page.panel.condition.setCurrentIndex(7)
    page.panel.seconds.setValue(4.0)
    page.start()
    wait_until(app, lambda: page.scope.seconds > 2.5, 60)
    pump(app, 0.3)
    window.grab().save(str(out / "sampler_audio.png"))
    page.stop()
    tab.show_mode("Images")


def density_shot(app: QApplication, window: MainWindow, out: Path) -> None:
    """Density lab: a MAF trained on two moons, one point X-rayed, its first layer's Jacobian shown."""
    tab = window.tab_by_key["density"]
    window.tabs.setCurrentWidget(tab)
    tab.panel.source.setCurrentText("Two moons")
    tab.panel.picker.load()
    wait_until(app, lambda: len(tab.points) > 0 and tab.panel.picker.job is None, 30)
    tab.train()
    wait_until(app, lambda: tab.job is None or tab.job.state.finished, 300)
    wait_until(app, lambda: tab.gmm_job is None or tab.gmm_job.state.finished, 120)
    tab.xray.layer.setCurrentIndex(1)
    tab.view.point_clicked.emit(0.5, 0.25)
    pump(app, 2)
    window.grab().save(str(out / "density_lab.png"))


def text_shot(app: QApplication, window: MainWindow, out: Path) -> None:
    """Text mode: the Transformer writing after a prompt, a character clicked for its attention."""
    tab = window.tab_by_key["sampler"]
    window.tabs.setCurrentWidget(tab)
    tab.show_mode("Text")
    page = tab.text
    if os.environ.get("GENSCOPE_TEXT_CHECKPOINT"):
        window.open_checkpoint(Path(os.environ["GENSCOPE_TEXT_CHECKPOINT"]))
        wait_until(app, lambda: page.models.path == Path(os.environ["GENSCOPE_TEXT_CHECKPOINT"]), 30)
    wait_until(app, lambda: page.model is not None, 30)
    page.inputs.prompt.setPlainText("ROMEO:\nBut soft, what light")
    page.panel.strategy_name.setCurrentText("top-p")
    page.panel.seed.setValue(1)
    page.panel.length.setValue(360)
    page.panel.speed.setCurrentText("As fast as it goes")
    page.start()
    wait_until(app, lambda: page.board.ticks >= 300, 60)
    page.pause()
    pump(app, 0.5)
    page.select(0, len(page.board.panels[0].ids) - 40)
    pump(app, 0.5)
    window.grab().save(str(out / "sampler_text.png"))
    page.stop()


def main(out_dir: str, only: str | None = None) -> None:
    out = Path(out_dir)
    app = QApplication([sys.argv[0]])
    collect_on_gui_thread(app)
    settings = QSettings(str(out / ".demo_settings.ini"), QSettings.Format.IniFormat)
    os.environ.setdefault("GENSCOPE_RUNS", tempfile.mkdtemp(prefix="genscope-demo-runs-"))
    window = MainWindow(build_context(parse_args([]), settings), settings)
    window.resize(1200, 800)  # the default window size
    window.show()
    if only == "density":
        density_shot(app, window, out)
        window.close()
        Path(out / ".demo_settings.ini").unlink(missing_ok=True)
        return
    if only in ("sampler", "audio", "text"):
        if only == "sampler":
            sampler_shots(app, window, out)
        if only in ("sampler", "audio"):
            audio_shot(app, window, out)
        if only in ("sampler", "text"):
            text_shot(app, window, out)
        window.close()
        Path(out / ".demo_settings.ini").unlink(missing_ok=True)
        return
    latent = window.tab_by_key["latent"]
    pump(app, 3)
    latent.panel.show_prior.setChecked(True)
    for xy in ((-1.2, 0.6), (1.4, -0.8)):
        latent.map.clicked.emit(*xy, Qt.KeyboardModifier.NoModifier)
    latent.map.hovered.emit(0.3, 1.1)
    latent.sample_prior()
    latent.inspect_nearest(0.0, -1.5)
    pump(app, 3)
    window.grab().save(str(out / "latent_explorer.png"))
    latent.panel.show_grid.setChecked(True)
    latent.panel.show_points.setChecked(False)
    pump(app, 2)
    window.grab().save(str(out / "screenshot.png"))
    gmm = window.tab_by_key["gmm"]
    window.tabs.setCurrentWidget(gmm)
    gmm.panel.speed_slider.setValue(60)
    pump(app, 4)
    gmm.panel.run_choose_k()
    pump(app, 5)
    gmm.show_frame(len(gmm.frames) - 1)
    pump(app, 1)
    window.grab().save(str(out / "gmm_fitter.png"))
    sampler_shots(app, window, out)
    audio_shot(app, window, out)
    density_shot(app, window, out)
    text_shot(app, window, out)
    training = window.tab_by_key["training"]
    window.tabs.setCurrentWidget(training)
    training.panel.data.setCurrentText("MNIST (data folder)")
    training.panel.epochs.setValue(3)
    training.panel.sample_every.setValue(50)
    job = training.start()
    pump(app, 15)
    training.panel.new_lr.setValue(3e-4)
    training.apply_lr()
    pump(app, 12)
    window.grab().save(str(out / "training_monitor.png"))
    job.cancel()
    pump(app, 2)
    window.close()
    Path(out / ".demo_settings.ini").unlink(missing_ok=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs", sys.argv[2] if len(sys.argv) > 2 else None)
