"""One synthetic clip: a person doing an activity, filmed by a camera, seen by a pose estimator.

A clip starts from its activity's footage style (``style.py``: performer, camera, tempo, range
of motion, clip length, estimator noise, room) and draws its own small deviations from it, and
everything else random about it (repetitions, phase, posture details, camera drift, keypoint
noise, dropped keypoints), from the clip's own generator, so a clip does not depend on which
other clips are made, in what order, or whether its video is rendered. The motion and the
render draw from two independent child streams: the skeletons are the same with and without
video.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activities import Activity
from .body import Body, Camera, J, project
from .motions import PRIMITIVES, animate, clip_clock, idle, posture_motion, step_signal
from .style import FLOOR_POSTURES, Style


@dataclass
class Scene:
    """Everything the renderer needs, in pixels of the output video."""

    body: Body
    world: np.ndarray  # (T, 17, 3) metres
    pixels: np.ndarray  # (T, 17, 2) clean joint positions in the image
    depth: np.ndarray  # (T, 17) distance from the camera, larger is farther
    px_per_m: np.ndarray  # (T,) image scale at the body
    drift: np.ndarray  # (T, 2) camera pan in pixels (the background moves with it)
    floor_y: float  # image row of the floor/wall junction behind the person
    prop: str | None
    prop_pixels: np.ndarray | None  # (T, K, 2) outline points of the prop (bench, bar)
    fwd_pixels: np.ndarray  # (T, 2, 2) foot tips (left, right) in the image
    camera: Camera
    render_seed: int  # the activity's colours and room (Style.render_seed)


@dataclass
class Clip:
    skeleton: np.ndarray  # (T, 1, 17, 3) float32: x, y in pixels, confidence (0 = dropped)
    scene: Scene
    fps: float
    reps: float


def simulate(activity: Activity, n_frames: int, size: tuple[int, int], fps: float,
             rng: np.random.Generator, style: Style) -> Clip:
    """Pose, film and detect one clip of ``activity`` in its clip ``style``. ``size`` is
    (width, height)."""
    body = style.body
    motion = posture_motion(activity.posture, activity.variant, body, n_frames, rng)
    clock = clip_clock(n_frames, rng)
    reps = n_frames / fps / style.rep_seconds
    start = rng.random()
    # primitives that share a cycle share a tempo and a start: one activity, one rhythm
    for step in activity.steps:
        side = step.side
        if side == "either":
            side = "left" if rng.random() < 0.5 else "right"
        code = {"left": "l", "right": "r"}.get(side, side)
        sig = step_signal(step, code, clock, reps, start, rng, shape=style.shape)
        amp = float(np.clip(style.amplitude + rng.normal(0.0, 0.03), 0.5, 1.1))
        PRIMITIVES[step.name](motion, sig, step, amp, rng)
    idle(motion, rng, arms=style.arms)
    world = animate(body, motion)
    # the person drifts a little in place (shuffles, breathing): a slow translation
    sway = 0.03 * np.sin(2 * np.pi * (np.arange(n_frames)[:, None] / rng.uniform(40, 120, 3)
                                      + rng.random(3)))
    sway[:, 1] *= 0.2
    world = world + sway[:, None, :]
    scene = film(activity.posture, body, world, motion.prop, size, rng, style)
    skel = detect(scene, size, rng, style.noise)
    return Clip(skel, scene, fps, reps)


def _foot_tips(world: np.ndarray) -> np.ndarray:
    """(T, 2, 3) toe points: each ankle pushed along the body's forward axis."""
    left = world[:, J["left_hip"]] - world[:, J["right_hip"]]
    up = (world[:, J["left_shoulder"]] + world[:, J["right_shoulder"]]
          - world[:, J["left_hip"]] - world[:, J["right_hip"]])
    fwd = np.cross(left, up)
    fwd /= np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-9)
    return np.stack([world[:, J["left_ankle"]], world[:, J["right_ankle"]]], 1) + 0.14 * fwd[:, None]


def _prop_points(prop: str | None, world: np.ndarray) -> np.ndarray | None:
    """3-D outline points of the prop at the rest of frame 0."""
    if prop is None:
        return None
    w0 = world[0]
    if prop == "bar":
        mid = 0.5 * (w0[J["left_wrist"]] + w0[J["right_wrist"]]) + np.array([0.0, 0.03, 0.0])
        side = w0[J["left_wrist"]] - w0[J["right_wrist"]]
        side /= max(np.linalg.norm(side), 1e-9)
        return np.stack([mid - 0.75 * side, mid + 0.75 * side])
    # a bench: a box under the pelvis (seated) or under the hands (dips)
    if prop == "bench":
        top = 0.5 * (w0[J["left_hip"]] + w0[J["right_hip"]])
        height = top[1] - 0.07
    else:
        top = 0.5 * (w0[J["left_wrist"]] + w0[J["right_wrist"]])
        top = top - 0.26 * _unit(_forward(w0) * np.array([1.0, 0.0, 1.0]))
        height = top[1] - 0.03
    fwd = _unit(_forward(w0) * np.array([1.0, 0.0, 1.0]))
    lat = _unit(np.cross(np.array([0.0, 1.0, 0.0]), fwd))
    pts = []
    for a in (-0.22, 0.22):
        for b in (-0.35, 0.35):
            for y in (0.0, height):
                p = top + a * fwd + b * lat
                pts.append([p[0], y, p[2]])
    return np.array(pts)


def _forward(w0: np.ndarray) -> np.ndarray:
    left = w0[J["left_hip"]] - w0[J["right_hip"]]
    up = (w0[J["left_shoulder"]] + w0[J["right_shoulder"]] - w0[J["left_hip"]]
          - w0[J["right_hip"]])
    return np.cross(left, up)


def _smooth_time(x: np.ndarray, k: int) -> np.ndarray:
    """Moving average over axis 0 with a window of ``k`` frames (edges padded)."""
    pad = [(k // 2, k - 1 - k // 2)] + [(0, 0)] * (x.ndim - 1)
    c = np.cumsum(np.pad(x, pad, mode="edge"), axis=0)
    c = np.concatenate([np.zeros_like(c[:1]), c])
    return (c[k:] - c[:-k]) / k


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def film(posture: str, body: Body, world: np.ndarray, prop: str | None, size: tuple[int, int],
         rng: np.random.Generator, style: Style) -> Scene:
    """Camera placement (the style's), framing and camera drift."""
    w, h = size
    t = len(world)
    # floor exercises are filmed with the head to the left or to the right
    flip = posture in FLOOR_POSTURES and style.mirrored
    cam = Camera(yaw=style.yaw + (180.0 if flip else 0.0), pitch=style.pitch,
                 distance=style.distance)
    center = world.reshape(-1, 3).mean(axis=0)
    xy, depth = project(world, cam, center)
    feet = _foot_tips(world)
    fxy, _ = project(feet, cam, center)
    props = _prop_points(prop, world)
    # the box the person (with head and limb thickness) sweeps over the clip
    pad = 0.16
    pts = np.concatenate([xy.reshape(-1, 2), fxy.reshape(-1, 2)]
                         + ([project(props, cam, center)[0]] if props is not None else []))
    x0, y0 = pts.min(axis=0) - pad
    x1, y1 = pts.max(axis=0) + pad
    fill = float(np.clip(style.fill + rng.normal(0.0, 0.03), 0.6, 0.95))
    scale = fill * min(w / (x1 - x0), h / (y1 - y0))
    bw, bh = (x1 - x0) * scale, (y1 - y0) * scale
    cx = rng.uniform(bw / 2, w - bw / 2) if w > bw else w / 2
    cy = rng.uniform(bh / 2, h - bh / 2) if h > bh else h / 2
    mid = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    # mild hand-held camera: a slow pan and a slow zoom
    u = np.arange(t)[:, None]
    amp = rng.uniform(0.0, 0.03) * np.array([w, h])
    drift = amp * np.sin(2 * np.pi * (u / rng.uniform(50, 150, 2) + rng.random(2)))
    zoom = 1.0 + rng.uniform(0.0, 0.04) * np.sin(2 * np.pi * (u[:, 0] / rng.uniform(60, 200)
                                                              + rng.random()))

    def to_px(p: np.ndarray, frame_axis: bool = True) -> np.ndarray:
        if frame_axis:
            extra = (1,) * (p.ndim - 2)
            z = zoom.reshape((t,) + extra + (1,))
            d = drift.reshape((t,) + extra + (2,))
            return (p - mid) * scale * z + np.array([cx, cy]) + d
        return (p - mid) * scale + np.array([cx, cy])

    pixels = to_px(xy)
    fwd_px = to_px(fxy)
    prop_px = None
    if props is not None:  # the prop stands still in the room: only the camera moves it
        pp = project(props, cam, center)[0]
        prop_px = to_px(np.broadcast_to(pp, (t,) + pp.shape))
    # floor/wall junction: the floor line 1.5 m behind the person, seen from this camera
    away = cam.rotation().T @ np.array([0.0, 0.0, -1.0])
    back = center + 1.5 * away / max(np.linalg.norm(away[[0, 2]]), 1e-6)
    back[1] = 0.0
    floor_y = float(to_px(project(back[None], cam, center)[0], frame_axis=False)[0, 1])
    px_per_m = scale * zoom * cam.distance / np.maximum(depth.mean(axis=1), 0.1)
    return Scene(body, world, pixels, depth, px_per_m, drift, floor_y, prop, prop_px, fwd_px, cam,
                 style.render_seed)


def detect(scene: Scene, size: tuple[int, int], rng: np.random.Generator,
           noise: float) -> np.ndarray:
    """What a 2-D pose estimator would report: jittered joints, confidences, misses.
    ``noise``: jitter as a fraction of the person's extent."""
    w, h = size
    px = scene.pixels
    t = len(px)
    extent = float(np.ptp(px[..., 1]) + np.ptp(px[..., 0])) / 2
    sigma = noise * extent
    white = rng.normal(0.0, sigma, px.shape)
    # estimator errors are correlated over time: a smoothed random walk on top of white noise
    slow = _smooth_time(rng.normal(0.0, 2.0 * sigma, px.shape), 9)
    xy = px + white + slow
    # confidence: lower for joints behind the body and for a face turned away
    depth = scene.depth
    far = depth - np.median(depth, axis=1, keepdims=True)
    conf = rng.uniform(0.7, 0.95) - 0.25 * np.clip(far / 0.25, 0.0, 1.0)
    face = [J[n] for n in ("nose", "left_eye", "right_eye")]
    ears = 0.5 * (depth[:, J["left_ear"]] + depth[:, J["right_ear"]])
    turned = np.clip((depth[:, face] - ears[:, None]) / 0.08, 0.0, 1.0)  # nose behind the ears
    conf[:, face] -= 0.5 * turned
    conf += rng.normal(0.0, 0.05, conf.shape)
    conf = np.clip(conf, 0.05, 1.0)
    # misses: scattered single frames plus the odd run of a joint lost for a while
    drop = rng.random(conf.shape) < rng.uniform(0.0, 0.1)
    for _ in range(rng.poisson(1.0)):
        j = rng.integers(0, conf.shape[1])
        a = rng.integers(0, t)
        drop[a:a + rng.integers(3, 15), j] = True
    outside = (xy[..., 0] < 0) | (xy[..., 0] >= w) | (xy[..., 1] < 0) | (xy[..., 1] >= h)
    drop |= outside
    out = np.concatenate([xy, conf[..., None]], axis=-1)
    out[drop] = 0.0
    return out[:, None].astype(np.float32)
