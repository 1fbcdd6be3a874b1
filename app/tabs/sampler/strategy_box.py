"""The decoding-strategy form shared by every autoregressive sampler (PixelCNN images, WaveNet audio).

A group box with the strategy, the parameters it uses (the others greyed
out), a seed and a red line with the engine's reason when a value is
invalid; :meth:`StrategyBox.strategy` builds the strategy through
:func:`engine.sampling.decoding.make_strategy`, so the panel and the CLI refuse the
same things with the same words.
"""

from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit

from app.widgets import spin_box
from engine.sampling.decoding import STRATEGY_NAMES, Strategy, make_strategy
from engine.errors import ConfigError

# Defaults that paint and sound (measured on the bundled models): heavier truncation (top-k 1, top-p 0.9, min-p
# 0.1) cuts every rare choice, and in empty space or silence every choice that would start a stroke or a sound.
PARAMS = {"temperature": ("Temperature", "1.0", "Divides the logits: < 1 sharper, > 1 flatter, 0 = greedy"),
          "top_k": ("top-k", "40", "Keep the k most probable values"),
          "top_p": ("top-p", "0.99", "Keep the smallest set of values with probability mass >= p, p in (0, 1]"),
          "min_p": ("min-p", "0.002", "Keep values with probability >= p x the top probability, p in (0, 1]"),
          "beam_width": ("Beam width", "4", "Beam search keeps this many whole sequences")}
USES = {"sample": ("temperature",), "greedy": (), "temperature": ("temperature",),
        "top-k": ("temperature", "top_k"), "top-p": ("temperature", "top_p"), "min-p": ("temperature", "min_p"),
        "beam": ("beam_width",)}


class StrategyBox(QGroupBox):
    """Strategy name, its parameters and a seed; ``names`` limits the choice (audio has no beam search)."""

    def __init__(self, names=STRATEGY_NAMES, seed_tip: str = "Same seed, same result") -> None:
        super().__init__("Decoding strategy")
        form = QFormLayout(self)
        self.strategy_name = QComboBox()
        self.strategy_name.addItems(list(names))
        self.strategy_name.setToolTip("sample: the model's own distribution; greedy: the most probable value")
        form.addRow("Strategy", self.strategy_name)
        self.params: dict[str, QLineEdit] = {}
        for key, (title, default, tip) in PARAMS.items():
            if not any(key in USES[name] for name in names):
                continue
            edit = QLineEdit(default)
            edit.setToolTip(tip)
            edit.textChanged.connect(self._check)
            self.params[key] = edit
            form.addRow(title, edit)
        self.seed = spin_box(0, 2**31 - 1, 0, tip=seed_tip)
        form.addRow("Seed", self.seed)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #b22222;")
        form.addRow(self.error)
        self.strategy_name.currentTextChanged.connect(self._strategy_changed)
        self._strategy_changed(self.strategy_name.currentText())

    def _strategy_changed(self, name: str) -> None:
        for key, edit in self.params.items():
            edit.setEnabled(key in USES.get(name, ()))
        self._check()

    def _check(self) -> None:
        """Validate as the user types: the engine's reason, or nothing."""
        try:
            self.strategy()
            self.error.setText("")
        except ConfigError as exc:
            self.error.setText(str(exc))

    def strategy(self) -> Strategy:
        """The chosen strategy, built and validated by the engine (raises ConfigError with its reason)."""
        name = self.strategy_name.currentText()
        kwargs = {key: (self.params[key].text().strip() or None) for key in USES[name]}
        return make_strategy(name, **kwargs)


def model_box(panel, tip: str, rows: tuple = ()) -> QGroupBox:
    """The "Model" box of a Sampler panel: ``panel.model`` (the combo, tooltip ``tip``), the (label, widget)
    ``rows`` under it, and ``panel.model_info`` (a wrapped line about the loaded model)."""
    box = QGroupBox("Model")
    form = QFormLayout(box)
    panel.model = QComboBox()
    panel.model.setToolTip(tip)
    panel.model_info = QLabel()
    panel.model_info.setWordWrap(True)
    form.addRow(panel.model)
    for label, widget in rows:
        form.addRow(label, widget)
    form.addRow(panel.model_info)
    return box


def describe(strategy: Strategy) -> str:
    """A short label: 'top-p 0.9, T 0.8', 'beam 4', 'greedy'."""
    if strategy.is_beam:
        return f"beam {strategy.beam_width}"
    parts = []
    for proc in strategy.processors:
        name = type(proc).__name__
        if name == "Temperature":
            if proc.t != 1.0 or strategy.name == "temperature":
                parts.append(f"T {proc.t:g}")
        else:
            label = {"TopK": "top-k", "TopP": "top-p", "MinP": "min-p"}[name]
            parts.insert(0, f"{label} {getattr(proc, 'k', getattr(proc, 'p', ''))}")
    if strategy.name in ("sample", "greedy") or not parts:
        parts.insert(0, strategy.name)
    return ", ".join(parts)
