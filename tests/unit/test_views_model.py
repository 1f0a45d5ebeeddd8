"""Unit tests for models/views: estimator conformance, cleaning robustness, shipped-artifact behaviour.

Curves here are written by hand (not by training/views/simulate.py), so the artifact checks test
generalisation to shapes it was not trained on.
"""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from models.views import ViewPatternModel, ViewScore, load
from models.views.config import FEATURE_NAMES, ViewsConfig
from models.views.features import ViewCurveFeatures
from models.views.model import DEFAULT_ARTIFACT

H = 3600


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """OpenMP threads fighting over a shared 2-core machine make tiny fits take seconds."""
    with threadpool_limits(1):
        yield


# ---- tiny inputs ------------------------------------------------------------------------------------
def curve(fn, span_h=48, step_min=60):
    """[[seconds, cumulative views]] sampled every step_min minutes from publish to span_h hours."""
    ts = np.arange(0, span_h * H + 1, step_min * 60)
    return [[int(t), int(fn(t))] for t in ts]


def saturating(total, tau_h):
    return lambda t: total * (1 - math.exp(-t / (tau_h * H)))


def post(history, views=None, likes=None, replies=None, reposts=0, followers=None):
    views = views if views is not None else (history[-1][1] if history else 0)
    engagement = None if likes is None else {"likes": likes, "replies": replies or 0, "reposts": reposts, "quotes": 0}
    return {"views": views, "view_history": history, "engagement": engagement, "follower_count": followers}


ORGANIC = post(curve(saturating(15_000, 4)), likes=480, replies=45, reposts=12, followers=20_000)


def tiny_training_set(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, len(FEATURE_NAMES)))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + 0.5 * rng.normal(size=n) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def tiny_model():
    X, y = tiny_training_set()
    return ViewPatternModel(max_iter=15, min_samples_leaf=5).fit(X, y)


# ---- scikit-learn conformance -------------------------------------------------------------------------
@parametrize_with_checks([ViewPatternModel(max_iter=5, min_samples_leaf=2)])
def test_sklearn_conformance(estimator, check):
    check(estimator)


def test_predict_proba_shape_and_range(tiny_model):
    X, _ = tiny_training_set(50, seed=1)
    proba = tiny_model.predict_proba(X)
    assert proba.shape == (50, 2)
    assert np.all(np.isfinite(proba)) and np.all((proba >= 0) & (proba <= 1))
    assert np.allclose(proba.sum(axis=1), 1)


def test_fit_is_deterministic():
    X, y = tiny_training_set()
    a = ViewPatternModel(max_iter=15, min_samples_leaf=5, random_state=3).fit(X, y).predict_proba(X)
    b = ViewPatternModel(max_iter=15, min_samples_leaf=5, random_state=3).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


def test_messages_name_what_was_seen(tiny_model, tmp_path):
    X, y = tiny_training_set()
    with pytest.raises(ValueError, match="Only binary classification is supported. y has 3 classes, but ViewPatternModel expects 2"):
        ViewPatternModel(max_iter=2).fit(X, np.arange(len(y)) % 3)
    with pytest.raises(ValueError, match=f"X has 3 features, but ViewPatternModel is expecting {len(FEATURE_NAMES)}"):
        tiny_model.predict_proba(X[:, :3])
    with pytest.raises(FileNotFoundError, match="expected estimator.skops in .* run `make train-views`"):
        load(tmp_path)
    with pytest.raises(TypeError, match="posts: expected a sequence of mappings, got dict"):
        tiny_model.score_posts(ORGANIC)
    with pytest.raises(ValueError, match="config.json: unknown keys \\['bogus'\\]"):
        ViewsConfig.from_dict({"bogus": 1})


# ---- the shared inference checks ------------------------------------------------------------------------
def test_empty_batch(tiny_model):
    assert tiny_model.score_posts([]) == []


def test_batch_equals_per_item(tiny_model):
    posts = [ORGANIC, post(None, views=900, likes=30, replies=2, followers=800), post(None, views=100), ORGANIC]
    batch = tiny_model.score_posts(posts)
    assert batch == [tiny_model.score_posts([p])[0] for p in posts]
    assert all(isinstance(s, ViewScore) for s in batch)


def test_score_posts_is_deterministic(tiny_model):
    assert tiny_model.score_posts([ORGANIC] * 3) == tiny_model.score_posts([ORGANIC] * 3)


def test_save_load_round_trip(tiny_model, tmp_path):
    tiny_model.version_ = "views-test"
    tiny_model.save(tmp_path)
    again = load(tmp_path)
    assert again.version == "views-test"
    assert again.get_params() == tiny_model.get_params() | {"config": again.config}
    posts = [ORGANIC, post(None, views=900, likes=30, replies=2, followers=800)]
    assert again.score_posts(posts) == tiny_model.score_posts(posts)


# ---- cleaning robustness ------------------------------------------------------------------------------
def features(posts):
    return ViewCurveFeatures().transform(posts)


def test_messy_history_is_cleaned_not_raised():
    clean = ORGANIC["view_history"]
    rng = np.random.default_rng(0)
    messy = [list(p) for p in clean]
    messy += [[-50, 10], [10**12, 99], clean[5], [clean[9][0], clean[9][1] // 2]]  # negative, future, dup, stale
    messy = [messy[i] for i in rng.permutation(len(messy))]
    a, b = features([ORGANIC]), features([dict(ORGANIC, view_history=messy)])
    assert np.allclose(a.X, b.X, equal_nan=True)


def test_decreasing_history_becomes_monotone():
    batch = features([post([[0, 0], [H, 500], [2 * H, 300], [3 * H, 800], [4 * H, 900]], likes=20)])
    assert np.isfinite(batch.X[0, FEATURE_NAMES.index("half_share")])
    assert batch.history_views[0] == 900


def test_malformed_points_are_dropped():
    history = [[0, 0], [H, 100], ["x", 5], [2 * H], None, [3 * H, float("nan")], [4 * H, 400], [5 * H, 450]]
    batch = features([post(history, likes=10)])
    assert batch.skipped == [None] and batch.history_views[0] == 450


def test_hundred_thousand_points_stay_cheap(tiny_model):
    t = np.linspace(0, 7 * 86400, 100_000)
    history = [[float(a), int(b)] for a, b in zip(t, 50_000 * (1 - np.exp(-t / 20_000)))]
    start = time.perf_counter()
    score = tiny_model.score_posts([post(history, likes=2000, replies=150, followers=40_000)])[0]
    assert time.perf_counter() - start < 1.0
    assert score.probability is not None and 0 <= score.probability <= 1


def test_missing_data_decides_from_what_there_is(tiny_model):
    no_history, nothing, no_views = tiny_model.score_posts([
        post(None, views=5000, likes=150, replies=12, followers=4000),
        post(None, views=5000, followers=4000),
        post(None, views=0),
    ])
    assert no_history.probability is not None and no_history.skipped is None
    assert nothing.probability is None and nothing.skipped == "no view history and no engagement"
    assert no_views.probability is None and no_views.skipped == "no views to judge"


def test_features_have_no_nan_with_full_inputs():
    X = features([ORGANIC]).X
    assert X.shape == (1, len(FEATURE_NAMES)) and np.all(np.isfinite(X))


# ---- the shipped artifact --------------------------------------------------------------------------------
def burst_post():
    base = saturating(3000, 3)
    bump = lambda t: 48_000 * min(max((t - 2 * H) / (20 * 60), 0), 1)  # 48k views in 20 min at 2h
    return post(curve(lambda t: base(t) + bump(t), span_h=24, step_min=10), likes=90, replies=8, followers=2500)


def drip_post():
    base = saturating(800, 3)
    return post(curve(lambda t: base(t) + 1000 * t / H, span_h=120, step_min=120), likes=40, replies=3, followers=1500)


def reach_post():
    return post(curve(saturating(300_000, 6), span_h=48), likes=40, replies=2, followers=300)


def with_likes_post():
    base = saturating(2000, 4)
    bump = lambda t: 50_000 * min(max((t - 3 * H) / (15 * 60), 0), 1)
    return post(curve(lambda t: base(t) + bump(t), span_h=36, step_min=15), likes=2100, replies=4, followers=3000)


def organic_cases():
    slow = post(curve(lambda t: 20_000 / (1 + math.exp(-(t - 12 * H) / (3 * H))), span_h=72), likes=700,
                replies=60, reposts=20, followers=15_000)
    first, second = saturating(10_000, 4), saturating(25_000, 5)
    wave = post(curve(lambda t: first(t) + (second(t - 20 * H) if t > 20 * H else 0), span_h=72),
                likes=1300, replies=110, reposts=40, followers=12_000)
    viral = post(curve(saturating(250_000, 8), span_h=72), likes=11_000, replies=900, reposts=600, followers=300)
    sparse = post([[0, 0], [5 * H, 6000], [30 * H, 9000]], likes=350, replies=30, reposts=8, followers=9000)
    irregular = post([[t, int(saturating(15_000, 4)(t))] for t in (0, 600, 700, 4000, 13_000, 60_000, 61_000, 170_000)],
                     likes=500, replies=40, reposts=10, followers=20_000)
    return {"organic": ORGANIC, "slow_starter": slow, "second_wave": wave, "small_viral": viral,
            "sparse": sparse, "irregular": irregular}


@pytest.fixture(scope="module")
def shipped():
    if not (DEFAULT_ARTIFACT / "estimator.skops").is_file():
        pytest.skip("no shipped artifact: run `make train-views`")
    thresholds = json.loads((DEFAULT_ARTIFACT / "metrics.json").read_text())["thresholds"]
    return load(), thresholds


@pytest.mark.parametrize("name", ["organic", "slow_starter", "second_wave", "small_viral", "sparse", "irregular"])
def test_shipped_passes_organic(shipped, name):
    model, th = shipped
    score = model.score_posts([organic_cases()[name]])[0]
    assert score.probability < th["review_at"], (name, score)


@pytest.mark.parametrize("name,make", [("burst", burst_post), ("drip", drip_post), ("reach", reach_post),
                                       ("with_likes", with_likes_post)])
def test_shipped_flags_bought(shipped, name, make):
    model, th = shipped
    score = model.score_posts([make()])[0]
    assert score.probability >= th["review_at"], (name, score)
    assert score.evidence, name


# ---- sparse histories: a handful of points at irregular times ----------------------------------------------
README_EXAMPLE = {  # the contract's example post (README): 820 views in hour 1, 1,330 in hour 2, then decaying
    "views": 12840, "follower_count": 15300, "view_history": [[0, 0], [3600, 820], [7200, 2150], [86400, 11900]],
    "engagement": {"likes": 310, "replies": 22, "reposts": 9, "quotes": 1},
}


def sparse_organic_cases():
    return {
        "readme_example": README_EXAMPLE,
        # two points only: 30 min, then 3 days later
        "two_points": post([[1800, 1400], [3 * 86400, 9800]], likes=260, replies=25, reposts=7, followers=8000),
        # slow start, then one reading a week later
        "slow_then_week": post([[0, 0], [2 * H, 300], [10 * H, 4200], [7 * 86400, 7600]], likes=240, replies=30,
                               reposts=9, followers=11_000),
        # irregular: 20 min, 5 h, 6 h, 2 days, 9 days
        "irregular_five": post([[1200, 900], [5 * H, 14_000], [6 * H, 16_500], [2 * 86400, 31_000], [9 * 86400, 34_500]],
                               likes=1400, replies=120, reposts=45, followers=40_000),
    }


def sparse_bought_cases():
    return {
        # +100k views in 20 min with 5 likes
        "burst_3pts": post([[0, 0], [H, 1500], [H + 1200, 101_500]], likes=5, replies=0, followers=2000),
        # four readings a day apart, ~1,000 views/h each day, almost no engagement
        "drip_4pts": post([[0, 0], [86400, 24_500], [2 * 86400, 48_900], [3 * 86400, 73_200]], likes=60, replies=2,
                          followers=1800),
        # 200k views from 400 followers, two readings
        "reach_2pts": post([[2 * H, 90_000], [30 * H, 200_000]], likes=70, replies=3, followers=400),
    }


@pytest.mark.parametrize("name", list(sparse_organic_cases()))
def test_shipped_passes_sparse_organic(shipped, name):
    model, th = shipped
    score = model.score_posts([sparse_organic_cases()[name]])[0]
    assert score.probability < th["review_at"], (name, score)
    assert not any(e["feature"] == "linear_drip" for e in score.evidence), (name, score)


def test_readme_example_passes_below_half(shipped):
    model, _ = shipped
    score = model.score_posts([README_EXAMPLE])[0]
    assert score.probability < 0.5, score


@pytest.mark.parametrize("name", list(sparse_bought_cases()))
def test_shipped_flags_sparse_bought(shipped, name):
    model, th = shipped
    score = model.score_posts([sparse_bought_cases()[name]])[0]
    assert score.probability >= th["review_at"], (name, score)
    assert score.evidence, name


def test_interpolated_gap_is_not_read_as_a_drip():
    """A straight line across a long gap is interpolation: linearity features are NaN, density features say so."""
    X = features([README_EXAMPLE]).X[0]
    col = FEATURE_NAMES.index
    for name in ("last_quarter_rate", "late_rate_cv", "late_rate_trend", "half_share"):
        assert np.isnan(X[col(name)]), name
    assert X[col("late_observed_share")] == 0 and X[col("max_gap_share")] > 0.9
    assert round(10 ** X[col("log_history_points")]) == 3
    # the same drip sampled every 2 h keeps its linearity features
    drip = features([drip_post()]).X[0]
    assert drip[col("late_observed_share")] == 1 and drip[col("late_rate_cv")] < 0.2


def test_shipped_burst_evidence_reads_like_a_reviewer_note(shipped):
    model, _ = shipped
    evidence = model.score_posts([burst_post()])[0].evidence
    burst = next(e for e in evidence if e["feature"] == "burst")
    assert burst["message"].startswith("+") and "views in" in burst["message"] and "after publish" in burst["message"]
    assert burst["t_start_s"] <= 2 * H + 600 and burst["t_end_s"] >= 2 * H + 600
    assert model.version.startswith("views-")
