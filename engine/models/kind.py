"""One row of the model catalog (:mod:`engine.catalog`): a model kind's class, settings, data sets, presets, views,
limits and the functions that train, evaluate, sample and describe it; and :func:`resolve` for its references."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from engine.models.limits import Option


@dataclass(frozen=True)
class Kind:
    """One model kind.

    ``kind``: its name in checkpoints; ``model``: its class ("module:Class" or the class).
    ``options``: its settings (constructor arguments and data options) with defaults and ranges;
    ``hparams``: options dict -> constructor arguments (None: the options whose
    names the constructor takes). ``settings``: the
    :class:`~engine.training.settings.TrainSettings` a new run starts with
    (the CLI's defaults too). ``datasets``: run data sets, the first the
    default; ``data``: DataSpec fields besides the name (``limit``,
    ``val_limit``). ``presets``: Training monitor picker label -> hparams.
    ``controls``: settings changeable live; ``metrics``: TrainStep metric ->
    curve name; ``samples``: "images" (G, H, W) grids, "audio" (G, T)
    clips, "text" paragraphs or "points" (rows of a point table); ``caption`` says what they are. ``requires``: hparams every run
    must have. ``iterative``: trained step by step (False: fitted in closed
    form). ``train`` / ``evaluate`` / ``sample`` / ``card``: the functions
    that do it (``train(args)``/``evaluate(args)``/``sample(args, strategy)``
    -> exit status, ``card(checkpoint, config) -> Path``); None: not offered.
    ``sample_args(parser)`` adds the kind's own ``sample`` options. ``views``:
    the app's places that show the kind ("latent": the Latent explorer,
    "images" / "audio": the Sampler's pages), read with :func:`kinds_for`.
    ``limits``: one row per constructor argument (type, range; the defaults
    are the constructor's), checked by :func:`check_settings` before a model
    is built from a checkpoint or the command line; ``cost(hparams)`` ->
    (weights, activation bytes per example), checked against
    :func:`memory_budget`. ``from_data``: constructor arguments that the
    run's data set supplies (a text model's vocabulary), not its presets.
    By default a kind trains and evaluates on its data sets with the one
    training loop, samples with the one autoregressive sampler
    (:mod:`engine.cli.generic`; an autoregressive model needs nothing more)
    and has no card.
    """

    kind: str
    model: str | type
    options: tuple[Option, ...]
    settings: dict
    datasets: tuple[str, ...]
    presets: dict[str, dict] = field(default_factory=dict)
    controls: frozenset[str] = frozenset({"lr"})
    metrics: dict[str, str] = field(default_factory=dict)
    samples: str = "images"
    caption: str = ""
    data: dict = field(default_factory=dict)
    requires: dict = field(default_factory=dict)
    hparams: Callable[[dict], dict] | str | None = None
    iterative: bool = True
    train: Callable | str | None = "engine.cli.generic:train_generic"
    evaluate: Callable | str | None = "engine.cli.generic:eval_generic"
    sample: Callable | str | None = "engine.cli.generic:sample_generic"
    sample_args: Callable | str | None = "engine.cli.generic:add_generic_sample_args"
    card: Callable | str | None = None
    views: tuple[str, ...] = ()
    limits: tuple[Option, ...] = ()
    cost: Callable | str | None = None
    from_data: tuple[str, ...] = ()  # constructor arguments the run's data set fixes (its info["model_hparams"])

    def model_class(self) -> type[nn.Module]:
        return resolve(self.model)

    def option_defaults(self) -> dict:
        return {o.name: o.default for o in self.options}

    def hparams_from(self, options: dict) -> dict:
        """Constructor arguments from option values (missing ones take their defaults; each is range-checked)."""
        table = {o.name: o for o in self.options}
        values = {name: table[name].check(v) if name in table else v
                  for name, v in {**self.option_defaults(), **options}.items()}
        if self.hparams is not None:
            return resolve(self.hparams)(values)
        return values


def resolve(ref: Callable | type | str) -> Callable:
    """The object a ``"module:name"`` reference names (callables are returned as they are)."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


__all__ = ["Kind", "resolve"]
