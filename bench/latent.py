"""Latent explorer speed, CPU, bundled VAE. Last line: one JSON object.

decode_p99_ms   99th percentile of one decode (one point -> 28x28)
grid20_ms       median time of a 20x20 manifold grid
iwae1000_ms     median time of log p(x) with k = 1000 for one digit
drag_fps        decoded-image redraws per second while the mouse is dragged
                continuously across the real map widget (offscreen Qt)
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from engine.sampling import latent as lm  # noqa: E402
from engine.cards.bundled import find_bundled  # noqa: E402
from engine.catalog import load_model  # noqa: E402


def timed(fn, repeats: int) -> np.ndarray:
    """Wall times in ms of ``repeats`` calls (after 3 warm-up calls)."""
    for _ in range(3):
        fn()
    out = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        fn()
        out[i] = (time.perf_counter() - start) * 1e3
    return out


def engine_figures(model) -> dict:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(2000, 2))
    it = iter(points)
    decode = timed(lambda: lm.decode_point(model, tuple(next(it))), 1000)
    grid = timed(lambda: lm.decode_grid(model, (-3, 3), (-3, 3), 20), 30)
    digit = (rng.random((28, 28)) > 0.8).astype(np.float32)
    x = torch.from_numpy(digit).reshape(1, 784)
    iwae = timed(lambda: model.iwae_log_likelihood(x, 1000), 20)
    return {
        "decode_p50_ms": round(float(np.percentile(decode, 50)), 3),
        "decode_p99_ms": round(float(np.percentile(decode, 99)), 3),
        "grid20_ms": round(float(np.median(grid)), 2),
        "iwae1000_ms": round(float(np.median(iwae)), 2),
    }


def drag_fps(seconds: float = 3.0) -> dict:
    """Drive QTest mouse moves across the map; count decoded-image updates."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.audio import AudioStatus
    from app.gui_gc import collect_on_gui_thread
    from app.main_window import AppContext
    from app.tabs.latent.explorer import LatentExplorerTab
    from app.worker import EngineWorker
    from engine.data.folder import resolve_data_folder
    from engine.device import select_device

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does (app/gui_gc.py)
    ctx = AppContext(select_device("cpu"), resolve_data_folder(None), EngineWorker(), AudioStatus(True, "bench"))
    tab = LatentExplorerTab(ctx)
    tab.resize(1200, 800)
    tab.show()
    deadline = time.time() + 30
    while tab.current is None and time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)
    shown = []
    original = tab._show_decode
    tab._show_decode = lambda img: (shown.append(time.perf_counter()), original(img))
    viewport = tab.map.viewport()
    w, h = viewport.width(), viewport.height()
    start, i = time.perf_counter(), 0
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(w // 4, h // 2))
    while time.perf_counter() - start < seconds:
        t = i / 200.0
        pos = QPoint(int(w * (0.5 + 0.35 * np.cos(t))), int(h * (0.5 + 0.35 * np.sin(2 * t))))
        QTest.mouseMove(viewport, pos)
        app.processEvents()
        i += 1
    elapsed = time.perf_counter() - start
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    for worker in ctx.all_workers():
        worker.shutdown()
    return {"drag_fps": round(len(shown) / elapsed, 1), "drag_mouse_events": i}


def main() -> None:
    bundled = find_bundled("vae")
    if not bundled.ok:
        print(json.dumps({"error": bundled.problem}))
        sys.exit(1)
    model = load_model(bundled.path)
    figures = {"model": "assets/vae.safetensors", "torch_threads": torch.get_num_threads()}
    figures.update(engine_figures(model))
    figures.update(drag_fps())
    targets = {"decode_p99_ms": ("<=", 2), "grid20_ms": ("<=", 30), "drag_fps": (">=", 30), "iwae1000_ms": ("<=", 100)}
    figures["meets_targets"] = all(
        figures[k] <= v if op == "<=" else figures[k] >= v for k, (op, v) in targets.items()
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
