"""Generative models, one per file (with their layers and compiled kernels); engine.catalog declares and rebuilds them."""
