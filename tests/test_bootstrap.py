"""Bootstrap replicates against scikit-learn on the resampled data, and the interval machinery."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.reference import get_map_reference


def _problem(seed, n=120, n_clusters=6, c=5, ties=False):
    rng = np.random.default_rng(seed)
    clusters = rng.integers(0, n_clusters, n)
    table = (rng.random((n_clusters, c)) < 0.4).astype(np.uint8)
    labels = table[clusters]
    scores = labels * 0.5 + rng.random((n, c))
    if ties:
        scores = np.round(scores * 4) / 4
    return scores.astype(np.float32), labels, clusters


def _reference_replicate(scores, labels, clusters, weights_row):
    """get_map on the data a replicate stands for: sample i repeated w[cluster(i)] times."""
    reps = np.repeat(np.arange(len(scores)), weights_row[clusters])
    y = labels[reps]
    if not y.any():
        return np.nan
    return get_map_reference(scores[reps], y)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.booleans(), st.integers(2, 9))
def test_cluster_replicates_equal_sklearn_on_resampled_data(seed, ties, n_clusters):
    scores, labels, clusters = _problem(seed, n_clusters=n_clusters, ties=ties)
    w = bs.draw_weights(np.random.default_rng(seed), n_clusters, 30)
    ours = bs.replicate_maps(scores, labels, clusters, w)
    ref = np.array([_reference_replicate(scores, labels, clusters, w[r]) for r in range(30)])
    np.testing.assert_allclose(ours, ref, atol=1e-6, equal_nan=True)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.booleans())
def test_sample_replicates_equal_sklearn_on_resampled_data(seed, ties):
    scores, labels, _ = _problem(seed, n=60, ties=ties)
    n = len(scores)
    w = bs.draw_weights(np.random.default_rng(seed), n, 20)
    ours = bs.replicate_maps(scores, labels, np.arange(n), w)
    ref = np.array([_reference_replicate(scores, labels, np.arange(n), w[r]) for r in range(20)])
    np.testing.assert_allclose(ours, ref, atol=1e-6, equal_nan=True)


def test_weights_are_multinomial_counts():
    w = bs.draw_weights(np.random.default_rng(0), 7, 5000)
    assert w.shape == (5000, 7)
    assert (w.sum(axis=1) == 7).all()
    # each cluster is drawn with probability 1/7 per draw: mean count 1, variance 6/7
    assert w.mean() == pytest.approx(1.0, abs=0.02)
    assert w.var() == pytest.approx(6 / 7, abs=0.05)


def test_split_streams_are_seeded_and_independent():
    a = bs.draw_weights(bs.split_rng(0, "test_unseen"), 10, 50)
    b = bs.draw_weights(bs.split_rng(0, "test_unseen"), 10, 50)
    c = bs.draw_weights(bs.split_rng(0, "test_seen"), 10, 50)
    d = bs.draw_weights(bs.split_rng(1, "test_unseen"), 10, 50)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c) and not np.array_equal(a, d)


def test_chunked_draws_do_not_depend_on_resample_count():
    """The first R replicates are the same whether R or more are drawn (blocks of 1000)."""
    short = bs.draw_weights(bs.split_rng(0, "x"), 12, 1000)
    long = bs.draw_weights(bs.split_rng(0, "x"), 12, 3000)
    assert np.array_equal(short, long[:1000])


def test_percentile_interval_matches_numpy_and_skips_degenerate():
    reps = np.r_[np.linspace(0, 1, 1001), [np.nan, np.nan]]
    iv = bs.percentile_interval(reps, 0.95)
    assert iv.low == pytest.approx(0.025) and iv.high == pytest.approx(0.975)
    assert iv.degenerate == 2


def test_paired_p_value_properties():
    rng = np.random.default_rng(0)
    null = rng.normal(0.0, 1.0, 10_000)
    assert bs.paired_p_value(null + 0.0, 0.0) == pytest.approx(1.0)
    far = rng.normal(5.0, 1.0, 10_000)  # observed 5 sd away from 0
    assert bs.paired_p_value(far, 5.0) < 1e-3
    assert bs.paired_p_value(far, 5.0) >= 1 / 10_001


def test_cluster_interval_wider_than_sample_interval_when_clusters_are_few():
    """The reason the activity interval is the default on unseen splits."""
    rng = np.random.default_rng(5)
    n_act, n = 6, 600
    clusters = rng.integers(0, n_act, n)
    labels = (rng.random((n_act, 20)) < 0.35).astype(np.uint8)[clusters]
    act_effect = rng.normal(0, 0.6, (n_act, 20))[clusters]  # activity-level difficulty
    scores = (labels * 0.7 + act_effect + rng.normal(0, 0.5, (n, 20))).astype(np.float32)
    by_act = bs.replicate_maps(scores, labels, clusters,
                               bs.draw_weights(np.random.default_rng(1), n_act, 2000))
    by_sample = bs.replicate_maps(scores, labels, np.arange(n),
                                  bs.draw_weights(np.random.default_rng(1), n, 2000))
    assert np.nanstd(by_act) > 2 * np.nanstd(by_sample)


def test_bca_matches_scipy_on_a_skewed_mean():
    """Our BCa (replicates + jackknife in, interval out) against scipy.stats.bootstrap's BCa."""
    from scipy import stats

    rng = np.random.default_rng(0)
    x = rng.exponential(1.0, 40)
    w = bs.draw_weights(np.random.default_rng(1), len(x), 40_000)
    reps = (w * x).sum(axis=1) / len(x)
    jack = (x.sum() - x) / (len(x) - 1)
    ours = bs.bca_interval(reps, x.mean(), [jack], 0.95)
    ref = stats.bootstrap((x,), np.mean, n_resamples=40_000, method="BCa",
                          random_state=np.random.default_rng(2)).confidence_interval
    assert ours.low == pytest.approx(ref.low, abs=0.02)
    assert ours.high == pytest.approx(ref.high, abs=0.03)
    plain = bs.percentile_interval(reps, 0.95)
    assert ours.high > plain.high  # right skew: BCa moves the interval up


def test_bca_corrects_a_biased_bootstrap():
    """Replicates all biased upwards by a constant: BCa shifts the interval back down."""
    rng = np.random.default_rng(3)
    reps = rng.normal(0.0, 1.0, 20_000)
    centred = bs.bca_interval(reps, 0.0, None)
    assert centred.low == pytest.approx(-1.96, abs=0.06) and centred.high == pytest.approx(1.96, abs=0.06)
    biased = bs.bca_interval(reps + 0.5, 0.0, None)
    assert biased.low == pytest.approx(-2.46, abs=0.08) and biased.high == pytest.approx(1.46, abs=0.08)
