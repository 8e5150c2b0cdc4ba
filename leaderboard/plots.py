"""Plots as inline SVG, drawn at build time: no script, no network, readable with JavaScript off.

Every function returns SVG markup as a string; every piece of text that reaches it (entry
names, links) is escaped here, because the caller marks the result safe for the templates.
Colours: the Okabe-Ito palette (safe for the common colour-vision deficiencies) for categories,
and a viridis-like ramp for AP values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

FAMILY_COLOURS: dict[str, str] = {"statistical": "#8c8c8c", "skeleton": "#E69F00",
                                  "video": "#0072B2", "multimodal": "#009E73", "other": "#CC79A7"}
SERIES_COLOURS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7")
# Viridis at five points; AP values are interpolated between them.
_RAMP = ((0.0, (68, 1, 84)), (0.25, (59, 82, 139)), (0.5, (33, 145, 140)),
         (0.75, (94, 201, 98)), (1.0, (253, 231, 37)))


def _e(text) -> str:
    return escape(str(text), quote=True)


def _f(x: float) -> str:
    """Coordinates with two decimals: small files, and byte-identical rebuilds."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def ramp(value: float, lo: float = 0.0, hi: float = 100.0) -> str:
    t = 0.0 if hi <= lo else min(1.0, max(0.0, (value - lo) / (hi - lo)))
    for (t0, c0), (t1, c1) in zip(_RAMP, _RAMP[1:]):
        if t <= t1:
            w = (t - t0) / (t1 - t0)
            return "#" + "".join(f"{round(a + w * (b - a)):02x}" for a, b in zip(c0, c1))
    return "#fde725"


def _dark(colour: str) -> bool:
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b < 140


def _ticks(lo: float, hi: float, step: float) -> list[float]:
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step + 1e-9) + 1)]


@dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    group: str  # family: picks the colour
    hollow: bool = False  # reported rows (not re-scored) are drawn hollow
    href: str | None = None
    emphasise: bool = False  # write the label next to the point


def scatter_svg(points: list[Point], title: str, x_label: str, y_label: str,
                width: int = 720, height: int = 500) -> str:
    """Seen-vs-unseen scatter with the y = x line (no generalisation gap) and a legend."""
    ml, mr, mt, mb = 56, 24, 34, 70
    pw, ph = width - ml - mr, height - mt - mb
    vals = [v for p in points for v in (p.x, p.y)]
    lo = max(0.0, math.floor((min(vals) if vals else 0.0) / 10) * 10 - (10 if vals else 0))
    lo = min(lo, 90.0)
    hi = 100.0

    def sx(v):
        return ml + (v - lo) / (hi - lo) * pw

    def sy(v):
        return mt + ph - (v - lo) / (hi - lo) * ph

    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>",
           f'<text class="plot-title" x="{ml}" y="20">{_e(title)}</text>']
    step = 10 if hi - lo > 30 else 5
    for t in _ticks(lo, hi, step):
        out.append(f'<line class="grid" x1="{_f(sx(t))}" y1="{mt}" x2="{_f(sx(t))}" '
                   f'y2="{mt + ph}"/><line class="grid" x1="{ml}" y1="{_f(sy(t))}" '
                   f'x2="{ml + pw}" y2="{_f(sy(t))}"/>')
        out.append(f'<text class="tick" x="{_f(sx(t))}" y="{mt + ph + 16}" '
                   f'text-anchor="middle">{t:g}</text>')
        out.append(f'<text class="tick" x="{ml - 6}" y="{_f(sy(t) + 4)}" '
                   f'text-anchor="end">{t:g}</text>')
    out.append(f'<rect class="frame" x="{ml}" y="{mt}" width="{pw}" height="{ph}"/>')
    out.append(f'<line class="diagonal" x1="{_f(sx(lo))}" y1="{_f(sy(lo))}" x2="{_f(sx(hi))}" '
               f'y2="{_f(sy(hi))}"><title>y = x: no gap between seen and unseen</title></line>')
    out.append(f'<text class="axis-label" x="{ml + pw / 2:.0f}" y="{mt + ph + 36}" '
               f'text-anchor="middle">{_e(x_label)}</text>')
    out.append(f'<text class="axis-label" transform="translate(16 {mt + ph / 2:.0f}) rotate(-90)" '
               f'text-anchor="middle">{_e(y_label)}</text>')
    placed: list[tuple[float, float]] = []
    for p in points:
        colour = FAMILY_COLOURS.get(p.group, FAMILY_COLOURS["other"])
        fill = "#ffffff" if p.hollow else colour
        tip = f"{p.label}: {x_label} {p.x:.1f}, {y_label} {p.y:.1f}"
        dot = (f'<circle cx="{_f(sx(p.x))}" cy="{_f(sy(p.y))}" r="5" fill="{fill}" '
               f'stroke="{colour}" stroke-width="2"><title>{_e(tip)}</title></circle>')
        if p.emphasise:
            # Labels of points in the right third go to their left, to stay inside the frame;
            # a label that would overprint an earlier one moves down a line.
            left = sx(p.x) > ml + 0.66 * pw
            lx, ly = sx(p.x) + (-8 if left else 8), sy(p.y) + 4
            while any(abs(ly - y) < 12 and abs(lx - x) < 90 for x, y in placed):
                ly += 12
            placed.append((lx, ly))
            dot += (f'<text class="point-label" x="{_f(lx)}" y="{_f(ly)}" '
                    f'text-anchor="{"end" if left else "start"}">{_e(p.label[:28])}</text>')
        out.append(f'<a href="{_e(p.href)}">{dot}</a>' if p.href else dot)
    # Legend in one row under the axis label, so that point labels never run into it.
    entries = [(FAMILY_COLOURS[g], FAMILY_COLOURS[g], g) for g in FAMILY_COLOURS
               if any(p.group == g for p in points)]
    entries += [("#ffffff", "#555555", "reported (paper)"), ("#555555", "#555555", "scored here")]
    x, y = ml, height - 12
    for fill, stroke, text in entries:
        out.append(f'<circle cx="{x + 5}" cy="{y - 4}" r="5" fill="{fill}" stroke="{stroke}" '
                   f'stroke-width="2"/><text class="legend" x="{x + 14}" y="{y}">{_e(text)}</text>')
        x += 26 + 6.5 * len(text)
    out.append("</svg>")
    return "".join(out)


def heatmap_svg(row_labels: list[str], col_labels: list[str],
                values: list[list[float | None]], title: str,
                row_links: list[str | None] | None = None, cell: int = 30) -> str:
    """A rows x columns grid of AP (%) coloured on a fixed 0-100 ramp; None = not scored."""
    ml = 12 + 7 * min(32, max((len(r) for r in row_labels), default=4))
    mt, mr, mb = 120, 20, 56
    width = ml + cell * len(col_labels) + mr
    height = mt + cell * len(row_labels) + mb
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>",
           f'<text class="plot-title" x="8" y="20">{_e(title)}</text>']
    for j, c in enumerate(col_labels):
        x = ml + j * cell + cell / 2
        out.append(f'<text class="tick" transform="translate({_f(x + 4)} {mt - 6}) rotate(-55)">'
                   f'{_e(c)}</text>')
    links = row_links or [None] * len(row_labels)
    for i, (r, href) in enumerate(zip(row_labels, links)):
        y = mt + i * cell
        label = f'<text class="tick" x="{ml - 6}" y="{y + cell / 2 + 4:.0f}" text-anchor="end">' \
                f'{_e(r[:32])}</text>'
        out.append(f'<a href="{_e(href)}">{label}</a>' if href else label)
        for j, v in enumerate(values[i]):
            x = ml + j * cell
            name = f"{r}, {col_labels[j]}: " + ("not scored (no positive)" if v is None
                                                 else f"AP {v:.1f}")
            if v is None:
                out.append(f'<rect class="cell-missing" x="{x}" y="{y}" width="{cell}" '
                           f'height="{cell}"><title>{_e(name)}</title></rect>')
                continue
            colour = ramp(v)
            ink = "#ffffff" if _dark(colour) else "#111111"
            out.append(f'<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{colour}" '
                       f'stroke="#ffffff"><title>{_e(name)}</title></rect>'
                       f'<text class="cell" x="{x + cell / 2:.0f}" y="{y + cell / 2 + 3:.0f}" '
                       f'text-anchor="middle" fill="{ink}">{v:.0f}</text>')
    # Colour bar.
    by = mt + cell * len(row_labels) + 22
    steps = 20
    bw = min(300, width - ml - mr)
    for k in range(steps):
        out.append(f'<rect x="{_f(ml + k * bw / steps)}" y="{by}" width="{_f(bw / steps + 0.5)}" '
                   f'height="10" fill="{ramp(100 * (k + 0.5) / steps)}"/>')
    out.append(f'<text class="tick" x="{ml}" y="{by + 24}">0</text>'
               f'<text class="tick" x="{ml + bw}" y="{by + 24}" text-anchor="end">100</text>'
               f'<text class="tick" x="{ml + bw / 2:.0f}" y="{by + 24}" text-anchor="middle">'
               f'AP (%)</text>'
               f'<rect class="cell-missing" x="{ml + bw + 20}" y="{by}" width="10" height="10"/>'
               f'<text class="tick" x="{ml + bw + 34}" y="{by + 9}">not scored</text>')
    out.append("</svg>")
    return "".join(out)


def bar_chart_svg(categories: list[str], series: dict[str, list[float | None]], title: str,
                  width: int = 640) -> str:
    """Horizontal grouped bars (one group per category, one bar per series), 0-100 scale."""
    ml, mr, mt = 132, 48, 46
    bar, gap = 11, 8
    n = max(1, len(series))
    group = n * bar + gap
    pw = width - ml - mr
    height = mt + group * len(categories) + 30
    out = [f'<svg class="plot" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{_e(title)}">',
           f"<title>{_e(title)}</title>",
           f'<text class="plot-title" x="8" y="18">{_e(title)}</text>']
    for k, name in enumerate(series):
        x = ml + 150 * k
        out.append(f'<rect x="{x}" y="28" width="10" height="10" '
                   f'fill="{SERIES_COLOURS[k % len(SERIES_COLOURS)]}"/>'
                   f'<text class="legend" x="{x + 14}" y="37">{_e(name)}</text>')
    for t in range(0, 101, 20):
        x = ml + t / 100 * pw
        out.append(f'<line class="grid" x1="{_f(x)}" y1="{mt - 4}" x2="{_f(x)}" '
                   f'y2="{mt + group * len(categories)}"/>'
                   f'<text class="tick" x="{_f(x)}" y="{mt + group * len(categories) + 16}" '
                   f'text-anchor="middle">{t}</text>')
    for i, c in enumerate(categories):
        y0 = mt + i * group
        out.append(f'<text class="tick" x="{ml - 6}" y="{y0 + n * bar / 2 + 4:.0f}" '
                   f'text-anchor="end">{_e(c)}</text>')
        for k, (name, vals) in enumerate(series.items()):
            v = vals[i]
            y = y0 + k * bar
            colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
            if v is None:
                out.append(f'<text class="tick" x="{ml + 4}" y="{y + bar - 1}">not scored '
                           f'<title>{_e(f"{c}, {name}: no positive in this split")}</title>'
                           f'</text>')
                continue
            w = max(0.0, min(100.0, v)) / 100 * pw
            out.append(f'<rect x="{ml}" y="{y}" width="{_f(w)}" height="{bar - 1}" '
                       f'fill="{colour}"><title>{_e(f"{c}, {name}: AP {v:.1f}")}</title></rect>'
                       f'<text class="bar-value" x="{_f(ml + w + 4)}" y="{y + bar - 1}">'
                       f'{v:.1f}</text>')
    out.append("</svg>")
    return "".join(out)
