"""The models a training run can train: one table read by the engine, the CLI and the training monitor.

Each :class:`RunModel` (one per model kind) says what the training monitor's
picker shows (``presets``: label -> constructor arguments), what a new run
starts with (``settings``, ``data``), what it can train on (``datasets``),
what can change while it trains (``controls``), which per-step metrics it
logs besides the loss (``metrics``, with the curve names) and what its
samples files hold (``samples``). Adding a model to the monitor is one entry
in :data:`RUN_MODELS` (its data sets go in :mod:`engine.training.data`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.errors import ConfigError


@dataclass(frozen=True)
class RunModel:
    """One trainable kind for run folders.

    ``presets``: picker label -> hparams for ``build_model(kind, hparams)``.
    ``settings``: :class:`~engine.training.settings.TrainSettings` fields a new run
    starts with. ``data``: :class:`~engine.training.data.DataSpec` fields besides
    the name (e.g. ``limit``, a training subset). ``datasets``: data set names
    it can train on, the first the default. ``controls``: settings that
    :class:`~engine.training.settings.Controls` can change live. ``metrics``:
    TrainStep metric name -> curve name. ``samples``: "images" (G, H, W) grids
    (plus 2-D codes for 2-D latent models) or "audio" (G, T) clips; ``caption`` says what they are.
    ``requires``: hparams every run of this kind must have (the run data sets
    are binary images).
    """

    kind: str
    presets: dict[str, dict]
    settings: dict
    datasets: tuple[str, ...]
    controls: frozenset[str]
    metrics: dict[str, str]
    samples: str
    caption: str
    data: dict = field(default_factory=dict)
    requires: dict = field(default_factory=dict)


_LATENT_SETTINGS = {"epochs": 5, "batch_size": 128, "lr": 1e-3, "sample_every": 200, "checkpoint_every": 500,
                    "sample_count": 64}
_MNIST_SETS = ("mnist", "binarized_mnist", "generated")
_DECODES = "Decodes of fixed latent points (the same points at every step)"
_WAVENET = {"levels": 256, "residual": 16, "skip": 32, "layers_per_stack": 8, "stacks": 2, "cond_classes": 10,
            "cond_name": "digit", "sample_rate": 8000}

RUN_MODELS: dict[str, RunModel] = {m.kind: m for m in (
    RunModel("vae", {"VAE (2-D latent)": {"latent_dim": 2, "beta": 1.0},
                     "β-VAE (2-D latent)": {"latent_dim": 2, "beta": 4.0},
                     "VAE (32-D latent)": {"latent_dim": 32, "beta": 1.0}},
             _LATENT_SETTINGS, _MNIST_SETS, frozenset({"lr", "beta"}),
             {"elbo": "elbo", "recon": "recon", "kl": "kl"}, "images", _DECODES),
    RunModel("autoencoder", {"Autoencoder (2-D latent)": {"latent_dim": 2}},
             _LATENT_SETTINGS, _MNIST_SETS, frozenset({"lr"}), {"recon": "recon"}, "images", _DECODES),
    # ~10 ms per image for a step on one CPU thread: a 10k-image epoch takes about 2 minutes;
    # a 16-image grid from the fast sampler takes ~0.4 s, well under 1 % of 200 steps.
    RunModel("pixelcnn", {"PixelCNN (binarized MNIST)": {"levels": 2, "channels": 32, "layers": 5}},
             {"epochs": 2, "batch_size": 32, "lr": 1e-3, "sample_every": 200, "checkpoint_every": 500,
              "sample_count": 16},
             ("binarized_mnist", "mnist", "generated"), frozenset({"lr"}), {"bits_per_dim": "bits/dim"},
             "images", "Images sampled pixel by pixel with the same seed at every step",
             data={"limit": 10_000, "val_limit": 2_000}, requires={"levels": 2, "num_classes": 0}),
    # ~0.11 s of CPU per step of 8 x 1024 samples on one thread; two 1-second clips ~0.24 s (about 2 % of 100 steps).
    RunModel("wavenet", {"WaveNet (spoken digits, digit-conditioned)": _WAVENET,
                         "WaveNet (unconditional)": {**_WAVENET, "cond_classes": 0}},
             {"epochs": 1, "batch_size": 8, "lr": 2e-3, "sample_every": 100, "checkpoint_every": 200,
              "sample_count": 2},
             ("fsdd", "generated_audio"), frozenset({"lr"}), {"bits_per_sample": "bits/sample"},
             "audio", "One-second clips generated sample by sample with the same seed at every step (Play to hear)",
             data={"val_limit": 64}, requires={"levels": 256, "sample_rate": 8000}),
)}


def presets() -> dict[str, tuple[str, dict]]:
    """Every picker label -> (kind, hparams), in table order."""
    return {label: (m.kind, dict(hp)) for m in RUN_MODELS.values() for label, hp in m.presets.items()}


def run_model(kind: str) -> RunModel | None:
    """The table entry of ``kind`` (None: a kind the table does not list, e.g. a test's own model)."""
    return RUN_MODELS.get(kind)


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
