"""`amge-eval run-baseline`: train (or fit) a baseline, predict every evaluation split, write
prediction files the scorer accepts, score them, and leave a complete run record.

Output folder (``--out``)::

    run.json                    run record (config, seed, git commit, versions, device, timings...)
    config.toml                 the resolved config
    predictions/<split>.npz     one file per evaluation split (dataset and split keys inside)
    scores.json                 the harness's result record of those four files

Checkpoints live outside it, in ``<checkpoint-dir>/<run key>/last.pt`` (default
``$AMGE_EVAL_HOME/checkpoints``); the run key hashes everything that determines the run
(baseline, dataset, resolved config, seed, train-label fingerprint), so rerunning the same
command after an interruption resumes, and any change starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import numpy as np
import tomli_w

from amge_eval.harness.bootstrap import check_seed
from amge_eval.harness.datasets import get_card
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import amge_home, default_data_root, write_text_atomic
from amge_eval.harness.labels import read_labels, resolve_labels_dir
from amge_eval.harness.predictions import write_predictions
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import RunRecord, ScoreRecord, environment
from amge_eval.harness.records.base import cpu_model
from amge_eval.harness.records.run import (
    DataSettings,
    DeviceInfo,
    EvalViews,
    GitInfo,
    SenderInfo,
    SkippedSample,
    TrainInfo,
    WeightsInfo,
)
from amge_eval.harness.scoring import score_file
from amge_eval.harness.vocab import EVAL_SPLITS

from .config import DEFAULT_PRESET, RunConfig, load_config
from .launch import container_from_env
from .registry import BaselineSpec, get_baseline


@dataclass
class RunOptions:
    baseline: str
    dataset: str = "synth"
    out: Path | None = None
    labels_dir: Path | None = None
    data_root: Path | None = None
    config_file: Path | None = None
    overrides: tuple[str, ...] = ()
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda
    weights: Path | None = None
    resume: bool = True
    checkpoint_dir: Path | None = None
    skip_bad: bool = False
    resamples: int = 10_000  # bootstrap resamples of the final scoring
    generate: bool = True  # generate the embedded benchmark when --dataset synth is absent
    preset: str | None = None  # config preset (baselines/configs/presets/<preset>/); None = default
    threads: int | None = None  # torch CPU threads (default: torch's choice; 1 if deterministic)
    deterministic: bool = False  # pin every numerical knob (baselines/determinism.py)
    # A distilling baseline (TransM3E): "sender" trains only its sender, "main" the model with
    # the sender file ``sender``; "all" trains the sender into <out>/sender first unless one is
    # given. Other baselines: "all" or "main" (the same one run).
    stage: str = "all"
    sender: Path | None = None


@dataclass
class RunResult:
    out: Path
    record: RunRecord | None  # None on the other ranks of a torchrun job
    scores: ScoreRecord | None  # None when the run was not scored (skipped samples)
    summary: dict = field(default_factory=dict)  # val_s ... test_gap in %
    report: object = None  # the harness ScoreReport (None when not scored)


STAGES = ("all", "main", "sender")
SENDER_FILE = "sender.pt"  # what a sender stage leaves in its run folder for the main stage


def default_out(dataset: str, baseline: str, seed: int, stage: str = "all") -> Path:
    suffix = "-sender" if stage == "sender" else ""
    return Path("runs") / dataset / f"{baseline}{suffix}-seed{seed}"


def _git() -> GitInfo:
    root = Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10)
        if commit.returncode == 0:
            return GitInfo(commit=commit.stdout.strip(), dirty=bool(dirty.stdout.strip()))
    except (OSError, subprocess.SubprocessError):
        pass
    # An image built from a checkout carries its commit (baselines/containers/Dockerfile).
    return GitInfo(commit=os.environ.get("AMGE_EVAL_GIT_COMMIT") or None, dirty=None)


def _command() -> list[str] | None:
    """The amge-eval command line, absolute paths replaced by "<path>" (records are public)."""
    if not sys.argv or "amge" not in Path(sys.argv[0]).name.replace("_", "-"):
        return None
    return ["<path>" if os.path.isabs(a) or "=/" in a else a for a in sys.argv[1:]]


def _prepare_out(out: Path) -> None:
    """Refuse, before any work, a folder that holds something else or cannot be written."""
    if out.exists() and not out.is_dir():
        raise AmgeError(f"--out {out} is a file; give a folder", code="E812")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise AmgeError(f"--out {out}: cannot write under {existing}; choose a folder you can "
                        f"write to", code="E601")
    if out.is_dir():
        foreign = [p.name for p in out.iterdir()
                   if p.name not in ("run.json", "config.toml", "predictions", "scores.json",
                                     "sender", SENDER_FILE)]
        if foreign:
            raise AmgeError(f"--out {out} holds other files ({', '.join(sorted(foreign)[:3])}); "
                            f"choose an empty or a previous run's folder", code="E812")


def _ensure_dataset(opts: RunOptions, labels_dir: Path, data_root: Path, spec: BaselineSpec,
                    progress: Progress) -> dict | None:
    """The embedded benchmark's manifest; generated with default settings on first use.

    An existing benchmark (whatever its settings, e.g. from `amge-eval data synth
    --clips-per-activity 8`) is used as it is; its manifest goes into the run record.
    """
    if opts.dataset != "synth":
        return None
    from amge_eval.harness.synth.generate import (generate_benchmark, is_generated, manifest_path,
                                                   read_manifest, stale_reason)

    video = any(m in ("rgb", "rgb_diff", "optical_flow") for m in spec.modalities)
    manifest = read_manifest(data_root)
    have_labels = (labels_dir / "synth" / "train.csv").is_file()
    if manifest is not None and have_labels:
        if (why := stale_reason(manifest)) is not None:
            raise AmgeError(f"The embedded benchmark at {manifest_path(data_root)} is out of "
                            f"date ({why}); run `amge-eval data synth --overwrite` to remake "
                            f"it (results on the old one are not comparable)", code="E813")
        if video and not manifest.get("video"):
            raise AmgeError(f"The embedded benchmark at {data_root} was generated without "
                            f"videos, which {spec.name} needs; run `amge-eval data synth "
                            f"--overwrite` (with video) first", code="E813")
        return manifest
    if not opts.generate or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise AmgeError("The embedded benchmark is not generated; run `amge-eval data synth` "
                        "first (a multi-process run does not generate it)", code="E813")
    if not is_generated(labels_dir, data_root, video=video):
        progress.note(f"Generating the embedded benchmark into {labels_dir} and {data_root}")
        generate_benchmark(labels_dir, data_root, video=video, progress=progress)
    return read_manifest(data_root)


def _device(choice: str):
    import torch

    if choice not in ("auto", "cpu", "cuda"):
        raise AmgeError(f"--device must be auto, cpu or cuda, not {choice!r}", code="E814")
    if choice == "cuda" and not torch.cuda.is_available():
        raise AmgeError("--device cuda was asked for but no CUDA GPU is visible", code="E814")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    import os

    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def _device_record(device) -> DeviceInfo:
    import torch

    if device.type == "cuda":
        return DeviceInfo(type="cuda", name=torch.cuda.get_device_name(device),
                          cpu_threads=torch.get_num_threads(), count=torch.cuda.device_count())
    return DeviceInfo(type="cpu", name=cpu_model(), cpu_threads=torch.get_num_threads())


def run_key(spec: BaselineSpec, dataset: str, cfg: RunConfig, seed: int, train_fp: str,
            world: int, extra: dict | None = None) -> str:
    """``extra``: what else determines the run (a stage, the sender file's sha256)."""
    facts = {"baseline": spec.name, "dataset": dataset, "config": cfg.to_dict(), "seed": seed,
             "train_labels": train_fp, "world": world}
    if extra:
        facts["extra"] = extra
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def _check_stage(opts: RunOptions, spec: BaselineSpec, plan) -> None:
    """Refuse --stage/--sender combinations that cannot run, before any work (E823, E822)."""
    if opts.stage not in STAGES:
        raise AmgeError(f"--stage must be one of {', '.join(STAGES)}, not {opts.stage!r}",
                        code="E823")
    if plan is None and (opts.stage == "sender" or opts.sender is not None):
        why = ("has no sender stage" if spec.sender is None else
               "distils from no sender with this config ([model].kd = 'none')")
        what = "--stage sender" if opts.stage == "sender" else "--sender"
        raise AmgeError(f"{spec.name} {why}; drop {what}", code="E823")
    if opts.stage == "sender" and opts.sender is not None:
        raise AmgeError("--stage sender trains a sender; --sender gives one to the main stage; "
                        "use one of them", code="E823")
    if plan is not None and opts.stage == "main" and opts.sender is None:
        raise AmgeError(f"{spec.name} distils from a frozen sender: pass --sender FILE (the "
                        f"{SENDER_FILE} of `amge-eval run-baseline {spec.name} --stage sender`),"
                        f" or use --stage all to train one first", code="E822")
    if opts.sender is not None and not Path(opts.sender).expanduser().is_file():
        raise AmgeError(f"Sender file {opts.sender} not found; train one with `amge-eval "
                        f"run-baseline {spec.name} --stage sender` (it writes {SENDER_FILE} "
                        f"into its run folder)", code="E822")


def _config_toml(cfg: RunConfig) -> str:
    return ("# Resolved configuration of this run (written by amge-eval run-baseline)\n"
            + tomli_w.dumps(msgspec.to_builtins(cfg.to_dict())))


def run_baseline(opts: RunOptions, progress: Progress = NULL_PROGRESS) -> RunResult:
    t_start = time.perf_counter()
    check_seed(opts.seed)
    if opts.deterministic:  # before anything imports torch
        from .determinism import pin_environment

        pin_environment()
    spec = get_baseline(opts.baseline)
    if not spec.config_path.is_file():
        raise AmgeError(f"Baseline {spec.name} has no config file {spec.config_path}", code="E801")
    labels_dir = resolve_labels_dir(opts.labels_dir)
    card = get_card(opts.dataset, labels_dir)
    preset = None if opts.preset in (None, DEFAULT_PRESET) else opts.preset
    cfg = load_config(spec, opts.config_file, list(opts.overrides), opts.epochs, opts.batch_size,
                      preset=preset, paper_version=card.paper_version)
    plan = spec.sender(cfg.model) if spec.sender is not None else None
    _check_stage(opts, spec, plan)
    data_root = Path(opts.data_root).expanduser() if opts.data_root else default_data_root()
    out = Path(opts.out) if opts.out else default_out(opts.dataset, spec.name, opts.seed,
                                                     opts.stage)
    _prepare_out(out)
    if plan is not None and opts.stage == "all" and opts.sender is None:
        # the sender stage first, into <out>/sender; its sender.pt goes to the main stage
        sender_run = run_baseline(replace(opts, stage="sender", out=out / "sender"), progress)
        opts = replace(opts, stage="main", sender=sender_run.out / SENDER_FILE)
    stage = opts.stage if plan is not None else None
    generated = _ensure_dataset(opts, labels_dir, data_root, spec, progress)
    labels = {s: read_labels(labels_dir, opts.dataset, s) for s in ("train", *EVAL_SPLITS)}
    timing: dict[str, float] = {}

    if spec.family == "statistical":
        from amge_eval.baselines.models.statistical import StatisticalModel

        model: StatisticalModel = spec.builder(**cfg.model)
        t0 = time.perf_counter()
        model.fit(labels["train"].labels)
        rng = np.random.default_rng(opts.seed)
        preds = {s: (labels[s].sample_ids, model.predict(len(labels[s]), rng)) for s in EVAL_SPLITS}
        timing["eval_s"] = time.perf_counter() - t0
        cfg = RunConfig(cfg.model, {}, cfg.train, cfg.eval)
        extra = {"params": 0, "epochs": 0, "device": DeviceInfo(type="none"), "train": None,
                 "determinism": {"statistical": "no model runs; scores come from the seed"}
                 if opts.deterministic else None,
                 "data_settings": DataSettings(input="none: scores do not depend on the sample"),
                 "skipped_samples": {}, "world_size": 1, "weights": None}
        main = True
    else:
        preds, extra, main = _run_torch(spec, cfg, opts, labels, data_root, timing, progress,
                                        plan if stage == "sender" else None, out)
    if not main:  # other ranks of a torchrun job write nothing
        return RunResult(out, None, None)

    pred_dir = out / "predictions"
    for split in EVAL_SPLITS:
        ids, scores = preds[split]
        write_predictions(pred_dir / f"{split}.npz", ids, scores, opts.dataset, split)
    write_text_atomic(out / "config.toml", _config_toml(cfg))
    t0 = time.perf_counter()
    scored = report = None
    if not any(extra["skipped_samples"].values()):
        report = score_file(pred_dir, dataset=opts.dataset, labels_dir=labels_dir,
                            resamples=opts.resamples, seed=opts.seed)
        scored = ScoreRecord.from_report(report)
        scored.write(out / "scores.json")
    timing["score_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_start
    params = extra.pop("params")
    sender_stage = stage == "sender"
    record = RunRecord(
        created=datetime.now(UTC).isoformat(timespec="seconds"), baseline=spec.name,
        paper_name=None if sender_stage else spec.paper_name,
        family=plan.family if sender_stage else spec.family,
        modalities=plan.modality.split("+") if sender_stage else list(spec.modalities),
        dataset=opts.dataset, dataset_paper_version=card.paper_version,
        label_fingerprints={s: labels[s].fingerprint for s in labels},
        config=msgspec.to_builtins(cfg.to_dict()), config_sha256=cfg.digest(), preset=preset,
        seed=opts.seed,
        git=_git(), environment=environment(), command=_command(),
        timing={k: round(v, 3) for k, v in timing.items()},
        paper_params_m=None if sender_stage else spec.paper_params_m,
        params=params, params_m=round(params / 1e6, 3),
        params_note=None if sender_stage else spec.params_note, stage=stage,
        predictions={s: f"predictions/{s}.npz" for s in EVAL_SPLITS},
        scores="scores.json" if scored else None, benchmark_manifest=generated,
        container=container_from_env(), **extra)
    record.write(out / "run.json")
    summary = {k: scored.value(k) for k in scored.summary} if scored else {}
    return RunResult(out, record, scored, summary, report)


def _run_torch(spec, cfg: RunConfig, opts: RunOptions, labels, data_root: Path, timing, progress,
               sender_plan=None, out: Path | None = None):
    """Train and predict. With ``sender_plan`` (the sender stage) the sender is the model: it
    trains and predicts on the sender's inputs, and leaves ``out/sender.pt`` for the main stage."""
    import torch

    from . import training
    from .distributed import barrier, init_from_env, shutdown
    from .inputs import build_dataset

    determinism = None
    if opts.deterministic:
        from .determinism import apply_torch

        determinism = apply_torch(opts.threads)
    elif opts.threads:
        torch.set_num_threads(opts.threads)
    device = _device(opts.device)
    d = init_from_env(device.type)
    try:
        if device.type == "cuda":
            torch.cuda.set_device(device)
        training.seed_everything(opts.seed)
        if not opts.deterministic:
            torch.use_deterministic_algorithms(device.type == "cpu", warn_only=True)
        if spec.modality == "skeleton" and "persons" in cfg.model and \
                cfg.model["persons"] != cfg.data.get("max_persons", 1):
            raise AmgeError(f"model.persons = {cfg.model['persons']} but data.max_persons = "
                            f"{cfg.data.get('max_persons', 1)}; the model's person slots must "
                            f"match the loader's (set both)", code="E803")
        data_cfg, train_inputs, test_inputs = cfg.data, spec.train_modality, spec.modality
        key_extra, sender = None, None
        if sender_plan is not None:  # the sender stage: one view per clip, the sender's inputs
            model = sender_plan.build()
            data_cfg = {**cfg.data, "train_views": 1} if "train_views" in cfg.data else cfg.data
            train_inputs = test_inputs = sender_plan.modality
            key_extra = {"stage": "sender"}
        else:
            model = spec.builder(num_muscles=20, **cfg.model)
        if hasattr(model, "fit_labels"):  # a model whose outputs depend on the train labels
            model.fit_labels(labels["train"])
        if hasattr(model, "check_data_settings"):
            model.check_data_settings(data_cfg)
        weights = training.load_weights(model, opts.weights) if opts.weights else None
        if opts.sender is not None and sender_plan is None:
            sender = model.load_sender(Path(opts.sender).expanduser())
            key_extra = {"stage": "main", "sender_sha256": sender.sha256}
        if d.enabled and device.type == "cuda" and cfg.train.batchnorm == "batch":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model.to(device)
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
        frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
        t0 = time.perf_counter()
        train_set = build_dataset(train_inputs, labels["train"], data_root, data_cfg, train=True,
                                  seed=opts.seed, skip_bad=opts.skip_bad)
        key = run_key(spec, opts.dataset, cfg, opts.seed, labels["train"].fingerprint, d.world,
                      key_extra)
        ckpt_root = Path(opts.checkpoint_dir) if opts.checkpoint_dir else amge_home() / "checkpoints"
        checkpoint = ckpt_root / key / "last.pt"
        state = training.train(model, train_set, cfg.train, device, d, opts.seed, checkpoint, key,
                               opts.resume, progress)
        timing["train_s"] = time.perf_counter() - t0
        timing["train_compute_s"] = state.seconds
        if sender_plan is not None:
            if d.main:
                _write_sender(out / SENDER_FILE, model, spec, sender_plan, {
                    "run_key": key, "config_sha256": cfg.digest(), "seed": opts.seed,
                    "dataset": opts.dataset, "train_labels": labels["train"].fingerprint,
                    "epochs": state.epoch, "git_commit": _git().commit})
            barrier(d)  # the other ranks' main stage reads it
        t0 = time.perf_counter()
        preds, skipped, settings = {}, {}, {}
        skipped["train"] = _skipped(train_set)
        for split in EVAL_SPLITS:
            ds = build_dataset(test_inputs, labels[split], data_root, data_cfg, train=False,
                               seed=opts.seed, skip_bad=opts.skip_bad,
                               temporal_views=cfg.eval.temporal_views,
                               spatial_views=cfg.eval.spatial_views)
            preds[split] = (ds.sample_ids, training.predict(
                model, ds, cfg.eval, cfg.train.loss, device, d, progress,
                task=f"predict {split}", amp=cfg.train.amp,
                channels_last=cfg.train.channels_last, workers=cfg.train.workers))
            skipped[split] = _skipped(ds)
            settings = ds.settings() if hasattr(ds, "settings") else {}
        timing["eval_s"] = time.perf_counter() - t0
        extra = {
            "params": int(params),
            "params_frozen": int(frozen) or None,
            "sender": SenderInfo(file=sender.file, sha256=sender.sha256, baseline=sender.baseline,
                                 architecture=sender.sender, run=sender.run)
            if sender is not None else None,
            "method": model.settings() if hasattr(model, "settings") else None,
            "epochs": state.epoch,
            "train": TrainInfo(losses=[round(x, 6) for x in state.losses or []],
                               steps=state.step, checkpoint=f"{key}/last.pt", run_key=key,
                               resumed_from_epoch=state.resumed_from),
            "device": _device_record(device),
            "world_size": d.world,
            "weights": WeightsInfo(**weights) if weights else None,
            "data_settings": DataSettings(
                train=train_set.settings() if hasattr(train_set, "settings") else {},
                eval=settings, eval_views=EvalViews(
                    temporal=cfg.eval.temporal_views, spatial=cfg.eval.spatial_views,
                    aggregate=cfg.eval.aggregate,
                    scores="lookup" if hasattr(model, "muscle_scores") else
                    "sigmoid" if cfg.train.loss == "bce" else "softmax")),
            "skipped_samples": {k: v for k, v in skipped.items() if v},
            "determinism": determinism,
        }
        return preds, extra, d.main
    finally:
        shutdown(d)


def _write_sender(path: Path, model, spec: BaselineSpec, plan, run: dict) -> None:
    """The trained sender as the main stage loads it (TransM3E.load_sender): its state dict, its
    architecture (checked against the main stage's config) and where it came from."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    torch.save({"kind": "amge-eval-sender", "baseline": spec.name, "sender": plan.describe,
                "run": run, "model": model.state_dict()}, tmp)
    os.replace(tmp, path)


def _skipped(ds) -> list[SkippedSample]:
    return [SkippedSample(sample_id=s.sample_id, reason=s.reason)
            for s in getattr(ds, "skipped", [])]
