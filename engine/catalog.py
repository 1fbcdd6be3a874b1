"""Every model kind, declared once: its class, settings, data sets, presets and how it trains, evaluates and samples.

A :class:`Kind` is one entry of :data:`KINDS`; :func:`register` adds one (a
test's own model, a new family). Everything that needs to know the kinds
reads this table: ``python -m engine train|eval|sample`` (their per-kind
options come from :attr:`Kind.options`), the run folders
(:mod:`engine.training.runs`), the Training monitor's picker
(:func:`presets`) and :func:`load_model` for the tabs.

Adding a model is one model file plus one :class:`Kind` here. The model
contract: ``model.kind``, ``model.hparams()`` (the constructor's keyword
arguments, stored in checkpoints) and ``model.loss(x[, generator])`` (a loss
or ``(loss, {name: value})``) for the training loop.

Functions are referenced as ``"module:function"`` strings (or callables),
resolved by :func:`resolve` only when used, so reading the catalog imports
no model and no command. GMMs are fitted by EM and are not listed
(``python -m engine gmm``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import torch
from torch import nn

from engine.checkpoints import load_checkpoint, load_into, read_config
from engine.errors import CheckpointError, ConfigError, GenScopeError
from engine.models.kind import Kind, resolve
from engine.models.limits import (BINARY_LIMITS, FLOW_LIMITS, FLOW_OPTIONS, FLOW_SETTINGS, PIXELCNN_LIMITS, POINT_SETS,
                                  WAVENET_LIMITS, Option, short)


MAX_MODEL_BYTES = 2 << 30  # a model's weights plus the activations of the work asked of it


_LATENT_SETTINGS = {"epochs": 5, "batch_size": 128, "lr": 1e-3, "sample_every": 200, "checkpoint_every": 500,
                    "sample_count": 64}
_MNIST_SETS = ("mnist", "binarized_mnist", "generated")
_DECODES = "Decodes of fixed latent points (the same points at every step)"
_WAVENET = {"levels": 256, "residual": 16, "skip": 32, "layers_per_stack": 8, "stacks": 2, "cond_classes": 10,
            "cond_name": "digit", "sample_rate": 8000}
_LATENT = "engine.cli.latent"
_LATENT_OPTIONS = (
    Option("latent_dim", 2, int, "latent dimensions", 1, 4096, flag="--latent"),
    Option("arch", "mlp", str, "encoder/decoder architecture", choices=("mlp", "conv")),
    Option("hidden", [512, 256], int, "hidden widths", 1, 65536, many=True),
    Option("activation", "elu", str, "activation", choices=("elu", "relu")),
)
_BETA = Option("beta", 1.0, float, "KL weight of the VAE", 0, 1e6)
_LATENT_COST = "engine.models.vae:cost"

_BUILTIN = (
    Kind("vae", "engine.models.vae:VAE", (*_LATENT_OPTIONS, _BETA),
         _LATENT_SETTINGS, _MNIST_SETS,
         {"VAE (2-D latent)": {"latent_dim": 2, "beta": 1.0}, "β-VAE (2-D latent)": {"latent_dim": 2, "beta": 4.0},
          "VAE (32-D latent)": {"latent_dim": 32, "beta": 1.0}},
         frozenset({"lr", "beta"}), {"elbo": "elbo", "recon": "recon", "kl": "kl"}, "images", _DECODES,
         sample=None, views=("latent",), train=f"{_LATENT}:train_latent", evaluate=f"{_LATENT}:eval_latent",
         card="engine.cards.latent:write_latent_card", limits=(*_LATENT_OPTIONS, _BETA), cost=_LATENT_COST),
    Kind("autoencoder", "engine.models.vae:Autoencoder", _LATENT_OPTIONS, _LATENT_SETTINGS, _MNIST_SETS,
         {"Autoencoder (2-D latent)": {"latent_dim": 2}}, frozenset({"lr"}), {"recon": "recon"}, "images", _DECODES,
         sample=None, views=("latent",), train=f"{_LATENT}:train_latent", evaluate=f"{_LATENT}:eval_latent",
         card="engine.cards.latent:write_latent_card", limits=_LATENT_OPTIONS, cost=_LATENT_COST),
    Kind("ppca", "engine.models.ppca:PPCA",
         (Option("latent_dim", 2, int, "latent dimensions", 1, 784, flag="--latent"),),
         _LATENT_SETTINGS, ("mnist",), hparams=f"{_LATENT}:ppca_hparams", iterative=False,
         sample=None, views=("latent",), train=f"{_LATENT}:train_latent", evaluate=f"{_LATENT}:eval_latent",
         card="engine.cards.latent:write_latent_card", cost="engine.models.ppca:cost",
         limits=(Option("data_dim", 784, int, low=2, high=1 << 20), Option("latent_dim", 2, int, low=1, high=4096))),
    # ~10 ms per image for a step on one CPU thread: a 10k-image epoch takes about 2 minutes;
    # a 16-image grid from the fast sampler takes ~0.4 s, well under 1 % of 200 steps.
    Kind("pixelcnn", "engine.models.pixelcnn:PixelCNN",
         (Option("levels", 2, int, "values per pixel: 2 (binarized), 16 or 256 grey levels", choices=(2, 16, 256)),
          Option("channels", 32, int, "channels per gated layer", 1, 1024),
          Option("layers", 5, int, "gated layers", 1, 64),
          Option("kernel", 3, int, "kernel of the later layers", 1, 27),
          Option("first_kernel", 7, int, "kernel of the first layer", 1, 27),
          Option("conditional", False, bool, "condition on the digit label (grey levels only)")),
         {"epochs": 2, "batch_size": 32, "lr": 1e-3, "sample_every": 200, "checkpoint_every": 500, "sample_count": 16},
         ("binarized_mnist", "mnist", "generated"),
         {"PixelCNN (binarized MNIST)": {"levels": 2, "channels": 32, "layers": 5}},
         frozenset({"lr"}), {"bits_per_dim": "bits/dim"}, "images",
         "Images sampled pixel by pixel with the same seed at every step",
         data={"limit": 10_000, "val_limit": 2_000}, requires={"levels": 2, "num_classes": 0},
         hparams="engine.cli.pixelcnn:pixelcnn_hparams", train="engine.cli.pixelcnn:cmd_train_pixelcnn",
         evaluate="engine.cli.pixelcnn:cmd_eval_pixelcnn", sample="engine.cli.sample:sample_pixelcnn",
         sample_args="engine.cli.sample:add_pixelcnn_sample_args",
         card="engine.cards.pixelcnn:write_pixelcnn_card", views=("images",), limits=PIXELCNN_LIMITS,
         cost="engine.models.pixelcnn:cost"),
    # ~0.11 s of CPU per step of 8 x 1024 samples on one thread; two 1-second clips ~0.24 s (about 2 % of 100 steps).
    Kind("wavenet", "engine.models.wavenet:WaveNet",
         (Option("audio_folder", None, str, "train on this folder of WAV/FLAC files instead of --dataset"),
          Option("condition", "digit", str, "global conditioning", choices=("digit", "speaker", "none")),
          Option("levels", 256, int, "μ-law levels", 2, 65536, flag="--mu-levels"),
          Option("residual", 32, int, "residual channels", 1, 1024),
          Option("skip", 64, int, "skip channels", 1, 1024),
          Option("layers_per_stack", 8, int, "dilations 1..2^(n-1) per stack", 1, 16),
          Option("stacks", 2, int, "stacks", 1, 16),
          Option("segment", 2048, int, "samples per training row", 2, 1 << 20),
          Option("rate", 8000, int, "sample rate for a folder data set", 1000, 192000)),
         {"epochs": 1, "batch_size": 8, "lr": 2e-3, "sample_every": 100, "checkpoint_every": 200, "sample_count": 2},
         ("fsdd", "generated_audio"),
         {"WaveNet (spoken digits, digit-conditioned)": _WAVENET, "WaveNet (unconditional)": {**_WAVENET, "cond_classes": 0}},
         frozenset({"lr"}), {"bits_per_sample": "bits/sample"}, "audio",
         "One-second clips generated sample by sample with the same seed at every step (Play to hear)",
         data={"val_limit": 64}, requires={"levels": 256, "sample_rate": 8000},
         hparams="engine.cli.wavenet:wavenet_hparams", train="engine.cli.wavenet:cmd_train_wavenet",
         evaluate="engine.cli.wavenet:cmd_eval_wavenet", sample="engine.cli.wavenet:cmd_sample_wavenet",
         sample_args="engine.cli.wavenet:add_wave_sample_args",
         card="engine.cards.wavenet:write_wavenet_card", views=("audio",), limits=WAVENET_LIMITS,
         cost="engine.models.wavenet:cost"),
)

_BINARY_SETS = ("binarized_mnist", "mnist", "generated")
_BINARY_SETTINGS = {"epochs": 10, "batch_size": 64, "lr": 1e-3, "sample_every": 500, "checkpoint_every": 1000,
                    "sample_count": 16}
_ORDERING = Option("ordering", "raster", str, "pixel ordering",
                   choices=("raster", "column", "snake", "spiral", "random"))
_PAINTED = "Images sampled pixel by pixel in the model's ordering, the same seed at every step"

_BINARY_EVAL = {"evaluate": "engine.cli.pixelcnn:cmd_eval_pixelcnn", "card": "engine.cards.nade_made:write_nade_made_card"}
# NADE and MADE need no functions of their own: the one loop trains them, the generic sampler paints them,
# the binary-image eval measures them (with ensembles of masks) and one card writer describes them.
_AUTOREGRESSIVE = (
    Kind("nade", "engine.models.nade:NADE",
         (Option("hidden", 500, int, "hidden units", 1, 8192), _ORDERING,
          Option("order_seed", 0, int, "seed of a random ordering", 0, 2**31 - 1)),
         _BINARY_SETTINGS, _BINARY_SETS, {"NADE (binarized MNIST)": {"hidden": 500}},
         metrics={"bits_per_dim": "bits/dim"}, caption=_PAINTED, data={"val_limit": 2_000},
         views=("images",), limits=(Option("hidden", 500, int, low=1, high=8192), *BINARY_LIMITS),
         cost="engine.models.nade:cost", **_BINARY_EVAL),
    Kind("made", "engine.models.made:MADE",
         (Option("hidden", [500], int, "hidden widths", 1, 8192, many=True), _ORDERING,
          Option("order_seed", 0, int, "seed of the orderings and connectivity", 0, 2**31 - 1),
          Option("masks", 1, int, "mask sets cycled over minibatches (order/connectivity-agnostic training)", 1, 64),
          Option("order_agnostic", False, bool, "each mask set draws its own random ordering"),
          Option("direct", False, bool, "also a masked direct input -> output connection")),
         _BINARY_SETTINGS, _BINARY_SETS,
         {"MADE (binarized MNIST)": {"hidden": [500]},
          "MADE, 8 orderings (order-agnostic)": {"hidden": [500], "masks": 8, "order_agnostic": True}},
         metrics={"bits_per_dim": "bits/dim"}, caption=_PAINTED, data={"val_limit": 2_000},
         views=("images",), cost="engine.models.made:cost", **_BINARY_EVAL,
         limits=(Option("hidden", [500], int, low=1, high=8192, many=True), *BINARY_LIMITS,
                 Option("masks", 1, int, low=1, high=64), Option("order_agnostic", False, bool),
                 Option("direct", False, bool))),
)

_TEXT_LIMITS = (Option("vocab", "", str), Option("context", 256, int, low=2, high=8192),
                Option("layers", 4, int, low=1, high=48), Option("heads", 4, int, low=1, high=64),
                Option("width", 128, int, low=2, high=4096), Option("dropout", 0.0, float, low=0, high=0.9))
_TEXT = (
    Kind("transformer", "engine.models.transformer:CharTransformer",
         (Option("context", 256, int, "characters the model sees", 2, 8192), Option("layers", 4, int, "blocks", 1, 48),
          Option("heads", 4, int, "attention heads", 1, 64), Option("width", 192, int, "embedding width", 2, 4096),
          Option("dropout", 0.0, float, "dropout while training", 0, 0.9)),
         {"epochs": 4, "batch_size": 8, "lr": 1e-3, "lr_decay": 0.75, "clip_grad": 1.0, "sample_every": 500,
          "checkpoint_every": 500, "sample_count": 2},
         ("shakespeare", "text"), {"Transformer (Shakespeare)": {"width": 192, "layers": 4, "heads": 6}},
         metrics={"bits_per_char": "bits/char"}, samples="text",
         caption="A paragraph from the start of a text, the same seed at every step", data={"val_limit": 400},
         views=("text",), limits=_TEXT_LIMITS, cost="engine.models.transformer:cost",
         evaluate="engine.cli.text:eval_text", sample="engine.cli.text:sample_text",
         sample_args="engine.cli.text:add_text_sample_args", card="engine.cards.transformer:write_transformer_card",
         from_data=("vocab",)),
)

# MAF and IAF on point tables (the held-out 20 % is the GMM's split too).
_FLOW = "engine.cli.flows"
_FLOWS = tuple(Kind(kind, f"engine.models.flows:{kind.upper()}", FLOW_OPTIONS, FLOW_SETTINGS, POINT_SETS,
                    {f"{kind.upper()} (2-D points)": {}}, samples="points", caption="Points drawn from the flow", hparams=f"{_FLOW}:flow_hparams", train=f"{_FLOW}:train_flow",
                    evaluate=f"{_FLOW}:eval_flow", sample=f"{_FLOW}:sample_flow", sample_args=f"{_FLOW}:add_flow_sample_args",
                    card="engine.cards.flows:write_flow_card", limits=FLOW_LIMITS, cost="engine.models.flows:cost") for kind in ("maf", "iaf"))

KINDS: dict[str, Kind] = {k.kind: k for k in (*_BUILTIN, *_AUTOREGRESSIVE, *_TEXT, *_FLOWS)}


def register(entry: Kind, replace: bool = False) -> Kind:
    """Add ``entry`` to the catalog (a new family, a test's toy model); ConfigError if the name is taken."""
    if entry.kind in KINDS and not replace:
        raise ConfigError(f"A model kind named {entry.kind!r} is already in the catalog.")
    KINDS[entry.kind] = entry
    return entry


def unregister(kind: str) -> None:
    """Remove ``kind`` (tests clean up after :func:`register`)."""
    KINDS.pop(kind, None)


def get(kind: str) -> Kind:
    """The entry of ``kind``; ConfigError listing the known kinds otherwise."""
    if kind not in KINDS:
        raise ConfigError(f"Unknown model kind {kind!r}; GenScope knows: {', '.join(sorted(KINDS))}.")
    return KINDS[kind]


def kinds_for(view: str) -> tuple[str, ...]:
    """The kinds the app shows in ``view`` ("latent", "images", "audio"), in catalog order."""
    return tuple(name for name, k in KINDS.items() if view in k.views)


def run_model(kind: str) -> Kind | None:
    """The entry of ``kind`` if it trains step by step in run folders, else None."""
    entry = KINDS.get(kind)
    return entry if entry is not None and entry.iterative else None


def presets() -> dict[str, tuple[str, dict]]:
    """Every Training monitor picker label -> (kind, hparams), in catalog order."""
    return {label: (k.kind, dict(hp)) for k in KINDS.values() if k.iterative for label, hp in k.presets.items()}


def live_controls(kind: str) -> set[str]:
    """Settings a run of ``kind`` can change while it trains (just the learning rate for unlisted kinds)."""
    entry = run_model(kind)
    return set(entry.controls) if entry else {"lr"}


def check_run(kind: str, hparams: dict, dataset: str) -> None:
    """ConfigError (one sentence) if a listed ``kind`` cannot train with ``hparams`` on ``dataset``."""
    entry = run_model(kind)
    if entry is None:
        return
    if dataset not in entry.datasets:
        raise ConfigError(f"A {kind} run cannot train on {dataset!r}; choose one of: {', '.join(entry.datasets)}.")
    wrong = {k: v for k, v in entry.requires.items() if hparams.get(k, v) != v}
    if wrong:
        need = ", ".join(f"{k} = {v}" for k, v in entry.requires.items())
        raise ConfigError(f"A {kind} run on the data sets the monitor offers needs {need}; got "
                          f"{', '.join(f'{k} = {hparams[k]}' for k in wrong)}.")


def model_classes() -> dict[str, type[nn.Module]]:
    """Kind name -> model class (imported now)."""
    return {name: k.model_class() for name, k in KINDS.items()}


def memory_budget() -> int:
    """Bytes one model and the work asked of it may take: 2 GiB, or half the machine's memory if that is less."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        physical = 1 << 40
    return min(MAX_MODEL_BYTES, physical // 2)


def _gb(n: float) -> str:
    return f"{n / (1 << 30):.1f} GiB" if n >= 1 << 27 else f"{n / (1 << 20):.0f} MiB"


def check_settings(kind: str, hparams: dict, examples: int = 1, work: str = "", extra_bytes: int = 0) -> dict:
    """``hparams`` of a ``kind`` model if they fit its :attr:`Kind.limits` and the memory budget, else ConfigError.

    Checked before anything is allocated: each setting's type and range,
    unknown settings, then the weights and ``examples`` x the activation
    memory per example (``work`` says what the examples are, e.g. "16
    images", plus ``extra_bytes`` of output) against :func:`memory_budget`.
    Kinds without limits check only ``extra_bytes``.
    """
    entry = get(kind)
    if not isinstance(hparams, dict):
        raise ConfigError(f"The settings of a '{kind}' model must be a table of names and values.")
    rows = {o.name: o for o in entry.limits}
    unknown = sorted(set(hparams) - set(rows)) if rows else []
    if unknown:
        raise ConfigError(f"A '{kind}' model has no setting {short(unknown[0])}, so these settings do not fit it; "
                          f"its settings are {', '.join(rows)}.")
    for name, value in hparams.items():
        if name in rows:
            rows[name].check(value, label=f"Setting '{name}'")
    full = {**{o.name: o.default for o in entry.limits}, **hparams}
    weights, per_example = resolve(entry.cost)(full) if entry.cost is not None else (0, 0)
    need, budget = 4 * weights + examples * per_example + extra_bytes, memory_budget()
    if need > budget:
        what = ", ".join([f"{weights:,} weights"] * (weights > 0) + [work] * bool(work)) or "its settings"
        raise ConfigError(f"A '{kind}' model needs about {_gb(need)} for {what}, more than the {_gb(budget)} limit.")
    return hparams


def check_work(model: nn.Module, examples: int, work: str, extra_bytes: int = 0) -> None:
    """ConfigError if ``model`` doing ``examples`` of ``work`` (e.g. "16 images", "batches of 32") would pass the
    memory budget of :func:`check_settings`; models of kinds the catalog does not list pass."""
    kind = getattr(model, "kind", None)
    if kind in KINDS:
        check_settings(kind, model.hparams(), examples, work, extra_bytes)


def build_model(kind: str, hparams: dict | None = None) -> nn.Module:
    """A fresh model of ``kind`` built with keyword arguments ``hparams``, checked first by :func:`check_settings`
    (CheckpointError if they do not fit)."""
    if kind not in KINDS:
        raise CheckpointError(f"Unknown model kind {kind!r}; GenScope knows: {', '.join(sorted(KINDS))}.")
    try:
        check_settings(kind, hparams or {})
        return KINDS[kind].model_class()(**(hparams or {}))
    except TypeError as exc:
        raise CheckpointError(f"The settings {short(hparams)} do not fit a '{kind}' model ({exc}).") from exc
    except GenScopeError as exc:
        raise CheckpointError(f"The settings of this '{kind}' model are invalid: {exc}") from exc


def read_checked_config(path: str | os.PathLike, expected_kind: str | Iterable[str] | None = None) -> dict:
    """The config of checkpoint ``path`` (header only) after :func:`check_settings` of a known kind's settings.

    CheckpointError (one sentence naming the file) if they do not fit; a kind
    the catalog does not know is returned unchecked (the caller says no tab takes it).
    """
    config = read_config(path, expected_kind=expected_kind)
    if config["kind"] in KINDS:
        try:
            check_settings(config["kind"], config["hparams"])
        except GenScopeError as exc:
            raise CheckpointError(f"{path} cannot be opened: {exc}") from exc
        size = os.stat(path).st_size
        if size > memory_budget():
            raise CheckpointError(f"{path} holds {_gb(size)} of tensors, more than the {_gb(memory_budget())} limit.")
    return config


def load_model(
    path: str | os.PathLike,
    expected_kind: str | Iterable[str] | None = None,
    device: str | torch.device = "cpu",
) -> nn.Module:
    """Load checkpoint ``path`` into a new model of its kind, on ``device``, in eval mode.

    The header's settings are checked (:func:`read_checked_config`) before
    any tensor is read or any model built. The checkpoint's config dict is
    kept as ``model.checkpoint_config``.
    """
    read_checked_config(path, expected_kind=expected_kind)
    ckpt = load_checkpoint(path, expected_kind=expected_kind, map_location="cpu")
    model = build_model(ckpt.kind, ckpt.hparams)
    load_into(model, ckpt)
    model.checkpoint_config = ckpt.config
    return model.to(device).eval()
