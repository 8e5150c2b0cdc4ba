"""Dense optical flow from raw video with OpenCV, and the flow store (docs/raw-video.md, "Flow
store").

Frames are read upright at up to ``fps`` frames per second (the first frame of each ``1 / fps``
interval), scaled down to a short side of ``short_side`` pixels and turned grey; the flow of
each pair of consecutive kept frames is computed with DIS (``dis-ultrafast``, ``dis-fast``,
``dis-medium``: OpenCV's presets of Kroeger et al.'s dense inverse search) or Farneback
(``farneback``), clipped to +-``bound`` pixels and quantised to int8 (``round(f * 127 /
bound)``, a step of ``bound / 127`` pixels). Numpy, PyAV and OpenCV (``pip install
'amge-eval[flow]'``); OpenCV is imported only to compute.

One file per video, ``<sample id>.npz`` (zlib-compressed), holding:

- ``format``: ``"amge-flow/v1"``
- ``flow``: (N, H, W, 2) int8, (dx, dy) from kept frame k to k + 1, in units of ``bound / 127``
  pixels of the stored size
- ``times``: (N,) float64, the time (s from the stream start) of the later frame of each pair
- ``bound``: float32, the clip value in pixels; ``fps``: float32, the kept rate
- ``size``: (2,) int32 stored width and height; ``source_size``: (2,) int32 the video's
  displayed width and height
- ``settings``: JSON of ``FlowSettings``, with the OpenCV version

A video of one frame has N = 0. ``read_flow`` checks every key and raises E713 naming the file
when one is missing or malformed.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from amge_eval.harness.errors import AmgeError, MissingExtra
from amge_eval.harness.fileio import write_bytes_atomic

from .decode import VideoMeta, read_frames

FLOW_FORMAT = "amge-flow/v1"
METHODS = ("dis-ultrafast", "dis-fast", "dis-medium", "farneback")
EXTRA_HINT = "pip install 'amge-eval[flow]'"


@dataclass(frozen=True)
class FlowSettings:
    """Every setting that changes the stored flow."""

    method: str = "dis-medium"  # one of METHODS
    fps: float = 30.0  # frames kept per second
    short_side: int = 128  # short side of the frames the flow is computed on
    bound: float = 10.0  # |flow| is clipped to this many pixels (of the stored size)

    def __post_init__(self):
        problems = []
        if self.method not in METHODS:
            problems.append(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        if not 0 < self.fps <= 240:
            problems.append(f"fps must be in (0, 240], got {self.fps}")
        if not 16 <= self.short_side <= 2160:
            problems.append(f"short_side must be in [16, 2160], got {self.short_side}")
        if not 0 < self.bound <= 1000:
            problems.append(f"bound must be in (0, 1000], got {self.bound}")
        if problems:
            raise AmgeError("Invalid optical flow settings: " + "; ".join(problems), code="E714")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FlowClip:
    """One video's stored flow."""

    flow: np.ndarray  # (N, H, W, 2) int8
    times: np.ndarray  # (N,) float64
    bound: float
    fps: float
    size: tuple[int, int]  # stored (width, height)
    source_size: tuple[int, int]  # displayed (width, height) of the video
    settings: dict
    seconds: float = 0.0  # wall time of decoding and flow (0 when read from a file)

    @property
    def duration(self) -> float:
        """Seconds the flow covers: up to one frame after the last pair's later frame."""
        return float(self.times[-1] + 1.0 / self.fps) if len(self.times) else 0.0

    def as_float(self, index) -> np.ndarray:
        """(len(index), H, W, 2) float32 flow in units of ``bound`` (so within [-1, 1])."""
        return self.flow[index].astype(np.float32) / 127.0


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise MissingExtra(f"Optical flow needs OpenCV, which is not installed: {EXTRA_HINT}",
                           code="E830") from exc
    return cv2


def _engine(cv2, method: str):
    if method == "farneback":
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    preset = {"dis-ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
              "dis-fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
              "dis-medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}[method]
    dis = cv2.DISOpticalFlow_create(preset)
    return lambda a, b: dis.calc(a, b, None)


def quantise(flow: np.ndarray, bound: float) -> np.ndarray:
    """float flow in pixels -> int8 in units of bound / 127, clipped to +-bound."""
    return np.clip(np.rint(flow * (127.0 / bound)), -127, 127).astype(np.int8)


def compute_flow(path, settings: FlowSettings | None = None) -> FlowClip:
    """The flow of one video (see the module docstring); VideoError (E710) names a file that
    cannot be decoded."""
    s = settings or FlowSettings()
    cv2 = _cv2()
    t0 = time.perf_counter()
    calc = _engine(cv2, s.method)
    meta: list[VideoMeta] = []
    prev = None
    flows, times = [], []
    size = (0, 0)
    for frame in read_frames(path, max_fps=s.fps, short_side=s.short_side, meta=meta):
        grey = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY)
        size = (grey.shape[1], grey.shape[0])
        if prev is not None:
            flows.append(quantise(calc(prev, grey), s.bound))
            times.append(frame.time)
        prev = grey
    m = meta[0]
    flow = np.stack(flows) if flows else np.zeros((0, size[1], size[0], 2), np.int8)
    rate = min(s.fps, m.fps) if m.fps else s.fps
    info = {**s.to_dict(), "opencv": cv2.__version__}
    return FlowClip(flow, np.asarray(times, np.float64), s.bound, float(rate), size,
                    (m.width, m.height), info, time.perf_counter() - t0)


def write_flow(path, clip: FlowClip) -> Path:
    """Store one video's flow (atomically)."""
    buf = io.BytesIO()
    np.savez_compressed(buf, format=np.array(FLOW_FORMAT), flow=clip.flow, times=clip.times,
                        bound=np.float32(clip.bound), fps=np.float32(clip.fps),
                        size=np.asarray(clip.size, np.int32),
                        source_size=np.asarray(clip.source_size, np.int32),
                        settings=np.array(json.dumps(clip.settings, sort_keys=True)))
    return write_bytes_atomic(path, buf.getvalue())


def _bad(path, why: str) -> AmgeError:
    return AmgeError(f"Optical flow file {path} is unusable: {why}; recompute it with "
                     f"`amge-eval data flow ... --replace`", code="E713")


def read_flow(path) -> FlowClip:
    """Read and check one flow file (E713 names a malformed one)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as exc:
        raise _bad(path, f"not a readable npz file ({exc})") from exc
    need = ("format", "flow", "times", "bound", "fps", "size", "source_size", "settings")
    missing = [k for k in need if k not in d]
    if missing:
        raise _bad(path, f"keys {', '.join(missing)} are missing")
    if str(d["format"]) != FLOW_FORMAT:
        raise _bad(path, f"format {str(d['format'])!r}, expected {FLOW_FORMAT!r}")
    flow, times = d["flow"], d["times"]
    if flow.dtype != np.int8 or flow.ndim != 4 or flow.shape[3] != 2:
        raise _bad(path, f"flow must be (N, H, W, 2) int8, got {flow.shape} {flow.dtype}")
    if times.shape != (flow.shape[0],) or not np.isfinite(times).all():
        raise _bad(path, f"times must be {flow.shape[0]} finite numbers")
    bound, fps = float(d["bound"]), float(d["fps"])
    if not (bound > 0 and fps > 0):
        raise _bad(path, "bound and fps must be positive")
    try:
        settings = json.loads(str(d["settings"]))
    except json.JSONDecodeError as exc:
        raise _bad(path, "settings are not JSON") from exc
    size = tuple(int(v) for v in d["size"])
    if size != (flow.shape[2], flow.shape[1]):
        raise _bad(path, f"size {size} disagrees with the flow's {flow.shape[2]}x{flow.shape[1]}")
    return FlowClip(flow, times.astype(np.float64), bound, fps, size,
                    tuple(int(v) for v in d["source_size"]), settings)


def flow_settings_of(path) -> dict | None:
    """The settings stored in a flow file, or None when it is unreadable."""
    try:
        return read_flow(path).settings
    except AmgeError:
        return None


def sample_file(root, sample_id: str, suffix: str) -> Path:
    """``<root>/<sample id><suffix>``; an id that is not a plain relative path (``..``, empty
    or absolute parts, backslashes, colons) is stored under the sha256 of the id instead."""
    parts = sample_id.split("/")
    plain = all(p not in ("", ".", "..") and "\\" not in p and ":" not in p for p in parts)
    if plain:
        return Path(root).joinpath(*parts[:-1], parts[-1] + suffix)
    return Path(root) / "_ids" / (hashlib.sha256(sample_id.encode()).hexdigest() + suffix)


def flow_dir(data_root, dataset: str, split: str) -> Path:
    """Where the loaders look for a split's flow: ``<data-root>/<dataset>/flow/<split>/``."""
    return Path(data_root) / dataset / "flow" / split
