"""File › Download data sets marks what is already there; the README's sampler examples paint digits."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMenu

from engine.data.folder import DataFolder, shared_data_dir
from engine.data.registry import DATASETS

ROOT = Path(__file__).resolve().parents[2]
SHARED = shared_data_dir()


def download_menu(window):
    (menu,) = [m for m in window.findChildren(QMenu) if m.title() == "Do&wnload data sets"]
    return menu


def shown_marks(qtbot, menu):
    """Open the menu as a user does (aboutToShow refreshes it) and read each entry's mark."""
    menu.popup(QPoint(0, 0))
    qtbot.waitUntil(menu.isVisible, timeout=2000)
    marks = {a.text(): a.isChecked() for a in menu.actions()}
    menu.close()
    return marks


def test_download_menu_marks_nothing_in_an_empty_folder(qtbot, make_window, tmp_path):
    window = make_window(data=DataFolder(tmp_path / "empty", "explicit"))
    marks = shown_marks(qtbot, download_menu(window))
    assert len(marks) == len(DATASETS) and not any(marks.values())
    assert all("not yet here" in text for text in marks)


@pytest.mark.skipif(SHARED is None or not DATASETS["faithful"].is_present(SHARED), reason="no shared data folder")
def test_download_menu_marks_the_sets_already_present(qtbot, make_window, tmp_path):
    window = make_window(data=DataFolder(tmp_path / "data", "explicit"))
    menu = download_menu(window)
    assert not any(shown_marks(qtbot, menu).values())
    window.set_data_folder(SHARED)  # what File › Choose data folder… does once a folder is picked
    marks = shown_marks(qtbot, menu)
    for key, spec in DATASETS.items():
        present = spec.is_present(SHARED)
        (text,) = [t for t in marks if t.startswith(spec.title)]
        assert marks[text] == present and ("present" in text) == present, text


def readme_sample_examples() -> list[list[str]]:
    """Every `python -m engine sample pixelcnn ...` line of the README, as argv after `-m engine`."""
    lines = re.findall(r"python -m engine (sample pixelcnn [^`#\n]*)", (ROOT / "README.md").read_text())
    return [shlex.split(line) for line in lines]


def ink_share(png: Path) -> float:
    image = QImage(str(png)).convertToFormat(QImage.Format.Format_Grayscale8)
    rows = np.frombuffer(image.constBits(), np.uint8, count=image.bytesPerLine() * image.height())
    pixels = rows.reshape(image.height(), -1)[:, : image.width()]
    return float((pixels > 127).mean())


@pytest.mark.parametrize("argv", readme_sample_examples(), ids=" ".join)
def test_readme_sampler_examples_paint_digits(argv, tmp_path):
    out = tmp_path / "grid.png"
    argv = [a if not a.endswith(".png") else str(out) for a in argv]
    done = subprocess.run([sys.executable, "-m", "engine", *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=200)
    assert done.returncode == 0, done.stderr
    assert ink_share(out) > 0.05, f"`{' '.join(argv)}` writes (nearly) blank images"


def test_readme_has_sampler_examples():
    assert readme_sample_examples(), "the README's sampler example lines are what the test above checks"
