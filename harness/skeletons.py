"""2-D skeleton layouts and the skeleton store (one packed file per dataset split).

Store layout: ``<data-root>/<dataset>/skeletons/<split>.npz`` with

- ``sample_ids``  (N,) str
- ``offsets``     (N+1,) int64: sample i owns frames ``offsets[i]:offsets[i+1]``
- ``frames``      (sum T_i, M, V, 3) float32: per frame, person and joint (x, y, confidence);
  x and y in pixels of the source video, confidence in [0, 1], 0 = joint not detected
- ``image_size``  (N, 2) int32: width, height of the source video
- ``fps``         (N,) float32
- ``layout``      str: a key of ``LAYOUTS``

Samples have their own length T_i; ``M`` is the most persons any sample has (missing persons are
all-zero). Loaders normalise and resample to a fixed T (see baselines/data).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import AmgeError, MissingData
from .fileio import write_bytes_atomic


@dataclass(frozen=True)
class Layout:
    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]  # (child, parent) pairs of a spanning tree
    center: int  # joint the "spatial" partition measures distances from

    @property
    def num_joints(self) -> int:
        return len(self.joints)


COCO17 = Layout(
    "coco17",
    ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
     "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
     "left_knee", "right_knee", "left_ankle", "right_ankle"),
    ((15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5), (10, 8), (8, 6),
     (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)),
    0,
)

OPENPOSE18 = Layout(
    "openpose18",
    ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder",
     "left_elbow", "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip",
     "left_knee", "left_ankle", "right_eye", "left_eye", "right_ear", "left_ear"),
    ((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8), (11, 5), (8, 2),
     (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15), (16, 14)),
    1,
)

# AlphaPose's Halpe-26: COCO-17 plus head top, neck, hip centre and six foot points. AlphaPose's
# drawing pairs leave the face unconnected; the nose-neck edge (0, 18) joins it, as OpenPose does.
HALPE26 = Layout(
    "halpe26",
    COCO17.joints + ("head", "neck", "hip", "left_big_toe", "right_big_toe", "left_small_toe",
                     "right_small_toe", "left_heel", "right_heel"),
    ((1, 0), (2, 0), (3, 1), (4, 2), (0, 18), (17, 18), (5, 18), (6, 18), (7, 5), (9, 7),
     (8, 6), (10, 8), (19, 18), (11, 19), (12, 19), (13, 11), (15, 13), (14, 12), (16, 14),
     (24, 15), (20, 24), (22, 24), (25, 16), (21, 25), (23, 25)),
    18,
)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (COCO17, OPENPOSE18, HALPE26)}


def get_layout(name: str) -> Layout:
    if name not in LAYOUTS:
        raise AmgeError(f"Unknown skeleton layout {name!r}; layouts: {', '.join(LAYOUTS)}",
                        code="E700")
    return LAYOUTS[name]


def skeleton_path(data_root: str | os.PathLike, dataset: str, split: str) -> Path:
    return Path(data_root) / dataset / "skeletons" / f"{split}.npz"


@dataclass(frozen=True, eq=False)
class SkeletonSet:
    sample_ids: np.ndarray
    offsets: np.ndarray
    frames: np.ndarray
    image_size: np.ndarray
    fps: np.ndarray
    layout: Layout

    @cached_property
    def index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.sample_ids.tolist())}

    def __len__(self) -> int:
        return len(self.sample_ids)

    def get(self, sample_id: str) -> np.ndarray:
        """(T, M, V, 3) frames of one sample."""
        i = self.index.get(sample_id)
        if i is None:
            raise MissingData(f"No skeleton for sample {sample_id!r}", code="E701")
        return self.frames[self.offsets[i]:self.offsets[i + 1]]


def write_skeletons(path: str | os.PathLike, sample_ids, sequences, layout: str,
                    image_sizes, fps) -> Path:
    """Pack per-sample (T_i, M_i, V, 3) arrays into one store file, atomically."""
    lay = get_layout(layout)
    seqs = [np.asarray(s, dtype=np.float32) for s in sequences]
    if len(seqs) != len(sample_ids):
        raise ValueError("one sequence per sample id")
    m = max((s.shape[1] for s in seqs), default=1)
    for s in seqs:
        if s.ndim != 4 or s.shape[2] != lay.num_joints or s.shape[3] != 3:
            raise ValueError(f"Expected (T, M, {lay.num_joints}, 3) per sample, got {s.shape}")
    padded = [np.concatenate([s, np.zeros((s.shape[0], m - s.shape[1], lay.num_joints, 3),
                                          np.float32)], axis=1) if s.shape[1] < m else s
              for s in seqs]
    lengths = np.array([len(s) for s in padded], dtype=np.int64)
    frames = (np.concatenate(padded) if padded else
              np.zeros((0, m, lay.num_joints, 3), dtype=np.float32))
    buf = io.BytesIO()
    np.savez_compressed(buf, sample_ids=np.asarray(list(sample_ids), dtype=str),
                        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
                        frames=frames, image_size=np.asarray(image_sizes, dtype=np.int32).reshape(-1, 2),
                        fps=np.asarray(fps, dtype=np.float32), layout=np.array(lay.name))
    return write_bytes_atomic(path, buf.getvalue())


def read_skeletons(path: str | os.PathLike) -> SkeletonSet:
    path = Path(path)
    if not path.is_file():
        raise MissingData(f"No skeleton file at {path}; generate the benchmark with `amge-eval "
                          f"data synth` or import skeletons with `amge-eval data import-alphapose`",
                          code="E701")
    try:
        with np.load(path, allow_pickle=False) as z:
            return SkeletonSet(z["sample_ids"], z["offsets"], z["frames"], z["image_size"],
                               z["fps"], get_layout(str(z["layout"])))
    except (OSError, ValueError, KeyError) as exc:
        raise AmgeError(f"Skeleton file {path} is unreadable: {exc}", code="E702") from exc
