"""``MaskedMAP``: the benchmark's masked mAP as a torchmetrics-style metric for validation loops.

A number logged during training should be the number ``amge-eval score`` reports. So this class
only accumulates and checks: ``compute`` calls ``harness.metric.masked_map``, the scorer's own
function, on everything accumulated (on every rank when a process group is initialised). The
metric is not a mean of per-batch values (AP of a union is not the mean of APs), so every score
is kept until ``reset``: 20 numbers and 20 bits per sample, on the CPU.

It mimics torchmetrics' interface (``update``, ``compute``, ``reset``, ``forward``/``__call__``)
without depending on torchmetrics or subclassing ``torch.nn.Module``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.distributed as dist

from ..harness.metric import masked_map
from ..harness.muscles import NUM_MUSCLES


def _as_numpy(x, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        t = x.detach()
        if t.is_floating_point() and t.element_size() < 4:
            t = t.float()  # numpy has no bfloat16; float32 holds float16/bfloat16 exactly
        return t.cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"Expected {what} as a tensor or array, but got {type(x).__name__} "
                         f"({exc})") from exc


def _check(preds, target) -> tuple[np.ndarray, np.ndarray]:
    """One batch as (scores, labels) copies, scores in the dtype the scorer gives a file's
    scores (float32 up to 4 bytes, else float64), labels bool."""
    p = _as_numpy(preds, "preds")
    y = _as_numpy(target, "target")
    if p.ndim != 2 or p.shape[1] != NUM_MUSCLES:
        raise ValueError(f"Expected preds of shape (B, {NUM_MUSCLES}), one column per muscle, "
                         f"but got {tuple(p.shape)}")
    if y.shape != p.shape:
        raise ValueError(f"Expected target of the same shape as preds {tuple(p.shape)}, but got "
                         f"{tuple(y.shape)}")
    if p.dtype.kind not in "fiu":
        raise ValueError(f"Expected real-valued preds (float or int), but got dtype {p.dtype}")
    if p.dtype.kind == "f":
        p = p.astype(np.float32 if p.dtype.itemsize <= 4 else np.float64, copy=True)
        bad = ~np.isfinite(p)
        if bad.any():
            raise ValueError(f"Expected finite preds, but got {int(bad.sum())} NaN or infinite "
                             f"values")
    else:
        p = p.astype(np.float64)
    if y.dtype != bool:
        if y.dtype.kind not in "fiu" or not np.isin(y, (0, 1)).all():
            raise ValueError(f"Expected target of 0/1 (or bool), but got dtype {y.dtype} with "
                             f"other values")
    return p, y.astype(bool, copy=True)


class MaskedMAP:
    """Masked mAP (PySlowFast's ``get_map``) over every sample seen since the last ``reset``.

    - ``update(preds, target)``: add a batch; ``preds`` (B, 20) real scores (logits or
      probabilities: only their order matters), ``target`` (B, 20) 0/1 or bool; tensors on any
      device, or arrays. Checked at once (shape, finite scores, binary target), so an error
      points at the batch that caused it.
    - ``compute()``: a Python ``float``, the masked mAP as a fraction in [0, 1] (``NaN`` when no
      muscle has a positive), exactly ``masked_map(all scores, all labels).map``: muscles with
      no positive are dropped from the mean, as in the scorer. Under ``torch.distributed`` (a
      process group initialised and ``sync_on_compute``) the states of all ranks are gathered
      first, so ``compute`` is a collective: call it on every rank. Samples a
      ``DistributedSampler`` pads the last batch with count twice; give the validation loader
      ``drop_last=False`` and a sampler that does not pad, for the exact number.
    - ``forward(preds, target)`` / ``metric(preds, target)``: ``update`` plus the masked mAP of
      this batch alone (this rank only; ``NaN`` for an empty batch), as torchmetrics' forward.
    - ``reset()``: forget every sample.
    """

    def __init__(self, *, sync_on_compute: bool = True, process_group=None):
        self.sync_on_compute = sync_on_compute
        self.process_group = process_group
        self.reset()

    def reset(self) -> None:
        self._preds: list[np.ndarray] = []
        self._target: list[np.ndarray] = []

    @property
    def num_samples(self) -> int:
        """Samples accumulated on this rank."""
        return sum(len(p) for p in self._preds)

    def update(self, preds, target) -> None:
        p, y = _check(preds, target)
        self._append(p, y)

    def _append(self, p: np.ndarray, y: np.ndarray) -> None:
        if len(p):
            self._preds.append(p)
            self._target.append(y)

    def _local(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._preds:
            return np.zeros((0, NUM_MUSCLES), np.float32), np.zeros((0, NUM_MUSCLES), bool)
        return np.concatenate(self._preds), np.concatenate(self._target)

    def _synced(self) -> tuple[np.ndarray, np.ndarray]:
        """All ranks' samples (this rank's alone outside a process group). The masked mAP does
        not depend on row order, so ranks are simply concatenated in rank order."""
        p, y = self._local()
        if not (self.sync_on_compute and dist.is_available() and dist.is_initialized()):
            return p, y
        gathered: list = [None] * dist.get_world_size(self.process_group)
        dist.all_gather_object(gathered, (p, y), group=self.process_group)
        parts = [g for g in gathered if len(g[0])]
        if not parts:
            return p, y
        return np.concatenate([g[0] for g in parts]), np.concatenate([g[1] for g in parts])

    def compute(self) -> float:
        p, y = self._synced()
        if len(p) == 0:
            raise ValueError("Expected at least one sample before compute(), but got none; "
                             "call update() first")
        return masked_map(p, y).map

    def forward(self, preds, target) -> float:
        p, y = _check(preds, target)
        self._append(p, y)
        return masked_map(p, y).map if len(p) else float("nan")

    def __call__(self, preds, target) -> float:
        return self.forward(preds, target)

    def __repr__(self) -> str:
        return f"MaskedMAP(num_samples={self.num_samples})"
