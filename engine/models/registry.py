"""Kept for the importers outside the engine's own packages (app/, bench/, engine/sampling/latent.py): the catalog owns these."""

from engine.catalog import build_model, load_model, model_classes  # noqa: F401
