"""Video clip settings and PyAV decoding by timestamp (docs/data.md, "Video clips").

A clip is ``frames`` sample times spaced ``stride / fps`` seconds apart (``fps`` is the target
rate, 30 in the reference), measured on the presentation timestamps of the file (``pts *
time_base``), so variable-frame-rate files are sampled at the right moments. Every sample time
takes the decoded frame whose timestamp is nearest to it (the earlier one on ties).

Decoding seeks to the key frame before the first time it needs and decodes forward only until
the last one is resolved, so a 16-frame clip of a long video costs a few dozen frames, not the
file. Frames come out as the file displays them: a rotation tag (the display matrix phones write
for portrait video) is applied by quarter turns. Numpy and PyAV only; the torch side is in
transforms.py and datasets.py.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass

import numpy as np

from amge_eval.harness.errors import AmgeError

SHORT_CLIP = ("last", "loop", "zero")
TRAIN_CROPS = ("resized", "jitter")
# The inputs a video loader makes, spelled as harness/vocab.py spells them ("optical_flow" is
# read from the flow store by flow_dataset.FlowDataset with these settings).
MODALITIES = ("rgb", "rgb_diff", "rgb+rgb_diff", "optical_flow")

# Seeking lands on a key frame at or before the target; aiming a little early makes sure the
# frame nearest to the first sample time (which may lie just before it) is decoded too.
SEEK_MARGIN_S = 0.25
# Decoding forward is cheaper than a seek plus a key-frame lead-in for small gaps.
SEEK_GAP_S = 1.0


class VideoError(AmgeError):
    """A video file that cannot be opened or decoded. ``path`` names it."""

    def __init__(self, path, why: str):
        self.path = str(path)
        super().__init__(f"Cannot decode video {self.path}: {why}. Check that the file is a "
                         f"complete video (play it, or re-encode it with ffmpeg), or pass "
                         f"skip_bad=True (--skip-bad) to leave such samples out and record them.",
                         code="E710")


@dataclass(frozen=True)
class VideoSettings:
    """Every setting that changes the numbers a video loader produces (docs/data.md).

    The defaults reproduce the MuscleMap release (TransM3E-S config on PySlowFast).
    """

    frames: int = 16  # T, sample times per clip
    stride: int = 4  # spacing of sample times, in frames at the target fps
    fps: float = 30.0  # target frame rate the stride is measured in
    short_clip: str = "last"  # clip longer than the video: "last" frame repeated (reference), "loop", "zero" frames
    # test / evaluation
    temporal_views: int = 5  # uniform clip positions the video is divided into
    view_indices: tuple[int, ...] | None = (0,)  # which positions to return; None = all (reference: the first of 5)
    spatial_views: int = 1  # 1 = centre crop, 3 = start/centre/end along the long side
    test_short_side: int = 256  # short side before the test crop
    # training
    train_crop: str = "resized"  # "resized" (random area+aspect crop, reference train) or "jitter" (short side, then random crop)
    train_scale: tuple[float, float] = (0.08, 1.0)  # area fraction of "resized"
    train_ratio: tuple[float, float] = (0.75, 1.3333)  # aspect ratio range of "resized"
    train_short_side: tuple[int, int] = (256, 320)  # short-side range of "jitter", uniform
    train_flip: bool = True  # random horizontal flip, p = 0.5
    train_views: int = 1  # augmented views of one decoded clip (reference: 2)
    crop: int = 224  # output height and width
    # pixels
    modality: str = "rgb"  # "rgb", "rgb_diff" (|f_t - f_{t-1}|, frame 0 zero), "rgb+rgb_diff" (6 channels) or "optical_flow" (2)
    mean: tuple[float, float, float] | None = None  # applied to RGB channels after /255; None = none (reference)
    std: tuple[float, float, float] | None = None
    antialias: bool = False  # antialiased down-scaling; the reference resizes without
    seed: int = 0  # training randomness is a function of (seed, epoch, sample index)

    def __post_init__(self):
        for name in ("view_indices", "mean", "std", "train_scale", "train_ratio",
                     "train_short_side"):
            value = getattr(self, name)
            if isinstance(value, list):
                object.__setattr__(self, name, tuple(value))
        problems = []
        if self.frames < 1:
            problems.append(f"frames must be at least 1, got {self.frames}")
        if self.stride < 1:
            problems.append(f"stride must be at least 1, got {self.stride}")
        if not self.fps > 0:
            problems.append(f"fps must be positive, got {self.fps}")
        if self.short_clip not in SHORT_CLIP:
            problems.append(f"short_clip must be one of {', '.join(SHORT_CLIP)}, got {self.short_clip!r}")
        if self.temporal_views < 1:
            problems.append(f"temporal_views must be at least 1, got {self.temporal_views}")
        if self.view_indices is not None:
            bad = [k for k in self.view_indices if not 0 <= k < self.temporal_views]
            if bad or not self.view_indices:
                problems.append(f"view_indices must be a non-empty list of positions in 0.."
                                f"{self.temporal_views - 1} (temporal_views={self.temporal_views}),"
                                f" got {list(self.view_indices)}")
        if self.spatial_views not in (1, 3):
            problems.append(f"spatial_views must be 1 or 3, got {self.spatial_views}")
        if self.crop < 1:
            problems.append(f"crop must be at least 1, got {self.crop}")
        if self.test_short_side < self.crop:
            problems.append(f"test_short_side ({self.test_short_side}) must be at least crop ({self.crop})")
        if self.train_crop not in TRAIN_CROPS:
            problems.append(f"train_crop must be one of {', '.join(TRAIN_CROPS)}, got {self.train_crop!r}")
        lo, hi = self.train_short_side
        if not self.crop <= lo <= hi:
            problems.append(f"train_short_side must satisfy crop ({self.crop}) <= min <= max, got "
                            f"{list(self.train_short_side)}")
        if not 0 < self.train_scale[0] <= self.train_scale[1] <= 1:
            problems.append(f"train_scale must satisfy 0 < min <= max <= 1, got {list(self.train_scale)}")
        if not 0 < self.train_ratio[0] <= self.train_ratio[1]:
            problems.append(f"train_ratio must satisfy 0 < min <= max, got {list(self.train_ratio)}")
        if self.train_views < 1:
            problems.append(f"train_views must be at least 1, got {self.train_views}")
        if self.modality not in MODALITIES:
            problems.append(f"modality must be one of {', '.join(MODALITIES)}, got {self.modality!r}")
        if (self.mean is None) != (self.std is None):
            problems.append("mean and std must be given together")
        for name in ("mean", "std"):
            v = getattr(self, name)
            if v is not None and len(v) != 3:
                problems.append(f"{name} must have 3 values (R, G, B), got {list(v)}")
        if self.std is not None and any(s <= 0 for s in self.std):
            problems.append(f"std values must be positive, got {list(self.std)}")
        if problems:
            raise AmgeError("Invalid video loader settings: " + "; ".join(problems), code="E730")

    @property
    def span(self) -> float:
        """Seconds a clip occupies: ``frames * stride / fps`` (PySlowFast's clip size)."""
        return self.frames * self.stride / self.fps

    @property
    def channels(self) -> int:
        return {"rgb+rgb_diff": 6, "optical_flow": 2}.get(self.modality, 3)

    def test_positions(self) -> list[float]:
        """Clip start of each returned test view as a fraction of the free range (see positions)."""
        idx = range(self.temporal_views) if self.view_indices is None else self.view_indices
        return [view_fraction(k, self.temporal_views) for k in idx]

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items()}


def view_fraction(k: int, views: int) -> float:
    """Start of uniform view ``k`` of ``views`` as a fraction of the free range.

    PySlowFast with USE_OFFSET_SAMPLING (the release config): one view takes the centre, more
    views spread from the very start (0) to the very end (1) of the range.
    """
    return 0.5 if views == 1 else k / (views - 1)


def sample_times(start: float, frames: int, stride: int, fps: float) -> np.ndarray:
    return start + np.arange(frames, dtype=np.float64) * (stride / fps)


def clip_start(duration: float, span: float, fraction: float) -> float:
    """Start time of a clip placed at ``fraction`` of the free range ``max(duration - span, 0)``."""
    return fraction * max(duration - span, 0.0)


@dataclass
class DecodedClip:
    frames: np.ndarray  # (N, H, W, 3) uint8, one per sample time
    times: np.ndarray  # (N,) float64: timestamp (s from stream start) of the frame used; NaN for zero frames
    decoded: int  # frames the decoder produced to get these (decoding cost)


@dataclass
class _Pass:
    picks: list  # per sorted target: (time, array) or None when beyond the end
    decoded: int
    end: float | None  # end of the video (last frame time + its duration) when the scan reached it


def _open(path):
    import av

    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise VideoError(path, _why(exc)) from exc
    if not container.streams.video:
        container.close()
        raise VideoError(path, "the file has no video stream")
    return container


def _why(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
    return text.split(": '", 1)[0]  # PyAV appends the path, which the message names already


class _Video:
    """An open file: the video stream, its time origin and metadata duration."""

    def __init__(self, path, threads: int = 0):
        self.path = str(path)
        self.threads = threads
        self._attach(_open(path))
        self.tb = self.stream.time_base
        # Streams without timestamps (raw .h264) get times from a frame counter, which is only
        # right when decoding from the start.
        self.seekable = self.stream.start_time is not None
        c = self.container
        if self.stream.start_time is not None:
            self.origin = float(self.stream.start_time * self.tb)
        elif c.start_time is not None:
            self.origin = c.start_time / 1_000_000
        else:
            self.origin = 0.0
        if self.stream.duration:
            self.duration = float(self.stream.duration * self.tb)
        elif c.duration:
            start = c.start_time / 1_000_000 if c.start_time is not None else 0.0
            self.duration = c.duration / 1_000_000 - (self.origin - start)
        else:
            self.duration = None
        rate = self.stream.average_rate or self.stream.guessed_rate
        self.rate = float(rate) if rate else None
        self.width = self.stream.codec_context.width
        self.height = self.stream.codec_context.height
        self.fresh = True  # nothing decoded yet: the demuxer stands at the start

    def _attach(self, container):
        self.container = container
        self.stream = container.streams.video[0]
        if self.threads:
            self.stream.thread_count = self.threads

    def close(self):
        self.container.close()

    def _rewind(self) -> None:
        """Back to the first frame: seek, or reopen the file where seeking fails."""
        if self.fresh:
            return
        if not self._seek(0.0):
            self.container.close()
            self._attach(_open(self.path))
        self.fresh = True

    def _seek(self, t: float) -> bool:
        """Seek to the key frame at or before ``t``; False when the file refuses."""
        import av

        pts = int(math.floor((t + self.origin) / self.tb))
        try:
            self.container.seek(pts, stream=self.stream, backward=True, any_frame=False)
        except (av.error.FFmpegError, OSError):
            return False
        return True

    def scan(self, targets: np.ndarray) -> _Pass:
        """Nearest decoded frame for each of the sorted ``targets`` (seconds from stream start)."""
        import av

        n = len(targets)
        picks: list = [None] * n
        arrays: dict[int, np.ndarray] = {}
        decoded = 0
        intervals: list[float] = []
        i = 0
        from_start = False
        while i < n:
            seek_to = targets[i] - SEEK_MARGIN_S
            if from_start or seek_to <= 0 or not self.seekable:
                self._rewind()
                from_start = True
            elif not self._seek(seek_to):
                from_start = True
                continue
            self.fresh = False
            prev = None  # (time, frame, key)
            first = True
            i_seek = i
            overshoot = False
            try:
                for frame in self.container.decode(self.stream):
                    decoded += 1
                    if frame.time is None and not from_start:
                        self.seekable = False
                        overshoot = True  # no timestamps: start again from the first frame
                        break
                    tf = (float(frame.time) - self.origin if frame.time is not None else
                          (prev[0] + (intervals[-1] if intervals else 1 / (self.rate or 30.0))
                           if prev else 0.0))
                    if first and tf > targets[i] and not from_start:
                        overshoot = True  # the seek landed after the first time we need
                        break
                    first = False
                    if prev is not None and tf > prev[0]:
                        intervals.append(tf - prev[0])
                    key = decoded
                    while i < n and targets[i] <= tf:
                        if prev is not None and targets[i] - prev[0] <= tf - targets[i]:
                            picks[i] = (prev[0], self._array(arrays, prev[2], prev[1]))
                        else:
                            picks[i] = (tf, self._array(arrays, key, frame))
                        i += 1
                    if i == n:
                        break
                    prev = (tf, frame, key)
                    if targets[i] - tf > SEEK_GAP_S and i > i_seek:
                        break  # a later clip: seek again rather than decode the gap
                else:
                    # The stream ended: times inside the last frame's display interval take it,
                    # later ones are beyond the end.
                    if prev is None:
                        if not from_start:  # the seek went past the last frame
                            from_start = True
                            continue
                        raise VideoError(self.path, "no frame could be decoded")
                    end = prev[0] + self._frame_duration(frame, intervals)
                    while i < n and targets[i] < end:
                        picks[i] = (prev[0], self._array(arrays, prev[2], prev[1]))
                        i += 1
                    return _Pass(picks, decoded, end)
            except av.error.FFmpegError as exc:
                raise VideoError(self.path, _why(exc)) from exc
            from_start = overshoot  # else a jump ahead (seek again) or every target resolved
        return _Pass(picks, decoded, None)

    @staticmethod
    def _array(cache: dict, key: int, frame) -> np.ndarray:
        if key not in cache:
            cache[key] = upright(frame.to_ndarray(format="rgb24"), frame)
        return cache[key]

    def end_time(self) -> tuple[float, int]:
        """(end of the stream in seconds, frames decoded): a full decode, for files that state
        no duration (raw streams)."""
        import av

        self._rewind()
        self.fresh = False
        last, frame, n = None, None, 0
        intervals: list[float] = []
        try:
            for frame in self.container.decode(self.stream):
                n += 1
                t = (float(frame.time) - self.origin if frame.time is not None else
                     (last + (intervals[-1] if intervals else 1 / (self.rate or 30.0))
                      if last is not None else 0.0))
                if last is not None and t > last:
                    intervals.append(t - last)
                last = t
        except av.error.FFmpegError as exc:
            raise VideoError(self.path, _why(exc)) from exc
        if last is None:
            raise VideoError(self.path, "no frame could be decoded")
        return last + self._frame_duration(frame, intervals), n

    def _frame_duration(self, frame, intervals: list[float]) -> float:
        if frame.duration:
            return float(frame.duration * self.tb)
        if intervals:
            return float(np.median(intervals))
        return 1 / (self.rate or 30.0)


def display_rotation(frame) -> int:
    """Quarter turns (0-3, counterclockwise) that bring a decoded frame upright, from its display
    matrix: phones store portrait video as landscape pixels with a 90-degree rotation tag."""
    degrees = getattr(frame, "rotation", 0) or 0  # PyAV >= 14 reads the display matrix
    return int(round(degrees / 90)) % 4


def upright(image: np.ndarray, frame) -> np.ndarray:
    """(H, W, 3) pixels as the file displays them (ffmpeg's and players' autorotation)."""
    k = display_rotation(frame)
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


def _resolve(video: _Video, times: np.ndarray, short_clip: str,
             first: _Pass | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """Frames for ``times`` (any order) under the short-clip policy; (frames, frame_times, decoded).

    ``first`` is a scan already made for ``np.sort(times)``.
    """
    order = np.argsort(times, kind="stable")
    sorted_t = np.asarray(times, dtype=np.float64)[order]
    p = first if first is not None else video.scan(sorted_t)
    decoded = 0 if first is not None else p.decoded
    picks = list(p.picks)
    missing = [j for j, pk in enumerate(picks) if pk is None]
    if missing and short_clip == "loop" and p.end and p.end > 0:
        wrapped = np.mod(sorted_t[missing], p.end)
        sub = np.argsort(wrapped, kind="stable")
        q = video.scan(wrapped[sub])
        decoded += q.decoded
        for b, a in enumerate(sub):
            picks[missing[a]] = q.picks[b]
    last = next((pk for pk in reversed(picks) if pk is not None), None)
    if last is None:
        raise VideoError(video.path, "no frame could be decoded at the requested times")
    shape = last[1].shape
    out = np.empty((len(times), *shape), dtype=np.uint8)
    out_t = np.empty(len(times), dtype=np.float64)
    for j, pk in enumerate(picks):
        if pk is None:
            pk = last if short_clip != "zero" else None
        if pk is None:
            out[order[j]] = 0
            out_t[order[j]] = np.nan
            continue
        if pk[1].shape != shape:
            raise VideoError(video.path, f"the frame size changes inside the file "
                                         f"({pk[1].shape[1]}x{pk[1].shape[0]} and "
                                         f"{shape[1]}x{shape[0]})")
        out[order[j]] = pk[1]
        out_t[order[j]] = pk[0]
    return out, out_t, decoded


def decode_at(path, times, short_clip: str = "last", threads: int = 0) -> DecodedClip:
    """The frames nearest to ``times`` (seconds from the start of the video stream).

    Times past the end of the stream follow ``short_clip``: "last" repeats the last frame,
    "loop" wraps the time around the stream's length, "zero" gives a black frame (time NaN).
    """
    if short_clip not in SHORT_CLIP:
        raise AmgeError(f"short_clip must be one of {', '.join(SHORT_CLIP)}, got {short_clip!r}",
                        code="E730")
    video = _Video(path, threads)
    try:
        frames, ftimes, decoded = _resolve(video, np.asarray(times, dtype=np.float64), short_clip)
    finally:
        video.close()
    return DecodedClip(frames, ftimes, decoded)


def decode_clips(path, fractions, settings: VideoSettings, threads: int = 0) -> list[DecodedClip]:
    """One clip per start ``fraction`` (0 = first possible start, 1 = last), decoded in one pass.

    The clip span is ``settings.span``; a clip of a video shorter than that starts at 0 and its
    late sample times follow ``settings.short_clip``. When the file's stated duration turns out
    longer than its frames (a truncated file, a longer audio track), the clips are placed again
    on the true length.
    """
    video = _Video(path, threads)
    try:
        decoded = 0
        duration = video.duration
        if duration is None or duration <= 0:
            duration, decoded = video.end_time()
        for attempt in range(2):
            starts = [clip_start(duration, settings.span, f) for f in fractions]
            times = np.concatenate([sample_times(s, settings.frames, settings.stride, settings.fps)
                                    for s in starts])
            p = video.scan(np.sort(times, kind="stable"))
            decoded += p.decoded
            short = any(pk is None for pk in p.picks)
            if attempt == 0 and short and p.end is not None and p.end < duration - 1e-6:
                duration = p.end
                continue
            break
        frames, ftimes, more = _resolve(video, times, settings.short_clip, first=p)
        decoded += more
    finally:
        video.close()
    t = settings.frames
    return [DecodedClip(frames[k * t:(k + 1) * t], ftimes[k * t:(k + 1) * t], decoded)
            for k in range(len(fractions))]


@dataclass(frozen=True)
class VideoInfo:
    path: str
    width: int  # as displayed (after the file's rotation tag) when the first frame was decoded
    height: int
    duration: float | None  # seconds, from the container's metadata
    fps: float | None  # average frame rate stated by the container
    frames: int  # frames stated by the container; 0 when it does not say


def probe_video(path, decode_first: bool = True) -> VideoInfo:
    """Open a video, read its metadata and (by default) decode its first frame.

    Raises VideoError naming the file when it cannot be opened or decodes no frame.
    """
    import av

    video = _Video(path)
    try:
        width, height = video.width, video.height
        if decode_first:
            try:
                first = next(iter(video.container.decode(video.stream)))
            except StopIteration as exc:
                raise VideoError(path, "the video stream holds no frames") from exc
            except av.error.FFmpegError as exc:
                raise VideoError(path, _why(exc)) from exc
            if display_rotation(first) % 2:  # a quarter turn: the displayed frame is transposed
                width, height = height, width
        return VideoInfo(str(path), width, height, video.duration, video.rate,
                         int(video.stream.frames or 0))
    finally:
        video.close()
