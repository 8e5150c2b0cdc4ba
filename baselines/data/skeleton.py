"""Skeleton clip settings and the numpy steps that turn a stored sequence into a model input.

A stored sample is (T_i, M, V, 3): per frame, person and joint (x, y, confidence) with x, y in
pixels and confidence 0 for a missing joint. ``skeleton_clip`` makes the (C, T, V, M) input:

1. keep ``max_persons`` persons, highest mean confidence first;
2. normalise the coordinates per clip ("center-scale", "image" or "none");
3. resample to ``frames`` frames (test: uniform over the whole clip; train: a random window);
4. optional training augmentation (flip with left/right joint swap, rotation, scaling);
5. missing joints have coordinates 0 and confidence 0 throughout.

docs/data.md documents each step and setting.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.skeletons import Layout

NORMALIZE = ("center-scale", "image", "none")
CENTERS = ("torso", "joint")
SCALES = ("torso", "bbox")
SHORT = ("stretch", "loop", "pad")
TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")


@dataclass(frozen=True)
class SkeletonSettings:
    """Every setting that changes the numbers a skeleton loader produces (docs/data.md)."""

    frames: int = 64  # T of the model input
    normalize: str = "center-scale"  # "center-scale", "image" ([-1, 1] by image size) or "none" (pixels)
    center: str = "torso"  # center-scale centre: mean of valid shoulders+hips ("torso") or the layout's centre joint ("joint")
    scale: str = "torso"  # center-scale unit: median shoulder-to-hip midpoint distance ("torso") or median bounding-box side ("bbox")
    confidence: bool = True  # channels (x, y, confidence); False gives (x, y)
    max_persons: int = 1  # M of the model input
    short_clip: str = "stretch"  # clips shorter than T: "stretch" (repeat frames evenly), "loop", "pad" (zero frames)
    train_window: tuple[float, float] = (0.5, 1.0)  # training window, as a fraction of the clip, uniform
    views: int = 1  # test views (phases of the uniform resampling); > 1 adds a leading views axis
    flip: bool = False  # training: mirror x with left/right joints swapped, p = 0.5
    rotate: float = 0.0  # training: uniform rotation in [-rotate, rotate] degrees
    scale_jitter: float = 0.0  # training: uniform scaling in [1 - s, 1 + s]
    seed: int = 0  # training randomness is a function of (seed, epoch, sample index)

    def __post_init__(self):
        if isinstance(self.train_window, list):
            object.__setattr__(self, "train_window", tuple(self.train_window))
        problems = []
        if self.frames < 1:
            problems.append(f"frames must be at least 1, got {self.frames}")
        if self.normalize not in NORMALIZE:
            problems.append(f"normalize must be one of {', '.join(NORMALIZE)}, got {self.normalize!r}")
        if self.center not in CENTERS:
            problems.append(f"center must be one of {', '.join(CENTERS)}, got {self.center!r}")
        if self.scale not in SCALES:
            problems.append(f"scale must be one of {', '.join(SCALES)}, got {self.scale!r}")
        if self.max_persons < 1:
            problems.append(f"max_persons must be at least 1, got {self.max_persons}")
        if self.short_clip not in SHORT:
            problems.append(f"short_clip must be one of {', '.join(SHORT)}, got {self.short_clip!r}")
        lo, hi = self.train_window
        if not 0 < lo <= hi <= 1:
            problems.append(f"train_window must satisfy 0 < min <= max <= 1, got {list(self.train_window)}")
        if self.views < 1:
            problems.append(f"views must be at least 1, got {self.views}")
        if self.rotate < 0 or not 0 <= self.scale_jitter < 1:
            problems.append(f"rotate must be >= 0 and scale_jitter in [0, 1), got {self.rotate} "
                            f"and {self.scale_jitter}")
        if self.normalize == "none" and (self.flip or self.rotate or self.scale_jitter):
            problems.append("flip, rotate and scale_jitter act around the origin of normalised "
                            "coordinates; choose normalize 'center-scale' or 'image' to use them")
        if problems:
            raise AmgeError("Invalid skeleton loader settings: " + "; ".join(problems), code="E730")

    @property
    def channels(self) -> int:
        return 3 if self.confidence else 2

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


def select_persons(seq: np.ndarray, max_persons: int) -> np.ndarray:
    """(T, M, V, 3) -> (T, max_persons, V, 3): persons by mean confidence, highest first; zero padded."""
    t, m, v, _ = seq.shape
    order = np.argsort(-seq[..., 2].mean(axis=(0, 2)), kind="stable") if t and m else np.arange(m)
    out = seq[:, order[:max_persons]]
    if out.shape[1] < max_persons:
        out = np.concatenate([out, np.zeros((t, max_persons - out.shape[1], v, 3), seq.dtype)], axis=1)
    return out


def torso_joints(layout: Layout) -> list[int]:
    return [layout.joints.index(name) for name in TORSO]


def flip_permutation(layout: Layout) -> np.ndarray:
    """Joint order after a mirror: every ``left_*`` joint trades places with its ``right_*``."""
    names = list(layout.joints)
    perm = np.arange(len(names))
    for i, name in enumerate(names):
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(a) and b + name[len(a):] in names:
                perm[i] = names.index(b + name[len(a):])
    return perm


def center_scale(seq: np.ndarray, layout: Layout, center: str = "torso",
                 scale: str = "torso") -> tuple[np.ndarray, float]:
    """Centre (2,) and scale of a clip (T, M, V, 3) from its valid joints, in pixels.

    Translating all valid joints moves the centre with them and leaves the scale; scaling them
    by s > 0 scales both, so the normalised clip is invariant to both.
    """
    xy = seq[..., :2].astype(np.float64)
    valid = seq[..., 2] > 0
    torso = torso_joints(layout)
    c = None
    if center == "joint":
        sel = valid[:, :, layout.center]
        if sel.any():
            c = xy[:, :, layout.center][sel].mean(axis=0)
    if c is None:
        sel = valid[:, :, torso]
        if sel.any():
            c = xy[:, :, torso][sel].mean(axis=0)
        elif valid.any():
            c = xy[valid].mean(axis=0)
        else:
            c = np.zeros(2)
    s = 0.0
    if scale == "torso":
        ls, rs, lh, rh = torso
        full = valid[..., ls] & valid[..., rs] & valid[..., lh] & valid[..., rh]  # (T, M)
        if full.any():
            mid_sh = (xy[..., ls, :] + xy[..., rs, :]) / 2
            mid_hip = (xy[..., lh, :] + xy[..., rh, :]) / 2
            s = float(np.median(np.linalg.norm(mid_sh - mid_hip, axis=-1)[full]))
    if s <= 1e-9:
        big = np.where(valid[..., None], xy, np.nan)  # (T, M, V, 2)
        has = valid.any(axis=2)
        if has.any():
            span = np.nanmax(big[has], axis=1) - np.nanmin(big[has], axis=1)  # (K, 2)
            s = float(np.median(span.max(axis=1)))
    if s <= 1e-9:
        s = 1.0
    return c, s


def normalize_clip(seq: np.ndarray, layout: Layout, mode: str, image_size=None,
                   center: str = "torso", scale: str = "torso") -> np.ndarray:
    """Normalised copy of (T, M, V, 3) as float32; missing joints keep x = y = confidence = 0."""
    out = seq.astype(np.float64, copy=True)
    valid = out[..., 2] > 0
    if mode == "center-scale":
        c, s = center_scale(seq, layout, center, scale)
        out[..., :2] = (out[..., :2] - c) / s
    elif mode == "image":
        w, h = (float(image_size[0]), float(image_size[1])) if image_size is not None else (0, 0)
        if w <= 0 or h <= 0:
            raise AmgeError(f"'image' normalisation needs the image size, but the skeleton store "
                            f"gives {list(image_size) if image_size is not None else None}; "
                            f"re-import with --image-size or use normalize 'center-scale'",
                            code="E731")
        out[..., 0] = out[..., 0] / w * 2 - 1
        out[..., 1] = out[..., 1] / h * 2 - 1
    elif mode != "none":
        raise AmgeError(f"normalize must be one of {', '.join(NORMALIZE)}, got {mode!r}", code="E730")
    if mode != "none":
        out[~valid] = 0.0
    return out.astype(np.float32)


def resample_indices(length: int, frames: int, start: int = 0, size: int | None = None,
                     phase: float = 0.5, short_clip: str = "stretch") -> np.ndarray:
    """Source frame per output frame, -1 for a zero frame.

    The window ``[start, start + size)`` is divided into ``frames`` equal parts and each output
    frame takes the source frame at ``phase`` of its part. A window shorter than ``frames``
    follows ``short_clip``: "stretch" (the same rule, so frames repeat evenly), "loop" (window
    repeated from its start) or "pad" (window, then zero frames).
    """
    size = length - start if size is None else size
    if length == 0 or size <= 0:
        return np.full(frames, -1, dtype=np.int64)
    j = np.arange(frames)
    if size >= frames or short_clip == "stretch":
        idx = start + np.floor((j + phase) * size / frames).astype(np.int64)
        return np.minimum(idx, start + size - 1)
    if short_clip == "loop":
        return start + j % size
    return np.where(j < size, start + j, -1)


def train_indices(length: int, frames: int, window: tuple[float, float], short_clip: str,
                  rng: np.random.Generator) -> np.ndarray:
    """A random window of ``window`` fraction of the clip at a random start, resampled to ``frames``.

    Clips shorter than ``frames`` are used whole under "loop" and "pad"; under "stretch" they
    are windowed like any other.
    """
    if length == 0 or (length < frames and short_clip != "stretch"):
        return resample_indices(length, frames, short_clip=short_clip)
    p = rng.uniform(window[0], window[1])
    size = max(1, min(length, int(round(p * length))))
    start = int(rng.integers(0, length - size + 1))
    return resample_indices(length, frames, start, size, 0.5, "stretch")


def uniform_indices(length: int, frames: int, view: int, views: int, short_clip: str) -> np.ndarray:
    """Uniform resampling of the whole clip; view ``k`` of ``n`` samples at phase (k + 0.5) / n."""
    return resample_indices(length, frames, 0, length, (view + 0.5) / views, short_clip)


def gather(seq: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Frames ``idx`` of (T, M, V, C); index -1 gives an all-zero frame."""
    out = np.zeros((len(idx), *seq.shape[1:]), dtype=seq.dtype)
    ok = idx >= 0
    out[ok] = seq[idx[ok]]
    return out


def augment(seq: np.ndarray, layout: Layout, settings: SkeletonSettings,
            rng: np.random.Generator) -> np.ndarray:
    """Flip / rotate / scale normalised coordinates about the origin; missing joints stay 0.

    All three are linear maps of (x, y), so a joint at the origin with confidence 0 stays there.
    The random draws happen in a fixed order whatever is switched on, so turning one on does not
    change the others.
    """
    do_flip = rng.uniform() < 0.5
    angle = math.radians(rng.uniform(-1.0, 1.0) * settings.rotate)
    factor = 1.0 + rng.uniform(-1.0, 1.0) * settings.scale_jitter
    out = seq.copy()
    if settings.flip and do_flip:
        out = out[:, :, flip_permutation(layout)]
        out[..., 0] = -out[..., 0]
    if settings.rotate or settings.scale_jitter:
        cos, sin = math.cos(angle) * factor, math.sin(angle) * factor
        x, y = out[..., 0].copy(), out[..., 1].copy()
        out[..., 0] = cos * x - sin * y
        out[..., 1] = sin * x + cos * y
    return out


def skeleton_clip(seq: np.ndarray, layout: Layout, settings: SkeletonSettings, image_size=None,
                  *, train: bool = False, rng: np.random.Generator | None = None) -> np.ndarray:
    """Model input from a stored (T_i, M, V, 3) sequence: (C, T, V, M), or (views, C, T, V, M).

    ``rng`` is required when ``train``; test output is deterministic.
    """
    s = settings
    x = select_persons(np.asarray(seq, dtype=np.float32), s.max_persons)
    x = normalize_clip(x, layout, s.normalize, image_size, s.center, s.scale)
    if train:
        if rng is None:
            raise ValueError("training needs a random generator")
        x = gather(x, train_indices(len(x), s.frames, s.train_window, s.short_clip, rng))
        x = augment(x, layout, s, rng)
        clips = [x]
    else:
        clips = [gather(x, uniform_indices(len(x), s.frames, k, s.views, s.short_clip))
                 for k in range(s.views)]
    # (T, M, V, C) -> (C, T, V, M)
    out = [c[..., :s.channels].transpose(3, 0, 2, 1) for c in clips]
    if train or s.views == 1:
        return np.ascontiguousarray(out[0])
    return np.ascontiguousarray(np.stack(out))
