"""Every frame of a video, in order, as displayed: the decoding the extractors (pose, optical
flow) share. Numpy and PyAV only.

``read_frames`` decodes a file from its first frame to its last and yields each kept frame
upright (a rotation tag, the display matrix phones write for portrait video, is applied by
quarter turns as players and ffmpeg do) and optionally scaled down in the decoder (swscale,
bilinear), so a 4K file never becomes a 4K RGB array. ``max_fps`` keeps the first frame of each
``1 / max_fps`` interval, so a 60 fps file is read at 30 fps and a 25 fps file keeps every frame.
Times are presentation timestamps in seconds from the start of the video stream (a frame
counter for raw streams without timestamps).

A file that cannot be opened or decoded raises ``VideoError`` (E710) naming it.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from amge_eval.harness.folder import VIDEO_SUFFIXES  # noqa: F401 - what counts as a video file

from .video import VideoError, _open, _why


@dataclass(frozen=True)
class Frame:
    time: float  # seconds from the start of the stream
    image: np.ndarray  # (H, W, 3) uint8 RGB, upright, possibly scaled down
    scale: tuple[float, float]  # (x, y) pixels of ``image`` per pixel of the displayed video


@dataclass(frozen=True)
class VideoMeta:
    width: int  # displayed (after the rotation tag)
    height: int
    fps: float | None  # the container's average frame rate
    rotation: int  # quarter turns applied (0-3, counterclockwise)


def quarter_turns(frame) -> int:
    """Counterclockwise quarter turns that bring a decoded frame upright (its display matrix)."""
    degrees = getattr(frame, "rotation", 0) or 0
    return int(round(degrees / 90)) % 4


def read_frames(path, *, max_fps: float | None = None, max_side: int | None = None,
                short_side: int | None = None, threads: int = 0,
                meta: list | None = None) -> Iterator[Frame]:
    """Yield the kept frames of ``path`` in display order (see the module docstring).

    ``max_side`` scales frames down so that their long side is at most that many pixels,
    ``short_side`` so that their short side is (never up). ``meta``, a list, receives the file's
    ``VideoMeta`` once the first frame is decoded.
    """
    import av

    container = _open(path)
    try:
        stream = container.streams.video[0]
        if threads:
            stream.thread_count = threads
        stream.thread_type = "AUTO"
        tb = stream.time_base
        origin = float(stream.start_time * tb) if stream.start_time is not None else 0.0
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else None
        last_bin, n, turns, size = -1, 0, None, None
        try:
            for frame in container.decode(stream):
                t = (float(frame.time) - origin if frame.time is not None
                     else n / (fps or 30.0))
                n += 1
                if max_fps:
                    b = math.floor(t * max_fps + 1e-6)
                    if b <= last_bin:
                        continue
                    last_bin = b
                if turns is None:
                    turns = quarter_turns(frame)
                    cw, ch = frame.width, frame.height
                    s = min(1.0, max_side / max(cw, ch)) if max_side else 1.0
                    if short_side:
                        s = min(s, short_side / min(cw, ch))
                    size = (max(2, round(cw * s)), max(2, round(ch * s)))
                    if meta is not None:
                        w, h = (ch, cw) if turns % 2 else (cw, ch)
                        meta.append(VideoMeta(w, h, fps, turns))
                if (frame.width, frame.height) != (cw, ch):
                    raise VideoError(path, f"the frame size changes inside the file ({cw}x{ch} "
                                           f"and {frame.width}x{frame.height})")
                image = frame.to_ndarray(width=size[0], height=size[1], format="rgb24")
                if turns:
                    image = np.ascontiguousarray(np.rot90(image, turns))
                sx, sy = size[0] / cw, size[1] / ch
                yield Frame(t, image, (sy, sx) if turns % 2 else (sx, sy))
        except av.error.FFmpegError as exc:
            raise VideoError(path, _why(exc)) from exc
        if n == 0:
            raise VideoError(path, "the video stream holds no frames")
    finally:
        container.close()
