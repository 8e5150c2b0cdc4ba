"""Skeleton loading: normalisation invariances, resampling, person selection, augmentation,
missing joints, and determinism across DataLoader workers and epochs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.baselines.data.datasets import SkeletonDataset, make_loader
from amge_eval.baselines.data.skeleton import (
    SkeletonSettings,
    flip_permutation,
    normalize_clip,
    resample_indices,
    select_persons,
    skeleton_clip,
    train_indices,
    uniform_indices,
)
from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.labels import make_label_set
from amge_eval.harness.skeletons import (
    COCO17,
    HALPE26,
    LAYOUTS,
    OPENPOSE18,
    read_skeletons,
    write_skeletons,
)

torch.set_num_threads(1)


def _sequence(seed: int, t: int, m: int = 1, v: int = 17, missing: float = 0.2) -> np.ndarray:
    """Random (T, M, V, 3) in pixels; a fraction of joints missing (all zero), torso kept in frame 0."""
    rng = np.random.default_rng(seed)
    x = np.zeros((t, m, v, 3), np.float32)
    x[..., 0] = rng.uniform(50, 1200, (t, m, v))
    x[..., 1] = rng.uniform(50, 700, (t, m, v))
    x[..., 2] = rng.uniform(0.05, 1.0, (t, m, v))
    gone = rng.uniform(size=(t, m, v)) < missing
    if t:
        gone[0, 0, [5, 6, 11, 12]] = False
    x[gone] = 0
    return x


def _move(x: np.ndarray, shift, scale: float) -> np.ndarray:
    """Translate and scale the valid joints; missing joints stay all zero."""
    y = x.copy()
    valid = y[..., 2] > 0
    y[..., 0] = np.where(valid, x[..., 0] * scale + shift[0], 0)
    y[..., 1] = np.where(valid, x[..., 1] * scale + shift[1], 0)
    return y


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), t=st.integers(1, 40), m=st.integers(1, 3),
       shift=st.tuples(st.floats(-800, 800), st.floats(-800, 800)), scale=st.floats(0.2, 5.0),
       center=st.sampled_from(["torso", "joint"]), unit=st.sampled_from(["torso", "bbox"]))
def test_center_scale_invariant_to_translation_and_scale(seed, t, m, shift, scale, center, unit):
    x = _sequence(seed, t, m)
    s = SkeletonSettings(frames=16, max_persons=m, center=center, scale=unit)
    a = skeleton_clip(x, COCO17, s)
    b = skeleton_clip(_move(x, shift, scale), COCO17, s)
    np.testing.assert_allclose(a, b, atol=2e-4, rtol=1e-4)


def test_center_scale_puts_torso_centre_at_origin_with_unit_torso():
    # a rigid skeleton standing still: shoulders 100 px above the hips
    x = np.zeros((5, 1, 17, 3), np.float32)
    x[..., 2] = 1.0
    x[:, 0, :, 0] = 300.0
    x[:, 0, :, 1] = 200.0
    x[:, 0, [5, 6], 0] = [[280.0, 320.0]]
    x[:, 0, [5, 6], 1] = 150.0
    x[:, 0, [11, 12], 0] = [[285.0, 315.0]]
    x[:, 0, [11, 12], 1] = 250.0
    out = normalize_clip(x, COCO17, "center-scale")
    np.testing.assert_allclose(out[..., [5, 6, 11, 12], :2].mean(axis=2), 0, atol=1e-6)
    np.testing.assert_allclose(out[0, 0, 11, 1] - out[0, 0, 5, 1], 1.0, atol=1e-6)


def test_image_normalisation_against_direct_formula():
    x = _sequence(1, 10, 2)
    out = normalize_clip(x, COCO17, "image", image_size=(1280, 720))
    valid = x[..., 2] > 0
    np.testing.assert_allclose(out[..., 0][valid], x[..., 0][valid] / 640 - 1, atol=1e-6)
    np.testing.assert_allclose(out[..., 1][valid], x[..., 1][valid] / 360 - 1, atol=1e-6)
    assert not out[~valid].any()
    np.testing.assert_array_equal(normalize_clip(x, COCO17, "none"), x)
    with pytest.raises(AmgeError, match="needs the image size") as ei:
        normalize_clip(x, COCO17, "image", image_size=(0, 0))
    assert ei.value.code == "E731"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 1000), t=st.integers(0, 150), frames=st.integers(1, 80),
       short=st.sampled_from(["stretch", "loop", "pad"]), views=st.integers(1, 4),
       normalize=st.sampled_from(["center-scale", "image"]))
def test_missing_joints_stay_zero_and_length_is_fixed(seed, t, frames, short, views, normalize):
    x = _sequence(seed, t, 2, missing=0.3)
    x[:, :, 0] = 0  # the nose (no left/right partner) is never detected
    for train, conf in ((False, True), (True, False)):
        s = SkeletonSettings(frames=frames, short_clip=short, views=1 if train else views,
                             normalize=normalize, max_persons=2, confidence=conf, flip=True,
                             rotate=30.0, scale_jitter=0.2)
        out = skeleton_clip(x, COCO17, s, image_size=(1280, 720), train=train,
                            rng=np.random.default_rng(seed))
        want = (s.channels, frames, 17, 2)
        assert out.shape == (want if train or views == 1 else (views, *want))
        assert out.dtype == np.float32
        assert not out[..., 0, :].any()  # (…, C, T, V=nose, M)
        if t == 0:
            assert not out.any()


def test_missing_joint_zero_after_gather_everywhere():
    # joint-level check: confidence 0 in the output <=> coordinates 0
    x = _sequence(5, 30, 1, missing=0.4)
    s = SkeletonSettings(frames=50, flip=True, rotate=20.0, scale_jitter=0.3)
    for seed in range(10):
        out = skeleton_clip(x, COCO17, s, train=True, rng=np.random.default_rng(seed))
        gone = out[2] == 0
        assert not out[0][gone].any() and not out[1][gone].any()


def test_test_resampling_indices():
    # an exact multiple: the middle frame of each equal part
    np.testing.assert_array_equal(uniform_indices(128, 64, 0, 1, "stretch"), np.arange(64) * 2 + 1)
    np.testing.assert_array_equal(uniform_indices(64, 64, 0, 1, "stretch"), np.arange(64))
    # views are phases of the same uniform grid
    v = [uniform_indices(256, 64, k, 4, "stretch") for k in range(4)]
    np.testing.assert_array_equal(np.sort(np.concatenate(v)), np.arange(256))
    # short clips: stretch repeats evenly, loop wraps, pad zero-fills (-1)
    np.testing.assert_array_equal(uniform_indices(3, 6, 0, 1, "stretch"), [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(uniform_indices(3, 7, 0, 1, "loop"), [0, 1, 2, 0, 1, 2, 0])
    np.testing.assert_array_equal(uniform_indices(3, 5, 0, 1, "pad"), [0, 1, 2, -1, -1])
    np.testing.assert_array_equal(resample_indices(0, 4), [-1, -1, -1, -1])


@settings(max_examples=100, deadline=None)
@given(length=st.integers(1, 400), frames=st.integers(1, 100), seed=st.integers(0, 1000),
       lo=st.floats(0.05, 1.0), short=st.sampled_from(["stretch", "loop", "pad"]))
def test_train_window_properties(length, frames, seed, lo, short):
    idx = train_indices(length, frames, (lo, 1.0), short, np.random.default_rng(seed))
    assert idx.shape == (frames,)
    if length < frames and short == "pad":
        np.testing.assert_array_equal(idx, np.where(np.arange(frames) < length, np.arange(frames), -1))
        return
    assert idx.min() >= 0 and idx.max() < length
    if length < frames and short == "loop":
        np.testing.assert_array_equal(idx, np.arange(frames) % length)
        return
    assert (np.diff(idx) >= 0).all()
    # the window covers at least lo of the clip (rounded), so the spread is bounded below
    assert idx[-1] - idx[0] + 1 >= min(frames, round(lo * length)) * (1 - 1 / frames) - 1


def test_person_selection_by_mean_confidence():
    x = np.zeros((4, 3, 17, 3), np.float32)
    for p, c in enumerate([0.3, 0.9, 0.6]):
        x[:, p, :, 0] = p + 1
        x[:, p, :, 2] = c
    assert select_persons(x, 2)[0, :, 0, 0].tolist() == [2, 3]
    padded = select_persons(x, 5)
    assert padded.shape == (4, 5, 17, 3) and not padded[:, 3:].any()


@pytest.mark.parametrize("layout", [COCO17, OPENPOSE18, HALPE26])
def test_flip_permutation_swaps_left_and_right(layout):
    perm = flip_permutation(layout)
    np.testing.assert_array_equal(perm[perm], np.arange(layout.num_joints))
    for i, name in enumerate(layout.joints):
        other = layout.joints[perm[i]]
        if name.startswith("left_"):
            assert other == "right_" + name[5:]
        elif not name.startswith("right_"):
            assert other == name


def test_flip_mirrors_coordinates_and_swaps_joints():
    x = _sequence(3, 20, 1, missing=0.0)
    s_plain = SkeletonSettings(frames=20, train_window=(1.0, 1.0))
    s_flip = SkeletonSettings(frames=20, train_window=(1.0, 1.0), flip=True)
    flipped = 0
    for seed in range(8):
        a = skeleton_clip(x, COCO17, s_plain, train=True, rng=np.random.default_rng(seed))
        b = skeleton_clip(x, COCO17, s_flip, train=True, rng=np.random.default_rng(seed))
        if np.allclose(a, b):
            continue
        flipped += 1
        perm = flip_permutation(COCO17)
        np.testing.assert_allclose(b[0], -a[0][:, perm], atol=1e-6)
        np.testing.assert_allclose(b[1:], a[1:][:, :, perm], atol=1e-6)
    assert 0 < flipped < 8


def _store(tmp_path, n=12, t_range=(5, 90), layout="coco17"):
    rng = np.random.default_rng(0)
    v = LAYOUTS[layout].num_joints
    ids = [f"act{i % 3}/clip{i:02d}" for i in range(n)]
    seqs = [_sequence(i, int(rng.integers(*t_range)), 2, v) for i in range(n)]
    write_skeletons(tmp_path / "sk.npz", ids, seqs, layout, [[1280, 720]] * n, [30.0] * n)
    labels = make_label_set("toy", "train", ids, [i.split("/")[0] for i in ids], None,
                            rng.integers(0, 2, (n, 20)))
    return labels, read_skeletons(tmp_path / "sk.npz")


def test_dataset_item_and_settings(tmp_path):
    labels, sk = _store(tmp_path)
    ds = SkeletonDataset(labels, sk, {"frames": 32, "max_persons": 2, "views": 3})
    x, y, i = ds[4]
    assert x.shape == (3, 3, 32, 17, 2) and x.dtype == torch.float32
    assert torch.equal(y, torch.from_numpy(labels.labels[4].astype(np.float32))) and i == 4
    st_ = ds.settings()
    assert st_["output_shape"] == [3, 3, 32, 17, 2] and st_["views"] == 3 and st_["mode"] == "test"
    assert ds.sample_ids == labels.sample_ids.tolist()
    x, _, _ = SkeletonDataset(labels, sk, {"confidence": False}, train=True)[0]
    assert x.shape == (2, 64, 17, 1)


def test_worker_count_never_changes_results(tmp_path):
    labels, sk = _store(tmp_path)
    ds = SkeletonDataset(labels, sk, {"frames": 24, "flip": True, "rotate": 15.0,
                                      "scale_jitter": 0.1}, train=True)

    def run(workers, epoch):
        return [(b.x, b.index) for b in make_loader(ds, 5, shuffle=True, num_workers=workers,
                                                    epoch=epoch, seed=3)]

    a, b = run(0, 1), run(2, 1)
    assert len(a) == len(b) == 3
    for (xa, ia), (xb, ib) in zip(a, b):
        assert torch.equal(ia, ib) and torch.equal(xa, xb)
    c = run(0, 2)
    assert not all(torch.equal(p[0], q[0]) for p, q in zip(a, c))  # a new epoch, new draws


def test_set_epoch_reaches_persistent_workers(tmp_path):
    labels, sk = _store(tmp_path, n=6)
    ds = SkeletonDataset(labels, sk, {"frames": 16, "flip": True, "rotate": 30.0}, train=True)
    loader = torch.utils.data.DataLoader(ds, batch_size=6, num_workers=2, persistent_workers=True)
    got = []
    for epoch in range(2):
        ds.set_epoch(epoch)
        got.append(next(iter(loader))[0])
    ds.set_epoch(1)
    fresh = torch.stack([ds[i][0] for i in range(6)])
    assert torch.equal(got[1], fresh) and not torch.equal(got[0], got[1])


def test_test_mode_is_deterministic_and_epoch_free(tmp_path):
    labels, sk = _store(tmp_path, n=4)
    ds = SkeletonDataset(labels, sk)
    a = ds[1][0]
    ds.set_epoch(7)
    assert torch.equal(a, ds[1][0])


def test_missing_skeletons_listed_or_skipped(tmp_path):
    labels, sk = _store(tmp_path, n=4)
    more = make_label_set("toy", "train", [*labels.sample_ids.tolist(), "act9/ghost"],
                          None, None, np.zeros((5, 20), int))
    with pytest.raises(MissingData, match=r"1 of 5 samples of toy/train have no skeleton; "
                                          r"first: 'act9/ghost'.*import-alphapose") as ei:
        SkeletonDataset(more, sk)
    assert ei.value.code == "E701"
    ds = SkeletonDataset(more, sk, skip_missing=True)
    assert len(ds) == 4 and [s.sample_id for s in ds.skipped] == ["act9/ghost"]


def test_from_store(tmp_path):
    from amge_eval.harness.labels import write_labels
    from amge_eval.harness.skeletons import skeleton_path

    labels, sk = _store(tmp_path, n=3)
    write_labels(tmp_path / "labels", labels)
    target = skeleton_path(tmp_path / "data", "toy", "train")
    target.parent.mkdir(parents=True)
    (tmp_path / "sk.npz").rename(target)
    ds = SkeletonDataset.from_store("toy", "train", labels_dir=tmp_path / "labels",
                                    data_root=tmp_path / "data", settings={"frames": 8})
    assert ds.train and len(ds) == 3 and ds[0][0].shape == (3, 8, 17, 1)


@pytest.mark.parametrize("bad,match", [
    ({"frame": 32}, "\\[data\\]: unknown key 'frame'. Did you mean 'frames'"),
    ({"frames": "16x4"}, '\\[data\\].frames: expected int, got "16x4"'),
    ({"normalize": "zscore"}, "normalize must be one of center-scale, image, none"),
    ({"train_window": [0.0, 1.0]}, "train_window must satisfy"),
    ({"normalize": "none", "flip": True}, "choose normalize 'center-scale' or 'image'"),
    ({"short_clip": "repeat"}, "short_clip must be one of stretch, loop, pad"),
    ({"max_persons": 0}, "max_persons must be at least 1"),
])
def test_invalid_settings(tmp_path, bad, match):
    labels, sk = _store(tmp_path, n=2)
    with pytest.raises(AmgeError, match=match) as ei:
        SkeletonDataset(labels, sk, bad)
    assert ei.value.code == "E730"


def test_every_skeleton_setting_is_documented():
    import re
    from dataclasses import fields
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "data.md").read_text()
    section = text.split("## Skeleton clips", 1)[1].split("## Video clips", 1)[0]
    documented = set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M))
    assert documented == {f.name for f in fields(SkeletonSettings)}
