"""A generated, offline data set of 28x28 digit-like shapes (no download, no data folder).

Ten classes of simple strokes drawn with numpy, each image randomly moved,
scaled, rotated and thickened from a seeded generator, with anti-aliased
edges. It exists so training (the training monitor, the CLI, the tests)
works on a fresh machine; it is not MNIST and its numbers do not compare
with MNIST's. Same ``seed`` and ``n`` -> the same images, bit for bit.

Class labels: 0 ring, 1 vertical bar, 2 horizontal bar, 3 slash, 4 plus,
5 cross (x), 6 disc, 7 square, 8 two stacked rings, 9 corner (L).
"""

from __future__ import annotations

import numpy as np

from engine.errors import ConfigError

SIZE = 28
CLASS_NAMES = ("ring", "vertical bar", "horizontal bar", "slash", "plus", "cross", "disc", "square",
               "two rings", "corner")

# Primitives in a [-1, 1] square: ("seg", x0, y0, x1, y1), ("ring", cx, cy, r), ("disc", cx, cy, r).
_SHAPES: tuple[tuple[tuple, ...], ...] = (
    (("ring", 0.0, 0.0, 0.55),),
    (("seg", 0.0, -0.7, 0.0, 0.7),),
    (("seg", -0.7, 0.0, 0.7, 0.0),),
    (("seg", -0.45, 0.7, 0.45, -0.7),),
    (("seg", 0.0, -0.65, 0.0, 0.65), ("seg", -0.65, 0.0, 0.65, 0.0)),
    (("seg", -0.55, -0.6, 0.55, 0.6), ("seg", -0.55, 0.6, 0.55, -0.6)),
    (("disc", 0.0, 0.0, 0.45),),
    (("seg", -0.5, -0.5, 0.5, -0.5), ("seg", 0.5, -0.5, 0.5, 0.5), ("seg", 0.5, 0.5, -0.5, 0.5),
     ("seg", -0.5, 0.5, -0.5, -0.5)),
    (("ring", 0.0, -0.37, 0.32), ("ring", 0.0, 0.37, 0.32)),
    (("seg", -0.4, -0.7, -0.4, 0.6), ("seg", -0.4, 0.6, 0.5, 0.6)),
)


def _pixel_grid() -> np.ndarray:
    """Pixel centres in the [-1, 1] square, (784, 2) as (x, y), y pointing down."""
    c = (np.arange(SIZE) + 0.5) / SIZE * 2.0 - 1.0
    ys, xs = np.meshgrid(c, c, indexing="ij")
    return np.stack([xs.ravel(), ys.ravel()], axis=1)


def _segment_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Distance from points p (B, P, 2) to segments a->b, a and b (B, 1, 2): -> (B, P)."""
    ab = b - a
    t = np.clip(((p - a) * ab).sum(-1, keepdims=True) / np.maximum((ab * ab).sum(-1, keepdims=True), 1e-12), 0, 1)
    return np.linalg.norm(p - (a + t * ab), axis=-1)


def _shape_distance(primitives: tuple[tuple, ...], p: np.ndarray) -> np.ndarray:
    """Distance of local points p (B, P, 2) to a shape's strokes (a disc counts as 0 inside): -> (B, P)."""
    dists = []
    for kind, *v in primitives:
        if kind == "seg":
            dists.append(_segment_distance(p, np.array(v[:2])[None, None], np.array(v[2:])[None, None]))
        else:
            r = np.linalg.norm(p - np.array(v[:2]), axis=-1) - v[2]
            dists.append(np.abs(r) if kind == "ring" else np.maximum(r, 0.0))
    return np.min(dists, axis=0)


def _draw_class(label: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` randomly placed images of class ``label`` as float (count, 28, 28) in [0, 1]."""
    angle = rng.uniform(-0.35, 0.35, count)
    scale = rng.uniform(0.75, 1.15, count)
    shift = rng.uniform(-0.15, 0.15, (count, 2))
    width = rng.uniform(0.07, 0.16, count)  # stroke half-width in [-1, 1] units (1 pixel = 0.071)
    cos, sin = np.cos(angle), np.sin(angle)
    q = _pixel_grid()[None] - shift[:, None, :]  # (count, 784, 2): undo the move, rotation and scale
    local = np.stack([cos[:, None] * q[..., 0] + sin[:, None] * q[..., 1],
                      -sin[:, None] * q[..., 0] + cos[:, None] * q[..., 1]], axis=-1) / scale[:, None, None]
    d = _shape_distance(_SHAPES[label], local) * scale[:, None]  # back to image units
    pixel = 2.0 / SIZE
    ink = np.clip((width[:, None] - d) / pixel + 0.5, 0.0, 1.0)
    return ink.reshape(count, SIZE, SIZE)


def generated_digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` generated shape images and their labels.

    Returns images uint8 (n, 28, 28), 0 = background, 255 = full ink, and
    labels uint8 (n,) in 0..9 (classes cycle 0, 1, ..., 9, 0, ...).
    """
    if int(n) < 1:
        raise ConfigError(f"The generated data set needs at least one image, got n = {n}.")
    rng = np.random.default_rng(int(seed))
    labels = (np.arange(int(n)) % len(_SHAPES)).astype(np.uint8)
    images = np.zeros((int(n), SIZE, SIZE), dtype=np.float64)
    for label in range(len(_SHAPES)):
        rows = np.flatnonzero(labels == label)
        if len(rows):
            images[rows] = _draw_class(label, len(rows), rng)
    return np.round(images * 255.0).astype(np.uint8), labels
