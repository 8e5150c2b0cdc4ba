"""Skeletons from raw video (baselines/data/pose.py, extract.py): the landmark mapping against
MediaPipe's own names, agreement with the embedded benchmark's ground truth, portrait video and
rotation tags, empty scenes, unreadable files, resuming, parallel workers, the missing extra."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

from amge_eval.baselines.data.extract import extract_skeletons, folder_videos
from amge_eval.baselines.data.pose import (
    MEDIAPIPE_TO_COCO17,
    PoseSettings,
    extract_video,
    link_tracks,
    person_score,
    tiles,
    view_of,
)
from amge_eval.baselines.data.pose_check import agreement_on_synth, standing_height
from amge_eval.harness.errors import AmgeError, MissingExtra
from amge_eval.harness.skeletons import COCO17, read_skeletons

from .conftest import needs_extra

# MediaPipe runs in these (the pose extra); the rendered and written videos need PyAV
needs_pose = needs_extra("baselines,pose", "av", "mediapipe")


def synth_video(path, activity="squat", size="256", index=0, rotation=0):
    """Render one clip of the embedded benchmark to ``path``; returns the clip (its truth).
    ``rotation`` stores the frames turned by -rotation degrees with a display-rotation tag of
    ``rotation``, as a phone stores portrait video."""
    import av

    from amge_eval.harness.synth.generate import make_clip, make_settings
    from amge_eval.harness.synth.render import render_frames

    settings = make_settings(size=size)
    clip, rng = make_clip(settings, activity, index)
    frames = render_frames(clip.scene, settings.size, rng)
    if rotation:
        frames = np.ascontiguousarray(np.rot90(frames, -rotation // 90, axes=(1, 2)))
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=int(settings.fps))
        s.width, s.height, s.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        if rotation:
            s.set_display_rotation(rotation)
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return clip


@needs_pose
def test_landmark_mapping_follows_mediapipes_own_names():
    import mediapipe as mp

    names = [mp.solutions.pose.PoseLandmark(i).name.lower() for i in MEDIAPIPE_TO_COCO17]
    assert names == list(COCO17.joints)


@needs_pose
def test_skeletons_agree_with_the_rendered_ground_truth():
    a = agreement_on_synth(["squat", "bicep curl"], size=256)
    assert a.detected >= 0.9 * a.frames
    med = dict(zip(a.joints, a.median_rel()))
    body = [j for j in a.joints if j.split("_")[-1] in ("shoulder", "hip", "knee", "ankle",
                                                        "elbow", "wrist")]
    assert np.mean([med[j] for j in body]) < 0.05, med
    assert max(med[j] for j in body) < 0.1, med
    # left and right are not swapped: each side is far nearer its own truth than the other's
    # (the body is about 0.2 standing heights wide at the shoulders)
    for j in body:
        assert med[j] < 0.5 * 0.2, (j, med[j])


@needs_pose
def test_portrait_video_and_a_rotation_tag_give_the_displayed_skeleton(tmp_path):
    upright = synth_video(tmp_path / "portrait.mp4", "lunge", size="160x256")
    tagged = synth_video(tmp_path / "phone.mp4", "lunge", size="160x256", rotation=90)
    a = extract_video(tmp_path / "portrait.mp4")
    b = extract_video(tmp_path / "phone.mp4")
    assert a.image_size == b.image_size == (160, 256)
    height = standing_height(upright.scene.body) * upright.scene.px_per_m
    for res in (a, b):
        seq = res.sequence[:, 0]
        ok = seq[..., 2] > 0
        assert ok.any(axis=1).mean() > 0.9
        err = np.linalg.norm(seq[..., :2] - tagged.scene.pixels, axis=-1) / height[:, None]
        assert np.median(err[ok]) < 0.06


@needs_pose
def test_a_scene_without_a_person_gives_empty_frames(tmp_path):
    import av

    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
        rng = np.random.default_rng(0)
        room = (rng.random((96, 128, 3)) * 60 + 100).astype(np.uint8)
        for _ in range(20):
            for p in s.encode(av.VideoFrame.from_ndarray(room, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    (tmp_path / "empty.mp4").write_bytes(buf.getvalue())
    res = extract_video(tmp_path / "empty.mp4")
    assert res.frames == 20 and res.detected == 0 and res.people == 0
    assert res.sequence.shape == (20, 1, 17, 3) and not res.sequence.any()


def test_person_choice_prefers_the_central_large_person_seen_throughout():
    w, h = 640, 360
    big_side = np.array([0, 20, 150, 350.0])  # large, at the left edge
    central = np.array([270, 60, 370, 330.0])  # smaller, centred
    assert person_score(central, w, h) > person_score(big_side, w, h)
    # a passer-by seen in one search loses to a person seen in all of them
    searches = [[central], [central + 5, np.array([500, 50, 620, 350.0])], [central + 10]]
    tracks = link_tracks(searches)
    assert len(tracks) == 2 and sorted(len(t) for t in tracks) == [1, 3]
    from amge_eval.baselines.data.pose import choose_track

    assert len(choose_track(tracks, 3, w, h)) == 3


def test_tiles_and_views_stay_inside_the_frame():
    for w, h in ((640, 360), (360, 640), (300, 300)):
        for x0, y0, x1, y1 in tiles(w, h):
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h and x1 - x0 == y1 - y0 == min(w, h)
        for box in (np.array([0, 0, 10, 30.0]), np.array([w - 20, h - 40, w, h]),
                    np.array([w / 2 - 5, h / 2 - 5, w / 2 + 5, h / 2 + 5])):
            x0, y0, x1, y1 = view_of(box, w, h)
            assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h
            assert x0 <= box[0] and y0 <= box[1] and box[2] <= x1 and box[3] <= y1
    assert view_of(np.array([0, 0, 300, 340.0]), 640, 360) == (0, 0, 640, 360)


@needs_pose
def test_folder_extraction_names_a_bad_video_resumes_and_skips_it(tmp_path):
    videos = tmp_path / "videos"
    synth_video(videos / "squat" / "a.mp4", "squat", size="128", index=1)
    (videos / "squat" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(300))
    jobs = folder_videos(videos)
    assert sorted(j.sample_id for j in jobs) == ["squat/a", "squat/broken"]
    out = tmp_path / "sk.npz"
    with pytest.raises(AmgeError) as err:
        extract_skeletons(jobs, out)
    assert err.value.code == "E710" and "broken.mp4" in err.value.message
    assert "1 of 2 videos cannot be read" in err.value.message and not out.exists()
    rep = extract_skeletons(jobs, out, skip_bad=True)
    assert rep.reused == 1 and rep.done == 1 and list(rep.failed) == ["squat/broken"]
    sk = read_skeletons(out)
    assert sk.sample_ids.tolist() == ["squat/a"] and sk.layout.name == "coco17"
    assert tuple(sk.image_size[0]) == (128, 128) and sk.fps[0] == 25.0
    prov = json.loads((tmp_path / "sk.extract.json").read_text())
    assert prov["estimator"] == "mediapipe-pose-full" and prov["version"] == "0.10.21"
    assert prov["settings"] == PoseSettings().to_dict() and prov["failed"]
    assert not (tmp_path / ".sk.npz.parts").exists()
    with pytest.raises(AmgeError) as err:
        extract_skeletons(jobs[:1], out)
    assert err.value.code == "E724"


@pytest.mark.slow
@needs_pose
def test_parallel_workers_give_the_same_skeletons(tmp_path):
    videos = tmp_path / "videos"
    for i, act in enumerate(("squat", "lunge")):
        synth_video(videos / act / f"{i}.mp4", act, size="128", index=i)
    jobs = folder_videos(videos)
    one = extract_skeletons(jobs, tmp_path / "one.npz", workers=1)
    two = extract_skeletons(jobs, tmp_path / "two.npz", workers=2)
    assert one.done == two.done == 2
    a, b = read_skeletons(tmp_path / "one.npz"), read_skeletons(tmp_path / "two.npz")
    assert a.sample_ids.tolist() == b.sample_ids.tolist()
    np.testing.assert_array_equal(a.frames, b.frames)


def test_settings_and_folders_are_checked(tmp_path):
    with pytest.raises(AmgeError) as err:
        PoseSettings(max_fps=0, max_side=10)
    assert err.value.code == "E714" and "max_fps" in err.value.message and "max_side" in err.value.message
    with pytest.raises(AmgeError) as err:
        folder_videos(tmp_path)
    assert err.value.code == "E715"
    (tmp_path / "a.mp4").write_bytes(b"x")
    (tmp_path / "a.mov").write_bytes(b"x")
    with pytest.raises(AmgeError, match="give the sample id 'a'"):
        folder_videos(tmp_path)


def test_without_mediapipe_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "mediapipe", None)
    with pytest.raises(MissingExtra) as err:
        extract_video("whatever.mp4")
    assert err.value.code == "E830" and "amge-eval[pose]" in err.value.message
    assert isinstance(err.value, ImportError)
