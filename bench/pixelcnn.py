"""Benchmark: PixelCNN sampling speed, fast (row cache + compiled step) against naive (full pass per pixel).

One CPU thread (torch.set_num_threads(1)), the bundled model
assets/pixelcnn.safetensors when present, else a random-weight model of the
same default size (the JSON says which). Both samplers draw the same 28x28
image from the same seed; the bench checks they are identical.

- ``sample_s``: one image, fast sampler (median of ``--repeats``), target <= 1.0
- ``naive_s`` and ``speedup_fast_vs_naive`` = naive_s / sample_s, target >= 10
- ``batch16_s``: 16 images at once, fast sampler, target <= 5
- ``first_call_s``: the first fast image of the process (includes loading the
  compiled numba step from its cache, or compiling it on a fresh checkout)
- ``paint_fps``: redraws per second of the Sampler tab's live canvas (the real
  page, offscreen, real Qt event loop) from its first painted pixel to the
  end of the real sampler job,
  target >= 30: the lower of ``paint_fps_watch`` (one image at the default
  400 pixels/s) and ``paint_fps_full_speed`` (16 images as fast as the
  worker goes); ``paint_pixels_per_s`` is the painting speed of the latter
  (compare with 16 x 784 / batch16_s headless)

    python bench/pixelcnn.py [--repeats 3] [--strategy top-p --top-p 0.9] [--no-gui]

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cards.bundled import ASSETS_DIR  # noqa: E402
from engine.sampling.decoding import make_strategy  # noqa: E402
from engine.models import pixelcnn_kernels  # noqa: E402
from engine.models.pixelcnn import PixelCNN  # noqa: E402
from engine.catalog import load_model  # noqa: E402
from engine.sampling.pixelcnn import sample  # noqa: E402


def bench_model() -> tuple[PixelCNN, str]:
    """The bundled PixelCNN, or a same-size random-weight one."""
    path = ASSETS_DIR / "pixelcnn.safetensors"
    if path.exists():
        return load_model(path, expected_kind="pixelcnn"), "assets/pixelcnn.safetensors"
    torch.manual_seed(0)
    return PixelCNN(channels=32, layers=6).eval(), "random weights (no bundled assets/pixelcnn.safetensors)"


def timed(fn) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def paint_fps(n_images: int, speed: int | None) -> tuple[float, float]:
    """(redraws per second, pixels per second) of the real Sampler page painting ``n_images`` at ``speed``."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from _qt_wait import run_until

    from app.audio import AudioStatus
    from app.gui_gc import collect_on_gui_thread
    from app.main_window import AppContext
    from app.tabs.sampler.image import ImageSamplerPage
    from app.tabs.sampler.image_panel import SPEEDS
    from app.worker import EngineWorker
    from engine.data.folder import DataFolder
    from engine.device import select_device

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does (app/gui_gc.py)
    data = DataFolder(Path(tempfile.mkdtemp()) / "no-data", "explicit")
    audio = AudioStatus(False, reason="not needed here")
    context = AppContext(select_device("cpu"), data, EngineWorker("bench"), audio, [])
    page = ImageSamplerPage(context)
    page.resize(1200, 760)
    page.show()
    run_until(lambda: page.model is not None, 60, "the bundled model to load")
    page.panel.mode.setCurrentText("Single image" if n_images == 1 else "Batch grid")
    page.panel.n_images.setValue(n_images)
    page.panel.speed.setCurrentIndex([s for _, s in SPEEDS].index(speed))
    first: list[tuple[float, int]] = []  # (time, redraws) when the first pixel arrived

    def probe() -> None:
        if not first and page.board.ticks > 0:
            first.append((time.perf_counter(), page.redraws))

    timer = QTimer(interval=1)
    timer.timeout.connect(probe)
    timer.start()
    job = page.start()
    run_until(lambda: job.state.finished, 300, "the painting to finish")
    timer.stop()
    seconds = time.perf_counter() - first[0][0]
    fps = (page.redraws - first[0][1]) / seconds
    page.shutdown()
    context.worker.shutdown()
    app.processEvents()
    return fps, n_images * 784 / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--strategy", default="sample")
    parser.add_argument("--top-p", type=float, default=None)
    parser.add_argument("--no-gui", action="store_true", help="skip paint_fps (no Qt)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    strategy = make_strategy(args.strategy, top_p=args.top_p)
    model, source = bench_model()

    first_s, _ = timed(lambda: sample(model, 1, strategy=strategy, seed=0))
    fast = [timed(lambda: sample(model, 1, strategy=strategy, seed=1)) for _ in range(args.repeats)]
    sample_s = statistics.median(t for t, _ in fast)
    print(f"fast sampler: {sample_s:.3f} s per image (first call {first_s:.2f} s)", file=sys.stderr)
    naive_s, naive = timed(lambda: sample(model, 1, strategy=strategy, seed=1, method="naive"))
    print(f"naive sampler: {naive_s:.2f} s per image", file=sys.stderr)
    batch16_s, _ = timed(lambda: sample(model, 16, strategy=strategy, seed=2))
    print(f"16 images: {batch16_s:.2f} s", file=sys.stderr)
    result = {
        "bench": "pixelcnn_sampling",
        "model": source,
        "hparams": model.hparams(),
        "strategy": strategy.describe(),
        "threads": torch.get_num_threads(),
        "compiled_step": bool(pixelcnn_kernels.HAVE_NUMBA),
        "sample_s": round(sample_s, 4),
        "naive_s": round(naive_s, 3),
        "speedup_fast_vs_naive": round(naive_s / sample_s, 1),
        "batch16_s": round(batch16_s, 3),
        "first_call_s": round(first_s, 3),
        "naive_equals_fast": bool(np.array_equal(naive.image, fast[0][1].image)),
        "targets": {"sample_s": 1.0, "speedup_fast_vs_naive": 10, "batch16_s": 5, "paint_fps": 30},
    }
    if not args.no_gui:
        watch_fps, _ = paint_fps(1, 400)
        full_fps, pixels_per_s = paint_fps(16, None)
        print(f"live canvas: {watch_fps:.1f} redraws/s watching one image, {full_fps:.1f} at full speed "
              f"({pixels_per_s:.0f} pixels/s)", file=sys.stderr)
        result.update(paint_fps=round(min(watch_fps, full_fps), 1), paint_fps_watch=round(watch_fps, 1),
                      paint_fps_full_speed=round(full_fps, 1), paint_pixels_per_s=round(pixels_per_s))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
