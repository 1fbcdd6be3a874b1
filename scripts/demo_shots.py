"""Drive the real GenScope window and save README screenshots.

Run under a (virtual) display:  xvfb-run -a .venv/bin/python scripts/demo_shots.py docs/
Each shot is the real window rendered by Qt (QWidget.grab) after scripted
interaction: hovering and pinning in the latent explorer, a fitted mixture.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.main_window import MainWindow, build_context, parse_args  # noqa: E402


def pump(app: QApplication, seconds: float) -> None:
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def main(out_dir: str) -> None:
    out = Path(out_dir)
    app = QApplication([sys.argv[0]])
    settings = QSettings(str(out / ".demo_settings.ini"), QSettings.Format.IniFormat)
    os.environ.setdefault("GENSCOPE_RUNS", tempfile.mkdtemp(prefix="genscope-demo-runs-"))
    window = MainWindow(build_context(parse_args([]), settings), settings)
    window.resize(1280, 820)
    window.show()
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
    main(sys.argv[1] if len(sys.argv) > 1 else "docs")
