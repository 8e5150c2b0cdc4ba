"""RGB frames of a synthetic clip and their H.264 encoding.

A frame is a textured room (wall and floor, generated with numpy) with the person drawn over it
as filled limbs, far limbs first, in clothing colours; a bench or a bar where the posture needs
one. The clothes and the room are the activity's (its footage, ``style.py``), lit a little
differently in each clip. Drawing uses PIL's ImageDraw (C loops), the textures numpy: no per-pixel
Python. PIL and PyAV are imported only here, so labels and skeletons need neither.
"""

from __future__ import annotations

import colorsys
import io
from dataclasses import dataclass

import numpy as np

from .body import J
from .clip import Scene

# limb -> (from joint, to joint, thickness in metres)
SEGMENTS = (
    ("left_shoulder", "left_elbow", 0.085), ("left_elbow", "left_wrist", 0.07),
    ("right_shoulder", "right_elbow", 0.085), ("right_elbow", "right_wrist", 0.07),
    ("left_hip", "left_knee", 0.14), ("left_knee", "left_ankle", 0.105),
    ("right_hip", "right_knee", 0.14), ("right_knee", "right_ankle", 0.105),
)
TORSO_WIDTH = 0.22  # depth of the chest, seen from the side


@dataclass(frozen=True)
class Look:
    """Colours of one person."""

    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    skin: tuple[int, int, int]
    shoes: tuple[int, int, int]
    hair: tuple[int, int, int]
    short_sleeves: bool
    shorts: bool


def _hsv(h: float, s: float, v: float) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return int(r * 255), int(g * 255), int(b * 255)


def random_look(rng: np.random.Generator) -> Look:
    skin = _hsv(rng.uniform(0.03, 0.09), rng.uniform(0.25, 0.6), rng.uniform(0.35, 0.95))
    return Look(shirt=_hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.35, 0.95)),
                pants=_hsv(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.15, 0.6)),
                skin=skin, shoes=_hsv(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.1, 0.9)),
                hair=_hsv(rng.uniform(0.02, 0.12), rng.uniform(0.3, 0.8), rng.uniform(0.05, 0.5)),
                short_sleeves=bool(rng.random() < 0.5), shorts=bool(rng.random() < 0.4))


def _tint(c: tuple[int, int, int], rng: np.random.Generator, amount: float) -> tuple[int, int, int]:
    """``c`` with its brightness changed a little (another take, another light)."""
    return _shade(c, float(1.0 + rng.uniform(-amount, amount)))


def clip_look(look: Look, rng: np.random.Generator) -> Look:
    """The activity's performer in one clip: the same clothes under slightly different light."""
    return Look(*(_tint(getattr(look, k), rng, 0.08) for k in ("shirt", "pants", "skin", "shoes",
                                                               "hair")),
                look.short_sleeves, look.shorts)


@dataclass(frozen=True)
class Room:
    """The activity's room: wall and floor colours and the wall's texture."""

    wall: tuple[int, int, int]
    floor: tuple[int, int, int]
    kind: int  # 0 stripes, 1 tiles, 2 diagonal, 3 plain
    period: float  # texture period in units of 1/128 of the frame
    blotch: float  # strength of the wall's blotches
    boards: float  # spacing of the floor boards


def random_room(rng: np.random.Generator) -> Room:
    return Room(wall=_hsv(rng.random(), rng.uniform(0.05, 0.5), rng.uniform(0.45, 0.95)),
                floor=_hsv(rng.uniform(0.02, 0.14), rng.uniform(0.1, 0.6), rng.uniform(0.25, 0.75)),
                kind=int(rng.integers(0, 4)), period=float(rng.uniform(0.0, 1.0)),
                blotch=float(rng.uniform(8, 30)), boards=float(rng.uniform(1.5, 3.5)))


def _shade(c: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return tuple(int(min(255, max(0, v * f))) for v in c)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    """Low-frequency noise in [-1, 1], (h, w): a coarse random grid, bilinearly upsampled."""
    g = rng.uniform(-1.0, 1.0, (cells + 1, cells + 1))
    ys = np.linspace(0, cells, h)
    xs = np.linspace(0, cells, w)
    y0 = np.minimum(ys.astype(int), cells - 1)
    x0 = np.minimum(xs.astype(int), cells - 1)
    fy = (ys - y0)[:, None]
    fx = (xs - x0)[None, :]
    top = g[y0][:, x0] * (1 - fx) + g[y0][:, x0 + 1] * fx
    bot = g[y0 + 1][:, x0] * (1 - fx) + g[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def background(rng: np.random.Generator, w: int, h: int, floor_y: float, room: Room) -> np.ndarray:
    """(h, w, 3) uint8 room: a textured wall above ``floor_y`` and a textured floor below.
    ``room`` is the activity's; the blotches, the texture's offset and the grain are the clip's."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    wall = np.array(_tint(room.wall, rng, 0.06), np.float32)
    floor = np.array(_tint(room.floor, rng, 0.06), np.float32)
    unit = max(h, w) / 128.0
    if room.kind == 0:  # vertical stripes or panels
        tex = np.sign(np.sin(2 * np.pi * xx / (unit * (6 + 24 * room.period))
                             + rng.random() * 6)) * 8
    elif room.kind == 1:  # tiles
        c = unit * (6 + 12 * room.period)
        tex = (((xx // c) + (yy // c)) % 2 - 0.5) * 14
    elif room.kind == 2:  # diagonal texture
        tex = np.sin(2 * np.pi * (xx + yy) / (unit * (4 + 12 * room.period))) * 6
    else:
        tex = np.zeros((h, w), np.float32)
    blotch = _smooth_noise(rng, h, w, int(rng.integers(2, 7))) * room.blotch
    img = wall[None, None] + (tex + blotch)[..., None]
    # floor: boards that get closer together towards the junction (a hint of perspective)
    below = np.clip(yy - floor_y, 0, None)
    boards = np.sign(np.sin(np.sqrt(below + 1.0) * room.boards)) * 7
    floor_img = floor[None, None] + (boards + _smooth_noise(rng, h, w, 3) * 12)[..., None]
    img = np.where((yy >= floor_y)[..., None], floor_img, img)
    # a darker skirting line where wall meets floor
    img = np.where((np.abs(yy - floor_y) < max(1.0, unit))[..., None], img * 0.6, img)
    img += rng.normal(0.0, 3.0, img.shape).astype(np.float32)  # sensor grain
    return np.clip(img, 0, 255).astype(np.uint8)


class Renderer:
    """Draws the frames of one scene; ``frame(i)`` returns (H, W, 3) uint8."""

    def __init__(self, scene: Scene, size: tuple[int, int], rng: np.random.Generator):
        from PIL import Image, ImageDraw

        self._image, self._draw = Image, ImageDraw
        self.scene = scene
        self.w, self.h = size
        # the activity's performer and room (its footage), seen in this clip's light
        footage = np.random.default_rng(scene.render_seed)
        look, room = random_look(footage), random_room(footage)
        self.look = clip_look(look, rng)
        self.margin = int(np.ceil(np.abs(scene.drift).max())) + 2
        m = self.margin
        self.bg = background(rng, self.w + 2 * m, self.h + 2 * m, scene.floor_y + m, room)

    def frame(self, i: int) -> np.ndarray:
        sc, lk, m = self.scene, self.look, self.margin
        dx, dy = np.round(sc.drift[i]).astype(int)
        # the room moves with the camera's pan, as the person does
        crop = self.bg[m - dy:m - dy + self.h, m - dx:m - dx + self.w]
        img = self._image.fromarray(np.ascontiguousarray(crop))
        draw = self._draw.Draw(img)
        k = float(sc.px_per_m[i])
        p = sc.pixels[i]
        d = sc.depth[i]
        if sc.prop in ("bench", "bench_behind"):
            self._polygon(draw, _hull(sc.prop_pixels[i]), (70, 60, 55))
        parts = []  # (depth, kind, payload)
        for a, b, thick in SEGMENTS:
            ia, ib = J[a], J[b]
            far = a.startswith("left") == (d[J["left_hip"]] > d[J["right_hip"]])
            if "hip" in a or "knee" in a:
                col = lk.pants if ("hip" in a or not lk.shorts) else lk.skin
            else:
                col = lk.shirt if ("shoulder" in a or not lk.short_sleeves) else lk.skin
                if "shoulder" in a and lk.short_sleeves:
                    col = lk.shirt
            parts.append(((d[ia] + d[ib]) / 2, "seg", (p[ia], p[ib], thick * k,
                                                      _shade(col, 0.8 if far else 1.0))))
        for side, ankle in ((0, "left_ankle"), (1, "right_ankle")):
            parts.append((d[J[ankle]] + 0.01, "seg", (p[J[ankle]], sc.fwd_pixels[i, side],
                                                       0.07 * k, lk.shoes)))
        for wrist in ("left_wrist", "right_wrist"):
            parts.append((d[J[wrist]] - 0.01, "dot", (p[J[wrist]], 0.045 * k, lk.skin)))
        sh = (p[J["left_shoulder"]] + p[J["right_shoulder"]]) / 2
        hp = (p[J["left_hip"]] + p[J["right_hip"]]) / 2
        torso_d = float(np.mean(d[[J["left_shoulder"], J["right_shoulder"], J["left_hip"],
                                   J["right_hip"]]]))
        parts.append((torso_d, "torso", (p, sh, hp, k)))
        head = (p[J["left_ear"]] + p[J["right_ear"]]) / 2
        head_d = float((d[J["left_ear"]] + d[J["right_ear"]]) / 2)
        parts.append((head_d, "head", (sh, head, k)))
        parts.sort(key=lambda x: -x[0])
        for _, kind, pay in parts:
            if kind == "seg":
                self._segment(draw, *pay)
            elif kind == "dot":
                self._dot(draw, *pay)
            elif kind == "torso":
                pts, a, b, kk = pay
                quad = [pts[J["left_shoulder"]], pts[J["right_shoulder"]], pts[J["right_hip"]],
                        pts[J["left_hip"]]]
                self._polygon(draw, np.array(quad), lk.shirt)
                self._segment(draw, a, b, TORSO_WIDTH * kk, lk.shirt)
                self._segment(draw, hp, hp, 0.2 * kk, lk.pants)
            else:
                a, c, kk = pay
                self._segment(draw, a, c, 0.09 * kk, lk.skin)
                self._dot(draw, c, sc.body.head * 1.05 * kk, lk.hair)
                face = c + 0.25 * (p[J["nose"]] - c)
                self._dot(draw, face, sc.body.head * 0.85 * kk, lk.skin)
        if sc.prop == "bar":
            a, b = sc.prop_pixels[i]
            draw.line([tuple(a), tuple(b)], fill=(150, 150, 160), width=max(1, int(0.03 * k)))
        return np.asarray(img)

    @staticmethod
    def _segment(draw, a, b, width: float, color) -> None:
        wd = max(1, int(round(width)))
        if np.any(np.abs(a - b) > 0.5):
            draw.line([tuple(a), tuple(b)], fill=color, width=wd)
        r = wd / 2.0
        for c in (a, b):  # round caps so limbs join smoothly
            draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=color)

    @staticmethod
    def _dot(draw, c, r: float, color) -> None:
        draw.ellipse([c[0] - r, c[1] - r, c[0] + r, c[1] + r], fill=color)

    @staticmethod
    def _polygon(draw, pts: np.ndarray, color) -> None:
        draw.polygon([tuple(q) for q in pts], fill=color)


def _hull(pts: np.ndarray) -> np.ndarray:
    """Convex hull of a few 2-D points (monotone chain), counter-clockwise."""
    pts = np.unique(np.round(pts, 3), axis=0)
    if len(pts) < 3:
        return pts

    def cross(o, a, b):
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower, upper = [], []
    for q in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], q) <= 0:
            lower.pop()
        lower.append(q)
    for q in pts[::-1]:
        while len(upper) >= 2 and cross(upper[-2], upper[-1], q) <= 0:
            upper.pop()
        upper.append(q)
    return np.array(lower[:-1] + upper[:-1])


def render_frames(scene: Scene, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of a scene."""
    r = Renderer(scene, size, rng)
    return np.stack([r.frame(i) for i in range(len(scene.pixels))])


def encode_mp4(frames: np.ndarray, fps: float) -> bytes:
    """H.264 (yuv420p) mp4 bytes of (T, H, W, 3) uint8 frames; H and W must be even."""
    import av

    t, h, w, _ = frames.shape
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=int(round(fps)))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        # one thread: clips are parallel across processes, and x264 is deterministic this way
        stream.codec_context.thread_count = 1
        stream.codec_context.options = {"preset": "veryfast", "crf": "23"}
        for f in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buf.getvalue()
