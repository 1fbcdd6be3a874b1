"""Views of a PixelCNN at work: panels of painted images over their per-pixel NLL heatmaps,
the current pixel's distribution before and after decoding, and a histogram of test-set NLLs.

Every plot item is made once and updated in place; images are shown with
fixed levels (0..1), so a half-painted image never flickers.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

HEAT_MAX = 4.0  # nats per pixel at the top of the heatmap's colour scale
UNPAINTED = np.array([0.26, 0.26, 0.30], np.float32)
HEAT_MAP = pg.colormap.get("inferno")
_HEAT_LUT = HEAT_MAP.getLookupTable(0.0, 1.0, 256, alpha=False).astype(np.float32) / 255.0
LEGEND = ("<span style='color:#999'>&#9632;</span> model &nbsp; <span style='color:#1f77b4'>&#9632;</span> "
          "after the strategy &nbsp; <span style='color:#d62728'>&#9632;</span> cut away")
MARKS = [(214, 39, 40), (31, 119, 180), (44, 160, 44), (148, 103, 189), (255, 127, 14)]


def heat_colours(nll: np.ndarray, top: float = HEAT_MAX) -> np.ndarray:
    """NLL (...,) nats -> RGB (..., 3) in [0, 1] (inferno, 0..top); NaN (not painted yet) -> grey."""
    nll = np.asarray(nll, np.float32)
    known = np.isfinite(nll)
    index = np.clip(np.nan_to_num(nll, nan=0.0) / top * 255, 0, 255).astype(np.intp)
    return np.where(known[..., None], _HEAT_LUT[index], UNPAINTED)


class PanelGrid(pg.GraphicsLayoutWidget):
    """Per panel a title, its painted images and their NLL heatmap; a red square marks the current pixel."""

    def __init__(self) -> None:
        super().__init__()
        self.setBackground("w")
        self.titles: list[pg.LabelItem] = []
        self.images: list[pg.ImageItem] = []
        self.heats: list[pg.ImageItem] = []
        self.markers: list[pg.PlotCurveItem] = []
        self.footers: list[pg.LabelItem] = []
        self.colour_bar: pg.ColorBarItem | None = None
        self.set_panels(["sample"])

    def _view(self, row: int, col: int) -> pg.ViewBox:
        view = self.addViewBox(row=row, col=col, lockAspect=True, invertY=True, enableMouse=False)
        view.setMenuEnabled(False)
        return view

    def set_panels(self, titles: list[str], footers: list[str] | None = None) -> None:
        """One column per title, images above heatmaps; a single panel puts its heatmap beside the images.
        ``footers``: a line of small print under each panel (e.g. what a model can see), or None."""
        self.clear()
        self.titles, self.images, self.heats, self.markers, self.footers = [], [], [], [], []
        single = len(titles) == 1
        for col, title in enumerate(titles):
            self.titles.append(self.addLabel(title, row=0, col=col, colspan=2 if single else 1, size="9pt",
                                             color="#222"))
            for items, (row, c) in ((self.images, (1, col)), (self.heats, (1, 1) if single else (2, col))):
                view = self._view(row, c)
                item = pg.ImageItem(axisOrder="row-major")
                view.addItem(item)
                items.append(item)
                marker = pg.PlotCurveItem(pen=pg.mkPen(230, 30, 30, width=2), connect="finite")
                view.addItem(marker, ignoreBounds=True)
                self.markers.append(marker)
            if footers:
                self.footers.append(self.addLabel(footers[col], row=2 if single else 3, col=col,
                                                  colspan=2 if single else 1, size="8pt", color="#444"))
        if single:  # beside the heatmap
            self.colour_bar = heat_colour_bar("vertical")
            self.addItem(self.colour_bar, row=1, col=2)
        else:  # below the panels, so compared panels keep every pixel of width
            self.colour_bar = heat_colour_bar("horizontal")
            self.addItem(self.colour_bar, row=4 if footers else 3, col=0, colspan=len(titles))

    def set_title(self, panel: int, text: str) -> None:
        if len(self.titles) >= 3:  # side by side: one figure a line, so four panels fit the canvas's width
            text = text.replace(" · ", "<br>")
        if self.titles[panel].text != text:  # laying out rich text costs ~1 ms
            self.titles[panel].setText(text, size="9pt", color="#222")

    def show_panel(self, panel: int, rgb: np.ndarray, heat_rgb: np.ndarray, marks: np.ndarray | None) -> None:
        """rgb, heat_rgb: (h, w, 3) in [0, 1]; marks: (k, 2) top-left corners of the current pixel, or None."""
        for item, image in ((self.images[panel], rgb), (self.heats[panel], heat_rgb)):
            resized = item.image is None or item.image.shape != image.shape
            item.setImage(image, autoLevels=False, levels=(0.0, 1.0))
            if resized:
                item.getViewBox().autoRange(padding=0.01)
        xs, ys = self._squares(marks)
        for marker in self.markers[2 * panel : 2 * panel + 2]:
            marker.setData(xs, ys)

    @staticmethod
    def _squares(marks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        if marks is None or len(marks) == 0:
            return np.zeros(0), np.zeros(0)
        box_x = np.array([0, 1, 1, 0, 0, np.nan])
        box_y = np.array([0, 0, 1, 1, 0, np.nan])
        xs = (marks[:, 1:2] + box_x).ravel()
        ys = (marks[:, 0:1] + box_y).ravel()
        return xs, ys


def heat_colour_bar(orientation: str) -> pg.ColorBarItem:
    """The heatmaps' colour scale: −log p per pixel, 0 to HEAT_MAX nats (fixed, not a control)."""
    bar = pg.ColorBarItem(values=(0.0, HEAT_MAX), colorMap=HEAT_MAP, interactive=False, width=12, pen="#444",
                          label="heatmaps: −log p per pixel (nats)", colorMapMenu=False, orientation=orientation)
    if orientation == "horizontal":
        bar.setMaximumWidth(320)
        bar.axis.setStyle(hideOverlappingLabels=False)  # the end labels (0, ≥4) reach past the bar's ends
    for axis in (bar.axis, bar.getAxis("left"), bar.getAxis("bottom")):
        axis.setTextPen("#222")
        axis.setPen("#444")
    bar.axis.setTicks([[(v, f"{v:g}" if v < HEAT_MAX else f"≥{v:g}") for v in np.arange(0.0, HEAT_MAX + 0.5, 1.0)]])
    return bar


class DistributionBars(pg.PlotWidget):
    """p(value) of the current pixel: the model's (grey), after the strategy (blue), cut away (red)."""

    def __init__(self) -> None:
        super().__init__(background="w")
        self.plot_item = self.getPlotItem()
        self.plot_item.setMouseEnabled(False, False)
        self.plot_item.hideButtons()
        self.plot_item.setLabel("left", "probability")
        self.plot_item.setYRange(0, 1.05, padding=0)
        self.model_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=(200, 200, 200), pen=(120, 120, 120))
        self.cut_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=(240, 170, 170), pen=(214, 39, 40))
        self.after_bars = pg.BarGraphItem(x=[], height=[], width=0.4, brush=(31, 119, 180), pen=None)
        for item in (self.model_bars, self.cut_bars, self.after_bars):
            self.plot_item.addItem(item)
        self._values = -1

    def show_probs(self, before: np.ndarray | None, after: np.ndarray | None, title: str = "") -> None:
        """before, after: (V,) probabilities (None clears the bars)."""
        self.plot_item.setTitle(f"{title}<br>{LEGEND}", size="9pt")
        if before is None:
            for bars in (self.model_bars, self.cut_bars, self.after_bars):
                bars.setOpts(x=[], height=[])
            return
        v = len(before)
        x = np.arange(v)
        cut = (after <= 0) & (before > 0)
        self.model_bars.setOpts(x=x[~cut], height=before[~cut])
        self.cut_bars.setOpts(x=x[cut], height=before[cut])
        self.after_bars.setOpts(x=x, height=after)
        if v != self._values:
            self._values = v
            self.plot_item.setXRange(-0.6, v - 0.4, padding=0)
            names = {0: "0 (off)", 1: "1 (ink)"} if v == 2 else {}
            ticks = [(i, names.get(i, str(i))) for i in range(0, v, max(1, v // 8))]
            self.plot_item.getAxis("bottom").setTicks([ticks])
            self.plot_item.setLabel("bottom", "pixel value")


class NllHistogram(pg.PlotWidget):
    """Histogram of the test set's NLLs with a vertical line per measured image (the last five)."""

    def __init__(self) -> None:
        super().__init__(background="w")
        self.plot_item = self.getPlotItem()
        self.plot_item.setLabel("bottom", "negative log-likelihood (nats)")
        self.plot_item.setLabel("left", "test images")
        self.curve = pg.PlotCurveItem(x=[0.0, 1.0], y=[0.0], stepMode="center", fillLevel=0, brush=(31, 119, 180, 90),
                                      pen=pg.mkPen(31, 119, 180))
        self.plot_item.addItem(self.curve)
        self.lines: list[pg.InfiniteLine] = []
        self.nlls: np.ndarray | None = None

    def set_nlls(self, nlls: np.ndarray | None, title: str = "", tip: str = "") -> None:
        self.nlls = None if nlls is None else np.asarray(nlls)
        self.plot_item.setTitle(title, size="9pt")
        self.setToolTip(tip)
        if self.nlls is None or len(self.nlls) == 0:
            self.curve.setData([0.0, 1.0], [0.0])
        else:
            counts, edges = np.histogram(self.nlls, bins=50)
            self.curve.setData(edges, counts)
        self._fit()

    def mark(self, nll: float, label: str) -> None:
        """A labelled vertical line at ``nll``; beyond five lines the oldest is dropped."""
        if len(self.lines) == len(MARKS):
            self.plot_item.removeItem(self.lines.pop(0))
        colour = next(c for c in MARKS if c not in [line.pen.color().getRgb()[:3] for line in self.lines])
        line = pg.InfiniteLine(nll, angle=90, pen=pg.mkPen(colour, width=2), label=label,
                               labelOpts={"color": colour, "fill": (255, 255, 255, 200), "anchors": [(0, 0), (0, 0)]})
        self.plot_item.addItem(line)
        self.lines.append(line)
        for i, old in enumerate(reversed(self.lines)):  # newest label on top, older ones stacked below
            old.label.setPosition(0.95 - 0.12 * i)
        self._fit()

    def _fit(self) -> None:
        """x: the histogram and every line; y: the histogram."""
        xs = [line.value() for line in self.lines]
        if self.nlls is not None and len(self.nlls):
            xs += [float(self.nlls.min()), float(self.nlls.max())]
        if xs:
            lo, hi = min(xs), max(xs)
            pad = 0.08 * (hi - lo) + 1.0
            self.plot_item.setXRange(lo - pad, hi + pad, padding=0)
            for line in self.lines:  # labels point into the plot: right of the line, or left near the right edge
                anchor = (0, 0) if line.value() < (lo + hi) / 2 else (1, 0)
                line.label.anchors = [anchor, anchor]
                line.label.updatePosition()
        top = float(self.curve.yData.max()) if self.curve.yData is not None and len(self.curve.yData) else 1.0
        self.plot_item.setYRange(0, max(top, 1.0) * 1.05, padding=0)

    def clear_marks(self) -> None:
        for line in self.lines:
            self.plot_item.removeItem(line)
        self.lines = []
        self._fit()


__all__ = ["DistributionBars", "HEAT_MAX", "NllHistogram", "PanelGrid", "heat_colours"]
