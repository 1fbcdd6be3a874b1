"""What the latent explorer computes: decodes, grids, paths, densities, reports.

Works for any model with ``decode(z) -> (B, 28, 28)`` and ``encode(x)``:
VAE, β-VAE, autoencoder (no log-variance) and PPCA. Everything returns
numpy arrays (float32 images in [0, 1]) ready for display.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.errors import ConfigError, DataError

IMAGE = 28


def _decode(model, z: np.ndarray) -> np.ndarray:
    """z: (B, 2) -> images (B, 28, 28) float32 in [0, 1]."""
    with torch.inference_mode():
        zt = torch.as_tensor(np.asarray(z, np.float32), device=_device(model))
        images = model.decode(zt)
    return images.clamp(0, 1).float().cpu().numpy()


def _device(model) -> torch.device:
    for tensor in list(model.parameters()) + list(model.buffers()):
        return tensor.device
    return torch.device("cpu")


def decode_point(model, z: tuple[float, float]) -> np.ndarray:
    """One latent point -> (28, 28) float32."""
    return _decode(model, np.asarray([z], np.float32))[0]


def grid_points(x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> np.ndarray:
    """Centres of an n×n grid over the rectangle, rows top (high y) to bottom: (n*n, 2)."""
    if not 2 <= n <= 60:
        raise ConfigError(f"Grid size must be between 2 and 60, got {n}.")
    dx, dy = (x_range[1] - x_range[0]) / n, (y_range[1] - y_range[0]) / n
    xs = x_range[0] + dx * (np.arange(n) + 0.5)
    ys = y_range[1] - dy * (np.arange(n) + 0.5)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32)


def decode_grid(model, x_range: tuple[float, float], y_range: tuple[float, float], n: int) -> np.ndarray:
    """Mosaic of decodes over the visible rectangle: (n*28, n*28) float32, row 0 at the top."""
    images = _decode(model, grid_points(x_range, y_range, n)).reshape(n, n, IMAGE, IMAGE)
    return images.transpose(0, 2, 1, 3).reshape(n * IMAGE, n * IMAGE)


def interpolate(z0, z1, steps: int, mode: str = "linear") -> np.ndarray:
    """Path from z0 to z1 (both (2,)): (steps, 2). ``mode`` "linear" or "spherical".

    Spherical interpolation (slerp) rotates between the two directions and
    interpolates the radius, which keeps the path where a Gaussian prior puts
    its mass instead of cutting through the low-norm middle.
    """
    if steps < 2:
        raise ConfigError(f"An interpolation needs at least 2 steps, got {steps}.")
    z0, z1 = np.asarray(z0, np.float64), np.asarray(z1, np.float64)
    t = np.linspace(0.0, 1.0, steps)[:, None]
    if mode == "linear":
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    if mode != "spherical":
        raise ConfigError(f"Unknown interpolation {mode!r}; use 'linear' or 'spherical'.")
    r0, r1 = np.linalg.norm(z0), np.linalg.norm(z1)
    if r0 < 1e-9 or r1 < 1e-9:
        return ((1 - t) * z0 + t * z1).astype(np.float32)
    u0, u1 = z0 / r0, z1 / r1
    omega = math.acos(float(np.clip(u0 @ u1, -1.0, 1.0)))
    if omega < 1e-6:
        direction = np.broadcast_to(u0, (steps, 2))
    else:
        direction = (np.sin((1 - t) * omega) * u0 + np.sin(t * omega) * u1) / math.sin(omega)
    return (direction * ((1 - t) * r0 + t * r1)).astype(np.float32)


def decode_path(model, path: np.ndarray) -> np.ndarray:
    """Decodes along a path (S, 2) -> strip (28, S*28) float32."""
    images = _decode(model, path)
    return images.transpose(1, 0, 2).reshape(IMAGE, -1)


def prior_density(x_range, y_range, size: int = 200) -> np.ndarray:
    """N(0, I) density on a size×size raster over the rectangle: (size, size), x index first."""
    xs = np.linspace(*x_range, size)
    ys = np.linspace(*y_range, size)
    gx, gy = np.meshgrid(xs, ys, indexing="ij")
    return np.exp(-0.5 * (gx**2 + gy**2)) / (2 * np.pi)


def data_density(codes: np.ndarray, x_range, y_range, size: int = 200, bandwidth: float = 1.5) -> np.ndarray:
    """Smoothed histogram of encoded data (N, 2) on a size×size raster, normalised to max 1."""
    hist, _, _ = np.histogram2d(codes[:, 0], codes[:, 1], bins=size, range=[x_range, y_range])
    radius = max(1, int(3 * bandwidth))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / bandwidth) ** 2)
    k /= k.sum()
    smooth = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 0, hist)
    smooth = np.apply_along_axis(lambda r: np.convolve(r, k, mode="same"), 1, smooth)
    return smooth / max(smooth.max(), 1e-12)


@dataclass(frozen=True)
class DigitReport:
    """Everything the inspector shows for one image.

    image, recon: (28, 28) float32; mu: (2,); var: (2,) or None (autoencoder);
    elbo/recon_ll/kl/log_px in nats (None where the model has no such term);
    k: importance samples used for log_px.
    """

    image: np.ndarray
    recon: np.ndarray
    mu: np.ndarray
    var: np.ndarray | None
    elbo: float | None
    recon_ll: float | None
    kl: float | None
    log_px: float | None
    k: int
    note: str = ""


def inspect_digit(model, image: np.ndarray, k: int = 1000, seed: int = 0) -> DigitReport:
    """Encode, reconstruct and score a (28, 28) image in [0, 1].

    Bernoulli models score the image binarised at 0.5 (their likelihood is
    over binary pixels). PPCA scores intensities with its exact density.
    """
    image = np.asarray(image, np.float32)
    if image.shape != (IMAGE, IMAGE):
        raise DataError(f"The digit must be a 28×28 image, got shape {image.shape}.")
    gen = torch.Generator().manual_seed(seed)
    kind = getattr(model, "kind", "")
    with torch.inference_mode():
        x = torch.from_numpy(image).reshape(1, -1).to(_device(model))
        xb = (x > 0.5).float()
        mu, logvar = model.encode(xb if kind != "ppca" else x)
        recon = model.decode(mu).clamp(0, 1)[0].cpu().numpy()
        var = None if logvar is None else logvar.exp()[0].cpu().numpy()
        if kind == "vae":
            reps = min(int(k), 500)  # average the 1-sample ELBO so the gap is not noise
            parts = model.elbo(xb.expand(reps, -1), generator=gen)
            parts = type(parts)(*(t.mean(0, keepdim=True) for t in parts))
            log_px = float(model.iwae_log_likelihood(xb, k, generator=gen)[0])
            return DigitReport(image, recon, mu[0].cpu().numpy(), var, float(parts.elbo[0]),
                               float(parts.recon[0]), float(parts.kl[0]), log_px, k,
                               "Scored as a binary image (pixels > 0.5).")
        if kind == "ppca":
            log_px = float(model.log_prob(x)[0])
            return DigitReport(image, recon, mu[0].cpu().numpy(), var, None, None, None, log_px, k,
                               "PPCA: exact Gaussian density of the grey levels (not comparable to nats of binary models).")
        recon_ll = float(model.reconstruction_log_prob(xb)[0])
        return DigitReport(image, recon, mu[0].cpu().numpy(), None, None, recon_ll, None, None, k,
                           "An autoencoder has no prior or posterior, so no ELBO and no likelihood.")


def sample_prior(model, n: int, seed: int = 0, prior=None) -> tuple[np.ndarray, np.ndarray]:
    """n latent samples from N(0, I) (or ``prior``: any object with ``sample(n, generator) -> (n, 2)``, e.g. a
    MixturePrior or a MAF) and their decodes.

    Returns z: (n, 2) float32 and images: (n, 28, 28) float32. Same seed, same samples.
    """
    if not 1 <= n <= 10_000:
        raise ConfigError(f"Draw between 1 and 10000 samples, got {n}.")
    gen = torch.Generator().manual_seed(seed)
    if prior is not None:
        with torch.no_grad():
            z = np.asarray(torch.as_tensor(prior.sample(n, generator=gen)).float().cpu().numpy(), np.float32)
    else:
        z = torch.randn(n, 2, generator=gen).numpy()
    return z, _decode(model, z)


@dataclass(frozen=True)
class LatentModel:
    """A 2-D latent model ready for the map.

    codes: (N, 2) latent means of the MNIST test digits, or None; logvar:
    (N, 2) or None; labels: (N,) or None; images: (N, 28, 28) uint8 test
    digits when the data folder has them (for inspection), else None.
    """

    name: str
    model: object
    codes: np.ndarray | None
    logvar: np.ndarray | None
    labels: np.ndarray | None
    images: np.ndarray | None
    note: str = ""


def open_latent_model(path, name: str, codes_file=None, data_root=None) -> LatentModel:
    """Load a 2-D latent checkpoint and find the codes of the test digits.

    Codes come from the shipped ``latent_codes.npz`` (key ``<name>_mu``) when
    present, else by encoding the MNIST test set from ``data_root``.
    """
    from engine.data.mnist import load_mnist
    from engine.errors import CheckpointError
    from engine.catalog import kinds_for, load_model

    model = load_model(path, expected_kind=set(kinds_for("latent")))
    if getattr(model, "latent_dim", 2) != 2:
        raise CheckpointError(f"{getattr(path, 'name', path)} has a {model.latent_dim}-d latent space; "
                              "the map needs a 2-d one (the current model stays).")
    images = labels = None
    if data_root is not None:
        try:
            images, labels = load_mnist(data_root, "test")
        except DataError:
            images = labels = None
    codes = logvar = None
    note = ""
    if codes_file is not None and _has_codes(codes_file, name):
        with np.load(codes_file) as npz:
            codes = npz[f"{name}_mu"].astype(np.float32)
            logvar = npz[f"{name}_logvar"].astype(np.float32) if f"{name}_logvar" in npz else None
            labels = npz["labels"].astype(np.int64)
        if images is None:
            note = ("Showing the codes shipped with GenScope (no MNIST in the data folder); "
                    "drawing works, Ctrl+click inspection needs the data folder.")
    elif images is not None:
        codes, logvar = encode_images(model, images)
        labels = labels.astype(np.int64)
        note = "Encoded the MNIST test digits from the data folder."
    else:
        note = "No shipped codes for this model and no MNIST in the data folder: the map shows no digits."
    return LatentModel(name, model, codes, logvar, labels, images, note)


def _has_codes(codes_file, name: str) -> bool:
    from pathlib import Path

    if not Path(codes_file).exists():
        return False
    with np.load(codes_file) as npz:
        return f"{name}_mu" in npz.files


def encode_images(model, images: np.ndarray, batch: int = 2000) -> tuple[np.ndarray, np.ndarray | None]:
    """Images (N, 28, 28 | 784), uint8 0..255 (divided by 255) or floats in [0, 1] -> latent means (N, 2) and
    log-variances (N, 2) or None."""
    mus, logvars = [], []
    with torch.inference_mode():
        for start in range(0, len(images), batch):
            chunk = np.asarray(images[start : start + batch]).reshape(-1, 784)
            x = torch.from_numpy(chunk.astype(np.float32) / 255.0 if chunk.dtype == np.uint8 else chunk.astype(np.float32))
            mu, logvar = model.encode(x.to(_device(model)))
            mus.append(mu.float().cpu().numpy())
            if logvar is not None:
                logvars.append(logvar.float().cpu().numpy())
    return np.concatenate(mus), (np.concatenate(logvars) if logvars else None)
