"""The step loop of a training run: one optimizer step per advance, checkpoints, samples, rollback.

:class:`RunLoop` is built by :func:`engine.training.runs.run_training`; its
:meth:`RunLoop.events` generator is what the GUI worker, the CLI and the
tests advance. State lives in the loop object and is consistent at every
yield, so closing the generator at any event saves a checkpoint that
resumes exactly there. Batches: epoch e walks a permutation seeded by
(seed, e), so a resumed run skips the batches it already did; under DDP
each rank takes its slice of that permutation (:func:`engine.training.distributed.shard`).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import math
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict

import numpy as np
import torch
from torch import nn

from engine.training import distributed
from engine.checkpoints import load_into, save_checkpoint
from engine.device import make_generator, torch_threads
from engine.errors import GenScopeError
from engine.events import Message, Progress
from engine.training.data import RunData, fixed_latents, fixed_subset, make_samples
from engine.training.folder import RunFolder, SavedState, restore_optimizer
from engine.training.settings import Controls, Diverged, RunFinished, RunStarted, SamplesReady, SettingChanged, TrainSettings
from engine.catalog import check_work, live_controls
from engine.training.step import (CheckpointSaved, EpochEnd, Means, TrainStep, batch_tensor, checkpoint_config,
                                  evaluate)


def mix_seed(*parts: object) -> int:
    """A 56-bit seed derived from ``parts`` (stable across runs and platforms)."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:7], "little")


class RunLoop:
    """One run in memory: model, optimizer, data, position (epoch, batch, step) and the last good state."""

    def __init__(self, folder: RunFolder, model: nn.Module, data: RunData, settings: TrainSettings,
                 config: dict, device: torch.device, controls: Controls | None = None,
                 dist: distributed.DistContext | None = None, export_path: str | os.PathLike | None = None):
        check_work(model, settings.batch_size, f"batches of {settings.batch_size}")  # before the first batch
        self.export_path = export_path  # the model alone after every epoch (train --out), or None
        self.folder, self.model, self.data, self.settings, self.config = folder, model, data, settings, config
        self.device, self.dist = device, dist
        self.rank, self.world = (dist.rank, dist.world_size) if dist else (0, 1)
        model.to(device).train()
        wd = settings.weight_decay
        self.opt = (torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=wd) if wd
                    else torch.optim.Adam(model.parameters(), lr=settings.lr))
        self.train_x = torch.as_tensor(data.train)
        per_rank = math.ceil(len(self.train_x) / self.world)
        self.batches_per_epoch = math.ceil(per_rank / settings.batch_size)
        total = settings.epochs * self.batches_per_epoch
        self.total = min(total, settings.max_steps) if settings.max_steps else total
        self.step, self.epoch, self.batch, self.busy_s, self.rate = 0, 1, 0, 0.0, 0.0
        self.means, self.last_loss, self.last_epoch = Means(), None, {}
        self.noise = make_generator(mix_seed(settings.seed, "noise", self.rank, 0), device)
        self.z = fixed_latents(model, settings.sample_count, settings.seed)
        self.subset, self.subset_labels = fixed_subset(data, settings.code_count)
        self.status, self.saved_at, self._epoch_batches = "running", None, (0, [])
        self.resumed, self.notes = False, []  # set by restore(): shown after RunStarted
        self._due_done = self._sampled_at = 0  # the steps whose periodic events / samples were made
        self.set_controls(controls)
        self.forward = distributed.wrap(model, dist)  # after .to(device): DDP broadcasts rank 0's weights
        self.snapshot = self._snapshot()

    def set_controls(self, controls: Controls | None) -> None:
        """Take live changes from ``controls`` and tell it which settings this model has."""
        self.controls = controls
        if controls is not None:
            controls.attach(live_controls(self.model.kind))

    # ------------------------------------------------------------------ state
    def _snapshot(self) -> tuple[tuple[int, int, int], dict, dict, tuple[dict, int]]:
        """(position, weights, optimizer state, epoch sums): copies to roll back to after a divergence."""
        weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        return self._position(), weights, copy.deepcopy(self.opt.state_dict()), (dict(self.means.sums), self.means.n)

    def _rollback(self) -> int:
        """Restore the snapshot's weights and optimizer moments (keeping the current lr); return its step."""
        (step, _, _), weights, opt_state, _ = self.snapshot
        lrs = [g["lr"] for g in self.opt.param_groups]
        self.model.load_state_dict(weights)
        self.opt.load_state_dict(copy.deepcopy(opt_state))
        for group, lr in zip(self.opt.param_groups, lrs):
            group["lr"] = lr
        return step

    def _position(self) -> tuple[int, int, int]:
        return self.step, self.epoch, self.batch

    def resume_state(self) -> dict:
        """Where the run stands, JSON-able: stored with every checkpoint."""
        return {"step": self.step, "epoch": self.epoch, "batch": self.batch, "epoch_sums": self.means.sums,
                "epoch_n": self.means.n, "busy_s": round(self.busy_s, 3), "world_size": self.world,
                "lr": self.opt.param_groups[0]["lr"], "beta": getattr(self.model, "beta", None),
                "noise_rng": base64.b64encode(self.noise.get_state().numpy().tobytes()).decode("ascii")}

    def restore(self, saved: SavedState) -> None:
        """Continue from a saved checkpoint: weights, optimizer, position, RNG (notes for the user go to ``notes``)."""
        notes, state = self.notes, saved.resume
        load_into(self.model, saved.weights)
        if saved.opt_tensors or saved.opt_meta:
            restore_optimizer(self.opt, saved.opt_tensors, saved.opt_meta)
            if saved.opt_meta.get("step") != state["step"]:
                notes.append(Message(f"The optimizer state is from step {saved.opt_meta.get('step')}, the weights "
                                     f"from step {state['step']}; continuing with both."))
        for group in self.opt.param_groups:
            group["lr"] = float(state["lr"])
        self.step, self.epoch, self.batch = int(state["step"]), int(state["epoch"]), int(state["batch"])
        self._due_done = self._sampled_at = self.step
        self.means.sums, self.means.n = dict(state["epoch_sums"]), int(state["epoch_n"])
        self.busy_s, self.saved_at = float(state["busy_s"]), self._position()
        if self.world == 1 and state.get("world_size", 1) == 1:
            raw = np.frombuffer(base64.b64decode(state["noise_rng"]), dtype=np.uint8).copy()
            self.noise.set_state(torch.from_numpy(raw))
        else:
            self.noise.manual_seed(mix_seed(self.settings.seed, "noise", self.rank, self.step))
        self.snapshot = self._snapshot()

    def _model_config(self) -> dict:
        config = checkpoint_config(self.model, self.data.info, {"last_loss": self.last_loss, **self.last_epoch},
                                   {**self.settings.to_dict(), "seconds": round(self.busy_s, 1)})
        return {**config, "step": self.step, "epoch": self.epoch, "resume": self.resume_state(),
                "run": self.folder.path.name}

    def save(self) -> CheckpointSaved:
        """Write the checkpoint files (rank 0) and take the rollback snapshot (every rank)."""
        path = self.folder.save_state(self.model.state_dict(), self._model_config(), self.opt)
        self.snapshot, self.saved_at = self._snapshot(), self._position()
        self.folder.log({"type": "checkpoint", "step": self.step, "path": str(path)})
        return CheckpointSaved(self.step, str(path))

    def log_status(self, status: str, **extra: object) -> None:
        self.folder.log({"type": "status", "step": self.step, "status": status, "pid": os.getpid(),
                         "host": socket.gethostname(), **extra})
        self.folder.sync()

    # ------------------------------------------------------------------ one step
    def _batches(self) -> list[torch.Tensor]:
        """This rank's batches of the current epoch (same permutation on every rank and every resume)."""
        if self._epoch_batches[0] != self.epoch:
            gen = make_generator(mix_seed(self.settings.seed, "epoch", self.epoch))
            perm = torch.randperm(len(self.train_x), generator=gen)
            self._epoch_batches = (self.epoch, list(distributed.shard(perm, self.dist).split(self.settings.batch_size)))
        return self._epoch_batches[1]

    def _train_step(self, idx: torch.Tensor) -> tuple[float, dict[str, float], float] | str:
        """Forward, backward, (DDP-averaged) loss and gradient checks, update; a str names what was not finite."""
        x = batch_tensor(self.train_x, idx, self.device, self.data.binarize, self.noise)
        out = self.forward(x, self.noise)
        loss, metrics = out if isinstance(out, tuple) else (out, {})
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        names = list(metrics)
        packed = torch.tensor([float(loss.detach()), *(float(metrics[k]) for k in names)], dtype=torch.float64)
        values = distributed.all_mean(packed, self.dist).tolist()
        norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.settings.clip_grad or math.inf))
        what = "loss" if not math.isfinite(values[0]) else "gradient" if not math.isfinite(norm) else None
        if what:
            self.opt.zero_grad(set_to_none=True)
            return what
        self.opt.step()
        return values[0], dict(zip(names, values[1:])), norm

    def _apply_controls(self) -> Iterator[object]:
        """Apply the GUI's pending changes before the next step; one SettingChanged (and log line) each."""
        changes = self.controls.take() if self.controls is not None else {}
        for name, value in changes.items():
            if name == "lr":
                for group in self.opt.param_groups:
                    group["lr"] = value
            elif name == "beta" and "beta" in live_controls(self.model.kind):
                self.model.beta = value
            else:
                yield Message(f"{name} cannot be changed for this model; ignored.")
                continue
            self.folder.log({"type": "setting", "step": self.step, "name": name, "value": value})
            yield SettingChanged(self.step, name, value)

    def _one_step(self, idx: torch.Tensor) -> Iterator[object]:
        """Train on batch ``idx``; yield TrainStep (or Diverged) and whatever falls due at this step."""
        t0 = time.perf_counter()
        result = self._train_step(idx)
        self.step, self.batch = self.step + 1, self.batch + 1
        if isinstance(result, str):
            yield from self._diverged(result)
            return
        loss, metrics, norm = result
        elapsed = max(time.perf_counter() - t0, 1e-9)
        seen = len(idx) * self.world
        self.busy_s += elapsed
        self.rate = seen / elapsed if self.rate == 0 else 0.9 * self.rate + 0.1 * seen / elapsed
        self.means.add({"loss": loss, **metrics}, len(idx))
        self.last_loss = loss
        event = TrainStep(self.step, self.epoch, loss, metrics, self.opt.param_groups[0]["lr"], norm, self.rate)
        self.folder.log({"type": "step", **asdict(event)})
        yield event

    def _due(self) -> Iterator[object]:
        """Checkpoint, samples and progress when their period divides the step (once per step)."""
        s = self.settings
        if self.step == self._due_done:
            return
        self._due_done = self.step
        if s.checkpoint_every and self.step % s.checkpoint_every == 0:
            yield self.save()
        if s.sample_every and self.step % s.sample_every == 0:
            yield from self.samples()
        if self.step % s.log_every == 0 or self.step == self.total:
            yield Progress(self.step, self.total, f"epoch {min(self.epoch, s.epochs)}/{s.epochs}")

    def _diverged(self, what: str) -> Iterator[object]:
        """Roll back, record, yield Diverged (the GUI pauses there); continue when advanced again."""
        event = Diverged(self.step, what, self._rollback())
        self.status = "diverged"
        self.folder.log({"type": "diverged", "step": self.step, "what": what, "checkpoint_step": event.checkpoint_step})
        self.log_status("diverged")
        if self.controls is not None and self.controls.on_diverged is not None:
            self.controls.on_diverged()
        yield event
        self.status = "running"
        self.log_status("running")

    def samples(self) -> Iterator[SamplesReady]:
        """Samples of the model now (rank 0 only): saved to samples/ and yielded."""
        if self.dist is not None and not self.dist.is_main:
            return
        arrays = make_samples(self.model, self.z, self.subset, self.settings.sample_count, self.settings.seed)
        self._sampled_at = self.step
        if arrays is None:
            return
        if "codes" in arrays and self.subset_labels is not None:
            arrays["labels"] = self.subset_labels.astype(np.uint8)
        path = self.folder.save_samples(self.step, arrays)
        self.folder.log({"type": "samples", "step": self.step, "path": str(path)})
        yield SamplesReady(self.step, arrays.get("images"), arrays.get("codes"), arrays.get("labels"), str(path),
                           arrays.get("audio"), int(arrays.get("rate", 0)), arrays.get("text"))

    def _end_epoch(self) -> Iterator[object]:
        """Validation (rank 0), learning-rate decay, EpochEnd; the position moves to the next epoch first."""
        t0 = time.perf_counter()
        train = self.means.means()
        main = self.dist is None or self.dist.is_main
        val = {}
        if main and self.data.val is not None:  # in training-sized batches: 500 PixelCNN images ran 2.5x slower
            val = evaluate(self.model, self.data.val, self.settings.batch_size, self.device, self.settings.seed)
        for group in self.opt.param_groups:
            group["lr"] *= self.settings.lr_decay
        event = EpochEnd(self.epoch, train, val)
        self.last_epoch = {"train": train, "val": val}
        self.folder.log({"type": "epoch", "step": self.step, "epoch": self.epoch, "train": train, "val": val})
        self.epoch, self.batch, self.means = self.epoch + 1, 0, Means()
        self.busy_s += time.perf_counter() - t0
        yield event
        if self.export_path is not None and main:
            yield self.export()

    def export(self) -> CheckpointSaved:
        """Write the model alone (weights and config, as ``engine inspect`` reads them) to ``export_path``; take the rollback snapshot."""
        training = {**self.settings.to_dict(), "dynamic_binarization": self.data.binarize, "device": str(self.device),
                    "cpu_threads": torch.get_num_threads(), "epochs_done": self.epoch - 1,
                    "seconds": round(self.busy_s, 1)}
        config = checkpoint_config(self.model, self.data.info, dict(self.last_epoch), training)
        path = save_checkpoint(self.export_path, self.model.state_dict(), config)
        self.snapshot = self._snapshot()
        return CheckpointSaved(self.step, str(path))

    # ------------------------------------------------------------------ the generator
    def _loop(self) -> Iterator[object]:
        """Steps until the total: controls, the step, the epoch's end when it is one, then what is due."""
        while self.step < self.total and self.epoch <= self.settings.epochs:
            batches = self._batches()
            if self.batch < len(batches):  # else: stopped right after an epoch's last step
                yield from self._apply_controls()
                yield from self._one_step(batches[self.batch])
            if self.batch >= len(batches):
                yield from self._end_epoch()
            yield from self._due()

    def events(self) -> Iterator[object]:
        """RunStarted, notes, then training events; RunFinished at the end. Closing it saves and marks the run stopped."""
        self.log_status("running", resumed=self.resumed)
        try:
            with torch_threads(self.settings.threads):
                yield RunStarted(str(self.folder.path), self.step, self.total, self.resumed, self.config)
                yield from self.notes
                yield from self._loop()
                if self.saved_at != self._position():
                    yield self.save()
                if self.settings.sample_every and self._sampled_at != self.step:
                    yield from self.samples()
        except (GeneratorExit, KeyboardInterrupt):
            self._stop()
            raise
        except BaseException as exc:
            self._crashed(exc)
            raise
        self.log_status("finished")
        self.folder.close()
        yield RunFinished("finished", self.step)

    def _stop(self) -> None:
        """Closed or interrupted: save where we are (atomically) and mark the run stopped (or diverged)."""
        status = "stopped" if self.status == "running" else self.status
        if status == "diverged":  # the weights were rolled back: so is the position the checkpoint records
            (self.step, self.epoch, self.batch), _, _, (self.means.sums, self.means.n) = self.snapshot
        try:
            self.save()
            self.log_status(status)
        except GenScopeError as exc:  # close() cannot report through a yield; leave a trace if we still can
            try:
                self.log_status(status, error=str(exc))
            except GenScopeError:
                pass
        finally:
            self.folder.close()

    def _crashed(self, exc: BaseException) -> None:
        """An error ended the run: record it; the last checkpoint stays as it was."""
        try:
            self.log_status("crashed", error=f"{type(exc).__name__}: {exc}")
        except GenScopeError:
            pass
        finally:
            self.folder.close()
