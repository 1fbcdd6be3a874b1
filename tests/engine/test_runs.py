"""Run folders and the run generator: layout, live controls, divergence rollback, stop/kill/resume, listing."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import engine.cli.main as cli
from engine.checkpoints import load_checkpoint, read_config
from engine.data.generated import generated_digits
from engine.errors import ConfigError, DataError, GenScopeError
from engine.catalog import load_model
from engine.models.vae import VAE
from engine.training.folder import optimizer_tensors, restore_optimizer, run_status
from engine.catalog import check_run
from engine.training.runs import (CheckpointSaved, Controls, DataSpec, Diverged, EpochEnd, RunFinished, RunStarted,
                         SamplesReady, SettingChanged, TrainSettings, TrainStep, list_runs, load_metrics,
                         load_samples, open_run, run_training, sample_files)

ROOT = Path(__file__).resolve().parents[2]
HP = {"latent_dim": 2, "hidden": [16]}
DATA = DataSpec("generated", size=96)  # 6 batches of 16


def settings(**kw) -> TrainSettings:
    base = dict(epochs=1, batch_size=16, checkpoint_every=100, sample_every=100, log_every=2, device="cpu",
                sample_count=4, code_count=20, seed=3, threads=1)  # tiny ops: 2 threads on busy cores crawl
    return TrainSettings(**{**base, **kw})


def start(run_dir, **kw):
    return run_training(run_dir, kind=kw.pop("kind", "vae"), hparams=kw.pop("hparams", HP), data=kw.pop("data", DATA),
                        settings=kw.pop("settings", settings()), **kw)


def advance_to_step(events, step: int) -> list:
    """Advance until the TrainStep ``step`` has been yielded; return the events seen."""
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, TrainStep) and event.step == step:
            return seen
    raise AssertionError(f"the run ended before step {step}")


def step_records(run_dir) -> list[int]:
    return [r["step"] for r in load_metrics(run_dir) if r["type"] == "step"]


def test_run_folder_layout_and_events(tmp_path):
    run = tmp_path / "run"
    events = list(start(run, settings=settings(epochs=2, checkpoint_every=4, sample_every=5)))
    assert isinstance(events[0], RunStarted) and events[0].total_steps == 12 and not events[0].resumed
    assert isinstance(events[-1], RunFinished) and events[-1] == RunFinished("finished", 12)
    assert [e.step for e in events if isinstance(e, TrainStep)] == list(range(1, 13))
    assert [e.step for e in events if isinstance(e, CheckpointSaved)] == [4, 8, 12]
    ends = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in ends] == [1, 2] and "loss" in ends[-1].val

    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "vae" and config["hparams"]["hidden"] == [16] and config["settings"]["batch_size"] == 16
    assert config["data"]["dataset"] == "generated shapes" and {"created", "engine_version"} <= config.keys()
    records = load_metrics(run)
    assert step_records(run) == list(range(1, 13))
    first = next(r for r in records if r["type"] == "step")
    assert {"epoch", "loss", "metrics", "lr", "grad_norm", "samples_per_s", "time"} <= first.keys()
    assert {r["type"] for r in records} >= {"status", "step", "epoch", "checkpoint", "samples"}

    ckpt = read_config(run / "checkpoints" / "last.safetensors")
    assert ckpt["step"] == 12 and ckpt["epoch"] == 3
    assert isinstance(load_model(run / "checkpoints" / "last.safetensors"), VAE)
    opt = load_checkpoint_tensors(run / "checkpoints" / "optimizer.safetensors")
    assert {"state.0.exp_avg", "state.0.exp_avg_sq", "state.0.step"} <= opt.keys()
    assert json.loads((run / "checkpoints" / "state.json").read_text())["step"] == 12

    samples = [e for e in events if isinstance(e, SamplesReady)]
    assert [s.step for s in samples] == [5, 10, 12]  # every 5 steps and at the end
    assert samples[0].images.shape == (4, 28, 28) and samples[0].images.dtype == np.float16
    assert samples[0].codes.shape == (20, 2) and samples[0].labels.shape == (20,)
    assert [p.name for p in sample_files(run)] == ["step_000005.npz", "step_000010.npz", "step_000012.npz"]
    stored = load_samples(samples[-1].path)
    np.testing.assert_array_equal(stored["images"], samples[-1].images)


def load_checkpoint_tensors(path: Path) -> dict:
    from safetensors.torch import load

    return load(path.read_bytes())


def test_controls_change_lr_and_beta_at_the_next_step(tmp_path):
    controls = Controls()
    loop = open_run(tmp_path / "run", kind="vae", hparams=HP, data=DATA, settings=settings(), controls=controls)
    events = loop.events()
    advance_to_step(events, 2)
    controls.set_lr(2e-4)
    controls.set_beta(4.0)
    seen = advance_to_step(events, 3)
    changes = [e for e in seen if isinstance(e, SettingChanged)]
    assert changes == [SettingChanged(2, "lr", 2e-4), SettingChanged(2, "beta", 4.0)]
    assert seen[-1].lr == pytest.approx(2e-4) and loop.opt.param_groups[0]["lr"] == pytest.approx(2e-4)
    assert loop.model.beta == 4.0
    events.close()
    records = [r for r in load_metrics(tmp_path / "run") if r["type"] == "setting"]
    assert [(r["step"], r["name"], r["value"]) for r in records] == [(2, "lr", 2e-4), (2, "beta", 4.0)]
    with pytest.raises(ConfigError):
        controls.set_lr(-1)
    with pytest.raises(ConfigError):
        controls.set_lr(float("nan"))
    with pytest.raises(ConfigError):
        controls.set_beta(0)


def test_autoencoder_has_no_beta_to_change(tmp_path):
    controls = Controls()
    open_run(tmp_path / "ae", kind="autoencoder", hparams=HP, data=DATA, settings=settings(), controls=controls)
    with pytest.raises(ConfigError, match="no beta"):
        controls.set_beta(2.0)
    controls.set_lr(1e-4)


class BadAtStep(VAE):
    """A VAE whose loss (or gradient) goes non-finite on its ``bad_call``-th training call."""

    def __init__(self, bad_call: int, what: str, **hp):
        super().__init__(**hp)
        self.bad_call, self.what, self.calls, self.hook = bad_call, what, 0, None

    def loss(self, x, generator=None):
        loss, metrics = super().loss(x, generator)
        if self.training:
            self.calls += 1
            if self.calls == self.bad_call and self.what == "loss":
                loss = loss * float("nan")
            elif self.calls == self.bad_call:
                w = self.decoder.net[0].weight
                self.hook = w.register_hook(lambda g: torch.full_like(g, float("inf")))
            elif self.hook is not None:
                self.hook.remove()
                self.hook = None
        return loss, metrics


@pytest.mark.parametrize("what", ["loss", "gradient"])
def test_divergence_rolls_back_pauses_and_continues(tmp_path, what):
    torch.manual_seed(0)
    model, paused = BadAtStep(5, what, **HP), []
    controls = Controls(on_diverged=lambda: paused.append(True))
    run = tmp_path / "run"
    events = run_training(run, model=model, data=DATA, settings=settings(checkpoint_every=3), controls=controls)
    seen = []
    for event in events:
        seen.append(event)
        if isinstance(event, Diverged):
            break
    assert seen[-1] == Diverged(5, what, 3) and paused == [True]
    assert [e.step for e in seen if isinstance(e, TrainStep)] == [1, 2, 3, 4]
    good = load_checkpoint(run / "checkpoints" / "last.safetensors").state_dict
    for name, value in model.state_dict().items():
        assert torch.isfinite(value).all() and torch.equal(value, good[name]), name
    records = load_metrics(run)
    assert records[-1]["type"] == "status" and records[-1]["status"] == "diverged"
    assert run_status(records) == "diverged"
    controls.set_lr(1e-4)  # what a user would do before resuming
    after = advance_to_step(events, 6)
    assert isinstance(after[0], SettingChanged) and after[-1].lr == pytest.approx(1e-4)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    events.close()
    assert run_status(load_metrics(run)) == "stopped"


def test_close_saves_a_final_checkpoint_and_resume_is_exact(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    events = start(a)
    advance_to_step(events, 3)
    events.close()
    assert read_config(a / "checkpoints" / "last.safetensors")["step"] == 3
    assert [r.status for r in list_runs(tmp_path)] == ["stopped"]
    resumed = open_run(a, resume=True)
    assert resumed.step == 3
    rest = list(resumed.events())
    assert isinstance(rest[0], RunStarted) and rest[0].resumed and rest[0].step == 3
    assert [e.step for e in rest if isinstance(e, TrainStep)] == [4, 5, 6]
    whole = open_run(b, kind="vae", hparams=HP, data=DATA, settings=settings())
    list(whole.events())
    for name, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert step_records(a) == list(range(1, 7))


def test_sigkill_mid_run_then_resume_continues_without_duplicates(tmp_path):
    run = tmp_path / "killed"
    cmd = [sys.executable, "-m", "engine", "--device", "cpu", "train", "vae", "--dataset", "generated",
           "--limit", "400", "--hidden", "16", "--epochs", "200", "--batch-size", "16", "--checkpoint-every", "4",
           "--sample-every", "0", "--threads", "1", "--run-dir", str(run)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 90
        while not any(r["type"] == "checkpoint" and r["step"] >= 8 for r in load_metrics(run)):
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint within 90 s"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert [r.status for r in list_runs(tmp_path)] == ["crashed"]
    saved = read_config(run / "checkpoints" / "last.safetensors")["step"]
    assert saved >= 8 and saved % 4 == 0
    events = run_training(run, resume=True)
    seen = advance_to_step(events, saved + 2)
    events.close()
    assert [e.step for e in seen if isinstance(e, TrainStep)] == [saved + 1, saved + 2]
    steps = step_records(run)
    assert steps == list(range(1, len(steps) + 1)) and steps[-1] >= saved + 2


def test_list_runs_reports_each_status(tmp_path):
    list(start(tmp_path / "done"))
    stopped = start(tmp_path / "stopped")
    advance_to_step(stopped, 1)
    stopped.close()
    crashing = run_training(tmp_path / "crashed", model=Exploding(2, **HP), data=DATA, settings=settings())
    with pytest.raises(RuntimeError, match="boom"):
        list(crashing)
    running = start(tmp_path / "running")
    advance_to_step(running, 2)
    diverged = run_training(tmp_path / "diverged", model=BadAtStep(2, "loss", **HP), data=DATA, settings=settings())
    next(e for e in diverged if isinstance(e, Diverged))
    diverged.close()
    (tmp_path / "not-a-run").mkdir()
    infos = {r.name: r for r in list_runs(tmp_path)}
    assert {n: r.status for n, r in infos.items()} == {"done": "finished", "stopped": "stopped", "crashed": "crashed",
                                                        "running": "running", "diverged": "diverged"}
    assert infos["done"].step == 6 and infos["done"].kind == "vae" and infos["running"].loss > 0
    running.close()
    assert {r.name: r.status for r in list_runs(tmp_path)}["running"] == "stopped"


class Exploding(VAE):
    def __init__(self, at: int, **hp):
        super().__init__(**hp)
        self.at, self.calls = at, 0

    def loss(self, x, generator=None):
        self.calls += 1
        if self.calls == self.at:
            raise RuntimeError("boom")
        return super().loss(x, generator)


def test_load_metrics_tolerates_a_cut_off_last_line(tmp_path):
    lines = [json.dumps({"type": "step", "step": i, "loss": 1.0 / i}) for i in (1, 2)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"type": "step", "st')
    assert [r["step"] for r in load_metrics(tmp_path)] == [1, 2]
    assert load_metrics(tmp_path / "nothing-here") == []


def test_unwritable_run_folder_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder")
    with pytest.raises(GenScopeError, match="Cannot create the run folder .*file.txt"):
        next(start(blocker / "run"))


def test_existing_run_and_missing_data_are_clear_errors(tmp_path):
    list(start(tmp_path / "run"))
    with pytest.raises(GenScopeError, match="already holds a run"):
        next(start(tmp_path / "run"))
    with pytest.raises(DataError, match="python -m engine download mnist") as info:
        next(start(tmp_path / "mnist-run", data=DataSpec("mnist", folder=str(tmp_path / "empty"))))
    assert str(tmp_path / "empty") in str(info.value) and not (tmp_path / "mnist-run").exists()
    with pytest.raises(ConfigError):
        TrainSettings(batch_size=0)


def test_optimizer_state_round_trips_without_pickles():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.ones(4, 3)).sum().backward()
    opt.step()
    tensors, meta = optimizer_tensors(opt)
    assert set(tensors) == {f"state.{i}.{k}" for i in (0, 1) for k in ("step", "exp_avg", "exp_avg_sq")}
    twin = torch.optim.Adam(model.parameters(), lr=0.5)
    restore_optimizer(twin, tensors, json.loads(json.dumps(meta)))
    assert twin.param_groups[0]["lr"] == 0.01
    assert torch.equal(twin.state_dict()["state"][1]["exp_avg"], opt.state_dict()["state"][1]["exp_avg"])


def test_generated_digits_are_seeded_and_distinct():
    images, labels = generated_digits(20, seed=1)
    again, _ = generated_digits(20, seed=1)
    assert images.shape == (20, 28, 28) and images.dtype == np.uint8 and list(labels[:10]) == list(range(10))
    np.testing.assert_array_equal(images, again)
    assert images.max() == 255 and 0.03 < (images > 127).mean() < 0.4
    assert not np.array_equal(images[0], images[1]) and not np.array_equal(images, generated_digits(20, seed=2)[0])


def test_cli_trains_and_resumes_a_run_folder(tmp_path, capsys):
    run = tmp_path / "cli-run"
    base = ["--device", "cpu", "train", "vae", "--dataset", "generated", "--limit", "64", "--hidden", "16",
            "--batch-size", "16", "--checkpoint-every", "2", "--sample-every", "3", "--run-dir", str(run)]
    out = tmp_path / "exported.safetensors"
    assert cli.main([*base, "--epochs", "1", "--out", str(out), "--tensorboard"]) == 0
    assert step_records(run) == [1, 2, 3, 4] and read_config(run / "checkpoints" / "last.safetensors")["step"] == 4
    assert read_config(out)["step"] == 4 and [p.name for p in sample_files(run)] == ["step_000003.npz", "step_000004.npz"]
    if importlib.util.find_spec("tensorboard") is None:
        assert "tensorboard package is not installed" in capsys.readouterr().err
    assert cli.main([*base, "--resume", "--set-lr", "1e-4"]) == 0
    assert "finished at step 4" in capsys.readouterr().out
    assert len(sample_files(run)) == 2 and step_records(run) == [1, 2, 3, 4]
    assert cli.main(["train", "vae", "--epochs", "1"]) == 2
    assert "--out" in capsys.readouterr().err


TINY_PIXELCNN = {"channels": 4, "layers": 2, "head": 8}


def test_pixelcnn_run_logs_bits_per_dim_writes_sample_grids_and_resumes(tmp_path):
    run, controls = tmp_path / "pixelcnn", Controls()
    events = run_training(run, kind="pixelcnn", hparams=TINY_PIXELCNN, data=DATA, controls=controls,
                          settings=settings(sample_every=3, checkpoint_every=3))
    advance_to_step(events, 4)
    with pytest.raises(ConfigError, match="no beta"):
        controls.set_beta(2.0)
    events.close()
    steps = [r for r in load_metrics(run) if r["type"] == "step"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    for r in steps:  # bits/dim is the loss (nats per image) over 784 ln 2
        assert r["metrics"]["bits_per_dim"] == pytest.approx(r["loss"] / (784 * np.log(2)), rel=1e-5)
    grid = load_samples(sample_files(run)[0])
    assert set(grid) == {"images"} and grid["images"].shape == (4, 28, 28)
    assert set(np.unique(grid["images"])) <= {0.0, 1.0}  # binary images, no latent codes

    rest = list(run_training(run, resume=True))
    assert rest[0].resumed and rest[0].step == 4 and isinstance(rest[-1], RunFinished)
    assert [e.step for e in rest if isinstance(e, TrainStep)] == [5, 6]
    assert "bits_per_dim" in next(e for e in rest if isinstance(e, EpochEnd)).val
    assert [p.name for p in sample_files(run)] == ["step_000003.npz", "step_000006.npz"]
    again = [e for e in run_training(tmp_path / "twin", kind="pixelcnn", hparams=TINY_PIXELCNN, data=DATA,
                                     settings=settings(sample_every=3)) if isinstance(e, SamplesReady)]
    np.testing.assert_array_equal(again[-1].images, load_samples(sample_files(run)[-1])["images"])  # same seed


def test_pixelcnn_runs_refuse_grey_levels_and_foreign_data(tmp_path):
    with pytest.raises(ConfigError, match="levels = 2"):
        next(run_training(tmp_path / "grey", kind="pixelcnn", hparams={**TINY_PIXELCNN, "levels": 16}, data=DATA))
    assert not (tmp_path / "grey").exists()
    with pytest.raises(ConfigError, match="cannot train on"):
        check_run("vae", {}, "speech")


def test_cli_trains_a_pixelcnn_run_with_its_defaults(tmp_path):
    run = tmp_path / "cli-pixelcnn"
    assert cli.main(["--device", "cpu", "train", "pixelcnn", "--dataset", "generated", "--limit", "32", "--channels",
                     "4", "--layers", "2", "--batch-size", "16", "--epochs", "1", "--threads", "1", "--run-dir", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "pixelcnn" and config["hparams"]["channels"] == 4
    assert config["settings"]["sample_count"] == 16 and config["data"]["spec"]["val_limit"] == 2000
    assert step_records(run) == [1, 2] and load_samples(sample_files(run)[-1])["images"].shape == (16, 28, 28)


TINY_WAVENET = {"levels": 256, "residual": 4, "skip": 8, "layers_per_stack": 3, "stacks": 1, "cond_classes": 10,
                "sample_rate": 8000}
AUDIO = DataSpec("generated_audio", size=200, segment=200)  # 20 clips x 0.5 s -> 400 rows of 200 samples


def test_wavenet_run_logs_bits_per_sample_writes_audio_clips_and_resumes(tmp_path):
    run = tmp_path / "wavenet"
    events = run_training(run, kind="wavenet", hparams=TINY_WAVENET, data=AUDIO,
                          settings=settings(sample_every=3, checkpoint_every=3, batch_size=8, sample_count=2))
    seen = advance_to_step(events, 4)
    events.close()
    steps = [r for r in load_metrics(run) if r["type"] == "step"]
    for r in steps:
        assert r["metrics"]["bits_per_sample"] == pytest.approx(r["loss"] / np.log(2), rel=1e-5)
    ready = next(e for e in seen if isinstance(e, SamplesReady))
    assert ready.images is None and ready.audio.shape == (2, 8000) and ready.rate == 8000
    clips = load_samples(sample_files(run)[0])
    assert clips["audio"].shape == (2, 8000) and int(clips["rate"]) == 8000 and np.abs(clips["audio"]).max() <= 1
    rest = list(run_training(run, resume=True, settings=settings(epochs=1, batch_size=8, sample_count=2,
                                                                    sample_every=3, checkpoint_every=3)))
    assert rest[0].step == 4 and isinstance(rest[-1], RunFinished)
    assert "bits_per_sample" in next(e for e in rest if isinstance(e, EpochEnd)).val


def test_wavenet_runs_refuse_image_data_and_other_rates(tmp_path):
    with pytest.raises(ConfigError, match="cannot train on"):
        next(run_training(tmp_path / "w", kind="wavenet", hparams=TINY_WAVENET, data=DATA))
    with pytest.raises(ConfigError, match="sample_rate = 8000"):
        next(run_training(tmp_path / "w", kind="wavenet", hparams={**TINY_WAVENET, "sample_rate": 16000}, data=AUDIO))
    assert not (tmp_path / "w").exists()


def test_cli_trains_a_wavenet_run_on_generated_tones(tmp_path):
    run = tmp_path / "cli-wavenet"
    assert cli.main(["--device", "cpu", "train", "wavenet", "--dataset", "generated_audio", "--limit", "16",
                     "--residual", "4", "--skip", "8", "--layers-per-stack", "3", "--stacks", "1", "--segment", "256",
                     "--batch-size", "8", "--epochs", "1", "--threads", "1", "--run-dir", str(run)]) == 0
    config = json.loads((run / "config.json").read_text())
    assert config["kind"] == "wavenet" and config["hparams"]["cond_name"] == "note"
    assert config["data"]["spec"]["segment"] == 256 and step_records(run) == [1, 2]
    assert load_samples(sample_files(run)[-1])["audio"].shape == (2, 8000)
    assert cli.main(["train", "wavenet", "--condition", "speaker", "--run-dir", str(tmp_path / "x")]) == 2


def test_weight_decay_trains_with_adamw_and_shrinks_the_weights(tmp_path):
    with pytest.raises(ConfigError, match="weight_decay"):
        settings(weight_decay=1.5)
    norms = {}
    for wd in (0.0, 0.5):
        loop = open_run(tmp_path / f"wd{wd}", kind="vae", hparams=HP, data=DATA, settings=settings(weight_decay=wd))
        assert type(loop.opt).__name__ == ("AdamW" if wd else "Adam")
        for _ in loop.events():
            pass
        norms[wd] = sum(float(p.detach().square().sum()) for p in loop.model.parameters())
    assert norms[0.5] < norms[0.0]
