"""``python -m engine sample pixelcnn|wavenet ...``: images (PNG grid) or audio (WAV) under any decoding strategy.

Registered by :mod:`engine.cli.main` from :data:`SAMPLE_COMMAND` (name, help, add_args, run)::

    python -m engine sample pixelcnn --strategy top-p --top-p 0.9 -n 16 --out grid.png
    python -m engine sample pixelcnn --strategy beam --beam-width 4 --out beams.png
    python -m engine sample pixelcnn --complete top --index 7 -n 8 --out completions.png
    python -m engine sample wavenet --seconds 3 --digit 7 --out seven.wav  (see engine.cli.wavenet)

Invalid settings raise :class:`~engine.errors.ConfigError` (one sentence,
exit status 2). PNGs are written with the standard library (zlib + struct).
"""

from __future__ import annotations

import argparse
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from engine.cards.bundled import ASSETS_DIR
from engine.catalog import KINDS, check_work, get, load_model, resolve
from engine.checkpoints import write_file
from engine.cli.options import add_strategy, add_threads, common_parent, set_threads, strategy_from
from engine.cli.pixelcnn import pixelcnn_data
from engine.cli.progress import Printer
from engine.data.folder import resolve_data_folder
from engine.device import select_device
from engine.errors import ConfigError
from engine.sampling.decoding import BeamStep
from engine.sampling.mosaic import grid_shape, mosaic
from engine.sampling.pixelcnn import (MASK_KINDS, PixelStep, SampleDone, beam_search_images, completion_mask,
                                      sample_steps)


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write a (H, W) uint8 grey image as an 8-bit greyscale PNG; returns the path."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim != 2:
        raise ConfigError(f"A greyscale PNG needs a 2-D image, got shape {image.shape}.")
    h, w = image.shape
    raw = b"".join(b"\x00" + image[r].tobytes() for r in range(h))  # filter type 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    path = Path(path)
    write_file(path, png)
    return path


MAX_PNG_PIXELS = 1 << 26  # 64 megapixels: a PNG grid larger than this is refused before anything is painted


def check_grid(n: int, height: int, width: int, scale: int, gap: int = 2) -> None:
    """ConfigError if a grid of ``n`` (height, width) images at ``scale`` would pass :data:`MAX_PNG_PIXELS`."""
    rows, cols = grid_shape(n)
    pixels = rows * (height + gap) * cols * (width + gap) * scale * scale
    if pixels > MAX_PNG_PIXELS:
        raise ConfigError(f"A grid of {n} images at --scale {scale} would have {pixels:,} pixels, more than the "
                          f"{MAX_PNG_PIXELS:,} limit; ask for fewer images or a smaller --scale.")


def image_grid(images: np.ndarray, levels: int, scale: int = 2, gap: int = 2) -> np.ndarray:
    """(N, H, W) level values -> one (rows*(H+gap)-gap, cols*(W+gap)-gap) uint8 grid, ink white, upscaled
    (ConfigError if it would pass :data:`MAX_PNG_PIXELS`)."""
    check_grid(*np.shape(images), scale, gap)
    grey = (np.asarray(images, np.float32) * (255.0 / (levels - 1))).round().astype(np.uint8)
    return np.kron(mosaic(grey, gap=gap, fill=64), np.ones((scale, scale), dtype=np.uint8))


def add_sample_args(p: argparse.ArgumentParser) -> None:
    """One sub-command per catalog kind that samples: the shared options, then the kind's own (its ``sample_args``)."""
    names = [k for k, e in KINDS.items() if e.sample]
    kinds = p.add_subparsers(dest="kind", metavar="kind", required=True, help=f"model kind: {', '.join(names)}")
    for name in names:
        k = kinds.add_parser(name, parents=[common_parent()], help=f"sample a {name}")
        k.add_argument("--checkpoint", default=None, help="default: the bundled assets/<kind>.safetensors")
        add_strategy(k)
        k.add_argument("--seed", type=int, default=0)
        add_threads(k, 1)
        k.add_argument("--out", required=True, help="file to write (PNG for images, WAV for audio)")
        if KINDS[name].sample_args is not None:
            resolve(KINDS[name].sample_args)(k)


def add_pixelcnn_sample_args(p: argparse.ArgumentParser) -> None:
    """``sample pixelcnn`` options: how many images, label, completion of a test image, method, PNG scale."""
    p.add_argument("-n", type=int, default=16, help="images to paint (default 16)")
    p.add_argument("--label", type=int, default=None, help="digit to paint (class-conditional models only)")
    p.add_argument("--complete", choices=MASK_KINDS, default=None, help="keep this half of a test image, paint the rest")
    p.add_argument("--index", type=int, default=0, help="test image to complete (default 0)")
    p.add_argument("--method", choices=("fast", "naive"), default="fast")
    p.add_argument("--scale", type=int, default=3, help="PNG pixels per image pixel (default 3)")


def _known(args: argparse.Namespace, model) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The test image to complete (H, W) level values and its known mask (H, W) bool, or (None, None)."""
    if args.complete is None:
        return None, None
    _, _, test, _ = pixelcnn_data(resolve_data_folder(args.data).path, model.levels, False)
    if not 0 <= args.index < len(test):
        raise ConfigError(f"--index must be between 0 and {len(test) - 1}, got {args.index}.")
    row = torch.as_tensor(test[args.index]).float()
    row = row / 255.0 if test.dtype == np.uint8 else row
    known = model.quantize(row).reshape(model.height, model.width).numpy()
    return known, completion_mask(args.complete, model.height, model.width)


def _run(args: argparse.Namespace, model, strategy) -> SampleDone:
    labels = None if args.label is None else [args.label] * args.n
    if strategy.is_beam:
        events = beam_search_images(model, strategy.beam_width, label=args.label)
        total = model.height * model.width
    else:
        known, mask = _known(args, model)
        events = sample_steps(model, args.n, strategy=strategy, seed=args.seed, labels=labels, known=known,
                              mask=mask, method=args.method)
        total = model.height
    done, printer = None, Printer(unit="row" if not strategy.is_beam else "pixel")
    try:
        for event in events:
            if isinstance(event, PixelStep) and event.col == model.width - 1:
                printer.progress(event.row + 1, total, "  painting")
            elif isinstance(event, BeamStep) and event.length % model.width == 0:
                printer.progress(event.length, total, "  beam search")
            elif isinstance(event, SampleDone):
                done = event
    finally:
        printer.close()
    return done


def cmd_sample(args: argparse.Namespace) -> int:
    """Sample with the chosen strategy through the kind's catalog entry."""
    strategy = strategy_from(args)
    set_threads(args.threads)
    args.checkpoint = args.checkpoint or ASSETS_DIR / f"{args.kind}.safetensors"
    return resolve(get(args.kind).sample)(args, strategy)


def sample_pixelcnn(args: argparse.Namespace, strategy) -> int:
    """Paint images with ``strategy`` and write the grid PNG."""
    model = load_model(args.checkpoint, expected_kind=args.kind, device=select_device(args.device))
    examples = args.beam_width if strategy.is_beam else args.n
    check_work(model, examples, f"{examples} {'beams' if strategy.is_beam else 'images'}")
    check_grid(examples, model.height, model.width, args.scale)
    start = time.perf_counter()
    done = _run(args, model, strategy)
    seconds = time.perf_counter() - start
    path = write_png(args.out, image_grid(done.image, model.levels, args.scale))
    print(f"{len(done.image)} image(s), {strategy.describe()}, {seconds:.2f} s; mean log p(x) "
          f"{float(np.mean(done.log_prob)):.1f} nats ({float(np.mean(done.bits_per_dim)):.3f} bits/dim) -> {path}")
    return 0


SAMPLE_COMMAND = ("sample", "paint images (PixelCNN, PNG grid) or generate audio (WaveNet, WAV) under a decoding strategy",
                  add_sample_args, cmd_sample)

__all__ = ["SAMPLE_COMMAND", "add_pixelcnn_sample_args", "add_sample_args", "cmd_sample", "image_grid", "sample_pixelcnn", "write_png"]
