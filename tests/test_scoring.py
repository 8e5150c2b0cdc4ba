"""End-to-end scoring: score / validate / compare against references, records and provenance."""

from __future__ import annotations

import json
import subprocess
import sys

import msgspec
import numpy as np
import pytest

from amge_eval.harness.predictions import write_prediction_bundle, write_predictions
from amge_eval.harness.records import SCHEMA_VERSION, SCORER_VERSION, ScoreRecord
from amge_eval.harness.reference import get_map_reference
from amge_eval.harness.scoring import compare_files, score_file

from .conftest import EVAL, make_store, tree_digest


def _bundle(tmp_path, store, scores=None, name="all.npz", shuffle_seed=None):
    parts = {}
    for split in EVAL:
        ids = np.array(store.ids(split))
        sc = (scores or store.scores)[split]
        if shuffle_seed is not None:
            perm = np.random.default_rng(shuffle_seed).permutation(len(ids))
            ids, sc = ids[perm], sc[perm]
        parts[split] = (ids, sc)
    return write_prediction_bundle(tmp_path / name, parts, "musclemap136")


def test_score_equals_get_map_on_every_split_and_averages(tmp_path, store):
    path = _bundle(tmp_path, store, shuffle_seed=1)  # rows in another order than the labels
    rep = score_file(path, labels_dir=store.root, resamples=200)
    for split in EVAL:
        ref = get_map_reference(store.scores[split], store.labels[split].labels)
        assert rep.splits[split].map == pytest.approx(ref, abs=1e-12)
    s = rep.summary
    assert s["val_a"].value == pytest.approx((s["val_s"].value + s["val_u"].value) / 2)
    assert s["test_gap"].value == pytest.approx(s["test_s"].value - s["test_u"].value)


def test_directory_and_single_files_score_like_the_bundle(tmp_path, store):
    d = tmp_path / "dir"
    for split in EVAL:
        write_predictions(d / f"{split}.npz", store.ids(split), store.scores[split],
                          "musclemap136", split)
    bundle = score_file(_bundle(tmp_path, store), labels_dir=store.root, resamples=300)
    by_dir = score_file(d, labels_dir=store.root, resamples=300)
    single = score_file(d / "test_unseen.npz", labels_dir=store.root, resamples=300)
    for split in EVAL:
        assert by_dir.splits[split].map == bundle.splits[split].map
        assert by_dir.splits[split].intervals == bundle.splits[split].intervals
    # a split's interval does not depend on which other splits were scored with it
    assert single.splits["test_unseen"].intervals == bundle.splits["test_unseen"].intervals


def test_interval_contains_estimate_and_is_seeded(tmp_path, store):
    path = _bundle(tmp_path, store)
    a = score_file(path, labels_dir=store.root, resamples=500, seed=3, ci_kinds=("activity", "sample"))
    b = score_file(path, labels_dir=store.root, resamples=500, seed=3, ci_kinds=("activity", "sample"))
    c = score_file(path, labels_dir=store.root, resamples=500, seed=4, ci_kinds=("activity", "sample"))
    for split, r in a.splits.items():
        for kind, iv in r.intervals.items():
            assert iv.low <= r.map <= iv.high
            assert iv == b.splits[split].intervals[kind]
            assert iv != c.splits[split].intervals[kind]


def test_result_record_fields_provenance_and_json(tmp_path, store, cli):
    path = _bundle(tmp_path, store)
    before = tree_digest(path)
    out = tmp_path / "rec.json"
    rc, stdout, _ = cli("score", path, "--labels-dir", store.root, "--json", out,
                        "--resamples", "300", "--seed", "7")
    assert rc == 0 and "test_a" in stdout and "Per-muscle AP" in stdout
    rec = json.loads(out.read_text())
    assert list(rec) == [f.encode_name for f in msgspec.inspect.type_info(ScoreRecord).fields]
    assert ScoreRecord.read(out).to_dict() == rec  # the file round-trips through its class
    assert str(tmp_path) not in out.read_text()  # no absolute path of this machine
    assert rec["schema_version"] == SCHEMA_VERSION and rec["scorer_version"] == SCORER_VERSION
    assert rec["ci"]["resamples"] == 300 and rec["ci"]["seed"] == 7
    import hashlib

    assert rec["predictions"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    for split in EVAL:
        sr = rec["splits"][split]
        assert sr["label_fingerprint"] == store.labels[split].fingerprint
        assert sr["n_samples"] == len(store.labels[split])
        assert len(sr["per_muscle"]) == 20
        scored = [m for m in sr["per_muscle"] if m["scored"]]
        assert sr["map"] == pytest.approx(np.mean([m["ap"] for m in scored]), abs=1e-4)
        assert all(m["ap"] is None for m in sr["per_muscle"] if not m["scored"])
        assert sum(m["n_pos"] > 0 for m in sr["per_muscle"]) == sr["n_scored"]
    assert set(rec["summary"]) == {"val_s", "val_u", "test_s", "test_u", "val_a", "test_a",
                                   "val_gap", "test_gap"}
    assert tree_digest(path) == before  # the input was not touched


def test_json_never_overwrites_the_input(tmp_path, store, cli):
    path = _bundle(tmp_path, store)
    before = tree_digest(path)
    rc, _, err = cli("score", path, "--labels-dir", store.root, "--json", path)
    assert rc == 1 and "overwrite an input" in err
    assert tree_digest(path) == before


def test_compare_paired_bootstrap(tmp_path, store, cli):
    good = _bundle(tmp_path, store, name="good.npz")
    rng = np.random.default_rng(0)
    noisy = {k: v + rng.normal(0, 1.5, v.shape).astype(np.float32) for k, v in store.scores.items()}
    bad = _bundle(tmp_path, store, scores=noisy, name="bad.npz")
    cmp = compare_files(good, bad, labels_dir=store.root, resamples=500)
    rows = {r.key: r for r in cmp.rows}
    assert set(rows) == {"val_s", "val_u", "test_s", "test_u", "val_a", "test_a"}
    assert rows["test_a"].diff > 0 and rows["test_a"].interval.low > 0
    assert rows["test_a"].p_value < 0.05
    same = compare_files(good, good, labels_dir=store.root, resamples=500)
    assert all(r.diff == 0 and r.p_value == 1.0 for r in same.rows)
    rc, out, _ = cli("compare", good, bad, "--labels-dir", store.root, "--resamples", "300",
                     "--json", tmp_path / "cmp.json")
    assert rc == 0 and "A - B" in out
    assert json.loads((tmp_path / "cmp.json").read_text())["kind"] == "compare"


def test_compare_p_values_agree_with_the_intervals(tmp_path, store):
    """Each row's p-value is read off its own BCa interval: p < 1 - level exactly when the
    interval excludes 0 (the leaderboard's tie rule), for splits and val_a/test_a alike, and
    the p-value does not depend on the level."""
    good = _bundle(tmp_path, store, name="good.npz")
    rng = np.random.default_rng(0)
    outcomes = set()
    for i, noise in enumerate((0.02, 0.05, 0.3)):  # tied rows and clearly worse ones
        noisy = {k: v + rng.normal(0, noise, v.shape).astype(np.float32)
                 for k, v in store.scores.items()}
        other = _bundle(tmp_path, store, scores=noisy, name=f"noisy{i}.npz")
        p_at = {}
        for level in (0.95, 0.8):
            cmp = compare_files(good, other, labels_dir=store.root, resamples=500, level=level)
            for r in cmp.rows:
                holds = r.interval.low <= 0 <= r.interval.high
                assert (r.p_value >= 1 - level) == holds, (noise, level, r)
                assert 1 / 501 <= r.p_value <= 1
                outcomes.add((level, holds))
            p_at[level] = [r.p_value for r in cmp.rows]
        assert p_at[0.95] == p_at[0.8]
    assert outcomes == {(0.95, True), (0.95, False), (0.8, True), (0.8, False)}


def test_compare_refuses_files_with_no_common_split(tmp_path, store, cli):
    a = tmp_path / "a.npz"
    b = tmp_path / "b.npz"
    write_predictions(a, store.ids("test_seen"), store.scores["test_seen"], "musclemap136",
                      "test_seen")
    write_predictions(b, store.ids("test_unseen"), store.scores["test_unseen"], "musclemap136",
                      "test_unseen")
    rc, _, err = cli("compare", a, b, "--labels-dir", store.root)
    assert rc == 1 and "share no split" in err and "test_seen" in err


def test_compare_names_ids_that_differ(tmp_path, store, cli):
    a = tmp_path / "a.npz"
    b = tmp_path / "b.npz"
    ids = store.ids("test_seen")
    write_predictions(a, ids, store.scores["test_seen"], "musclemap136", "test_seen")
    write_predictions(b, ids[:-2], store.scores["test_seen"][:-2], "musclemap136", "test_seen")
    rc, _, err = cli("compare", a, b, "--labels-dir", store.root)
    assert rc == 1 and "E400" in err and repr(ids[-1]) in err


def test_validate_without_labels_runs_file_checks(tmp_path, store, cli):
    other = make_store(tmp_path / "other", seed=1, sizes={s: (50, 5) for s in EVAL})
    path = _bundle(tmp_path, store)
    rc, out, _ = cli("validate", path, "--labels-dir", tmp_path / "empty")
    assert rc == 0 and "no labels in the store" in out
    rc, _, err = cli("validate", path, "--labels-dir", tmp_path / "empty", "--require-labels")
    assert rc == 3 and "E503" in err
    rc, _, err = cli("validate", path, "--labels-dir", other.root)
    assert rc == 1 and "E400" in err  # other store, other ids


def test_labels_dir_from_environment(tmp_path, store, cli, monkeypatch):
    path = _bundle(tmp_path, store)
    monkeypatch.setenv("AMGE_EVAL_LABELS", str(store.root))
    assert cli("validate", path, "--require-labels")[0] == 0


def test_scoring_path_never_imports_torch(tmp_path, store):
    path = _bundle(tmp_path, store)
    code = (
        "import sys\n"
        "from amge_eval.cli import main\n"
        "try:\n"
        f"    main(['score', {str(path)!r}, '--labels-dir', {str(store.root)!r}, '--quiet',"
        " '--resamples', '200'])\n"
        "except SystemExit as e:\n"
        "    assert not e.code, e.code\n"
        "heavy = [m for m in ('torch', 'torchvision', 'sklearn', 'pandas', 'av') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_internal_errors_exit_70(tmp_path, store, cli, monkeypatch):
    import amge_eval.harness.scoring as scoring

    def boom(*a, **k):
        raise RuntimeError("boom")

    monkeypatch.setattr(scoring, "score_file", boom)
    rc, _, err = cli("score", _bundle(tmp_path, store), "--labels-dir", store.root)
    assert rc == 70 and "Internal error" in err and "boom" in err


def test_usage_errors_exit_2(cli):
    rc, _, err = cli("score")
    assert rc == 2
    rc, _, _ = cli("score", "x.npz", "--ci", "bogus")
    assert rc == 2


def test_score_reports_unseen_activities_worst_first(tmp_path, store, cli):
    from amge_eval.harness.metric import activity_ap

    path = _bundle(tmp_path, store)
    rep = score_file(path, labels_dir=store.root, resamples=200)
    for split, s in rep.splits.items():
        ls = store.labels[split]
        groups, names, _ = ls.clusters()
        want = activity_ap(store.scores[split], ls.labels, groups)
        assert list(s.per_activity) == sorted(names, key=lambda n: (want[names.index(n)], n))
        for name, (ap, n) in s.per_activity.items():
            assert ap == pytest.approx(want[names.index(name)], abs=1e-12)
            assert n == int((ls.activities == name).sum())
    rc, out, _ = cli("score", path, "--labels-dir", store.root, "--resamples", "200",
                     "--no-per-muscle")
    assert rc == 0 and "Unseen activities, worst first" in out
    worst = next(iter(rep.splits["test_unseen"].per_activity))
    assert worst in out
