"""The Gaussian-mixture engine: parity with scikit-learn, EM monotonicity, events, sampling, CLI."""

import argparse
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.folder import shared_data_dir
from engine.data.tables import load_faithful, make_blobs_mixture
from engine.errors import ConfigError, DataError
from engine.cli.gmm import GMM_COMMAND, add_gmm_args, cmd_gmm
from engine.events import Done, Progress
from engine.models.gmm import COVARIANCE_TYPES, INITS, EMDone, EMInit, EStep, GaussianMixture, MStep, choose_k

sklearn_mixture = pytest.importorskip("sklearn.mixture")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small fits are faster on one thread (and the test machine's two cores are shared)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _blobs(n=600, k=3, seed=0, dim=2):
    return make_blobs_mixture(n, k, seed, dim=dim)[0]


def _faithful():
    root = shared_data_dir()
    if root is None or not (root / "faithful" / "faithful.csv").is_file():
        pytest.skip("Old Faithful is not in the shared data folder")
    return load_faithful(root).X


DATASETS = {"blobs": lambda: _blobs(), "blobs3d": lambda: _blobs(400, 4, seed=2, dim=3), "faithful": _faithful}


def _start(X, k, cov_type):
    """Our k-means++ start as init parameters both estimators accept."""
    g = GaussianMixture(k, covariance_type=cov_type, max_iter=0, seed=0).fit(X)
    cov = g.covariances_
    precisions = np.linalg.inv(cov) if cov_type in ("full", "tied") else 1.0 / cov
    return {"weights": g.weights_, "means": g.means_, "precisions": precisions}


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("data", sorted(DATASETS))
def test_parity_with_sklearn_from_the_same_start(data, cov_type):
    X = DATASETS[data]()
    k = 2 if data == "faithful" else 3
    init = _start(X, k, cov_type)
    ours = GaussianMixture(k, covariance_type=cov_type, tol=1e-6, max_iter=300).fit(X, init_params=init)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = sklearn_mixture.GaussianMixture(k, covariance_type=cov_type, tol=1e-6, max_iter=300,
                                              weights_init=init["weights"], means_init=init["means"],
                                              precisions_init=init["precisions"]).fit(X)
    assert ours.n_iter_ == ref.n_iter_ and ours.converged_ == ref.converged_
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_allclose(getattr(ours, name), getattr(ref, name), rtol=1e-6, atol=1e-9, err_msg=name)
    np.testing.assert_allclose(ours.lower_bounds_, ref.lower_bounds_, rtol=1e-9)
    assert ours.lower_bound_ == pytest.approx(ref.lower_bound_, rel=1e-9)
    np.testing.assert_allclose(ours.score_samples(X), ref.score_samples(X), rtol=1e-9)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-8)
    assert ours._n_parameters() == ref._n_parameters()
    assert ours.bic(X) == pytest.approx(ref.bic(X), rel=1e-9)
    assert ours.aic(X) == pytest.approx(ref.aic(X), rel=1e-9)


def test_init_from_covariances_equals_init_from_precisions():
    X = _blobs()
    init = _start(X, 3, "full")
    by_cov = dict(init, covariances=np.linalg.inv(init["precisions"]))
    del by_cov["precisions"]
    a = GaussianMixture(3, max_iter=5).fit(X, init_params=init)
    b = GaussianMixture(3, max_iter=5).fit(X, init_params=by_cov)
    np.testing.assert_allclose(a.means_, b.means_, rtol=1e-10)
    np.testing.assert_allclose(a.covariances_, b.covariances_, rtol=1e-8)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_reseeding_from_an_event_round_trips(cov_type):
    """The GUI restarts EM from an event's parameters, covariances expanded to (K, D, D)."""
    X = _blobs(300)
    last = [e for e in GaussianMixture(3, covariance_type=cov_type, seed=0).em_steps(X) if isinstance(e, MStep)][-1]
    init = {"weights": last.weights, "means": last.means, "covariances": last.covariances}
    first = next(e for e in GaussianMixture(3, covariance_type=cov_type).em_steps(X, init) if isinstance(e, EMInit))
    assert first.method == "given"
    np.testing.assert_allclose(first.covariances, last.covariances, rtol=1e-10, atol=1e-14)
    np.testing.assert_array_equal(first.means, last.means)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(8, 60), d=st.integers(1, 3), k=st.integers(1, 4),
       cov_type=st.sampled_from(COVARIANCE_TYPES), init=st.sampled_from(INITS))
def test_lower_bound_never_decreases(seed, n, d, k, cov_type, init):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, size=d) + rng.normal(size=d) * 5
    g = GaussianMixture(k, covariance_type=cov_type, init=init, seed=seed, tol=0, max_iter=30).fit(X)
    bounds = np.asarray(g.lower_bounds_)
    assert np.isfinite(bounds).all() and len(bounds) == 30
    # EM never lowers the likelihood; reg_covar (1e-6 added to every variance after the M-step) makes the
    # step a hair off the exact maximiser, so near convergence the bound may dip by ~1e-8 (seen: -9.4e-9 at 4.34)
    assert (np.diff(bounds) >= -1e-6 * (1 + np.abs(bounds[1:]))).all()


def test_bic_recovers_the_true_number_of_components():
    X, _ = make_blobs_mixture(1200, 3, seed=1, separation=8.0)
    bics = [GaussianMixture(k, seed=0).fit(X).bic(X) for k in range(1, 7)]
    assert int(np.argmin(bics)) + 1 == 3


def test_choose_k_yields_progress_then_the_criteria_of_every_k():
    X, _ = make_blobs_mixture(600, 3, seed=1, separation=8.0)
    events = list(choose_k(X, 5, "full", seed=0))
    assert [e.done for e in events[:-1]] == [1, 2, 3, 4, 5] and all(isinstance(e, Progress) for e in events[:-1])
    assert all(e.total == 5 for e in events[:-1]) and isinstance(events[-1], Done)
    ks, bic, aic = events[-1].result
    assert ks.tolist() == [1, 2, 3, 4, 5] and bic.shape == aic.shape == (5,)
    assert int(ks[np.argmin(bic)]) == 3
    for k in (1, 4):  # each K scored as a fit with the same settings would score
        fitted = GaussianMixture(k, seed=0, max_iter=200).fit(X)
        assert bic[k - 1] == pytest.approx(fitted.bic(X)) and aic[k - 1] == pytest.approx(fitted.aic(X))
    with pytest.raises(ConfigError):
        next(choose_k(X, 0))


def test_responsibilities_predict_and_scores():
    X = _blobs()
    g = GaussianMixture(3, seed=0).fit(X)
    resp = g.predict_proba(X)
    assert resp.shape == (len(X), 3)
    np.testing.assert_allclose(resp.sum(1), 1.0, atol=1e-12)
    np.testing.assert_array_equal(g.predict(X), resp.argmax(1))
    assert g.score(X) == pytest.approx(g.score_samples(X).mean())
    assert g.score(torch.from_numpy(X)) == pytest.approx(g.score(X))


def test_sampling_reproduces_weights_and_means_and_is_seeded():
    g = GaussianMixture(3, seed=0).fit(_blobs())
    X, labels = g.sample(30000, seed=5)
    assert X.shape == (30000, 2) and labels.shape == (30000,)
    np.testing.assert_allclose(np.bincount(labels, minlength=3) / 30000, g.weights_, atol=0.015)
    for j in range(3):
        np.testing.assert_allclose(X[labels == j].mean(0), g.means_[j], atol=0.06)
        np.testing.assert_allclose(np.cov(X[labels == j].T), g.covariances_[j], atol=0.12)
    again, _ = g.sample(100, seed=5)
    np.testing.assert_array_equal(again, g.sample(100, seed=5)[0])
    assert not np.array_equal(again, g.sample(100, seed=6)[0])
    gen = torch.Generator().manual_seed(5)
    np.testing.assert_array_equal(g.sample(100, seed=gen)[0], again)


@pytest.mark.parametrize("init", INITS)
def test_every_init_is_seeded_and_finite(init):
    X = _blobs(300)
    a = GaussianMixture(3, init=init, seed=3, max_iter=40).fit(X)
    b = GaussianMixture(3, init=init, seed=3, max_iter=40).fit(X)
    np.testing.assert_array_equal(a.means_, b.means_)
    assert np.isfinite(a.covariances_).all() and a.lower_bound_ > -10


def test_more_components_than_points_is_refused():
    with pytest.raises(ConfigError, match=r"Cannot fit 12 components to 5 points; choose K ≤ 5\."):
        GaussianMixture(12).fit(np.random.default_rng(0).normal(size=(5, 2)))


@pytest.mark.parametrize("kwargs", [dict(n_components=0), dict(covariance_type="banana"), dict(init="kmeans+"),
                                    dict(reg_covar=-1.0), dict(tol=float("nan")), dict(max_iter=2.5),
                                    dict(seed=-1), dict(dtype=torch.int64)])
def test_bad_settings_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        GaussianMixture(**kwargs)


def test_bad_data_and_bad_init_params():
    g = GaussianMixture(2)
    with pytest.raises(DataError, match="NaN or infinite"):
        g.fit([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]])
    with pytest.raises(DataError, match="2-D"):
        g.fit(np.arange(5.0))
    with pytest.raises(ConfigError, match="not fitted"):
        g.predict(np.zeros((3, 2)))
    X = _blobs(100)
    with pytest.raises(ConfigError, match="shape"):
        g.fit(X, init_params={"means": np.zeros((3, 2))})
    with pytest.raises(ConfigError, match="positive definite"):
        g.fit(X, init_params={"covariances": -np.ones((2, 2, 2))})


def test_duplicate_points_stay_finite_with_a_warning():
    X = np.repeat([[0.0, 0.0], [3.0, 3.0], [6.0, 0.0]], 10, axis=0)
    g = GaussianMixture(3, seed=0).fit(X)
    assert np.isfinite(g.covariances_).all() and np.isfinite(g.lower_bound_)
    assert any("collapsed onto duplicate points" in w and "reg_covar=1e-06" in w for w in g.warnings_)
    same = GaussianMixture(2, covariance_type="diag", seed=0).fit(np.ones((20, 2)))
    assert np.isfinite(same.means_).all() and same.warnings_


def test_float32_works_and_matches_float64():
    X = _blobs()
    init = _start(X, 3, "full")
    g32 = GaussianMixture(3, dtype=torch.float32).fit(X, init_params=init)
    g64 = GaussianMixture(3).fit(X, init_params=init)
    assert g32.means_.dtype == np.float32 and g32.predict_proba(X).dtype == np.float32
    np.testing.assert_allclose(g32.means_, g64.means_, rtol=1e-4, atol=1e-4)
    assert g32.lower_bound_ == pytest.approx(g64.lower_bound_, rel=1e-5)


@pytest.mark.parametrize("cov_type", COVARIANCE_TYPES)
def test_em_steps_event_sequence_and_fit_drains_it(cov_type):
    X = _blobs(200)
    events = list(GaussianMixture(3, covariance_type=cov_type, seed=1).em_steps(X))
    assert isinstance(events[0], EMInit) and isinstance(events[-1], EMDone)
    middle = events[1:-1]
    assert len(middle) % 2 == 0 and middle
    for i, (e, m) in enumerate(zip(middle[::2], middle[1::2]), start=1):
        assert isinstance(e, EStep) and isinstance(m, MStep) and e.iteration == m.iteration == i
        assert e.responsibilities.shape == (200, 3) and e.responsibilities.dtype == np.float32
        np.testing.assert_allclose(e.responsibilities.sum(1), 1.0, atol=1e-5)
        assert m.covariances.shape == (3, 2, 2) and not m.means.flags.writeable
    fitted = GaussianMixture(3, covariance_type=cov_type, seed=1).fit(X)
    assert events[-1].n_iter == fitted.n_iter_ and events[-1].converged == fitted.converged_
    np.testing.assert_array_equal(middle[-1].means, fitted.means_)
    assert [m.log_likelihood for m in middle[1::2]] == fitted.lower_bounds_
    assert events[-1].log_likelihood == pytest.approx(fitted.score(X))
    quiet = GaussianMixture(3, covariance_type=cov_type, seed=1).em_steps(X, emit_responsibilities=False)
    assert all(ev.responsibilities is None for ev in quiet if isinstance(ev, EStep))


def test_cli_prints_parameters_bic_and_aic(tmp_path, capsys):
    X, _ = make_blobs_mixture(300, 2, seed=0)
    path = tmp_path / "points.csv"
    rows = ["a,b,label"] + [f"{x:.6f},{y:.6f},p" for x, y in X] + ["oops,1,p", "nan,2,p"]
    path.write_text("\n".join(rows) + "\n")
    parser = argparse.ArgumentParser()
    add_gmm_args(parser)
    assert cmd_gmm(parser.parse_args(["fit", str(path), "--k", "2", "--cov", "diag", "--seed", "1"])) == 0
    out = capsys.readouterr().out
    for text in ("BIC:", "AIC:", "Log-likelihood:", "Component 2: weight", "covariance", "converged",
                 "Skipped rows: 2 of 302"):
        assert text in out
    assert GMM_COMMAND[0] == "gmm" and GMM_COMMAND[2] is add_gmm_args and GMM_COMMAND[3] is cmd_gmm
