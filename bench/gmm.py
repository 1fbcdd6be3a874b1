"""Benchmark: our EM (engine.models.gmm) against sklearn.mixture.GaussianMixture.

Both start from IDENTICAL parameters (weights, means, precisions from our
k-means++ initialisation), run a fixed number of iterations (tol=0), in
float64, with the same thread count (torch.set_num_threads for us,
threadpoolctl for sklearn's BLAS). Time per EM iteration = wall time of
``fit`` / iterations, median of a few interleaved repeats.

One thread by default: on the reference machine's two shared cores,
two-thread runs of either library were several times slower (OpenMP/BLAS
threads waiting for a descheduled partner); ``--threads 2`` measures that.

    python bench/gmm.py [--threads N] [--repeats 3] [--quick]

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.folder import shared_data_dir  # noqa: E402
from engine.data.tables import make_blobs_mixture  # noqa: E402
from engine.models.gmm import GaussianMixture  # noqa: E402


def mnist_pca50() -> tuple[np.ndarray, str]:
    """60000 x 50 principal components of MNIST train (images / 255), or a synthetic stand-in."""
    root = shared_data_dir()
    try:
        from engine.data.mnist import load_mnist

        if root is None:
            raise FileNotFoundError
        images, _ = load_mnist(root, "train")
    except Exception as exc:  # noqa: BLE001 - any failure means: no real data here
        print(f"MNIST unavailable ({type(exc).__name__}); using a synthetic 60000 x 50 mixture", file=sys.stderr)
        return make_blobs_mixture(60000, 10, seed=0, dim=50)[0], "synthetic"
    x = torch.from_numpy(images.reshape(len(images), -1)).double() / 255.0
    x -= x.mean(0)
    _, vecs = torch.linalg.eigh(x.T @ x)  # PCA: eigenvectors of the scatter matrix, ascending
    return (x @ vecs[:, -50:].flip(1)).numpy(), "mnist_pca50"


def start(X: np.ndarray, k: int) -> dict[str, np.ndarray]:
    """Identical initial parameters for both: our k-means++ start (max_iter=0)."""
    g = GaussianMixture(k, covariance_type="full", max_iter=0, seed=0).fit(X)
    return {"weights": g.weights_, "means": g.means_, "precisions": np.linalg.inv(g.covariances_)}


def run_ours(X, k, init, iters):
    g = GaussianMixture(k, covariance_type="full", max_iter=iters, tol=0.0)
    t = time.perf_counter()
    g.fit(X, init_params=init)
    return time.perf_counter() - t, g.n_iter_, g.score(X), g.means_


def run_sklearn(X, k, init, iters, threads):
    from sklearn.mixture import GaussianMixture as SkGMM
    from threadpoolctl import threadpool_limits

    g = SkGMM(k, covariance_type="full", max_iter=iters, tol=0.0, weights_init=init["weights"],
              means_init=init["means"], precisions_init=init["precisions"])
    with threadpool_limits(limits=threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: tol=0 never converges, by design
        t = time.perf_counter()
        g.fit(X)
        elapsed = time.perf_counter() - t
    return elapsed, g.n_iter_, g.score(X), g.means_


def compare(X: np.ndarray, k: int, iters: int, repeats: int, threads: int) -> dict[str, float]:
    """ms per iteration for both (median of interleaved repeats) and the final log-likelihoods."""
    init = start(X, k)
    ours, theirs = [], []
    for _ in range(repeats):
        t, n, ll_ours, m_ours = run_ours(X, k, init, iters)
        ours.append(1e3 * t / n)
        t, n, ll_sk, m_sk = run_sklearn(X, k, init, iters, threads)
        theirs.append(1e3 * t / n)
    ms_ours, ms_sk = statistics.median(ours), statistics.median(theirs)
    return {"ms_iter_ours": round(ms_ours, 3), "ms_iter_sklearn": round(ms_sk, 3),
            "ratio": round(ms_ours / ms_sk, 4), "loglik_ours": ll_ours, "loglik_sklearn": ll_sk,
            "loglik_rel_diff": abs(ll_ours - ll_sk) / abs(ll_sk),
            "means_max_abs_diff": float(np.abs(m_ours - m_sk).max())}


def anim_fps(n_points: int = 20_000, seconds: float = 3.0) -> float:
    """Frames per second of the real GMM fitter widget (offscreen Qt) replaying
    an EM run on ``n_points`` points: each frame recolours every point by its
    responsibilities, moves the ellipses and repaints synchronously."""
    import os
    import time

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from app.audio import AudioStatus
    from app.gui_gc import collect_on_gui_thread
    from app.main_window import AppContext
    from app.tabs.gmm.fitter import GmmFitterTab
    from app.worker import EngineWorker
    from engine.data.folder import DataFolder
    from engine.device import select_device

    app = QApplication.instance() or QApplication([])
    collect_on_gui_thread(app)  # as the app does (app/gui_gc.py)
    ctx = AppContext(select_device("cpu"), DataFolder(Path("/nonexistent"), "explicit"), EngineWorker(),
                     AudioStatus(True, "bench"))
    tab = GmmFitterTab(ctx)
    tab.resize(1200, 800)
    tab.show()
    X, _ = make_blobs_mixture(n_points, 5, seed=1)
    tab.set_points(np.asarray(X))
    tab.panel.k.setValue(5)
    tab.fit()
    tab.pause()
    deadline = time.time() + 60
    while tab.em_done is None and time.time() < deadline:
        app.processEvents()
        time.sleep(0.01)
    tab.pause()
    paints = []
    original = tab.view.paintEvent
    tab.view.paintEvent = lambda event: (paints.append(1), original(event))[-1]
    frames, start, i = 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        tab.show_frame(i % len(tab.frames))
        app.processEvents()  # Qt repaints what changed: the scatter, ellipses, curve marker
        frames, i = frames + 1, i + 1
    elapsed = time.perf_counter() - start
    fps = min(frames, len(paints)) / elapsed  # only frames that were really painted count
    ctx.worker.shutdown()
    return round(fps, 1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="threads for both libraries (default 1)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller 50-d run (5 iterations, 1 repeat)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    X2, _ = make_blobs_mixture(100_000, 10, seed=0)
    r2 = compare(X2, 10, 20, args.repeats, args.threads)
    print("2d  :", json.dumps(r2), file=sys.stderr)
    X50, source = mnist_pca50()
    iters50, reps50 = (5, 1) if args.quick else (10, args.repeats)
    r50 = compare(X50, 10, iters50, reps50, args.threads)
    print("50d :", json.dumps(r50), file=sys.stderr)
    result = {
        "ratio_iter_vs_sklearn_2d": r2["ratio"],
        "ratio_iter_vs_sklearn_50d": r50["ratio"],
        "loglik_rel_diff": max(r2["loglik_rel_diff"], r50["loglik_rel_diff"]),
        "ms_iter_ours_2d": r2["ms_iter_ours"], "ms_iter_sklearn_2d": r2["ms_iter_sklearn"],
        "ms_iter_ours_50d": r50["ms_iter_ours"], "ms_iter_sklearn_50d": r50["ms_iter_sklearn"],
        "loglik_rel_diff_2d": r2["loglik_rel_diff"], "loglik_rel_diff_50d": r50["loglik_rel_diff"],
        "iterations_2d": 20, "iterations_50d": iters50, "repeats": args.repeats,
        "data_2d": "generated 100000x2, 10 blobs", "data_50d": source, "k": 10, "covariance_type": "full",
        "dtype": "float64", "torch_threads": torch.get_num_threads(), "sklearn_threads": args.threads,
        "anim_fps": anim_fps(), "anim_points": 20_000,
    }
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
