"""The label store, its fingerprint, and the import of the official release pickles."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import MultiLabelBinarizer

from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.labels import (
    activity_from_dirname,
    make_label_set,
    read_labels,
    sample_id_from_path,
    split_path,
    write_labels,
)
from amge_eval.harness.official import import_official, multi_hot, safe_unpickle

from .conftest import tree_digest


def _set(ids, y, acts=None, split="test_unseen"):
    return make_label_set("musclemap136", split, ids, acts or ["a"] * len(ids),
                          [f"{i}.mp4" for i in ids], y)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 19), max_size=20), min_size=1, max_size=40))
def test_multi_hot_equals_multilabelbinarizer(index_lists):
    ref = MultiLabelBinarizer(classes=list(range(20))).fit_transform(index_lists)
    np.testing.assert_array_equal(multi_hot(index_lists), ref)


def test_csv_round_trip_and_fingerprint(tmp_path):
    rng = np.random.default_rng(0)
    y = (rng.random((30, 20)) < 0.3).astype(int)
    ls = _set([f"act/c{i}" for i in range(30)], y, [f"act {i % 3}" for i in range(30)])
    write_labels(tmp_path, ls)
    back = read_labels(tmp_path, "musclemap136", "test_unseen")
    assert back.fingerprint == ls.fingerprint
    np.testing.assert_array_equal(back.labels, ls.labels)
    assert back.sample_ids.tolist() == ls.sample_ids.tolist()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1))
def test_fingerprint_ignores_row_order_and_media_but_sees_every_bit(seed):
    rng = np.random.default_rng(seed)
    n = 12
    y = (rng.random((n, 20)) < 0.4).astype(int)
    ids = [f"a/{i}" for i in range(n)]
    base = _set(ids, y)
    perm = rng.permutation(n)
    shuffled = make_label_set("musclemap136", "test_unseen", [ids[i] for i in perm],
                              ["a"] * n, [f"elsewhere/{i}" for i in perm], y[perm])
    assert shuffled.fingerprint == base.fingerprint
    flipped = y.copy()
    r, c = rng.integers(0, n), rng.integers(0, 20)
    flipped[r, c] ^= 1
    assert _set(ids, flipped).fingerprint != base.fingerprint
    assert _set(ids, y, split="val_unseen").fingerprint != base.fingerprint
    assert _set(ids, y, acts=["b"] * n).fingerprint != base.fingerprint


def test_write_refuses_to_overwrite_different_labels(tmp_path):
    y = np.zeros((2, 20), dtype=int)
    write_labels(tmp_path, _set(["a/1", "a/2"], y))
    before = tree_digest(tmp_path)
    y2 = y.copy()
    y2[0, 0] = 1
    with pytest.raises(AmgeError, match="--replace"):
        write_labels(tmp_path, _set(["a/1", "a/2"], y2))
    assert tree_digest(tmp_path) == before
    write_labels(tmp_path, _set(["a/1", "a/2"], y2), replace=True)
    assert read_labels(tmp_path, "musclemap136", "test_unseen").labels[0, 0] == 1


def test_missing_labels_say_what_to_do(tmp_path):
    with pytest.raises(MissingData, match="labels import") as exc:
        read_labels(tmp_path, "musclemap136", "test_unseen")
    assert exc.value.exit_code == 3
    with pytest.raises(MissingData, match="data synth"):
        read_labels(tmp_path, "synth", "test_unseen")


@pytest.mark.parametrize("ids, message", [
    (["a/1", "a/1"], "duplicated"),
    (["", "a/2"], "invalid sample ids"),
    ([" a/1", "a/2"], "invalid sample ids"),
    (["a/\n1", "a/2"], "invalid sample ids"),
])
def test_bad_ids_are_refused(ids, message):
    with pytest.raises(AmgeError, match=message):
        _set(ids, np.zeros((2, 20), dtype=int))


def test_corrupt_csv_is_refused(tmp_path):
    path = split_path(tmp_path, "musclemap136", "test_seen")
    path.parent.mkdir(parents=True)
    path.write_text("sample_id,activity,media\nx,y,z\n")
    with pytest.raises(AmgeError, match="header"):
        read_labels(tmp_path, "musclemap136", "test_seen")


@pytest.mark.parametrize("path, sid, activity", [
    ("/data/musclemap_trimmed/push_ups/clip_0001.mp4", "push_ups/clip_0001", "push ups"),
    ("UCF-101/ShavingBeard/v_ShavingBeard_g01_c01.avi", "ShavingBeard/v_ShavingBeard_g01_c01",
     "shaving beard"),
    ("C:\\videos\\v-ups\\a.b.mp4", "v-ups/a.b", "v-ups"),
    ("lonely.mp4", "lonely", ""),
])
def test_sample_id_and_activity_from_path(path, sid, activity):
    from amge_eval.harness.labels import activity_from_path

    assert sample_id_from_path(path) == sid
    assert activity_from_path(path) == activity


def test_activity_names_match_the_cards_unseen_lists():
    assert activity_from_dirname("PoleVault") == "pole vault"
    assert activity_from_dirname("hops_on_the_spot") == "hops on the spot"


def _write_pickles(tmp_path, videos, labels, name="x"):
    v, lab = tmp_path / f"{name}_videos.pkl", tmp_path / f"{name}_labels.pkl"
    v.write_bytes(pickle.dumps(videos))
    lab.write_bytes(pickle.dumps(labels))
    return v, lab


def test_official_import(tmp_path):
    videos = [f"/srv/musclemap_trimmed/{a}/c{i}.mp4" for i, a in
              enumerate(["hollow_hold", "v-ups", "running", "running"])]
    labels = [[0, 9, 10], [9, 10, 13], [12, 13, 14, 17], [12, 13, 14, 17]]
    v, lab = _write_pickles(tmp_path, videos, labels)
    store = tmp_path / "store"
    ls, path, warnings = import_official("musclemap136", "test_unseen", v, lab, store,
                                         activity_from="parent", allow_activity_mismatch=True,
                                         media_rewrite={"musclemap_trimmed": "musclemap_rescale"})
    assert path == split_path(store, "musclemap136", "test_unseen")
    assert ls.sample_ids.tolist() == ["hollow_hold/c0", "v-ups/c1", "running/c2", "running/c3"]
    assert ls.activities.tolist() == ["hollow hold", "v-ups", "running", "running"]
    assert ls.media[0] == "/srv/musclemap_rescale/hollow_hold/c0.mp4"
    np.testing.assert_array_equal(ls.labels, MultiLabelBinarizer(classes=list(range(20)))
                                  .fit_transform(labels))
    assert any("paper reports 1612" in w for w in warnings)
    assert any("3 activities in test_unseen" in w and "card says 20" in w for w in warnings)
    assert (store / "musclemap136" / "test_unseen.provenance.json").is_file()


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/amge-eval-pwned",))


@pytest.mark.parametrize("payload, message", [
    (pickle.dumps(_Evil()), "other than lists"),
    (pickle.dumps(np.array([1, "a"], dtype=object)), "numpy array of Python objects"),
    (pickle.dumps({"a": 1}), "holds a dict"),
    (pickle.dumps([1.5]), "holds a float"),
    (pickle.dumps([True]), "holds a bool"),
    (pickle.dumps([b"x"]), "holds a bytes"),
    (pickle.dumps({1, 2}), "holds a set"),
    (pickle.dumps([None]), "holds a NoneType"),
    (b"\x80\x04\x95", "not a readable pickle"),
    (b"", "is empty"),
])
def test_restricted_unpickler_refuses_everything_but_plain_lists(tmp_path, payload, message):
    p = tmp_path / "bad.pkl"
    p.write_bytes(payload)
    with pytest.raises(AmgeError, match=message):
        safe_unpickle(p, "Labels")
    assert not os.path.exists("/tmp/amge-eval-pwned")


@pytest.mark.parametrize("videos, labels, message", [
    (["a/1.mp4"], [[20]], "outside 0..19"),
    (["a/1.mp4"], [[-1]], "outside 0..19"),
    (["a/1.mp4", "a/2.mp4"], [[1]], "pair up"),
    ([1, 2], [[1], [2]], "list of path strings"),
    (["a/1.mp4"], [1], "lists of muscle indices"),
    (["a/1.mp4", "a/1.avi"], [[1], [2]], "duplicated sample ids"),
])
def test_official_import_refuses_malformed_releases(tmp_path, videos, labels, message):
    v, lab = _write_pickles(tmp_path, videos, labels)
    store = tmp_path / "store"
    with pytest.raises(AmgeError, match=message):
        import_official("musclemap136", "test_unseen", v, lab, store, activity_from="parent")
    assert not store.exists()
