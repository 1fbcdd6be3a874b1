"""Training monitor overhead. Last line: one JSON object.

monitor_overhead   1 - (steps/s trained through the GUI tab) / (steps/s headless),
                   same model, data, settings and run length, in one process:
                   the median over ``--repeats`` pairs, each pair a headless
                   run and the GUI run right after it (a pair shares the
                   machine's load, which on a shared machine moves the
                   steps/s of single runs by 2x); ``overhead_of_medians``
                   is 1 - median(GUI) / median(headless), for reference
gui_cpu_share      the GUI thread's share of the process's CPU time from the
                   first to the last step (median): what the GUI costs,
                   hardly moved by other jobs on the machine
event_loop_p99_ms  99th percentile of how late a 10 ms QTimer fires on the
                   GUI thread while the tab trains (event-loop latency)

Both runs: 2-D VAE on the generated offline shapes (no data folder needed),
1 epoch of 5000 images in batches of 32, samples and checkpoints every 50
steps. Medians of ``--repeats`` (default 5) alternating runs. The same two figures,
prefixed ``wavenet_``, for the monitor's unconditional WaveNet on the
generated tones: 40 steps of 8 rows, audio clips and checkpoints every 20
(the clips come from the compiled cached generator, as in the app).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.training.data import DataSpec  # noqa: E402
from engine.catalog import presets, run_model  # noqa: E402
from engine.training.settings import TrainSettings  # noqa: E402
from engine.training.runs import run_training  # noqa: E402
from engine.training.loop import TrainStep  # noqa: E402

SETTINGS = dict(epochs=1, batch_size=32, lr=1e-3, seed=0, sample_every=50, checkpoint_every=50)
# name -> the form's model and data entries, their engine kind/hparams/data set, settings
CONFIGS = {
    "vae": dict(label="VAE (2-D latent)", data_label="Generated shapes (offline)", data=DataSpec("generated"),
                settings=SETTINGS),
    "wavenet": dict(label="WaveNet (unconditional)", data_label="Generated tones (offline)",
                    data=DataSpec("generated_audio", val_limit=64),
                    settings=dict(epochs=1, batch_size=8, lr=2e-3, seed=0, sample_every=20, checkpoint_every=20,
                                  max_steps=40)),
}


def headless(root: Path, config: dict) -> float:
    """Steps per second draining the run generator directly (first step excluded)."""
    kind, hparams = presets()[config["label"]]
    settings = TrainSettings(**{**run_model(kind).settings, **config["settings"]})  # as the tab builds them
    times = []
    for event in run_training(root / "headless", kind=kind, hparams=hparams, data=config["data"],
                              settings=settings, device="cpu"):
        if isinstance(event, TrainStep):
            times.append(time.perf_counter())
    return (len(times) - 1) / (times[-1] - times[0])


def monitored(root: Path, config: dict) -> tuple[float, list[float], float]:
    """Steps per second through the real tab, the event-loop lateness samples (ms), and the GUI thread's share
    of the process's CPU time while it trained."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from _qt_wait import run_until

    from app.audio import AudioStatus
    from app.gui_gc import collect_on_gui_thread
    from app.main_window import AppContext
    from app.tabs.training.monitor import TrainingMonitorTab
    from app.worker import EngineWorker
    from engine.data.folder import DataFolder
    from engine.device import select_device

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does (app/gui_gc.py)
    ctx = AppContext(select_device("cpu"), DataFolder(root / "no-data", "explicit"), EngineWorker(),
                     AudioStatus(True, "bench"))
    tab = TrainingMonitorTab(ctx, root / "gui")
    tab.resize(1300, 850)
    tab.show()
    p = tab.panel
    settings = config["settings"]
    p.model.setCurrentText(config["label"])
    p.data.setCurrentText(config["data_label"])
    p.epochs.setValue(settings["epochs"])
    p.batch.setValue(settings["batch_size"])
    p.lr.setValue(settings["lr"])
    p.sample_every.setValue(settings["sample_every"])
    p.checkpoint_every.setValue(settings["checkpoint_every"])
    if settings.get("max_steps"):  # the form has no step limit: add the headless run's to the tab's settings
        form_inputs = tab._new_run_inputs
        tab._new_run_inputs = lambda values: (lambda st, data: (replace(st, max_steps=settings["max_steps"]), data))(
            *form_inputs(values))
    step_times: list[tuple[float, float, float]] = []  # (wall, GUI thread CPU, process CPU) at each step
    original = tab._add_step
    tab._add_step = lambda e: (step_times.append((time.perf_counter(), time.thread_time(), time.process_time())),
                               original(e))[-1]
    lateness: list[float] = []
    probe = QTimer()
    probe.setInterval(10)
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, (now - last[0]) * 1e3 - 10.0))
        last[0] = now

    probe.timeout.connect(tick)
    probe.start()
    job = tab.start()
    run_until(lambda: p.buttons["Start"].isEnabled(), 600, "the training run to end", poll_ms=50)
    assert job.state.finished
    probe.stop()
    ctx.worker.shutdown()
    tab.close()
    # Steps are stamped when the GUI receives them; throughput from the GUI's view.
    (wall0, gui0, cpu0), (wall1, gui1, cpu1) = step_times[0], step_times[-1]
    return (len(step_times) - 1) / (wall1 - wall0), lateness, (gui1 - gui0) / (cpu1 - cpu0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for both runs (default 1: on 2 cores a second thread "
                             "fights the GUI and any other job)")
    parser.add_argument("--models", default="vae,wavenet", help=f"comma-separated, of: {', '.join(CONFIGS)}")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    result: dict = {}
    for name in args.models.split(","):
        prefix = "" if name == "vae" else f"{name}_"
        result.update({prefix + k: v for k, v in measure(CONFIGS[name], args.repeats).items()})
    result.update({"repeats": args.repeats, "torch_threads": args.threads})
    print(json.dumps(result))


def measure(config: dict, repeats: int) -> dict:
    """Overhead and event-loop lateness of one config: medians of ``repeats`` alternating runs."""
    heads, guis, lateness, shares = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeats):
            heads.append(headless(Path(tmp) / f"h{i}", config))
            gui, late, share = monitored(Path(tmp) / f"g{i}", config)
            guis.append(gui)
            shares.append(share)
            lateness += late[5:]  # skip start-up
    head, gui = statistics.median(heads), statistics.median(guis)
    pairs = [1 - g / h for h, g in zip(heads, guis)]
    return {
        "monitor_overhead": round(statistics.median(pairs), 4),
        "runs_overhead": [round(p, 4) for p in pairs],
        "overhead_of_medians": round(1 - gui / head, 4),
        "gui_cpu_share": round(statistics.median(shares), 4),
        "event_loop_p99_ms": round(float(np.percentile(lateness, 99)), 2),
        "event_loop_p50_ms": round(float(np.percentile(lateness, 50)), 2),
        "headless_steps_per_s": round(head, 2), "gui_steps_per_s": round(gui, 2),
        "runs_headless": [round(h, 2) for h in heads], "runs_gui": [round(g, 2) for g in guis],
        "settings": config["settings"], "model": f"{config['label']}, {config['data_label']}",
    }


if __name__ == "__main__":
    main()
