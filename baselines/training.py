"""The training recipe shared by every trainable baseline: AdamW, linear warmup + cosine decay,
gradient clipping, BCE-with-logits (or the reference's softmax-then-BCE), checkpoints, and
multi-view prediction."""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import sha256_file
from amge_eval.harness.progress import NULL_PROGRESS, Progress

from .config import EvalConfig, TrainConfig
from .distributed import Dist, RankBatchSampler, all_gather_objects


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; no weight decay on biases and normalisation parameters (1-D tensors)."""
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (no_decay if p.ndim <= 1 else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.999))


def lr_factor(step: int, total_steps: int, warmup_steps: int) -> float:
    """Linear warmup from ~0 to 1 over warmup_steps, then cosine decay to 0 at total_steps."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def multilabel_loss(logits: torch.Tensor, targets: torch.Tensor, kind: str) -> torch.Tensor:
    """Per-sample loss (N,): the mean over the 20 muscles."""
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=1)
    # The MuscleMap release: softmax over the 20 muscles, then BCE on those probabilities.
    probs = torch.softmax(logits.float(), dim=1).clamp(1e-7, 1 - 1e-7)
    return F.binary_cross_entropy(probs, targets.to(probs.dtype), reduction="none").mean(dim=1)


def to_scores(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Logits -> the probabilities the papers' mAP is computed on."""
    return torch.sigmoid(logits.float()) if kind == "bce" else torch.softmax(logits.float(), dim=1)


def _freeze_batchnorm(model: torch.nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.eval()


@dataclass
class TrainState:
    epoch: int = 0  # epochs completed
    step: int = 0  # optimiser steps taken
    losses: list | None = None  # mean train loss per completed epoch
    seconds: float = 0.0  # training wall time so far (summed over resumed sessions)
    resumed_from: int | None = None  # epochs already done when this session resumed


def save_checkpoint(path: Path, model, optimizer, state: TrainState, run_key: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}")
    torch.save({"model": _unwrap(model).state_dict(), "optimizer": optimizer.state_dict(),
                "state": state.__dict__, "run_key": run_key,
                "rng": {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
                        "python": random.getstate()}}, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path, model, optimizer, run_key: str) -> TrainState:
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("run_key") != run_key:
        raise AmgeError(f"Checkpoint {path} belongs to another run (different config, data or "
                        f"seed); delete it or pass --no-resume", code="E810")
    _unwrap(model).load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["rng"]["torch"])
    np.random.set_state(ckpt["rng"]["numpy"])
    random.setstate(ckpt["rng"]["python"])
    return TrainState(**ckpt["state"])


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def to_channels_last(model: torch.nn.Module) -> torch.nn.Module:
    """Store every 5-D parameter and buffer (Conv3d weights) channels-last, in place."""
    for t in (*model.parameters(), *model.buffers()):
        if t.ndim == 5:
            t.data = t.data.contiguous(memory_format=torch.channels_last_3d)
    return model


def prepare_input(x, device: torch.device, channels_last: bool):
    """A batch on ``device``; 5-D clips channels-last when asked; a tuple (paired inputs) part by
    part."""
    if isinstance(x, tuple):
        return tuple(prepare_input(part, device, channels_last) for part in x)
    x = x.to(device, non_blocking=True)
    if channels_last and x.ndim == 5:
        x = x.contiguous(memory_format=torch.channels_last_3d)
    return x


def autocast_dtype(device: torch.device) -> torch.dtype:
    """bfloat16 where the GPU supports it, else float16 (with a gradient scaler)."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_weights(model: torch.nn.Module, path: str) -> dict:
    """Initialise from a local state-dict file. Shape-mismatched tensors (e.g. a head trained on
    another label space) are skipped and reported; nothing is ever downloaded."""
    text = str(path)
    if "://" in text:
        raise AmgeError(f"--weights takes a local file, not a URL ({text}); amge-eval never "
                        f"downloads weights", code="E811")
    p = Path(path).expanduser()
    if not p.is_file():
        raise AmgeError(f"Weights file {p} not found", code="E811")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise AmgeError(f"Weights file {p} is not a readable PyTorch state dict: {exc}",
                        code="E811") from exc
    for key in ("model_state", "state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict):
        raise AmgeError(f"Weights file {p} holds no state dict", code="E811")
    key_map = None
    if hasattr(model, "convert_state_dict"):  # a checkpoint of another codebase (key maps)
        obj, key_map = model.convert_state_dict(obj)
    own = model.state_dict()
    loadable = {k: v for k, v in obj.items() if k in own and hasattr(v, "shape")
                and v.shape == own[k].shape}
    if not loadable:
        raise AmgeError(f"Weights file {p} shares no tensor (name and shape) with the model",
                        code="E811")
    model.load_state_dict(loadable, strict=False)
    return {"file": p.name, "sha256": sha256_file(p), "loaded": len(loadable),
            "skipped_shape": sorted(k for k in obj if k in own and k not in loadable),
            "unexpected": sorted(k for k in obj if k not in own),
            "missing": sorted(k for k in own if k not in obj), "key_map": key_map}


def train(model, dataset, cfg: TrainConfig, device: torch.device, d: Dist, seed: int,
          checkpoint: Path, run_key: str, resume: bool, progress: Progress = NULL_PROGRESS
          ) -> TrainState:
    """Train in place; checkpoint after every epoch; resume from the checkpoint when present.

    The loss is the multi-label loss of ``cfg.loss`` unless the model defines its own
    ``training_loss(outputs, y, rows, loss=cfg.loss)`` (rows: the samples' rows in the split's
    labels), as the HAR + lookup baseline (activity cross-entropy) and TransM3E (the multi-label
    loss plus distillation) do; ``predict`` likewise uses a model's ``muscle_scores``. A model
    with ``set_epoch(epoch)`` is told each epoch before it starts (TransM3E's two stages)."""
    optimizer = make_optimizer(model, cfg)
    state = TrainState(losses=[])
    if resume and checkpoint.is_file():
        state = load_checkpoint(checkpoint, model, optimizer, run_key)
        state.resumed_from = state.epoch
        progress.note(f"Resumed from {checkpoint} after epoch {state.epoch}")
    if cfg.batch_size < d.world:
        raise AmgeError(f"train.batch_size {cfg.batch_size} is smaller than the {d.world} "
                        f"processes", code="E803")
    sampler = RankBatchSampler(len(dataset), cfg.batch_size, d, seed, shuffle=True, drop_last=True)
    if len(sampler) == 0:
        raise AmgeError(f"The train split has {len(dataset)} samples, fewer than one batch of "
                        f"{cfg.batch_size}; lower --batch-size", code="E803")
    from .data.datasets import collate

    loader = torch.utils.data.DataLoader(dataset, batch_sampler=sampler, num_workers=cfg.workers,
                                         persistent_workers=cfg.workers > 0, collate_fn=collate,
                                         pin_memory=device.type == "cuda")
    steps_per_epoch = len(sampler)
    total = steps_per_epoch * cfg.epochs
    warmup = int(round(cfg.warmup_epochs * steps_per_epoch))
    if cfg.channels_last:  # before DDP builds its gradient buckets from the parameters
        to_channels_last(model)
    ddp_model = model
    if d.enabled:
        ddp_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None,
            find_unused_parameters=getattr(model, "may_leave_parameters_unused", False))
    step_model = torch.compile(ddp_model) if cfg.compile else ddp_model
    use_amp = cfg.amp and device.type == "cuda"
    amp_dtype = autocast_dtype(device) if use_amp else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp and amp_dtype == torch.float16)
    progress.start("train", total=total, completed=state.step)
    reported = state.step
    for epoch in range(state.epoch, cfg.epochs):
        t0 = time.perf_counter()
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        sampler.set_epoch(epoch)
        if hasattr(model, "set_epoch"):
            model.set_epoch(epoch)
        ddp_model.train()
        if cfg.batchnorm == "frozen":
            _freeze_batchnorm(ddp_model)
        epoch_loss, seen = 0.0, 0
        for batch in loader:
            x = prepare_input(batch.x, device, cfg.channels_last)
            y = batch.y.to(device, non_blocking=True).float()
            global_n = cfg.batch_size  # drop_last: every global batch is full
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * lr_factor(state.step, total, warmup)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                out = step_model(x)
                if hasattr(model, "training_loss"):  # a model with its own objective
                    rows = torch.as_tensor(dataset.rows, device=device)[batch.index.to(device)]
                    per_sample = model.training_loss(out, y, rows, loss=cfg.loss)
                else:
                    per_sample = multilabel_loss(out, y, cfg.loss)
            # sum over this rank's samples / global batch size, times world: DDP's gradient
            # average then equals the gradient of the mean loss over the global batch
            loss = per_sample.sum() * (d.world / global_n)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip > 0:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            state.step += 1
            epoch_loss += float(per_sample.detach().sum())
            seen += len(per_sample)
            if state.step - reported >= cfg.log_every or state.step == total:
                rate = seen * d.world / max(1e-9, time.perf_counter() - t0)
                progress.advance("train", state.step - reported, loss=epoch_loss / max(1, seen),
                                 samples_per_s=rate, epoch=epoch + 1, epochs=cfg.epochs)
                reported = state.step
        totals = all_gather_objects((epoch_loss, seen), d)
        state.losses.append(sum(t[0] for t in totals) / max(1, sum(t[1] for t in totals)))
        state.epoch = epoch + 1
        state.seconds += time.perf_counter() - t0
        if d.main:
            save_checkpoint(checkpoint, model, optimizer, state, run_key)
    progress.finish("train")
    return state


@torch.no_grad()
def predict(model, dataset, cfg: EvalConfig, loss_kind: str, device: torch.device, d: Dist,
            progress: Progress = NULL_PROGRESS, task: str = "predict", *, amp: bool = False,
            channels_last: bool = False, workers: int = 0) -> np.ndarray:
    """(N, 20) float32 scores in dataset order; views aggregated by cfg.aggregate.

    ``amp`` runs the forward pass under autocast on CUDA (as training does), ``channels_last``
    feeds 5-D clips channels-last, ``workers`` are the DataLoader's worker processes."""
    model.eval()
    indices = list(range(len(dataset)))[d.rank::d.world]
    subset = torch.utils.data.Subset(dataset, indices)
    from .data.datasets import collate

    loader = torch.utils.data.DataLoader(subset, batch_size=cfg.batch_size, shuffle=False,
                                         num_workers=workers, collate_fn=collate,
                                         pin_memory=device.type == "cuda")
    use_amp = amp and device.type == "cuda"
    parts = []
    progress.start(task, total=len(indices))
    for batch in loader:
        if batch.skipped:
            raise AmgeError(f"{len(batch.skipped)} samples could not be read during prediction "
                            f"(first: {batch.skipped[0].sample_id}); rerun with --skip-bad",
                            code="E816")
        x = batch.x.to(device, non_blocking=True)
        if x.ndim == _single_view_ndim(dataset):  # no view axis: one view per sample
            x = x.unsqueeze(1)
        n, v = x.shape[:2]
        with torch.autocast(device.type, dtype=autocast_dtype(device) if use_amp else
                            torch.float16, enabled=use_amp):
            logits = model(prepare_input(x.flatten(0, 1), device, channels_last))  # (N*V, outputs)
        scores = (model.muscle_scores(logits) if hasattr(model, "muscle_scores")
                  else to_scores(logits, loss_kind))  # (N*V, 20)
        probs = scores.view(n, v, -1)
        agg = probs.mean(dim=1) if cfg.aggregate == "mean" else probs.amax(dim=1)
        parts.append(agg.cpu().numpy().astype(np.float32))
        progress.advance(task, n)
    progress.finish(task)
    local = np.concatenate(parts) if parts else np.zeros((0, 20), np.float32)
    gathered = all_gather_objects((indices, local), d)
    out = np.zeros((len(dataset), local.shape[1] if local.size else 20), dtype=np.float32)
    for idx, scores in gathered:
        out[idx] = scores
    return out


def _single_view_ndim(dataset) -> int:
    """Rank of one sample's input without a view axis (skeleton C,T,V,M = 4; video C,T,H,W = 4)."""
    return getattr(dataset, "sample_ndim", 4) + 1  # + batch axis
