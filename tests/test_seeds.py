"""Seed sets: one model trained with several seeds, scored, compared, submitted and shown as the
mean over its seeds with every seed's value."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.errors import AmgeError, ValidationFailed
from amge_eval.harness.scoring import compare_files, score_file
from amge_eval.leaderboard import export as ex
from amge_eval.leaderboard.rescore import rescore
from amge_eval.leaderboard.store import load_store, validate_store
from amge_eval.leaderboard.submit import submit

from .conftest import DATASET
from .leaderboard_helpers import RESAMPLES, write_pred_dir, write_run_dir


def _seed_set(root, store, noise=0.5, seeds=(0, 1, 2), runs=False):
    for n in seeds:
        if runs:
            write_run_dir(root / f"seed-{n}", store, noise, seed=10 * n, seed_of_run=n)
        else:
            write_pred_dir(root / f"seed-{n}", store, noise, seed=10 * n)
    return root


def test_a_seed_set_scores_the_mean_of_its_seeds(tmp_path, store):
    root = _seed_set(tmp_path / "set", store)
    rep = score_file(root, labels_dir=store.root, resamples=RESAMPLES)
    single = [score_file(root / f"seed-{n}", labels_dir=store.root, resamples=RESAMPLES)
              for n in (0, 1, 2)]
    assert rep.seeds == [0, 1, 2] and rep.predictions.format == "seeds"
    assert sorted(rep.predictions.members) == sorted(
        f"seed-{n}/{s}.npz" for n in (0, 1, 2) for s in rep.splits)
    for key, cell in rep.summary.items():
        vals = [r.summary[key].value for r in single]
        assert rep.seed_values[key] == pytest.approx(vals, abs=1e-12)
        assert cell.value == pytest.approx(np.mean(vals), abs=1e-12)
    for split, s in rep.splits.items():
        # every seed is resampled identically, so the set's replicates are their mean
        reps = np.mean([r.splits[split].replicates["activity"] for r in single], axis=0)
        np.testing.assert_allclose(s.replicates["activity"], reps, atol=1e-12)
        assert s.intervals["activity"] == bs.bca_interval(
            reps, s.map, [np.mean([r.splits[split].jackknife["activity"] for r in single],
                                  axis=0)])
        np.testing.assert_allclose(s.ap, np.mean([r.splits[split].ap for r in single], axis=0))


def test_comparing_seed_sets_compares_their_means(tmp_path, store):
    a = _seed_set(tmp_path / "a", store, 0.4)
    b = _seed_set(tmp_path / "b", store, 0.8)
    cmp = compare_files(a, b, labels_dir=store.root, resamples=RESAMPLES)
    ra = score_file(a, labels_dir=store.root, resamples=RESAMPLES)
    rb = score_file(b, labels_dir=store.root, resamples=RESAMPLES)
    row = next(r for r in cmp.rows if r.key == "test_a")
    assert row.diff == pytest.approx(ra.summary["test_a"].value - rb.summary["test_a"].value)
    assert (row.p_value >= 0.05) == (row.interval.low <= 0 <= row.interval.high)


def test_a_seed_set_mixing_layouts_or_splits_is_refused(tmp_path, store):
    root = _seed_set(tmp_path / "set", store)
    (root / "seed-1" / "test_seen.npz").unlink()
    with pytest.raises(ValidationFailed) as err:
        score_file(root, labels_dir=store.root, resamples=RESAMPLES)
    assert "E202" in {p.code for p in err.value.problems} and "seed-1" in str(err.value)
    write_pred_dir(root, store, 0.5, splits=("test_seen",))  # a loose file beside the seeds
    with pytest.raises(ValidationFailed, match="both seed folders"):
        score_file(root, labels_dir=store.root, resamples=RESAMPLES)


def test_a_reproduced_seed_set_enters_the_board_with_its_spread(tmp_path, store):
    subs = tmp_path / "subs"
    runs = _seed_set(tmp_path / "runs", store, runs=True)
    e = submit(runs, DATASET, "GCN", submissions_dir=subs, labels_dir=store.root,
               resamples=RESAMPLES).entry
    assert e.status == "reproduced" and e.record.seeds == [0, 1, 2]
    assert sorted(e.runs) == [0, 1, 2] and e.run.seed == 0
    assert sorted(p.name for p in (e.path / "predictions").iterdir()) == [
        "seed-0", "seed-1", "seed-2"]
    assert validate_store(subs).entries == [f"{DATASET}/gcn"]  # hashes of every seed's files
    rows = list(csv.DictReader(io.StringIO(ex.export(subs, "csv"))))
    assert rows[0]["seeds"] == "3" and float(rows[0]["test_a_sd"]) == pytest.approx(
        e.record.summary["test_a"].spread(), abs=0.006)
    doc = json.loads(ex.export(subs, "json"))
    assert doc["datasets"][0]["rows"][0]["seeds"] == [0, 1, 2]
    res = rescore(subs, store.root)  # a seed set rescores like any entry
    assert res.record.unchanged == [f"{DATASET}/gcn"]
    assert load_store(subs)[DATASET][0].record.seeds == [0, 1, 2]


def test_a_seed_set_must_be_one_recipe(tmp_path, store):
    runs = _seed_set(tmp_path / "runs", store, runs=True)
    run = json.loads((runs / "seed-2" / "run.json").read_text())
    run["config_sha256"] = "f" * 64
    (runs / "seed-2" / "run.json").write_text(json.dumps(run))
    with pytest.raises(AmgeError, match="a seed set is one recipe"):
        submit(runs, DATASET, "GCN", submissions_dir=tmp_path / "subs", labels_dir=store.root,
               resamples=RESAMPLES)
    run["config_sha256"], run["seed"] = "0" * 64, 7
    (runs / "seed-2" / "run.json").write_text(json.dumps(run))
    with pytest.raises(AmgeError, match="seed-2 holds a run with seed 7"):
        submit(runs, DATASET, "GCN", submissions_dir=tmp_path / "subs", labels_dir=store.root,
               resamples=RESAMPLES)
    assert not (tmp_path / "subs" / DATASET / "gcn").exists()
