"""Issue 11's proof that the next family needs no plumbing: a toy autoregressive model defined HERE (a
lookup table of logits), registered through the catalog with its own data set, trains, evaluates and samples
(every strategy, beam search, completion) through the same CLI commands and the same generic sampler as the
real models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import engine.cli.main as cli
from engine.catalog import Kind, Option, get, load_model, presets, register, unregister
from engine.checkpoints import read_config
from engine.sampling import autoregressive as ar
from engine.sampling.decoding import make_strategy
from engine.training.data import _LOADERS, RunData, register_dataset

V, D = 3, 6
ORDER = [5, 0, 3, 1, 4, 2]  # not raster: the sampler must follow the model's order


class TableState:
    """B sequences part-way: step t's logits are table[t, previous value] (index V = the start)."""

    def __init__(self, table: torch.Tensor, batch: int):
        self.table, self.t, self.prev = table, 0, torch.full((batch,), V)

    def logits(self) -> torch.Tensor:
        return self.table[self.t, self.prev]

    def advance(self, values: torch.Tensor) -> None:
        self.t, self.prev = self.t + 1, values.long()

    def reorder(self, index: torch.Tensor) -> None:
        self.prev = self.prev[index]


class LookupTable(nn.Module):
    """A Markov chain over D positions visited in ORDER; (B, D) values 0..V-1."""

    kind = "toy_table"
    n_values = V

    def __init__(self, scale: float = 0.0):
        super().__init__()
        self.scale = scale
        self.table = nn.Parameter(torch.randn(D, V + 1, V) * scale)

    def hparams(self) -> dict:
        return {"scale": self.scale}

    def n_steps(self, length=None) -> int:
        return D

    def order(self, length=None) -> torch.Tensor:
        return torch.tensor(ORDER)

    def start(self, batch, labels=None, length=None, method="fast", known=None) -> TableState:
        return TableState(self.table.detach(), batch)

    def log_prob(self, values, labels=None) -> torch.Tensor:
        """(B,) nats, teacher-forced in one pass: a table lookup per step."""
        x = torch.as_tensor(values).round().long()[:, ORDER]
        prev = torch.cat([torch.full((len(x), 1), V), x[:, :-1]], 1)
        logp = torch.log_softmax(self.table, -1)[torch.arange(D), prev]  # (B, D, V)
        return logp.gather(2, x[..., None])[..., 0].sum(1)

    def loss(self, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        nll = -self.log_prob(x).mean()
        return nll, {"bits_per_step": nll.detach() / (D * math.log(2))}


def chain_rows(spec) -> RunData:
    """Sequences where each value repeats the previous one with probability 0.9 (in ORDER): learnable."""
    rng = np.random.default_rng(spec.seed)
    rows = np.zeros((600, D), dtype=np.int64)
    prev = rng.integers(0, V, 600)
    for pos in ORDER:
        prev = np.where(rng.random(600) < 0.9, prev, rng.integers(0, V, 600))
        rows[:, pos] = prev
    return RunData(rows[:500], rows[500:], None, False, {"dataset": "toy chains", "validation": "last 100 rows"})


@pytest.fixture
def toy(tmp_path):
    register_dataset("toy_chains", chain_rows)
    register(Kind("toy_table", LookupTable, (Option("scale", 0.0, float, "initial logit scale", 0, 5),),
                  {"epochs": 3, "batch_size": 50, "lr": 0.1}, ("toy_chains",), {"Toy lookup table": {"scale": 0.0}},
                  metrics={"bits_per_step": "bits/step"}))
    out = tmp_path / "toy.safetensors"
    assert cli.main(["--device", "cpu", "train", "toy_table", "--threads", "1", "--out", str(out)]) == 0
    yield out
    unregister("toy_table")
    _LOADERS.pop("toy_chains")


def test_it_trains_and_evaluates_through_the_cli(toy, capsys):
    config = read_config(toy)
    assert config["training"]["epochs_done"] == 3 and config["data"]["dataset"] == "toy chains"
    assert "Toy lookup table" in presets() and get("toy_table").sample is not None
    assert cli.main(["eval", "toy_table", "--checkpoint", str(toy), "--save"]) == 0
    nll = read_config(toy)["metrics"]["test"]["nll_nats"]
    assert nll < 0.6 * D * math.log(V)  # learned the chain: far below the uniform model's D log 3
    rows = chain_rows(type("S", (), {"seed": 0})()).val
    exact = -load_model(toy, "toy_table").log_prob(torch.as_tensor(rows)).mean().detach()
    assert nll == pytest.approx(float(exact), rel=1e-5)


STRATEGIES = [["--strategy", "sample"], ["--strategy", "greedy"], ["--strategy", "temperature", "--temperature", "0.5"],
              ["--strategy", "top-k", "--top-k", "2"], ["--strategy", "top-p", "--top-p", "0.8"],
              ["--strategy", "min-p", "--min-p", "0.2"]]


def read_rows(path) -> tuple[np.ndarray, np.ndarray]:
    lines = path.read_text().splitlines()
    values = np.array([[int(v) for v in line.split("\t")[0].split()] for line in lines])
    return values, np.array([float(line.split("\t")[1]) for line in lines])


@pytest.mark.parametrize("flags", STRATEGIES, ids=lambda f: f[1])
def test_every_strategy_samples_through_the_cli_with_the_generic_sampler(toy, tmp_path, flags):
    out = tmp_path / "s.txt"
    assert cli.main(["sample", "toy_table", "--checkpoint", str(toy), *flags, "-n", "5", "--seed", "3",
                     "--out", str(out)]) == 0
    values, log_p = read_rows(out)
    model = load_model(toy, "toy_table")
    opts = dict(zip([f.lstrip("-").replace("-", "_") for f in flags[2::2]], map(float, flags[3::2])))
    opts = {k: int(v) if k == "top_k" else v for k, v in opts.items()}
    want = ar.sample(model, 5, strategy=make_strategy(flags[1], **opts), seed=3)
    np.testing.assert_array_equal(values, want.values)
    np.testing.assert_allclose(log_p, model.log_prob(torch.as_tensor(values)).detach().numpy(), atol=1e-4)
    if flags[1] == "greedy":
        assert (values == values[0]).all()


def test_beam_search_through_the_cli_finds_the_most_likely_sequences(toy, tmp_path):
    out = tmp_path / "beam.txt"
    assert cli.main(["sample", "toy_table", "--checkpoint", str(toy), "--strategy", "beam", "--beam-width", "3",
                     "--out", str(out)]) == 0
    values, log_p = read_rows(out)
    model = load_model(toy, "toy_table")
    every = torch.cartesian_prod(*[torch.arange(V)] * D)
    best = model.log_prob(every).detach().double().sort(descending=True).values[:3].numpy()
    assert values.shape == (3, D) and np.all(np.diff(log_p) <= 0)
    np.testing.assert_allclose(log_p, best, atol=1e-4)  # a chain: beam search is exact here


def test_completion_keeps_the_known_values(toy, tmp_path, capsys):
    out = tmp_path / "c.txt"
    assert cli.main(["sample", "toy_table", "--checkpoint", str(toy), "--known", "2,_,_,0,_,_", "-n", "8",
                     "--out", str(out)]) == 0
    values, _ = read_rows(out)
    assert (values[:, 0] == 2).all() and (values[:, 3] == 0).all() and len(np.unique(values, axis=0)) > 1
    assert cli.main(["sample", "toy_table", "--checkpoint", str(toy), "--known", "2,_,9", "--out", str(out)]) == 2
    assert "--known needs 6 comma-separated values" in capsys.readouterr().err


def test_a_kind_that_is_not_autoregressive_gets_no_sampler_but_a_sentence(tmp_path, capsys):
    assert "vae" not in [k for k, e in __import__("engine.catalog").catalog.KINDS.items() if e.sample]
    with pytest.raises(SystemExit):
        cli.main(["sample", "vae", "--out", str(tmp_path / "x.txt")])
