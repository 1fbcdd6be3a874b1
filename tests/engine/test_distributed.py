"""Data-parallel training under torchrun: identical weights on every rank, one writer (rank 0)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.checkpoints import load_checkpoint
from engine.training.distributed import init_from_env, shard
from engine.training.folder import load_metrics

ROOT = Path(__file__).resolve().parents[2]


class _Ctx:
    def __init__(self, rank: int, world: int):
        self.rank, self.world_size = rank, world


def test_shard_splits_a_permutation_like_distributed_sampler():
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(0))
    parts = [shard(perm, _Ctx(r, 3)) for r in range(3)]
    assert [len(p) for p in parts] == [4, 4, 4]  # padded by wrapping around to 12
    assert set(torch.cat(parts).tolist()) == set(range(10))
    assert torch.equal(shard(perm, None), perm)


def test_not_under_torchrun_means_one_process(monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(key, raising=False)
    assert init_from_env("cpu") is None


@pytest.mark.slow  # about 20 s on 2 shared cores: three Python processes import torch; still in the default run
def test_two_ranks_train_identically_and_only_rank0_writes(tmp_path):
    run, dumps = tmp_path / "ddp-run", tmp_path / "weights"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
           "-m", "engine", "--device", "cpu", "train", "vae", "--dataset", "generated", "--limit", "128",
           "--hidden", "16", "--epochs", "1", "--batch-size", "16", "--checkpoint-every", "2", "--sample-every", "3",
           "--max-steps", "4", "--threads", "1", "--run-dir", str(run), "--dump-weights", str(dumps)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    hashes = {p.name: p.read_text().strip() for p in dumps.iterdir()}
    assert set(hashes) == {"rank0.sha256", "rank1.sha256"} and len(set(hashes.values())) == 1
    records = load_metrics(run)
    steps = [r["step"] for r in records if r["type"] == "step"]
    assert steps == [1, 2, 3, 4]  # 128 images / 2 ranks / 16 per batch = 4 steps; one writer, no duplicates
    assert len({r["pid"] for r in records if r["type"] == "status"}) == 1
    assert records[-1]["status"] == "finished"
    ckpt = load_checkpoint(run / "checkpoints" / "last.safetensors")
    assert ckpt.config["step"] == 4 and ckpt.config["resume"]["world_size"] == 2
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step_000003.npz", "step_000004.npz"]
    assert "finished at step 4" in done.stdout and done.stdout.count("finished at step") == 1
