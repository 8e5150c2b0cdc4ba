"""Every value a flag can ask for is bounded, and a bad one gets a coded error (exit 1) that
names the flag, never an internal error (exit 70): seeds, resamples, levels, dataset names, and
output paths that cannot be written."""

from __future__ import annotations

import os

import pytest

from .conftest import tree_digest


def _preds(tmp_path, store):
    from .leaderboard_helpers import write_pred_dir

    return write_pred_dir(tmp_path / "preds", store, 0.5)


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "--seed must be an integer from 0 to 4294967295, got -1"),
    (["--seed", str(2**40)], "--seed must be an integer from 0"),
    (["--resamples", "1000000000"], "--resamples must be from 100 (for a 0.95 interval) to 1,000,000"),
    (["--resamples", "10"], "--resamples must be from 100"),
])
def test_score_and_compare_bound_their_flags(tmp_path, store, cli, args, message):
    preds = _preds(tmp_path, store)
    for cmd in (["score", preds], ["compare", preds, preds]):
        rc, _, err = cli(*cmd, "--labels-dir", store.root, *args)
        assert rc == 1 and message in err and "(E600)" in err, err


def test_per_sample_resampling_is_bounded_by_memory(store):
    from amge_eval.harness import bootstrap as bs
    from amge_eval.harness.errors import AmgeError

    with pytest.raises(AmgeError, match="GiB for their weights alone") as err:
        bs.check_weight_memory(1_000_000, 1000, "test_seen", "sample")
    assert err.value.code == "E600"
    bs.check_weight_memory(10_000, 1612, "test_seen", "sample")  # the default on a real split


def test_run_baseline_and_submit_refuse_a_bad_seed(tmp_path, store, cli):
    rc, _, err = cli("run-baseline", "random", "-d", "musclemap136", "--labels-dir", store.root,
                     "--out", tmp_path / "run", "--seed", "-1")
    assert rc == 1 and "(E600)" in err and not (tmp_path / "run").exists()
    subs = tmp_path / "subs"
    rc, _, err = cli("submit", _preds(tmp_path, store), "-d", "musclemap136", "--name", "x",
                     "--labels-dir", store.root, "--submissions", subs, "--seed", "-5")
    assert rc == 1 and "(E600)" in err
    assert not list(subs.glob("*/x"))


@pytest.mark.skipif(os.geteuid() == 0 and not os.path.exists("/proc/self"),
                    reason="needs /proc")
def test_unwritable_outputs_are_user_errors(tmp_path, store, cli):
    preds = _preds(tmp_path, store)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    before = tree_digest(tmp_path)
    rc, _, err = cli("score", preds, "--labels-dir", store.root, "--json", a_file / "r.json")
    assert rc == 1 and "(E601)" in err and str(a_file) in err
    rc, _, err = cli("run-baseline", "random", "-d", "musclemap136", "--labels-dir", store.root,
                     "--out", a_file / "run")
    assert rc == 1 and "(E601)" in err
    rc, _, err = cli("submit", preds, "-d", "musclemap136", "--name", "x", "--labels-dir",
                     store.root, "--submissions", a_file / "subs")
    assert rc == 1 and "(E601)" in err
    rc, _, err = cli("leaderboard", "build", "--submissions", a_file / "subs", "--out",
                     a_file / "site")
    assert rc in (1, 3) and "Internal error" not in err
    assert tree_digest(tmp_path) == before


def test_rescore_of_an_unknown_dataset_fails(tmp_path, store, cli):
    from .leaderboard_helpers import copy_reported

    subs = copy_reported(tmp_path / "subs")
    rc, _, err = cli("leaderboard", "rescore", "--submissions", subs, "--labels-dir", store.root,
                     "-d", "nope")
    assert rc == 1 and "no dataset 'nope'" in err and "(E911)" in err
