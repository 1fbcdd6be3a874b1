"""Generative models, one per file; engine.models.registry rebuilds them from checkpoints."""
