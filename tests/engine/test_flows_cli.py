"""MAF/IAF through the catalog and the CLI on point tables: train, eval (held-out nats per point), sample, a card;
bad tables are one sentence with nothing written; the held-out split is the GMM's; the cost curves measure."""

from __future__ import annotations

import numpy as np
import pytest

import engine.cli.main as cli
from engine.catalog import get, load_model
from engine.checkpoints import read_config
from engine.data.points2d import holdout_split, two_moons
from engine.evaluation.density_compare import compare_on, gmm_by_bic
from engine.evaluation.flow_costs import direction_costs, logdet_costs
from engine.training.data import DataSpec, load_run_data

QUICK = ["--epochs", "2", "--threads", "1", "--layers", "2", "--hidden", "8"]


@pytest.mark.parametrize("kind", ["maf", "iaf"])
def test_train_eval_sample_a_flow_through_the_cli(kind, tmp_path, capsys):
    out = tmp_path / f"{kind}.safetensors"
    assert cli.main(["--device", "cpu", "train", kind, "--dataset", "moons", *QUICK, "--out", str(out)]) == 0
    assert "held-out log-likelihood" in capsys.readouterr().out
    model = load_model(out, expected_kind=kind)
    assert model.hparams() == {"dim": 2, "layers": 2, "hidden": [8], "seed": 0}
    assert read_config(out)["data"]["spec"]["name"] == "moons"
    assert cli.main(["eval", kind, "--checkpoint", str(out), "--save"]) == 0
    test = read_config(out)["metrics"]["test"]
    assert test["heldout_points"] == 200 and -10 < test["heldout_ll_nats"] < 0
    assert "nats per point" in out.with_suffix(".md").read_text()
    csv = tmp_path / "points.csv"
    assert cli.main(["sample", kind, "--checkpoint", str(out), "-n", "7", "--out", str(csv)]) == 0
    rows = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert rows.shape == (7, 2) and np.isfinite(rows).all()


@pytest.mark.parametrize("text, says", [
    ("x,y\n1,2\n3,4\n", "has 2 point(s); fitting a density needs at least 3"),
    ("x,y\n1,2\n1,2\n1,2\n1,2\n", "All 4 points of bad.csv are identical"),
    ("x,y\na,b\nnan,1\nc,d\n", "a point set needs two"),
])
def test_a_bad_table_is_one_sentence_and_nothing_is_written(text, says, tmp_path, capsys):
    path, out = tmp_path / "bad.csv", tmp_path / "m.safetensors"
    path.write_text(text)
    assert cli.main(["train", "maf", "--csv", str(path), *QUICK, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_nan_and_text_rows_are_skipped_and_said(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lines = ["a,b", *(f"{x:.4f},{y:.4f}" for x, y in rng.normal(size=(40, 2))), "nan,1", "text,here", "2,inf"]
    path, out = tmp_path / "ok.csv", tmp_path / "m.safetensors"
    path.write_text("\n".join(lines) + "\n")
    assert cli.main(["train", "maf", "--csv", str(path), "--columns", "a,b", *QUICK, "--out", str(out)]) == 0
    assert "skipped 3 of 43 rows" in read_config(out)["data"]["dataset"]
    assert cli.main(["train", "maf", "--dataset", "moons", "--dim", "3", *QUICK, "--out", str(out) + "x"]) == 2
    assert "--dim 2" in capsys.readouterr().err


def test_the_flow_and_the_gmm_share_one_split():
    data = load_run_data(DataSpec("moons"))
    train, held = holdout_split(1000, 0.2, 0)
    moons = two_moons(1000, seed=0).points
    standard = (moons - moons.mean(0)) / moons.std(0)
    np.testing.assert_allclose(data.val, standard[held], atol=1e-6)
    np.testing.assert_allclose(data.train, standard[train], atol=1e-6)
    result = compare_on(data, ("maf",), k_max=3, epochs=1)
    gmm = gmm_by_bic(data.train.astype(np.float64), 3)
    assert result["gmm_ll"] == pytest.approx(gmm.score(data.val.astype(np.float64)))
    assert result["heldout_points"] == 200 and np.isfinite(result["maf_ll"])
    assert get("maf").datasets[0] == "moons" and "faithful" in get("iaf").datasets


def test_cost_curves_measure_both_ways():
    logdet = logdet_costs((2, 24), repeats=1)
    assert [row["dim"] for row in logdet] == [2, 24] and all(row["difference"] < 1e-4 for row in logdet)
    (row,) = direction_costs((32,), n=20, repeats=1)
    assert row["maf_sample_ms"] > 3 * row["maf_density_ms"] and row["iaf_density_ms"] > 3 * row["iaf_sample_ms"]
