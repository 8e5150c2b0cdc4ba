"""The Python API: lazy names at the package root, in-memory scoring that matches file scoring
code for code and number for number, and MaskedMAP against the scorer's metric."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import amge_eval
from amge_eval.harness.errors import AmgeError, MissingExtra, ValidationFailed
from amge_eval.harness.metric import masked_map
from amge_eval.harness.predictions import memory_digest, write_prediction_bundle, write_predictions
from amge_eval.harness.scoring import score_file

from .conftest import DATASET, EVAL

ROOT = Path(__file__).resolve().parents[1]  # subprocesses import this checkout's amge_eval

try:  # MaskedMAP needs torch; everything else is tested without it
    import torch

    from amge_eval.baselines.metric import MaskedMAP
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed: pip install "
                                                       "'amge-eval[baselines]'")


# --------------------------------------------------------------------------- the package root

def test_import_loads_neither_numpy_nor_torch_and_every_name_resolves():
    code = (
        "import json, sys\n"
        "import amge_eval\n"
        "heavy = sorted(m for m in ('numpy', 'torch', 'pandas') if m in sys.modules)\n"
        "names = {}\n"
        "for n in amge_eval.__all__:\n"
        "    try:\n"
        "        names[n] = type(getattr(amge_eval, n)).__name__\n"
        "    except ImportError as exc:  # MaskedMAP without torch\n"
        "        names[n] = type(exc).__name__\n"
        "print(json.dumps({'heavy': heavy, 'names': names, 'dir': dir(amge_eval)}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    got = json.loads(out.stdout)
    assert got["heavy"] == []
    assert set(got["names"]) == set(amge_eval.__all__)
    assert got["names"]["score"] == "function" and got["names"]["MUSCLES"] == "tuple"
    assert got["names"]["MaskedMAP"] == ("MissingExtra" if torch is None else "type")
    assert set(amge_eval.__all__) <= set(got["dir"])


def test_masked_map_without_torch_names_the_extra():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "import amge_eval\n"
        "from amge_eval.harness.errors import AmgeError\n"
        "assert amge_eval.score and amge_eval.masked_map  # the rest works without torch\n"
        "try:\n"
        "    amge_eval.MaskedMAP\n"
        "except AmgeError as exc:\n"
        "    assert isinstance(exc, ImportError)\n"
        "    print(exc.code, exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=ROOT)
    assert out.stdout.startswith("E830 ")
    assert "pip install 'amge-eval[baselines]'" in out.stdout


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        amge_eval.nope  # noqa: B018
    assert not hasattr(amge_eval, "nope")
    assert issubclass(MissingExtra, AmgeError) and issubclass(MissingExtra, ImportError)


def test_read_labels_defaults_to_the_cli_store(store, monkeypatch):
    monkeypatch.setenv("AMGE_EVAL_LABELS", str(store.root))
    ls = amge_eval.read_labels(DATASET, "val_seen")
    assert ls.fingerprint == store.labels["val_seen"].fingerprint
    assert amge_eval.read_labels(DATASET, "val_seen", store.root).fingerprint == ls.fingerprint
    assert [m.id for m in amge_eval.MUSCLES][:2] == ["neck_and_head", "chest"]


# --------------------------------------------------------------------------- in-memory scoring

def _parts(store, splits=EVAL, as_tensor=False):
    conv = (lambda a: torch.from_numpy(a)) if as_tensor else (lambda a: a)
    return {s: (store.ids(s), conv(store.scores[s])) for s in splits}


def _same_report(a, b):
    assert list(a.splits) == list(b.splits)
    for split in a.splits:
        x, y = a.splits[split], b.splits[split]
        assert x.map == y.map
        np.testing.assert_array_equal(x.ap, y.ap)
        assert x.intervals == y.intervals
        np.testing.assert_array_equal(x.replicates["activity"], y.replicates["activity"])
    assert {k: (s.value, s.intervals) for k, s in a.summary.items()} == \
        {k: (s.value, s.intervals) for k, s in b.summary.items()}


@pytest.mark.parametrize("as_tensor", [False, pytest.param(True, marks=needs_torch)])
def test_score_in_memory_equals_score_file(tmp_path, store, as_tensor):
    d = tmp_path / "preds"
    for split in EVAL:
        write_predictions(d / f"{split}.npz", store.ids(split), store.scores[split], DATASET, split)
    by_file = score_file(d, labels_dir=store.root, resamples=300)
    mem = amge_eval.score(_parts(store, as_tensor=as_tensor), dataset=DATASET,
                          labels_dir=store.root, resamples=300)
    _same_report(mem, by_file)
    assert {"val_a", "test_a", "val_gap", "test_gap"} <= set(mem.summary)
    assert mem.predictions.format == "memory" and str(mem.predictions.path) == "<memory>"
    assert mem.predictions.sha256 == memory_digest(mem.predictions.parts)
    # a path through the API is score_file itself
    _same_report(amge_eval.score(d, labels_dir=store.root, resamples=300), by_file)


def test_score_in_memory_one_split_and_rows_in_any_order(tmp_path, store):
    split = "test_unseen"
    perm = np.random.default_rng(3).permutation(len(store.ids(split)))
    ids, sc = np.array(store.ids(split))[perm], store.scores[split][perm]
    path = write_predictions(tmp_path / "p.npz", ids, sc, DATASET, split)
    by_file = score_file(path, labels_dir=store.root, resamples=200, ci_kinds=("activity", "sample"))
    mem = amge_eval.score({split: (list(ids), sc)}, dataset=DATASET, labels_dir=store.root,
                          resamples=200, ci="both")
    _same_report(mem, by_file)
    assert mem.splits[split].intervals["sample"] == by_file.splits[split].intervals["sample"]
    # choosing a split among several, without intervals
    one = amge_eval.score(_parts(store), dataset=DATASET, split=split, labels_dir=store.root,
                          ci=())
    assert list(one.splits) == [split] and one.splits[split].map == by_file.splits[split].map


@needs_torch
def test_memory_digest_is_deterministic_and_tracks_the_numbers(store):
    a = amge_eval.score(_parts(store), dataset=DATASET, labels_dir=store.root, ci=())
    b = amge_eval.score(_parts(store, as_tensor=True), dataset=DATASET, labels_dir=store.root,
                        ci=())
    assert a.predictions.sha256 == b.predictions.sha256  # tensor or array, same numbers
    changed = _parts(store)
    ids, sc = changed["val_seen"]
    sc = sc.copy()
    sc[0, 0] += 1
    changed["val_seen"] = (ids, sc)
    c = amge_eval.score(changed, dataset=DATASET, labels_dir=store.root, ci=())
    assert c.predictions.sha256 != a.predictions.sha256


def _write_npz(path, parts, dataset):
    """A multi-split .npz of exactly these arrays, unchecked (the bundle writer refuses some)."""
    arrays = {"muscles": np.array([m.id for m in amge_eval.MUSCLES]), "dataset": np.array(dataset)}
    for split, (ids, sc) in parts.items():
        arrays[f"{split}/sample_ids"] = np.asarray(ids)
        arrays[f"{split}/scores"] = np.asarray(sc)
    np.savez(path, **arrays)
    return path


def _bad_cases(store):
    """name -> in-memory parts; each also written as a multi-split .npz of the same arrays."""
    n = len(store.ids("val_seen"))
    ids = store.ids("val_seen")
    good = store.scores["val_seen"]
    nan = good.copy()
    nan[3, 5] = np.nan
    unknown = list(ids)
    unknown[0] = "sact_0/not_a_sample"
    return {
        "wrong shape": {"val_seen": (ids, good[:, :19])},
        "NaN": {"val_seen": (ids, nan)},
        "unknown ids": {"val_seen": (unknown, good)},
        "too few rows": {"val_seen": (ids[:-1], good[:-1])},
        "lengths differ": {"val_seen": (ids, good[:-1])},
        "duplicated ids": {"val_seen": ([ids[0]] + ids[:-1], good)},
        "train": {"train": (store.ids("train"), store.scores["train"])},
        "bad split name": {"val_sen": (ids, good), "val_unseen": (store.ids("val_unseen"),
                                                                  store.scores["val_unseen"])},
        "string scores": {"val_seen": (ids, np.full((n, 20), "x"))},
    }


@pytest.mark.parametrize("case", ["wrong shape", "NaN", "unknown ids", "too few rows",
                                  "lengths differ", "duplicated ids", "train", "bad split name",
                                  "string scores"])
def test_bad_in_memory_input_fails_with_the_files_codes(tmp_path, store, case):
    parts = _bad_cases(store)[case]
    path = _write_npz(tmp_path / "bad.npz", parts, DATASET)
    with pytest.raises(ValidationFailed) as by_file:
        score_file(path, labels_dir=store.root, resamples=100)
    with pytest.raises(ValidationFailed) as mem:
        amge_eval.score(parts, dataset=DATASET, labels_dir=store.root, resamples=100)
    codes = [p.code for p in mem.value.problems]
    assert codes == [p.code for p in by_file.value.problems]
    assert codes  # and it says something
    expected = {"wrong shape": "E301", "NaN": "E302", "unknown ids": "E401",
                "too few rows": "E400", "lengths differ": "E304", "duplicated ids": "E402",
                "train": "E403", "bad split name": "E202", "string scores": "E300"}[case]
    assert expected in codes


def test_missing_split_and_dataset_fail_with_the_files_codes(tmp_path, store):
    parts = _parts(store, splits=("val_seen",))
    path = write_prediction_bundle(tmp_path / "one.npz", parts, DATASET)
    with pytest.raises(ValidationFailed) as by_file:  # a split the predictions lack
        score_file(path, split="test_unseen", labels_dir=store.root, resamples=100)
    with pytest.raises(ValidationFailed) as mem:
        amge_eval.score(parts, dataset=DATASET, split="test_unseen", labels_dir=store.root,
                        resamples=100)
    assert [p.code for p in mem.value.problems] == [p.code for p in by_file.value.problems] \
        == ["E403"]
    # no dataset anywhere: a file without a 'dataset' key and arrays without dataset= agree
    bare = write_prediction_bundle(tmp_path / "bare.npz", parts)
    with pytest.raises(ValidationFailed) as by_file:
        score_file(bare, labels_dir=store.root, resamples=100)
    with pytest.raises(ValidationFailed) as mem:
        amge_eval.score(parts, labels_dir=store.root, resamples=100)
    assert [p.code for p in mem.value.problems] == [p.code for p in by_file.value.problems] \
        == ["E406"]
    assert "dataset=" in str(mem.value)
    with pytest.raises(ValidationFailed) as mem:
        amge_eval.score({}, dataset=DATASET, labels_dir=store.root)
    assert [p.code for p in mem.value.problems] == ["E200"]


def test_score_refuses_other_inputs_and_settings(store):
    with pytest.raises(TypeError, match="Expected a path or a mapping"):
        amge_eval.score([("val_seen", store.ids("val_seen"))], dataset=DATASET)
    with pytest.raises(AmgeError) as exc:
        amge_eval.score(_parts(store), dataset=DATASET, labels_dir=store.root, ci="clusters")
    assert exc.value.code == "E600"


# --------------------------------------------------------------------------- MaskedMAP

def _feed(metric, scores, labels, cuts):
    for lo, hi in zip((0, *cuts), (*cuts, len(scores))):
        metric.update(torch.from_numpy(scores[lo:hi]), torch.from_numpy(labels[lo:hi]))


@needs_torch
def test_maskedmap_equals_masked_map_and_the_scorer(tmp_path, store):
    d = tmp_path / "preds"
    for split in EVAL:
        write_predictions(d / f"{split}.npz", store.ids(split), store.scores[split], DATASET, split)
    rep = score_file(d, labels_dir=store.root, ci_kinds=())
    rng = np.random.default_rng(0)
    m = amge_eval.MaskedMAP()
    for split in EVAL:
        scores = store.scores[split].astype(np.float64)
        labels = store.labels[split].labels
        n = len(scores)
        cuts = sorted(rng.choice(np.arange(1, n), size=rng.integers(1, 10), replace=False))
        m.reset()
        _feed(m, scores, labels, cuts)
        assert m.num_samples == n
        value = m.compute()
        assert isinstance(value, float)
        assert value == pytest.approx(masked_map(scores, labels).map, abs=1e-12)
        assert value == pytest.approx(rep.splits[split].map, abs=1e-12)


@needs_torch
def test_maskedmap_masked_columns_forward_and_reset():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(40, 20))
    labels = (rng.random((40, 20)) < 0.3).astype(np.int64)
    labels[:, [2, 7]] = 0  # no positive: dropped from the mean, as by the scorer
    m = MaskedMAP()
    batch = m(torch.from_numpy(scores[:15]), torch.from_numpy(labels[:15]))
    assert batch == masked_map(scores[:15], labels[:15]).map
    m.update(torch.from_numpy(scores[15:]), torch.from_numpy(labels[15:].astype(bool)))
    ref = masked_map(scores, labels)
    assert ref.n_scored == 18
    assert m.compute() == ref.map
    m.reset()
    assert m.num_samples == 0
    with pytest.raises(ValueError, match="at least one sample"):
        m.compute()
    m.update(torch.from_numpy(scores[:5]), torch.zeros(5, 20))  # no positive anywhere
    assert np.isnan(m.compute()) and np.isnan(masked_map(scores[:5], np.zeros((5, 20))).map)
    assert np.isnan(m.forward(torch.zeros(0, 20), torch.zeros(0, 20)))  # empty batch: no-op
    assert m.num_samples == 5


@needs_torch
def test_maskedmap_keeps_ties_and_low_precision():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 4, size=(64, 20)).astype(np.float16)  # ties everywhere
    labels = (rng.random((64, 20)) < 0.4)
    m = MaskedMAP()
    m.update(torch.from_numpy(scores).to(torch.bfloat16), torch.from_numpy(labels))
    assert m.compute() == masked_map(scores.astype(np.float32), labels).map
    # the update copies: changing the caller's tensor afterwards changes nothing
    t = torch.from_numpy(scores.astype(np.float32))
    m.reset()
    m.update(t, torch.from_numpy(labels))
    t.zero_()
    assert m.compute() == masked_map(scores.astype(np.float32), labels).map


@needs_torch
@pytest.mark.parametrize("preds, target, match", [  # arrays work as tensors do
    (np.zeros((4, 19)), np.zeros((4, 19)), r"shape \(B, 20\)"),
    (np.zeros((4, 20)), np.zeros((5, 20)), "same shape"),
    (np.full((4, 20), np.nan), np.zeros((4, 20)), "finite"),
    (np.zeros((4, 20)), np.full((4, 20), 0.5), "0/1"),
    (np.zeros((4, 20), dtype=bool), np.zeros((4, 20)), "real-valued"),
])
def test_maskedmap_refuses_bad_batches(preds, target, match):
    m = MaskedMAP()
    with pytest.raises(ValueError, match=match):
        m.update(preds, target)
    assert m.num_samples == 0  # check, then add: a refused batch leaves no trace


@needs_torch
def test_maskedmap_gathers_every_rank(monkeypatch):
    """Two ranks simulated: all_gather_object hands each rank both ranks' states."""
    rng = np.random.default_rng(4)
    scores = rng.normal(size=(50, 20))
    labels = (rng.random((50, 20)) < 0.3)
    ranks = [MaskedMAP(), MaskedMAP()]
    ranks[0].update(torch.from_numpy(scores[:20]), torch.from_numpy(labels[:20]))
    ranks[1].update(torch.from_numpy(scores[20:]), torch.from_numpy(labels[20:]))
    states = [r._local() for r in ranks]
    dist = torch.distributed
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda group=None: 2)

    def all_gather_object(out, obj, group=None):
        out[:] = states

    monkeypatch.setattr(dist, "all_gather_object", all_gather_object)
    ref = masked_map(scores, labels).map
    assert ranks[0].compute() == ref and ranks[1].compute() == ref
    assert MaskedMAP(sync_on_compute=False).forward(torch.from_numpy(scores[:20]),
                                                    torch.from_numpy(labels[:20])) \
        == masked_map(scores[:20], labels[:20]).map


@needs_torch
def test_maskedmap_with_a_real_gloo_group(tmp_path):
    dist = torch.distributed
    if not dist.is_available() or dist.is_initialized():
        pytest.skip("torch.distributed unavailable or already initialised")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0,
                            world_size=1)
    try:
        rng = np.random.default_rng(5)
        scores, labels = rng.normal(size=(30, 20)), rng.random((30, 20)) < 0.3
        m = MaskedMAP()
        m.update(torch.from_numpy(scores), torch.from_numpy(labels))
        assert m.compute() == masked_map(scores, labels).map
    finally:
        dist.destroy_process_group()


@needs_torch
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 60), seed=st.integers(0, 2**32 - 1), n_cuts=st.integers(0, 8),
       levels=st.integers(2, 6), density=st.floats(0.0, 0.6))
def test_maskedmap_any_batching_equals_the_concatenation(n, seed, n_cuts, levels, density):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=(n, 20)).astype(np.float64)  # tie-heavy
    labels = rng.random((n, 20)) < density
    cuts = sorted(set(rng.integers(0, n + 1, size=n_cuts).tolist()))  # empty batches allowed
    m = MaskedMAP()
    _feed(m, scores, labels, cuts)
    got, ref = m.compute(), masked_map(scores, labels).map
    assert (np.isnan(got) and np.isnan(ref)) or got == pytest.approx(ref, abs=1e-12)
