"""The masked mAP against scikit-learn (PySlowFast's get_map), and its invariances."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from amge_eval.harness.metric import average_precision, masked_map
from amge_eval.harness.reference import ap_reference, get_map_reference

TOL = 1e-12


def _pair(draw, n_rows, n_cols, score_values, positive_rate):
    labels = draw(arrays(np.uint8, (n_rows, n_cols), elements=st.sampled_from([0, 1])))
    if positive_rate is not None:
        labels = (draw(arrays(np.float64, (n_rows, n_cols),
                              elements=st.floats(0, 1))) < positive_rate).astype(np.uint8)
    scores = draw(arrays(np.float64, (n_rows, n_cols), elements=score_values))
    return scores, labels


@st.composite
def matrices(draw, max_rows=60, max_cols=8, ties=False):
    n = draw(st.integers(1, max_rows))
    c = draw(st.integers(1, max_cols))
    values = (st.sampled_from([-1.0, -0.0, 0.0, 0.25, 0.5, 1.0]) if ties
              else st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False, width=32))
    scores, labels = _pair(draw, n, c, values, None)
    # make sure at least one column can be scored
    labels[draw(st.integers(0, n - 1)), draw(st.integers(0, c - 1))] = 1
    return scores, labels


@settings(max_examples=300, deadline=None)
@given(matrices())
def test_agrees_with_sklearn_random(m):
    scores, labels = m
    assert masked_map(scores, labels).map == pytest.approx(get_map_reference(scores, labels),
                                                           abs=TOL)


@settings(max_examples=300, deadline=None)
@given(matrices(ties=True))
def test_agrees_with_sklearn_tie_heavy(m):
    scores, labels = m
    ours = average_precision(scores, labels)
    ref = ap_reference(scores, labels)
    np.testing.assert_allclose(ours, ref, atol=TOL, equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 40), st.integers(0, 39), st.data())
def test_single_positive_and_all_positive_columns(n, pos_row, data):
    pos_row = pos_row % n
    scores = data.draw(arrays(np.float32, (n, 3), elements=st.floats(0, 1, width=32)))
    labels = np.zeros((n, 3), dtype=np.uint8)
    labels[pos_row, 0] = 1  # single positive
    labels[:, 1] = 1  # all positive: AP is 1 and the column stays in the mean
    # column 2 has no positive: dropped
    res = masked_map(scores, labels)
    assert res.scored.tolist() == [True, True, False]
    assert res.ap[1] == 1.0
    assert np.isnan(res.ap[2])
    assert res.map == pytest.approx(get_map_reference(scores, labels), abs=TOL)


def test_large_float32_and_threads_agree():
    rng = np.random.default_rng(3)
    n = 60_000  # above the threading threshold
    labels = rng.random((n, 20)) < 0.29
    scores = np.round(rng.random((n, 20)), 3).astype(np.float32)  # many ties
    ref = ap_reference(scores, labels)
    np.testing.assert_allclose(average_precision(scores, labels, threads=2), ref, atol=TOL)
    np.testing.assert_allclose(average_precision(scores, labels, threads=1), ref, atol=TOL)


def test_constant_scores_give_prevalence():
    """Why Random/All Ones/All Zeros land near label prevalence in the papers."""
    rng = np.random.default_rng(0)
    labels = (rng.random((500, 20)) < 0.3).astype(int)
    for value in (0.0, 1.0, 0.5):
        res = masked_map(np.full(labels.shape, value), labels)
        np.testing.assert_allclose(res.ap, labels.mean(axis=0), atol=TOL)


@settings(max_examples=100, deadline=None)
@given(matrices(), st.randoms(use_true_random=False))
def test_invariant_to_row_order_and_column_permutation(m, rnd):
    scores, labels = m
    base = masked_map(scores, labels)
    rows = list(range(scores.shape[0]))
    cols = list(range(scores.shape[1]))
    rnd.shuffle(rows)
    rnd.shuffle(cols)
    moved = masked_map(scores[rows][:, cols], labels[rows][:, cols])
    assert moved.map == pytest.approx(base.map, abs=TOL)
    np.testing.assert_allclose(moved.ap, base.ap[cols], atol=TOL, equal_nan=True)


@settings(max_examples=100, deadline=None)
@given(matrices(ties=True))
def test_invariant_to_order_preserving_transforms(m):
    """AP depends only on the order of scores (ties included): dense ranks and exact scaling."""
    scores, labels = m
    base = masked_map(scores, labels)
    ranks = np.unique(scores, return_inverse=True)[1].reshape(scores.shape)
    for transformed in (ranks, scores * 4.0 - 3.0):
        np.testing.assert_allclose(masked_map(transformed, labels).ap, base.ap, atol=TOL,
                                   equal_nan=True)


def test_signed_zero_is_one_threshold():
    scores = np.array([[0.0], [-0.0], [0.0], [-0.0], [1.0]])
    labels = np.array([[1], [0], [0], [1], [0]])
    assert masked_map(scores, labels).map == pytest.approx(get_map_reference(scores, labels),
                                                           abs=TOL)


def test_integer_and_float16_scores():
    rng = np.random.default_rng(1)
    labels = (rng.random((50, 4)) < 0.4).astype(int)
    labels[0] = 1
    ints = rng.integers(0, 5, (50, 4))
    assert masked_map(ints, labels).map == pytest.approx(get_map_reference(ints, labels), abs=TOL)
    half = rng.random((50, 4)).astype(np.float16)
    assert masked_map(half, labels).map == pytest.approx(
        get_map_reference(half.astype(np.float64), labels), abs=TOL)


@pytest.mark.parametrize("bad, message", [
    (np.array([[np.nan, 0.1]]), "finite"),
    (np.array([[np.inf, 0.1]]), "finite"),
    (np.zeros((0, 2)), "at least one sample"),
])
def test_refuses_what_get_map_botches(bad, message):
    with pytest.raises(ValueError, match=message):
        masked_map(bad, np.ones(bad.shape, dtype=int))


def test_refuses_shape_mismatch_and_non_binary_labels():
    with pytest.raises(ValueError, match="same shape"):
        masked_map(np.zeros((3, 2)), np.zeros((3, 3), dtype=int))
    with pytest.raises(ValueError, match="binary"):
        masked_map(np.zeros((3, 2)), np.full((3, 2), 2))
    with pytest.raises(ValueError, match="real-valued"):
        masked_map(np.zeros((3, 2), dtype=complex), np.zeros((3, 2), dtype=int))


def test_no_positive_anywhere_is_nan_not_zero():
    res = masked_map(np.zeros((4, 2)), np.zeros((4, 2), dtype=int))
    assert np.isnan(res.map) and res.n_scored == 0


# --------------------------------------------------------------------------- per-activity AP

@st.composite
def _activity_split(draw):
    """Per-activity labels (every clip of an activity shares its vector), tie-heavy scores."""
    n_act = draw(st.integers(1, 6))
    n = draw(st.integers(n_act, 40))
    groups = np.array(draw(st.lists(st.integers(0, n_act - 1), min_size=n, max_size=n)))
    groups[:n_act] = np.arange(n_act)  # every activity has a clip
    table = np.array(draw(st.lists(st.lists(st.booleans(), min_size=5, max_size=5),
                                   min_size=n_act, max_size=n_act)))
    scores = np.array(draw(st.lists(st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0]), min_size=5,
                                             max_size=5), min_size=n, max_size=n)))
    return scores, table[groups].astype(np.uint8), groups


@given(_activity_split())
@settings(max_examples=200, deadline=None)
def test_activity_ap_agrees_with_sklearn(case):
    from amge_eval.harness.metric import activity_ap
    from amge_eval.harness.reference import activity_ap_reference

    scores, labels, groups = case
    np.testing.assert_allclose(activity_ap(scores, labels, groups),
                               activity_ap_reference(scores, labels, groups), atol=1e-12)


def test_activity_ap_finds_the_failing_activity():
    from amge_eval.harness.metric import activity_ap

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(3), 10)
    table = np.array([[1, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 1]])
    labels = table[groups]
    scores = labels + 0.1 * rng.standard_normal(labels.shape)
    # activity 1's clips are scored as activity 0 (the nearest known activity, as a memoriser
    # would): it misses muscle 2 and raises a false alarm on muscle 0
    scores[groups == 1] = table[0] + 0.1 * rng.standard_normal((10, 4))
    aps = activity_ap(scores, labels, groups)
    assert aps[1] < 0.8 < min(aps[0], aps[2]), aps
    np.testing.assert_array_equal(activity_ap(labels.astype(float), labels, groups), 1.0)
