"""Torch datasets over the label store: skeleton clips and video clips, their collate, a
DataLoader helper, and media path resolution (docs/data.md).

Each item is ``(x, y, index)``: the clip tensor, the (20,) float label vector and the item's
position in the dataset (``dataset.sample_ids[index]`` names it). ``collate`` stacks items into
a ``Batch``. Training randomness is drawn from a generator seeded by (seed, epoch, label-row
index), so results do not depend on the number of DataLoader workers or on the batch order;
call ``set_epoch`` before each epoch (``make_loader`` does); the epoch lives in shared memory,
so persistent DataLoader workers see it too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from amge_eval.harness.errors import MissingData
from amge_eval.harness.fileio import default_data_root
from amge_eval.harness.labels import LabelSet, read_labels
from amge_eval.harness.official import rewrite_path
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.schema import convert
from amge_eval.harness.skeletons import SkeletonSet, read_skeletons, skeleton_path

from .skeleton import SkeletonSettings, skeleton_clip
from .transforms import eval_views, finish, train_view
from .video import VideoError, VideoSettings, decode_clips, probe_video

# --------------------------------------------------------------------------- media paths


def media_candidates(media: str, data_root, dataset: str, video_root=None,
                     rewrite: dict[str, str] | None = None) -> list[Path]:
    """Where a label row's ``media`` may lie, in the order ``resolve_media`` tries them.

    1. absolute ``media`` as it is; relative ``media`` under ``<data_root>/<dataset>/``;
    2. with ``video_root``: ``<video_root>/<last two components>`` (``<activity>/<file>``, the
       official release layout), then ``<video_root>/<media>`` for a relative ``media``.
    ``rewrite`` replaces whole path components first (harness.official.REFERENCE_REWRITE turns
    the release's ``musclemap_trimmed`` into ``musclemap_rescale``, as its loader does).
    """
    norm = rewrite_path(str(media).strip(), rewrite)
    parts = norm.split("/")
    absolute = norm.startswith("/") or bool(re.match(r"^[A-Za-z]:/", norm))
    out = [Path(norm) if absolute else Path(data_root) / dataset / norm]
    if video_root is not None:
        tail = [p for p in parts if p not in ("", ".")][-2:]
        out.append(Path(video_root).joinpath(*tail))
        if not absolute:
            out.append(Path(video_root) / norm)
    seen, unique = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def _fix_hint(absolute: bool) -> str:
    why = ("the label store holds absolute paths (from the machine that made it); " if absolute
           else "")
    return (f"{why}pass --video-root DIR (a folder holding <activity>/<file> videos) or "
            f"--data-root DIR (media under DIR/<dataset>/<media>, or set AMGE_EVAL_DATA)")


def resolve_media(media: str, data_root=None, dataset: str = "", video_root=None,
                  rewrite: dict[str, str] | None = None, sample_id: str | None = None) -> Path:
    """The existing file of a label row's ``media`` (see ``media_candidates``).

    Raises MissingData naming the sample, every path tried and the options that fix it.
    """
    root = Path(data_root).expanduser() if data_root else default_data_root()
    who = f"sample {sample_id!r}" if sample_id else f"media {media!r}"
    if not str(media).strip():
        raise MissingData(f"No video for {who}: its media path in the label store is empty; "
                          f"re-import the labels with video paths", code="E711")
    tried = media_candidates(media, root, dataset,
                             Path(video_root).expanduser() if video_root else None, rewrite)
    for p in tried:
        if p.is_file():
            return p
    absolute = str(media).replace("\\", "/").startswith("/") or bool(
        re.match(r"^[A-Za-z]:[/\\]", str(media)))
    raise MissingData(f"No video for {who}: tried {', '.join(str(p) for p in tried)}; "
                      f"{_fix_hint(absolute)}", code="E711")


def settings_from_mapping(cls, mapping: dict | None, what: str):
    """Build a loader settings dataclass from a [data] table, checked by the project's one config
    validator (harness.schema: unknown keys, strict types, every problem by its path)."""
    return convert(cls, dict(mapping or {}), "[data]", code="E730",
                   source=f"{what.capitalize()} loader settings")


# --------------------------------------------------------------------------- batches


class Skipped(NamedTuple):
    """Stands in for an item that failed to load under ``skip_bad``; collate drops it."""

    sample_id: str
    reason: str


class Batch(NamedTuple):
    x: torch.Tensor | tuple  # (B, C, T, ...) or (B, views, C, T, ...) float32; a tuple of
    # such tensors for paired inputs (video, skeleton)
    y: torch.Tensor  # (B, 20) float32
    index: torch.Tensor  # (B,) int64, positions in the dataset
    skipped: list  # Skipped items of this batch (only under skip_bad)


def collate(items) -> Batch:
    """Stack ``(x, y, index)`` items; ``Skipped`` markers go to ``Batch.skipped``.

    A batch whose items were all skipped has B = 0 (x of shape (0,)).
    """
    kept = [it for it in items if not isinstance(it, Skipped)]
    skipped = [it for it in items if isinstance(it, Skipped)]
    if not kept:
        return Batch(torch.zeros(0), torch.zeros(0, 20), torch.zeros(0, dtype=torch.int64), skipped)
    if isinstance(kept[0][0], tuple):  # paired inputs: stack each part
        x = tuple(torch.stack([it[0][j] for it in kept]) for j in range(len(kept[0][0])))
    else:
        x = torch.stack([it[0] for it in kept])
    return Batch(x, torch.stack([it[1] for it in kept]),
                 torch.tensor([int(it[2]) for it in kept], dtype=torch.int64), skipped)


def sample_rng(seed: int, epoch: int, row: int) -> np.random.Generator:
    """The generator of one sample's training randomness."""
    return np.random.default_rng([int(seed), int(epoch), int(row)])


def _worker_init(_worker_id: int) -> None:
    # Several workers each running multi-threaded resizes would only fight over the cores.
    torch.set_num_threads(1)


def make_loader(dataset, batch_size: int, *, shuffle: bool = False, num_workers: int = 0,
                epoch: int = 0, seed: int = 0, drop_last: bool = False,
                pin_memory: bool = False) -> DataLoader:
    """A DataLoader for one epoch: sets the dataset's epoch and seeds the shuffle by (seed, epoch)."""
    dataset.set_epoch(epoch)
    g = torch.Generator()
    g.manual_seed(int(np.random.SeedSequence([int(seed), int(epoch)]).generate_state(1)[0]))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                      collate_fn=collate, generator=g, drop_last=drop_last, pin_memory=pin_memory,
                      persistent_workers=False, worker_init_fn=_worker_init if num_workers else None)


# --------------------------------------------------------------------------- datasets


class _Clips(Dataset):
    """Shared parts: kept label rows, labels, epoch, skipped samples."""

    kind = ""
    sample_ndim = 4  # rank of one view: (C, T, V, M) or (C, T, H, W)

    def __init__(self, labels: LabelSet, rows: list[int], train: bool, settings):
        self.labels = labels
        self.rows = np.asarray(rows, dtype=np.int64)
        self.train = bool(train)
        self.config = settings
        # Shared memory, so that set_epoch in the main process reaches persistent workers too.
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()
        self._y = torch.from_numpy(labels.labels[self.rows].astype(np.float32))

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def sample_ids(self) -> list[str]:
        return self.labels.sample_ids[self.rows].tolist()

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        self._epoch.fill_(int(epoch))

    def _rng(self, i: int) -> np.random.Generator:
        return sample_rng(self.config.seed, self.epoch, int(self.rows[i]))

    def settings(self) -> dict:
        """Every setting that changes a number, JSON-able, for the run record."""
        return {"kind": self.kind, "mode": "train" if self.train else "test",
                "dataset": self.labels.dataset, "split": self.labels.split,
                "samples": len(self), "skipped": len(self.skipped),
                "output_shape": list(self.output_shape), **self.config.to_dict()}


def _missing_message(what: str, labels: LabelSet, missing: list[str], first_detail: str,
                     fix: str) -> str:
    return (f"{len(missing)} of {len(labels)} samples of {labels.dataset}/{labels.split} have no "
            f"{what}; first: {missing[0]!r}{first_detail}. {fix}")


class SkeletonDataset(_Clips):
    """Skeleton clips: x is (C, T, V, M) float32, or (views, C, T, V, M) with ``views`` > 1."""

    kind = "skeleton"

    def __init__(self, labels: LabelSet, skeletons: SkeletonSet,
                 settings: SkeletonSettings | dict | None = None, *, train: bool = False,
                 skip_missing: bool = False):
        s = settings if isinstance(settings, SkeletonSettings) else settings_from_mapping(
            SkeletonSettings, settings, "skeleton")
        index = skeletons.index
        rows, missing = [], []
        for r, sid in enumerate(labels.sample_ids.tolist()):
            (rows if sid in index else missing).append(r)
        self.skipped = [Skipped(str(labels.sample_ids[r]), "no skeleton") for r in missing]
        if missing and not skip_missing:
            raise MissingData(_missing_message(
                "skeleton", labels, [str(labels.sample_ids[r]) for r in missing], "",
                "Import them with `amge-eval data import-alphapose`, or pass --skip-missing to "
                "leave those samples out."), code="E701")
        super().__init__(labels, rows, train, s)
        self.skeletons = skeletons
        self.layout = skeletons.layout
        self._store = np.asarray([index[str(labels.sample_ids[r])] for r in rows], dtype=np.int64)

    @classmethod
    def from_store(cls, dataset: str, split: str, *, labels_dir=None, data_root=None,
                   settings=None, train: bool | None = None, skip_missing: bool = False):
        """Labels from the label store, skeletons from ``<data-root>/<dataset>/skeletons/<split>.npz``."""
        labels = read_labels(labels_dir, dataset, split)
        root = Path(data_root).expanduser() if data_root else default_data_root()
        sk = read_skeletons(skeleton_path(root, dataset, split))
        return cls(labels, sk, settings, train=split == "train" if train is None else train,
                   skip_missing=skip_missing)

    @property
    def output_shape(self) -> tuple[int, ...]:
        s = self.config
        shape = (s.channels, s.frames, self.layout.num_joints, s.max_persons)
        return shape if self.train or s.views == 1 else (s.views, *shape)

    def __getitem__(self, i: int):
        j = int(self._store[i])
        sk = self.skeletons
        seq = sk.frames[sk.offsets[j]:sk.offsets[j + 1]]
        x = skeleton_clip(seq, self.layout, self.config, sk.image_size[j], train=self.train,
                          rng=self._rng(i) if self.train else None)
        return torch.from_numpy(x), self._y[i], i


class VideoDataset(_Clips):
    """Video clips: x is (C, T, H, W) float32, or (views, C, T, H, W) with several views.

    Test views are temporal-major: view ``a * spatial_views + b`` is temporal position
    ``view_indices[a]`` and spatial crop ``b``. Training with ``train_views`` > 1 gives that
    many independently augmented views of one decoded clip.
    """

    kind = "video"

    def __init__(self, labels: LabelSet, settings: VideoSettings | dict | None = None, *,
                 train: bool = False, data_root=None, video_root=None,
                 rewrite: dict[str, str] | None = None, skip_bad: bool = False,
                 threads: int = 0, progress: Progress = NULL_PROGRESS):
        s = settings if isinstance(settings, VideoSettings) else settings_from_mapping(
            VideoSettings, settings, "video")
        self.data_root = Path(data_root).expanduser() if data_root else default_data_root()
        self.video_root = Path(video_root).expanduser() if video_root else None
        self.rewrite = dict(rewrite or {})
        self.skip_bad = bool(skip_bad)
        self.threads = int(threads)
        rows, paths, self.skipped, missing = [], [], [], []
        for r, (sid, media) in enumerate(zip(labels.sample_ids.tolist(), labels.media.tolist())):
            try:
                paths.append(resolve_media(media, self.data_root, labels.dataset, self.video_root,
                                           self.rewrite, sid))
                rows.append(r)
            except MissingData as exc:
                missing.append((sid, exc.message))
        if missing and not skip_bad:
            first = missing[0][1].split(": tried ", 1)[-1].split(";", 1)[0]
            absolute = any(str(m).replace("\\", "/").startswith("/") for m in labels.media.tolist())
            raise MissingData(_missing_message(
                "video", labels, [m[0] for m in missing], f" (tried {first})",
                f"To fix: {_fix_hint(absolute)}; or pass --skip-bad to leave them out and record "
                f"them."), code="E711")
        self.skipped.extend(Skipped(sid, "missing: " + msg) for sid, msg in missing)
        if skip_bad:
            rows, paths = self._probe(labels, rows, paths, progress)
        super().__init__(labels, rows, train, s)
        self.paths = paths

    def _probe(self, labels, rows, paths, progress):
        progress.start("probe videos", total=len(rows))
        keep_r, keep_p = [], []
        for r, p in zip(rows, paths):
            try:
                probe_video(p)
                keep_r.append(r)
                keep_p.append(p)
            except VideoError as exc:
                sid = str(labels.sample_ids[r])
                self.skipped.append(Skipped(sid, exc.message.split(". Check that", 1)[0]))
                progress.note(f"skipping {sid}: {exc.message.split('. Check that', 1)[0]}")
            progress.advance("probe videos")
        progress.finish("probe videos", skipped=len(self.skipped))
        return keep_r, keep_p

    @classmethod
    def from_store(cls, dataset: str, split: str, *, labels_dir=None, settings=None,
                   train: bool | None = None, **kwargs):
        labels = read_labels(labels_dir, dataset, split)
        return cls(labels, settings, train=split == "train" if train is None else train, **kwargs)

    @property
    def views(self) -> int:
        s = self.config
        if self.train:
            return s.train_views
        return len(s.test_positions()) * s.spatial_views

    @property
    def output_shape(self) -> tuple[int, ...]:
        s = self.config
        shape = (s.channels, s.frames, s.crop, s.crop)
        return shape if self.views == 1 else (self.views, *shape)

    def settings(self) -> dict:
        out = super().settings()
        # Whether media came from a --video-root, not where it is: records hold no local paths.
        out.update(video_root=self.video_root is not None, rewrite=self.rewrite,
                   skip_bad=self.skip_bad)
        return out

    def __getitem__(self, i: int):
        s = self.config
        path = self.paths[i]
        try:
            if self.train:
                rng = self._rng(i)
                clips = decode_clips(path, [rng.uniform()], s, self.threads)
                views = [finish(train_view(clips[0].frames, s, rng), s) for _ in range(s.train_views)]
            else:
                clips = decode_clips(path, s.test_positions(), s, self.threads)
                views = [finish(v, s) for c in clips for v in eval_views(c.frames, s)]
        except VideoError as exc:
            if not self.skip_bad:
                raise
            return Skipped(self.sample_ids[i], exc.message.split(". Check that", 1)[0])
        x = views[0] if len(views) == 1 else torch.stack(views)
        return x, self._y[i], i


class PairedDataset(Dataset):
    """Video clips and skeletons of the same samples: x is (video clip, skeleton clip).

    Built from a VideoDataset and a SkeletonDataset over one label split; a sample either of them
    left out (``skip_bad``) is left out of the pair and listed in ``skipped``.
    """

    kind = "video+skeleton"

    def __init__(self, video: VideoDataset, skeleton: SkeletonDataset):
        if video.labels is not skeleton.labels and video.labels.fingerprint != skeleton.labels.fingerprint:
            raise ValueError("a paired dataset needs the video and skeletons of one label split")
        at_video = {int(r): i for i, r in enumerate(video.rows)}
        at_skeleton = {int(r): i for i, r in enumerate(skeleton.rows)}
        common = [r for r in at_video if r in at_skeleton]
        self.video, self.skeleton = video, skeleton
        self.labels = video.labels
        self.train = video.train
        self.rows = np.asarray(common, dtype=np.int64)
        self._pairs = [(at_video[r], at_skeleton[r]) for r in common]
        seen = {s.sample_id for s in video.skipped}
        self.skipped = list(video.skipped) + [s for s in skeleton.skipped if s.sample_id not in seen]
        self.sample_ndim = video.sample_ndim

    def __len__(self) -> int:
        return len(self._pairs)

    @property
    def sample_ids(self) -> list[str]:
        return self.labels.sample_ids[self.rows].tolist()

    def set_epoch(self, epoch: int) -> None:
        self.video.set_epoch(epoch)
        self.skeleton.set_epoch(epoch)

    def settings(self) -> dict:
        video = self.video.settings()
        return {"kind": self.kind, "modality": f"{video.get('modality', 'rgb')}+skeleton",
                "video": video, "skeleton": self.skeleton.settings()}

    def __getitem__(self, i: int):
        vi, si = self._pairs[i]
        item = self.video[vi]
        if isinstance(item, Skipped):
            return item
        return (item[0], self.skeleton[si][0]), item[1], i


def check_media(dataset: str, split: str, *, labels_dir=None, data_root=None, video_root=None,
                rewrite: dict[str, str] | None = None,
                progress: Progress = NULL_PROGRESS) -> tuple[int, list[Skipped]]:
    """Find and open every video of a split: (number of usable videos, problems).

    The same checks ``VideoDataset(..., skip_bad=True)`` makes, for a look before training.
    """
    labels = read_labels(labels_dir, dataset, split)
    ds = VideoDataset(labels, None, data_root=data_root, video_root=video_root, rewrite=rewrite,
                      skip_bad=True, progress=progress)
    return len(ds), list(ds.skipped)


