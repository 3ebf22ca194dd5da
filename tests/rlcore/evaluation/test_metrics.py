"""Golden values for the aggregate metrics and the stratified bootstrap, plus a cross-check against rliable."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest

from rlcore.errors import RLCoreError
from rlcore.evaluation import metrics

# 3 runs x 3 tasks. Task means: [3, 2, 20]. Pooled, sorted: 0 1 2 3 4 5 10 20 30.
SCORES = np.array([[1.0, 2.0, 10.0], [3.0, 4.0, 20.0], [5.0, 0.0, 30.0]])


def test_mean_and_median_average_runs_first_then_tasks():
    assert metrics.mean(SCORES) == pytest.approx(25.0 / 3.0)
    assert metrics.median(SCORES) == pytest.approx(3.0)


def test_iqm_drops_the_lowest_and_highest_quarter_of_pooled_scores():
    # 9 scores: floor(9 / 4) = 2 dropped at each end -> mean of 2 3 4 5 10.
    assert metrics.iqm(SCORES) == pytest.approx(24.0 / 5.0)
    # 8 scores: 2 dropped at each end -> mean of the middle four.
    assert metrics.iqm(np.array([[8.0, 1.0], [7.0, 2.0], [6.0, 3.0], [5.0, 4.0]])) == pytest.approx(4.5)


def test_optimality_gap_clips_scores_at_gamma():
    # min(score, 4): 1 2 4 3 4 4 4 0 4 -> mean 26/9.
    assert metrics.optimality_gap(SCORES, gamma=4.0) == pytest.approx(4.0 - 26.0 / 9.0)
    assert metrics.optimality_gap(np.full((2, 2), 3.0)) == pytest.approx(0.0)
    assert metrics.optimality_gap(np.zeros((2, 2))) == pytest.approx(1.0)


def test_probability_of_improvement_counts_ties_as_half_and_averages_tasks():
    x = np.array([[1.0, 5.0], [3.0, 5.0]])
    y = np.array([[2.0, 1.0], [3.0, 9.0]])
    # Task 0: pairs (1,2) (1,3) (3,2) (3,3) -> 0 + 0 + 1 + 0.5 = 1.5 / 4. Task 1: 2 / 4.
    assert metrics.probability_of_improvement(x, y) == pytest.approx((0.375 + 0.5) / 2)
    assert metrics.probability_of_improvement(x, x) == pytest.approx(0.5)
    assert metrics.probability_of_improvement(x, y) + metrics.probability_of_improvement(y, x) == pytest.approx(1.0)


def test_probability_of_improvement_accepts_different_run_counts():
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[2.5], [0.0]])
    # 1: beats 0 -> 1 win; 2: 1 win; 3: 2 wins -> 4 / 6.
    assert metrics.probability_of_improvement(x, y) == pytest.approx(4.0 / 6.0)


def test_performance_profile_run_and_average_score_distributions():
    scores = np.array([[0.1, 0.5], [0.9, 0.3]])
    taus = [0.0, 0.3, 0.5, 1.0]
    np.testing.assert_allclose(metrics.performance_profile(scores, taus), [1.0, 0.5, 0.25, 0.0])
    # Task means 0.5 and 0.4.
    np.testing.assert_allclose(metrics.performance_profile(scores, taus, use_score_distribution=False), [1, 1, 0, 0])


def test_curve_metrics_are_per_point():
    curves = np.random.default_rng(3).normal(size=(5, 4, 6))
    for fn in (metrics.mean, metrics.median, metrics.iqm, metrics.optimality_gap):
        values = fn(curves)
        assert np.shape(values) == (6,)
        np.testing.assert_allclose(values, [fn(curves[:, :, p]) for p in range(6)], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        (lambda: metrics.mean(np.arange(3.0)), "shape (3,)"),
        (lambda: metrics.iqm(np.array([[1.0, np.nan]])), "NaN"),
        (lambda: metrics.probability_of_improvement(np.ones((2, 2)), np.ones((2, 3))), "same number of tasks"),
        (lambda: metrics.performance_profile(np.ones((2, 2)), []), "taus"),
        (lambda: metrics.stratified_bootstrap_ci({"a": SCORES}, metrics.mean, reps=0), "reps 0"),
        (lambda: metrics.stratified_bootstrap_ci({"a": SCORES}, metrics.mean, alpha=1.0), "alpha 1.0"),
        (lambda: metrics.stratified_bootstrap_ci({}, metrics.mean), "empty"),
    ],
)
def test_bad_input_gets_one_sentence_naming_it(call, needle):
    with pytest.raises(RLCoreError) as err:
        call()
    message = str(err.value)
    assert needle in message
    assert message.endswith(".") and message.count(". ") == 0


def test_bootstrap_of_constant_tasks_has_zero_width():
    scores = np.array([[1.0, 5.0], [1.0, 5.0], [1.0, 5.0]])
    est = metrics.stratified_bootstrap_ci({"a": scores}, metrics.mean, reps=50)["a"]
    assert float(est.point) == float(est.lower) == float(est.upper) == pytest.approx(3.0)


def test_bootstrap_resamples_runs_within_each_task():
    rng = np.random.default_rng(0)
    scores = np.stack([rng.uniform(0, 1, 8), rng.uniform(100, 101, 8)], axis=1)
    est = metrics.stratified_bootstrap_ci({"a": scores}, lambda s: s.mean(axis=0), reps=300)["a"]
    assert est.lower.shape == (2,)
    assert 0.0 <= est.lower[0] <= est.point[0] <= est.upper[0] <= 1.0
    assert 100.0 <= est.lower[1] <= est.point[1] <= est.upper[1] <= 101.0


def test_bootstrap_is_seeded_and_independent_of_other_algorithms():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    one = metrics.stratified_bootstrap_ci({"a": a}, metrics.iqm, reps=200, seed=7)["a"]
    both = metrics.stratified_bootstrap_ci({"b": b, "a": a}, metrics.iqm, reps=200, seed=7)["a"]
    other = metrics.stratified_bootstrap_ci({"a": a}, metrics.iqm, reps=200, seed=8)["a"]
    assert (float(one.lower), float(one.upper)) == (float(both.lower), float(both.upper))
    assert (float(one.lower), float(one.upper)) != (float(other.lower), float(other.upper))
    assert float(one.lower) < float(one.point) < float(one.upper)


def test_bootstrap_interval_narrows_with_alpha_and_with_more_runs():
    rng = np.random.default_rng(2)
    few, many = rng.normal(size=(5, 2)), rng.normal(size=(80, 2))
    wide = metrics.stratified_bootstrap_ci({"x": few}, metrics.mean, reps=500, alpha=0.05)["x"]
    narrow = metrics.stratified_bootstrap_ci({"x": few}, metrics.mean, reps=500, alpha=0.5)["x"]
    big = metrics.stratified_bootstrap_ci({"x": many}, metrics.mean, reps=500)["x"]
    assert wide.upper - wide.lower > narrow.upper - narrow.lower
    assert wide.upper - wide.lower > big.upper - big.lower


def test_bootstrap_pairs_resample_each_array_independently():
    x = np.array([[1.0], [2.0], [3.0]])
    y = np.array([[0.0], [0.5]])
    est = metrics.stratified_bootstrap_ci({"x>y": (x, y)}, metrics.probability_of_improvement, reps=100)["x>y"]
    assert float(est.point) == float(est.lower) == float(est.upper) == 1.0
    assert est.as_dict() == {"point": 1.0, "lower": 1.0, "upper": 1.0}


# ---------------------------------------------------------------- cross-check against rliable


@pytest.fixture(scope="module")
def rliable():
    """rliable's metrics and library modules (pinned in requirements.txt, so never skipped).

    rliable.library imports ``arch.bootstrap``; arch 7's package ``__init__`` also imports
    its time-series models, which fail with pandas 3. Loading ``arch`` as a bare package
    skips that ``__init__`` and keeps only the bootstrap classes rliable uses.
    """
    rm = importlib.import_module("rliable.metrics")
    saved = {k: v for k, v in sys.modules.items() if k == "arch" or k.startswith(("arch.", "rliable.library"))}
    try:
        library = importlib.import_module("rliable.library")
    except TypeError:
        for key in [k for k in sys.modules if k == "arch" or k.startswith("arch.")]:
            del sys.modules[key]
        bare = types.ModuleType("arch")
        bare.__path__ = list(importlib.util.find_spec("arch").submodule_search_locations)
        sys.modules["arch"] = bare
        library = importlib.import_module("rliable.library")
    yield rm, library
    for key in [k for k in sys.modules if k == "arch" or k.startswith(("arch.", "rliable.library"))]:
        del sys.modules[key]
    sys.modules.update(saved)


def _data():
    rng = np.random.default_rng(42)
    x = rng.normal(size=(10, 5))
    y = np.round(rng.normal(0.3, 1.0, size=(8, 5)), 1)  # rounded: ties inside and across
    x[:3] = np.round(x[:3], 1)
    return x, y


def test_point_estimates_match_rliable(rliable):
    rm, library = rliable
    x, y = _data()
    pairs = [(metrics.mean, rm.aggregate_mean), (metrics.median, rm.aggregate_median),
             (metrics.iqm, rm.aggregate_iqm), (metrics.optimality_gap, rm.aggregate_optimality_gap)]
    for ours, theirs in pairs:
        for s in (x, y):
            assert ours(s) == pytest.approx(theirs(s), abs=1e-9)
    assert metrics.optimality_gap(x, gamma=0.5) == pytest.approx(rm.aggregate_optimality_gap(x, gamma=0.5), abs=1e-9)
    for a, b in ((x, y), (y, x), (x, x)):
        assert metrics.probability_of_improvement(a, b) == pytest.approx(rm.probability_of_improvement(a, b), abs=1e-9)
    taus = np.linspace(-2.0, 2.0, 17)
    np.testing.assert_allclose(metrics.performance_profile(x, taus), library.score_distributions(x, taus), atol=1e-9)
    np.testing.assert_allclose(metrics.performance_profile(x, taus, use_score_distribution=False),
                               library.average_score_distributions(x, taus), atol=1e-9)


def _assert_close_intervals(ours, lower, upper, tol):
    np.testing.assert_allclose(ours.lower, lower, rtol=0, atol=tol)
    np.testing.assert_allclose(ours.upper, upper, rtol=0, atol=tol)


@pytest.mark.parametrize("name", ["mean", "median", "iqm", "optimality_gap"])
def test_bootstrap_intervals_match_rliable(rliable, name):
    rm, library = rliable
    x, y = _data()
    theirs_fn = {"mean": rm.aggregate_mean, "median": rm.aggregate_median, "iqm": rm.aggregate_iqm,
                 "optimality_gap": rm.aggregate_optimality_gap}[name]
    ours = metrics.stratified_bootstrap_ci({"x": x, "y": y}, getattr(metrics, name), reps=2000)
    np.random.seed(0)  # rliable's resampling draws from numpy's global generator
    points, cis = library.get_interval_estimates({"x": x, "y": y}, lambda s: np.array([theirs_fn(s)]), reps=2000)
    for key in ("x", "y"):
        assert float(ours[key].point) == pytest.approx(points[key][0], abs=1e-9)
        lower, upper = cis[key][:, 0]
        # Same data and reps, different random draws: allow 10% of the interval's width.
        _assert_close_intervals(ours[key], lower, upper, tol=0.1 * (upper - lower))


def test_bootstrap_of_probability_of_improvement_matches_rliable(rliable):
    rm, library = rliable
    x, y = (s[:, :3] for s in _data())  # rliable's per-task Mann-Whitney loop is slow: keep it small
    ours = metrics.stratified_bootstrap_ci({"xy": (x, y)}, metrics.probability_of_improvement, reps=1000)["xy"]
    np.random.seed(0)
    points, cis = library.get_interval_estimates(
        {"xy": [x, y]}, lambda a, b: np.array([rm.probability_of_improvement(a, b)]), reps=1000)
    assert float(ours.point) == pytest.approx(points["xy"][0], abs=1e-9)
    lower, upper = cis["xy"][:, 0]
    _assert_close_intervals(ours, lower, upper, tol=0.1 * (upper - lower))


def test_bootstrap_of_performance_profiles_matches_rliable(rliable):
    _, library = rliable
    x, _ = _data()
    taus = np.linspace(-1.5, 1.5, 13)
    ours = metrics.stratified_bootstrap_ci({"x": x}, lambda s: metrics.performance_profile(s, taus), reps=2000)["x"]
    np.random.seed(0)
    profiles, cis = library.create_performance_profile({"x": x}, taus, reps=2000)
    np.testing.assert_allclose(ours.point, profiles["x"], atol=1e-9)
    # Profile values are multiples of 1/50; a percentile may move by up to two steps.
    _assert_close_intervals(ours, cis["x"][0], cis["x"][1], tol=2.0 / x.size + 1e-9)


def test_bootstrap_of_iqm_curves_matches_rliable(rliable):
    rm, library = rliable
    curves = np.random.default_rng(5).normal(size=(6, 3, 8)).cumsum(axis=-1)
    ours = metrics.stratified_bootstrap_ci({"c": curves}, metrics.iqm, reps=1000)["c"]
    np.random.seed(0)
    points, cis = library.get_interval_estimates(
        {"c": curves}, lambda s: np.array([rm.aggregate_iqm(s[..., p]) for p in range(s.shape[-1])]), reps=1000)
    np.testing.assert_allclose(ours.point, points["c"], atol=1e-9)
    width = cis["c"][1] - cis["c"][0]
    _assert_close_intervals(ours, cis["c"][0], cis["c"][1], tol=0.1 * width.max())
