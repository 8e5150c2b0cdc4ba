"""`amge-eval predict` (baselines/predict.py): a run's model scores new inputs exactly as the
run scored its own test splits; checkpoint files; statistical baselines; the flow modality
through the recipe; the CLI with a prediction file and a body map."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="predict runs baselines, which need torch (pip "
                            "install -e '.[baselines]')")

from amge_eval.baselines.data.extract import VideoJob  # noqa: E402
from amge_eval.baselines.predict import load_predictor, predict_videos, video_jobs  # noqa: E402
from amge_eval.harness.errors import AmgeError  # noqa: E402
from amge_eval.harness.labels import read_labels  # noqa: E402

from .conftest import needs_extra  # noqa: E402

SMALL = ("data.frames=16", "model.channels=[8,8,16]", "model.strides=[1,2,1]")


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A tiny embedded benchmark (skeletons only) and runs trained on it."""
    import os

    from amge_eval.baselines.runner import RunOptions, run_baseline
    from amge_eval.harness.synth.generate import generate_benchmark

    root = tmp_path_factory.mktemp("predict")
    old = os.environ.get("AMGE_EVAL_HOME")
    os.environ["AMGE_EVAL_HOME"] = str(root / "home")
    try:
        generate_benchmark(root / "labels", root / "data", clips_per_activity=3, video=False)
        runs = {}
        for name, sets in (("stgcn", SMALL), ("random", ()), ("prior", ())):
            runs[name] = run_baseline(RunOptions(
                baseline=name, dataset="synth", out=root / name, labels_dir=root / "labels",
                data_root=root / "data", overrides=sets, epochs=1, resamples=100,
                checkpoint_dir=root / "ckpt", seed=3)).out
    finally:
        if old is None:
            del os.environ["AMGE_EVAL_HOME"]
        else:
            os.environ["AMGE_EVAL_HOME"] = old
    return root, runs


def _run_scores(run: Path, split: str):
    with np.load(run / "predictions" / f"{split}.npz") as z:
        return z["sample_ids"].tolist(), z["scores"]


def test_a_run_scores_new_inputs_as_it_scored_its_test_split(home):
    root, runs = home
    ids, want = _run_scores(runs["stgcn"], "val_seen")
    pred = load_predictor(runs["stgcn"], checkpoint_dir=root / "ckpt", labels_dir=root / "labels")
    jobs = [VideoJob(i, Path(f"{i}.mp4")) for i in ids]
    res = predict_videos(pred, jobs, skeletons=root / "data" / "synth" / "skeletons" /
                         "val_seen.npz")
    assert res.sample_ids == ids and res.input == "skeleton"
    np.testing.assert_allclose(res.scores, want, rtol=0, atol=1e-6)


def test_a_checkpoint_file_with_its_baseline_and_config(home):
    root, runs = home
    import json

    key = json.loads((runs["stgcn"] / "run.json").read_text())["train"]["checkpoint"]
    ckpt = root / "ckpt" / key
    ids, want = _run_scores(runs["stgcn"], "test_seen")
    pred = load_predictor(ckpt, baseline="stgcn", overrides=SMALL)
    res = predict_videos(pred, [VideoJob(i, Path("x.mp4")) for i in ids],
                         skeletons=root / "data" / "synth" / "skeletons" / "test_seen.npz")
    np.testing.assert_allclose(res.scores, want, rtol=0, atol=1e-6)
    with pytest.raises(AmgeError) as err:  # the default (wide) config does not fit the weights
        load_predictor(ckpt, baseline="stgcn")
    assert err.value.code == "E817" and "does not fit stgcn" in err.value.message
    with pytest.raises(AmgeError, match="name its baseline with --baseline"):
        load_predictor(ckpt)
    with pytest.raises(AmgeError, match="checkpoint of the run .* is not at"):
        load_predictor(runs["stgcn"], checkpoint_dir=root / "elsewhere")
    with pytest.raises(AmgeError, match="not a run folder"):
        load_predictor(root)


def test_statistical_runs_predict_what_they_predicted(home):
    root, runs = home
    ids, want = _run_scores(runs["random"], "val_seen")
    pred = load_predictor(runs["random"])
    res = predict_videos(pred, [VideoJob(i, Path("x.mp4")) for i in ids[:5]])
    np.testing.assert_array_equal(res.scores, want[:5])  # the run's seed, the same draws
    ids, want = _run_scores(runs["prior"], "test_unseen")
    pred = load_predictor(runs["prior"], labels_dir=root / "labels")
    res = predict_videos(pred, [VideoJob("a", Path("a.mp4"))])
    np.testing.assert_allclose(res.scores[0], want[0], atol=1e-6)
    train = read_labels(root / "labels", "synth", "train")
    np.testing.assert_allclose(res.scores[0], train.labels.mean(axis=0), atol=1e-6)
    with pytest.raises(AmgeError) as err:
        load_predictor(runs["prior"], labels_dir=root / "no-labels")
    assert err.value.code == "E503"


def test_video_arguments_become_unique_sample_ids(tmp_path):
    for p in ("a/x.mp4", "b/x.mp4", "c/y.mov", "notes.txt"):
        (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / p).write_bytes(b"")
    jobs = video_jobs([tmp_path / "a" / "x.mp4", tmp_path / "b" / "x.mp4"])
    assert [j.sample_id for j in jobs] == ["a/x", "b/x"]
    assert [j.sample_id for j in video_jobs([tmp_path / "c"])] == ["y"]
    with pytest.raises(AmgeError) as err:
        video_jobs([tmp_path / "notes.txt"])
    assert err.value.code == "E715"
    with pytest.raises(AmgeError) as err:
        video_jobs([tmp_path / "missing.mp4"])
    assert err.value.code == "E711"


class TinyFlowNet(torch.nn.Module):
    """A two-channel 3-D CNN: enough to show that flow clips train and predict."""

    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Conv3d(2, 4, 3, padding=1), torch.nn.ReLU(),
                                       torch.nn.AdaptiveAvgPool3d(1), torch.nn.Flatten(),
                                       torch.nn.Linear(4, 20))

    def forward(self, x):  # (N, 2, T, H, W) -> (N, 20)
        return self.net(x)


@needs_extra("baselines,flow", "av", "cv2")
def test_flow_clips_train_and_predict_through_the_recipe(tmp_path):
    from amge_eval.baselines import training
    from amge_eval.baselines.config import EvalConfig, RunConfig, TrainConfig
    from amge_eval.baselines.data.datasets import collate
    from amge_eval.baselines.distributed import Dist
    from amge_eval.baselines.inputs import build_dataset
    from amge_eval.baselines.predict import Predictor
    from amge_eval.baselines.registry import BaselineSpec
    from amge_eval.harness.labels import make_label_set

    from .test_flow import moving_video

    videos = [moving_video(tmp_path / "v" / f"{k}.mp4", dx=k + 1, dy=0, frames=10)
              for k in range(3)]
    jobs = [VideoJob(f"pan/{k}", v) for k, v in enumerate(videos)]
    from amge_eval.baselines.data.extract import extract_flow

    root = tmp_path / "data"
    extract_flow(jobs, root / "mine" / "flow" / "train")
    labels = make_label_set("mine", "train", [j.sample_id for j in jobs], ["pan"] * 3,
                            [str(v) for v in videos], np.eye(20, dtype=np.uint8)[:3])
    data = {"frames": 4, "stride": 2, "crop": 32, "test_short_side": 32,
            "train_short_side": [32, 40], "train_crop": "jitter"}
    train = build_dataset("optical_flow", labels, root, data, train=True, seed=0)
    model = TinyFlowNet()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = collate([train[i] for i in range(3)])
    assert batch.x.shape == (3, 2, 4, 32, 32)
    loss = training.multilabel_loss(model(batch.x), batch.y, "bce").mean()
    loss.backward()
    opt.step()
    test = build_dataset("optical_flow", labels, root, data, train=False, seed=0,
                         temporal_views=2, spatial_views=3)
    assert test[0][0].shape == (6, 2, 4, 32, 32)
    ev = EvalConfig(batch_size=2, temporal_views=2, spatial_views=3)
    scores = training.predict(model, test, ev, "bce", torch.device("cpu"), Dist())
    assert scores.shape == (3, 20) and np.isfinite(scores).all()
    # predict() computes the flow of new videos itself and gets the same scores
    spec = BaselineSpec("tiny-flow", "video", ("optical_flow",), lambda **k: model, None, None,
                        None, "", __name__)
    cfg = RunConfig(model={}, data=data, train=TrainConfig(), eval=ev)
    res = predict_videos(Predictor(spec, cfg, model, "test"), jobs)
    assert res.input == "optical_flow" and res.extraction.done == 3
    np.testing.assert_allclose(res.scores, scores, atol=1e-6)


@needs_extra("baselines,pose", "av", "mediapipe")
def test_cli_predict_writes_a_prediction_file_and_body_maps(home, cli, tmp_path):
    root, runs = home
    from .test_pose import synth_video

    synth_video(tmp_path / "clips" / "squat.mp4", "squat", size="128")
    synth_video(tmp_path / "clips" / "lunge.mp4", "lunge", size="128")
    code, out, err = cli("predict", runs["stgcn"], tmp_path / "clips", "--checkpoint-dir",
                         root / "ckpt", "--labels-dir", root / "labels", "--out",
                         tmp_path / "p.csv", "--picture", tmp_path / "map.svg", "-q")
    assert code == 0, err
    assert "stgcn: muscle scores" in out and "upper abdominis" in out
    assert (tmp_path / "map.lunge.svg").is_file() and (tmp_path / "map.squat.svg").is_file()
    ET.fromstring((tmp_path / "map.squat.svg").read_text())
    text = (tmp_path / "p.csv").read_text().splitlines()
    assert text[0].startswith("sample_id,neck_and_head,chest") and len(text) == 3
    code, out, err = cli("validate", tmp_path / "p.csv", "--dataset", "synth", "--split",
                         "test_unseen", "--labels-dir", tmp_path / "nolabels")
    assert code == 0, err
    code, out, err = cli("predict", runs["stgcn"], tmp_path / "clips", "--out",
                         tmp_path / "p.txt")
    assert code == 1 and "must end in .npz or .csv" in err and "(E601)" in err
