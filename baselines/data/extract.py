"""`amge-eval data skeletons` and `amge-eval data flow`: run an extractor (pose.py, flow.py)
over many videos, in parallel, resumably, and write what the loaders read.

Videos come from a folder (every video file under it; its sample id is the path relative to the
folder without the suffix, e.g. ``squat/clip01``) or from a split of the label store (each row's
``media``, found as the video loader finds it). Each video is one job; ``workers`` > 1 runs jobs
in that many processes (each with its own estimator).

- Skeletons: each finished video is kept as a part file in ``.<store>.parts/`` next to the
  store, keyed by the sample id, the video's size and modification time and the settings; a
  rerun after an interruption reuses the parts and computes only the rest. When every video is
  done, the parts are packed into the skeleton store (harness/skeletons.py) and removed, and a
  provenance file ``<store stem>.extract.json`` records the estimator, its version, the settings
  and each video's counts.
- Flow: one file per video (flow.py); a rerun skips the videos whose file holds the same
  settings.

A video that cannot be read is named with the decoder's reason (E710); the other videos' results
are kept (a rerun resumes), and ``skip_bad`` writes the outputs without the failed ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.fileio import make_dirs, write_bytes_atomic, write_json_atomic
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.skeletons import write_skeletons

from .decode import VIDEO_SUFFIXES
from .flow import FlowSettings, compute_flow, flow_settings_of, sample_file, write_flow
from .pose import PoseSettings, estimator_info, extract_video, result_from_npz, result_to_npz
from .video import VideoError

PROVENANCE_FORMAT = "amge-skeleton-extract/v1"


@dataclass(frozen=True)
class VideoJob:
    sample_id: str
    path: Path


@dataclass
class ExtractReport:
    """What an extraction did (the CLI prints it; the skeleton provenance file records it)."""

    out: Path  # the skeleton store, or the flow folder
    videos: int  # videos asked for
    done: int  # videos whose output is now there
    reused: int  # of those, taken from an earlier, interrupted or finished run
    frames: int  # frames processed (kept frames; flow: pairs), all videos
    seconds: float  # wall time of this call
    compute_seconds: float  # time the jobs of this call spent (summed over workers)
    failed: dict[str, str] = field(default_factory=dict)  # sample id -> why (skip_bad)
    no_person: list[str] = field(default_factory=list)  # skeletons: videos where nobody was found
    several: list[str] = field(default_factory=list)  # skeletons: videos with several people
    bytes: int = 0  # flow: bytes of the files written or reused

    @property
    def frames_per_s(self) -> float | None:
        """Frames per second of compute (per worker) in this call; None when nothing ran."""
        computed = self.frames_new
        return computed / self.compute_seconds if self.compute_seconds > 0 else None

    frames_new: int = 0  # frames processed by this call (not reused)


def folder_videos(folder) -> list[VideoJob]:
    """Every video file under ``folder`` (hidden folders skipped), by sample id."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise MissingData(f"Video folder {root} does not exist", code="E715")
    jobs: dict[str, VideoJob] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if name.startswith(".") or p.suffix.lower() not in VIDEO_SUFFIXES:
                continue
            sid = p.relative_to(root).with_suffix("").as_posix()
            if sid in jobs:
                raise AmgeError(f"Two videos in {root} give the sample id {sid!r} "
                                f"({jobs[sid].path.name} and {name}); rename one", code="E715")
            jobs[sid] = VideoJob(sid, p)
    if not jobs:
        raise MissingData(f"No video files in {root} (looked for "
                          f"{', '.join(VIDEO_SUFFIXES)}, in subfolders too)", code="E715")
    return list(jobs.values())


def split_videos(dataset: str, split: str, *, labels_dir=None, data_root=None, video_root=None,
                 rewrite=None, skip_missing: bool = False) -> tuple[list[VideoJob], list[str]]:
    """The videos of a label-store split (found as the video loader finds them) and the sample
    ids whose video is missing (an error unless ``skip_missing``)."""
    from amge_eval.harness.labels import read_labels

    from .datasets import resolve_media

    labels = read_labels(labels_dir, dataset, split)
    jobs, missing, first = [], [], ""
    for sid, media in zip(labels.sample_ids.tolist(), labels.media.tolist()):
        try:
            jobs.append(VideoJob(sid, resolve_media(media, data_root, dataset, video_root,
                                                    rewrite, sid)))
        except MissingData as exc:
            missing.append(sid)
            first = first or exc.message
    if missing and not skip_missing:
        raise MissingData(f"{len(missing)} of {len(labels)} videos of {dataset}/{split} are "
                          f"missing. First: {first}. Pass --skip-bad to extract the others",
                          code="E711")
    return jobs, missing


def _video_key(job: VideoJob, settings: dict) -> str:
    st = job.path.stat()
    text = json.dumps({"id": job.sample_id, "size": st.st_size, "mtime": st.st_mtime_ns,
                       "settings": settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _pose_job(args: tuple[VideoJob, PoseSettings, Path]) -> tuple[str, str, dict | None]:
    """Worker: one video's skeletons into its part file; (sample id, error or "", summary)."""
    job, settings, part = args
    try:
        res = extract_video(job.path, settings)
    except VideoError as exc:
        return job.sample_id, exc.message.split(". Check that", 1)[0], None
    buf = io.BytesIO()
    np.savez(buf, **result_to_npz(res))
    write_bytes_atomic(part, buf.getvalue())
    return job.sample_id, "", {"frames": res.frames, "seconds": res.seconds}


def _flow_job(args: tuple[VideoJob, FlowSettings, Path]) -> tuple[str, str, dict | None]:
    job, settings, out = args
    try:
        clip = compute_flow(job.path, settings)
    except VideoError as exc:
        return job.sample_id, exc.message.split(". Check that", 1)[0], None
    write_flow(out, clip)
    return job.sample_id, "", {"frames": int(len(clip.times)), "seconds": clip.seconds}


def _collect(job, todo, workers: int, progress: Progress, label: str):
    """Run ``job`` over ``todo`` (``_run``); the failures by sample id with their reasons, the
    compute seconds and the frames of the videos that succeeded."""
    failed: dict[str, str] = {}
    compute, frames = 0.0, 0
    for sid, why, summary in _run(job, todo, workers, progress, label):
        if why:
            failed[sid] = why
            progress.note(f"cannot read {sid}: {why}")
        else:
            compute += summary["seconds"]
            frames += summary["frames"]
    return failed, compute, frames


def _run(fn, tasks: list, workers: int, progress: Progress, task: str):
    """Yield fn(task) results as they finish, in ``workers`` processes (spawned: each starts
    its own estimator) or in this one."""
    progress.start(task, total=len(tasks))
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield fn(t)
            progress.advance(task)
    else:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=ctx) as pool:
            futures = [pool.submit(fn, t) for t in tasks]
            for f in as_completed(futures):
                yield f.result()
                progress.advance(task)
    progress.finish(task)


def _check_workers(workers: int) -> None:
    if not 1 <= workers <= 256:
        raise AmgeError(f"--workers must be between 1 and 256, got {workers}", code="E714")


def _failure(failed: dict[str, str], jobs: list[VideoJob], kept: str) -> AmgeError:
    paths = {j.sample_id: j.path for j in jobs}
    lines = [f"{paths[s]}: {why}" for s, why in list(failed.items())[:5]]
    more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
    return VideoErrors(f"{len(failed)} of {len(jobs)} videos cannot be read{more}:\n  "
                       + "\n  ".join(lines) + f"\n{kept}; re-encode or remove those files, or "
                       f"pass --skip-bad to leave them out")


class VideoErrors(AmgeError):
    """Some videos of an extraction cannot be decoded; the message names each one (E710)."""

    def __init__(self, message: str):
        super().__init__(message, code="E710")


def extract_skeletons(jobs: list[VideoJob], out, *, settings: PoseSettings | None = None,
                      workers: int = 1, replace: bool = False, skip_bad: bool = False,
                      progress: Progress = NULL_PROGRESS) -> ExtractReport:
    """Skeletons of ``jobs`` into the skeleton store ``out`` (see the module docstring)."""
    s = settings or PoseSettings()
    _check_workers(workers)
    out = Path(out)
    if out.exists() and not replace:
        raise AmgeError(f"{out} already exists; pass --replace to overwrite it", code="E724")
    t0 = time.perf_counter()
    parts = make_dirs(out.parent / f".{out.name}.parts")
    info = {**s.to_dict(), **estimator_info()}
    keys = {j.sample_id: _video_key(j, info) for j in jobs}
    todo = [(j, s, parts / f"{keys[j.sample_id]}.npz") for j in jobs
            if not (parts / f"{keys[j.sample_id]}.npz").is_file()]
    failed, compute, frames_new = _collect(_pose_job, todo, workers, progress, "skeletons")
    if failed and not skip_bad:
        raise _failure(failed, jobs, f"The other videos' skeletons are kept in {parts}, and a "
                                     f"rerun computes only what is missing")
    ids, seqs, sizes, rates, per_video = [], [], [], [], {}
    for j in jobs:
        if j.sample_id in failed:
            continue
        with np.load(parts / f"{keys[j.sample_id]}.npz", allow_pickle=False) as z:
            r = result_from_npz(z)
        ids.append(j.sample_id)
        seqs.append(r.sequence)
        sizes.append(r.image_size)
        rates.append(r.fps)
        per_video[j.sample_id] = {"frames": r.frames, "detected": r.detected,
                                  "people": r.people, "switches": r.switches,
                                  "seconds": round(r.seconds, 3)}
    write_skeletons(out, ids, seqs, "coco17", np.asarray(sizes, np.int64).reshape(-1, 2), rates)
    report = ExtractReport(out, len(jobs), len(ids), len(ids) - (len(todo) - len(failed)),
                           int(sum(v["frames"] for v in per_video.values())),
                           time.perf_counter() - t0, compute, failed,
                           [s_ for s_, v in per_video.items() if v["detected"] == 0],
                           [s_ for s_, v in per_video.items() if v["people"] > 1],
                           frames_new=frames_new)
    write_json_atomic(out.with_name(out.stem + ".extract.json"), {
        "format": PROVENANCE_FORMAT, **estimator_info(), "settings": s.to_dict(),
        "videos": len(jobs), "written": len(ids), "failed": failed, "workers": workers,
        "per_video": per_video})
    shutil.rmtree(parts, ignore_errors=True)
    return report


def extract_flow(jobs: list[VideoJob], out_dir, *, settings: FlowSettings | None = None,
                 workers: int = 1, replace: bool = False, skip_bad: bool = False,
                 progress: Progress = NULL_PROGRESS) -> ExtractReport:
    """Optical flow of ``jobs``, one file per video under ``out_dir`` (see the module
    docstring). A file of other settings is kept unless ``replace`` (E716)."""
    s = settings or FlowSettings()
    _check_workers(workers)
    out_dir = Path(out_dir)
    t0 = time.perf_counter()
    todo, reused, other = [], [], []
    for j in jobs:
        target = sample_file(out_dir, j.sample_id, ".npz")
        if target.is_file() and not replace:
            stored = flow_settings_of(target)
            if stored is not None and {k: stored.get(k) for k in s.to_dict()} == s.to_dict():
                reused.append(target)
                continue
            other.append(target)
        todo.append((j, s, target))
    if other:
        raise AmgeError(f"{len(other)} flow files under {out_dir} hold other settings or are "
                        f"unreadable (first: {other[0]}); pass --replace to recompute them",
                        code="E716")
    failed, compute, frames_new = _collect(_flow_job, todo, workers, progress, "optical flow")
    if failed and not skip_bad:
        raise _failure(failed, jobs, f"The other videos' flow files are written under {out_dir}, "
                                     f"and a rerun computes only what is missing")
    files = [sample_file(out_dir, j.sample_id, ".npz") for j in jobs if j.sample_id not in failed]
    frames = 0
    for f in files:
        with np.load(f, allow_pickle=False) as z:
            frames += int(z["times"].shape[0])
    return ExtractReport(out_dir, len(jobs), len(files), len(reused), frames,
                         time.perf_counter() - t0, compute, failed,
                         bytes=int(sum(f.stat().st_size for f in files)), frames_new=frames_new)
