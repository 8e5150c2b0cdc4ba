"""The run record (``run.json``): what `amge-eval run-baseline` did, written by the runner
(baselines/runner.py) and read by the leaderboard (a ``reproduced`` entry keeps it).

It holds every setting that changes a number (the resolved config, the loader settings of
training and evaluation, the views, the seed) next to where the numbers came from (labels by
fingerprint, code by git commit, software versions, device). It never holds an absolute path of
the machine that made it: checkpoints are named relative to the checkpoint folder, weights by
file name and sha256, and absolute paths in the recorded command line are replaced by
``<path>``. docs/formats.md documents every field (a test checks).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import msgspec

from .base import Count, Environment, Record, Sha256

RUN_SCHEMA_VERSION = "2.4"  # 2.1: determinism; 2.2: container; 2.3: params_note, weights.key_map;
# 2.4: stage, sender, params_frozen, method (TransM3E)


class GitInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    commit: str | None  # HEAD of the amge-eval checkout, None outside a git checkout
    dirty: bool | None  # tracked files modified


class DeviceInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    type: Literal["cpu", "cuda", "none"]  # "none": statistical baselines run no model
    name: str | None = None  # CPU model or GPU name
    cpu_threads: int | None = None  # torch CPU threads
    count: int | None = None  # visible GPUs


class TrainInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    losses: list[float]  # mean training loss per epoch
    steps: Count  # optimiser steps
    checkpoint: str  # "<run_key>/last.pt", relative to the checkpoint folder
    run_key: str  # hash of everything that determines the run (resume key)
    resumed_from_epoch: int | None  # None = started afresh


class WeightsInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: str  # base name of the --weights file
    sha256: Sha256
    loaded: Count  # tensors loaded
    skipped_shape: list[str]  # tensors of the file whose shape differs from the model's
    unexpected: list[str]  # tensors of the file the model does not have
    missing: list[str]  # tensors of the model the file does not have
    key_map: str | None = None  # the renaming applied to another codebase's names ("pyslowfast")


class SenderInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    file: str  # base name of the --sender file (sender.pt of a `--stage sender` run)
    sha256: Sha256
    baseline: str  # the baseline whose sender stage wrote it
    architecture: dict[str, Any]  # its inputs and architecture, as the file states them
    run: dict[str, Any] | None  # the sender run: run_key, config_sha256, seed, dataset, ...


class EvalViews(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    temporal: int  # clip positions (video) or resampling phases (skeletons) per sample
    spatial: int  # crops per position (video)
    aggregate: Literal["mean", "max"]  # how per-view scores become one
    scores: Literal["sigmoid", "softmax", "lookup"]  # how the written scores were made


class DataSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    train: dict[str, Any] = {}  # the training loader's settings (docs/data.md)
    eval: dict[str, Any] = {}  # the evaluation loader's settings
    eval_views: EvalViews | None = None
    input: str | None = None  # for baselines that read no media: what they see instead


class ContainerInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    engine: Literal["docker", "podman", "apptainer"]
    image: str  # the image reference as given (name:tag or name@sha256:...); a SIF file's name
    image_id: str | None  # "sha256:<hex>": the engine's image id (a SIF file: the file's sha256)
    digest: str | None  # "sha256:<hex>": the registry manifest digest; None for a local build


class SkippedSample(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sample_id: str
    reason: str


class RunRecord(Record, kw_only=True, forbid_unknown_fields=True):
    """One `amge-eval run-baseline` run."""

    KIND: ClassVar[str] = "run"
    VERSION: ClassVar[str] = RUN_SCHEMA_VERSION
    CODE: ClassVar[str] = "E910"

    schema_version: str = RUN_SCHEMA_VERSION
    kind: Literal["run"] = "run"
    created: str  # UTC time, ISO 8601
    baseline: str  # registry name
    paper_name: str | None  # its row in the papers' tables
    family: Literal["statistical", "skeleton", "video"]
    modalities: list[str]  # inputs at test time (harness/vocab.py MODALITIES)
    dataset: str
    dataset_paper_version: str
    label_fingerprints: dict[str, Sha256]  # split -> fingerprint of the labels used
    config: dict[str, dict[str, Any]]  # the resolved [model], [data], [train], [eval] tables
    config_sha256: Sha256
    preset: str | None = None  # the config preset the run started from (None = the default)
    seed: int
    git: GitInfo
    environment: Environment
    command: list[str] | None  # the command line (absolute paths replaced by "<path>")
    timing: dict[str, float]  # seconds: train_s, eval_s, score_s, total_s, ...
    paper_params_m: float | None  # the papers' #PM column
    params: Count  # trainable parameters of the built model (the papers' count)
    params_m: float | None = None
    params_note: str | None = None  # why params differ from paper_params_m (the registry's note)
    params_frozen: Count | None = None  # frozen parameters left out of params (a sender)
    predictions: dict[str, str]  # split -> prediction file, relative to the run folder
    scores: str | None  # the result record, relative to the run folder (None = not scored)
    benchmark_manifest: dict[str, Any] | None  # the embedded benchmark's manifest
    epochs: Count
    train: TrainInfo | None  # None for baselines without training
    device: DeviceInfo
    world_size: int  # processes of a torchrun job
    weights: WeightsInfo | None  # the --weights file, if any
    data_settings: DataSettings
    skipped_samples: dict[str, list[SkippedSample]]  # split -> samples left out (--skip-bad)
    determinism: dict[str, Any] | None = None  # the pins of --deterministic; None = not asked
    container: ContainerInfo | None = None  # the image it ran in (--container); None = on the host
    stage: Literal["sender", "main"] | None = None  # a distilling baseline's stage; None = none
    sender: SenderInfo | None = None  # the frozen sender the run distilled from
    method: dict[str, Any] | None = None  # a method's switches as the model ran them (TransM3E)

    def test_frames(self) -> int | None:
        frames = self.data_settings.eval.get("frames")
        return frames if type(frames) is int and frames >= 1 else None

    def test_views(self) -> int | None:
        v = self.data_settings.eval_views
        return v.temporal * v.spatial if v is not None else None
