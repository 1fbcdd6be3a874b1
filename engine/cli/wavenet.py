"""``train wavenet``, ``eval wavenet`` and ``sample wavenet``: the WaveNet's half of those commands.

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
import torch

from engine.checkpoints import load_checkpoint, read_config, save_checkpoint
from engine.data.audio import CONDITIONS, AudioSet, clip_rows, generated_audio, load_audio_folder, load_fsdd
from engine.data.folder import resolve_data_folder
from engine.device import select_device, seed_everything
from engine.errors import ConfigError
from engine.events import Done, Progress
from engine.models.wavenet import WaveNet, bits_per_sample
from engine.models.registry import load_model
from engine.training.loop import print_training, train



def _audio_data(args: argparse.Namespace) -> str:
    """"folder", "fsdd" (the default) or "generated_audio" from --audio-folder / --dataset."""
    if args.audio_folder:
        return "folder"
    name = getattr(args, "dataset", None) or "fsdd"
    if name not in ("fsdd", "generated_audio"):
        raise ConfigError(f"A WaveNet trains on audio: --dataset fsdd or generated_audio (or --audio-folder), not {name!r}.")
    return name


def add_wavenet_args(p: argparse.ArgumentParser) -> None:
    """Options of ``train wavenet`` (ignored by the other kinds)."""
    g = p.add_argument_group("wavenet")
    g.add_argument("--audio-folder", default=None, help="train on this folder of WAV/FLAC files instead of --dataset")
    g.add_argument("--condition", choices=CONDITIONS, default="digit", help="global conditioning (default digit)")
    g.add_argument("--mu-levels", type=int, default=256, help="μ-law levels (default 256)")
    g.add_argument("--residual", type=int, default=32, help="residual channels (default 32)")
    g.add_argument("--skip", type=int, default=64, help="skip channels (default 64)")
    g.add_argument("--layers-per-stack", type=int, default=8, help="dilations 1..2^(n-1) per stack (default 8)")
    g.add_argument("--stacks", type=int, default=2, help="stacks (default 2)")
    g.add_argument("--segment", type=int, default=2048, help="samples per training row (default 2048)")
    g.add_argument("--rate", type=int, default=8000, help="sample rate for a folder data set (default 8000)")


def wavenet_hparams(args: argparse.Namespace, n_classes: int) -> dict:
    data = _audio_data(args)
    return {"levels": args.mu_levels, "residual": args.residual, "skip": args.skip,
            "layers_per_stack": args.layers_per_stack, "stacks": args.stacks, "cond_classes": n_classes,
            "cond_name": "note" if data == "generated_audio" else ("speaker" if args.condition == "speaker" else "digit"),
            "sample_rate": 8000 if data != "folder" else args.rate}


def audio_splits(args: argparse.Namespace) -> tuple[AudioSet, AudioSet]:
    """(train, test) audio sets for ``--dataset`` / ``--audio-folder``; a folder's last tenth is held out."""
    source = _audio_data(args)
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
    if condition == "none" or data.labels is None:
        return 0
    return 6 if condition == "speaker" else 10


def cmd_train_wavenet(args: argparse.Namespace) -> int:
    """Train a WaveNet with the shared training loop; one atomic checkpoint per epoch."""
    if args.threads:
        torch.set_num_threads(args.threads)
    train_set, test_set = audio_splits(args)
    n_classes = _n_classes(train_set, args.condition)
    hp = wavenet_hparams(args, n_classes)
    rows = clip_rows(train_set, args.segment, args.mu_levels, with_labels=n_classes > 0)
    rows = rows[: args.limit] if args.limit else rows
    val = clip_rows(test_set, args.segment, args.mu_levels, with_labels=n_classes > 0)[:64]
    seed_everything(args.seed)
    model = WaveNet(**hp)
    info = {**train_set.info, "rows": f"{len(rows)} rows of {args.segment} samples", "sample_rate": hp["sample_rate"],
            "validation": f"first {len(val)} rows of the test split", "notes": train_set.notes[:10]}
    print(f"WaveNet: receptive field {model.receptive_field} samples ({1000 * model.receptive_field / hp['sample_rate']:.0f} ms), "
          f"{sum(p.numel() for p in model.parameters()):,} weights, {len(rows)} training rows", file=sys.stderr)
    events = train(model, rows, val_data=val, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                   lr_decay=args.lr_decay, seed=args.seed, device=select_device(args.device), dynamic_binarize=False,
                   checkpoint_path=Path(args.out), data_info=info, clip_grad=1.0, log_every=10)
    history: list[dict] = []
    result = print_training(events, history, key="bits_per_sample")
    ckpt = load_checkpoint(args.out)  # keep the per-epoch curve beside the weights, for the model card
    save_checkpoint(args.out, ckpt.state_dict, {**ckpt.config, "history": history})
    print(f"trained {result.get('steps')} steps in {result.get('seconds', 0):.0f} s -> {args.out}")
    return 0


@torch.no_grad()
def clip_nll(model: WaveNet, data: AudioSet):
    """Yield Progress per clip and Done({bits_per_sample, nats_per_sample, clips, samples}) over whole clips."""
    from engine.data.sound import mu_law_encode

    total, n = 0.0, 0
    device = model.embed.weight.device
    for i, clip in enumerate(data.clips):
        codes = torch.as_tensor(mu_law_encode(clip, model.levels))[None].to(device)
        label = None if model.cond_classes == 0 else torch.tensor([int(data.labels[i])], device=device)
        total -= float(model.log_prob(codes, label))
        n += codes.shape[1]
        yield Progress(i + 1, len(data.clips), "test NLL")
    yield Done({"nats_per_sample": total / n, "bits_per_sample": float(bits_per_sample(total / n)),
                "clips": len(data.clips), "samples": n})


def unigram_bits(train: AudioSet, test: AudioSet, levels: int) -> float:
    """Bits per test sample under the training set's μ-law histogram (add-one smoothed): the no-context baseline."""
    from engine.data.sound import mu_law_encode

    counts = np.ones(levels)
    for clip in train.clips:
        counts += np.bincount(mu_law_encode(clip, levels), minlength=levels)
    log2p = np.log2(counts / counts.sum())
    return float(-np.mean(np.concatenate([log2p[mu_law_encode(c, levels)] for c in test.clips])))


def cmd_eval_wavenet(args: argparse.Namespace) -> int:
    """Exact test NLL in bits per sample over the test split; ``--save`` stores it and writes the card."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_model(args.checkpoint, expected_kind="wavenet", device=select_device(args.device))
    condition = "none" if model.cond_classes == 0 else model.cond_name
    data = load_fsdd(resolve_data_folder(args.data).path, "test", condition, limit=args.limit)
    metrics: dict = {}
    for event in clip_nll(model, data):
        if isinstance(event, Progress):
            sys.stderr.write(f"\r  {event.message} {event.done}/{event.total} clips   ")
        elif isinstance(event, Done):
            metrics = {**event.result, "test_set": "FSDD test split (recordings 0-4 of each speaker and digit)"}
    sys.stderr.write("\n")
    if not args.limit:
        train_set = load_fsdd(resolve_data_folder(args.data).path, "train", "none")
        metrics.update(unigram_bits=unigram_bits(train_set, data, model.levels), uniform_bits=float(np.log2(model.levels)))
    print(f"test NLL  {metrics['bits_per_sample']:.4f} bits per sample ({metrics['nats_per_sample']:.4f} nats) over "
          f"{metrics['clips']} clips, {metrics['samples']} samples")
    if "unigram_bits" in metrics:
        print(f"baselines {metrics['uniform_bits']:.3f} bits (uniform), {metrics['unigram_bits']:.3f} bits (the training "
              "set's μ-law histogram, no context)")
    if args.save:
        from engine.cards.wavenet import write_wavenet_card

        ckpt = load_checkpoint(args.checkpoint)
        config = {**ckpt.config, "metrics": {**ckpt.config.get("metrics", {}), "test": metrics}}
        save_checkpoint(args.checkpoint, ckpt.state_dict, config)
        print(f"model card {write_wavenet_card(Path(args.checkpoint), read_config(args.checkpoint))}")
    return 0


def add_wave_sample_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("wavenet")
    g.add_argument("--seconds", type=float, default=2.0, help="seconds to generate (default 2)")
    g.add_argument("--digit", type=int, default=None, help="digit (or speaker index) to condition on")
    g.add_argument("--prime", default=None, help="WAV/FLAC file whose audio the generation continues")
    g.add_argument("--prime-seconds", type=float, default=0.25, help="how much of the priming file to use")


def cmd_sample_wavenet(args: argparse.Namespace, strategy) -> int:
    """Generate audio with the chosen strategy and write a WAV."""
    from engine.cards.bundled import ASSETS_DIR
    from engine.data.sound import read_audio, write_wav
    from engine.sampling.wavenet import AudioChunk, AudioDone, generate_steps

    model = load_model(args.checkpoint or ASSETS_DIR / "wavenet.safetensors", expected_kind="wavenet", device="cpu")
    label = args.digit if args.digit is not None else (0 if model.cond_classes else None)
    prime = None
    if args.prime:
        clip = read_audio(args.prime, model.sample_rate)
        prime = clip.audio[: int(args.prime_seconds * model.sample_rate)]
        for note in clip.notes:
            print(f"note: {args.prime}: {note}", file=sys.stderr)
    done = None
    for event in generate_steps(model, args.seconds, strategy=strategy, seed=args.seed, label=label, prime=prime):
        if isinstance(event, AudioChunk):
            made = (event.start + len(event.codes)) / model.sample_rate
            sys.stderr.write(f"\r  {made:.2f} s generated, {made / max(event.elapsed_s, 1e-9):.1f}x real time   ")
        elif isinstance(event, AudioDone):
            done = event
    sys.stderr.write("\n")
    path = write_wav(args.out, done.audio, done.rate)
    cond = f", {model.cond_name} {label}" if label is not None else ""
    print(f"{len(done.audio) / done.rate:.2f} s at {done.rate} Hz{cond}, {strategy.describe()}, "
          f"{done.seconds:.2f} s to make ({done.generated / done.rate / done.seconds:.1f}x real time); "
          f"{done.bits_per_sample:.3f} bits per generated sample -> {path}")
    return 0
