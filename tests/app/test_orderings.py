"""The Orderings tab through its real widgets: the mask X-ray (tiny MADE and the MNIST MADEs hovered)
and the ordering studio (choose or draw an ordering, Evaluate on the worker, the table, maps and curve)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtTest import QTest

from app.tabs.orderings.xray import MNIST_MODELS
from engine.cards.bundled import find_bundled
from engine.catalog import load_model
from engine.checkpoints import save_checkpoint
from engine.data.folder import DataFolder
from engine.evaluation import connectivity as cx
from engine.evaluation.lens import subset
from engine.evaluation.ordering_study import visit_ordering
from engine.models.made import MADE
from engine.models.nade import NADE
from engine.models.orderings import make_ordering
from tests.app import gui
from tests.app.gui import choose, drag, open_tab, press, type_into
from tests.app.test_fit import clipped, unreachable

N_ROWS = 40


def lit(view) -> np.ndarray:
    """(H, W) bool: the pixels a PixelMap shows lit (yellow-ish: strong red), read back from its image."""
    image = view.image
    return np.array([[image.pixelColor(c, r).red() > 128 for c in range(view.w)] for r in range(view.h)])


def hover(qtbot, view, pixel: int) -> None:
    QTest.mouseMove(view, view.pixel_center(pixel))
    qtbot.wait(10)


def bundled(name):
    found = find_bundled(name)
    if not found.ok:
        pytest.skip(found.problem)
    return load_model(found.path, expected_kind="made" if "made" in name else name)


@pytest.fixture
def test_rows(tmp_path):
    """A data folder with a small synthetic binarized-MNIST test split; its rows (N, 784) uint8."""
    rows = (np.random.default_rng(0).random((N_ROWS, 784)) < 0.15).astype(np.uint8)
    folder = tmp_path / "mnist_data" / "binarized_mnist"
    folder.mkdir(parents=True)
    (folder / "binarized_mnist_test.amat").write_text("\n".join(" ".join(map(str, r)) for r in rows) + "\n")
    return DataFolder(folder.parent, "explicit"), rows


def studio(qtbot, window):
    tab = open_tab(qtbot, window, "orderings")
    press(qtbot, tab.button("Ordering studio"))
    return tab.studio


def evaluate(qtbot, page, images: int):
    type_into(qtbot, page.images, str(images))
    press(qtbot, page.evaluate)
    assert page.table.rowCount() == 0, "the scoring runs on the worker, not in the click"
    qtbot.waitUntil(lambda: page.job.state.finished, timeout=60000)
    assert page.job.error is None, page.job.error
    qtbot.waitUntil(lambda: "images of the static binarized MNIST" in page.note.text(), timeout=5000)


def nll(model, rows, order=None) -> float:
    if order is not None:
        model.select(0, order)
    with torch.no_grad():
        value = -float(model.log_prob(torch.as_tensor(rows)).double().mean())
    if order is not None:
        model.select(0)
    return value


# ---------------------------------------------------------------------------------------------- mask X-ray


def test_new_masks_and_the_ordering_picker_redraw_the_tiny_mades_masks_and_labels(qtbot, make_window):
    window = make_window()
    page = open_tab(qtbot, window, "orderings").xray
    first = [m.mask.copy() for m in page.matrices]
    press(qtbot, page.new_masks)
    want = cx.tiny_made(1, "random")
    assert page.seed_label.text() == "mask seed 1"
    assert any(not np.array_equal(a, m.mask) for a, m in zip(first, page.matrices))
    labels = cx.unit_labels(want)
    for layer, (matrix, mask) in enumerate(zip(page.matrices, cx.layer_masks(want))):
        np.testing.assert_array_equal(matrix.mask, mask)
        np.testing.assert_array_equal(matrix.rows, labels[layer + 1])
        np.testing.assert_array_equal(matrix.cols, labels[layer])
    choose(qtbot, page.ordering, "spiral")
    spiral = make_ordering("spiral", 4, 4).numpy()
    np.testing.assert_array_equal(page.tiny.order, spiral)
    np.testing.assert_array_equal(page.matrices[0].cols[spiral], np.arange(16))
    last = int(spiral[-1])
    hover(qtbot, page.tiny_map, last)
    np.testing.assert_array_equal(lit(page.tiny_map), page.tiny.by_masks[last].reshape(4, 4))
    assert "step 15" in page.tiny_note.text() and "masks and autograd agree" in page.tiny_note.text()
    hover(qtbot, page.tiny_map, int(spiral[0]))
    assert not lit(page.tiny_map).any() and "may depend on 0 of the 0 earlier" in page.tiny_note.text()


def test_hovering_an_mnist_output_lights_the_same_inputs_from_masks_and_from_autograd(qtbot, make_window):
    made = bundled("made")
    window = make_window()
    page = open_tab(qtbot, window, "orderings").xray
    qtbot.waitUntil(lambda: page.mnist is not None, timeout=30000)
    assert not page.mask_set.isEnabled(), "a single-mask MADE has no mask set to choose"
    assert "agree" in page.verdict.text()
    pixel = 14 * 28 + 14
    hover(qtbot, page.output_map, pixel)
    want = cx.mask_dependency(made)[pixel].reshape(28, 28)
    np.testing.assert_array_equal(lit(page.from_masks), want)
    np.testing.assert_array_equal(lit(page.from_grad), want)
    assert want.sum() > 300 and not want[15:].any() and not want[14, 14:].any(), "raster: only pixels above or left"
    assert "Output (14, 14), step 406" in page.verdict.text() and "masks and autograd agree" in page.verdict.text()


def test_the_mask_set_spin_box_x_rays_that_mask_set_of_the_order_agnostic_made(qtbot, make_window):
    oa = bundled("made_orderless")
    oa.select(3)
    order = oa.perm.numpy()
    window = make_window()
    page = open_tab(qtbot, window, "orderings").xray
    qtbot.waitUntil(lambda: page.mnist is not None, timeout=30000)
    choose(qtbot, page.model_box, MNIST_MODELS[1][1])
    type_into(qtbot, page.mask_set, "3")
    qtbot.waitUntil(lambda: page.mnist is not None and np.array_equal(page.mnist.order, order), timeout=30000)
    middle = int(order[400])
    hover(qtbot, page.output_map, middle)
    want = cx.mask_dependency(oa)[middle].reshape(28, 28)
    assert 0 < want.sum() <= 400
    np.testing.assert_array_equal(lit(page.from_masks), want)
    np.testing.assert_array_equal(lit(page.from_grad), want)
    assert "step 400" in page.verdict.text() and "agree" in page.verdict.text()


# ---------------------------------------------------------------------------------------------- studio


def test_evaluate_scores_every_model_under_its_ordering_with_maps_and_the_ensemble_curve(qtbot, make_window, test_rows):
    data, rows = test_rows
    nade, made, oa = bundled("nade"), bundled("made"), bundled("made_orderless")
    window = make_window(data=data)
    page = studio(qtbot, window)
    choose(qtbot, page.ordering, "snake")
    evaluate(qtbot, page, 30)
    used = rows[subset(N_ROWS, 30)]
    snake = make_ordering("snake", 28, 28)
    own = "raster (its own)"
    want = [("NADE", own, nll(nade, used)), ("MADE", own, nll(made, used)),
            ("MADE-OA", own, nll(oa, used)), ("MADE-OA", "snake", nll(oa, used, snake))]
    got = [tuple(page.table.item(r, c).text() for c in range(3)) for r in range(page.table.rowCount())]
    assert got == [(name, label, f"{value:.2f}") for name, label, value in want]
    assert len(page.heat_views) == 4 and all(v.image is not None for v in page.heat_views)
    for result, (_, _, value) in zip(page.results, want):
        assert float(result.heatmap.astype(np.float64).sum()) == pytest.approx(value, rel=1e-4)
    xs, ys = page.curve_line.getData()
    assert list(page.curve_data.counts) == [c for c in (1, 2, 4, 8, 16, 32, 64) if c <= oa.n_masks]
    for count, y in zip(page.curve_data.counts, ys):
        assert y == pytest.approx(-float(oa.ensemble_log_prob(torch.as_tensor(used), count).double().mean().detach()), rel=1e-4)
    assert "30 images" in page.note.text()
    assert clipped(window) == []


def test_a_drawn_ordering_follows_the_mouse_then_raster_and_the_order_agnostic_made_is_scored_in_it(
        qtbot, make_window, test_rows):
    data, rows = test_rows
    oa = bundled("made_orderless")
    window = make_window(data=data)
    page = studio(qtbot, window)
    assert not page.clear.isEnabled()
    choose(qtbot, page.ordering, "drawn")
    stroke = [20 * 28 + c for c in range(5, 12)] + [19 * 28 + 11, 18 * 28 + 11]
    drag(qtbot, page.step_view, [page.step_view.pixel_center(p) for p in stroke])
    assert page.step_view.visited == stroke
    order, label = page.order()
    assert order.tolist() == visit_ordering(stroke, 784).tolist() and label == "drawn (9 pixels, then raster)"
    assert "drawn (9 pixels" in page.order_caption.text()
    evaluate(qtbot, page, 20)
    row = [page.table.item(3, c).text() for c in range(3)]
    assert row[:2] == ["MADE-OA", label]
    assert row[2] == f"{nll(oa, rows[subset(N_ROWS, 20)], order):.2f}"
    press(qtbot, page.clear)
    assert page.step_view.visited == [] and page.order()[0].tolist() == list(range(784))
    assert "press Evaluate" in page.note.text(), "the table no longer matches the ordering shown"


def save(model, path):
    return save_checkpoint(path, model.state_dict(), {"kind": model.kind, "hparams": model.hparams()})


def test_an_opened_checkpoint_is_scored_too_and_a_wrong_size_one_is_not_taken(qtbot, make_window, test_rows, tmp_path,
                                                                              monkeypatch):
    data, rows = test_rows
    torch.manual_seed(0)
    tiny = NADE(hidden=5, ordering="column")
    path = save(tiny, tmp_path / "col_nade.safetensors")
    other = save(MADE(hidden=[8], height=8, width=8), tmp_path / "small.safetensors")
    window = make_window(data=data)
    page = studio(qtbot, window)
    gui.open_checkpoint_from_menu(qtbot, window, monkeypatch, other)
    assert page.opened == []
    gui.open_checkpoint_from_menu(qtbot, window, monkeypatch, path)
    assert [label for label, _ in page.opened] == ["col_nade (opened)"]
    page = studio(qtbot, window)
    evaluate(qtbot, page, 10)
    assert page.table.rowCount() == 5
    assert [page.table.item(4, c).text() for c in range(3)] == ["col_nade (opened)", "column (its own)",
                                                                f"{nll(tiny.eval(), rows[subset(N_ROWS, 10)]):.2f}"]


def test_without_test_data_evaluate_says_so_in_one_sentence_and_the_tab_keeps_working(qtbot, make_window):
    window = make_window()
    page = studio(qtbot, window)
    press(qtbot, page.evaluate)
    qtbot.waitUntil(lambda: "Binarized MNIST test split not found" in page.note.text(), timeout=30000)
    assert page.job.error is not None and page.job.error.expected
    assert page.table.rowCount() == 0
    choose(qtbot, page.ordering, "random")
    type_into(qtbot, page.seed, "7")
    assert page.order()[1] == "random (seed 7)"
    assert page.order()[0].tolist() == make_ordering("random", 28, 28, 7).tolist()


def test_both_pages_fit_1200_by_800(qtbot, make_window):
    window = make_window()
    tab = open_tab(qtbot, window, "orderings")
    qtbot.waitUntil(lambda: tab.xray.mnist is not None, timeout=30000)
    assert clipped(window) == []
    xray = tab.xray
    named = {"New masks": xray.new_masks, "Ordering": xray.ordering, "masks": xray.matrices[2], "Model": xray.model_box,
             "Mask set": xray.mask_set, "ordering map": xray.output_map, "autograd map": xray.from_grad}
    assert {name: why for name, w in named.items() if (why := unreachable(window, w))} == {}
    press(qtbot, tab.button("Ordering studio"))
    assert clipped(window) == []
    s = tab.studio
    named = {"Ordering": s.ordering, "Seed": s.seed, "Clear drawing": s.clear, "Load ordering": s.load,
             "Test images": s.images, "Evaluate": s.evaluate, "step map": s.step_view, "table": s.table,
             "curve": s.curve}
    assert {name: why for name, w in named.items() if (why := unreachable(window, w))} == {}


def test_load_ordering_takes_a_permutation_file_and_refuses_a_bad_one_in_one_sentence(qtbot, make_window, tmp_path,
                                                                                      monkeypatch):
    window = make_window()
    page = studio(qtbot, window)
    good, bad = tmp_path / "backwards.txt", tmp_path / "short.txt"
    good.write_text(", ".join(map(str, range(783, -1, -1))))
    bad.write_text(" ".join(map(str, range(700))))
    answer = {"path": bad}
    monkeypatch.setattr("app.tabs.orderings.studio.QFileDialog.getOpenFileName",
                        lambda *a, **k: (str(answer["path"]), ""))
    press(qtbot, page.load)
    assert "short.txt: An ordering must list every position 0..783 exactly once (got 700 entries)." == page.note.text()
    assert page.ordering.currentText() == "spiral"
    answer["path"] = good
    press(qtbot, page.load)
    assert page.ordering.currentText() == "from file"
    order, label = page.order()
    assert order.tolist() == list(range(783, -1, -1)) and label == "from backwards.txt"
    choose(qtbot, page.ordering, "column")
    choose(qtbot, page.ordering, "from file")
    assert page.order()[1] == "from backwards.txt"
