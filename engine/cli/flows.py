"""``train maf|iaf``, ``eval maf|iaf`` and ``sample maf|iaf``: autoregressive flows on tables of points::

    python -m engine train maf --dataset faithful --out maf.safetensors
    python -m engine train maf --dataset csv --csv points.csv --columns x,y --out maf.safetensors
    python -m engine eval maf --checkpoint maf.safetensors [--save]
    python -m engine sample maf --checkpoint maf.safetensors -n 500 --out points.csv

Training is the one training loop on the point set's training rows
(standardized, the held-out 20 % of :func:`engine.data.points2d.holdout_split`
validates); ``eval`` reloads the data set the checkpoint names and reports
the held-out average log-likelihood per point in nats. Every problem with
the data (a CSV with no usable rows, fewer than 3 points, identical points)
is one sentence before any model is built or any file written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from engine.catalog import build_model, get
from engine.checkpoints import write_file
from engine.cli.eval import load_for_eval
from engine.cli.generic import report_metrics
from engine.cli.options import kind_options, set_threads, train_settings
from engine.cli.train import report_training
from engine.device import make_generator, select_device, seed_everything
from engine.errors import ConfigError
from engine.evaluation.density_compare import flow_log_likelihood
from engine.training.data import DataSpec, RunData, load_run_data
from engine.training.loop import train


def flow_hparams(values: dict) -> dict:
    """The flow's constructor arguments from the catalog's option values (the data options left out)."""
    return {"dim": values["dim"], "layers": values["layers"], "hidden": list(values["hidden"]),
            "seed": values.get("seed", 0)}


def flow_data(args: argparse.Namespace, kind: str) -> RunData:
    """The point set ``--dataset`` names (``--csv FILE`` alone means the csv set), checked before anything is built."""
    entry, csv = get(kind), getattr(args, "csv", None)
    name = args.dataset or ("csv" if csv else entry.datasets[0])
    if name not in entry.datasets:
        raise ConfigError(f"A {kind} model trains on {', '.join(entry.datasets)}, not {name!r}.")
    if (name == "csv") != bool(csv):
        raise ConfigError("Give --csv FILE together with --dataset csv (or --csv alone).")
    spec = DataSpec(name, folder=args.data, limit=args.limit, path=str(Path(csv).resolve()) if csv else None,
                    columns=getattr(args, "columns", None))
    return load_run_data(spec)


def _check_dim(hparams: dict, data: RunData) -> None:
    if hparams["dim"] != data.train.shape[1]:
        raise ConfigError(f"The points have {data.train.shape[1]} dimensions; set --dim {data.train.shape[1]} "
                          f"(got {hparams['dim']}).")


def train_flow(args: argparse.Namespace) -> int:
    """Train a MAF or IAF on a point set with the one training loop; ``--out`` gets the model after every epoch."""
    entry = get(args.kind)
    s = train_settings(args, entry)
    set_threads(s.threads)
    data = flow_data(args, args.kind)
    hparams = {**entry.hparams_from(kind_options(args, entry)), "seed": s.seed}
    _check_dim(hparams, data)
    seed_everything(s.seed)
    model = build_model(args.kind, hparams)
    events = train(model, data.train, val_data=data.val, epochs=s.epochs, batch_size=s.batch_size, lr=s.lr,
                   lr_decay=s.lr_decay, seed=s.seed, device=select_device(args.device), dynamic_binarize=False,
                   checkpoint_path=Path(args.out), data_info=data.info, clip_grad=s.clip_grad,
                   log_every=s.log_every)
    report_training(events, args.out)
    print(f"held-out log-likelihood {flow_log_likelihood(model, data.val):.4f} nats per point "
          f"({len(data.val)} points of {data.info['dataset']})")
    return 0


def eval_flow(args: argparse.Namespace) -> int:
    """Held-out (and training) average log-likelihood per point of the data set the checkpoint was trained on."""
    model, _ = load_for_eval(args)
    spec = dict(model.checkpoint_config.get("data", {}).get("spec") or {"name": get(args.kind).datasets[0]})
    spec["folder"] = args.data or spec.get("folder")
    data = load_run_data(DataSpec.from_dict(spec))
    _check_dim(model.hparams(), data)
    val = data.val[: args.limit] if args.limit else data.val
    metrics = {"heldout_ll_nats": flow_log_likelihood(model, val),
               "train_ll_nats": flow_log_likelihood(model, data.train),
               "heldout_points": len(val), "test_set": str(data.info.get("validation")),
               "dataset": str(data.info.get("dataset"))}
    return report_metrics(args, metrics, 18)


def add_flow_sample_args(p: argparse.ArgumentParser) -> None:
    """``sample maf|iaf`` options: how many points."""
    p.add_argument("-n", type=int, default=500, help="points to draw (default 500)")


def sample_flow(args: argparse.Namespace, strategy) -> int:
    """Draw ``-n`` points from the flow (seeded base noise); ``--out`` gets a CSV (standardized coordinates)."""
    model, device = load_for_eval(args)
    if strategy.is_beam or strategy.describe() != "sample":
        raise ConfigError("A flow draws exact samples from its density; leave --strategy at its default.")
    points = model.sample(args.n, make_generator(args.seed, device)).cpu().numpy()
    header = ",".join(f"x{i + 1}" for i in range(points.shape[1]))
    rows = "\n".join(",".join(f"{v:.6g}" for v in row) for row in points)
    path = write_file(args.out, f"{header}\n{rows}\n".encode())
    passes = "one pass" if model.fast_direction == "sample" else f"{model.dim} passes"
    print(f"{len(points)} points from the {args.kind} ({passes} per layer) -> {path}")
    return 0
