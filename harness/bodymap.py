"""The body map: a front and a back silhouette with the 20 muscle groups shaded by a value.

It is the picture this field draws for an activated-muscle estimate: `amge-eval predict
--picture` shades each group by the model's score, and each entry page of the leaderboard site
by the entry's per-muscle AP. The figure is drawn from simple shapes written here (polygons and
ellipses on a 200 x 380 grid per figure), so the SVG and the PNG come from one geometry:
``body_map_svg`` writes the shapes as SVG, ``body_map_png`` rasterises the same shapes with
Pillow (imported only there).

Every muscle group has at least one region, on the view where it is seen (biceps in front,
triceps at the back, shoulders, forearms, wrists, thighs and feet on both). The shading is a
sequential ramp from near white (the low end) to dark red (the high end) whose luminance falls
strictly as the value rises, so darker always means more; a muscle without a value (an AP that
is undefined because the split has no positive) is drawn grey and its tooltip says so.
Numpy-free: the site builds these for every entry.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path

from .errors import AmgeError
from .muscles import MUSCLE_IDS, MUSCLES

FIGURE_W, FIGURE_H = 200, 380  # one figure's grid
GAP = 24  # between the front and the back figure
TOP = 34  # title band
BOTTOM = 62  # view names, legend
WIDTH = 2 * FIGURE_W + GAP
HEIGHT = TOP + FIGURE_H + BOTTOM

SKIN, OUTLINE, MISSING = (236, 236, 236), (150, 150, 150), (200, 200, 200)
# Sequential ramp (after ColorBrewer's YlOrRd): the luminance of each stop is below the one
# before, and linear interpolation in RGB keeps luminance linear between stops, so the shade is
# strictly monotone in the value.
_RAMP = ((0.0, (255, 247, 236)), (0.25, (253, 212, 158)), (0.5, (252, 141, 89)),
         (0.75, (215, 48, 31)), (1.0, (127, 0, 0)))


@dataclass(frozen=True)
class Shape:
    kind: str  # "poly" (points) or "ellipse" (cx, cy, rx, ry)
    points: tuple[tuple[float, float], ...] = ()
    ellipse: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)

    def moved(self, dx: float) -> Shape:
        if self.kind == "poly":
            return Shape("poly", tuple((x + dx, y) for x, y in self.points))
        cx, cy, rx, ry = self.ellipse
        return Shape("ellipse", ellipse=(cx + dx, cy, rx, ry))

    def mirrored(self) -> Shape:
        """The same shape on the other side of the body (mirrored about x = 100)."""
        if self.kind == "poly":
            return Shape("poly", tuple((FIGURE_W - x, y) for x, y in self.points))
        cx, cy, rx, ry = self.ellipse
        return Shape("ellipse", ellipse=(FIGURE_W - cx, cy, rx, ry))

    def centre(self) -> tuple[float, float]:
        if self.kind == "ellipse":
            return self.ellipse[0], self.ellipse[1]
        xs, ys = zip(*self.points)
        return sum(xs) / len(xs), sum(ys) / len(ys)


def _poly(*pts: tuple[float, float]) -> Shape:
    return Shape("poly", tuple(pts))


def _ell(cx: float, cy: float, rx: float, ry: float) -> Shape:
    return Shape("ellipse", ellipse=(cx, cy, rx, ry))


def _pair(*shapes: Shape) -> tuple[Shape, ...]:
    """Each shape (drawn on the figure's left half) and its mirror image."""
    return tuple(s for shape in shapes for s in (shape, shape.mirrored()))


# The silhouette under the muscles (the same for both views).
SILHOUETTE: tuple[Shape, ...] = (
    _ell(100, 32, 17, 21),  # head
    _poly((91, 48), (109, 48), (111, 66), (89, 66)),  # neck
    _poly((72, 66), (128, 66), (134, 80), (126, 120), (122, 178), (78, 178), (74, 120),
          (66, 80)),  # trunk
    *_pair(_poly((66, 70), (79, 80), (74, 134), (58, 132)),  # upper arm
           _poly((58, 132), (73, 136), (67, 186), (54, 184)),  # forearm
           _ell(59, 198, 7, 11),  # hand
           _poly((74, 196), (100, 200), (98, 278), (80, 276)),  # thigh
           _poly((80, 278), (98, 278), (95, 352), (84, 352)),  # lower leg
           _poly((83, 352), (96, 352), (98, 368), (76, 368))),  # foot
    _poly((78, 176), (122, 176), (126, 202), (74, 202)),  # pelvis
)

_HEAD = (_ell(100, 32, 14, 18), _poly((93, 50), (107, 50), (109, 64), (91, 64)))
_FOREARM = _poly((60, 140), (71, 142), (66, 178), (57, 176))
_WRIST = _poly((56, 181), (66, 183), (65, 190), (55, 188))
_OUTER_THIGH = _poly((75, 202), (80, 205), (82, 262), (78, 256))
_INNER_THIGH = _poly((95, 206), (99, 207), (98, 250), (94, 244))
_FOOT = _poly((83, 355), (95, 355), (97, 366), (78, 366))

# muscle id -> its regions on the front view and on the back view (viewer's coordinates).
FRONT: dict[str, tuple[Shape, ...]] = {
    "neck_and_head": _HEAD,
    "shoulder": _pair(_ell(72, 78, 10, 10)),
    "chest": _pair(_poly((99, 70), (81, 70), (76, 86), (82, 98), (99, 100))),
    "biceps": _pair(_poly((68, 90), (77, 92), (74, 128), (64, 126))),
    "forearms": _pair(_FOREARM),
    "wrists": _pair(_WRIST),
    "obliques": _pair(_poly((78, 104), (87, 106), (87, 160), (80, 150))),
    "upper_abdominis": (_poly((89, 104), (111, 104), (111, 138), (89, 138)),),
    "lower_abdominis": (_poly((89, 141), (111, 141), (108, 172), (92, 172)),),
    "quadriceps": _pair(_poly((81, 205), (94, 207), (94, 268), (84, 266))),
    "inner_thigh": _pair(_INNER_THIGH),
    "outer_thigh": _pair(_OUTER_THIGH),
    "feet_ankles": _pair(_poly((85, 286), (94, 286), (93, 346), (87, 346)), _FOOT),
}
BACK: dict[str, tuple[Shape, ...]] = {
    "neck_and_head": _HEAD,
    "upper_back": (_poly((100, 56), (82, 68), (88, 98), (100, 114), (112, 98), (118, 68)),),
    "shoulder": _pair(_ell(72, 78, 10, 10)),
    "triceps": _pair(_poly((66, 88), (77, 90), (75, 128), (63, 126))),
    "forearms": _pair(_FOREARM),
    "wrists": _pair(_WRIST),
    "latissimus": _pair(_poly((78, 88), (90, 108), (90, 142), (80, 128))),
    "lower_back": (_poly((92, 118), (108, 118), (110, 172), (90, 172)),),
    "gluteus": _pair(_ell(88, 190, 13, 13)),
    "hamstring": _pair(_poly((81, 208), (94, 210), (94, 268), (84, 266))),
    "inner_thigh": _pair(_INNER_THIGH),
    "outer_thigh": _pair(_OUTER_THIGH),
    "calves": _pair(_ell(89, 308, 7, 24)),
    "feet_ankles": _pair(_poly((86, 336), (93, 336), (95, 350), (84, 350)), _FOOT),
}
VIEWS: tuple[tuple[str, dict[str, tuple[Shape, ...]], float], ...] = (
    ("front", FRONT, 0.0), ("back", BACK, float(FIGURE_W + GAP)))


def regions() -> dict[str, list[tuple[str, Shape]]]:
    """Every muscle id -> its (view, shape) regions in picture coordinates (title band
    included), in label order."""
    out: dict[str, list[tuple[str, Shape]]] = {m: [] for m in MUSCLE_IDS}
    for view, table, dx in VIEWS:
        for muscle, shapes in table.items():
            out[muscle] += [(view, _place(s, dx)) for s in shapes]
    return out


def _place(s: Shape, dx: float) -> Shape:
    moved = s.moved(dx)
    if moved.kind == "poly":
        return Shape("poly", tuple((x, y + TOP) for x, y in moved.points))
    cx, cy, rx, ry = moved.ellipse
    return Shape("ellipse", ellipse=(cx, cy + TOP, rx, ry))


def shade(value: float, lo: float = 0.0, hi: float = 1.0) -> tuple[int, int, int]:
    """The ramp's colour of ``value`` on the scale [lo, hi] (clipped)."""
    t = 0.0 if hi <= lo else min(1.0, max(0.0, (float(value) - lo) / (hi - lo)))
    for (t0, c0), (t1, c1) in zip(_RAMP, _RAMP[1:]):
        if t <= t1:
            w = (t - t0) / (t1 - t0)
            return tuple(round(a + w * (b - a)) for a, b in zip(c0, c1))  # type: ignore[return-value]
    return _RAMP[-1][1]


def _hex(c: tuple[int, int, int]) -> str:
    return "#" + "".join(f"{v:02x}" for v in c)


def _values(values) -> list[float | None]:
    """A mapping muscle id -> value, or a sequence of 20 in label order -> 20 values (None where
    absent or not a finite number)."""
    if isinstance(values, Mapping):
        unknown = sorted(set(values) - set(MUSCLE_IDS))
        if unknown:
            raise ValueError(f"Unknown muscle ids for the body map: {', '.join(unknown[:5])}; "
                             f"the ids are {', '.join(MUSCLE_IDS)}")
        seq = [values.get(m) for m in MUSCLE_IDS]
    else:
        seq = list(values)
        if len(seq) != len(MUSCLE_IDS):
            raise ValueError(f"Expected {len(MUSCLE_IDS)} values for the body map (one per "
                             f"muscle group in label order), but got {len(seq)}")
    out: list[float | None] = []
    for v in seq:
        try:
            f = None if v is None else float(v)
        except (TypeError, ValueError):
            f = None
        out.append(f if f is not None and math.isfinite(f) else None)
    return out


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "not scored"
    return f"{v:.1f}{unit}" if unit == "%" else f"{v:.2f}"


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def body_map_svg(values: Mapping[str, float | None] | Sequence[float | None], *,
                 title: str = "", lo: float = 0.0, hi: float = 1.0, unit: str = "",
                 css_class: str = "bodymap") -> str:
    """SVG markup of the body map. ``values``: muscle id -> value, or 20 values in label order;
    shaded on the scale [lo, hi]; ``unit`` "%" prints values as percentages in the tooltips and
    the legend. All text is escaped."""
    vals = _values(values)
    by_id = dict(zip(MUSCLE_IDS, vals))
    label = title or "Muscle groups shaded by value"
    out = [f'<svg class="{escape(css_class)}" xmlns="http://www.w3.org/2000/svg" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
           f'aria-label="{escape(label)}">', f"<title>{escape(label)}</title>"]
    if title:
        out.append(f'<text x="{WIDTH / 2:.0f}" y="20" text-anchor="middle" font-size="14" '
                   f'font-family="sans-serif">{escape(title)}</text>')
    base = f'fill="{_hex(SKIN)}" stroke="{_hex(OUTLINE)}" stroke-width="1"'
    for _, _, dx in VIEWS:
        out.append(f'<g class="silhouette" {base}>')
        out += [_svg_shape(_place(s, dx)) for s in SILHOUETTE]
        out.append("</g>")
    for muscle, shapes in regions().items():
        v = by_id[muscle]
        fill = _hex(MISSING if v is None else shade(v, lo, hi))
        name = MUSCLES[MUSCLE_IDS.index(muscle)].name
        out.append(f'<g class="muscle" data-muscle="{muscle}" fill="{fill}" stroke="#555555" '
                   f'stroke-width="0.6"><title>{escape(name)}: {_fmt(v, unit)}</title>')
        out += [_svg_shape(s) for _, s in shapes]
        out.append("</g>")
    for view, _, dx in VIEWS:
        out.append(f'<text x="{dx + FIGURE_W / 2:.0f}" y="{TOP + FIGURE_H + 16}" '
                   f'text-anchor="middle" font-size="12" font-family="sans-serif" '
                   f'fill="#444444">{view}</text>')
    out.append(_svg_legend(lo, hi, unit))
    out.append("</svg>")
    return "\n".join(out)


def _svg_shape(s: Shape) -> str:
    if s.kind == "ellipse":
        cx, cy, rx, ry = s.ellipse
        return f'<ellipse cx="{_n(cx)}" cy="{_n(cy)}" rx="{_n(rx)}" ry="{_n(ry)}"/>'
    return '<polygon points="' + " ".join(f"{_n(x)},{_n(y)}" for x, y in s.points) + '"/>'


LEGEND_STEPS = 10


def _legend_boxes(lo: float, hi: float) -> list[tuple[float, float, float, float, tuple]]:
    """(x, y, w, h, colour) of the legend's steps, low to high."""
    w, h = 18.0, 10.0
    x0 = (WIDTH - LEGEND_STEPS * w) / 2 - 40  # room for "not scored" on the right
    y = TOP + FIGURE_H + 28
    return [(x0 + k * w, y, w, h, shade(lo + (k + 0.5) / LEGEND_STEPS * (hi - lo), lo, hi))
            for k in range(LEGEND_STEPS)]


def _scale_text(v: float, unit: str) -> str:
    return f"{v:g}{unit}"


def _svg_legend(lo: float, hi: float, unit: str) -> str:
    boxes = _legend_boxes(lo, hi)
    out = ['<g class="legend">']
    out += [f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
            f'fill="{_hex(c)}"/>' for x, y, w, h, c in boxes]
    x0, y, _, h, _ = boxes[0]
    x1 = boxes[-1][0] + boxes[-1][2]
    text = 'font-size="11" font-family="sans-serif" fill="#444444"'
    out.append(f'<text x="{_n(x0 - 6)}" y="{_n(y + h - 1)}" text-anchor="end" {text}>'
               f'{escape(_scale_text(lo, unit))}</text>')
    out.append(f'<text x="{_n(x1 + 6)}" y="{_n(y + h - 1)}" {text}>'
               f'{escape(_scale_text(hi, unit))}</text>')
    out.append(f'<rect x="{_n(x1 + 48)}" y="{_n(y)}" width="10" height="{_n(h)}" '
               f'fill="{_hex(MISSING)}"/><text x="{_n(x1 + 62)}" y="{_n(y + h - 1)}" {text}>'
               f'not scored</text>')
    out.append("</g>")
    return "".join(out)


def body_map_png(values: Mapping[str, float | None] | Sequence[float | None], path, *,
                 title: str = "", lo: float = 0.0, hi: float = 1.0, unit: str = "",
                 scale: int = 2) -> Path:
    """Write the body map as a PNG (Pillow draws the same shapes as the SVG, ``scale`` pixels per
    unit). Pillow comes with the ``baselines`` extra."""
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as exc:
        from .errors import MissingExtra

        raise MissingExtra("A PNG body map needs Pillow; install it with pip install "
                           "'amge-eval[baselines]', or write an .svg picture", code="E830") from exc
    from .fileio import write_bytes_atomic

    vals = dict(zip(MUSCLE_IDS, _values(values)))
    img = Image.new("RGB", (WIDTH * scale, HEIGHT * scale), (255, 255, 255))
    draw = ImageDraw.Draw(img)

    def paint(s: Shape, fill, outline, width: int = 1) -> None:
        if s.kind == "ellipse":
            cx, cy, rx, ry = s.ellipse
            draw.ellipse([(cx - rx) * scale, (cy - ry) * scale, (cx + rx) * scale,
                          (cy + ry) * scale], fill=fill, outline=outline, width=width)
        else:
            draw.polygon([(x * scale, y * scale) for x, y in s.points], fill=fill,
                         outline=outline, width=width)

    for _, _, dx in VIEWS:
        for s in SILHOUETTE:
            paint(_place(s, dx), SKIN, OUTLINE)
    for muscle, shapes in regions().items():
        v = vals[muscle]
        for _, s in shapes:
            paint(s, MISSING if v is None else shade(v, lo, hi), (85, 85, 85))
    font = ImageFont.load_default(size=11 * scale)
    if title:
        draw.text((WIDTH * scale / 2, 12 * scale), title, fill=(0, 0, 0), font=font, anchor="mm")
    for view, _, dx in VIEWS:
        draw.text(((dx + FIGURE_W / 2) * scale, (TOP + FIGURE_H + 12) * scale), view,
                  fill=(68, 68, 68), font=font, anchor="mm")
    boxes = _legend_boxes(lo, hi)
    for x, y, w, h, c in boxes:
        draw.rectangle([x * scale, y * scale, (x + w) * scale - 1, (y + h) * scale - 1], fill=c)
    x0, y, _, h, _ = boxes[0]
    x1 = boxes[-1][0] + boxes[-1][2]
    draw.text(((x0 - 6) * scale, (y + h / 2) * scale), _scale_text(lo, unit), fill=(68, 68, 68),
              font=font, anchor="rm")
    draw.text(((x1 + 6) * scale, (y + h / 2) * scale), _scale_text(hi, unit), fill=(68, 68, 68),
              font=font, anchor="lm")
    draw.rectangle([(x1 + 48) * scale, y * scale, (x1 + 58) * scale, (y + h) * scale],
                   fill=MISSING)
    draw.text(((x1 + 62) * scale, (y + h / 2) * scale), "not scored", fill=(68, 68, 68),
              font=font, anchor="lm")
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return write_bytes_atomic(path, buf.getvalue())


def write_body_map(values, path, **kwargs) -> Path:
    """Write the picture to ``path``: SVG for ``.svg``, PNG for ``.png`` (E601 otherwise)."""
    from .fileio import write_text_atomic

    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".svg":
        return write_text_atomic(p, body_map_svg(values, **kwargs) + "\n")
    if suffix == ".png":
        return body_map_png(values, p, **kwargs)
    raise AmgeError(f"The picture {p} must end in .svg or .png, not {suffix or 'no suffix'!r}",
                    code="E601")
