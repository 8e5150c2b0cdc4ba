"""Fault injection: every writer of the store killed (SIGKILL) at every step of its transactions,
and writers racing each other. After any kill, readers refuse an unfinished write rather than
show a mix (E915), `leaderboard doctor` finishes it, and the store validates with every entry
and record either wholly old or wholly new."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.labels import write_labels
from amge_eval.leaderboard.store import doctor, load_store, validate_store
from amge_eval.leaderboard.submit import submit
from amge_eval.leaderboard.ties import read_ties
from amge_eval.leaderboard.transaction import pending

from .conftest import DATASET
from .leaderboard_helpers import REPO, REPORTED_CSV, RESAMPLES, copy_reported, write_pred_dir
from .test_store import _relabelled

pytestmark = pytest.mark.slow

# Runs one writer with the transaction seam set to kill the process at its k-th step.
_CHILD = textwrap.dedent("""
    import os, signal, sys
    from amge_eval.leaderboard import transaction
    op, k, subs, labels, arg = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6]
    calls = [0]
    def step(name):
        if calls[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
        calls[0] += 1
    transaction._step = step
    if op in ("submit", "replace"):
        from amge_eval.leaderboard.submit import submit
        submit(arg, "musclemap136", "New entry" if op == "submit" else "Existing",
               submissions_dir=subs, labels_dir=labels, resamples=200, replace=op == "replace")
    elif op == "rescore":
        from amge_eval.leaderboard.rescore import rescore
        rescore(subs, labels, tie_resamples=200)
    elif op == "seed":
        from amge_eval.leaderboard.reported import seed_reported
        seed_reported(arg, subs)
    print("done", calls[0])
""")


def _run(op, k, subs, labels, arg=""):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-c", _CHILD, op, str(k), str(subs), str(labels),
                           str(arg)], env=env, capture_output=True, text=True, timeout=300)


def _sha(subs, slug):
    entries = {e.slug: e for e in load_store(subs)[DATASET]}
    return entries[slug].prediction_sha256 if slug in entries else None


def _every_kill(tmp_path, template, op, labels, arg, check):
    """Kill ``op`` at step 0, 1, 2, ... until it completes; check the store after each kill."""
    kills = 0
    for k in range(100):
        subs = tmp_path / f"k{k}"
        shutil.copytree(template, subs)
        res = _run(op, k, subs, labels, arg)
        if res.returncode == 0:
            assert res.stdout.startswith("done"), res.stdout + res.stderr
            check(subs, finished=True)
            return kills
        assert res.returncode == -9, res.stderr  # killed by the seam, nothing else
        kills += 1
        if pending(subs):  # a committed write nobody finished: readers refuse, never mix
            with pytest.raises(AmgeError) as err:
                load_store(subs)
            assert err.value.code == "E915"
            with pytest.raises(AmgeError):
                validate_store(subs)
        doctor(subs)
        assert validate_store(subs).leftovers == [] and not pending(subs)
        check(subs, finished=False)
        ties = read_ties(subs / DATASET)
        assert ties is None or ties.dataset == DATASET
        shutil.rmtree(subs)
    raise AssertionError(f"{op} never completed")


@pytest.fixture
def template(tmp_path, store):
    subs = copy_reported(tmp_path / "template")
    old = write_pred_dir(tmp_path / "old", store, 0.5, seed=1)
    submit(old, DATASET, "Existing", submissions_dir=subs, labels_dir=store.root,
           resamples=RESAMPLES)
    return subs


def test_submit_killed_at_every_step(tmp_path, store, template):
    new = write_pred_dir(tmp_path / "new", store, 0.4, seed=2)
    before = _sha(template, "existing")

    def check(subs, finished):
        got = _sha(subs, "new-entry")
        assert got is not None if finished else got in (None, _sha_of(new, store))
        assert _sha(subs, "existing") == before

    assert _every_kill(tmp_path, template, "submit", store.root, new, check) >= 4


def test_replace_killed_at_every_step(tmp_path, store, template):
    new = write_pred_dir(tmp_path / "new", store, 0.3, seed=3)
    old_sha, new_sha = _sha(template, "existing"), _sha_of(new, store)

    def check(subs, finished):
        got = _sha(subs, "existing")
        assert got == new_sha if finished else got in (old_sha, new_sha)

    assert _every_kill(tmp_path, template, "replace", store.root, new, check) >= 4


def test_rescore_killed_at_every_step(tmp_path, store, template):
    submit(write_pred_dir(tmp_path / "b", store, 0.7, seed=4), DATASET, "Second",
           submissions_dir=template, labels_dir=store.root, resamples=RESAMPLES)
    old_fp = store.labels["test_seen"].fingerprint
    for split in ("test_seen", "test_unseen"):
        write_labels(store.root, _relabelled(store, split), replace=True)

    def check(subs, finished):
        fps = {e.record.splits["test_seen"].label_fingerprint
               for e in load_store(subs)[DATASET] if e.record}
        assert len(fps) == 1  # never a board mixing label versions
        reports = list((subs / "_reports").glob("*.json")) if (subs / "_reports").is_dir() else []
        new = fps != {old_fp}
        assert new or not finished
        assert bool(reports) == new  # the report lands with the records, in full

    assert _every_kill(tmp_path, template, "rescore", store.root, "", check) >= 4


def test_seed_killed_at_every_step(tmp_path):
    if not REPORTED_CSV.is_file():
        pytest.skip("no reported_results.csv")
    with REPORTED_CSV.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["dataset"] == DATASET]
    template = copy_reported(tmp_path / "template")
    edited = tmp_path / "edited.csv"
    changed, dropped = rows[0], rows[1]
    with edited.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            if r is dropped:
                continue
            w.writerow({**r, "test_u": "1.0"} if r is changed else r)

    def check(subs, finished):
        entries = {e.name: e for e in load_store(subs)[DATASET]}
        new_value = entries[changed["model"]].meta.reported.test_u == 1.0
        gone = dropped["model"] not in entries
        assert new_value == gone  # both changes or neither
        assert new_value or not finished

    assert _every_kill(tmp_path, template, "seed", tmp_path, edited, check) >= 3


def _sha_of(folder, store):
    from amge_eval.harness.scoring import score_file

    return score_file(folder, labels_dir=store.root, resamples=100).predictions.sha256


def test_racing_writers_never_lose_a_tie_row(tmp_path, store, template):
    # Submits and a rescore at the same time: with one lock for every writer, the last tie
    # update sees every entry, so no scored row ends up "not run".
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = []
    for i in range(3):
        preds = write_pred_dir(tmp_path / f"r{i}", store, 0.5 + 0.1 * i, seed=10 + i)
        code = ("from amge_eval.leaderboard.submit import submit; import sys; "
                f"submit(sys.argv[1], 'musclemap136', 'Racer {i}', submissions_dir=sys.argv[2], "
                "labels_dir=sys.argv[3], resamples=200)")
        procs.append(subprocess.Popen([sys.executable, "-c", code, str(preds), str(template),
                                       str(store.root)], env=env))
    procs.append(subprocess.Popen([sys.executable, "-c", _CHILD, "rescore", "-1", str(template),
                                   str(store.root), ""], env=env, stdout=subprocess.DEVNULL))
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    from amge_eval.leaderboard.table import load_boards

    board = next(b for b in load_boards(template) if b.dataset == DATASET)
    ties = {r.entry.slug: r.tie for r in board.rows if r.entry.has_predictions}
    assert len(ties) == 4 and "untested" not in ties.values(), ties
