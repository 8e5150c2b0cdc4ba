"""Speed of the scoring path.

Run with ``python -m pytest -o addopts="" tests/benchmarks/test_bench_scoring.py --benchmark-only``.

- 1M x 20 masked mAP: ours against the scikit-learn-based reference (PySlowFast's get_map),
  side by side in one run; ``extra_info["speedup"]`` on ours is the ratio of the two minima.
- 10,000-resample activity-cluster BCa interval on a 1,612 x 20 split with 20 activities (the
  size of MuscleMap136's test_unseen), replicates and jackknife included.
- ``amge-eval --help`` and ``amge-eval score`` on a test-split file, end to end in a subprocess.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.labels import make_label_set, write_labels
from amge_eval.harness.metric import masked_map
from amge_eval.harness.predictions import write_predictions
from amge_eval.harness.reference import get_map_reference

_TIMES: dict[str, float] = {}


@pytest.fixture(scope="module")
def million():
    rng = np.random.default_rng(0)
    labels = rng.random((1_000_000, 20)) < 0.29
    scores = rng.random((1_000_000, 20)).astype(np.float32)
    return scores, labels


def test_map_reference_1m(benchmark, million):
    benchmark.pedantic(get_map_reference, args=million, rounds=2, iterations=1)
    _TIMES["reference"] = benchmark.stats.stats.min


def test_map_ours_1m(benchmark, million):
    res = benchmark.pedantic(masked_map, args=million, rounds=5, iterations=1)
    assert res.map == pytest.approx(get_map_reference(*million), abs=1e-12)
    if "reference" in _TIMES:
        benchmark.extra_info["speedup"] = _TIMES["reference"] / benchmark.stats.stats.min


def _unseen_like(seed=0, n=1612, activities=20):
    rng = np.random.default_rng(seed)
    act = rng.integers(0, activities, n)
    labels = (rng.random((activities, 20)) < 0.3).astype(np.uint8)[act]
    scores = (labels * 0.5 + rng.random((n, 20))).astype(np.float32)
    return scores, labels, act


def test_cluster_bootstrap_10k_1612(benchmark):
    scores, labels, act = _unseen_like()

    def interval():
        w = bs.draw_weights(bs.split_rng(0, "test_unseen/activity"), 20, 10_000)
        reps = bs.replicate_maps(scores, labels, act, w)
        jack = bs.replicate_maps(scores, labels, act, bs.jackknife_weights(20))
        return bs.bca_interval(reps, masked_map(scores, labels).map, [jack])

    iv = benchmark.pedantic(interval, rounds=3, iterations=1)
    assert iv.low < iv.high


def test_help_end_to_end(benchmark):
    benchmark.pedantic(subprocess.run, args=([sys.executable, "-m", "amge_eval", "--help"],),
                       kwargs={"check": True, "capture_output": True}, rounds=5, iterations=1)


def test_score_test_split_end_to_end(benchmark, tmp_path):
    scores, labels, act = _unseen_like()
    ids = [f"act_{a}/clip_{i:04d}" for i, a in enumerate(act)]
    write_labels(tmp_path / "labels", make_label_set("musclemap136", "test_unseen", ids,
                                                      [f"act {a}" for a in act], ids, labels))
    write_predictions(tmp_path / "p.npz", ids, scores, "musclemap136", "test_unseen")
    cmd = [sys.executable, "-m", "amge_eval", "score", str(tmp_path / "p.npz"), "--labels-dir",
           str(tmp_path / "labels"), "--json", str(tmp_path / "r.json")]
    benchmark.pedantic(subprocess.run, args=(cmd,), kwargs={"check": True,
                                                            "capture_output": True},
                       rounds=5, iterations=1)
