"""The embedded synthetic benchmark: determinism, formats, the rule table and split design, and
that labels are learnable from motion, including for the unseen activities."""

from __future__ import annotations

import numpy as np
import pytest

from amge_eval.harness.datasets import SPLITS, get_card
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.labels import read_labels
from amge_eval.harness.metric import masked_map
from amge_eval.harness.muscles import MUSCLE_IDS
from amge_eval.harness.skeletons import COCO17, read_skeletons, skeleton_path
from amge_eval.harness.synth.activities import (
    ACTIVITIES,
    ACTIVITY_BY_NAME,
    RULES,
    SEEN,
    UNSEEN,
    activity_labels,
    label_vector,
)
from amge_eval.harness.synth.generate import generate_benchmark, is_generated, split_plan

from .conftest import tree_digest


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate_benchmark(root / "labels", root / "data", clips_per_activity=6, video=False)
    return root


def _arrays(root):
    out = {}
    for split in SPLITS:
        sk = read_skeletons(skeleton_path(root / "data", "synth", split))
        out[split] = (sk.sample_ids, sk.offsets, sk.frames, sk.image_size, sk.fps)
    return out


def test_same_seed_same_bytes_any_worker_count(small, tmp_path):
    generate_benchmark(tmp_path / "labels", tmp_path / "data", clips_per_activity=6, video=False,
                       workers=2)
    for split in SPLITS:
        a = (small / "labels" / "synth" / f"{split}.csv").read_bytes()
        b = (tmp_path / "labels" / "synth" / f"{split}.csv").read_bytes()
        assert a == b
    for split, arrays in _arrays(small).items():
        for x, y in zip(arrays, _arrays(tmp_path)[split]):
            np.testing.assert_array_equal(x, y)


def test_other_seed_other_data(small, tmp_path):
    generate_benchmark(tmp_path / "labels", tmp_path / "data", clips_per_activity=6, video=False,
                       seed=1)
    assert not np.array_equal(_arrays(small)["train"][2], _arrays(tmp_path)["train"][2])


def test_outputs_are_in_the_store_formats(small):
    card = get_card("synth")
    for split in SPLITS:
        ls = read_labels(small / "labels", "synth", split)
        sk = read_skeletons(skeleton_path(small / "data", "synth", split))
        assert sk.layout is COCO17
        assert sk.sample_ids.tolist() == ls.sample_ids.tolist()
        for sid, act in zip(ls.sample_ids.tolist(), ls.activities.tolist()):
            assert sid.split("/")[0].replace("_", " ") == act
            seq = sk.get(sid)
            assert seq.shape[1:] == (1, 17, 3) and 48 <= len(seq) <= 96
            conf = seq[..., 2]
            assert ((conf >= 0) & (conf <= 1)).all()
        assert set(ls.activities.tolist()) <= set(ACTIVITY_BY_NAME)
    unseen = set(read_labels(small / "labels", "synth", "val_unseen").activities.tolist())
    assert unseen == set(card.unseen_activities) == {a.name for a in UNSEEN}


def test_default_split_sizes_match_the_card():
    plan = split_plan(16)
    counts = {s: sum(v.count(s) for v in plan.values()) for s in SPLITS}
    assert counts == get_card("synth").split_sizes


def test_keypoints_are_in_frame_and_some_are_dropped(small):
    sk = read_skeletons(skeleton_path(small / "data", "synth", "train"))
    xy, conf = sk.frames[..., :2], sk.frames[..., 2]
    w, h = sk.image_size[0]
    seen = conf > 0
    assert 0.001 < (~seen).mean() < 0.2  # a pose estimator misses a few joints
    assert (xy[seen][:, 0] > -0.1 * w).mean() > 0.99 and (xy[seen][:, 1] < 1.1 * h).mean() > 0.99
    assert (xy[~seen] == 0).all()  # missing joints carry no coordinates


def test_labels_follow_the_rule_table_and_are_per_activity(small):
    for split in SPLITS:
        ls = read_labels(small / "labels", "synth", split)
        for act, row in zip(ls.activities.tolist(), ls.labels):
            np.testing.assert_array_equal(row, activity_labels(ACTIVITY_BY_NAME[act]))
    # a label is a function of (posture, primitives) only: the same composition, the same bits
    for a in ACTIVITIES:
        twin = label_vector(a.posture, tuple(reversed(a.primitives)))
        np.testing.assert_array_equal(activity_labels(a), twin)
    with pytest.raises(KeyError):
        label_vector("standing", ("push",))  # no rule for a push-up standing


def test_unseen_activities_are_new_compositions_of_seen_parts():
    seen_vectors = {activity_labels(a).tobytes() for a in SEEN}
    unseen_vectors = [activity_labels(a).tobytes() for a in UNSEEN]
    assert sum(v not in seen_vectors for v in unseen_vectors) >= len(UNSEEN) // 2
    # a composition: posture, primitives and whether each is held (a held variant of a seen
    # exercise, like the papers' "triceps dip hold" beside "triceps dips", counts as new)
    def comp(a):
        return a.posture, tuple(sorted((st.name, st.hold) for st in a.steps))

    seen_compositions = {comp(a) for a in SEEN}
    seen_postures = {a.posture for a in SEEN}
    seen_primitives = {p for a in SEEN for p in a.primitives}
    train_positive = np.stack([activity_labels(a) for a in SEEN]).any(axis=0)
    for a in UNSEEN:
        assert comp(a) not in seen_compositions, a.name
        assert a.posture in seen_postures and set(a.primitives) <= seen_primitives, a.name
        # every muscle an unseen activity loads is positive somewhere in training
        assert not (activity_labels(a) & ~train_positive).any(), a.name
    assert len(ACTIVITIES) >= 40 and len(RULES) >= 12


def test_constant_scores_score_the_prevalence(small):
    ls = read_labels(small / "labels", "synth", "test_unseen")
    res = masked_map(np.zeros(ls.labels.shape), ls.labels)
    assert res.map == pytest.approx(ls.labels.mean(axis=0)[ls.labels.any(axis=0)].mean())


def _motion_features(root, split):
    """Hand-made motion features: per joint, the mean, spread and speed of torso-normalised
    coordinates (x mirrored to be viewpoint-sign invariant)."""
    sk = read_skeletons(skeleton_path(root / "data", "synth", split))
    feats = []
    for i in range(len(sk)):
        seq = sk.frames[sk.offsets[i]:sk.offsets[i + 1], 0]  # (T, 17, 3)
        xy, ok = seq[..., :2], seq[..., 2:] > 0
        centre = (xy * ok)[:, 5:13].sum(axis=(0, 1)) / np.maximum(ok[:, 5:13].sum(axis=(0, 1)), 1)
        rel = (xy - centre) * ok
        scale = np.abs(rel).max() + 1e-6
        rel = rel / scale
        rel[..., 0] = np.abs(rel[..., 0])
        vel = np.diff(rel, axis=0)
        feats.append(np.concatenate([rel.mean(0).ravel(), rel.std(0).ravel(),
                                     np.abs(vel).mean(0).ravel(), [len(seq) / 100]]))
    return np.array(feats)


def test_labels_are_learnable_from_motion_seen_and_unseen(small):
    """A linear model on simple motion features beats constant scores on seen activities by a
    wide margin, and beats them on unseen activities too: generalisation is possible."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x_train = _motion_features(small, "train")
    y_train = read_labels(small / "labels", "synth", "train").labels
    scaler = StandardScaler().fit(x_train)
    models = {}
    for j in range(len(MUSCLE_IDS)):
        if 0 < y_train[:, j].sum() < len(y_train):
            models[j] = LogisticRegression(C=0.5, max_iter=2000).fit(scaler.transform(x_train),
                                                                     y_train[:, j])
    gains = {}
    for split in ("val_seen", "val_unseen"):
        x = scaler.transform(_motion_features(small, split))
        y = read_labels(small / "labels", "synth", split).labels
        scores = np.zeros(y.shape)
        for j, m in models.items():
            scores[:, j] = m.predict_proba(x)[:, 1]
        chance = masked_map(np.zeros(y.shape), y).map
        gains[split] = (masked_map(scores, y).map, chance)
    seen, seen_chance = gains["val_seen"]
    unseen, unseen_chance = gains["val_unseen"]
    print("learnability (mAP, chance):", gains)
    assert seen > seen_chance + 0.25, gains
    assert unseen > unseen_chance + 0.05, gains


def test_videos_decode_to_the_configured_size_and_length(tmp_path):
    import av

    generate_benchmark(tmp_path / "labels", tmp_path / "data", clips_per_activity=3, video=True,
                       size="96x64", workers=2)
    ls = read_labels(tmp_path / "labels", "synth", "test_unseen")
    sk = read_skeletons(skeleton_path(tmp_path / "data", "synth", "test_unseen"))
    for sid, media in list(zip(ls.sample_ids.tolist(), ls.media.tolist()))[:3]:
        with av.open(str(tmp_path / "data" / "synth" / media)) as f:
            frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(video=0)]
        assert frames[0].shape == (64, 96, 3)
        assert len(frames) == len(sk.get(sid))
        assert np.std(frames[0]) > 5  # a textured room, not a blank frame
    assert is_generated(tmp_path / "labels", tmp_path / "data", clips_per_activity=3,
                        size="96x64", video=True)


def test_regenerating_reuses_and_refuses_to_clobber(small, tmp_path):
    before = tree_digest(small / "labels")
    res = generate_benchmark(small / "labels", small / "data", clips_per_activity=6, video=False)
    assert res.reused and tree_digest(small / "labels") == before
    with pytest.raises(AmgeError, match="overwrite"):
        generate_benchmark(small / "labels", small / "data", clips_per_activity=7, video=False)
    assert tree_digest(small / "labels") == before


@pytest.mark.parametrize("kwargs, message", [
    ({"clips_per_activity": 2}, "between 3 and 10000"),
    ({"size": "97x64"}, "even"),
    ({"size": "big"}, "WIDTHxHEIGHT"),
    ({"seed": -1}, "seed"),
])
def test_bad_settings_are_refused(tmp_path, kwargs, message):
    with pytest.raises(AmgeError, match=message):
        generate_benchmark(tmp_path / "labels", tmp_path / "data", video=False, **kwargs)
    assert not (tmp_path / "labels").exists()


def test_preview_png(small, tmp_path):
    from PIL import Image

    from amge_eval.harness.synth.preview import write_preview

    generate_benchmark(tmp_path / "labels", tmp_path / "data", clips_per_activity=3, video=True,
                       size=64, workers=2)
    out = write_preview(tmp_path / "labels", tmp_path / "data", tmp_path / "sheet.png",
                        clips_per_activity=1, frames_per_clip=2, activities=["squat", "push up"])
    img = Image.open(out)
    assert img.size[0] > 64 and img.size[1] > 32


def test_doc_prints_the_rule_tables_as_the_code_has_them():
    from pathlib import Path

    from amge_eval.harness.synth.activities import POSTURE_LOAD

    doc = (Path(__file__).resolve().parents[1] / "docs" / "synth.md").read_text()
    for posture, muscles in POSTURE_LOAD.items():
        assert f"| {posture} | {', '.join(muscles) or '-'} |" in doc
    for prim, table in RULES.items():
        for posture, muscles in table.items():
            assert f"| {prim} | {posture} | {', '.join(muscles) or '(the posture load only)'} |" in doc
    for a in ACTIVITIES:
        lab = [m for m, b in zip(MUSCLE_IDS, activity_labels(a)) if b]
        prims = " + ".join(f"{st.name}{' (held)' if st.hold else ''}" for st in a.steps)
        row = (f"| {a.name} | {'unseen' if a.unseen else 'seen'} | {a.posture} | {prims} | "
               f"{', '.join(lab)} |")
        assert row in doc, row
