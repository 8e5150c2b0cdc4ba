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


def _old_centred_p(d, observed):
    """The p-value compare printed before: centred replicates at least as far out as observed."""
    d = d[~np.isnan(d)]
    return (1 + np.sum(np.abs(d - observed) >= abs(observed) - 1e-15)) / (d.size + 1)


def _replicates(rng, kind, n, scale, loc):
    if kind == "normal":
        return rng.normal(loc, scale, n)
    if kind == "skewed":  # long tail to one side or the other
        return loc + rng.choice([-1, 1]) * scale * (rng.lognormal(0, 1.2, n) - 1)
    if kind == "discrete":  # few values, many ties, 0 often among them
        return (rng.integers(-3, 4, n) + round(loc / scale)) * 0.01
    if kind == "one_side":  # all above or all below 0
        return rng.choice([-1, 1]) * (np.abs(rng.normal(loc, scale, n)) + 1e-3)
    if kind == "mostly_zero":  # paired differences of near-identical systems
        return np.where(rng.random(n) < 0.8, 0.0, rng.normal(loc, scale, n))
    return np.full(n, rng.choice([0.0, loc, -abs(loc) - 0.1]))  # constant


def _jackknife(rng, kind, side):
    """Jackknife values; ``side`` -1 (+1) when the estimate is below (above) most replicates."""
    if kind is None:
        return None
    n = int(rng.integers(2, 400))
    if kind == "outlier":  # one cluster far from the rest: |a| near its bound 1/6 ...
        n = int(rng.integers(100, 400))
        v = np.zeros(n)
        # ... and mostly of the sign that, with z0 far out, reaches the pole 1 - a (z0 + z) = 0
        v[0] = (-side if rng.random() < 0.75 else side) * rng.uniform(0.1, 5)
        return [v + rng.normal(0, 1e-6, n)]
    arrays = [rng.normal(0, 1, n), rng.lognormal(0, 1, int(rng.integers(2, 50)))]
    if rng.random() < 0.3:
        arrays[0][: n // 3] = np.nan  # clusters left out of the mean
    return arrays if kind == "two" else arrays[:1]


def _check_p_against_intervals(reps, estimate, jack, levels):
    """p >= 1 - L exactly when the level-L BCa interval holds 0, at the given levels and at the
    levels next to 1 - p; p in [1/(R+1), 1]; intervals nest as the level rises."""
    n_ok = int(np.sum(~np.isnan(reps)))
    p = bs.bca_p_value(reps, estimate, jack)
    assert 1 / (n_ok + 1) <= p <= 1
    ivs = []
    for level in sorted(levels):
        iv = bs.bca_interval(reps, estimate, jack, level)
        assert iv.low <= iv.high
        assert (p >= 1 - level) == (iv.low <= 0 <= iv.high), (level, p, iv)
        ivs.append(iv)
    for narrow, wide in zip(ivs, ivs[1:]):
        assert wide.low <= narrow.low and narrow.high <= wide.high
    # right at the edge, where rounding would decide if the construction did not
    edge = 1 - p
    for level in (edge, np.nextafter(edge, 0), np.nextafter(edge, 1)):
        if 1 - level > 1 / (n_ok + 1):
            iv = bs.bca_interval(reps, estimate, jack, level)
            assert (p >= 1 - level) == (iv.low <= 0 <= iv.high), (level, p, iv)
    return p


REPLICATE_KINDS = ["normal", "skewed", "discrete", "one_side", "mostly_zero", "constant"]


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(REPLICATE_KINDS),
       st.integers(100, 3000), st.sampled_from([0.0, 0.05, 0.5]),
       st.sampled_from(["zero", "mean", "replicate", "random", "below_all", "above_all"]),
       st.sampled_from([None, "one", "two", "outlier"]),
       st.lists(st.floats(0.5, 0.99), min_size=1, max_size=4))
def test_bca_p_value_agrees_with_the_interval_at_every_level(seed, kind, n_ok, nan_share,
                                                             est_kind, jack_kind, levels):
    rng = np.random.default_rng(seed)
    scale = float(rng.choice([1e-3, 0.05, 1.0]))
    ok = _replicates(rng, kind, n_ok, scale, float(rng.uniform(-3, 3)) * scale)
    reps = np.concatenate([ok, np.full(int(nan_share * n_ok), np.nan)])  # degenerate ones
    rng.shuffle(reps)
    estimate = {"zero": 0.0, "mean": float(ok.mean()), "replicate": float(rng.choice(ok)),
                "random": float(rng.normal(0, 2)) * scale, "below_all": float(ok.min() - scale),
                "above_all": float(ok.max() + scale)}[est_kind]
    jack = _jackknife(rng, jack_kind, -1 if estimate < np.median(ok) else 1)
    _check_p_against_intervals(reps, estimate, jack, levels)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(REPLICATE_KINDS), st.integers(3000, 5000),
       st.booleans(), st.lists(st.floats(0.5, 0.99), min_size=1, max_size=3))
def test_bca_p_value_agrees_with_the_interval_past_the_pole(seed, kind, n_ok, below, levels):
    """As above with |a| near its bound 1/6 and the estimate beyond every replicate
    (|z0| >= 3.6): 1 - a (z0 + z) <= 0 is reached at the 99% level."""
    from statistics import NormalDist

    rng = np.random.default_rng(seed)
    ok = _replicates(rng, kind, n_ok, 1.0, float(rng.uniform(-3, 3)))
    estimate = float(ok.min() - 1) if below else float(ok.max() + 1)
    jack = _jackknife(rng, "outlier", -1 if below else 1)
    jack[0][0] = abs(jack[0][0]) * (1 if below else -1)  # the sign that reaches the pole
    _, z0, a = bs._bca_setup(ok, estimate, jack)
    assert 1 - a * (z0 + NormalDist().inv_cdf(0.005 if below else 0.995)) <= 0
    _check_p_against_intervals(ok, estimate, jack, levels + [0.99])


def test_bca_p_value_past_the_pole():
    """Replicates all above the estimate (z0 = -3.7) and an outlying cluster (a = -0.16):
    1 - a (z0 + z) reaches 0 inside the 99% level. The textbook formula then sends the lower
    quantile to ~1, above the upper one; the clamped quantile sends it to 0 and keeps the
    intervals nested, and the p-value still matches every one of them."""
    from statistics import NormalDist

    rng = np.random.default_rng(0)
    reps = 1.0 + rng.exponential(1.0, 4000)
    jack = np.zeros(400)
    jack[0] = 1.0
    nd = NormalDist()
    z0 = nd.inv_cdf(0.5 / reps.size)
    u = jack.mean() - jack
    a = np.sum(u ** 3) / (6 * np.sum(u ** 2) ** 1.5)
    s = z0 + nd.inv_cdf(0.005)
    assert 1 - a * s < 0  # past the pole at 99%
    assert nd.cdf(z0 + s / (1 - a * s)) > 0.99  # what the unclamped formula would take
    ivs = [bs.bca_interval(reps, 0.0, [jack], level) for level in (0.5, 0.9, 0.95, 0.99)]
    assert ivs[-1].low == reps.min()
    for narrow, wide in zip(ivs, ivs[1:]):
        assert wide.low <= narrow.low and narrow.high <= wide.high
    p = bs.bca_p_value(reps, 0.0, [jack])
    assert p == 1 / (reps.size + 1)  # 0 lies below every replicate: no level reaches it


def test_bca_p_value_where_the_centred_p_disagreed_with_the_interval():
    """A right-skewed difference: the BCa interval excludes 0, but the old centred p-value
    (counting replicates at least |d| from d, on both sides) was 0.12. The new p is below 0.05
    with it, as it must be."""
    x = np.random.default_rng(14).lognormal(0, 1.0, 25) - 1.2  # per-cluster differences
    w = bs.draw_weights(np.random.default_rng(1), x.size, 10_000)
    reps = (w * x).sum(axis=1) / x.size
    jack = [(x.sum() - x) / (x.size - 1)]
    iv = bs.bca_interval(reps, x.mean(), jack, 0.95)
    assert iv.low > 0  # the interval excludes 0 ...
    assert _old_centred_p(reps, x.mean()) > 0.1  # ... the old p said "not significant"
    p = bs.bca_p_value(reps, x.mean(), jack)
    assert p < 0.05
    # and the level at which the interval first reaches 0 is 1 - p
    assert bs.bca_interval(reps, x.mean(), jack, 1 - p).low <= 0
    assert bs.bca_interval(reps, x.mean(), jack, 1 - 2 * p).low > 0


def test_bca_p_value_limits():
    rng = np.random.default_rng(0)
    same = np.zeros(1000)  # a system against itself: every interval is [0, 0]
    assert bs.bca_p_value(same, 0.0, [np.zeros(10)]) == 1.0
    null = rng.normal(0.0, 1.0, 10_000)
    assert bs.bca_p_value(null, 0.0, None) > 0.9
    far = rng.normal(5.0, 1.0, 10_000)  # observed 5 sd away from 0
    assert bs.bca_p_value(far, 5.0, None) == 1 / 10_001  # the floor: 1/(R + 1)
    reps = np.r_[null, np.full(500, np.nan)]  # degenerate replicates do not count in R
    assert bs.bca_p_value(np.r_[far, reps[-500:]], 5.0, None) == 1 / 10_001
    nothing = np.full(50, np.nan)
    assert np.isnan(bs.bca_p_value(nothing, 0.1, None))  # no interval, no p-value
    assert np.isnan(bs.bca_interval(nothing, 0.1, None).low)
    assert np.isnan(bs.bca_p_value(null, float("nan"), None))


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
