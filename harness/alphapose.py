"""Import AlphaPose results into the skeleton store (docs/data.md, "AlphaPose import").

AlphaPose's default output is one JSON list per video, one entry per detected person and frame::

    {"image_id": "12.jpg", "category_id": 1, "keypoints": [x, y, score, ...] (K triples),
     "score": float, "box": [x, y, w, h], "idx": track id (with tracking) or a list}

Run on a video, AlphaPose names frame k ``"<k>.jpg"`` (k from 0); run on an image folder it
uses the file names, and with ``--eval`` an integer. The frame number is the trailing run of
digits of the name (minus ``frame_base``). Frames without any detection are absent from the file
and become all-zero (confidence 0) frames. K = 17 is COCO-17 and K = 26 is Halpe-26, whose first
17 joints are COCO-17 in the same order.

``import_alphapose`` reads one JSON per sample of a label-store split and writes
``<data-root>/<dataset>/skeletons/<split>.npz``. Numpy only; PyAV is imported inside the one
function that reads video metadata, and only when a sample's video is found.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AmgeError, MissingData
from .fileio import default_data_root
from .labels import read_labels
from .progress import NULL_PROGRESS, Progress
from .skeletons import skeleton_path, write_skeletons

LAYOUT_BY_JOINTS: dict[int, str] = {17: "coco17", 26: "halpe26"}
LAYOUT_CHOICES = ("auto", "coco17", "halpe26")
RESULT_NAME = "alphapose-results.json"  # AlphaPose's file name inside its output folder


@dataclass(frozen=True)
class AlphaPoseResult:
    """The detections of one AlphaPose JSON file, as arrays (one row per detection)."""

    frames: np.ndarray  # (N,) int64 frame numbers, frame_base already subtracted
    keypoints: np.ndarray  # (N, K, 3) float32: x, y in pixels, score clipped to [0, 1]
    scores: np.ndarray  # (N,) float64 detection scores (ranking only)
    tracks: np.ndarray | None  # (N,) int64 track ids when the file is tracked (see load_alphapose)
    num_joints: int  # K, 0 for a file without detections


def _fail(source, message: str, code: str = "E720") -> AmgeError:
    return AmgeError(f"AlphaPose file {source}: {message}", code=code)


def _frame_number(image_id, source, entry: int) -> int:
    if isinstance(image_id, bool):
        raise _fail(source, f"entry {entry} has image_id {image_id!r}; expected a frame file "
                            f"name such as '12.jpg' or an integer")
    if isinstance(image_id, int):
        return image_id
    if isinstance(image_id, float) and image_id.is_integer():
        return int(image_id)
    if isinstance(image_id, str):
        stem = os.path.splitext(os.path.basename(image_id.replace("\\", "/")))[0]
        m = re.search(r"(\d+)$", stem)
        if m:
            return int(m.group(1))
    raise _fail(source, f"entry {entry} has image_id {image_id!r}, which names no frame number; "
                        f"expected a frame file name ending in digits (AlphaPose writes '<k>.jpg' "
                        f"for video frame k) or an integer")


def _track_id(value):
    """A scalar integral ``idx`` is a track id; lists (merged box ids) and the rest are not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def parse_alphapose(data, source: str = "<json>", frame_base: int = 0) -> AlphaPoseResult:
    """Check and convert a loaded AlphaPose JSON document (see the module docstring).

    Track ids are used when every detection has a scalar integer ``idx`` and no frame has two
    detections with the same one; AlphaPose without tracking writes lists or repeated zeros.
    Detections whose ``category_id`` is present and not 1 (person) are ignored.
    """
    if isinstance(data, dict):
        raise _fail(source, "holds a JSON object; expected AlphaPose's default output, a list of "
                            "detections (run AlphaPose without --format cmu/open and without --sep)")
    if not isinstance(data, list):
        raise _fail(source, f"holds a JSON {type(data).__name__}; expected a list of detections")
    frames, kps, scores, tracks = [], [], [], []
    k = None
    for e, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise _fail(source, f"entry {e} is a {type(entry).__name__}; expected an object with "
                                f"image_id and keypoints")
        if "category_id" in entry and entry["category_id"] != 1:
            continue
        for key in ("image_id", "keypoints"):
            if key not in entry:
                raise _fail(source, f"entry {e} has no {key!r}")
        values = entry["keypoints"]
        if (not isinstance(values, list) or
                not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)):
            raise _fail(source, f"entry {e}: keypoints must be a list of numbers")
        if len(values) % 3 or len(values) // 3 not in LAYOUT_BY_JOINTS:
            raise _fail(source, f"entry {e} has {len(values)} keypoint values; expected "
                                f"17 x 3 = 51 (COCO-17) or 26 x 3 = 78 (Halpe-26)", code="E721")
        if k is None:
            k = len(values) // 3
        elif len(values) // 3 != k:
            raise _fail(source, f"entry {e} has {len(values) // 3} joints but earlier entries "
                                f"have {k}; one file must use one keypoint format", code="E721")
        arr = np.asarray(values, dtype=np.float64).reshape(k, 3)
        if not np.isfinite(arr).all():
            raise _fail(source, f"entry {e} has NaN or infinite keypoint values")
        score = entry.get("score")
        if score is None:
            score = float(arr[:, 2].mean())
        elif isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise _fail(source, f"entry {e} has score {score!r}; expected a number")
        frame = _frame_number(entry["image_id"], source, e) - frame_base
        if frame < 0:
            raise _fail(source, f"entry {e} is frame {frame + frame_base}, before frame_base "
                                f"{frame_base}; lower --frame-base")
        frames.append(frame)
        kps.append(arr)
        scores.append(float(score))
        tracks.append(_track_id(entry.get("idx")))
    n = len(frames)
    keypoints = (np.stack(kps) if n else np.zeros((0, k or 0, 3))).astype(np.float32)
    keypoints[..., 2] = np.clip(keypoints[..., 2], 0.0, 1.0)
    keypoints[keypoints[..., 2] == 0] = 0.0  # the store's convention: confidence 0 = missing
    frames_arr = np.asarray(frames, dtype=np.int64)
    track_arr = None
    if n and all(t is not None for t in tracks):
        track_arr = np.asarray(tracks, dtype=np.int64)
        pairs = np.stack([frames_arr, track_arr], axis=1)
        if len(np.unique(pairs, axis=0)) != n:
            track_arr = None
    return AlphaPoseResult(frames_arr, keypoints, np.asarray(scores, dtype=np.float64), track_arr,
                           k or 0)


def load_alphapose(path, frame_base: int = 0) -> AlphaPoseResult:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"is unreadable ({exc})") from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(path, f"is not valid JSON ({exc.msg} at line {exc.lineno}, column "
                          f"{exc.colno}); re-run AlphaPose for this video") from exc
    return parse_alphapose(data, str(path), frame_base)


def to_sequence(result: AlphaPoseResult, num_joints: int, max_persons: int = 1,
                num_frames: int = 0) -> np.ndarray:
    """(T, max_persons, num_joints, 3) float32 with T = max(num_frames, last frame + 1).

    Without track ids, slot m of a frame holds that frame's m-th best detection by score. With
    track ids, slot m holds the track with the m-th highest summed score over the clip, so a
    slot follows one person. ``num_joints`` 17 from a 26-joint result keeps the first 17.
    """
    n = len(result.frames)
    t = max(int(num_frames), int(result.frames.max()) + 1 if n else 0)
    out = np.zeros((t, max_persons, num_joints, 3), dtype=np.float32)
    if n == 0:
        return out
    if num_joints > result.num_joints:
        raise ValueError(f"cannot make {num_joints} joints from {result.num_joints}")
    kp = result.keypoints[:, :num_joints]
    if result.tracks is not None:
        ids, inv = np.unique(result.tracks, return_inverse=True)
        total = np.bincount(inv, weights=result.scores, minlength=len(ids))
        rank = np.empty(len(ids), dtype=np.int64)
        rank[np.argsort(-total, kind="stable")] = np.arange(len(ids))
        slot = rank[inv]
        keep = slot < max_persons
        out[result.frames[keep], slot[keep]] = kp[keep]
        return out
    order = np.lexsort((-result.scores, result.frames))  # by frame, best score first
    frames = result.frames[order]
    first = np.searchsorted(frames, frames, side="left")
    slot = np.arange(n) - first
    keep = slot < max_persons
    out[frames[keep], slot[keep]] = kp[order][keep]
    return out


def find_json(json_dir, sample_id: str) -> list[Path]:
    """Candidate result files of ``<activity>/<stem>``, in the order they are tried."""
    root = Path(json_dir)
    parts = sample_id.split("/")
    stem = parts[-1]
    out = []
    if len(parts) > 1:
        out += [root.joinpath(*parts[:-1], f"{stem}.json"), root.joinpath(*parts, RESULT_NAME)]
    out += [root / f"{stem}.json", root / stem / RESULT_NAME]
    return out


def read_mapping(path) -> dict[str, str]:
    """A CSV with header ``sample_id,json`` -> {sample id: JSON path}."""
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise AmgeError(f"Mapping file {path} is unreadable: {exc}", code="E725") from exc
    if not rows or [c.strip() for c in rows[0]] != ["sample_id", "json"]:
        raise AmgeError(f"Mapping file {path}: expected the header 'sample_id,json'", code="E725")
    out = {}
    for i, r in enumerate(rows[1:], start=2):
        if len(r) != 2 or not r[0].strip() or not r[1].strip():
            raise AmgeError(f"Mapping file {path}, line {i}: expected 'sample_id,json'", code="E725")
        out[r[0].strip()] = r[1].strip()
    return out


def _video_path(media: str, data_root: Path, dataset: str, video_root) -> Path | None:
    parts = str(media).strip().replace("\\", "/").split("/")
    if not parts[-1]:
        return None
    norm = "/".join(parts)
    tries = [Path(norm) if norm.startswith("/") else data_root / dataset / norm]
    if video_root is not None:
        tries.append(Path(video_root).joinpath(*[p for p in parts if p][-2:]))
    return next((p for p in tries if p.is_file()), None)


def _video_meta(path: Path) -> tuple[int, int, float, int] | None:
    """(width, height, fps, frames) of a video, or None when it cannot be read."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            s = c.streams.video[0]
            rate = s.average_rate or s.guessed_rate
            frames = int(s.frames or 0)
            if not frames:
                frames = sum(1 for pkt in c.demux(s) if pkt.size)
            return (int(s.codec_context.width), int(s.codec_context.height),
                    float(rate) if rate else 0.0, frames)
    except (av.error.FFmpegError, OSError, ValueError):
        return None


@dataclass(frozen=True)
class ImportReport:
    path: str  # the skeleton store file written
    dataset: str
    split: str
    layout: str
    samples: int  # samples written
    frames: int  # frames written, all samples
    max_persons: int
    from_video: int  # samples whose image size, fps and frame count came from their video
    skipped: list[str] = field(default_factory=list)  # samples without a JSON (skip_missing)
    empty: list[str] = field(default_factory=list)  # samples whose JSON has no detection
    tracked: int = 0  # samples whose persons follow AlphaPose track ids


def import_alphapose(dataset: str, split: str, json_dir, *, labels_dir=None, data_root=None,
                     video_root=None, layout: str = "auto", max_persons: int = 1,
                     frame_base: int = 0, fps: float | None = None,
                     image_size: tuple[int, int] | None = None, mapping=None,
                     skip_missing: bool = False, replace: bool = False,
                     progress: Progress = NULL_PROGRESS) -> ImportReport:
    """Read one AlphaPose JSON per sample of ``dataset``/``split`` into the skeleton store.

    A sample ``<activity>/<stem>`` takes the first file found of (under ``json_dir``)
    ``<activity>/<stem>.json``, ``<activity>/<stem>/alphapose-results.json``, ``<stem>.json``,
    ``<stem>/alphapose-results.json``, unless ``mapping`` (a dict or a ``sample_id,json`` CSV)
    names its file. Image size, fps and frame count come from the sample's video when it is
    found (``<data-root>/<dataset>/<media>``, an absolute media path, or
    ``<video_root>/<activity>/<file>``), else from ``image_size`` and ``fps``.
    """
    if layout not in LAYOUT_CHOICES:
        raise AmgeError(f"Unknown layout {layout!r}; choose one of {', '.join(LAYOUT_CHOICES)}",
                        code="E721")
    if max_persons < 1:
        raise AmgeError(f"max_persons must be at least 1, got {max_persons}", code="E721")
    if fps is not None and not fps > 0:
        raise AmgeError(f"fps must be positive, got {fps}", code="E723")
    if image_size is not None and (len(image_size) != 2 or min(image_size) <= 0):
        raise AmgeError(f"image_size must be two positive numbers (width, height), got "
                        f"{image_size}", code="E723")
    json_dir = Path(json_dir).expanduser()
    if not json_dir.is_dir():
        raise MissingData(f"AlphaPose folder {json_dir} does not exist", code="E722")
    root = Path(data_root).expanduser() if data_root else default_data_root()
    out_path = skeleton_path(root, dataset, split)
    if out_path.exists() and not replace:
        raise AmgeError(f"{out_path} already exists; pass --replace to overwrite it", code="E724")
    labels = read_labels(labels_dir, dataset, split)
    if isinstance(mapping, (str, os.PathLike)):
        mapping = read_mapping(mapping)
    mapping = dict(mapping or {})

    files, missing, ambiguous = {}, [], []
    stems: dict[str, list[str]] = {}
    for sid in labels.sample_ids.tolist():
        stems.setdefault(sid.split("/")[-1], []).append(sid)
    for sid in labels.sample_ids.tolist():
        if sid in mapping:
            p = Path(mapping[sid]).expanduser()
            p = p if p.is_absolute() else json_dir / p
            if p.is_file():
                files[sid] = p
            else:
                missing.append(sid)
            continue
        cands = find_json(json_dir, sid)
        k = next((k for k, p in enumerate(cands) if p.is_file()), None)
        if k is None:
            missing.append(sid)
        elif "/" in sid and k >= 2 and len(stems[sid.split("/")[-1]]) > 1:
            ambiguous.append(sid)  # a flat <stem>.json that two activities' clips both claim
        else:
            files[sid] = cands[k]
    if ambiguous:
        raise AmgeError(f"{len(ambiguous)} samples share a clip name across activities and only "
                        f"a flat <stem>.json exists for them (first: {ambiguous[0]!r}); put the "
                        f"files under <activity>/ folders or give a --mapping CSV", code="E722")
    if missing and not skip_missing:
        shown = ", ".join(repr(s) for s in missing[:10]) + (", ..." if len(missing) > 10 else "")
        raise MissingData(f"{len(missing)} of {len(labels)} samples of {dataset}/{split} have no "
                          f"AlphaPose JSON under {json_dir}: {shown}. Expected "
                          f"<activity>/<clip>.json, <clip>.json or <clip>/{RESULT_NAME} (or give "
                          f"a --mapping CSV); pass --skip-missing to import the others",
                          code="E722")

    progress.start("import alphapose", total=len(files))
    results, metas = {}, {}
    media = dict(zip(labels.sample_ids.tolist(), labels.media.tolist()))
    for sid, p in files.items():
        results[sid] = load_alphapose(p, frame_base)
        video = _video_path(media[sid], root, dataset, video_root)
        metas[sid] = _video_meta(video) if video is not None else None
        progress.advance("import alphapose")

    counts = {r.num_joints for r in results.values() if r.num_joints}
    if layout == "auto":
        if len(counts) > 1:
            raise AmgeError(f"The files mix {' and '.join(str(c) for c in sorted(counts))}-joint "
                            f"results; pass --layout coco17 to keep the 17 COCO joints of all",
                            code="E721")
        layout = LAYOUT_BY_JOINTS[counts.pop()] if counts else "coco17"
    joints = 17 if layout == "coco17" else 26
    short = sorted(sid for sid, r in results.items() if r.num_joints and r.num_joints < joints)
    if short:
        raise AmgeError(f"--layout {layout} needs {joints} joints but {len(short)} files have 17 "
                        f"(first: {files[short[0]]}); use --layout coco17", code="E721")

    no_meta = [sid for sid in results if metas[sid] is None and (fps is None or image_size is None)]
    if no_meta:
        need = " and ".join(n for n, v in (("--image-size W H", image_size), ("--fps", fps))
                            if v is None)
        raise AmgeError(f"{len(no_meta)} samples have no readable video to take image size and "
                        f"fps from (first: {no_meta[0]!r}, media {media[no_meta[0]]!r}); pass "
                        f"{need}, or --data-root / --video-root so that the videos are found",
                        code="E723")

    ids, seqs, sizes, rates = [], [], [], []
    from_video = tracked = 0
    for sid in labels.sample_ids.tolist():
        if sid not in results:
            continue
        r, meta = results[sid], metas[sid]
        if meta is not None:
            from_video += 1
            w, h, rate, nframes = meta
            rate = rate or fps or 0.0
        else:
            (w, h), rate, nframes = image_size, fps, 0
        tracked += r.tracks is not None
        ids.append(sid)
        seqs.append(to_sequence(r, joints, max_persons, nframes))
        sizes.append((w, h))
        rates.append(rate)
    write_skeletons(out_path, ids, seqs, layout, np.asarray(sizes).reshape(-1, 2), rates)
    progress.finish("import alphapose", samples=len(ids))
    return ImportReport(str(out_path), dataset, split, layout, len(ids),
                        int(sum(len(s) for s in seqs)), max_persons, from_video,
                        skipped=list(missing), empty=[s for s in ids if not len(results[s].frames)],
                        tracked=int(tracked))
