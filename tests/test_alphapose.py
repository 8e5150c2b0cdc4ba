"""AlphaPose JSON -> skeleton store: round trips from synthetic files, ranking against a naive
reference, video metadata, and every malformed input a user can hand in."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.harness.alphapose import (
    import_alphapose,
    load_alphapose,
    parse_alphapose,
    to_sequence,
)
from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.labels import make_label_set, write_labels
from amge_eval.harness.skeletons import read_skeletons, skeleton_path

DATASET = "toyset"


def _labels(tmp_path, ids, media=None, split="test_seen"):
    ls = make_label_set(DATASET, split, ids, [i.split("/")[0] for i in ids],
                        media or [f"{i}.mp4" for i in ids],
                        (np.arange(len(ids))[:, None] + np.arange(20)) % 2)
    write_labels(tmp_path / "labels", ls)
    return ls


def _det(frame, k, rng, score, idx=None, image_id=None):
    kp = np.column_stack([rng.uniform(0, 640, k), rng.uniform(0, 480, k), rng.uniform(0.05, 1, k)])
    d = {"image_id": image_id if image_id is not None else f"{frame}.jpg", "category_id": 1,
         "keypoints": [float(v) for v in kp.ravel()], "score": float(score),
         "box": [1.0, 2.0, 30.0, 60.0]}
    if idx is not None:
        d["idx"] = idx
    return d


def _write(path, entries):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


def _naive(entries, joints, persons, frames, tracked=False):
    """Independent reference: loops over frames, sorting detections the obvious way."""
    t = max([frames] + [int(str(e["image_id"]).split(".")[0]) + 1 for e in entries])
    out = np.zeros((t, persons, joints, 3), np.float32)
    if tracked:
        totals = {}
        for e in entries:
            totals[e["idx"]] = totals.get(e["idx"], 0.0) + e["score"]
        order = sorted(totals, key=lambda k: -totals[k])
        slots = {k: i for i, k in enumerate(order)}
    for f in range(t):
        dets = [e for e in entries if int(str(e["image_id"]).split(".")[0]) == f]
        if not tracked:
            dets = sorted(dets, key=lambda e: -e["score"])
        for rank, e in enumerate(dets):
            m = slots[e["idx"]] if tracked else rank
            if m < persons:
                kp = np.asarray(e["keypoints"], np.float32).reshape(-1, 3)[:joints]
                out[f, m] = kp
    return out


def test_round_trip_coco17_multiple_persons_and_missing_frames(tmp_path):
    rng = np.random.default_rng(0)
    ids = ["push_ups/clip_001", "squats/clip_002"]
    _labels(tmp_path, ids)
    entries = {}
    for sid in ids:
        e = []
        for f in [0, 1, 2, 4, 5, 8]:  # frames 3, 6 and 7 have no detection
            e += [_det(f, 17, rng, score=rng.uniform(0, 3)) for _ in range(3)]
        rng.shuffle(e)  # AlphaPose groups by frame, but order must not matter
        entries[sid] = e
        _write(tmp_path / "json" / f"{sid}.json", e)
    rep = import_alphapose(DATASET, "test_seen", tmp_path / "json", labels_dir=tmp_path / "labels",
                           data_root=tmp_path / "data", max_persons=2, fps=25.0,
                           image_size=(640, 480))
    sk = read_skeletons(skeleton_path(tmp_path / "data", DATASET, "test_seen"))
    assert rep.samples == 2 and rep.layout == "coco17" and sk.layout.name == "coco17"
    assert sk.sample_ids.tolist() == ids
    for sid in ids:
        got = sk.get(sid)
        np.testing.assert_allclose(got, _naive(entries[sid], 17, 2, 0), atol=1e-4)
        assert got.shape == (9, 2, 17, 3)
        assert not got[[3, 6, 7]].any()  # missing frames: all zero, confidence 0
    np.testing.assert_array_equal(sk.image_size, [[640, 480], [640, 480]])
    np.testing.assert_allclose(sk.fps, [25.0, 25.0])


def test_halpe26_detected_and_converted_to_coco17(tmp_path):
    rng = np.random.default_rng(1)
    ids = ["lunges/a", "lunges/b"]
    _labels(tmp_path, ids)
    entries = {sid: [_det(f, 26, rng, score=1.0 + f) for f in range(5)] for sid in ids}
    for sid in ids:
        _write(tmp_path / "json" / f"{sid}.json", entries[sid])
    kw = dict(labels_dir=tmp_path / "labels", data_root=tmp_path / "data", fps=30.0,
              image_size=(640, 480))
    rep = import_alphapose(DATASET, "test_seen", tmp_path / "json", **kw)
    sk = read_skeletons(rep.path)
    assert rep.layout == "halpe26" and sk.get("lunges/a").shape == (5, 1, 26, 3)
    rep = import_alphapose(DATASET, "test_seen", tmp_path / "json", layout="coco17", replace=True, **kw)
    sk17 = read_skeletons(rep.path)
    assert sk17.layout.name == "coco17"
    np.testing.assert_array_equal(sk17.get("lunges/a"), sk.get("lunges/a")[..., :17, :])
    with pytest.raises(AmgeError, match="needs 26 joints") as ei:
        _write(tmp_path / "json" / "lunges/b.json", [_det(0, 17, rng, 1.0)])
        import_alphapose(DATASET, "test_seen", tmp_path / "json", layout="halpe26", replace=True, **kw)
    assert ei.value.code == "E721"
    with pytest.raises(AmgeError, match="mix 17 and 26-joint") as ei:
        import_alphapose(DATASET, "test_seen", tmp_path / "json", replace=True, **kw)


def test_track_ids_keep_a_person_in_one_slot():
    rng = np.random.default_rng(2)
    entries = []
    for f in range(6):
        # track 7 scores lower per frame than track 3 in frames 0-2 but wins in total
        entries.append(_det(f, 17, rng, score=2.0 if f < 3 else 0.5, idx=3))
        entries.append(_det(f, 17, rng, score=1.5, idx=7))
    res = parse_alphapose(entries)
    assert res.tracks is not None
    got = to_sequence(res, 17, 1)
    np.testing.assert_allclose(got, _naive(entries, 17, 1, 0, tracked=True), atol=1e-5)
    # track 7 (total 9.0) beats track 3 (total 7.5) in every frame, even where 3 scores higher
    want = np.stack([np.asarray(e["keypoints"], np.float32).reshape(17, 3) for e in entries[1::2]])
    np.testing.assert_allclose(got[:, 0], want, atol=1e-5)


@pytest.mark.parametrize("idx", [[0.0], [1.0, 2.0], None])
def test_untracked_results_rank_by_score(idx):
    rng = np.random.default_rng(3)
    entries = [_det(f, 17, rng, score=s, idx=idx) for f in range(3) for s in (0.2, 0.9)]
    res = parse_alphapose(entries)
    assert res.tracks is None
    np.testing.assert_allclose(to_sequence(res, 17, 1), _naive(entries, 17, 1, 0), atol=1e-5)


def test_repeated_scalar_ids_in_a_frame_are_not_tracks():
    rng = np.random.default_rng(4)
    entries = [_det(0, 17, rng, 0.5, idx=0), _det(0, 17, rng, 0.9, idx=0)]
    assert parse_alphapose(entries).tracks is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.floats(0, 5, allow_nan=False)), max_size=30),
       st.integers(1, 3), st.integers(0, 15))
def test_to_sequence_matches_naive_reference(dets, persons, frames):
    rng = np.random.default_rng(len(dets))
    # distinct scores so that "best first" has one answer
    entries = [_det(f, 17, rng, score=s + 1e-6 * i) for i, (f, s) in enumerate(dets)]
    res = parse_alphapose(entries)
    got = to_sequence(res, 17, persons, frames)
    np.testing.assert_allclose(got, _naive(entries, 17, persons, frames), atol=1e-5)


@pytest.mark.parametrize("image_id,base,frame", [
    ("12.jpg", 0, 12), (12, 0, 12), ("frame_000013.png", 1, 12), ("video/dir/12.jpg", 0, 12),
    (12.0, 0, 12)])
def test_frame_numbers_from_image_ids(image_id, base, frame):
    rng = np.random.default_rng(5)
    res = parse_alphapose([_det(0, 17, rng, 1.0, image_id=image_id)], frame_base=base)
    assert res.frames.tolist() == [frame]


def test_scores_clipped_and_zero_confidence_joints_zeroed():
    kp = [10.0, 20.0, 1.7] + [5.0, 6.0, 0.0] + [1.0, 1.0, -0.2] + [3.0, 3.0, 0.5] * 14
    res = parse_alphapose([{"image_id": "0.jpg", "keypoints": kp, "score": 1.0}])
    got = res.keypoints[0]
    np.testing.assert_allclose(got[0], [10, 20, 1.0])
    assert not got[1].any() and not got[2].any()  # confidence 0 = missing: coordinates 0 too


def test_non_person_categories_ignored():
    rng = np.random.default_rng(6)
    res = parse_alphapose([_det(0, 17, rng, 1.0), {**_det(1, 17, rng, 1.0), "category_id": 2}])
    assert res.frames.tolist() == [0]


@pytest.mark.parametrize("content,match,code", [
    ("[{\"image_id\": \"0.jpg\", ", "not valid JSON", "E720"),
    ("{\"version\": 0.1, \"bodies\": []}", "JSON object", "E720"),
    ("\"hello\"", "JSON str", "E720"),
    ("[[1, 2]]", "entry 0 is a list", "E720"),
    ("[{\"image_id\": \"0.jpg\"}]", "no 'keypoints'", "E720"),
    ("[{\"keypoints\": []}]", "no 'image_id'", "E720"),
    ("[{\"image_id\": \"0.jpg\", \"keypoints\": [1, 2, 3]}]", "3 keypoint values", "E721"),
    ("[{\"image_id\": \"0.jpg\", \"keypoints\": " + json.dumps([1.0] * 50) + "}]", "50 keypoint", "E721"),
    ("[{\"image_id\": \"0.jpg\", \"keypoints\": " + json.dumps([1.0] * 51) + "},"
     "{\"image_id\": \"1.jpg\", \"keypoints\": " + json.dumps([1.0] * 78) + "}]", "one keypoint format", "E721"),
    ("[{\"image_id\": \"0.jpg\", \"keypoints\": " + json.dumps(["a"] * 51) + "}]", "list of numbers", "E720"),
    ("[{\"image_id\": \"0.jpg\", \"keypoints\": [NaN" + ", 1.0" * 50 + "]}]", "NaN", "E720"),
    ("[{\"image_id\": \"cover.jpg\", \"keypoints\": " + json.dumps([1.0] * 51) + "}]", "names no frame", "E720"),
    ("[{\"image_id\": \"0.jpg\", \"score\": \"high\", \"keypoints\": " + json.dumps([1.0] * 51) + "}]", "score 'high'", "E720"),
])
def test_malformed_files_name_the_file(tmp_path, content, match, code):
    p = tmp_path / "bad.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(AmgeError, match=match) as ei:
        load_alphapose(p)
    assert ei.value.code == code and str(p) in str(ei.value)


def test_missing_json_listed_then_skipped(tmp_path):
    rng = np.random.default_rng(7)
    ids = ["a/c1", "a/c2", "b/c3"]
    _labels(tmp_path, ids)
    _write(tmp_path / "json" / "a" / "c1.json", [_det(0, 17, rng, 1.0)])
    kw = dict(labels_dir=tmp_path / "labels", data_root=tmp_path / "data", fps=30.0,
              image_size=(64, 48))
    with pytest.raises(MissingData, match=r"2 of 3 samples .* 'a/c2', 'b/c3'.*--skip-missing") as ei:
        import_alphapose(DATASET, "test_seen", tmp_path / "json", **kw)
    assert ei.value.code == "E722"
    assert not skeleton_path(tmp_path / "data", DATASET, "test_seen").exists()
    rep = import_alphapose(DATASET, "test_seen", tmp_path / "json", skip_missing=True, **kw)
    assert rep.skipped == ["a/c2", "b/c3"] and rep.samples == 1
    assert read_skeletons(rep.path).sample_ids.tolist() == ["a/c1"]


def test_file_layouts_and_mapping(tmp_path):
    rng = np.random.default_rng(8)
    ids = ["a/c1", "a/c2", "b/c3", "b/c4"]
    _labels(tmp_path, ids)
    j = tmp_path / "json"
    _write(j / "a" / "c1.json", [_det(0, 17, rng, 1.0)])
    _write(j / "a" / "c2" / "alphapose-results.json", [_det(0, 17, rng, 1.0), _det(1, 17, rng, 1.0)])
    _write(j / "c3.json", [_det(f, 17, rng, 1.0) for f in range(3)])
    _write(tmp_path / "elsewhere" / "x.json", [_det(f, 17, rng, 1.0) for f in range(4)])
    (tmp_path / "map.csv").write_text(f"sample_id,json\nb/c4,{tmp_path / 'elsewhere' / 'x.json'}\n")
    rep = import_alphapose(DATASET, "test_seen", j, labels_dir=tmp_path / "labels",
                           data_root=tmp_path / "data", fps=30.0, image_size=(64, 48),
                           mapping=tmp_path / "map.csv")
    sk = read_skeletons(rep.path)
    assert [len(sk.get(s)) for s in ids] == [1, 2, 3, 4]


def test_flat_file_shared_by_two_activities_is_ambiguous(tmp_path):
    rng = np.random.default_rng(9)
    _labels(tmp_path, ["a/clip", "b/clip"])
    _write(tmp_path / "json" / "clip.json", [_det(0, 17, rng, 1.0)])
    with pytest.raises(AmgeError, match="share a clip name") as ei:
        import_alphapose(DATASET, "test_seen", tmp_path / "json", labels_dir=tmp_path / "labels",
                         data_root=tmp_path / "data", fps=30.0, image_size=(64, 48))
    assert ei.value.code == "E722"


def test_existing_store_untouched_without_replace_or_on_failure(tmp_path):
    rng = np.random.default_rng(10)
    _labels(tmp_path, ["a/c1"])
    _write(tmp_path / "json" / "a" / "c1.json", [_det(0, 17, rng, 1.0)])
    kw = dict(labels_dir=tmp_path / "labels", data_root=tmp_path / "data", fps=30.0,
              image_size=(64, 48))
    rep = import_alphapose(DATASET, "test_seen", tmp_path / "json", **kw)
    before = open(rep.path, "rb").read()
    with pytest.raises(AmgeError, match="already exists; pass --replace") as ei:
        import_alphapose(DATASET, "test_seen", tmp_path / "json", **kw)
    assert ei.value.code == "E724"
    (tmp_path / "json" / "a" / "c1.json").write_text("[{", encoding="utf-8")
    with pytest.raises(AmgeError, match="not valid JSON"):
        import_alphapose(DATASET, "test_seen", tmp_path / "json", replace=True, **kw)
    assert open(rep.path, "rb").read() == before


def test_without_video_needs_image_size_and_fps(tmp_path):
    rng = np.random.default_rng(11)
    _labels(tmp_path, ["a/c1"])
    _write(tmp_path / "json" / "a" / "c1.json", [_det(0, 17, rng, 1.0)])
    with pytest.raises(AmgeError, match=r"pass --image-size W H and --fps") as ei:
        import_alphapose(DATASET, "test_seen", tmp_path / "json", labels_dir=tmp_path / "labels",
                         data_root=tmp_path / "data")
    assert ei.value.code == "E723"


def test_bad_options(tmp_path):
    _labels(tmp_path, ["a/c1"])
    kw = dict(labels_dir=tmp_path / "labels", data_root=tmp_path / "data")
    (tmp_path / "json").mkdir()
    with pytest.raises(AmgeError, match="Unknown layout 'body25'"):
        import_alphapose(DATASET, "test_seen", tmp_path / "json", layout="body25", **kw)
    with pytest.raises(MissingData, match="does not exist"):
        import_alphapose(DATASET, "test_seen", tmp_path / "nope", **kw)
    with pytest.raises(MissingData, match="No labels"):
        import_alphapose(DATASET, "val_seen", tmp_path / "json", **kw)


def _tiny_video(path, frames, fps, size=(64, 48)):
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height = size
        s.pix_fmt = "yuv420p"
        for k in range(frames):
            f = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 8 * k, np.uint8),
                                           format="rgb24")
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def test_image_size_fps_and_length_from_the_video(tmp_path):
    pytest.importorskip("av")
    rng = np.random.default_rng(12)
    _labels(tmp_path, ["a/c1", "a/c2"], media=["a/c1.mp4", "/elsewhere/musclemap/a/c2.mp4"])
    _tiny_video(tmp_path / "data" / DATASET / "a" / "c1.mp4", 10, 25, (80, 48))
    _tiny_video(tmp_path / "videos" / "a" / "c2.mp4", 7, 15, (48, 64))
    _write(tmp_path / "json" / "a" / "c1.json", [_det(f, 17, rng, 1.0) for f in range(5)])
    _write(tmp_path / "json" / "a" / "c2.json", [])  # a video where nobody was detected
    rep = import_alphapose(DATASET, "test_seen", tmp_path / "json", labels_dir=tmp_path / "labels",
                           data_root=tmp_path / "data", video_root=tmp_path / "videos")
    sk = read_skeletons(rep.path)
    assert rep.from_video == 2 and rep.empty == ["a/c2"]
    np.testing.assert_array_equal(sk.image_size, [[80, 48], [48, 64]])
    np.testing.assert_allclose(sk.fps, [25, 15])
    assert len(sk.get("a/c1")) == 10 and not sk.get("a/c1")[5:].any()
    assert len(sk.get("a/c2")) == 7 and not sk.get("a/c2").any()
