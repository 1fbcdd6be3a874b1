"""``train wavenet``, ``eval wavenet`` and ``sample wavenet``, as :mod:`engine.catalog` names them::

    python -m engine train wavenet --dataset fsdd --condition digit --epochs 3 --out assets/wavenet.safetensors
    python -m engine eval wavenet --checkpoint assets/wavenet.safetensors [--save]
    python -m engine sample wavenet --seconds 3 --digit 7 --out seven.wav

Training rows are ``--segment`` μ-law codes cut from the clips (label last);
the test NLL is exact over whole test clips, each from its first sample.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from engine.catalog import build_model, check_work, get, load_model
from engine.cards.bundled import ASSETS_DIR
from engine.cards.common import save_test_metrics
from engine.cli.options import kind_options, set_threads, train_settings
from engine.cli.eval import load_for_eval
from engine.cli.progress import Printer, track
from engine.cli.train import report_training
from engine.data.audio import AudioSet, clip_rows, generated_audio, load_audio_folder, load_fsdd
from engine.data.folder import resolve_data_folder
from engine.data.sound import read_audio, write_wav
from engine.device import select_device, seed_everything
from engine.errors import ConfigError
from engine.events import Done
from engine.evaluation.likelihood import clip_nll, unigram_bits
from engine.sampling.wavenet import AudioChunk, AudioDone, generate_steps
from engine.training.loop import train

_CLASSES = {"digit": 10, "speaker": 6, "none": 0}


def _audio_data(values: dict) -> str:
    """"folder", "fsdd" (the default) or "generated_audio" from the audio_folder / dataset values."""
    if values.get("audio_folder"):
        return "folder"
    name = values.get("dataset") or "fsdd"
    if name not in ("fsdd", "generated_audio"):
        raise ConfigError(f"A WaveNet trains on audio: --dataset fsdd or generated_audio (or --audio-folder), not {name!r}.")
    return name


def wavenet_hparams(values: dict) -> dict:
    """The WaveNet's constructor arguments from the catalog's option values (plus ``dataset``, ``cond_classes``)."""
    data, condition = _audio_data(values), values["condition"]
    return {"levels": values["levels"], "residual": values["residual"], "skip": values["skip"],
            "layers_per_stack": values["layers_per_stack"], "stacks": values["stacks"],
            "cond_classes": values.get("cond_classes", _CLASSES[condition]),
            "cond_name": "note" if data == "generated_audio" else ("speaker" if condition == "speaker" else "digit"),
            "sample_rate": 8000 if data != "folder" else values["rate"]}


def audio_splits(args: argparse.Namespace) -> tuple[AudioSet, AudioSet]:
    """(train, test) audio sets for ``--dataset`` / ``--audio-folder``; a folder's last tenth is held out."""
    source = _audio_data(vars(args))
    if source == "fsdd":
        root = resolve_data_folder(args.data).path
        return load_fsdd(root, "train", args.condition), load_fsdd(root, "test", args.condition)
    if source == "generated_audio":
        return generated_audio(400, seed=0), generated_audio(60, seed=1)
    data = load_audio_folder(Path(args.audio_folder), args.rate)
    cut = max(1, len(data.clips) * 9 // 10) if len(data.clips) > 1 else 1
    def part(lo, hi):
        labels = None if data.labels is None else data.labels[lo:hi]
        return AudioSet(data.clips[lo:hi], labels, data.rate, {**data.info, "clips": hi - lo}, data.notes)
    return part(0, cut), part(cut if cut < len(data.clips) else 0, len(data.clips))


def _n_classes(data: AudioSet, condition: str) -> int:
    return 0 if data.labels is None else _CLASSES[condition]


def cmd_train_wavenet(args: argparse.Namespace) -> int:
    """Train a WaveNet with the shared training loop; one atomic checkpoint per epoch."""
    entry = get("wavenet")
    s = train_settings(args, entry)
    set_threads(s.threads)
    values = {**entry.option_defaults(), **kind_options(args, entry), "dataset": args.dataset}
    train_set, test_set = audio_splits(argparse.Namespace(**{**vars(args), **values}))
    values["cond_classes"] = _n_classes(train_set, values["condition"])
    hp = entry.hparams_from(values)
    segment, levels, labelled = values["segment"], hp["levels"], hp["cond_classes"] > 0
    rows = clip_rows(train_set, segment, levels, with_labels=labelled)
    rows = rows[: args.limit] if args.limit else rows
    val = clip_rows(test_set, segment, levels, with_labels=labelled)[:64]
    seed_everything(s.seed)
    model = build_model("wavenet", hp)
    info = {**train_set.info, "rows": f"{len(rows)} rows of {segment} samples", "sample_rate": hp["sample_rate"],
            "validation": f"first {len(val)} rows of the test split", "notes": train_set.notes[:10]}
    print(f"WaveNet: receptive field {model.receptive_field} samples ({1000 * model.receptive_field / hp['sample_rate']:.0f} ms), "
          f"{sum(p.numel() for p in model.parameters()):,} weights, {len(rows)} training rows", file=sys.stderr)
    events = train(model, rows, val_data=val, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr, lr_decay=s.lr_decay,
                   seed=s.seed, device=select_device(args.device), dynamic_binarize=False,
                   checkpoint_path=Path(args.out), data_info=info, clip_grad=1.0, log_every=10)
    report_training(events, args.out, key="bits_per_sample", keep_history=True)
    return 0


def cmd_eval_wavenet(args: argparse.Namespace) -> int:
    """Exact test NLL in bits per sample over the test split; ``--save`` stores it and writes the card."""
    model, _ = load_for_eval(args)
    condition = "none" if model.cond_classes == 0 else model.cond_name
    data = load_fsdd(resolve_data_folder(args.data).path, "test", condition, limit=args.limit)
    metrics: dict = {}
    for event in track(clip_nll(model, data), unit="clip"):
        if isinstance(event, Done):
            metrics = {**event.result, "test_set": "FSDD test split (recordings 0-4 of each speaker and digit)"}
    if not args.limit:
        train_set = load_fsdd(resolve_data_folder(args.data).path, "train", "none")
        metrics.update(unigram_bits=unigram_bits(train_set, data, model.levels), uniform_bits=float(np.log2(model.levels)))
    print(f"test NLL  {metrics['bits_per_sample']:.4f} bits per sample ({metrics['nats_per_sample']:.4f} nats) over "
          f"{metrics['clips']} clips, {metrics['samples']} samples")
    if "unigram_bits" in metrics:
        print(f"baselines {metrics['uniform_bits']:.3f} bits (uniform), {metrics['unigram_bits']:.3f} bits (the training "
              "set's μ-law histogram, no context)")
    if args.save:
        print(f"model card {save_test_metrics(args.checkpoint, metrics)}")
    return 0


def add_wave_sample_args(p: argparse.ArgumentParser) -> None:
    """``sample wavenet`` options: length, conditioning label, priming audio."""
    g = p.add_argument_group("wavenet")
    g.add_argument("--seconds", type=float, default=2.0, help="seconds to generate (default 2)")
    g.add_argument("--digit", type=int, default=None, help="digit (or speaker index) to condition on")
    g.add_argument("--prime", default=None, help="WAV/FLAC file whose audio the generation continues")
    g.add_argument("--prime-seconds", type=float, default=0.25, help="how much of the priming file to use")


def cmd_sample_wavenet(args: argparse.Namespace, strategy) -> int:
    """Generate audio with the chosen strategy and write a WAV."""
    model = load_model(args.checkpoint, expected_kind="wavenet", device="cpu")
    total = int(round(args.seconds * model.sample_rate))
    check_work(model, 1, f"{total:,} samples of audio", extra_bytes=12 * total)
    label = args.digit if args.digit is not None else (0 if model.cond_classes else None)
    prime = None
    if args.prime:  # only the part used is read from disk
        clip = read_audio(args.prime, model.sample_rate, seconds=args.prime_seconds)
        prime = clip.audio[: max(1, int(args.prime_seconds * model.sample_rate))]
        for note in clip.notes:
            print(f"note: {args.prime}: {note}", file=sys.stderr)
    done = None
    printer = Printer(unit="sample")
    try:
        for event in generate_steps(model, args.seconds, strategy=strategy, seed=args.seed, label=label, prime=prime):
            if isinstance(event, AudioChunk):
                printer.progress(event.start + len(event.codes), total, "  generating")
            elif isinstance(event, AudioDone):
                done = event
    finally:
        printer.close()
    path = write_wav(args.out, done.audio, done.rate)
    cond = f", {model.cond_name} {label}" if label is not None else ""
    print(f"{len(done.audio) / done.rate:.2f} s at {done.rate} Hz{cond}, {strategy.describe()}, "
          f"{done.seconds:.2f} s to make ({done.generated / done.rate / done.seconds:.1f}x real time); "
          f"{done.bits_per_sample:.3f} bits per generated sample -> {path}")
    return 0
