"""Likelihood lens: the exact log p(x) of any image under a PixelCNN, against the test set's NLLs.

An autoregressive model gives an exact likelihood, so an odd image (noise,
an inverted or rotated digit) can be spotted by its NLL lying far outside
the NLLs of real test digits. This module turns any picture into the
model's input (:func:`convert_image`), makes the standard odd variants
(:func:`variant`), measures an image (:func:`measure`, :func:`pixel_nll`)
and the test set (:func:`dataset_nlls`, a generator of Progress then Done).

Images are (H, W) level values 0..levels-1 (uint8) unless said otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.errors import DataError
from engine.events import Done, Progress
from engine.models.pixelcnn import PixelCNN, bits_per_dim

VARIANTS = ("inverted", "rotated", "noise")
MIN_SIDE = 8


@dataclass(frozen=True)
class LensReport:
    """One measured image: ``image`` (H, W) uint8 levels, exact ``log_prob`` (nats), ``bits_per_dim``,
    ``pixel_nll`` (H, W) float32 nats per pixel (they sum to -log_prob) and a ``note`` on conversions."""

    image: np.ndarray
    log_prob: float
    bits_per_dim: float
    pixel_nll: np.ndarray
    note: str = ""


@dataclass(frozen=True)
class TestDigits:
    """The model's test set: ``images`` (N, H, W) uint8 levels, ``labels`` (N,) uint8 or None, ``source``."""

    images: np.ndarray
    labels: np.ndarray | None
    source: str


# --------------------------------------------------------------------------- likelihoods


@torch.no_grad()
def pixel_nll(model, images, labels=None) -> np.ndarray:
    """Per-pixel -log p(x_i | the pixels before i) in nats: images (B, H, W) levels -> (B, H, W) float32.

    Any autoregressive image model with ``position_log_probs`` (PixelCNN, NADE, MADE), in its own ordering.
    """
    model.eval()
    images = torch.as_tensor(np.asarray(images))
    log_probs = model.position_log_probs(images, labels)  # (B, D)
    return (-log_probs).float().cpu().numpy().reshape(len(images), model.height, model.width)


def measure(model: PixelCNN, image, label: int | None = None, note: str = "") -> LensReport:
    """Exact log p(image) of one (H, W) level image (``label`` for a class-conditional model)."""
    image = np.asarray(image, dtype=np.uint8).reshape(model.height, model.width)
    labels = None if label is None else torch.tensor([int(label)])
    nll = pixel_nll(model, image[None], labels)[0]
    total = float(nll.astype(np.float64).sum())
    return LensReport(image, -total, float(bits_per_dim(total, image.size)), nll, note)


def dataset_nlls(model: PixelCNN, images: np.ndarray, labels: np.ndarray | None = None,
              batch: int = 50) -> Iterator[Progress | Done]:
    """NLL (nats) of every test image: Progress per batch, then Done((N,) float32)."""
    out, n = [], len(images)
    for start in range(0, n, batch):
        chunk = None if labels is None else torch.as_tensor(labels[start : start + batch]).long()
        out.append(pixel_nll(model, images[start : start + batch], chunk).astype(np.float64).sum((1, 2)))
        yield Progress(min(start + batch, n), n, "test-set NLLs")
    yield Done(np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32))


def subset(n: int, size: int) -> np.ndarray:
    """``size`` evenly spaced indices of 0..n-1 (all of them when size >= n): a fixed, unbiased subset."""
    if size >= n:
        return np.arange(n)
    return np.linspace(0, n - 1, size).round().astype(np.int64)


def share_below(nll: float, nlls: np.ndarray) -> float:
    """Fraction of the test NLLs that are lower (better) than ``nll``."""
    return float(np.mean(np.asarray(nlls) < nll)) if len(nlls) else float("nan")


# --------------------------------------------------------------------------- images


def load_test_digits(root: str | os.PathLike, levels: int) -> TestDigits:
    """The test set a model of ``levels`` values is measured on.

    Binary models: the static binarized MNIST test split (no labels). Grey
    models: the MNIST test set quantized to ``levels`` values, with labels.
    """
    from engine.data.mnist import load_binarized_mnist, load_mnist

    if levels == 2:
        rows = load_binarized_mnist(root, "test")
        return TestDigits(rows.reshape(-1, 28, 28).astype(np.uint8), None, "static binarized MNIST test split")
    images, labels = load_mnist(root, "test")
    quantized = np.clip(images.astype(np.int64) * levels // 256, 0, levels - 1).astype(np.uint8)
    return TestDigits(quantized, labels.astype(np.uint8), f"MNIST test set, {levels} grey levels")


def variant(image: np.ndarray, kind: str, levels: int, seed: int = 0) -> np.ndarray:
    """An odd variant of a level image: "inverted", "rotated" (90° anticlockwise) or "noise" (uniform levels)."""
    image = np.asarray(image, dtype=np.uint8)
    if kind == "inverted":
        return (levels - 1 - image).astype(np.uint8)
    if kind == "rotated":
        return np.ascontiguousarray(np.rot90(image))
    if kind == "noise":
        return np.random.default_rng(seed).integers(0, levels, image.shape).astype(np.uint8)
    raise DataError(f"Unknown image variant {kind!r}; use one of: {', '.join(VARIANTS)}.")


def _intensity(pixels) -> tuple[np.ndarray, list[str]]:
    """Any grey or colour picture (h, w[, 1|3|4]) -> (h, w) float32 in [0, 1], and notes."""
    a, notes = np.asarray(pixels), []
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.dtype == bool:
        a = a.astype(np.float32)
    if not np.issubdtype(a.dtype, np.number) or not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
        raise DataError(f"The lens takes a grey or colour picture; this one is an array of {a.dtype} "
                        f"with shape {a.shape}.")
    top = 65535.0 if a.dtype == np.uint16 else 255.0 if np.issubdtype(a.dtype, np.integer) else 1.0
    a = a.astype(np.float32) / top
    if not np.isfinite(a).all():
        raise DataError("The picture has missing (NaN or infinite) values; the lens cannot measure it.")
    if a.ndim == 3:
        if a.shape[2] == 4:  # composite on white, the usual background of a drawn digit
            a = a[..., :3] * a[..., 3:] + (1.0 - a[..., 3:])
        a = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        notes.append("colour converted to grey")
    h, w = a.shape
    if min(h, w) < MIN_SIDE:
        raise DataError(f"A {w}×{h} picture is too small to hold a digit; the lens needs at least "
                        f"{MIN_SIDE}×{MIN_SIDE} pixels.")
    lo, hi = float(a.min()), float(a.max())
    a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    if np.median(a) > 0.5:
        a = 1.0 - a
        notes.append("dark ink on light paper inverted to MNIST's light ink on black")
    return a, notes


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    t = torch.as_tensor(np.ascontiguousarray(a))[None, None]
    return F.interpolate(t, size=size, mode="bilinear", antialias=True, align_corners=False)[0, 0].numpy()


def _fit_digit(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """MNIST's framing: crop to the ink, scale the longer side to 20/28 of the frame, centre the ink's mass."""
    ys, xs = np.nonzero(a > 0.2)
    if len(ys):
        a = a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    box = max(1, round(min(height, width) * 20 / 28))
    scale = box / max(a.shape)
    a = np.clip(_resize(a, (max(1, round(a.shape[0] * scale)), max(1, round(a.shape[1] * scale)))), 0, 1)
    out = np.zeros((height, width), np.float32)
    mass = a.sum()
    cy, cx = ((np.indices(a.shape) * a).reshape(2, -1).sum(1) / mass) if mass > 0 else np.array(a.shape) / 2
    top = int(np.clip(round(height / 2 - cy), 0, height - a.shape[0]))
    left = int(np.clip(round(width / 2 - cx), 0, width - a.shape[1]))
    out[top : top + a.shape[0], left : left + a.shape[1]] = a
    return out


def convert_image(pixels, levels: int, height: int = 28, width: int = 28) -> tuple[np.ndarray, str]:
    """Any picture -> ((height, width) uint8 level image, a note saying what was converted).

    Grey, colour (RGB/RGBA, composited on white) and boolean arrays of any
    numeric type are accepted; light paper is inverted; a whole multiple of
    the frame size is scaled down as is, any other size is framed like
    MNIST (:func:`_fit_digit`); binary models threshold at 0.5. A picture
    that is not an image, is smaller than 8×8 or has missing values is
    refused with :class:`~engine.errors.DataError`.
    """
    a, notes = _intensity(pixels)
    h, w = a.shape
    if (h, w) != (height, width):
        if h % height == 0 and w % width == 0 and h // height == w // width:
            a = np.clip(_resize(a, (height, width)), 0, 1)
            notes.append(f"scaled down from {w}×{h} to {width}×{height}")
        else:
            a = _fit_digit(a, height, width)
            notes.append(f"resized from {w}×{h} to {width}×{height}, the digit framed as in MNIST")
    if levels == 2:
        out = (a >= 0.5).astype(np.uint8)
        if np.any((a > 0.02) & (a < 0.98)):
            notes.append("thresholded at 0.5 to black and white")
    else:
        out = np.clip(np.floor(a * levels), 0, levels - 1).astype(np.uint8)
    note = ("Converted: " + "; ".join(notes) + ".") if notes else ""
    return out, note


__all__ = ["LensReport", "TestDigits", "VARIANTS", "convert_image", "load_test_digits", "measure", "pixel_nll",
           "share_below", "subset", "dataset_nlls", "variant"]
