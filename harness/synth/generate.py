"""Generate the embedded synthetic benchmark into the label store and the media root.

Output, for dataset name ``synth``::

    <labels-dir>/synth/<split>.csv                  labels (harness.labels format), 5 splits
    <data-root>/synth/videos/<activity>/clip_NNN.mp4 H.264 videos (unless video=False)
    <data-root>/synth/skeletons/<split>.npz         COCO-17 skeletons in video pixels
    <data-root>/synth/manifest.json                 settings, seed, counts, label fingerprints

Split design: each seen activity's clips go 60/20/20 to train, val_seen and test_seen (by clip
index: the first ones to train); each unseen activity's clips go half to val_unseen, half to
test_unseen, as the papers split their unseen activities.

Every clip draws from its own generator, seeded by (seed, crc32(activity name), clip index),
and starts from the style of the source video it is cut from (``style.py``), seeded by (seed,
crc32(activity name), source), so the output does not depend on the number of workers or on the
order clips are made in, and labels and skeletons are identical with and without video. The manifest is written last: a run
that stops half way is never mistaken for a finished benchmark.
"""

from __future__ import annotations

import os
import shutil
import time
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from ..errors import AmgeError, MissingData
from ..fileio import default_data_root, write_bytes_atomic, write_json_atomic
from ..labels import make_label_set, read_labels, resolve_labels_dir, split_path, write_labels
from ..progress import NULL_PROGRESS, Progress
from ..skeletons import skeleton_path, write_skeletons
from ..vocab import SPLITS
from .activities import ACTIVITIES, ACTIVITY_BY_NAME, Activity, activity_labels, check_catalogue
from .clip import Clip, simulate
from .style import activity_style, clip_style, source_of

DATASET = "synth"
MANIFEST_FORMAT = "amge-synth/v1"
# Bump when the same settings and seed would produce different labels or skeletons.
# 2: raised limbs stop carrying the body; no floor-bound fidgeting. 3: 43 seen and 51 unseen
# activities on one label scale, unseen muscle combinations, per-activity footage style.
GENERATOR_VERSION = 3
SEEN_SHARES = {"train": 0.6, "val_seen": 0.2, "test_seen": 0.2}


@dataclass(frozen=True)
class SynthSettings:
    """Everything that decides the benchmark's content (``workers`` does not)."""

    clips_per_activity: int = 16
    size: tuple[int, int] = (128, 128)  # width, height of the videos (and skeleton pixels)
    video: bool = True
    seed: int = 0
    frames: tuple[int, int] = (48, 96)  # clip length range, inclusive
    fps: float = 25.0

    def content(self) -> dict:
        """The settings that labels and skeletons depend on (not whether videos exist)."""
        d = asdict(self)
        d.pop("video")
        d["size"] = list(self.size)
        d["frames"] = list(self.frames)
        return d


@dataclass(frozen=True)
class SynthSummary:
    labels_dir: Path
    data_root: Path
    settings: SynthSettings
    counts: dict[str, int]  # samples per split
    fingerprints: dict[str, str]  # label fingerprint per split
    videos: int  # videos on disk
    reused: bool  # an identical benchmark was already there; nothing was written
    seconds: float
    manifest: Path = field(default=Path())


def parse_size(size) -> tuple[int, int]:
    """``128``, ``"128"``, ``"160x120"`` or ``(160, 120)`` -> (width, height)."""
    try:
        if isinstance(size, str):
            parts = size.lower().replace(" ", "").split("x")
            wh = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else None
        elif isinstance(size, (int, np.integer)):
            wh = (int(size), int(size))
        else:
            w, h = size
            wh = (int(w), int(h))
    except (TypeError, ValueError):
        wh = None
    if wh is None:
        raise AmgeError(f"Cannot read the video size {size!r}; give one number (a square side, "
                        f"e.g. 128) or WIDTHxHEIGHT (e.g. 160x120)", code="E740")
    w, h = wh
    if not (32 <= w <= 1024 and 32 <= h <= 1024) or w % 2 or h % 2:
        raise AmgeError(f"Expected a video size with even sides between 32 and 1024 pixels "
                        f"(H.264 in yuv420p needs even sides), but got {w}x{h}", code="E740")
    return w, h


def make_settings(clips_per_activity: int = 16, size=128, video: bool = True, seed: int = 0,
                  frames=(48, 96), fps: float = 25.0) -> SynthSettings:
    """Checked settings; every bad value raises AmgeError naming the option and its range."""
    if isinstance(clips_per_activity, bool) or not isinstance(clips_per_activity, (int, np.integer)) \
            or not 3 <= clips_per_activity <= 10_000:
        raise AmgeError(f"Expected clips per activity between 3 and 10000 (each seen activity "
                        f"needs a clip in train, val_seen and test_seen), but got "
                        f"{clips_per_activity!r}", code="E740")
    try:
        lo, hi = (int(frames[0]), int(frames[1]))
    except (TypeError, ValueError, IndexError):
        raise AmgeError(f"Expected the frame range as two numbers (min, max), but got {frames!r}",
                        code="E740") from None
    if not 8 <= lo <= hi <= 2000:
        raise AmgeError(f"Expected a frame range with 8 <= min <= max <= 2000, but got {lo}-{hi}",
                        code="E740")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise AmgeError(f"Expected a non-negative integer seed, but got {seed!r}", code="E740")
    if not 1.0 <= float(fps) <= 120.0:
        raise AmgeError(f"Expected fps between 1 and 120, but got {fps!r}", code="E740")
    return SynthSettings(int(clips_per_activity), parse_size(size), bool(video), int(seed),
                         (lo, hi), float(fps))


# ------------------------------------------------------------------ the split design

def split_plan(clips_per_activity: int) -> dict[str, list[str]]:
    """Split of each clip index, per activity name."""
    n = clips_per_activity
    n_val = max(1, int(round(SEEN_SHARES["val_seen"] * n)))
    n_test = max(1, int(round(SEEN_SHARES["test_seen"] * n)))
    seen = ["train"] * (n - n_val - n_test) + ["val_seen"] * n_val + ["test_seen"] * n_test
    half = (n + 1) // 2
    unseen = ["val_unseen"] * half + ["test_unseen"] * (n - half)
    return {a.name: list(unseen if a.unseen else seen) for a in ACTIVITIES}


def clip_stem(index: int) -> str:
    return f"clip_{index:03d}"


def media_path(activity: Activity, index: int) -> str:
    """Video path relative to ``<data-root>/synth/``; its sample id is folder/stem."""
    return f"videos/{activity.folder}/{clip_stem(index)}.mp4"


def clip_seed(seed: int, activity: str, index: int) -> np.random.SeedSequence:
    # crc32 of the name, not the catalogue position: adding an activity leaves the others alone
    return np.random.SeedSequence([seed, zlib.crc32(activity.encode("utf-8")), index])


def make_clip(settings: SynthSettings, activity: str, index: int) -> tuple[Clip, np.random.Generator]:
    """One clip, and the generator its rendering draws from (independent of the motion's)."""
    act = ACTIVITY_BY_NAME[activity]
    motion_ss, render_ss = clip_seed(settings.seed, activity, index).spawn(2)
    rng = np.random.default_rng(motion_ss)
    style = clip_style(activity_style(settings.seed, activity, act.posture, source_of(index)), rng)
    lo, hi = settings.frames
    n_frames = lo + int(round(style.length * (hi - lo)))
    clip = simulate(act, n_frames, settings.size, settings.fps, rng, style)
    return clip, np.random.default_rng(render_ss)


def _clip_job(job: tuple[SynthSettings, str, int, str | None]) -> np.ndarray:
    """Worker: simulate one clip, write its video if asked; returns the skeleton."""
    settings, activity, index, video_path = job
    clip, render_rng = make_clip(settings, activity, index)
    if video_path is not None:
        from .render import encode_mp4, render_frames

        frames = render_frames(clip.scene, settings.size, render_rng)
        write_bytes_atomic(video_path, encode_mp4(frames, settings.fps))
    return clip.skeleton


# ------------------------------------------------------------------ manifest and checks

def dataset_root(data_root: str | os.PathLike | None) -> Path:
    return (Path(data_root).expanduser() if data_root else default_data_root()) / DATASET


def manifest_path(data_root: str | os.PathLike | None) -> Path:
    return dataset_root(data_root) / "manifest.json"


def read_manifest(data_root: str | os.PathLike | None) -> dict | None:
    """The manifest of the benchmark under ``data_root``; None if there is none (or unreadable)."""
    import json

    p = manifest_path(data_root)
    try:
        m = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("format") == MANIFEST_FORMAT else None


def stale_reason(manifest: dict | None) -> str | None:
    """Why the benchmark a manifest describes is not this version's (None when it is).

    A benchmark made by another generator version has other labels or skeletons for the same
    settings: training on it would silently measure an older benchmark."""
    if manifest is None:
        return None
    found = manifest.get("generator_version")
    if found != GENERATOR_VERSION:
        return (f"it was made by generator version {found if found is not None else '?'}, "
                f"this amge-eval makes version {GENERATOR_VERSION}")
    return None


def _expected(settings: SynthSettings) -> dict:
    return {"generator_version": GENERATOR_VERSION, "settings": settings.content()}


def _matches(manifest: dict | None, settings: SynthSettings) -> bool:
    if manifest is None:
        return False
    exp = _expected(settings)
    return (manifest.get("generator_version") == exp["generator_version"]
            and manifest.get("settings") == exp["settings"])


def _labels_match(labels_dir: Path, manifest: dict) -> bool:
    fps = manifest.get("fingerprints", {})
    for split in SPLITS:
        try:
            if read_labels(labels_dir, DATASET, split).fingerprint != fps.get(split):
                return False
        except AmgeError:
            return False
    return True


def is_generated(labels_dir=None, data_root=None, *, clips_per_activity: int = 16, size=128,
                 video: bool = True, seed: int = 0, frames=(48, 96), fps: float = 25.0) -> bool:
    """True when the benchmark these settings describe is complete on disk.

    Complete: the manifest names the same settings and generator version and the labels this
    catalogue gives, every split's labels match the manifest's fingerprints, the skeleton files
    exist, and (when ``video``) so does every video. Videos made by an earlier run also satisfy
    ``video=False``.
    """
    settings = make_settings(clips_per_activity, size, video, seed, frames, fps)
    labels_dir = resolve_labels_dir(labels_dir)
    manifest = read_manifest(data_root)
    if not _matches(manifest, settings) or not _labels_match(labels_dir, manifest):
        return False
    expected = {s: ls.fingerprint for s, ls in _label_sets(settings)[0].items()}
    if manifest.get("fingerprints") != expected:  # the catalogue changed since it was made
        return False
    root = dataset_root(data_root)
    if not all(skeleton_path(root.parent, DATASET, s).is_file() for s in SPLITS):
        return False
    if video:
        if not manifest.get("video"):
            return False
        for a in ACTIVITIES:
            for i in range(settings.clips_per_activity):
                if not (root / media_path(a, i)).is_file():
                    return False
    return True


def _label_sets(settings: SynthSettings):
    plan = split_plan(settings.clips_per_activity)
    rows: dict[str, list] = {s: [] for s in SPLITS}
    for a in ACTIVITIES:
        y = activity_labels(a)
        for i, split in enumerate(plan[a.name]):
            rows[split].append((f"{a.folder}/{clip_stem(i)}", a.name, media_path(a, i), y, a, i))
    sets = {}
    for split, rs in rows.items():
        sets[split] = make_label_set(DATASET, split, [r[0] for r in rs], [r[1] for r in rs],
                                     [r[2] for r in rs], np.array([r[3] for r in rs]).reshape(
                                         len(rs), -1))
    return sets, rows


def _describe(manifest: dict) -> str:
    s = manifest.get("settings", {})
    size = "x".join(str(v) for v in s.get("size", ["?"]))
    return (f"seed {s.get('seed', '?')}, {s.get('clips_per_activity', '?')} clips per activity, "
            f"{size} pixels, frames {'-'.join(str(v) for v in s.get('frames', ['?']))}, "
            f"generator version {manifest.get('generator_version', '?')}")


def _check_overwrite(labels_dir: Path, data_root, settings: SynthSettings, new_sets) -> dict | None:
    """Refuse to replace a different benchmark; returns the old manifest (or None)."""
    manifest = read_manifest(data_root)
    if manifest is not None and not _matches(manifest, settings):
        raise AmgeError(f"{manifest_path(data_root)} holds a different synth benchmark "
                        f"({_describe(manifest)}); pass --overwrite (overwrite=True) to replace "
                        f"it, or choose another --data-root", code="E741")
    for split, ls in new_sets.items():
        p = split_path(labels_dir, DATASET, split)
        if not p.exists():
            continue
        try:
            old = read_labels(labels_dir, DATASET, split)
        except AmgeError:
            old = None
        if old is None or old.fingerprint != ls.fingerprint:
            raise AmgeError(f"{p} already holds different synth labels; pass --overwrite "
                            f"(overwrite=True) to replace them, or choose another --labels-dir",
                            code="E741")
    return manifest


def generate_benchmark(labels_dir=None, data_root=None, *, clips_per_activity: int = 16, size=128,
                       video: bool = True, seed: int = 0, frames=(48, 96), fps: float = 25.0,
                       workers: int = 1, overwrite: bool = False,
                       progress: Progress = NULL_PROGRESS) -> SynthSummary:
    """Generate (or find) the synthetic benchmark. See the module docstring for the layout.

    An identical complete benchmark already on disk is reused (``reused=True``). A different
    one is replaced only with ``overwrite=True``; otherwise AmgeError (E741) and nothing is
    touched.
    """
    start = time.perf_counter()
    check_catalogue()
    settings = make_settings(clips_per_activity, size, video, seed, frames, fps)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise AmgeError(f"Expected workers >= 1, but got {workers!r}", code="E740")
    labels_dir = resolve_labels_dir(labels_dir)
    root = dataset_root(data_root)
    sets, rows = _label_sets(settings)
    counts = {s: len(sets[s]) for s in SPLITS}
    fingerprints = {s: sets[s].fingerprint for s in SPLITS}
    kw = dict(clips_per_activity=settings.clips_per_activity, size=settings.size,
              video=settings.video, seed=settings.seed, frames=settings.frames, fps=settings.fps)
    if is_generated(labels_dir, root.parent, **kw):
        n_videos = int(read_manifest(root.parent).get("videos", 0))
        return SynthSummary(labels_dir, root.parent, settings, counts, fingerprints, n_videos,
                            True, time.perf_counter() - start, manifest_path(root.parent))
    old = None if overwrite else _check_overwrite(labels_dir, root.parent, settings, sets)
    if overwrite:
        old = read_manifest(root.parent)
    # From here on the old benchmark is being replaced: drop its manifest first, so that an
    # interrupted run is never taken for a finished one.
    mpath = manifest_path(root.parent)
    if mpath.exists():
        mpath.unlink()
    if old is not None and not _matches(old, settings) and (root / "videos").is_dir():
        shutil.rmtree(root / "videos")  # videos of other settings would sit there unlabelled
    jobs = []
    for split in SPLITS:
        for _sid, name, media, _y, _a, i in rows[split]:
            jobs.append((settings, name, i, str(root / media) if settings.video else None))
    progress.start("synth", total=len(jobs), video=settings.video, workers=workers)
    skeletons: list[np.ndarray] = []
    t0 = time.perf_counter()
    if workers == 1:
        for job in jobs:
            skeletons.append(_clip_job(job))
            progress.advance("synth", 1, clips_per_s=len(skeletons) / (time.perf_counter() - t0))
    else:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            for sk in pool.map(_clip_job, jobs, chunksize=4):
                skeletons.append(sk)
                progress.advance("synth", 1,
                                 clips_per_s=len(skeletons) / (time.perf_counter() - t0))
    progress.finish("synth")
    k = 0
    w, h = settings.size
    for split in SPLITS:
        n = len(rows[split])
        seqs = skeletons[k:k + n]
        k += n
        write_skeletons(skeleton_path(root.parent, DATASET, split), sets[split].sample_ids.tolist(),
                        seqs, "coco17", [(w, h)] * n, [settings.fps] * n)
        write_labels(labels_dir, sets[split], replace=True)
    from ... import __version__

    manifest = {
        "format": MANIFEST_FORMAT,
        "dataset": DATASET,
        **_expected(settings),
        "video": settings.video,
        "seed": settings.seed,
        "amge_eval_version": __version__,
        "activities": len(ACTIVITIES),
        "unseen_activities": [a.name for a in ACTIVITIES if a.unseen],
        "counts": counts,
        "videos": len(jobs) if settings.video else 0,
        "fingerprints": fingerprints,
    }
    write_json_atomic(mpath, manifest)
    return SynthSummary(labels_dir, root.parent, settings, counts, fingerprints,
                        manifest["videos"], False, time.perf_counter() - start, mpath)


def require_manifest(data_root) -> dict:
    m = read_manifest(data_root)
    if m is None:
        raise MissingData(f"No synthetic benchmark at {dataset_root(data_root)} (no manifest.json); "
                          f"generate it with `amge-eval data synth` or pass --data-root",
                          code="E742")
    return m


def settings_from_manifest(manifest: dict) -> SynthSettings:
    s = manifest["settings"]
    return make_settings(s["clips_per_activity"], tuple(s["size"]), bool(manifest.get("video")),
                         s["seed"], tuple(s["frames"]), s["fps"])
