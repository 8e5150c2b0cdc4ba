"""The main job (`amge-eval reproduce`) with the statistical baselines: it writes the reproduced
entries to the user's store, never into the committed one, and builds the site from the
committed store with the user's entries in place of the committed ones of the same name."""

from __future__ import annotations

import shutil

import pytest

from amge_eval.leaderboard.store import load_store
from amge_eval.reproduce import reproduce

from .conftest import tree_digest
from .leaderboard_helpers import COMMITTED


@pytest.fixture
def committed(tmp_path):
    """A copy of the committed store (reported rows of every dataset, the synth rows)."""
    return shutil.copytree(COMMITTED, tmp_path / "submissions")


def test_reproduce_leaves_the_committed_store_untouched(tmp_path, committed):
    before = tree_digest(committed)
    res = reproduce(("random", "prior"), runs_dir=tmp_path / "runs", committed=committed,
                    site_dir=tmp_path / "site", resamples=200)
    assert tree_digest(committed) == before
    assert res.store == tmp_path / "runs" / "submissions"
    mine = load_store(res.store)["synth"]
    assert sorted(e.slug for e in mine) == ["prior", "random"]
    # The site shows every committed dataset, and the user's rows in place of the committed ones.
    site_random = (tmp_path / "site" / "synth" / "random.html").read_text()
    new_sha = next(e for e in mine if e.slug == "random").prediction_sha256
    assert new_sha in site_random
    for ds in load_store(committed):
        assert (tmp_path / "site" / ds / "index.html").is_file()
    committed_only = {e.slug for e in load_store(committed)["synth"]} - {"random", "prior"}
    for slug in committed_only:  # e.g. the GCNs: still on the board, from the committed store
        assert (tmp_path / "site" / "synth" / f"{slug}.html").is_file()


def test_update_committed_is_the_maintainers_explicit_choice(tmp_path, committed):
    res = reproduce(("all-ones",), runs_dir=tmp_path / "runs", committed=committed,
                    update_committed=True, site_dir=tmp_path / "site", resamples=200)
    assert res.store == committed
    assert not (tmp_path / "runs" / "submissions").exists()
    assert (committed / "synth" / "all-ones" / "runs" / "seed-0.json").is_file()
    assert not (committed / "synth" / "all-ones" / "run.json").exists()  # replaced, not mixed


def test_seeds_make_one_entry_with_the_mean_and_each_seed(tmp_path, committed):
    res = reproduce(("random",), runs_dir=tmp_path / "runs", committed=committed,
                    seeds=(0, 1, 2), site_dir=tmp_path / "site", resamples=200)
    entry = next(e for e in load_store(res.store)["synth"] if e.slug == "random")
    assert entry.record.seeds == [0, 1, 2] and sorted(entry.runs) == [0, 1, 2]
    cell = entry.record.summary["test_a"]
    assert len(cell.seed_values) == 3 and len(set(cell.seed_values)) == 3  # random differs
    assert cell.value == pytest.approx(sum(cell.seed_values) / 3, abs=1e-5)
    assert res.spreads["random"]["test_a"] == pytest.approx(cell.spread())
    page = (tmp_path / "site" / "synth" / "random.html").read_text()
    assert "<h2>Seeds</h2>" in page


@pytest.mark.parametrize("kw, message", [({"seeds": ()}, "--seeds must be at least 1"),
                                         ({"seeds": (-1,)}, "--seed must be an integer"),
                                         ({"resamples": 5}, "--resamples must be from 100")])
def test_bad_flags_fail_before_anything_is_generated_or_written(tmp_path, committed, kw,
                                                                message):
    from amge_eval.harness.errors import AmgeError

    before = tree_digest(committed)
    with pytest.raises(AmgeError, match=message) as err:
        reproduce(("random",), runs_dir=tmp_path / "runs", committed=committed,
                  site_dir=tmp_path / "site", labels_dir=tmp_path / "labels",
                  data_root=tmp_path / "data", **kw)
    assert err.value.code == "E600"
    assert tree_digest(committed) == before
    assert not any(p.exists() for p in (tmp_path / "runs", tmp_path / "site",
                                        tmp_path / "labels", tmp_path / "data"))
