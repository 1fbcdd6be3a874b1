"""A NADE checkpoint opened from File paints in the Sampler in its own ordering, with no plumbing of its own."""

import numpy as np
import torch
from PySide6.QtCore import Qt

from engine.checkpoints import save_checkpoint
from engine.models.nade import NADE
from engine.sampling import autoregressive as ar

from tests.app.test_sampler_image import FASTEST, wait_done


def test_a_nade_paints_in_its_spiral_ordering_after_start_is_pressed(qtbot, make_window, tmp_path):
    torch.manual_seed(0)
    model = NADE(hidden=8, ordering="spiral")
    path = save_checkpoint(tmp_path / "nade.safetensors", model.state_dict(), {"kind": "nade", "hparams": model.hparams()})
    window = make_window()
    tab = window.tab_by_key["sampler"]
    window.tabs.setCurrentWidget(tab)
    window.show()
    page = tab.images
    qtbot.waitUntil(lambda: page.model is not None, timeout=20000)
    assert window.open_checkpoint(path)
    qtbot.waitUntil(lambda: page.model is not None and page.model.kind == "nade", timeout=20000)
    assert "NADE" in page.panel.model_info.text() and "spiral ordering" in page.panel.model_info.text()
    page.panel.speed.setCurrentIndex(2)  # slow: stop part-way to see where it painted
    page.panel.seed.setValue(3)
    qtbot.mouseClick(page.panel.buttons["Start"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.board is not None and 20 < page.board.ticks, timeout=10000)
    qtbot.mouseClick(page.panel.buttons["Pause"], Qt.MouseButton.LeftButton)
    painted = np.flatnonzero(page.board.painted[0][0].reshape(-1))
    first = model.order()[: len(painted)].numpy()
    assert set(painted) == set(first), "the painted pixels are the first of the spiral, from the centre out"
    assert page.board.painted[0][0][14, 14] or page.board.painted[0][0][13, 13]
    page.panel.speed.setCurrentIndex(FASTEST)
    qtbot.mouseClick(page.panel.buttons["Start"], Qt.MouseButton.LeftButton)
    wait_done(qtbot, page)
    want = ar.sample(page.model, 1, strategy="sample", seed=3)
    np.testing.assert_array_equal(page.board.finished.images[0].reshape(-1), want.values[0])
