"""An independent reference for the metric, built on scikit-learn as PySlowFast's ``get_map`` is.

Used by the tests and the benchmarks to pin ``harness.metric`` to scikit-learn; never on the
scoring path (importing scikit-learn alone takes longer than a whole ``amge-eval score``).
Unlike ``get_map`` it does not swallow errors: scikit-learn's exceptions propagate.
"""

from __future__ import annotations

import numpy as np


def get_map_reference(scores, labels) -> float:
    """Masked mAP exactly as PySlowFast's get_map: drop all-negative columns, sklearn AP, mean."""
    from sklearn.metrics import average_precision_score

    scores = np.asarray(scores)
    labels = np.asarray(labels)
    keep = ~np.all(labels == 0, axis=0)
    return float(np.mean(average_precision_score(labels[:, keep], scores[:, keep], average=None)))


def ap_reference(scores, labels) -> np.ndarray:
    """Per-column scikit-learn AP, NaN for columns without a positive."""
    from sklearn.metrics import average_precision_score

    scores = np.asarray(scores)
    labels = np.asarray(labels)
    out = np.full(labels.shape[1], np.nan)
    for j in range(labels.shape[1]):
        if labels[:, j].any():
            out[j] = average_precision_score(labels[:, j], scores[:, j])
    return out


def activity_ap_reference(scores, labels, groups) -> np.ndarray:
    """Per-activity AP (harness.metric.activity_ap) with scikit-learn: for each activity and each
    scored muscle, sklearn AP on the activity's clips and the clips of the opposite label."""
    from sklearn.metrics import average_precision_score

    scores, labels, groups = np.asarray(scores), np.asarray(labels).astype(bool), np.asarray(groups)
    scored = np.flatnonzero(labels.any(axis=0))
    out = []
    for a in range(int(groups.max()) + 1):
        mine = groups == a
        aps = []
        for m in scored:
            works = labels[mine, m].any()
            keep = mine | (~labels[:, m] if works else labels[:, m])
            aps.append(average_precision_score(labels[keep, m], scores[keep, m]))
        out.append(float(np.mean(aps)) if aps else float("nan"))
    return np.array(out)
