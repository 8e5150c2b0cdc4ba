"""Spatial transforms, RGB-difference and pixel normalisation for video clips (docs/data.md).

Frames travel as float tensors (T, 3, H, W) in [0, 1] through the spatial steps and leave as
(C, T, H, W). Resizing is bilinear with ``align_corners=False`` and no antialiasing unless asked,
as PySlowFast does it; the short-side size rule is torchvision's (the long side is
``int(size * long / short)``). Random choices come from a numpy Generator passed in, so a
sample's augmentation depends only on the seed the dataset derives for it.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

# Resizing converts frames to float first (as the reference does); converting at most this many
# bytes at a time bounds the memory of a 1280x720 clip, while small frames go in one call,
# which is two to three times faster than frame by frame.
_RESIZE_BYTES = 64 * 2**20


def to_float(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)


def short_side_size(height: int, width: int, size: int) -> tuple[int, int]:
    """(height, width) after scaling the short side to ``size`` (torchvision's rule)."""
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def resize(x: torch.Tensor, size: tuple[int, int], antialias: bool = False) -> torch.Tensor:
    """(T, C, H, W) float -> (T, C, size[0], size[1]), bilinear, half-pixel centres."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)


def resize_frames(frames: np.ndarray, size: tuple[int, int], antialias: bool = False) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, size[0], size[1]) float in [0, 1], a chunk of frames at a time."""
    chunk = max(1, _RESIZE_BYTES // max(1, frames[0].size * 4)) if len(frames) else 1
    out = [resize(to_float(frames[i:i + chunk]), size, antialias)
           for i in range(0, len(frames), chunk)]
    return torch.cat(out) if len(out) != 1 else out[0]


def crop(x: torch.Tensor, top: int, left: int, height: int, width: int) -> torch.Tensor:
    return x[..., top:top + height, left:left + width]


def uniform_crop_offsets(height: int, width: int, size: int, index: int = 1,
                         views: int = 1) -> tuple[int, int]:
    """(top, left) of a ``size`` square: the centre, or with ``views`` = 3 the start (0), centre
    (1) or end (2) along the long side (PySlowFast's uniform crop; centre offsets round up)."""
    top = math.ceil((height - size) / 2)
    left = math.ceil((width - size) / 2)
    if views == 1 or index == 1:
        return top, left
    if height > width:
        return (0 if index == 0 else height - size), left
    return top, (0 if index == 0 else width - size)


def random_crop_offsets(height: int, width: int, size: int, rng: np.random.Generator) -> tuple[int, int]:
    return int(rng.integers(0, height - size + 1)), int(rng.integers(0, width - size + 1))


def random_resized_crop_box(height: int, width: int, scale: tuple[float, float],
                            ratio: tuple[float, float],
                            rng: np.random.Generator) -> tuple[int, int, int, int]:
    """(top, left, h, w) of a random area-and-aspect crop (the Inception-style crop).

    Up to ten draws of an area fraction in ``scale`` and a log-uniform aspect (w/h) in ``ratio``;
    the first box that fits wins. If none fits, the largest centred box whose aspect lies in
    ``ratio`` is used.
    """
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = int(round(math.sqrt(target * aspect)))
        h = int(round(math.sqrt(target / aspect)))
        if 0 < w <= width and 0 < h <= height:
            return int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1)), h, w
    in_ratio = width / height
    if in_ratio < ratio[0]:
        w, h = width, max(1, min(height, int(round(width / ratio[0]))))
    elif in_ratio > ratio[1]:
        h, w = height, max(1, min(width, int(round(height * ratio[1]))))
    else:
        h, w = height, width
    return (height - h) // 2, (width - w) // 2, h, w


def hflip(x: torch.Tensor) -> torch.Tensor:
    return x.flip(-1)


def rgb_diff(x: torch.Tensor) -> torch.Tensor:
    """(C, T, H, W) in [0, 1] -> |f_t - f_{t-1}| with the first frame's difference zero.

    Computed on the sampled, cropped clip, as the MuscleMap release does.
    """
    out = torch.zeros_like(x)
    out[:, 1:] = (x[:, 1:] - x[:, :-1]).abs()
    return out


def normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """(3, T, H, W): subtract ``mean`` and divide by ``std`` per RGB channel."""
    m = torch.as_tensor(mean, dtype=x.dtype).view(-1, 1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype).view(-1, 1, 1, 1)
    return (x - m) / s


def mctkd_pairing(x: torch.Tensor) -> torch.Tensor:
    """The release's "50% MCTKD" pairing of two augmented views (supplementary Table 13, case 3).

    ``x`` (B, 2, 6, T, H, W) holds per view [RGB, RGB-diff]; the result pairs view 1's RGB with
    view 2's difference and view 2's RGB with an all-zero difference.
    """
    if x.dim() != 6 or x.shape[1] != 2 or x.shape[2] != 6:
        raise ValueError(f"Expected (B, 2, 6, T, H, W), but got {tuple(x.shape)}")
    out = x.clone()
    out[:, 0, 3:] = x[:, 1, 3:]
    out[:, 1, 3:] = 0
    return out


def train_view(frames: np.ndarray, settings, rng: np.random.Generator) -> torch.Tensor:
    """One augmented view: (T, H, W, 3) uint8 -> (T, 3, crop, crop) float in [0, 1]."""
    s = settings
    height, width = frames.shape[1:3]
    if s.train_crop == "resized":
        top, left, h, w = random_resized_crop_box(height, width, s.train_scale, s.train_ratio, rng)
        x = resize_frames(frames[:, top:top + h, left:left + w], (s.crop, s.crop), s.antialias)
    else:
        short = int(round(rng.uniform(s.train_short_side[0], s.train_short_side[1])))
        nh, nw = short_side_size(height, width, short)
        x = resize_frames(frames, (nh, nw), s.antialias)
        top, left = random_crop_offsets(nh, nw, s.crop, rng)
        x = crop(x, top, left, s.crop, s.crop)
    if s.train_flip and rng.uniform() < 0.5:
        x = hflip(x)
    return x


def eval_views(frames: np.ndarray, settings) -> list[torch.Tensor]:
    """Spatial test views: (T, H, W, 3) uint8 -> ``spatial_views`` tensors (T, 3, crop, crop)."""
    s = settings
    height, width = frames.shape[1:3]
    nh, nw = short_side_size(height, width, s.test_short_side)
    x = resize_frames(frames, (nh, nw), s.antialias)
    return [crop(x, *uniform_crop_offsets(nh, nw, s.crop, k, s.spatial_views), s.crop, s.crop)
            for k in range(s.spatial_views)]


def finish(x: torch.Tensor, settings) -> torch.Tensor:
    """(T, 3, H, W) in [0, 1] -> (C, T, H, W): channels first, RGB-diff and mean/std as set."""
    x = x.permute(1, 0, 2, 3).contiguous()
    parts = []
    if settings.modality in ("rgb", "rgb+rgb_diff"):
        parts.append(normalize(x, settings.mean, settings.std) if settings.mean is not None else x)
    if settings.modality in ("rgb_diff", "rgb+rgb_diff"):
        parts.append(rgb_diff(x))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)
