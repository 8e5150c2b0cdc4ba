"""`amge-eval predict`: run a trained baseline on new videos and return its 20 muscle scores.

The model comes from a run folder (``run.json`` and ``config.toml`` of `amge-eval
run-baseline`; its checkpoint is found in the checkpoint folder by the run record's
``train.checkpoint``) or from a checkpoint file with ``baseline`` named (its config: the
baseline's file, ``preset``, ``config_file`` and ``overrides``, as `run-baseline` resolves
them). Loading is strict: every tensor of the model must be in the file with its shape.

Each video goes through what the model was trained on, with the run's own test settings
(``[data]`` and ``[eval]`` of its config, views included):

- skeleton baselines: skeletons extracted with MediaPipe (baselines/data/pose.py), or read from
  a skeleton store made by `amge-eval data skeletons` (``skeletons``);
- RGB and RGB-difference baselines: the video loader on the file itself;
- optical-flow baselines: flow computed with OpenCV (baselines/data/flow.py) into a temporary
  folder, or read from a folder made by `amge-eval data flow` (``flow_root``);
- statistical baselines: no input (``prior`` is fitted on the run's train labels).

Models that depend on the training labels beyond their weights (``prior``, ``har-lookup``) read
the train split of the run's dataset from the label store, and refuse one whose fingerprint is
not the run's.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.fileio import amge_home
from amge_eval.harness.labels import make_label_set, read_labels, resolve_labels_dir
from amge_eval.harness.muscles import NUM_MUSCLES
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import RunRecord

from .config import RunConfig, load_config
from .data.decode import VIDEO_SUFFIXES
from .data.extract import VideoJob, extract_flow, extract_skeletons, folder_videos
from .data.flow import FlowSettings
from .data.pose import PoseSettings
from .registry import BaselineSpec, get_baseline

VIDEO_INPUTS = ("rgb", "rgb_diff", "rgb+rgb_diff")


@dataclass
class Predictor:
    """A trained baseline ready to score videos."""

    spec: BaselineSpec
    cfg: RunConfig
    model: object  # a torch module, or a StatisticalModel
    source: str  # what it was loaded from (for messages)
    seed: int = 0
    dataset: str | None = None  # the run's dataset, when known


@dataclass
class Prediction:
    sample_ids: list[str]
    videos: list[Path]
    scores: np.ndarray  # (N, 20) float32 in label order
    input: str  # what the model read: "skeleton", "rgb", ..., "none"
    extraction: object = None  # the ExtractReport of the skeletons or flow made on the fly


def _unusable(message: str) -> AmgeError:
    return AmgeError(message, code="E817")


def _train_labels(dataset: str, labels_dir, fingerprint: str | None, needs: str):
    try:
        train = read_labels(labels_dir, dataset, "train")
    except MissingData as exc:
        raise MissingData(f"{needs} needs the train labels of {dataset} it was trained on, "
                          f"which are not in the label store ({exc.message}); pass "
                          f"--labels-dir", code="E503") from exc
    if fingerprint and train.fingerprint != fingerprint:
        raise _unusable(f"The train labels of {dataset} in the label store (fingerprint "
                        f"{train.fingerprint[:12]}) are not the ones the run was trained on "
                        f"({fingerprint[:12]}); point --labels-dir at the run's label store")
    return train


def load_predictor(source, *, baseline: str | None = None, config_file=None,
                   overrides: tuple[str, ...] = (), preset: str | None = None,
                   checkpoint_dir=None, labels_dir=None, device=None) -> Predictor:
    """The model of a run folder or a checkpoint file (see the module docstring)."""
    src = Path(source).expanduser()
    labels_dir = resolve_labels_dir(labels_dir)
    record = None
    if src.is_dir():
        if not (src / "run.json").is_file():
            raise _unusable(f"{src} is not a run folder (no run.json); give the folder "
                            f"`amge-eval run-baseline` wrote, or a checkpoint file with "
                            f"--baseline")
        record = RunRecord.read(src / "run.json")
        if baseline and baseline != record.baseline:
            raise _unusable(f"The run in {src} is {record.baseline}, not {baseline}")
        spec = get_baseline(record.baseline)
        cfg = load_config(spec, src / "config.toml" if (src / "config.toml").is_file() else None)
        if cfg.digest() != record.config_sha256:
            cfg = _config_from_record(spec, record)
    elif src.is_file():
        if not baseline:
            raise _unusable(f"{src} is a checkpoint file; name its baseline with --baseline "
                            f"(or give the run folder)")
        spec = get_baseline(baseline)
        cfg = load_config(spec, config_file, list(overrides), preset=preset)
    else:
        raise MissingData(f"No run folder or checkpoint at {src}", code="E817")
    dataset = record.dataset if record else None
    fp = record.label_fingerprints.get("train") if record else None
    seed = record.seed if record else 0

    if spec.family == "statistical":
        model = spec.builder(**cfg.model)
        if model.kind == "prior":
            if dataset is None:
                raise _unusable("The prior baseline needs its run folder (for the train labels)")
            model.fit(_train_labels(dataset, labels_dir, fp, "prior").labels)
        return Predictor(spec, cfg, model, str(src), seed, dataset)

    import torch

    model = spec.builder(num_muscles=NUM_MUSCLES, **cfg.model)
    if hasattr(model, "fit_labels"):
        if dataset is None:
            raise _unusable(f"{spec.name} needs its run folder (its outputs depend on the train "
                            f"labels)")
        model.fit_labels(_train_labels(dataset, labels_dir, fp, spec.name))
    ckpt = src
    if record is not None:
        if record.train is None:
            raise _unusable(f"The run in {src} has no checkpoint (no training)")
        root = Path(checkpoint_dir).expanduser() if checkpoint_dir else amge_home() / "checkpoints"
        ckpt = root / record.train.checkpoint
        if not ckpt.is_file():
            raise MissingData(f"The checkpoint of the run in {src} is not at {ckpt}; pass "
                              f"--checkpoint-dir (run-baseline's), or give the checkpoint "
                              f"file with --baseline {spec.name}", code="E817")
    try:
        obj = torch.load(ckpt, map_location="cpu", weights_only=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise _unusable(f"{ckpt} is not a readable PyTorch checkpoint: {exc}") from exc
    if record is not None and isinstance(obj, dict) and obj.get("run_key") not in (
            None, record.train.run_key):
        raise _unusable(f"{ckpt} belongs to another run than {src}")
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict):
        raise _unusable(f"{ckpt} holds no state dict")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    bad = [k for k, v in state.items() if k in own and getattr(v, "shape", None) != own[k].shape]
    if missing or bad:
        what = (f"{len(missing)} of the model's tensors are missing (first: {missing[0]})"
                if missing else f"{len(bad)} tensors have another shape (first: {bad[0]})")
        raise _unusable(f"{ckpt} does not fit {spec.name} with this config: {what}; was it "
                        f"trained with other [model] settings?")
    model.load_state_dict({k: state[k] for k in own})
    model.eval()
    if device is not None:
        model.to(device)
    return Predictor(spec, cfg, model, str(src), seed, dataset)


def _config_from_record(spec: BaselineSpec, record: RunRecord) -> RunConfig:
    """The run's resolved config from its record (when config.toml is absent or edited)."""
    import tomli_w

    fd, tmp = tempfile.mkstemp(suffix=".toml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(tomli_w.dumps(msgspec.to_builtins(record.config)))
        return load_config(spec, Path(tmp))
    finally:
        os.unlink(tmp)


def video_jobs(paths) -> list[VideoJob]:
    """Videos given on the command line (files, or folders of videos) with their sample ids:
    a file's name without the suffix; a folder's videos by their path inside it; names made
    unique by their parent folder where two would clash."""
    jobs: list[VideoJob] = []
    for p in paths:
        p = Path(p).expanduser()
        if p.is_dir():
            jobs += folder_videos(p)
        elif p.is_file():
            if p.suffix.lower() not in VIDEO_SUFFIXES:
                raise AmgeError(f"{p} is not a video file (expected one of "
                                f"{', '.join(VIDEO_SUFFIXES)})", code="E715")
            jobs.append(VideoJob(p.stem, p))
        else:
            raise MissingData(f"Video {p} not found", code="E711")
    ids = [j.sample_id for j in jobs]
    if len(set(ids)) != len(ids):
        jobs = [VideoJob(f"{j.path.parent.name}/{j.sample_id}" if ids.count(j.sample_id) > 1
                         else j.sample_id, j.path) for j in jobs]
        ids = [j.sample_id for j in jobs]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise AmgeError(f"Two videos are both named {dup!r}; give them different names",
                            code="E715")
    return jobs


def predict_videos(pred: Predictor, jobs: list[VideoJob], *, skeletons=None, flow_root=None,
                   pose: PoseSettings | None = None, flow: FlowSettings | None = None,
                   workers: int = 1, device=None, progress: Progress = NULL_PROGRESS,
                   ) -> Prediction:
    """The (N, 20) scores of ``jobs`` (see the module docstring)."""
    ids = [j.sample_id for j in jobs]
    paths = [j.path for j in jobs]
    modality = pred.spec.modality
    if pred.spec.family == "statistical":
        rng = np.random.default_rng(pred.seed)
        return Prediction(ids, paths, pred.model.predict(len(jobs), rng), "none")
    labels = make_label_set("videos", "test_unseen", ids, None,
                            [str(p.resolve()) for p in paths],
                            np.zeros((len(ids), NUM_MUSCLES), np.uint8))
    data = dict(pred.cfg.data)
    data.setdefault("seed", pred.seed)
    ev = pred.cfg.eval
    report = None
    with tempfile.TemporaryDirectory(prefix="amge-predict-") as tmp:
        if modality == "skeleton":
            from amge_eval.harness.skeletons import read_skeletons

            from .data.datasets import SkeletonDataset

            if skeletons is None:
                skeletons = Path(tmp) / "skeletons.npz"
                report = extract_skeletons(jobs, skeletons, settings=pose, workers=workers,
                                           progress=progress)
            sk = read_skeletons(skeletons)
            if ev.spatial_views != 1:
                raise AmgeError("eval.spatial_views applies to video only", code="E803")
            ds = SkeletonDataset(labels, sk, {**data, "views": ev.temporal_views}, train=False)
        elif modality == "optical_flow":
            if flow_root is None:
                flow_root = Path(tmp) / "flow"
                report = extract_flow(jobs, flow_root, settings=flow, workers=workers,
                                      progress=progress)
            from .data.flow_dataset import FlowDataset

            settings = {**data, "modality": "optical_flow", "spatial_views": ev.spatial_views}
            if ev.temporal_views > 1:
                settings.update(temporal_views=ev.temporal_views, view_indices=None)
            ds = FlowDataset(labels, settings, train=False, flow_root=flow_root)
        elif modality in VIDEO_INPUTS:
            from .inputs import build_dataset

            ds = build_dataset(modality, labels, Path(tmp), data, train=False, seed=pred.seed,
                               temporal_views=ev.temporal_views, spatial_views=ev.spatial_views)
        else:
            raise AmgeError(f"No loader for the inputs {modality!r}", code="E815")
        import torch

        from . import training
        from .distributed import Dist

        dev = device or torch.device("cpu")
        scores = training.predict(pred.model, ds, ev, pred.cfg.train.loss, dev, Dist(),
                                  progress, task="predict")
    return Prediction(ids, paths, scores.astype(np.float32), modality, report)
