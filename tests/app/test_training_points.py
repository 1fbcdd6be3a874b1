"""Training monitor with the 2-D point sets: a MAF preset trains on two moons from the real Start button."""

import json

from app.tabs.training.panel import DATASETS
from engine.catalog import get
from tests.app.gui import choose, open_tab, train_to_end, type_into


def test_a_maf_trains_on_two_moons_from_the_start_button(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCOPE_RUNS", str(tmp_path / "runs"))
    window = make_window()
    tab = open_tab(qtbot, window, "training")
    p = tab.panel
    choose(qtbot, p.model, "VAE (2-D latent)")
    offered = [p.data.itemText(i) for i in range(p.data.count())]
    assert "Two moons (generated points)" not in offered, "a VAE does not train on point tables"
    choose(qtbot, p.model, "MAF (2-D points)")
    offered = [p.data.itemText(i) for i in range(p.data.count())]
    assert {"Two moons (generated points)", "Old Faithful (data folder)"} <= set(offered)
    assert all(DATASETS[t] in get("maf").datasets for t in offered) and "IAF (2-D points)" in [
        p.model.itemText(i) for i in range(p.model.count())]
    assert p.data.currentText() == "Two moons (generated points)" and p.limit_label.text() == "Points"
    assert (p.batch.value(), p.lr.value()) == (get("maf").settings["batch_size"], get("maf").settings["lr"])
    for field, value in ((p.epochs, "2"), (p.threads, "1"), (p.checkpoint_every, "10")):
        type_into(qtbot, field, value)
    train_to_end(qtbot, tab, timeout=120000)
    tab.curves.redraw()
    steps = 2 * -(-800 // p.batch.value())  # 800 training points of the 1,000 (20 % held out)
    assert tab.curves.series[("loss", "train loss")].n == steps
    config = json.loads((tab.run_dir / "config.json").read_text())
    assert config["kind"] == "maf" and config["data"]["spec"]["name"] == "moons"
    assert (tab.run_dir / "checkpoints" / "last.safetensors").exists()
    assert tab.panel.runs.count() == 1 and "finished" in tab.panel.runs.item(0).text()
