"""The tabs. Each tab is a QWidget built from an :class:`AppContext`.

A tab may implement ``accepts_checkpoint(config) -> bool`` and
``open_checkpoint(path, config)`` to take models opened from File.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget


@dataclass(frozen=True)
class TabSpec:
    """A tab's title, its settings key and how to build it."""

    title: str
    key: str
    build: Callable[[object], QWidget]


def _latent(context) -> QWidget:
    from app.tabs.latent.explorer import LatentExplorerTab

    return LatentExplorerTab(context)


def _sampler(context) -> QWidget:
    from app.tabs.sampler.tab import SamplerTab

    return SamplerTab(context)


def _orderings(context) -> QWidget:
    from app.tabs.orderings.tab import OrderingsTab

    return OrderingsTab(context)


def _density(context) -> QWidget:
    from app.tabs.density.tab import DensityLabTab

    return DensityLabTab(context)


def _training(context) -> QWidget:
    from app.tabs.training.monitor import TrainingMonitorTab

    return TrainingMonitorTab(context)


def _gmm(context) -> QWidget:
    from app.tabs.gmm.fitter import GmmFitterTab

    return GmmFitterTab(context)


TABS: list[TabSpec] = [
    TabSpec("Latent explorer", "latent", _latent),
    TabSpec("Sampler", "sampler", _sampler),
    TabSpec("Orderings", "orderings", _orderings),
    TabSpec("GMM fitter", "gmm", _gmm),
    TabSpec("Density lab", "density", _density),
    TabSpec("Training monitor", "training", _training),
]
