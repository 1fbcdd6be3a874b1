"""Training monitor with a character Transformer: a user's text file, bits/char curves, sample paragraphs."""

import json

import pytest

from app.tabs.training.panel import MODELS
from engine.data.folder import DataFolder, shared_data_dir
from tests.app.gui import choose, open_tab, press, select_row, train_to_end, type_into

WORDS = ("to be or not to be that is the question whether tis nobler in the mind to suffer the slings and arrows "
         "of outrageous fortune or to take arms against a sea of troubles\n")


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "play.txt"
    path.write_text(WORDS * 120, encoding="utf-8")  # 19,000 characters: 10 % validates (one row of 1,024)
    return path


def test_a_tiny_transformer_trains_on_a_text_file_with_paragraphs_and_goes_to_the_sampler(
        qtbot, make_window, tmp_path, monkeypatch, text_file):
    monkeypatch.setenv("GENSCOPE_RUNS", str(tmp_path / "runs"))
    label = "Transformer (Shakespeare)"
    monkeypatch.setitem(MODELS, label, ("transformer", {"width": 16, "layers": 1, "heads": 2, "context": 32}))
    monkeypatch.setattr("app.tabs.training.monitor.QFileDialog.getOpenFileName", lambda *a, **k: (str(text_file), ""))
    window = make_window()
    tab = open_tab(qtbot, window, "training")
    p = tab.panel
    choose(qtbot, p.model, label)
    datasets = [p.data.itemText(i) for i in range(p.data.count())]
    assert datasets == ["Shakespeare (data folder)", "A text file or folder…"]
    assert p.limit_label.text() == "Rows"
    choose(qtbot, p.data, "A text file or folder…")
    type_into(qtbot, p.batch, "1")
    type_into(qtbot, p.epochs, "1")
    type_into(qtbot, p.sample_every, "10")
    type_into(qtbot, p.threads, "1")
    train_to_end(qtbot, tab, timeout=120000)
    tab.curves.redraw()
    assert tab.curves.series[("ELBO terms / bits", "bits/char")].n >= 10
    assert ("ELBO terms / bits", "val bits/char") in tab.curves.series
    paragraphs = tab.samples.paragraphs
    assert paragraphs.isVisibleTo(tab) and not tab.samples.grid.isVisibleTo(tab)
    shown = paragraphs.toPlainText()
    assert len(shown) > 2 * 200 and set(shown) - set(WORDS) <= set("─\n")
    tab.samples.show_index(len(tab.samples.files) - 1)  # the newest step, re-read from the run folder
    assert paragraphs.toPlainText() == shown
    config = json.loads((tab.run_dir / "config.json").read_text())
    assert config["kind"] == "transformer" and config["data"]["spec"]["path"] == str(text_file)
    select_row(qtbot, p.runs, 0)
    press(qtbot, p.use_in_explorer)
    sampler = window.tab_by_key["sampler"]
    assert window.tabs.currentWidget() is sampler and sampler.stack.currentWidget() is sampler.text
    qtbot.waitUntil(lambda: sampler.text.model is not None and sampler.text.model.width == 16, timeout=10000)
    assert sampler.text.model.vocab == "".join(sorted(set(WORDS)))


SHARED = shared_data_dir()


@pytest.mark.skipif(SHARED is None or not (SHARED / "shakespeare" / "works").is_dir(),
                    reason="the Shakespeare works are not in ../shared/data")
def test_a_tiny_transformer_starts_on_the_shakespeare_set(qtbot, make_window, tmp_path, monkeypatch):
    monkeypatch.setenv("GENSCOPE_RUNS", str(tmp_path / "runs"))
    label = "Transformer (Shakespeare)"
    monkeypatch.setitem(MODELS, label, ("transformer", {"width": 16, "layers": 1, "heads": 2, "context": 32}))
    window = make_window(data=DataFolder(SHARED, "explicit"))
    tab = open_tab(qtbot, window, "training")
    p = tab.panel
    choose(qtbot, p.model, label)
    assert p.data.currentText() == "Shakespeare (data folder)"
    for field, value in ((p.limit, "20"), (p.batch, "2"), (p.epochs, "1"), (p.sample_every, "10"), (p.threads, "1")):
        type_into(qtbot, field, value)
    train_to_end(qtbot, tab, timeout=180000)
    tab.curves.redraw()
    assert tab.curves.series[("ELBO terms / bits", "bits/char")].n == 10
    assert ("ELBO terms / bits", "val bits/char") in tab.curves.series
    config = json.loads((tab.run_dir / "config.json").read_text())
    assert config["data"]["spec"]["name"] == "shakespeare" and tab.samples.paragraphs.toPlainText()
