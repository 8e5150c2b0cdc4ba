"""The submissions store: entry files, names, submit (atomic, concurrent, killed), rescore, ties,
and the committed reported rows against the papers' CSV."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.labels import make_label_set, write_labels
from amge_eval.harness.records import EntryMeta, field_paths
from amge_eval.harness.scoring import compare_files, score_file
from amge_eval.harness.vocab import STATUSES, TABLE_KEYS
from amge_eval.leaderboard import reported as rp
from amge_eval.leaderboard.entries import (
    _SLUG_RE,
    MAX_SLUG,
    EntryInvalid,
    check_dataset_name,
    entry_slug,
    entry_toml,
    load_entry,
    validate_entry,
)
from amge_eval.leaderboard.rescore import rescore
from amge_eval.leaderboard.store import doctor, load_store, validate_store
from amge_eval.leaderboard.submit import submit
from amge_eval.leaderboard.ties import update_ties

from .conftest import DATASET, make_store, tree_digest
from .leaderboard_helpers import (
    COMMITTED,
    REPO,
    REPORTED_CSV,
    RESAMPLES,
    copy_reported,
    write_pred_dir,
    write_run_dir,
)

SAFE = _SLUG_RE


def _submit(path, name, subs, store, **kw):
    kw.setdefault("resamples", RESAMPLES)
    return submit(path, DATASET, name, submissions_dir=subs, labels_dir=store.root, **kw)


def _meta(**over):
    m = {"entry_version": 1, "name": "M", "dataset": DATASET, "status": "reported",
         "family": "video", "authors": ["A. Author"], "modalities_train": ["rgb"],
         "modalities_test": ["rgb"], "training_data": "train split", "pretraining": "none",
         "reported": {"paper_version": "v1", "table": "Table 2", "val_s": 1.0, "val_u": 2.0,
                      "val_a": 1.5, "test_s": 3.0, "test_u": 4.0, "test_a": 3.5}}
    m.update(over)
    return m


# --------------------------------------------------------------------------- names

@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_slug_is_always_a_safe_folder_name_or_refused(name):
    try:
        slug = entry_slug(name)
    except AmgeError as exc:
        assert exc.code == "E906"
        return
    assert SAFE.match(slug), slug
    assert len(slug) <= MAX_SLUG and "/" not in slug and not slug.startswith(".")
    assert entry_slug(slug) == slug  # idempotent: a slug names itself


@pytest.mark.parametrize("name, slug", [
    ("../../etc/passwd", "etc-passwd"), ("/abs/path", "abs-path"), (".hidden", "hidden"),
    ("a/../../b", "a-b"), ("Modèle Été", "modele-ete"), ("ST-GCN (K=3)", "st-gcn-k-3"),
    ("x" * 500, "x" * 64), ("C:\\Windows\\sys", "c-windows-sys"),
])
def test_slug_examples(name, slug):
    assert entry_slug(name) == slug


@pytest.mark.parametrize("name", ["", "..", "...", "/", "名前", "🏋️", "CON", "nul", "\x00"])
def test_unusable_names_are_refused(name):
    with pytest.raises(AmgeError) as err:
        entry_slug(name)
    assert err.value.code == "E906"


@pytest.mark.parametrize("dataset", ["../x", "a/b", ".hidden", "", "UPPER", "x" * 80, "a..b"])
def test_hostile_dataset_names_are_refused(dataset):
    with pytest.raises(AmgeError) as err:
        check_dataset_name(dataset)
    assert err.value.code == "E911"


# --------------------------------------------------------------------------- entry files

_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(name=_text, notes=st.text(st.characters(blacklist_categories=("Cs",)), max_size=200),
       authors=st.lists(_text, max_size=4), params=st.floats(0, 1e4, allow_nan=False))
@settings(max_examples=200, deadline=None)
def test_entry_file_round_trips_through_toml(name, notes, authors, params):
    meta = _meta(name=name, notes=notes, authors=authors, params_m=params)
    try:
        clean = validate_entry(meta, "t")
    except EntryInvalid:
        return  # refused text (control characters, empty name): never written
    text = entry_toml(clean)
    assert validate_entry(tomllib.loads(text), "t") == clean
    assert tomllib.loads(text)["name"] == name and tomllib.loads(text).get("notes") == notes


def test_control_characters_and_bad_urls_are_refused_with_every_problem_listed():
    meta = _meta(name="bad\x07name", paper_url="javascript:alert(1)", family="videos",
                 modalities_test=["rgbb"], bogus=1, frames=0)
    del meta["pretraining"]
    with pytest.raises(EntryInvalid) as err:
        validate_entry(meta, "meta.toml")
    codes = sorted(p.code for p in err.value.problems)
    assert codes == ["E901", "E902", "E903", "E903", "E903", "E903", "E908"]
    msg = str(err.value)
    assert msg.startswith("meta.toml: 7 problems")
    assert "Did you mean 'video'" in msg and "Did you mean 'rgb'" in msg
    assert "U+0007" in msg


@pytest.mark.parametrize("over, has_preds, has_run, code", [
    ({}, True, False, "E904"),  # reported with predictions
    ({"status": "verified"}, True, False, "E904"),  # verified keeps a [reported] table
    ({"status": "verified", "reported": None}, False, False, "E904"),  # no predictions
    ({"status": "reproduced", "reported": None}, True, False, "E904"),  # no run record
    ({"entry_version": 2}, False, False, "E905"),
    ({"dataset": "muscle-ucf90"}, False, False, "E911"),
])
def test_status_must_fit_the_content(over, has_preds, has_run, code):
    meta = {k: v for k, v in _meta(**over).items() if v is not None}
    with pytest.raises(EntryInvalid) as err:
        validate_entry(meta, "t", dataset=DATASET, has_predictions=has_preds, has_run=has_run)
    assert code in {p.code for p in err.value.problems}


def test_broken_entries_are_all_reported_at_once(tmp_path):
    subs = copy_reported(tmp_path / "subs")
    a = subs / DATASET / "paper-v1-st-gcn" / "entry.toml"
    a.write_text(a.read_text().replace('family = "skeleton"', 'family = "gcn"'))
    b = subs / DATASET / "paper-v1-random" / "entry.toml"
    b.write_text("not = [toml")
    (subs / DATASET / "Bad Folder").mkdir()
    with pytest.raises(EntryInvalid) as err:
        load_store(subs)
    text = str(err.value)
    assert "paper-v1-st-gcn" in text and "paper-v1-random" in text and "Bad Folder" in text


# --------------------------------------------------------------------------- reported rows

def _csv_rows():
    if not REPORTED_CSV.is_file():
        pytest.skip(f"the papers' CSV is not at {REPORTED_CSV} (shared/ beside the checkout)")
    with REPORTED_CSV.open(newline="") as f:
        return list(csv.DictReader(f))


def test_vendored_csv_is_the_shared_one():
    from .leaderboard_helpers import SHARED_CSV

    if not SHARED_CSV.is_file():
        pytest.skip(f"no shared/ beside the checkout ({SHARED_CSV})")
    assert REPORTED_CSV.read_bytes() == SHARED_CSV.read_bytes()


def test_committed_store_matches_the_csv_exactly():
    rows = _csv_rows()
    # Independent of leaderboard code: read every committed entry file with tomllib.
    entries = {}
    for p in sorted(COMMITTED.glob("*/*/entry.toml")):
        data = tomllib.loads(p.read_text())
        if data["status"] == "reported":
            entries[(data["reported"]["paper_version"], data["dataset"], data["name"])] = data
    assert len(entries) == len(rows)
    for r in rows:
        e = entries[(r["paper_version"], r["dataset"], r["model"])]
        assert e["params_m"] == float(r["params_m"])
        for k in TABLE_KEYS:
            assert e["reported"][k] == float(r[k]), (r["model"], k)
    # And the committed files are byte for byte what seeding writes.
    assert rp.compare_with_csv(COMMITTED, REPORTED_CSV) == []


def test_compare_with_csv_notices_an_edited_number_and_a_missing_row(tmp_path):
    _csv_rows()
    subs = copy_reported(tmp_path / "subs", datasets=("musclemap136", "muscle-ucf90",
                                                      "muscle-hmdb41", "musclemap-wild"))
    p = subs / DATASET / "paper-v1-mvitv2-s" / "entry.toml"
    p.write_text(p.read_text().replace("test_u = 55.5", "test_u = 55.6"))
    shutil.rmtree(subs / "muscle-ucf90" / "paper-v1-random")
    diffs = rp.compare_with_csv(subs, REPORTED_CSV)
    assert any("paper-v1-mvitv2-s: test_u" in d for d in diffs)
    assert any("muscle-ucf90/paper-v1-random: row" in d for d in diffs)


def test_seeding_is_idempotent_and_prunes_only_seeded_entries(tmp_path):
    _csv_rows()
    subs = tmp_path / "subs"
    first = rp.seed_reported(REPORTED_CSV, subs)
    assert len(first.written) == len(_csv_rows())
    (subs / DATASET / "paper-v1-gone").mkdir()
    (subs / DATASET / "paper-v1-gone" / "entry.toml").write_text(
        (subs / DATASET / "paper-v1-random" / "entry.toml").read_text())
    (subs / DATASET / "mine").mkdir()
    (subs / DATASET / "mine" / "entry.toml").write_text("x = 1\n")
    again = rp.seed_reported(REPORTED_CSV, subs)
    assert again.written == [] and again.removed == [f"{DATASET}/paper-v1-gone"]
    assert (subs / DATASET / "mine" / "entry.toml").read_text() == "x = 1\n"


def test_only_the_mvitv2_s_row_breaks_the_rounding_rule():
    rows = _csv_rows()
    flagged = [(r["paper_version"], r["dataset"], r["model"]) for r in rows
               if rp.consistency_warnings({k: float(r[k]) for k in TABLE_KEYS})]
    assert flagged == [("v1", "musclemap136", "MViTv2-S")]


@given(st.integers(0, 1000), st.integers(0, 1000), st.sampled_from([-2, -1, 0, 1, 2]))
def test_consistency_tolerance_is_the_rounding_of_printed_numbers(s10, u10, shift):
    # Any true seen/unseen pair, printed to one decimal, with the mean printed to one decimal,
    # passes; moving the printed mean by 0.2 or more always fails.
    true_s, true_u = s10 / 10 + 0.037, u10 / 10 - 0.041
    vals = {"test_s": round(true_s, 1), "test_u": round(true_u, 1),
            "test_a": round((true_s + true_u) / 2, 1) + 0.1 * shift}
    flagged = bool(rp.consistency_warnings(vals))
    if shift == 0:
        assert not flagged
    elif abs(shift) == 2:
        assert flagged


# --------------------------------------------------------------------------- submit

def test_submit_a_prediction_folder_scores_it_like_the_harness(tmp_path, store):
    preds = write_pred_dir(tmp_path / "preds", store, noise=0.6)
    subs = tmp_path / "subs"
    res = _submit(preds, "My Model", subs, store, metadata={"family": "video"})
    e = res.entry
    assert (e.slug, e.status, e.path) == ("my-model", "verified", subs / DATASET / "my-model")
    ref = score_file(preds, dataset=DATASET, labels_dir=store.root, resamples=RESAMPLES)
    for key, cell in ref.summary.items():
        assert e.values()[key] == pytest.approx(100 * cell.value, abs=1e-5)
    assert e.prediction_sha256 == ref.predictions.sha256  # same members, same hash
    text = (e.path / "scores.json").read_text()
    assert str(store.root) not in text and str(tmp_path) not in text  # no local paths
    assert sorted(p.name for p in (e.path / "predictions").iterdir()) == [
        "test_seen.npz", "test_unseen.npz", "val_seen.npz", "val_unseen.npz"]
    assert validate_store(subs).entries == [f"{DATASET}/my-model"]


def test_submit_a_runner_folder_is_reproduced_and_keeps_the_run_record(tmp_path, store):
    run = write_run_dir(tmp_path / "run", store, noise=0.5)
    res = _submit(run, "ST-GCN", tmp_path / "subs", store)
    e = res.entry
    assert e.status == "reproduced"
    assert (e.path / "run.json").read_bytes() == (run / "run.json").read_bytes()
    assert e.meta.family == "skeleton" and e.meta.modalities_test == ["skeleton"]
    assert e.meta.params_m == 2.64 and e.meta.frames == 64


def test_entry_file_metadata_is_used_and_must_agree_with_the_options(tmp_path, store):
    preds = write_pred_dir(tmp_path / "preds", store, noise=0.6)
    meta = tmp_path / "meta.toml"
    meta.write_text('name = "Mine"\nfamily = "skeleton"\nauthors = ["Ada"]\n'
                    'code_url = "https://example.org/code"\nparams_m = 1.25\n')
    e = _submit(preds, "Mine", tmp_path / "subs", store, entry_file=meta).entry
    assert (e.family, e.meta.authors, e.meta.params_m) == ("skeleton", ["Ada"], 1.25)
    with pytest.raises(AmgeError) as err:
        _submit(preds, "Other", tmp_path / "subs", store, entry_file=meta)
    assert err.value.code == "E911"


def _invalid_inputs(tmp_path, store):
    bad_meta = tmp_path / "bad.toml"
    bad_meta.write_text('familly = "video"\n')
    no_test = write_pred_dir(tmp_path / "no_test", store, 0.5, splits=("val_seen", "val_unseen"))
    wrong_ids = write_pred_dir(tmp_path / "wrong", store, 0.5)
    other = make_store(tmp_path / "other_labels", seed=5)
    write_pred_dir(wrong_ids, other, 0.5, splits=("test_unseen",))
    good = write_pred_dir(tmp_path / "good", store, 0.5)
    escape = write_run_dir(tmp_path / "escape", store, 0.5,
                           predictions={"test_seen": "../good/test_seen.npz"})
    empty = tmp_path / "empty"
    empty.mkdir()
    return {
        "unknown key in entry file": (good, {"entry_file": bad_meta}, "E901"),
        "no test splits": (no_test, {}, "E914"),
        "ids of another store": (wrong_ids, {}, "E401"),
        "run record points outside": (escape, {}, "E910"),
        "reproduced without run": (good, {"status": "reproduced"}, "E904"),
        "reported with predictions": (good, {"status": "reported"}, "E904"),
        "empty folder": (empty, {}, "E912"),
        "missing path": (tmp_path / "nope", {}, "E912"),
        "javascript link": (good, {"metadata": {"code_url": "javascript:x"}}, "E908"),
    }


def test_invalid_input_leaves_the_store_untouched(tmp_path, store):
    subs = copy_reported(tmp_path / "subs")
    _submit(write_pred_dir(tmp_path / "first", store, 0.5), "Existing", subs, store)
    before = tree_digest(subs)
    for what, (path, kw, code) in _invalid_inputs(tmp_path, store).items():
        with pytest.raises(AmgeError) as err:
            _submit(path, "New entry", subs, store, **kw)
        assert code in (err.value.code, *str(err.value).split()), (what, str(err.value))
        assert tree_digest(subs) == before, what
        assert not list((subs / DATASET).glob(".tmp-*")), what
        assert ".tmp-" not in str(err.value), what  # messages name the user's files


def test_duplicates_are_refused_unless_replace(tmp_path, store):
    subs = tmp_path / "subs"
    a = write_pred_dir(tmp_path / "a", store, 0.5, seed=1)
    b = write_pred_dir(tmp_path / "b", store, 0.9, seed=2)
    first = _submit(a, "Model X", subs, store).entry
    before = tree_digest(subs)
    for name in ("Model X", "model-x", "MODEL  X!"):  # all the same slug
        with pytest.raises(AmgeError) as err:
            _submit(b, name, subs, store)
        assert err.value.code == "E907" and "--replace" in err.value.message
    assert tree_digest(subs) == before
    res = _submit(b, "Model X", subs, store, replace=True)
    assert res.replaced and res.entry.prediction_sha256 != first.prediction_sha256
    assert [p.name for p in (subs / DATASET).iterdir() if p.name.startswith(".")] == []


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/abs", ".hidden", "a/../../b",
                                  "x" * 90, "שלום evil", "<script>x</script>"])
def test_hostile_names_never_write_outside_the_dataset_folder(tmp_path, store, name):
    work = tmp_path / "work"
    subs = work / "subs"
    preds = write_pred_dir(tmp_path / "preds", store, 0.5)
    e = _submit(preds, name, subs, store).entry
    assert e.path.parent == subs / DATASET and SAFE.match(e.path.name)
    assert e.name == name  # the display name is kept as given, the folder is the slug
    assert [p.name for p in work.iterdir()] == ["subs"]
    assert sorted(p.name for p in (subs / DATASET).iterdir()) == sorted([e.slug, "ties.json"])


@pytest.mark.parametrize("name", ["\u202eevil.exe", "a\u2066b", "x\u200fy", "a\u061cb"])
def test_bidirectional_controls_are_refused_in_names(tmp_path, store, name):
    # An override can make "Model\u202egpj.exe" read as "Modelexe.jpg" on the board.
    subs = tmp_path / "subs"
    with pytest.raises(EntryInvalid) as err:
        _submit(write_pred_dir(tmp_path / "p", store, 0.5), name, subs, store)
    assert {p.code for p in err.value.problems} == {"E903"}
    assert "bidirectional control" in str(err.value)
    assert not (subs / DATASET).exists() or not list((subs / DATASET).iterdir())


_CHILD = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from amge_eval.harness.errors import AmgeError
    from amge_eval.leaderboard import submit as s
    preds, subs, labels, go, mode = sys.argv[1:6]
    if mode == "hang":
        def hang():
            Path(go).write_text("ready")
            time.sleep(120)
        s._before_commit = hang
    else:
        s._before_commit = lambda: time.sleep(0.4)  # both are past the early check
        while not Path(go).exists():
            time.sleep(0.01)
    try:
        s.submit(preds, "musclemap136", "Same Name", submissions_dir=subs, labels_dir=labels,
                 resamples=200, tie_resamples=200)
        print("ok")
    except AmgeError as exc:
        print(exc.code)
""")


def _child(args, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.Popen([sys.executable, "-c", _CHILD, *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)


def test_concurrent_submits_of_one_name_let_exactly_one_succeed(tmp_path, store):
    subs = tmp_path / "subs"
    go = tmp_path / "go"
    procs = [_child([write_pred_dir(tmp_path / f"p{i}", store, 0.5, seed=i), subs, store.root,
                     go, "race"], tmp_path) for i in range(2)]
    time.sleep(0.5)
    go.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    results = sorted(o.strip() for o, _ in outs)
    assert results == ["E907", "ok"], outs
    entry = load_entry(subs / DATASET / "same-name")
    assert entry.prediction_sha256 in {score_file(tmp_path / f"p{i}", labels_dir=store.root,
                                                  resamples=100).predictions.sha256
                                       for i in range(2)}
    assert not list((subs / DATASET).glob(".tmp-*"))


def test_a_killed_submit_leaves_no_partial_entry(tmp_path, store):
    subs = copy_reported(tmp_path / "subs")
    preds = write_pred_dir(tmp_path / "p", store, 0.5)
    ready = tmp_path / "ready"
    proc = _child([preds, subs, store.root, ready, "hang"], tmp_path)
    deadline = time.time() + 90
    while not ready.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline
        time.sleep(0.05)
    # The child has scored and built the whole entry in its staging folder: kill it now.
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (subs / DATASET / "same-name").exists()
    leftovers = list(subs.glob(".txn-*"))
    assert len(leftovers) == 1 and list(leftovers[0].rglob("scores.json"))
    store_now = load_store(subs)  # the leftover is invisible to readers
    assert "same-name" not in {e.slug for e in store_now[DATASET]}
    assert validate_store(subs).leftovers == [leftovers[0].name]
    # Nothing is locked: doctor removes the leftover, and the same submit goes through.
    rep = doctor(subs)
    assert rep.removed == [leftovers[0].name] and rep.finished == []
    assert not list(subs.glob(".txn-*")) and validate_store(subs).leftovers == []
    assert _submit(preds, "Same Name", subs, store).entry.slug == "same-name"


# --------------------------------------------------------------------------- ties

def test_ties_agree_with_compare_files(tmp_path, store):
    subs = copy_reported(tmp_path / "subs")
    best = write_pred_dir(tmp_path / "best", store, 0.3, seed=1)
    close = write_pred_dir(tmp_path / "close", store, 0.31, seed=2)
    poor = write_pred_dir(tmp_path / "poor", store, 3.0, seed=3)
    for name, path in (("Best", best), ("Close", close), ("Poor", poor)):
        _submit(path, name, subs, store)
    ties = json.loads((subs / DATASET / "ties.json").read_text())
    leader = ties["leader"]["entry"]
    assert leader in ("best", "close")
    lead_path = {"best": best, "close": close}[leader]
    for slug, path in (("close", close), ("best", best), ("poor", poor)):
        if slug == leader:
            continue
        ref = compare_files(path, lead_path, dataset=DATASET, labels_dir=store.root,
                            resamples=RESAMPLES)
        row = next(r for r in ref.rows if r.key == "test_a")
        got = ties["entries"][slug]
        assert got["diff"] == pytest.approx(100 * row.diff, abs=1e-5)
        assert (got["low"], got["high"]) == pytest.approx(
            (100 * row.interval.low, 100 * row.interval.high), abs=1e-5)
        assert got["tied"] == (row.interval.low <= 0 <= row.interval.high)
    assert ties["entries"]["poor"]["tied"] is False
    assert all(not k.startswith("paper-") for k in ties["entries"])  # reported: never tested


def test_ties_are_reused_until_the_leader_changes(tmp_path, store, monkeypatch):
    subs = tmp_path / "subs"
    _submit(write_pred_dir(tmp_path / "a", store, 0.8, seed=1), "A", subs, store)
    _submit(write_pred_dir(tmp_path / "b", store, 1.6, seed=2), "B", subs, store)
    calls = []
    import amge_eval.harness.scoring as scoring

    real = scoring.compare_files
    monkeypatch.setattr(scoring, "compare_files", lambda *a, **k: calls.append(a) or real(*a, **k))
    update_ties(subs, DATASET, labels_dir=store.root, resamples=RESAMPLES)
    assert calls == []  # nothing changed: cached
    _submit(write_pred_dir(tmp_path / "c", store, 0.05, seed=3), "C", subs, store)
    assert json.loads((subs / DATASET / "ties.json").read_text())["leader"]["entry"] == "c"
    assert len(calls) == 2  # new leader: A and B tested again


# --------------------------------------------------------------------------- rescore

def _relabelled(store, split: str):
    """The labels of ``split`` with new label vectors for its activities (a store update)."""
    ls = store.labels[split]
    rng = np.random.default_rng(99)
    acts = sorted(set(ls.activities.tolist()))
    table = {a: (rng.random(20) < 0.4).astype(np.uint8) for a in acts}
    for a in acts:
        table[a][0] = 1  # keep at least one positive per split
    y = np.stack([table[a] for a in ls.activities.tolist()])
    return make_label_set(ls.dataset, split, ls.sample_ids, ls.activities, ls.media, y)


def test_rescore_without_changes_rewrites_nothing(tmp_path, store):
    subs = copy_reported(tmp_path / "subs")
    _submit(write_pred_dir(tmp_path / "a", store, 0.5), "A", subs, store)
    before = tree_digest(subs)
    res = rescore(subs, store.root)
    rep = res.record
    assert rep.rescored == [] and rep.unchanged == [f"{DATASET}/a"] and res.report_path is None
    assert tree_digest(subs) == before


def test_rescore_after_a_label_change_reports_who_moved(tmp_path, store):
    subs = copy_reported(tmp_path / "subs")
    _submit(write_pred_dir(tmp_path / "a", store, 0.3, seed=1), "Follows old labels", subs, store)
    new = {sp: _relabelled(store, sp) for sp in ("test_seen", "test_unseen")}
    # B is made for the new labels but scored before they land: it starts behind A.
    b = write_pred_dir(tmp_path / "b", store, 0.3, seed=2,
                       labels={sp: ls.labels for sp, ls in new.items()})
    _submit(b, "Follows new labels", subs, store)
    for ls in new.values():
        write_labels(store.root, ls, replace=True)
    before = {e.slug: e.values()["test_a"] for e in load_store(subs)[DATASET]}
    res = rescore(subs, store.root)
    rep = res.record
    assert sorted(rep.rescored) == [f"{DATASET}/follows-new-labels", f"{DATASET}/follows-old-labels"]
    assert all(any("labels" in w for w in rep.reasons[k]) for k in rep.rescored)
    moved = {m.entry: m for m in rep.moves}
    assert moved["follows-new-labels"].new_rank < moved["follows-new-labels"].old_rank
    assert moved["follows-old-labels"].new_rank > moved["follows-old-labels"].old_rank
    assert moved["follows-new-labels"].old_value == before["follows-new-labels"]
    saved = json.loads(res.report_path.read_text())
    assert res.report_path.parent == subs / "_reports"
    assert {m["entry"] for m in saved["moves"]} == set(moved)
    after = {e.slug: e for e in load_store(subs)[DATASET]}
    ref = score_file(b, dataset=DATASET, labels_dir=store.root, resamples=RESAMPLES)
    assert after["follows-new-labels"].values()["test_a"] == pytest.approx(
        100 * ref.summary["test_a"].value, abs=1e-5)


def test_rescore_after_a_scorer_version_change_writes_a_report(tmp_path, store, monkeypatch):
    import amge_eval.harness.records.score as records

    subs = tmp_path / "subs"
    _submit(write_pred_dir(tmp_path / "a", store, 0.5), "A", subs, store)
    monkeypatch.setattr(records, "SCORER_VERSION", "9.9.9")
    res = rescore(subs, store.root)
    rep = res.record
    assert rep.rescored == [f"{DATASET}/a"] and "scorer 1" in rep.reasons[f"{DATASET}/a"][0]
    assert res.report_path is not None and res.report_path.is_file()
    assert load_store(subs)[DATASET][0].record.scorer_version == "9.9.9"


def test_rescore_skips_entries_without_labels(tmp_path, store):
    subs = tmp_path / "subs"
    _submit(write_pred_dir(tmp_path / "a", store, 0.5), "A", subs, store)
    rep = rescore(subs, tmp_path / "empty_store").record
    assert list(rep.skipped) == [f"{DATASET}/a"] and "No labels" in rep.skipped[f"{DATASET}/a"]


def test_tampered_predictions_fail_validation(tmp_path, store):
    subs = tmp_path / "subs"
    e = _submit(write_pred_dir(tmp_path / "a", store, 0.5), "A", subs, store).entry
    write_pred_dir(tmp_path / "b", store, 0.9, seed=7, splits=("test_unseen",))
    shutil.copyfile(tmp_path / "b" / "test_unseen.npz", e.path / "predictions" / "test_unseen.npz")
    with pytest.raises(EntryInvalid) as err:
        validate_store(subs)
    assert "E909" in str(err.value) and "test_unseen.npz" in str(err.value)
    validate_store(subs, verify_hashes=False)  # structure alone is still fine


def test_validate_store_checks_only_the_entries_paths_touch(tmp_path):
    subs = copy_reported(tmp_path / "subs")
    bad = subs / DATASET / "paper-v1-random" / "entry.toml"
    bad.write_text(bad.read_text().replace('status = "reported"', 'status = "done"'))
    ok = validate_store(subs, paths=[str(subs / DATASET / "paper-v1-st-gcn" / "entry.toml"),
                                       str(subs / DATASET / "deleted" / "entry.toml"),
                                       str(REPO / "README.md")])
    assert ok.entries == [f"{DATASET}/paper-v1-st-gcn"]
    with pytest.raises(EntryInvalid):
        validate_store(subs, paths=[str(bad)])


def test_numpy_numbers_are_written_as_plain_toml():
    rep = {**_meta()["reported"], "test_a": np.float32(3.5)}
    meta = validate_entry(_meta(params_m=np.float64(2.5), frames=np.int64(16), reported=rep), "t")
    data = tomllib.loads(entry_toml(meta))
    assert (data["params_m"], data["frames"], data["reported"]["test_a"]) == (2.5, 16, 3.5)


def test_docs_describe_every_entry_key_and_status():
    doc = (REPO / "docs" / "leaderboard.md").read_text()
    for key in field_paths(EntryMeta):
        assert f"`{key.removeprefix('reported.')}`" in doc, key
    for status in STATUSES:
        assert f"| `{status}` |" in doc
