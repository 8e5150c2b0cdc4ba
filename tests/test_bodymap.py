"""The body map: every muscle group drawn, shading monotone in the value, the SVG well-formed,
and the PNG painting the same colours at the same places."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amge_eval.harness.bodymap import (
    HEIGHT,
    MISSING,
    WIDTH,
    body_map_png,
    body_map_svg,
    regions,
    shade,
    write_body_map,
)
from amge_eval.harness.muscles import MUSCLE_IDS, MUSCLES

SVG = "{http://www.w3.org/2000/svg}"


def luminance(c) -> float:
    r, g, b = c
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _hex(text: str) -> tuple[int, int, int]:
    return tuple(int(text[i:i + 2], 16) for i in (1, 3, 5))


def _groups(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {g.get("data-muscle"): g for g in root.iter(f"{SVG}g") if g.get("data-muscle")}


def test_every_muscle_group_has_a_region_in_label_order():
    r = regions()
    assert list(r) == list(MUSCLE_IDS)
    assert all(r[m] for m in MUSCLE_IDS)
    groups = _groups(body_map_svg([0.5] * 20))
    assert list(groups) == list(MUSCLE_IDS)
    for m in MUSCLES:
        g = groups[m.id]
        assert len(list(g.iter(f"{SVG}polygon"))) + len(list(g.iter(f"{SVG}ellipse"))) == \
            len(r[m.id])
        assert g.find(f"{SVG}title").text.startswith(m.name + ":")
    # muscles seen from one side only are on that side: biceps in front, triceps at the back
    assert {v for v, _ in r["biceps"]} == {"front"} and {v for v, _ in r["triceps"]} == {"back"}


@given(st.floats(0, 1), st.floats(0, 1))
def test_shading_is_strictly_monotone_in_the_value(a, b):
    if abs(a - b) < 1e-3:
        return
    lo, hi = sorted((a, b))
    assert luminance(shade(hi)) < luminance(shade(lo))


def test_svg_colours_follow_the_values_and_the_scale():
    values = np.linspace(0, 1, 20)
    groups = _groups(body_map_svg(values))
    lum = [luminance(_hex(groups[m].get("fill"))) for m in MUSCLE_IDS]
    assert all(x > y for x, y in zip(lum, lum[1:]))
    # the same picture on a 0-100 scale (AP in %) gives the same colours
    pct = _groups(body_map_svg(values * 100, lo=0, hi=100, unit="%"))
    assert [g.get("fill") for g in pct.values()] == [g.get("fill") for g in groups.values()]
    assert pct["chest"].find(f"{SVG}title").text == f"chest: {values[1] * 100:.1f}%"


def test_missing_values_are_grey_and_text_is_escaped():
    svg = body_map_svg({"chest": 0.9, "wrists": float("nan")}, title='<b>"x" & y</b>')
    root = ET.fromstring(svg)  # well-formed although the title holds markup characters
    assert root.find(f"{SVG}title").text == '<b>"x" & y</b>'
    groups = _groups(svg)
    grey = "#" + "".join(f"{v:02x}" for v in MISSING)
    assert groups["wrists"].get("fill") == grey and groups["biceps"].get("fill") == grey
    assert groups["chest"].get("fill") != grey
    assert "not scored" in groups["wrists"].find(f"{SVG}title").text
    with pytest.raises(ValueError, match="Unknown muscle ids"):
        body_map_svg({"pecs": 1.0})
    with pytest.raises(ValueError, match="Expected 20 values"):
        body_map_svg([0.1] * 19)


def test_png_paints_each_region_in_its_colour(tmp_path):
    from PIL import Image

    values = np.linspace(0, 1, 20)
    path = body_map_png(values, tmp_path / "map.png", scale=2)
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (HEIGHT * 2, WIDTH * 2, 3)
    r = regions()
    for m in MUSCLES:
        want = np.array(shade(values[m.index]))
        # the centre of the muscle's largest region (later, overlapping shapes aside)
        _, shape = max(r[m.id], key=lambda vs: _area(vs[1]))
        x, y = shape.centre()
        got = img[int(round(y * 2)), int(round(x * 2))]
        assert np.abs(got.astype(int) - want).max() <= 2, (m.id, got, want)


def _area(shape) -> float:
    if shape.kind == "ellipse":
        return np.pi * shape.ellipse[2] * shape.ellipse[3]
    x, y = np.array(shape.points).T
    return 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))


def test_write_body_map_picks_the_format_by_suffix(tmp_path):
    from amge_eval.harness.errors import AmgeError

    svg = write_body_map([0.3] * 20, tmp_path / "a.svg")
    assert svg.read_text().lstrip().startswith("<svg")
    png = write_body_map([0.3] * 20, tmp_path / "a.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(AmgeError) as err:
        write_body_map([0.3] * 20, tmp_path / "a.jpg")
    assert err.value.code == "E601"
