"""The static site and the exports, built from a fixture store: contents, escaping, privacy,
self-containment, ordering, and the safety of the output folder."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.harness.errors import AmgeError
from amge_eval.leaderboard import export as ex
from amge_eval.leaderboard import plots
from amge_eval.leaderboard.entries import EntryInvalid
from amge_eval.leaderboard.site import _safe_url, build_site
from amge_eval.leaderboard.store import load_store

from .conftest import DATASET, tree_digest
from .leaderboard_helpers import HOSTILE_NAME, HOSTILE_NOTES, all_files, build_fixture


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_fixture(tmp_path_factory.mktemp("site-fixture"))


class Page(HTMLParser):
    """Tags, attributes and decoded text of one HTML page."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.raw: dict[str, list[str]] = {"style": [], "script": []}
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in self.raw:
            self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in:
            self.raw[self._in].append(data)
        else:
            self.text.append(data)

    def all(self, tag):
        return [a for t, a in self.tags if t == tag]


def _pages(site: Path) -> list[Path]:
    return [p for p in all_files(site) if p.suffix == ".html"]


def _board_page(fx) -> Page:
    return Page((fx.site / DATASET / "index.html").read_text())


def _rows(page: Page) -> list[dict]:
    return [a for a in page.all("tr") if "data-order" in a]


# --------------------------------------------------------------------------- contents

def test_every_entry_and_dataset_has_a_page_and_exports_sit_next_to_the_site(fx):
    entries = load_store(fx.subs)[DATASET]
    assert len(entries) == 16 + 4
    for e in entries:
        assert (fx.site / DATASET / f"{e.slug}.html").is_file()
    for name in ("index.html", "leaderboard.csv", "leaderboard.json", "leaderboard.md",
                 "leaderboard.tex", ".amge-site", f"{DATASET}/index.html"):
        assert (fx.site / name).is_file(), name


def test_no_label_store_sample_id_appears_anywhere_in_the_site(fx):
    ids = [sid for ls in fx.store.labels.values() for sid in ls.sample_ids.tolist()]
    assert len(ids) > 300
    # The run record of ST-GCN lists two of them as skipped; the site only counts them.
    run = json.loads((fx.subs / DATASET / "st-gcn" / "run.json").read_text())
    assert run["skipped_samples"]["train"][0]["sample_id"] in ids
    for path in all_files(fx.site):
        text = path.read_bytes().decode("utf-8")
        leaked = [sid for sid in ids if sid in text]
        assert not leaked, (path, leaked[:3])
    page = (fx.site / DATASET / "st-gcn.html").read_text()
    assert "2 (ids not shown)" in page
    assert "last.pt" not in page  # the checkpoint is not provenance


def test_hostile_metadata_renders_as_text(fx):
    slug = next(e.slug for e in load_store(fx.subs)[DATASET] if e.name == HOSTILE_NAME)
    for path in (fx.site / DATASET / f"{slug}.html", fx.site / DATASET / "index.html"):
        html = path.read_text()
        page = Page(html)
        assert len(page.all("script")) == 1 and not page.all("img") and not page.all("i")
        assert not [a for _, a in page.tags for k in a if k.startswith("on")]
        assert "<script>alert" not in html and "&lt;script&gt;alert(" in html
        text = "".join(page.text)
        assert HOSTILE_NAME in text  # decoded back, the name is exactly what was submitted
    entry = Page((fx.site / DATASET / f"{slug}.html").read_text())
    text = "".join(entry.text)
    assert HOSTILE_NOTES in text and 'Mr "Quote" O\'Neil, <b>bold</b>' in text
    links = [a["href"] for a in entry.all("a") if a.get("href", "").startswith("https://")]
    assert links == ["https://example.org/code?a=1&b=2"]


def test_only_http_links_are_ever_links():
    assert _safe_url("https://a.org/x") == "https://a.org/x"
    for bad in ("javascript:alert(1)", "data:text/html,x", " https://a", "//a.org", None, 3):
        assert _safe_url(bad) is None


def test_pages_carry_a_csp_that_matches_their_inline_style_and_script(fx):
    for path in _pages(fx.site):
        page = Page(path.read_text())
        csp = next(a["content"] for a in page.all("meta")
                   if a.get("http-equiv") == "Content-Security-Policy")
        assert csp.startswith("default-src 'none';")
        for kind, directive in (("style", "style-src"), ("script", "script-src")):
            (body,) = page.raw[kind]
            digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
            assert f"{directive} 'sha256-{digest}'" in csp, (path, kind)


def test_pages_are_self_contained(fx):
    for path in _pages(fx.site):
        html = path.read_text()
        page = Page(html)
        assert not page.all("link") and not page.all("iframe") and not page.all("img")
        assert not [a for _, a in page.tags if "src" in a], path
        assert "url(" not in "".join(page.raw["style"]) and "@import" not in html
        for a in page.all("a"):
            href = a["href"]
            if href.startswith(("https://", "http://")):
                continue  # links from entry metadata: followed only when clicked
            target = (path.parent / href).resolve()
            assert target.is_file() and fx.site.resolve() in target.parents, (path, href)


def test_board_is_in_rank_order_with_a_status_on_every_row(fx):
    page = _board_page(fx)
    rows = _rows(page)
    assert len(rows) == 20
    test_a = [float(r["data-test_a"]) for r in rows]
    assert test_a == sorted(test_a, reverse=True)
    ranks = [int(r["data-rank"]) for r in rows]
    for i, r in enumerate(ranks):  # competition ranking on test_a to one decimal
        assert r == 1 + sum(1 for v in test_a if round(v, 1) > round(test_a[i], 1))
    html = (fx.site / DATASET / "index.html").read_text()
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    for tr in body.split("<tr ")[1:]:
        assert len(re.findall(r'class="badge status-(reported|reproduced|verified)"', tr)) == 1


def test_only_the_inconsistent_reported_row_carries_a_warning(fx):
    html = (fx.site / DATASET / "index.html").read_text()
    body = html[html.index("<tbody>"):html.index("</tbody>")]
    flagged = [tr for tr in body.split("<tr ")[1:] if 'class="badge warn"' in tr]
    assert len(flagged) == 1 and 'data-name="MViTv2-S"' in flagged[0]
    assert "is not the mean of val_s and val_u" in flagged[0]


def test_tie_marks(fx):
    marks, current = {}, None
    page = _board_page(fx)
    for tag, a in page.tags:
        if tag == "tr" and "data-order" in a:
            current = a
        elif tag == "span" and a.get("class", "").startswith("tie "):
            key = (current["data-name"], current["data-status"])
            marks[key] = a["class"].split("tie-")[1]
    assert len(marks) == 20  # ST-GCN twice: reported and reproduced
    assert marks[("Weak model", "verified")] == "behind"
    assert list(marks.values()).count("leader") == 1
    assert all(m == "untestable" for (_, status), m in marks.items() if status == "reported")
    ties = json.loads((fx.subs / DATASET / "ties.json").read_text())
    assert len(ties["entries"]) == 3
    for e in load_store(fx.subs)[DATASET]:
        if e.slug in ties["entries"]:
            want = "tied" if ties["entries"][e.slug]["tied"] else "behind"
            assert marks[(e.name, e.status)] == want


def test_build_is_deterministic(fx, tmp_path):
    again = tmp_path / "again"
    build_site(fx.subs, again)
    assert [p.relative_to(again) for p in all_files(again)] == \
        [p.relative_to(fx.site) for p in all_files(fx.site)]
    for p in all_files(again):
        assert p.read_bytes() == (fx.site / p.relative_to(again)).read_bytes(), p


# --------------------------------------------------------------------------- output folder

def test_a_foreign_folder_is_never_replaced(fx, tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    before = tree_digest(mine)
    with pytest.raises(AmgeError) as err:
        build_site(fx.subs, mine)
    assert err.value.code == "E913" and tree_digest(mine) == before


def test_a_failed_build_leaves_the_previous_site(fx, tmp_path):
    subs = tmp_path / "subs"
    shutil.copytree(fx.subs, subs)
    site = tmp_path / "site"
    build_site(subs, site)
    before = tree_digest(site)
    bad = subs / DATASET / "paper-v1-random" / "entry.toml"
    bad.write_text(bad.read_text().replace('"statistical"', '"stats"'))
    with pytest.raises(EntryInvalid):
        build_site(subs, site)
    assert tree_digest(site) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------- exports

def test_csv_and_json_exports_agree(fx):
    rows = list(csv.DictReader(io.StringIO((fx.site / "leaderboard.csv").read_text())))
    doc = json.loads((fx.site / "leaderboard.json").read_text())
    jrows = [r for d in doc["datasets"] for r in d["rows"]]
    assert [r["entry"] for r in rows] == [r["entry"] for r in jrows]
    for c, j in zip(rows, jrows):
        assert c["name"] == ex.csv_safe(j["name"]) and c["status"] == j["status"]
        for k in ("val_s", "test_u", "test_a", "test_gap"):
            assert float(c[k]) == pytest.approx(j["values"][k], abs=0.006)
    assert ex.export(fx.subs, "csv") == (fx.site / "leaderboard.csv").read_text()


def test_entry_pages_show_unseen_activities_worst_first(fx):
    page = (fx.site / DATASET / "weak-model.html").read_text()
    assert "Unseen activities, worst first" in page
    rec = next(e for e in load_store(fx.subs)[DATASET] if e.slug == "weak-model").record
    names = [a.activity for a in rec.splits["test_unseen"].per_activity]
    table = page[page.index("<thead><tr><th>test unseen</th>"):]
    table = table[:table.index("</table>")]
    assert [table.index(f">{n}<") for n in names] == sorted(table.index(f">{n}<") for n in names)


def test_csv_cells_never_start_a_spreadsheet_formula(fx):
    # The hostile name starts with "=HYPERLINK(": in a spreadsheet that would be a live link.
    rows = list(csv.DictReader(io.StringIO(ex.export(fx.subs, "csv"))))
    text_cols = ("dataset", "entry", "name", "status", "family", "modalities_test", "tie",
                 "warnings")
    cells = [r[c] for r in rows for c in text_cols]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
    assert "'" + HOSTILE_NAME in [r["name"] for r in rows]
    assert any(r["test_gap"].startswith("-") or r["test_gap"] for r in rows)  # numbers untouched


def test_latex_table_bolds_the_best_of_each_column(fx):
    tex = ex.export(fx.subs, "latex", datasets=[DATASET])
    assert "\\toprule" in tex and "\\midrule" in tex and "\\bottomrule" in tex
    assert "<script>" not in tex and "\\textless{}script\\textgreater{}" in tex
    body = tex[tex.index("\\midrule") + 8:tex.index("\\bottomrule")].strip().splitlines()
    cells = [line.rstrip(" \\").split(" & ")[2:] for line in body]
    doc = json.loads(ex.export(fx.subs, "json"))
    values = [r["values"] for r in doc["datasets"][0]["rows"]]
    for j, k in enumerate(("val_s", "val_u", "val_a", "test_s", "test_u", "test_a")):
        best = max(round(v[k], 1) for v in values)
        bold = [i for i, row in enumerate(cells) if row[j].startswith("\\textbf{")]
        assert bold == [i for i, v in enumerate(values) if round(v[k], 1) == best], k


def test_markdown_keeps_one_cell_per_column(fx):
    md = ex.export(fx.subs, "md")
    lines = [line for line in md.splitlines() if line.startswith("|")]
    widths = {len(re.findall(r"(?<!\\)\|", line)) for line in lines}
    assert widths == {13}  # 12 columns, whatever the names hold
    assert "<script>" not in md


def test_unknown_export_format_is_refused(fx):
    with pytest.raises(AmgeError, match="choose one of csv, json, md, latex"):
        ex.export(fx.subs, "xlsx")
    with pytest.raises(AmgeError, match="No entries for dataset 'nope'"):
        ex.export(fx.subs, "csv", datasets=["nope"])


# --------------------------------------------------------------------------- plots

_label = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40)


@given(st.lists(st.tuples(_label, st.floats(0, 100), st.floats(0, 100),
                          st.sampled_from(sorted(plots.FAMILY_COLOURS)), st.booleans()),
                max_size=12))
@settings(max_examples=60, deadline=None)
def test_scatter_is_well_formed_svg_with_labels_as_text(points):
    pts = [plots.Point(lab, x, y, g, hollow=h, href=f"{i}.html", emphasise=i < 5)
           for i, (lab, x, y, g, h) in enumerate(points)]
    root = ET.fromstring(plots.scatter_svg(pts, "t <&>", "x", "y"))
    titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}title")]
    for p in pts:
        assert any(t and t.startswith(p.label + ":") for t in titles)


@given(st.lists(st.lists(st.one_of(st.none(), st.floats(0, 100)), min_size=3, max_size=3),
                min_size=1, max_size=5), _label)
@settings(max_examples=60, deadline=None)
def test_heatmap_and_bars_are_well_formed_svg(values, label):
    rows = [f"{label}{i}" for i in range(len(values))]
    root = ET.fromstring(plots.heatmap_svg(rows, ["a", "b", "c"], values, label))
    rects = [r for r in root.iter("{http://www.w3.org/2000/svg}rect")
             if r.get("class") == "cell-missing"]
    assert len(rects) == sum(v is None for row in values for v in row) + 1  # + legend swatch
    ET.fromstring(plots.bar_chart_svg(["a", "b", "c"], {label: values[0]}, label))


def test_ramp_runs_from_dark_to_light():
    lum = [sum(int(plots.ramp(v)[i:i + 2], 16) for i in (1, 3, 5)) for v in range(0, 101, 10)]
    assert lum == sorted(lum) and plots.ramp(-5) == plots.ramp(0) and plots.ramp(200) == "#fde725"


def test_entry_pages_draw_per_muscle_ap_on_the_body_map(fx):
    import xml.etree.ElementTree as ET

    from amge_eval.harness.bodymap import MISSING, shade
    from amge_eval.harness.muscles import MUSCLE_IDS

    page = (fx.site / DATASET / "weak-model.html").read_text()
    rec = next(e for e in load_store(fx.subs)[DATASET] if e.slug == "weak-model").record
    start = page.index('<svg class="bodymap"')
    svg = page[start:page.index("</svg>", start) + len("</svg>")]
    groups = {g.get("data-muscle"): g for g in ET.fromstring(svg).iter()
              if g.get("data-muscle")}
    assert list(groups) == list(MUSCLE_IDS)
    for m, muscle in zip(rec.splits["test_seen"].per_muscle, MUSCLE_IDS):
        want = MISSING if m.ap is None else shade(m.ap, 0.0, 100.0)
        assert groups[muscle].get("fill") == "#" + "".join(f"{v:02x}" for v in want)
    reported = next(e for e in load_store(fx.subs)[DATASET] if e.status == "reported")
    assert 'class="bodymap"' not in (fx.site / DATASET / f"{reported.slug}.html").read_text()
