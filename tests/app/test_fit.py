"""The window fits the default 1200 x 800: on every tab and page no button, label or check box is narrower
than its text (clipped), every control the README names can be reached (on screen, or in a scroll area
that scrolls to it), and a plot inside a scrolling side panel lets the wheel scroll the panel."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QCheckBox, QLabel, QPushButton, QScrollArea, QWidget

from tests.app import gui
from tests.app.gui import open_tab, press

SIZE = (1200, 800)


def clipped(root: QWidget) -> list[str]:
    """Buttons, labels and check boxes under ``root`` shown narrower than their size hint."""
    found = []
    for kind in (QPushButton, QCheckBox, QLabel):
        for w in root.findChildren(kind):
            if not w.isVisible() or not w.text() or (isinstance(w, QLabel) and w.wordWrap()):
                continue
            if w.width() < w.sizeHint().width():
                found.append(f"{type(w).__name__} {w.text()!r}: {w.width()} < {w.sizeHint().width()} px")
    return found


def scroll_area_of(widget: QWidget) -> QScrollArea | None:
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    return parent


def seen_rect(widget: QWidget) -> QRect:
    """The part of ``widget`` (its own coordinates) that its ancestors do not clip away."""
    seen, w = widget.rect(), widget
    offset = QPoint(0, 0)
    while w.parentWidget() is not None and not w.isWindow():
        offset += w.pos()
        w = w.parentWidget()
        seen = seen & w.rect().translated(-offset)
    return seen


def unreachable(window, widget: QWidget) -> str | None:
    """Why a user cannot see ``widget`` whole, or None when they can (after scrolling its panel to it)."""
    if not widget.isVisible():
        return "hidden"
    area = scroll_area_of(widget)
    if area is not None:
        gui.scroll_into_view(widget)
    seen = seen_rect(widget)
    if area is not None and widget.height() > area.viewport().height():  # taller than the panel: its top shows
        return None if seen.top() == 0 and seen.width() == widget.width() else f"only {seen} of {widget.rect()}"
    if seen != widget.rect():
        return f"only {seen} of {widget.rect()} is on screen"
    return None


def plot_items_on_screen(plot) -> list[str]:
    """The view boxes of a pyqtgraph GraphicsLayoutWidget that stick out of its viewport."""
    port = plot.viewport().rect()
    out = []
    for item in plot.items():
        if type(item).__name__ == "ViewBox" and item.isVisible():
            rect = plot.mapFromScene(item.sceneBoundingRect()).boundingRect()
            if not port.adjusted(-1, -1, 1, 1).contains(rect):
                out.append(f"a panel at {rect} outside {port}")
    return out


def controls(window, key: str) -> dict[str, QWidget]:
    """The controls the README names, per tab (its sections Latent explorer, Sampler, GMM fitter, Density lab,
    Training)."""
    tab = window.tab_by_key["sampler" if key in ("images", "audio", "text") else key.split("-")[0]]
    if key == "latent":
        p = tab.panel
        return {"model": p.model, "decode": p.decoded, "manifold grid": p.show_grid, "grid size": p.grid_size,
                "prior contours": p.show_prior, "density": p.show_density, "ellipses": p.show_ellipses,
                "test digits": p.show_points, "interpolation": p.interp_mode, "steps": p.interp_steps,
                "Clear": p.clear_pins, "Export PNG": p.export_strip, "strip": p.strip, "N": p.n_samples,
                "prior": p.prior_choice, "Sample": p.sample_button, "samples": p.samples_view, "pad": p.pad,
                "k": p.k, "input": p.input_view, "reconstruction": p.recon_view, "report": p.report,
                "Fit a flow prior": p.fit_flow, "Use as latent prior": p.use_flow, "Prior table": p.table_button,
                "prior table": p.table, "map": tab.map}
    if key == "images":
        p = tab.images.panel
        named = {"model": p.model, "strategy": p.strategy_name, "mode": p.mode, "images": p.n_images,
                 "speed": p.speed, "compare list": p.compare_list, "Add strategy": p.add_compare,
                 "Clear": p.clear_compare, "Export PNG": p.export, "index": p.index, "keep": p.keep,
                 "times": p.times, "Complete": p.complete, "lens source": p.lens_source, "Measure": p.measure,
                 "lens result": p.lens_result, "pad": p.pad, "canvas": tab.images.grid}
        return named | {name: b for name, b in p.buttons.items()}
    if key == "audio":
        p = tab.audio.panel
        named = {"model": p.model, "condition": p.condition, "seconds": p.seconds, "prime": p.prime,
                 "Save WAV": p.save, "clips": p.clips, "Replay": p.replay, "scope": tab.audio.scope}
        return named | {name: b for name, b in p.buttons.items()}
    if key == "text":
        page = tab.text
        p, i = page.panel, page.inputs
        named = {"model": p.model, "strategy": p.strategy_name, "mode": p.mode, "speed": p.speed,
                 "characters": p.length, "compare list": p.compare.list, "Add strategy": p.compare.add,
                 "Clear": p.compare.clear, "prompt": i.prompt, "text": page.views[0], "bars": page.bars,
                 "attention": page.strips, "layer": page.layer}
        return named | {name: b for name, b in p.buttons.items()}
    if key == "gmm":
        p = tab.panel
        return {"source": p.source, "K": p.k, "covariance": p.cov, "history": tab.history, "Choose K": p.k_button,
                "BIC plot": p.k_plot, "N": p.n_samples, "Sample": gui.button(p, "Sample"),
                "Use as latent prior": p.prior_button, "view": tab.view} | dict(p.buttons)
    if key == "density-costs":
        c = tab.costs
        return {"Measure log-det": c.logdet_button, "Measure MAF vs IAF": c.direction_button,
                "log-det plot": c.logdet_plot, "direction plot": c.direction_plot}
    if key == "density":
        p = tab.panel
        return {"source": p.source, "layers": p.layers, "hidden": p.hidden, "epochs": p.epochs, "lr": p.lr,
                "seed": p.seed, "Train": p.train_button, "Stop": p.stop_button, "table": p.table,
                "stage": tab.stage, "X-ray layer": tab.xray.layer, "Jacobian": tab.xray.matrix, "view": tab.view,
                "X-ray numbers": tab.xray.numbers} | {f"show {name}": check for name, check in p.overlays.items()}
    p = tab.panel
    return {"model": p.model, "data": p.data, "images": p.limit, "epochs": p.epochs, "batch": p.batch,
            "lr": p.lr, "seed": p.seed, "CPU threads": p.threads, "new lr": p.new_lr, "Set lr": p.apply_lr,
            "new beta": p.new_beta, "Set beta": p.apply_beta, "smoothing": p.smoothing, "log x": p.log_x,
            "log y": p.log_y, "runs": p.runs, "Refresh": p.refresh, "Overlay": p.overlay,
            "Resume run": p.resume_run, "Use in explorer": p.use_in_explorer, "progress": p.progress,
            "curves": tab.curves, "samples": tab.samples} | dict(p.buttons)


@pytest.fixture
def window(qtbot, make_window):
    window = make_window()
    window.resize(*SIZE)
    window.show()
    qtbot.waitExposed(window)
    latent, sampler = window.tab_by_key["latent"], window.tab_by_key["sampler"]
    qtbot.waitUntil(lambda: latent.current is not None and sampler.images.model is not None, timeout=20000)
    assert (window.width(), window.height()) == SIZE
    return window


def show_page(qtbot, window, page: str):
    tab = open_tab(qtbot, window, "sampler" if page in ("images", "audio", "text") else page.split("-")[0])
    if page in ("images", "audio", "text"):
        press(qtbot, gui.button(tab, page.capitalize()))
    if page == "density-costs":
        bar = tab.pages.tabBar()
        qtbot.mouseClick(bar, gui.LEFT, gui.NO_MOD, bar.tabRect(tab.pages.indexOf(tab.costs)).center())
    qtbot.wait(50)
    return tab


@pytest.mark.parametrize("page", ["latent", "images", "audio", "text", "gmm", "density", "density-costs", "training"])
def test_every_page_fits_1200_by_800(qtbot, window, page):
    tab = show_page(qtbot, window, page)
    assert clipped(window) == [], "clipped text"
    problems = {name: why for name, w in controls(window, page).items() if (why := unreachable(window, w))}
    assert problems == {}, "controls the README names that a user cannot reach"


def test_compare_mode_shows_all_four_panels(qtbot, window):
    tab = show_page(qtbot, window, "images")
    page = tab.images
    gui.choose(qtbot, page.panel.mode, "Compare strategies")
    assert page.panel.compare_list.count() == 4
    gui.choose(qtbot, page.panel.speed, page.panel.speed.itemText(page.panel.speed.count() - 1))
    press(qtbot, page.panel.buttons["Start"])
    qtbot.waitUntil(lambda: len(page.grid.images) == 4, timeout=10000)
    qtbot.waitUntil(lambda: page.job.state.finished, timeout=60000)
    qtbot.wait(50)
    assert plot_items_on_screen(page.grid) == []
    assert clipped(window) == []


@pytest.mark.parametrize("page, plot", [("gmm", lambda t: t.panel.k_plot), ("latent", None)])
def test_the_wheel_over_a_plot_in_a_side_panel_scrolls_the_panel(qtbot, window, page, plot):
    tab = show_page(qtbot, window, page)
    if plot is None:  # the main view keeps its wheel zoom
        rect = tab.map.view.viewRect()
        gui.wheel(tab.map.viewport(), tab.map.viewport().rect().center(), 2)
        assert tab.map.view.viewRect().width() < rect.width()
        return
    plot = plot(tab)
    area = scroll_area_of(plot)
    assert area is not None
    area.verticalScrollBar().setValue(0)
    gui.scroll_into_view(plot)
    qtbot.wait(20)
    bar = area.verticalScrollBar()
    if bar.maximum() == 0:
        pytest.skip("the panel fits without scrolling")
    bar.setValue(bar.maximum() // 2)
    before, view_range = bar.value(), plot.getPlotItem().getViewBox().viewRange()
    centre = plot.viewport().rect().center()
    assert plot.viewport().visibleRegion().contains(centre)
    gui.wheel(plot.viewport(), centre, -1)  # towards the user: scroll down
    assert bar.value() > before, "the wheel scrolled the panel"
    assert plot.getPlotItem().getViewBox().viewRange() == view_range, "the plot did not zoom"


@pytest.mark.parametrize("page", ["latent", "text", "gmm", "density", "training"])
def test_side_panel_fits_without_scrolling(qtbot, window, page):
    """The side panels of the Latent explorer, the Sampler's text mode, the GMM fitter, the Density lab and the
    Training monitor show whole at 1200 x 800:
    no scroll bar to move, and every control the README names lies fully on screen."""
    tab = show_page(qtbot, window, page)
    area = scroll_area_of(tab.text.panel if page == "text" else tab.panel)
    assert area is None or area.verticalScrollBar().maximum() == 0
    for name, widget in controls(window, page).items():
        if widget.isVisibleTo(window) and widget.window() is window:
            corner = widget.mapTo(window, widget.rect().topLeft())
            assert window.rect().contains(QRect(corner, widget.size())), name
