"""Reading the official release as it really is: activities from file names (the release's own
rule), folders or a user pattern, checked against the card's activity counts; numpy-typed
pickles read safely; and the same label matrix the release's reader builds.

The release's reader is re-implemented here from its documented behaviour (MuscleMapDataset and
MuscleMapV2 in the public release): ``pickle.load`` the label list, append ``range(20)``, fit
scikit-learn's MultiLabelBinarizer, drop the appended row. That independent path is what the
import must agree with, on plain and on numpy-typed pickles alike.
"""

from __future__ import annotations

import codecs
import json
import os
import pickle
import time

import numpy as np
import pytest
from sklearn.preprocessing import MultiLabelBinarizer

from amge_eval.harness.datasets import builtin_cards, get_card
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.labels import (
    activity_from_dirname,
    activity_from_filename,
    activity_of_paths,
    read_labels,
)
from amge_eval.harness.official import (
    NUMPY_GLOBALS,
    import_official,
    read_official_split,
    safe_unpickle,
)

from .conftest import tree_digest

ROOT = "/data/cvpr2023/musclemap_trimmed"


def release_matrix(labels_pkl) -> np.ndarray:
    """What the release's reader makes of a label pickle (trusted test data: plain pickle)."""
    with open(labels_pkl, "rb") as f:
        labels = pickle.load(f)
    labels.append(list(range(20)))  # the release's trick to fix the classes to 0..19
    return MultiLabelBinarizer().fit_transform(labels)[:-1]


def flat_split(names, clips=3, seed=0):
    """Flat release-style paths (one folder for every clip) and per-activity label lists."""
    rng = np.random.default_rng(seed)
    table = {a: sorted(rng.choice(20, size=int(rng.integers(1, 6)), replace=False).tolist())
             for a in names}
    videos, labels = [], []
    for a in names:
        for c in range(clips):
            videos.append(f"{ROOT}/yt{c:03d}_AN_{a}_ST_{10 * c}_ET_{10 * c + 5}.mp4")
            labels.append(table[a])  # one shared list per activity, as the release builds it
    return videos, labels


UNSEEN = [a.replace(" ", "_") for a in get_card("musclemap136").unseen_activities]
SEEN = [f"exercise_{k:03d}" for k in range(116)]


def write(tmp_path, videos, labels, name="x", protocol=4):
    v, lab = tmp_path / f"{name}_videos.pkl", tmp_path / f"{name}_labels.pkl"
    v.write_bytes(pickle.dumps(videos, protocol=protocol))
    lab.write_bytes(pickle.dumps(labels, protocol=protocol))
    return v, lab


# --------------------------------------------------------------------------- activity modes

def test_card_defaults_follow_what_each_release_ships():
    modes = {name: c.activity_from_path for name, c in builtin_cards().items()}
    assert modes == {"musclemap136": "filename", "musclemap-wild": "filename",
                     "muscle-ucf90": "parent", "muscle-hmdb41": "parent", "synth": "parent"}


def test_filename_rule_is_the_releases():
    # the release: item.split('AN_')[-1].split('_ST')[0], then our usual normalisation
    for path in (f"{ROOT}/yt001_AN_push_ups_ST_3_ET_9.mp4", "C:\\v\\AN_x\\a_AN_PushUps_ST_1.avi",
                 "q_AN_v-ups_ST_STx_ST_2.mp4"):
        raw = path.split("AN_")[-1].split("_ST")[0]
        assert activity_from_filename(path) == activity_from_dirname(raw)
    assert activity_from_filename(f"{ROOT}/yt001_AN_push_ups_ST_3_ET_9.mp4") == "push ups"
    assert activity_from_filename("a/AN_b_ST/clip.mp4") is None  # only the file name counts
    assert activity_from_filename("a/clip_AN_push_ups.mp4") is None  # no _ST
    assert activity_from_filename("a/clip_AN__ST_1.mp4") is None  # empty name


def test_flat_release_paths_import_with_the_default(tmp_path):
    videos, labels = flat_split(UNSEEN)
    v, lab = write(tmp_path, videos, labels)
    ls, _, warnings = import_official("musclemap136", "test_unseen", v, lab, tmp_path / "store")
    assert sorted(set(ls.activities.tolist())) == sorted(get_card("musclemap136").unseen_activities)
    assert not [w for w in warnings if "activit" in w]
    assert ls.sample_ids[0] == "musclemap_trimmed/yt000_AN_hollow_hold_ST_0_ET_5"
    prov = json.loads((tmp_path / "store/musclemap136/test_unseen.provenance.json").read_text())
    assert prov["activity_from"] == "filename" and prov["activities"] == 20
    assert prov["activity_mismatch_allowed"] is None


def test_parent_on_flat_paths_is_refused_with_what_was_found(tmp_path):
    videos, labels = flat_split(SEEN, clips=2)
    v, lab = write(tmp_path, videos, labels)
    store = tmp_path / "store"
    with pytest.raises(AmgeError) as err:
        import_official("musclemap136", "test_seen", v, lab, store, activity_from="parent")
    assert err.value.code == "E514"
    msg = err.value.message
    assert msg.startswith("1 activity in test_seen: every path gave 'musclemap trimmed'; the "
                          "card says 116")
    assert "--activity-from filename gives 116" in msg and "--allow-activity-mismatch" in msg
    assert not store.exists()


def test_a_count_off_by_one_is_refused_and_the_override_records_it(tmp_path):
    videos, labels = flat_split(SEEN[:115], clips=2)
    v, lab = write(tmp_path, videos, labels)
    store = tmp_path / "store"
    with pytest.raises(AmgeError, match=r"^115 activities in train \(first: 'exercise 000', "
                                         r"'exercise 001', 'exercise 002'\); the card says 116"):
        import_official("musclemap136", "train", v, lab, store)
    assert not store.exists()
    ls, _, warnings = import_official("musclemap136", "train", v, lab, store,
                                      allow_activity_mismatch=True)
    assert len(set(ls.activities.tolist())) == 115
    assert any("115 activities in train" in w and "--allow-activity-mismatch" in w
               for w in warnings)
    prov = json.loads((store / "musclemap136/train.provenance.json").read_text())
    assert "card says 116" in prov["activity_mismatch_allowed"]


def test_unseen_splits_are_held_to_the_unseen_count(tmp_path):
    videos, labels = flat_split(UNSEEN[:19])
    v, lab = write(tmp_path, videos, labels)
    with pytest.raises(AmgeError, match="19 activities in val_unseen .*the card says 20") as err:
        import_official("musclemap136", "val_unseen", v, lab, tmp_path / "s")
    assert err.value.code == "E514"


def test_none_mode_skips_the_count(tmp_path):
    videos, labels = flat_split(UNSEEN[:3])
    v, lab = write(tmp_path, videos, labels)
    ls, _, _ = import_official("musclemap136", "test_unseen", v, lab, tmp_path / "s",
                               activity_from="none")
    assert set(ls.activities.tolist()) == {""}


def test_parent_mode_for_per_class_folders(tmp_path):
    card = get_card("muscle-ucf90")
    classes = ["Hammering", "ShavingBeard", "Knitting", "ShotPut", "Diving", "Bowling", "Skiing",
               "PoleVault", "SalsaSpin"]
    videos = [f"/ucf/UCF-101/{c}/v_{c}_g0{i}_c01.avi" for c in classes for i in (1, 2)]
    v, lab = write(tmp_path, videos, [[1, 2]] * len(videos))
    ls, _, warnings = import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s")
    assert sorted(set(ls.activities.tolist())) == sorted(card.unseen_activities)
    assert not [w for w in warnings if "activit" in w]


def test_regex_mode_named_or_single_group(tmp_path):
    classes = ["Hammering", "ShavingBeard", "Knitting", "ShotPut", "Diving", "Bowling", "Skiing",
               "PoleVault", "SalsaSpin"]
    videos = [f"/ucf/flat/v_{c}_g0{i}_c01.avi" for c in classes for i in (1, 2)]
    v, lab = write(tmp_path, videos, [[3]] * len(videos))
    for pattern in (r"/v_(?P<activity>[A-Za-z]+)_g\d+_c\d+", r"v_([A-Za-z]+)_g"):
        ls, _, _ = import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s",
                                   activity_regex=pattern, replace=True)
        assert "shaving beard" in ls.activities.tolist()
    # the same on the explicit mode, and the error modes
    with pytest.raises(AmgeError, match="2 groups; give it one group") as err:
        import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s",
                        activity_regex=r"(v)_([A-Za-z]+)")
    assert err.value.code == "E505"
    with pytest.raises(AmgeError, match="not a valid regular expression"):
        import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s",
                        activity_regex="(")
    with pytest.raises(AmgeError, match="only with --activity-from regex"):
        import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s",
                        activity_from="parent", activity_regex="(x)")
    with pytest.raises(AmgeError, match="needs --activity-regex"):
        import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s",
                        activity_from="regex")
    with pytest.raises(AmgeError, match=r"18 of 18 video paths have no match") as err:
        import_official("muscle-ucf90", "test_unseen", v, lab, tmp_path / "s",
                        activity_regex=r"/w_(\w+)")
    assert err.value.code == "E505"


def test_filename_mode_on_paths_without_the_marks(tmp_path):
    v, lab = write(tmp_path, ["/d/push_ups/c1.mp4", "/d/squat/c2.mp4"], [[1], [2]])
    with pytest.raises(AmgeError, match=r"2 of 2 video paths have no AN_<activity>_ST .*"
                                        r"--activity-from parent") as err:
        import_official("musclemap136", "train", v, lab, tmp_path / "s")
    assert err.value.code == "E505"
    with pytest.raises(AmgeError, match="Did you mean 'filename'"):
        activity_of_paths(["a/b"], "filenames")


def test_a_store_card_can_name_its_pattern(tmp_path):
    store = tmp_path / "store"
    (store / "mine").mkdir(parents=True)
    card = ('name = "mine"\nactivities = 3\nactivity_from_path = "regex"\n'
            'activity_regex = "clip-(?P<activity>[a-z]+)-"\n[unseen]\ncount = 1\n'
            'activities = ["squat"]\n')
    (store / "mine" / "card.toml").write_text(card)
    v, lab = write(tmp_path, ["/x/clip-squat-1.mp4", "/x/clip-squat-2.mp4"], [[1], [1]])
    ls, _, _ = import_official("mine", "test_unseen", v, lab, store)
    assert ls.activities.tolist() == ["squat", "squat"]
    for bad, message in (('activity_from_path = "regex"\n', "needs activity_regex"),
                         ('activity_from_path = "filenme"\n', "Did you mean 'filename'"),
                         ('activity_regex = "(a)"\n', 'read only with activity_from_path = '
                                                      '"regex"'),
                         ('activity_from_path = "regex"\nactivity_regex = "(a)(b)"\n',
                          "2 groups")):
        (store / "mine" / "card.toml").write_text('name = "mine"\nactivities = 3\n' + bad)
        with pytest.raises(AmgeError, match=message) as err:
            get_card("mine", store)
        assert err.value.code == "E500"


def test_cli_import_modes_and_refusal(tmp_path, cli):
    videos, labels = flat_split(SEEN, clips=1)
    v, lab = write(tmp_path, videos, labels)
    store = tmp_path / "store"
    code, _, err = cli("labels", "import", "--dataset", "musclemap136", "--split", "test_seen",
                       "--videos", v, "--labels", lab, "--labels-dir", store,
                       "--activity-from", "parent")
    assert code == 1 and "1 activity in test_seen" in err and err.rstrip().endswith("(E514)")
    assert not store.exists()
    code, out, err = cli("labels", "import", "--dataset", "musclemap136", "--split", "test_seen",
                         "--videos", v, "--labels", lab, "--labels-dir", store)
    assert code == 0, err
    assert "(116 activities)" in out
    code, out, err = cli("labels", "import", "--dataset", "musclemap136", "--split", "test_seen",
                         "--videos", v, "--labels", lab, "--labels-dir", store, "--replace",
                         "--activity-regex", r"AN_(?P<activity>.+?)_ST")
    assert code == 0 and "(116 activities)" in out
    code, out, err = cli("datasets", "show", "musclemap136")
    assert "Activity from a video path (labels import): filename" in out
    assert "names no muscles" in out


# --------------------------------------------------------------------------- numpy pickles

def numpy_forms(videos, labels):
    """The same split as the release's tools could have pickled it, numpy-typed."""
    return {
        "plain": (videos, labels),
        "str-array + int64 arrays": (np.array(videos), [np.array(x, dtype=np.int64)
                                                        for x in labels]),
        "np.str_ list + np.int64 scalars": ([np.str_(x) for x in videos],
                                            [[np.int64(j) for j in x] for x in labels]),
        "uint8 and big-endian int32 rows": (list(videos), [np.array(x, dtype=np.uint8 if i % 2
                                                                   else ">i4")
                                                          for i, x in enumerate(labels)]),
    }


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_numpy_typed_pickles_give_the_releases_matrix(tmp_path, protocol):
    videos, labels = flat_split(UNSEEN, clips=2, seed=protocol)
    expected = None
    for form, (vs, ls_) in numpy_forms(videos, labels).items():
        v, lab = write(tmp_path, vs, ls_, name=form.replace(" ", "_"), protocol=protocol)
        ref = release_matrix(lab)
        got, _, _ = import_official("musclemap136", "test_unseen", v, lab, tmp_path / "store",
                                    replace=True)
        np.testing.assert_array_equal(got.labels, ref, err_msg=form)
        expected = got.fingerprint if expected is None else expected
        assert got.fingerprint == expected, form  # every form imports the same labels
    assert read_labels(tmp_path / "store", "musclemap136", "test_unseen").fingerprint == expected


def test_numpy_1_pickles_are_read_too(tmp_path):
    # numpy 1 names its modules numpy.core.*; protocol 2/3 spell globals as text lines
    videos, labels = flat_split(UNSEEN[:2])
    for protocol in (2, 3):
        raw = pickle.dumps([np.array(x) for x in labels], protocol=protocol)
        assert b"numpy._core.multiarray" in raw
        old = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
        p = tmp_path / f"np1-{protocol}.pkl"
        p.write_bytes(old)
        assert safe_unpickle(p, "Labels") == [list(x) for x in labels]
    raw5 = pickle.dumps(np.array([3, 4]), protocol=5)
    assert raw5[2] == 0x95  # one FRAME: fix its length after the name loses a character
    size = int.from_bytes(raw5[3:11], "little")
    body = raw5[11:].replace(b"\x8c\x13numpy._core.numeric", b"\x8c\x12numpy.core.numeric")
    p = tmp_path / "np1-5.pkl"
    p.write_bytes(raw5[:3] + (size - 1).to_bytes(8, "little") + body)
    assert safe_unpickle(p, "Labels") == [3, 4]


def test_two_d_index_array_is_accepted(tmp_path):
    v, lab = write(tmp_path, np.array([f"{ROOT}/a_AN_v-ups_ST_1.mp4", f"{ROOT}/b_AN_v-ups_ST_2.mp4"]),
                   np.array([[1, 5], [1, 5]], dtype=np.int16))
    paths, y = read_official_split(v, lab)
    assert paths[0].endswith("a_AN_v-ups_ST_1.mp4") and y[:, [1, 5]].all() and y.sum() == 4


def test_the_allow_list_is_exactly_numpys_rebuild_globals():
    names = {f"{m}.{n}" for m, n in NUMPY_GLOBALS}
    assert names == {"numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
                     "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
                     "numpy._core.multiarray.scalar", "numpy.core.numeric._frombuffer",
                     "numpy._core.numeric._frombuffer", "_codecs.encode"}
    # none of them resolves to numpy itself: each is a checking function of amge-eval
    assert all(not getattr(f, "__module__", "").startswith("numpy") for f in NUMPY_GLOBALS.values())


class _Reduce:
    """Pickles as an arbitrary call: what a hostile file can contain."""

    def __init__(self, func, args, state=None):
        self.func, self.args, self.state = func, args, state

    def __reduce__(self):
        return (self.func, self.args) if self.state is None else (self.func, self.args,
                                                                   self.state)


_RECON = np._core.multiarray._reconstruct
_FROMBUF = np._core.numeric._frombuffer
_SCALAR = np._core.multiarray.scalar
_row = [1, 2]
_cycle: list = []
_cycle.append(_cycle)
_deep: list = [1]
for _ in range(80):
    _deep = [_deep, _deep]  # 2**80 paths if walked naively


@pytest.mark.parametrize("payload, message", [
    (np.array([1, "a"], dtype=object), "numpy array of Python objects"),
    ([np.array([None, 1])], "numpy array of Python objects"),
    (np.zeros(2, dtype=[("a", "i4"), ("b", "O")]), "void or structured"),
    (np.zeros(2, dtype=[("a", "i4"), ("b", "f4")]), "void or structured"),
    (np.array([b"ab", b"cd"]), "numpy array of bytes"),
    (np.array([1 + 2j]), "complex numbers"),
    (np.array(["2020-01-01"], dtype="M8[D]"), "datetimes"),
    (np.zeros((2, 2, 2), dtype=np.int64), "3 axes"),
    (np.ma.masked_array([1, 2]), "refused to load numpy.ma"),
    (np.matrix([[1, 2]]), "refused to load numpy.matrix"),
    (np.rec.array([(1, 2)]), "refused to load"),
    (_Reduce(os.system, ("touch /tmp/amge-eval-pwned",)), "refused to load posix.system"),
    (_Reduce(pickle.loads, (pickle.dumps([1]),)), "refused to load _pickle.loads"),
    (_Reduce(np.load, ("/etc/passwd",)), "refused to load numpy.load"),
    (_Reduce(_RECON, (np.ndarray, (0,), b"b"), (1, (10**12,), np.dtype("i8"), False, b"\0" * 8)),
     "declares 1000000000000 elements"),
    (_Reduce(_RECON, (np.ndarray, (0,), b"b"), (1, (4096,), np.dtype("i8"), False, b"\0" * 8)),
     "holds 8 bytes"),
    (_Reduce(_FROMBUF, (b"\0" * 8, np.dtype("i8"), (10**6,), "C")), "holds 8 bytes"),
    (_Reduce(_RECON, (np.dtype, (0,), b"b")), "unsupported numpy array reconstruction"),
    (_Reduce(_SCALAR, (np.dtype("i8"), b"\0" * 3)), "holds 3 bytes, not 8"),
    (_Reduce(codecs.encode, ("x", "utf-8")), "other than of text to latin1"),
    (np.array([1.0, 2.0]), "holds a float"),
    ([np.float64(3.0)], "holds a float"),
    (np.array([True]), "holds a bool"),
    ([np.bool_(True)], "holds a bool"),
    ({"a": np.int64(1)}, "holds a dict"),
    (_cycle, "contains itself"),
    (_deep, "nested more than 4 deep"),
])
def test_hostile_numpy_pickles_are_refused(tmp_path, payload, message):
    p = tmp_path / "bad.pkl"
    p.write_bytes(pickle.dumps(payload, protocol=4))
    t0 = time.perf_counter()
    with pytest.raises(AmgeError, match=message) as err:
        safe_unpickle(p, "Labels")
    assert err.value.code == "E504"
    assert time.perf_counter() - t0 < 5
    assert not os.path.exists("/tmp/amge-eval-pwned")


@pytest.mark.parametrize("labels, message", [
    ([np.array([1.0])], "holds a float"),
    ([np.array([True, False])], "holds a bool"),
    ([np.array([-1])], "outside 0..19"),
    ([np.array([20], dtype=np.uint8)], "outside 0..19"),
    ([[np.int64(19), np.int64(25)]], "outside 0..19"),
    ([np.array([1]), np.array([2])], "pair up"),
    (np.array([3, 4]), "lists of muscle indices"),
    ([np.arange(65) % 20], "at most 64"),
])
def test_numpy_labels_that_are_not_the_releases_are_refused(tmp_path, labels, message):
    v, lab = write(tmp_path, np.array([f"{ROOT}/a_AN_v-ups_ST_1.mp4"]), labels)
    store = tmp_path / "store"
    with pytest.raises(AmgeError, match=message):
        import_official("musclemap136", "test_unseen", v, lab, store)
    assert not store.exists()


def test_shared_rows_stay_cheap(tmp_path):
    # the release pickles one list object per activity, shared by all its clips
    row = [0, 3, 7]
    v, lab = write(tmp_path, [f"{ROOT}/c{i}_AN_v-ups_ST_1.mp4" for i in range(50_000)],
                   [row] * 50_000)
    t0 = time.perf_counter()
    _, y = read_official_split(v, lab)
    assert y.shape == (50_000, 20) and y[:, row].all()
    assert time.perf_counter() - t0 < 20


def test_refused_import_leaves_the_store_untouched(tmp_path):
    videos, labels = flat_split(UNSEEN)
    v, lab = write(tmp_path, videos, labels)
    store = tmp_path / "store"
    import_official("musclemap136", "test_unseen", v, lab, store)
    before = tree_digest(store)
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(pickle.dumps([np.array([1, None])] * len(videos)))
    for kwargs in ({"labels_pkl": bad}, {"activity_from": "parent"}):
        args = {"videos_pkl": v, "labels_pkl": lab, "replace": True, **kwargs}
        with pytest.raises(AmgeError):
            import_official("musclemap136", "test_unseen", labels_dir=store, **args)
    assert tree_digest(store) == before
