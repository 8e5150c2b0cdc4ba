"""The whole path on real recordings (tests/data/real/SOURCES.md: two portrait 60 fps clips
from a lab, one with a second, larger person in front; a landscape 30 fps clip outdoors with a
small person and a passer-by): a dataset from a folder of videos, skeletons and optical flow,
a skeleton baseline trained on it, predictions on the videos, a prediction file that validates
against the dataset's labels, and body-map pictures; plus the extractor's choices on them."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from amge_eval.harness.skeletons import read_skeletons

from .conftest import needs_extra

# decoding, MediaPipe, OpenCV and a trained baseline: the baselines, pose and flow extras
pytestmark = needs_extra("baselines,pose,flow", "av", "torch", "mediapipe", "cv2")

REAL = Path(__file__).parent / "data" / "real"
CLIPS = {"pose2sim_single_cam01": ("lunge", (1080, 1920), 60),
         "pose2sim_multi_cam02": ("lunge", (1088, 1920), 60),
         "sports2d_demo_first3s": ("box_jump", (1768, 994), 30)}
MUSCLES = "activity,muscles\nlunge,quadriceps;gluteus;hamstring;shoulder\n" \
          "box_jump,calves;quadriceps;gluteus;feet ankles\n"


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    from amge_eval.baselines.data.extract import extract_skeletons, folder_videos

    out = tmp_path_factory.mktemp("real") / "skeletons.npz"
    rep = extract_skeletons(folder_videos(REAL), out, workers=2)
    return rep, read_skeletons(out)


def test_real_clips_give_skeletons_of_the_person_exercising(extracted):
    rep, sk = extracted
    assert sorted(sk.sample_ids.tolist()) == sorted(CLIPS) and rep.no_person == []
    assert sorted(rep.several) == ["pose2sim_multi_cam02", "sports2d_demo_first3s"]
    for sid, (_, size, fps) in CLIPS.items():
        i = sk.index[sid]
        assert tuple(sk.image_size[i]) == size
        assert sk.fps[i] == min(fps, 30)  # 60 fps is read at 30
        seq = sk.get(sid)[:, 0]
        assert (seq[..., 2] > 0).any(axis=1).mean() > 0.9, sid
    # the portrait clip with a woman large in the left foreground: the man exercising in the
    # middle is followed, not her (her hips are in the left quarter of the frame)
    seq = sk.get("pose2sim_multi_cam02")[:, 0]
    hips = seq[:, [11, 12]]
    ok = (hips[..., 2] > 0).all(axis=1)
    assert np.median(hips[ok, :, 0]) > 0.35 * 1088
    # the outdoor clip: the man on the box, high in the frame, not the woman walking below
    seq = sk.get("sports2d_demo_first3s")[:, 0]
    ankles = seq[:, [15, 16]]
    ok = (ankles[..., 2] > 0).all(axis=1)
    assert np.median(ankles[ok, :, 1]) < 0.5 * 994


def _my_videos(cli, tmp_path):
    """A folder of one's own videos, <split>/<activity>/<clip>.mp4, made a dataset 'mine':
    every clip in train and test_unseen, one in the other splits (they must exist)."""
    folder = tmp_path / "myvideos"
    for split in ("train", "val_seen", "val_unseen", "test_seen", "test_unseen"):
        for sid, (act, _, _) in CLIPS.items():
            if split not in ("train", "test_unseen") and sid != "pose2sim_single_cam01":
                continue
            (folder / split / act).mkdir(parents=True, exist_ok=True)
            shutil.copy(REAL / f"{sid}.mp4", folder / split / act / f"{sid}.mp4")
    (tmp_path / "muscles.csv").write_text(MUSCLES)
    code, out, err = cli("labels", "from-folder", folder, "--dataset", "mine", "--muscles",
                         tmp_path / "muscles.csv", "--labels-dir", tmp_path / "labels")
    assert code == 0, err
    return folder


@pytest.mark.slow
def test_the_whole_path_on_real_footage(cli, tmp_path):
    folder = _my_videos(cli, tmp_path)
    labels, data = tmp_path / "labels", tmp_path / "data"
    common = ("--labels-dir", labels, "--data-root", data)

    code, out, err = cli("data", "skeletons", "all", "--dataset", "mine", *common,
                         "--max-fps", "10", "--workers", "2", "-q")
    assert code == 0, err
    assert out.count("wrote 3 of 3 videos") == 2 and out.count("wrote 1 of 1 videos") == 3
    assert "Several people" in out
    code, out, err = cli("data", "flow", "all", "--dataset", "mine", *common, "--fps", "10",
                         "-q")
    assert code == 0, err
    assert out.count("3 of 3 videos") == 2 and out.count("1 of 1 videos") == 3
    code, out, err = cli("run-baseline", "stgcn", "--dataset", "mine", *common, "--epochs",
                         "1", "--batch-size", "2", "--set", "data.frames=16", "--out",
                         tmp_path / "run", "--resamples", "100", "--checkpoint-dir",
                         tmp_path / "ckpt", "-q")
    assert code == 0, err
    code, out, err = cli("predict", tmp_path / "run", folder / "test_unseen", "--checkpoint-dir",
                         tmp_path / "ckpt", "--labels-dir", labels, "--out",
                         tmp_path / "preds.npz", "--dataset", "mine", "--split", "test_unseen",
                         "--picture", tmp_path / "map.png", "-q")
    assert code == 0, err
    assert "gluteus" in out and "Prediction file" in out
    for sid in CLIPS:
        assert (tmp_path / f"map.{CLIPS[sid][0]}_{sid}.png").read_bytes()[:4] == b"\x89PNG"
    code, out, err = cli("validate", tmp_path / "preds.npz", "--labels-dir", labels)
    assert code == 0, err
    assert "ids match the labels of: test_unseen" in out
    code, out, err = cli("predict", tmp_path / "run", REAL / "pose2sim_single_cam01.mp4",
                         "--checkpoint-dir", tmp_path / "ckpt", "--labels-dir", labels,
                         "--picture", tmp_path / "one.svg", "-q")
    assert code == 0, err
    root = ET.fromstring((tmp_path / "one.svg").read_text())
    assert len([g for g in root.iter() if g.get("data-muscle")]) == 20


def _registered(name: str) -> bool:
    from amge_eval.baselines.registry import list_baselines

    return name in {b.name for b in list_baselines()}


@pytest.mark.slow
@pytest.mark.parametrize("baseline", ["c2d-r50-tiny", "prior"])
def test_video_and_statistical_baselines_on_ones_own_videos(cli, tmp_path, baseline):
    """The other baseline families on the same folder: an RGB model decodes the videos at each
    row's media path, a statistical one needs no input; both predict and validate."""
    if not _registered(baseline):
        pytest.skip(f"{baseline} is not registered here (a video baseline: this tree lacks "
                    f"it, or pytorchvideo is missing)")
    folder = _my_videos(cli, tmp_path)
    labels = tmp_path / "labels"
    code, out, err = cli("run-baseline", baseline, "--dataset", "mine", "--labels-dir", labels,
                         "--epochs", "1", "--batch-size", "2", "--out", tmp_path / "run",
                         "--resamples", "100", "--checkpoint-dir", tmp_path / "ckpt", "-q")
    assert code == 0, err
    code, out, err = cli("predict", tmp_path / "run", folder / "test_unseen", "--checkpoint-dir",
                         tmp_path / "ckpt", "--labels-dir", labels, "--out",
                         tmp_path / "preds.npz", "--dataset", "mine", "--split", "test_unseen",
                         "--picture", tmp_path / "map.svg", "-q")
    assert code == 0, err
    with np.load(tmp_path / "preds.npz") as z:
        assert z["scores"].shape == (3, 20) and np.isfinite(z["scores"]).all()
    assert len(list(tmp_path.glob("map.*.svg"))) == 3
    code, out, err = cli("validate", tmp_path / "preds.npz", "--labels-dir", labels)
    assert code == 0, err
    assert "ids match the labels of: test_unseen" in out
