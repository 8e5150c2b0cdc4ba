"""The optical-flow modality: clips of stored flow (flow.py) through the video loader's
settings (docs/raw-video.md, "The loader modality `optical_flow`").

A flow clip is placed and sampled exactly as a video clip (``VideoSettings``: ``frames`` times
``stride / fps`` seconds apart, test positions, ``short_clip``), each time taking the stored
flow whose time (that of the later frame of its pair) is nearest. Spatially it goes through the
same crops as RGB (``resized`` or ``jitter`` in training, short side then centre or three crops
at test), resized bilinearly; a horizontal flip mirrors the field and negates dx. Values are the
stored flow in units of its ``bound`` (so within [-1, 1]); resizing changes where a vector is,
not its value, so a motion reads the same at every crop scale. Output: (2, T, crop, crop).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.labels import LabelSet

from .datasets import Skipped, _Clips, _missing_message, settings_from_mapping
from .flow import flow_dir, read_flow, sample_file
from .transforms import (
    crop,
    random_crop_offsets,
    random_resized_crop_box,
    resize,
    short_side_size,
    uniform_crop_offsets,
)
from .video import VideoSettings, clip_start, sample_times


def flow_indices(times: np.ndarray, targets: np.ndarray, duration: float,
                 short_clip: str) -> np.ndarray:
    """Index of the stored flow nearest each target time (the earlier on ties); -1 for a
    black (zero) frame. Targets past the end follow ``short_clip`` as video frames do."""
    t = np.asarray(targets, dtype=np.float64)
    if short_clip == "loop" and duration > 0:
        t = np.where(t >= duration, np.mod(t, duration), t)
    j = np.searchsorted(times, t, side="left")
    lo = np.clip(j - 1, 0, len(times) - 1)
    hi = np.clip(j, 0, len(times) - 1)
    idx = np.where(np.abs(times[lo] - t) <= np.abs(times[hi] - t), lo, hi)
    if short_clip == "zero":
        idx = np.where(t >= duration, -1, idx)
    return idx


def _gather(clip, idx: np.ndarray) -> torch.Tensor:
    """(T, 2, H, W) float32 flow in units of its bound; zeros for index -1."""
    h, w = clip.flow.shape[1:3]
    out = np.zeros((len(idx), h, w, 2), dtype=np.float32)
    ok = idx >= 0
    if ok.any():
        out[ok] = clip.as_float(idx[ok])
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


def _flip(x: torch.Tensor) -> torch.Tensor:
    """Mirror a (T, 2, H, W) flow field left-right: positions flip and dx changes sign."""
    x = x.flip(-1)
    x[:, 0] = -x[:, 0]
    return x


def train_flow_view(x: torch.Tensor, s: VideoSettings, rng: np.random.Generator) -> torch.Tensor:
    height, width = x.shape[-2:]
    if s.train_crop == "resized":
        top, left, h, w = random_resized_crop_box(height, width, s.train_scale, s.train_ratio, rng)
        x = resize(x[..., top:top + h, left:left + w], (s.crop, s.crop), s.antialias)
    else:
        short = int(round(rng.uniform(s.train_short_side[0], s.train_short_side[1])))
        nh, nw = short_side_size(height, width, short)
        x = resize(x, (nh, nw), s.antialias)
        top, left = random_crop_offsets(nh, nw, s.crop, rng)
        x = crop(x, top, left, s.crop, s.crop)
    if s.train_flip and rng.uniform() < 0.5:
        x = _flip(x)
    return x


def eval_flow_views(x: torch.Tensor, s: VideoSettings) -> list[torch.Tensor]:
    height, width = x.shape[-2:]
    nh, nw = short_side_size(height, width, s.test_short_side)
    x = resize(x, (nh, nw), s.antialias)
    return [crop(x, *uniform_crop_offsets(nh, nw, s.crop, k, s.spatial_views), s.crop, s.crop)
            for k in range(s.spatial_views)]


class FlowDataset(_Clips):
    """Optical-flow clips: x is (2, T, crop, crop), or (views, 2, T, crop, crop).

    Files: ``<flow_root>/<sample id>.npz`` (``flow_dir(data_root, dataset, split)`` by default),
    written by `amge-eval data flow`.
    """

    kind = "optical_flow"

    def __init__(self, labels: LabelSet, settings: VideoSettings | dict | None = None, *,
                 train: bool = False, data_root=None, flow_root=None, skip_bad: bool = False):
        s = settings if isinstance(settings, VideoSettings) else settings_from_mapping(
            VideoSettings, {"modality": "optical_flow", **dict(settings or {})}, "video")
        if s.modality != "optical_flow":
            raise AmgeError(f"FlowDataset reads optical flow, not {s.modality!r}", code="E730")
        if flow_root is None:
            from amge_eval.harness.fileio import default_data_root

            root = Path(data_root).expanduser() if data_root else default_data_root()
            flow_root = flow_dir(root, labels.dataset, labels.split)
        self.flow_root = Path(flow_root)
        self.skip_bad = bool(skip_bad)
        rows, paths, missing = [], [], []
        for r, sid in enumerate(labels.sample_ids.tolist()):
            p = sample_file(self.flow_root, sid, ".npz")
            if p.is_file():
                rows.append(r)
                paths.append(p)
            else:
                missing.append(sid)
        if missing and not skip_bad:
            raise MissingData(_missing_message(
                "optical flow", labels, missing, f" (no {sample_file(self.flow_root, missing[0], '.npz')})",
                f"Compute it with `amge-eval data flow {labels.split} --dataset "
                f"{labels.dataset}`, or pass --skip-bad to leave those samples out."),
                code="E712")
        self.skipped = [Skipped(sid, "no optical flow") for sid in missing]
        super().__init__(labels, rows, train, s)
        self.paths = paths

    @property
    def views(self) -> int:
        s = self.config
        return s.train_views if self.train else len(s.test_positions()) * s.spatial_views

    @property
    def output_shape(self) -> tuple[int, ...]:
        s = self.config
        shape = (2, s.frames, s.crop, s.crop)
        return shape if self.views == 1 else (self.views, *shape)

    def settings(self) -> dict:
        out = super().settings()
        out["skip_bad"] = self.skip_bad
        return out

    def _clip(self, clip, fraction: float) -> torch.Tensor:
        s = self.config
        start = clip_start(clip.duration, s.span, fraction)
        idx = flow_indices(clip.times, sample_times(start, s.frames, s.stride, s.fps),
                           clip.duration, s.short_clip)
        return _gather(clip, idx)

    def __getitem__(self, i: int):
        s = self.config
        try:
            clip = read_flow(self.paths[i])
        except AmgeError as exc:
            if not self.skip_bad:
                raise
            return Skipped(self.sample_ids[i], exc.message)
        if len(clip.times) == 0:
            h, w = clip.flow.shape[1:3]
            clip = clip.__class__(np.zeros((1, h, w, 2), np.int8), np.zeros(1), clip.bound,
                                  clip.fps, clip.size, clip.source_size, clip.settings)
        if self.train:
            rng = self._rng(i)
            x = self._clip(clip, rng.uniform())
            views = [train_flow_view(x, s, rng) for _ in range(s.train_views)]
        else:
            views = [v for f in s.test_positions()
                     for v in eval_flow_views(self._clip(clip, f), s)]
        views = [v.permute(1, 0, 2, 3).contiguous() for v in views]  # (2, T, crop, crop)
        x = views[0] if len(views) == 1 else torch.stack(views)
        return x, self._y[i], i
