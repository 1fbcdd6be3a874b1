"""Benchmark: the character Transformer's test bits/char, its key/value cache, and the Sampler's Text page.

One CPU thread. The model: assets/transformer.safetensors when present, else
the checkpoint given by ``--checkpoint`` or ``$GENSCOPE_TRANSFORMER_CHECKPOINT``
(e.g. a run's checkpoints/last.safetensors), else a random-weight model of the
bundled size (the JSON's ``model`` says which).

- ``test_bits_per_char``: the model on the three held-out test plays
  (Macbeth, The Tempest, Twelfth Night; windows of the context moving on by
  half of it), target <= 2.5; needs the Shakespeare works in the data folder
  (else null, with ``test_note`` saying why); ``--test-limit N`` scores the
  first N characters only (the JSON says so); beside it
  ``test_unigram_bits_per_char`` and ``test_bigram_bits_per_char``, the
  n-gram baselines counted on the training works
- ``kv_cache_speedup``: one text of ``context`` - 1 characters (the window
  grows to the full 256-character context) with the key/value cache against
  recomputing the whole window at every step, same model, seed and text
  (checked identical), median of ``--repeats``; target >= 3
- ``chars_per_s_batch1``, ``chars_per_s_batch16``: characters generated per
  second with the cache, 1 and 16 texts at once (``chars_per_s`` holds both)
- ``text_event_loop_p99_ms``: 99th percentile of how late a 10 ms QTimer
  fires on the GUI thread while the real Text page (offscreen, real event
  loop) writes ``--gui-chars`` characters as fast as it goes; target <= 50

    python bench/transformer.py [--repeats 3] [--checkpoint PATH] [--test-limit N] [--no-gui]

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cards.bundled import ASSETS_DIR  # noqa: E402
from engine.catalog import load_model, presets  # noqa: E402
from engine.data.folder import resolve_data_folder  # noqa: E402
from engine.data.text import load_shakespeare  # noqa: E402
from engine.errors import GenScopeError  # noqa: E402
from engine.evaluation.text_eval import bits_per_char, ngram_bits_per_char  # noqa: E402
from engine.models.transformer import CharTransformer  # noqa: E402
from engine.sampling.autoregressive import drain  # noqa: E402
from engine.sampling.text import text_events  # noqa: E402

CHECKPOINT_ENV = "GENSCOPE_TRANSFORMER_CHECKPOINT"
ASCII = "".join(chr(c) for c in range(32, 127)) + "\n"


def bench_model(checkpoint: str | None) -> tuple[CharTransformer, str]:
    """The bundled Transformer, the given checkpoint, or a random-weight model of the bundled size."""
    bundled = ASSETS_DIR / "transformer.safetensors"
    path = bundled if bundled.exists() else Path(checkpoint or os.environ.get(CHECKPOINT_ENV, "") or "/nonexistent")
    if path.exists():
        where = "assets/transformer.safetensors" if path == bundled else str(path)
        return load_model(path, expected_kind="transformer").eval(), where
    torch.manual_seed(0)
    _, hp = presets()["Transformer (Shakespeare)"]
    return CharTransformer(ASCII, **hp).eval(), "random weights (no bundled assets/transformer.safetensors)"


def test_figures(model, limit: int | None) -> dict:
    """Test bits/char of the model and of the unigram and bigram baselines of the training text, with a note on
    what was scored (or why nothing was)."""
    try:
        corpus = load_shakespeare(resolve_data_folder(None).path)
    except GenScopeError as exc:
        return {"test_bits_per_char": None, "test_note": f"no test plays: {exc}"}
    text = corpus.test[:limit] if limit else corpus.test
    out = {"test_note": f"{len(text):,} characters of {corpus.info['test']}" + (" (--test-limit)" if limit else ""),
           "test_unigram_bits_per_char": round(ngram_bits_per_char(corpus.train, text, 1), 4),
           "test_bigram_bits_per_char": round(ngram_bits_per_char(corpus.train, text, 2), 4)}
    try:
        out["test_bits_per_char"] = round(bits_per_char(model, text), 4)
    except GenScopeError as exc:  # a random model's vocabulary may lack a character of the plays
        out.update(test_bits_per_char=None, test_note=str(exc))
    return out


def timed_text(model, n: int, chars: int, method: str, seed: int = 1) -> tuple[float, np.ndarray]:
    """(seconds, values (n, chars)) to write ``chars`` characters of ``n`` texts from an empty prompt."""
    start = time.perf_counter()
    done = drain(text_events(model, "", chars, n=n, seed=seed, method=method))
    return time.perf_counter() - start, done.values


def kv_figures(model, repeats: int) -> dict:
    chars = model.context - 1  # BOS + these fill the whole context window
    fast = [timed_text(model, 1, chars, "fast") for _ in range(repeats)]
    naive = [timed_text(model, 1, chars, "naive") for _ in range(repeats)]
    fast_s, naive_s = statistics.median(t for t, _ in fast), statistics.median(t for t, _ in naive)
    batch16_s, _ = timed_text(model, 16, chars, "fast", seed=2)
    print(f"{chars} characters: cached {fast_s:.3f} s, naive {naive_s:.3f} s; 16 texts {batch16_s:.2f} s",
          file=sys.stderr)
    return {"kv_cache_speedup": round(naive_s / fast_s, 2), "cached_s": round(fast_s, 4), "naive_s": round(naive_s, 4),
            "naive_equals_cached": bool(np.array_equal(fast[0][1], naive[0][1])), "kv_chars": chars,
            "chars_per_s_batch1": round(chars / fast_s, 1), "chars_per_s_batch16": round(16 * chars / batch16_s, 1)}


def event_loop_lateness(model, chars: int) -> tuple[list[float], float]:
    """Lateness (ms) of a 10 ms QTimer on the GUI thread while the real Text page writes ``chars`` characters as
    fast as it goes, and the characters per second it wrote."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from _qt_wait import run_until

    from app.audio import AudioStatus
    from app.gui_gc import collect_on_gui_thread
    from app.main_window import AppContext
    from app.tabs.sampler.text import TextSamplerPage
    from app.tabs.sampler.text_panel import SPEEDS
    from app.worker import EngineWorker
    from engine.checkpoints import save_checkpoint
    from engine.data.folder import DataFolder
    from engine.device import select_device

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does (app/gui_gc.py)
    data = DataFolder(Path(tempfile.mkdtemp()) / "no-data", "explicit")
    context = AppContext(select_device("cpu"), data, EngineWorker("bench"), AudioStatus(False, reason="not needed"), [])
    page = TextSamplerPage(context)
    page.resize(1200, 760)
    page.show()
    path = save_checkpoint(Path(tempfile.mkdtemp()) / "bench.safetensors", model.state_dict(),
                           {"kind": "transformer", "hparams": model.hparams()})
    page.open_checkpoint(path, {"kind": "transformer"})
    run_until(lambda: page.models.path == path and page.model is not None, 60, "the model to load")
    page.inputs.prompt.setPlainText("")
    page.panel.length.setValue(chars)
    page.panel.speed.setCurrentIndex(len(SPEEDS) - 1)
    lateness, last = [], [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1e3 - 10.0))
        last[0] = now

    probe = QTimer(interval=10)
    probe.timeout.connect(tick)
    probe.start()
    start = time.perf_counter()
    job = page.start()
    run_until(lambda: page.finished_job is job, 300, "the text to be written")
    seconds = time.perf_counter() - start
    probe.stop()
    page.shutdown()
    context.sampler.shutdown()
    context.worker.shutdown()
    app.processEvents()
    return lateness, chars / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--checkpoint", default=None, help=f"a transformer checkpoint (else ${CHECKPOINT_ENV})")
    parser.add_argument("--test-limit", type=int, default=None, help="score only the first N test characters")
    parser.add_argument("--gui-chars", type=int, default=600, help="characters the Text page writes")
    parser.add_argument("--no-gui", action="store_true", help="skip text_event_loop_p99_ms (no Qt)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, source = bench_model(args.checkpoint)
    test = test_figures(model, args.test_limit)
    print(f"test: {test}", file=sys.stderr)
    kv = kv_figures(model, args.repeats)
    result = {"bench": "transformer", "model": source, "hparams": {k: v for k, v in model.hparams().items()
                                                                   if k != "vocab"},
              "vocab_size": len(model.vocab), "threads": torch.get_num_threads(),
              **test, **kv,
              "chars_per_s": {"batch1": kv["chars_per_s_batch1"], "batch16": kv["chars_per_s_batch16"]},
              "targets": {"test_bits_per_char": 2.5, "kv_cache_speedup": 3, "text_event_loop_p99_ms": 50}}
    if not args.no_gui:
        lateness, rate = event_loop_lateness(model, args.gui_chars)
        print(f"Text page: {rate:.0f} characters/s, event-loop p99 {np.percentile(lateness, 99):.1f} ms",
              file=sys.stderr)
        result.update(text_event_loop_p99_ms=round(float(np.percentile(lateness, 99)), 2),
                      text_event_loop_p50_ms=round(float(np.percentile(lateness, 50)), 2),
                      text_page_chars_per_s=round(rate, 1), gui_chars=args.gui_chars)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
