"""The MuscleMap metric: masked mean average precision, as PySlowFast's ``get_map`` computes it.

``get_map`` (used unchanged by the MuscleMap release) does three things:

1. drops every label column with no positive sample in the evaluated split;
2. computes scikit-learn's ``average_precision_score`` per remaining column: step AP,
   sum over distinct score thresholds of (R_n - R_{n-1}) * P_n, no interpolation;
3. takes the unweighted mean of those APs.

This module computes exactly that, without scikit-learn and without a Python loop over rows.
For one column, each positive sample contributes the precision at its own score threshold:

    AP = (1 / P) * sum over positives i of  k_i / (k_i + m_i)

where k_i (m_i) counts the positives (negatives) scoring >= s_i. Summed per distinct threshold
this is scikit-learn's formula term by term, ties included: samples tied at a score share one
threshold and so one precision. k and m come from sorting the positive and the negative scores
and merging the two sorted runs, so a column costs two sorts and a linear merge; columns run on
a thread pool (numpy releases the GIL in sorts and ufuncs). Every comparison is numeric, so
-0.0 and 0.0 are one threshold, as in scikit-learn.

What ``get_map`` silently botches is refused here: non-finite scores, shapes that disagree, and
empty inputs raise ``ValueError``; which columns were scored is returned, not hidden.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

# Below this many rows a thread pool costs more than it saves.
_PARALLEL_MIN_ROWS = 20_000


@dataclass(frozen=True)
class MapResult:
    map: float  # masked mAP as a fraction in [0, 1] (NaN if no column has a positive)
    ap: np.ndarray  # (C,) AP per column, NaN where the column has no positive
    n_pos: np.ndarray  # (C,) positives per column
    scored: np.ndarray  # (C,) bool: column took part in the mean

    @property
    def n_scored(self) -> int:
        return int(self.scored.sum())


def _as_score_matrix(scores) -> np.ndarray:
    s = np.asarray(scores)
    if s.dtype.kind not in "fiu":
        raise ValueError(f"Expected real-valued scores, but got dtype {s.dtype}")
    if s.dtype.kind != "f":
        s = s.astype(np.float64)
    elif s.dtype.itemsize < 4:
        s = s.astype(np.float32)
    return s


def _check(scores, labels) -> tuple[np.ndarray, np.ndarray]:
    s = _as_score_matrix(scores)
    y = np.asarray(labels)
    if s.ndim == 1:
        s = s[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if s.ndim != 2 or y.ndim != 2:
        raise ValueError(f"Expected 2-D scores and labels, but got shapes {s.shape} and {y.shape}")
    if s.shape != y.shape:
        raise ValueError(f"Expected scores and labels of the same shape, but got {s.shape} and "
                         f"{y.shape}")
    if s.shape[0] == 0:
        raise ValueError("Expected at least one sample, but got 0 rows")
    if not np.isfinite(s.min()) or not np.isfinite(s.max()):  # NaN or inf propagate to min/max
        raise ValueError(f"Expected finite scores, but got {int((~np.isfinite(s)).sum())} NaN or "
                         f"infinite values")
    if y.dtype != bool:
        if not np.isin(y, (0, 1)).all():
            raise ValueError("Expected binary labels (0/1 or bool)")
        y = y.astype(bool)
    return s, y


def _column_ap(s: np.ndarray, y: np.ndarray, not_y: np.ndarray) -> float:
    pos = np.compress(y, s)
    n_pos = pos.size
    if n_pos == 0:
        return float("nan")
    pos.sort()
    neg = np.compress(not_y, s)
    neg.sort()
    # Merge the two sorted runs (a stable sort of two runs is a linear merge). Positives come
    # first in the input, so a negative tied with a positive lands after it: the negatives
    # before a positive in the merged order are exactly those scoring strictly lower.
    order = np.argsort(np.concatenate([pos, neg]), kind="stable")
    neg_below = np.flatnonzero(order < n_pos) - np.arange(n_pos)
    # First index of each positive's tie group: positives scoring strictly lower.
    new_value = np.empty(n_pos, dtype=bool)
    new_value[0] = True
    np.not_equal(pos[1:], pos[:-1], out=new_value[1:])
    pos_below = np.maximum.accumulate(np.where(new_value, np.arange(n_pos), 0))
    k = (n_pos - pos_below).astype(np.float64)  # positives scoring >= each positive
    m = neg.size - neg_below  # negatives scoring >= each positive
    return float(np.sum(k / (k + m)) / n_pos)


def average_precision(scores, labels, threads: int | None = None) -> np.ndarray:
    """Per-column step average precision with scikit-learn's semantics.

    scores: (N, C) real; labels: (N, C) binary. Returns (C,) float64, NaN for columns with no
    positive sample. Raises ValueError on non-finite scores or mismatched shapes.
    """
    return _aps(*_check(scores, labels), threads)


def _columns(a: np.ndarray, block: int = 4096) -> np.ndarray:
    """(N, C) -> contiguous (C, N). Copying row blocks keeps the reads in cache; numpy's plain
    transposed copy of a tall, narrow matrix is several times slower."""
    out = np.empty(a.shape[::-1], dtype=a.dtype)
    for i in range(0, a.shape[0], block):
        out[:, i:i + block] = a[i:i + block].T
    return out


def _aps(s: np.ndarray, y: np.ndarray, threads: int | None) -> np.ndarray:
    n, c = s.shape
    st = _columns(s)  # columns contiguous for the per-column compress and sort
    yt = _columns(y)
    nyt = ~yt
    workers = threads if threads is not None else min(c, os.cpu_count() or 1, 4)
    if workers > 1 and n >= _PARALLEL_MIN_ROWS and c > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            aps = list(pool.map(_column_ap, st, yt, nyt))
    else:
        aps = [_column_ap(st[j], yt[j], nyt[j]) for j in range(c)]
    return np.array(aps, dtype=np.float64)


def masked_map(scores, labels, threads: int | None = None) -> MapResult:
    """Masked mAP of ``get_map``: mean AP over the columns that have at least one positive."""
    s, y = _check(scores, labels)
    ap = _aps(s, y, threads)
    n_pos = y.sum(axis=0).astype(np.int64)
    scored = n_pos > 0
    value = float(ap[scored].mean()) if scored.any() else float("nan")
    return MapResult(value, ap, n_pos, scored)


def activity_ap(scores, labels, groups) -> np.ndarray:
    """Per-activity AP: the split's masked mAP charged to one activity, misses and false alarms.

    ``groups`` (N,) gives each sample's activity as 0..A-1 (labels are per activity). For
    activity a and each scored muscle m (a column with a positive), take the column's AP on a's
    clips together with only those other clips whose label for m is the opposite of a's: where a
    works m, its clips must rank above every clip without m (a miss lowers it); where a does not,
    every clip with m must rank above a's clips (a false alarm lowers it). The activity's AP is
    the mean over the scored muscles; a perfect ranking gives 1. Returns (A,) float64.
    """
    s, y = _check(scores, labels)
    g = np.asarray(groups, dtype=np.int64)
    if g.shape != (s.shape[0],) or (g.size and g.min() < 0):
        raise ValueError(f"Expected one non-negative group index per sample, but got shape "
                         f"{g.shape}")
    scored = np.flatnonzero(y.any(axis=0))
    out = np.full(int(g.max()) + 1 if g.size else 0, np.nan)
    for a in range(out.size):
        mine = g == a
        if not mine.any() or not scored.size:
            continue
        aps = []
        for m in scored:
            works = bool(y[mine, m].any())
            keep = mine | (~y[:, m] if works else y[:, m])
            aps.append(_column_ap(s[keep, m], y[keep, m], ~y[keep, m]))
        out[a] = float(np.mean(aps))
    return out
