"""engine.training.history: a run folder's metrics.jsonl as the Training monitor's curves."""

import json
from dataclasses import asdict

import numpy as np

from engine.training.history import LOSS, PLOTS, TERMS, TRAIN_LOSS, run_curves, step_points, train_step, val_points
from engine.training.loop import TrainStep

NAMES = {"bpd": "bits/dim"}


def _write(run_dir, records):
    run_dir.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps({**r, "time": 0.0}) for r in records]
    (run_dir / "metrics.jsonl").write_text("\n".join(lines) + "\n{\"type\": \"step\", \"st", encoding="utf-8")


def test_a_step_record_is_the_event_it_was_logged_from():
    e = TrainStep(7, 1, 2.5, {"bpd": 1.25}, 1e-3, 0.5, 300.0)
    assert train_step({"type": "step", **asdict(e), "time": 1.0}) == e
    points = step_points(e, NAMES)
    assert points == [(LOSS, "train loss", 2.5), (TERMS, "bits/dim", 1.25), (PLOTS[2], "grad norm", 0.5),
                      (PLOTS[3], "lr", 1e-3), (PLOTS[4], "examples/s", 300.0)]
    assert val_points({"loss": 2.0, "bpd": 1.1}, NAMES) == [(LOSS, "val loss", 2.0), (TERMS, "val bits/dim", 1.1)]


def test_run_curves_replays_steps_epochs_and_settings(tmp_path):
    steps = [TrainStep(s, 0, 3.0 - s / 10, {"bpd": 2.0 - s / 20}, 1e-3, 1.0, 100.0) for s in (1, 2, 3)]
    _write(tmp_path, [{"type": "status", "step": 0, "status": "running"},
                      *({"type": "step", **asdict(e)} for e in steps[:2]),
                      {"type": "setting", "step": 2, "name": "lr", "value": 5e-4},
                      {"type": "step", **asdict(steps[2])},
                      {"type": "epoch", "step": 3, "epoch": 0, "train": {"loss": 2.8}, "val": {"loss": 2.9, "bpd": 1.9}},
                      {"type": "checkpoint", "step": 3, "path": "x"}])
    history = run_curves(tmp_path, NAMES)
    x, y = history.curves[TRAIN_LOSS]
    np.testing.assert_allclose(x, [1, 2, 3])
    np.testing.assert_allclose(y, [2.9, 2.8, 2.7])
    np.testing.assert_allclose(history.curves[TERMS, "bits/dim"][1], [1.95, 1.9, 1.85])
    assert [tuple(a.tolist()) for a in history.curves[TERMS, "val bits/dim"]] == [(3.0,), (1.9,)]
    assert [tuple(a.tolist()) for a in history.curves[LOSS, "val loss"]] == [(3.0,), (2.9,)]
    assert history.settings == [(2, "lr", 5e-4)]
    live = {}  # what the monitor draws live from the same events
    for e in steps:
        for plot, series, value in step_points(e, NAMES):
            live.setdefault((plot, series), []).append(value)
    for key, values in live.items():
        np.testing.assert_allclose(history.curves[key][1], values)


def test_run_curves_of_a_run_without_metrics_is_empty(tmp_path):
    history = run_curves(tmp_path / "nothing-here")
    assert history.curves == {} and history.settings == []
