"""Kept for app/tabs/training and bench/training.py: the model kinds live in :mod:`engine.catalog`."""

from engine.catalog import KINDS as RUN_MODELS, Kind as RunModel, check_run, live_controls, presets, run_model  # noqa: F401
