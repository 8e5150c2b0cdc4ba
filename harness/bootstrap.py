"""Bootstrap confidence intervals for the masked mAP, by sample or by activity cluster.

A bootstrap replicate reweights the samples of a split: sample i gets weight w_i, the number of
times it was drawn. Resampling by *sample* draws N samples with replacement; resampling by
*activity* draws the split's A activities with replacement and gives every sample the count of
its activity. On the unseen splits (few activities, many clips each) clips of one activity are
far from independent, so per-sample intervals come out too narrow; the activity interval is the
honest one and is what the scorer shows by default.

Each replicate applies the metric exactly as ``harness.metric`` does, masking included: a column
whose weighted positive count is zero in a replicate drops out of that replicate's mean.

All replicates are computed at once. For one column, let u_1 > ... > u_K be the distinct scores
of the positive samples (AP only changes at those thresholds) and let idx_i be the first
threshold a sample clears. The weighted true- and false-positive counts at every threshold are
then ``TP = W @ C_pos`` and ``FP = W @ C_neg``, where ``C_pos[a, k]`` counts the positives of
cluster a that clear threshold k (a cumulative histogram). With activities as clusters that is a
small matrix product; with samples as clusters the same counts come from a grouped sum of the
weights, O(R * N) per column. AP per replicate is then

    sum_k (TP_k - TP_{k-1}) / TP_K * TP_k / (TP_k + FP_k),

scikit-learn's step AP evaluated on weighted counts. Integer weights keep all counts exact.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 0
DEFAULT_LEVEL = 0.95
# Bounds on what a flag can ask for. A seed is anything numpy's and torch's seeding take alike;
# the weights of one split's replicates are an (R, clusters) int32 array: at most 1 GiB.
MAX_SEED = 2**32 - 1
MAX_RESAMPLES = 1_000_000
MAX_WEIGHT_CELLS = 2**28
CI_KINDS = ("activity", "sample")
_CHUNK = 1000  # replicates per block of weight draws (fixed: the draws depend on it)
_BLOCK_CELLS = 500_000  # replicates x thresholds per block of AP arithmetic (2 MB float32: in cache)


def check_seed(seed: object, what: str = "--seed") -> int:
    """A seed every generator of the project takes: an integer in [0, 2^32 - 1] (E600)."""
    from .errors import AmgeError

    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) \
            or not 0 <= int(seed) <= MAX_SEED:
        raise AmgeError(f"{what} must be an integer from 0 to {MAX_SEED}, got {seed!r}",
                        code="E600")
    return int(seed)


def check_resamples(resamples: object, level: float, what: str = "--resamples") -> int:
    """Resamples for a ``level`` interval: at least 100, and enough that the interval's tails hold
    a replicate (R + 1 > 1 / (1 - level)); at most MAX_RESAMPLES (E600)."""
    from .errors import AmgeError

    if isinstance(resamples, bool) or not isinstance(resamples, int | np.integer):
        raise AmgeError(f"{what} must be an integer, got {resamples!r}", code="E600")
    need = max(100, int(np.floor(1 / (1 - level))))
    if not need <= resamples <= MAX_RESAMPLES:
        raise AmgeError(f"{what} must be from {need} (for a {level:.3g} interval) to "
                        f"{MAX_RESAMPLES:,}, got {resamples}", code="E600")
    return int(resamples)


def check_weight_memory(n_resamples: int, n_clusters: int, split: str, kind: str) -> None:
    """Refuse (E600) a resampling whose weights alone would exceed MAX_WEIGHT_CELLS (1 GiB)."""
    from .errors import AmgeError

    if n_resamples * n_clusters > MAX_WEIGHT_CELLS:
        gib = n_resamples * n_clusters * 4 / 2**30
        raise AmgeError(f"{n_resamples:,} resamples of {split} by {kind} ({n_clusters:,} units) "
                        f"would need {gib:.1f} GiB for their weights alone; lower --resamples "
                        f"(at most {MAX_WEIGHT_CELLS // n_clusters:,} here) or use --ci activity",
                        code="E600")


def split_rng(seed: int, split: str) -> np.random.Generator:
    """The generator of one split: seeded by (seed, split name), so splits resample independently
    and a split's replicates do not depend on which other splits are scored."""
    tag = int.from_bytes(hashlib.sha256(split.encode()).digest()[:8], "little")
    return np.random.default_rng(np.random.SeedSequence([seed, tag]))


def draw_weights(rng: np.random.Generator, n_clusters: int, n_resamples: int) -> np.ndarray:
    """(R, A) int32 multinomial counts: each row draws A clusters with replacement."""
    out = np.empty((n_resamples, n_clusters), dtype=np.int32)
    for start in range(0, n_resamples, _CHUNK):
        r = min(_CHUNK, n_resamples - start)
        draws = rng.integers(0, n_clusters, size=(r, n_clusters))
        draws += (np.arange(r) * n_clusters)[:, None]
        out[start:start + r] = np.bincount(draws.ravel(), minlength=r * n_clusters).reshape(
            r, n_clusters)
    return out


@dataclass(frozen=True)
class _Column:
    """Everything a column's replicates need, computed once."""

    idx: np.ndarray  # (N,) first threshold each sample clears (K = clears none)
    k: int  # number of distinct positive scores


def _prepare_column(s: np.ndarray, y: np.ndarray) -> _Column | None:
    u = np.unique(s[y])  # ascending distinct positive scores
    if u.size == 0:
        return None
    # thresholds in descending order u_1 > ... > u_K: sample clears u_k iff s >= u_k,
    # i.e. k >= (number of distinct positive scores strictly above s).
    idx = u.size - np.searchsorted(u, s, side="right")
    return _Column(idx.astype(np.int64), int(u.size))


def _ap_from_counts(tp: np.ndarray, denom: np.ndarray, w_pos: np.ndarray,
                    h_pos_t: np.ndarray | None) -> np.ndarray:
    """Step AP per replicate, NaN where TP_K = 0.

    tp, denom: (R, K) cumulative weighted true positives and samples above each threshold
    (``denom`` is overwritten); the true positives added at threshold k are
    ``dTP = w_pos @ h_pos`` with w_pos (R, A+) the weights of the clusters holding positives and
    h_pos_t (K, A+) their histograms, so sum_k dTP_k * precision_k is computed as
    rowsum(w_pos * (precision @ h_pos_t)) without forming dTP.
    """
    total = tp[:, -1].astype(np.float64)
    np.divide(tp, denom, out=denom)  # precision at each threshold
    if h_pos_t is None:  # w_pos is dTP itself
        ap = np.einsum("rk,rk->r", w_pos, denom).astype(np.float64)
    else:
        ap = np.einsum("ra,ra->r", w_pos, denom @ h_pos_t).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = ap / total
    ap[total == 0] = np.nan
    return ap


def _cluster_counts(col: _Column, y: np.ndarray, clusters: np.ndarray, n_clusters: int
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(A, K) histograms of the positives and negatives of each cluster over first-cleared
    threshold; their cumulative sums along K count the samples clearing threshold k."""
    k = col.k
    flat_pos = np.bincount(clusters[y] * (k + 1) + col.idx[y], minlength=n_clusters * (k + 1))
    flat_neg = np.bincount(clusters[~y] * (k + 1) + col.idx[~y], minlength=n_clusters * (k + 1))
    return (flat_pos.reshape(n_clusters, k + 1)[:, :k], flat_neg.reshape(n_clusters, k + 1)[:, :k])


def replicate_aps(scores: np.ndarray, labels: np.ndarray, clusters: np.ndarray,
                  weights: np.ndarray) -> np.ndarray:
    """(R, C) AP of every column in every replicate (NaN where the column has no positive).

    scores (N, C) finite; labels (N, C) binary; clusters (N,) in 0..A-1; weights (R, A) counts.
    Replicate APs are computed in float32 (exact counts, rounded precisions): they agree with
    scikit-learn on the reweighted data to about 1e-6.
    """
    scores = np.asarray(scores)
    labels = np.asarray(labels).astype(bool)
    n, c = scores.shape
    r, a = weights.shape
    out = np.full((r, c), np.nan)
    per_sample = a == n and np.array_equal(clusters, np.arange(n))
    dtype = np.float32 if n < 2**24 else np.float64  # whole-number counts stay exact
    w = weights.astype(dtype)

    def column(j: int) -> None:
        y = labels[:, j]
        col = _prepare_column(scores[:, j], y)
        if col is None:
            return
        if per_sample:
            out[:, j] = _per_sample_column(col, y, w)
            return
        h_pos, h_neg = _cluster_counts(col, y, clusters, a)
        rows_pos, rows_neg = h_pos.any(axis=1), h_neg.any(axis=1)
        h_pos = h_pos[rows_pos].astype(dtype)
        c_pos = np.cumsum(h_pos, axis=1)
        h_pos_t = np.ascontiguousarray(h_pos.T)
        c_neg = np.cumsum(h_neg[rows_neg], axis=1).astype(dtype)
        step = max(100, _BLOCK_CELLS // max(1, col.k))
        for start in range(0, r, step):
            blk = w[start:start + step]
            bp = np.ascontiguousarray(blk[:, rows_pos])
            tp = bp @ c_pos
            denom = (np.ascontiguousarray(blk[:, rows_neg]) @ c_neg if rows_neg.any()
                     else np.zeros_like(tp))
            denom += tp
            # counts are whole numbers: + 1e-30 leaves every count >= 1 unchanged and turns
            # 0/0 (nothing above a threshold, so no true positive added there) into 0
            denom += 1e-30
            out[start:start + blk.shape[0], j] = _ap_from_counts(tp, denom, bp, h_pos_t)

    for j in range(c):  # (a thread pool over columns only fights BLAS's own threads)
        column(j)
    return out


def _per_sample_column(col: _Column, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Replicate APs when every sample is its own cluster: grouped weight sums, no matmul."""
    k = col.k
    res = np.empty(w.shape[0])
    parts = []
    for mask in (y, ~y):
        keep = np.flatnonzero(mask & (col.idx < k))
        order = keep[np.argsort(col.idx[keep], kind="stable")]
        groups = col.idx[order]
        starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]]) if order.size else order
        parts.append((order, groups[starts] if order.size else groups, starts))
    for start in range(0, w.shape[0], _CHUNK):
        blk = w[start:start + _CHUNK]
        hists = []
        for order, group_ids, starts in parts:
            dense = np.zeros((blk.shape[0], k), dtype=blk.dtype)
            if order.size:
                dense[:, group_ids] = np.add.reduceat(blk[:, order], starts, axis=1)
            hists.append(dense)
        tp = np.cumsum(hists[0], axis=1)
        denom = np.cumsum(hists[0] + hists[1], axis=1) + 1e-30
        res[start:start + blk.shape[0]] = _ap_from_counts(tp, denom, hists[0], None)
    return res


def replicate_maps(scores, labels, clusters, weights) -> np.ndarray:
    """(R,) masked mAP per replicate (mean over columns with a weighted positive)."""
    aps = replicate_aps(scores, labels, clusters, weights)
    with np.errstate(invalid="ignore"):
        counts = np.sum(~np.isnan(aps), axis=1)
        sums = np.nansum(aps, axis=1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class Interval:
    low: float
    high: float
    se: float  # standard deviation of the replicates
    degenerate: int  # replicates with no scorable column (left out of the interval)
    method: str = "percentile"  # "bca" or "percentile"


MAX_JACKKNIFE = 5000  # clusters above which BCa drops the acceleration term (a = 0)


def jackknife_weights(n_clusters: int) -> np.ndarray:
    """(A, A) weights of the leave-one-cluster-out jackknife: row i drops cluster i."""
    w = np.ones((n_clusters, n_clusters), dtype=np.int32)
    np.fill_diagonal(w, 0)
    return w


def _bca_setup(replicates: np.ndarray, estimate: float, jackknife: list[np.ndarray] | None
               ) -> tuple[np.ndarray, float, float] | None:
    """(usable replicates, bias correction z0, acceleration a) of a BCa interval; None when
    nothing can be estimated (no usable replicate, or a NaN estimate). See ``bca_interval``."""
    from statistics import NormalDist

    reps = np.asarray(replicates, dtype=np.float64)
    ok = reps[~np.isnan(reps)]
    if ok.size == 0 or np.isnan(estimate):
        return None
    below = (np.sum(ok < estimate) + 0.5 * np.sum(ok == estimate)) / ok.size
    below = min(max(below, 0.5 / ok.size), 1 - 0.5 / ok.size)
    z0 = NormalDist().inv_cdf(below)
    a = 0.0
    if jackknife:
        num = den = 0.0
        for values in jackknife:
            v = np.asarray(values, dtype=np.float64)
            v = v[~np.isnan(v)]
            if v.size < 2:
                continue
            u = v.mean() - v  # influence of each cluster
            num += float(np.sum(u ** 3))
            den += float(np.sum(u ** 2))
        a = num / (6.0 * den ** 1.5) if den > 0 else 0.0
    return ok, z0, a


def _bca_quantile(z0: float, a: float, z: float) -> float:
    """BCa's adjusted quantile Phi(z0 + (z0 + z) / (1 - a (z0 + z))) of the normal quantile z,
    as a fraction in [0, 1], made non-decreasing in z.

    With s = z0 + z the shift is s / (1 - a s), whose derivative 1 / (1 - a s)^2 is positive on
    either side of the pole s = 1/a; but at the pole it jumps from +inf to -inf (a > 0) or from
    -inf to +inf (a < 0), and past it (1 - a s <= 0, reached when |a| >= 1 / |z0 + z|) the
    formula turns back, so a wider level could give a narrower interval. Past the pole we keep
    the limit approached at it: Phi(+inf) = 1 where s > 0 (so a > 0), Phi(-inf) = 0 where s < 0.
    The quantile then rises with z everywhere, and short of the pole it is the textbook value.
    """
    from statistics import NormalDist

    s = z0 + z
    den = 1 - a * s
    if den <= 0:
        return 1.0 if s > 0 else 0.0
    return NormalDist().cdf(z0 + s / den)


def _bca_bounds(ok: np.ndarray, z0: float, a: float, tail: float) -> tuple[float, float]:
    """(low, high) of the BCa interval that leaves ``tail`` = (1 - level) / 2 out on each side:
    the replicate percentiles at the adjusted quantiles of z_tail and z_(1 - tail)."""
    from statistics import NormalDist

    nd = NormalDist()
    qs = [100 * _bca_quantile(z0, a, nd.inv_cdf(tail)),
          100 * _bca_quantile(z0, a, nd.inv_cdf(1 - tail))]
    lo, hi = np.percentile(ok, qs)
    return float(lo), float(hi)


def _holds_zero(bounds: tuple[float, float]) -> bool:
    return bounds[0] <= 0.0 <= bounds[1]


@dataclass(frozen=True)
class _ZeroEdge:
    """Where 0 leaves the BCa intervals of one set of replicates, as the tail t = (1 - level)/2
    grows: the interval at tail ``inside`` holds 0, the one at ``outside`` (the next float up)
    does not. ``inside`` None: no interval down to the floor tail holds 0; ``outside`` None:
    every interval holds 0."""

    inside: float | None
    inside_bounds: tuple[float, float] | None
    outside: float | None
    outside_bounds: tuple[float, float] | None


def _zero_edge(ok: np.ndarray, z0: float, a: float) -> _ZeroEdge:
    """Bisection over floating-point tails in [1/(2(R+1)), 1/2] with ``_bca_bounds``, down to
    two adjacent floats (about 60 steps when 0 lies among the replicates, 2 when it does not)."""
    top = _bca_bounds(ok, z0, a, 0.5)  # level 0: the bias-corrected median, a single point
    if _holds_zero(top):
        return _ZeroEdge(0.5, top, None, None)
    inside = 0.5 / (ok.size + 1)  # tail of the floor p = 1/(R+1)
    inside_bounds = _bca_bounds(ok, z0, a, inside)
    if not _holds_zero(inside_bounds):
        return _ZeroEdge(None, None, inside, inside_bounds)
    outside, outside_bounds = 0.5, top
    while True:
        mid = (inside + outside) / 2.0
        if mid <= inside or mid >= outside:  # adjacent floats
            return _ZeroEdge(inside, inside_bounds, outside, outside_bounds)
        bounds = _bca_bounds(ok, z0, a, mid)
        if _holds_zero(bounds):
            inside, inside_bounds = mid, bounds
        else:
            outside, outside_bounds = mid, bounds


def _nested_bounds(ok: np.ndarray, z0: float, a: float, tail: float, edge: _ZeroEdge
                   ) -> tuple[float, float]:
    """``_bca_bounds`` held to the nesting the intervals have in exact arithmetic, against the
    two intervals on either side of 0's edge: a wider interval (tail <= inside) is widened to
    cover the inside one, a narrower one (tail >= outside) is cut to the outside one's side of 0.

    In exact arithmetic this changes nothing: the adjusted quantiles rise with z, so the
    intervals nest. In floating point Phi(Phi^-1(t)) and np.percentile's interpolation are not
    monotone to the last bit (a tail one float apart from another can give a percentile 1e-16
    off, across 0 when a replicate sits exactly at 0), and only there does the clamp move a
    bound. What it buys: whether the interval at a tail holds 0 is decided by the tail's side
    of the edge, and nothing else, so ``bca_p_value`` can read it off exactly."""
    lo, hi = _bca_bounds(ok, z0, a, tail)
    if edge.inside is not None and tail <= edge.inside:
        lo, hi = min(lo, edge.inside_bounds[0]), max(hi, edge.inside_bounds[1])
    elif edge.outside is not None and tail >= edge.outside:
        out_lo, out_hi = edge.outside_bounds
        if out_lo > 0:
            lo = max(lo, out_lo)
        else:  # out_hi < 0
            hi = min(hi, out_hi)
    return lo, hi


def bca_interval(replicates: np.ndarray, estimate: float, jackknife: list[np.ndarray] | None,
                 level: float = DEFAULT_LEVEL) -> Interval:
    """Bias-corrected and accelerated (BCa) bootstrap interval (Efron 1987).

    AP under resampling is biased: a replicate holds fewer distinct activities, and muscles that
    lose every positive drop out of its mean, so replicates sit above the estimate more often
    than not and a plain percentile interval is shifted. BCa corrects for that bias (z0, from the
    share of replicates below the estimate) and for skew (the acceleration a, from the jackknife
    values). ``jackknife`` holds one array of leave-one-cluster-out values per independent
    sample (one per split; two for an average of seen and unseen); None or too many clusters
    gives a = 0 (bias-corrected percentile).

    The interval runs between the replicate percentiles at Phi(z0 + (z0 + z) / (1 - a (z0 + z)))
    for z = z_(alpha/2) and z_(1 - alpha/2), alpha = 1 - level. Where the acceleration is so
    large that 1 - a (z0 + z) reaches 0, the quantile is held at 0 or 1 (``_bca_quantile``), so
    intervals nest: a higher level never gives a narrower interval. Rounding is kept from
    breaking that nesting where it matters, at 0 (``_nested_bounds``): the interval holds 0
    exactly when ``bca_p_value`` >= 1 - level.
    """
    reps = np.asarray(replicates, dtype=np.float64)
    setup = _bca_setup(reps, estimate, jackknife)
    if setup is None:
        return Interval(float("nan"), float("nan"), float("nan"), int(reps.size), "bca")
    ok, z0, a = setup
    srt = np.sort(ok)  # percentiles do not depend on the order; sorted, each is quicker
    lo, hi = _nested_bounds(srt, z0, a, (1.0 - level) / 2.0, _zero_edge(srt, z0, a))
    se = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
    return Interval(lo, hi, se, int(reps.size - ok.size), "bca")


def bca_p_value(replicates: np.ndarray, estimate: float,
                jackknife: list[np.ndarray] | None) -> float:
    """Two-sided p-value for 'no difference' read off the BCa interval itself: the largest
    alpha for which the (1 - alpha) BCa interval of ``bca_interval`` still contains 0.

    In words: 1 - p is the confidence level at which the BCa interval of the difference first
    reaches 0, so the interval at level L contains 0 exactly when p >= 1 - L: p < 0.05 says
    the 95% interval excludes 0, p >= 0.05 that it contains 0, and so at every level, never
    one without the other. Arguments are those of ``bca_interval``.

    Derivation. Let I(t) be the interval leaving t = alpha / 2 out on each side. Its ends are
    replicate percentiles at adjusted quantiles that rise with z (``_bca_quantile``), and z_t
    rises with t while z_(1-t) falls, so I(t) shrinks as t grows: 0 is in I(t) for every t up to
    some t* and in none above it, and p = 2 t*. t* has no closed form that would round the way
    the interval does, so it is found by bisection over floating-point tails with the interval's
    own code, down to adjacent floats t_in < t_out with 0 in I(t_in) and not in I(t_out)
    (``_zero_edge``). ``bca_interval`` holds its bounds to that edge (``_nested_bounds``), so
    for a level L with tail t_L = (1 - L) / 2, 0 in I(t_L) <=> t_L <= t_in <=> p = 2 t_in >=
    1 - L (halving and doubling are exact in binary floating point): by construction, not by
    luck of rounding.

    p is floored at 1/(R + 1), R the usable (non-NaN) replicates: R replicates cannot resolve
    smaller tail probabilities. The floor lies below 1 - level whenever level < R / (R + 1)
    (any level up to 0.99 with R >= 100), so it never contradicts the interval there. NaN when
    no interval can be formed (no usable replicate, or a NaN estimate), like the interval.
    """
    setup = _bca_setup(replicates, estimate, jackknife)
    if setup is None:
        return float("nan")
    ok, z0, a = setup
    edge = _zero_edge(np.sort(ok), z0, a)
    floor = 1.0 / (ok.size + 1)
    return floor if edge.inside is None else max(2.0 * edge.inside, floor)


def percentile_interval(replicates: np.ndarray, level: float = DEFAULT_LEVEL) -> Interval:
    reps = np.asarray(replicates, dtype=np.float64)
    ok = reps[~np.isnan(reps)]
    if ok.size == 0:
        return Interval(float("nan"), float("nan"), float("nan"), int(reps.size))
    alpha = (1.0 - level) / 2.0
    lo, hi = np.percentile(ok, [100 * alpha, 100 * (1 - alpha)])
    se = float(ok.std(ddof=1)) if ok.size > 1 else 0.0
    return Interval(float(lo), float(hi), se, int(reps.size - ok.size))
