"""Build the static leaderboard site from the submissions store.

Layout of the output folder::

    index.html                 the datasets, their leaders, the status legend, the exports
    <dataset>/index.html       the board: sortable table, filters, scatter plot, heatmaps
    <dataset>/<entry>.html     one entry: numbers, per-muscle AP and its body map, regions,
                               provenance, links
    leaderboard.{csv,json,md,tex}  the exports (export.py)
    .amge-site                 marks the folder as a site this module may replace

Pages are self-contained: CSS and JavaScript are inline, plots are inline SVG, no fonts or
images are fetched, and a Content-Security-Policy with the hashes of the inline style and
script forbids every network request (and any injected script). Tables and plots are plain
HTML/SVG, so everything reads with JavaScript off; the script only adds sorting and filters.

The site is built in a hidden sibling folder and renamed into place, so a failed build leaves
the previous site as it was.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import jinja2
from markupsafe import Markup

from amge_eval import __version__
from amge_eval.harness.bodymap import body_map_svg
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import make_dirs
from amge_eval.harness.muscles import MUSCLES, REGIONS
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.vocab import FAMILIES, STATUS_TEXT, STATUSES, SUMMARY_KEYS, TABLE_KEYS

from . import export as ex
from .plots import Point, bar_chart_svg, heatmap_svg, scatter_svg
from .store import Stores
from .table import HEADERS, TIE_LABEL, TIE_TEXT, Board, Row, load_boards

MARKER = ".amge-site"
TEMPLATES = Path(__file__).parent / "templates"
HEATMAP_ROWS = 30  # heatmaps show the best scored entries only; a 1,000-row heatmap reads as noise
SCATTER_LABELS = 5  # points labelled by name in the scatter plot
REGION_NAMES = {"head_neck": "head & neck", "arms": "arms", "trunk": "trunk", "legs": "legs"}
SPLIT_NAMES = {"val_seen": "val seen", "val_unseen": "val unseen", "test_seen": "test seen",
               "test_unseen": "test unseen"}


@dataclass
class SiteResult:
    out_dir: Path
    pages: int
    datasets: list[str]
    entries: int


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _pct(v, digits: int = 1) -> str:
    return "–" if v is None else f"{v:.{digits}f}"


def _interval(iv) -> str:
    return "" if not iv else f"[{iv[0]:.1f}, {iv[1]:.1f}]"


def _params(v) -> str:
    return "–" if v is None else (f"{v:.1f}" if v >= 0.05 or v == 0 else f"{v:.3f}")


def _safe_url(url) -> str | None:
    """Only http(s) links are ever rendered as links (entries are validated, this is a second
    line of defence against javascript: and data: URLs)."""
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(pct=_pct, interval=_interval, params=_params, safe_url=_safe_url)
    env.globals.update(status_text=STATUS_TEXT, tie_text=TIE_TEXT, tie_label=TIE_LABEL,
                       headers=HEADERS, keys=TABLE_KEYS,
                       version=__version__,
                       region_names=REGION_NAMES, split_names=SPLIT_NAMES)
    css = (TEMPLATES / "style.css").read_text(encoding="utf-8")
    js = (TEMPLATES / "board.js").read_text(encoding="utf-8")
    env.globals.update(css=Markup(css), js=Markup(js),
                       csp=Markup(f"default-src 'none'; style-src {_csp_hash(css)}; "
                                  f"script-src {_csp_hash(js)}; img-src data:; "
                                  f"base-uri 'none'; form-action 'none'"))
    return env


def _scatter(board: Board) -> str | None:
    rows = [r for r in board.rows if r.values["test_s"] is not None
            and r.values["test_u"] is not None]
    if not rows:
        return None
    top = {id(r) for r in rows[:SCATTER_LABELS]}
    pts = [Point(r.entry.name, r.values["test_s"], r.values["test_u"], r.entry.family,
                 hollow=not r.entry.has_predictions, href=f"{r.entry.slug}.html",
                 emphasise=id(r) in top) for r in rows]
    return scatter_svg(pts, f"{board.title}: seen vs unseen activities (test mAP, %)",
                       "test seen", "test unseen")


def _per_muscle(row: Row, split: str) -> list[float | None] | None:
    rec = row.entry.record
    s = rec.splits.get(split) if rec else None
    if s is None:
        return None
    return [m.ap if m.scored else None for m in s.per_muscle]


def _heatmaps(board: Board) -> list[str]:
    scored = [r for r in board.rows if r.entry.has_predictions][:HEATMAP_ROWS]
    out = []
    for split in ("test_seen", "test_unseen"):
        rows = [(r, _per_muscle(r, split)) for r in scored]
        rows = [(r, v) for r, v in rows if v is not None]
        if rows:
            out.append(heatmap_svg([r.entry.name for r, _ in rows], [m.name for m in MUSCLES],
                                   [v for _, v in rows],
                                   f"Per-muscle AP (%) on {SPLIT_NAMES[split]}",
                                   row_links=[f"{r.entry.slug}.html" for r, _ in rows]))
    return out


def _bars(row: Row) -> str | None:
    series = {}
    for split in ("test_seen", "test_unseen", "val_seen", "val_unseen"):
        v = _per_muscle(row, split)
        if v is not None and len(series) < 2 and split.startswith("test"):
            series[SPLIT_NAMES[split]] = v
    if not series:
        return None
    return bar_chart_svg([m.name for m in MUSCLES], series, "Per-muscle AP (%)")


def _body_maps(row: Row) -> list[str]:
    """Per-muscle AP of each test split drawn on the body map (harness/bodymap.py)."""
    out = []
    for split in ("test_seen", "test_unseen"):
        v = _per_muscle(row, split)
        if v is not None:
            out.append(body_map_svg(v, title=f"Per-muscle AP (%), {SPLIT_NAMES[split]}", lo=0.0,
                                    hi=100.0, unit="%"))
    return out


def _regions(row: Row) -> list[dict]:
    rec = row.entry.record
    if not rec:
        return []
    return [{"split": SPLIT_NAMES.get(split, split),
             "values": [s.regions.get(r) for r in REGIONS]}
            for split, s in rec.splits.items()]


def _activities(row: Row) -> list[dict]:
    """Per-activity AP of the unseen splits, worst first (records of schema 2.1 and later)."""
    rec = row.entry.record
    if not rec:
        return []
    return [{"split": SPLIT_NAMES.get(split, split),
             "rows": [(a.activity, a.n_samples, a.ap) for a in s.per_activity]}
            for split, s in rec.splits.items() if split.endswith("unseen") and s.per_activity]


# Run-record keys the site leaves out: file names inside the run folder, the checkpoint, and the
# training loss curve (long, and not provenance). The record itself stays complete in the store.
RUN_HIDDEN = {"predictions", "train.checkpoint", "train.losses"}


def _count_ids(v) -> int:
    if isinstance(v, dict):
        return sum(_count_ids(x) for x in v.values())
    return len(v) if isinstance(v, list) else 0


def _run_items(run: dict | None) -> list[tuple[str, str]]:
    """The run record flattened to (key, value) text pairs. Skipped samples are counted, never
    listed: their ids belong to the private label store."""
    if not run:
        return []
    out = []

    def walk(prefix, v):
        if prefix in RUN_HIDDEN:
            return
        if prefix == "skipped_samples":
            out.append((prefix, f"{_count_ids(v)} (ids not shown)"))
        elif isinstance(v, dict) and v:
            for k, x in v.items():
                walk(f"{prefix}.{k}", x)
        elif isinstance(v, list | dict):
            out.append((prefix, json.dumps(v, ensure_ascii=False)[:300]))
        else:
            out.append((prefix, "" if v is None else str(v)[:300]))

    for k, v in run.items():
        walk(str(k), v)
    return out


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise AmgeError(f"{out} is a file; give a folder for the site", code="E913")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise AmgeError(f"{out} is not empty and was not built by amge-eval; refusing to replace "
                        f"it. Choose a new or empty folder (e.g. --out site/)", code="E913")


def build_site(stores: Stores, out_dir: str | os.PathLike, *,
               title: str = "AMGE leaderboard",
               progress: Progress = NULL_PROGRESS) -> SiteResult:
    """Render every dataset's board, every entry page and the exports into ``out_dir``.

    ``out_dir`` must be new, empty, or a site this function built before (it is replaced as a
    whole). Raises EntryInvalid listing every broken entry before writing anything.
    """
    out = Path(out_dir)
    _check_out_dir(out)
    boards = load_boards(stores, progress=progress)
    env = _environment()
    env.globals["site_title"] = title
    n_entries = sum(len(b.rows) for b in boards)
    make_dirs(out.parent)
    tmp = make_dirs(out.parent / f".tmp-{out.name}-{secrets.token_hex(6)}")
    pages = 0
    try:
        progress.start("build site", total=n_entries + len(boards) + 1)
        page_entry = env.get_template("entry.html.j2")
        page_board = env.get_template("dataset.html.j2")
        _write(tmp / "index.html", env.get_template("index.html.j2").render(
            boards=boards, statuses=STATUSES, root="", formats=ex.SUFFIX))
        pages += 1
        progress.advance("build site")
        for b in boards:
            _write(tmp / b.dataset / "index.html", page_board.render(
                board=b, root="../", scatter=Markup(_scatter(b) or ""),
                heatmaps=[Markup(h) for h in _heatmaps(b)],
                families=[f for f in FAMILIES if f in b.families], statuses=STATUSES,
                has_scored=any(r.entry.has_predictions for r in b.rows),
                heatmap_rows=HEATMAP_ROWS))
            pages += 1
            progress.advance("build site")
            for r in b.rows:
                _write(tmp / b.dataset / f"{r.entry.slug}.html", page_entry.render(
                    board=b, row=r, e=r.entry, root="../", bars=Markup(_bars(r) or ""),
                    body_maps=[Markup(m) for m in _body_maps(r)],
                    regions=_regions(r), region_keys=REGIONS, activities=_activities(r),
                    run_items=_run_items(r.entry.run.to_dict() if r.entry.run else None),
                    all_keys=SUMMARY_KEYS))
                pages += 1
                progress.advance("build site")
        for fmt, suffix in ex.SUFFIX.items():
            _write(tmp / f"leaderboard.{suffix}", ex.render(boards, fmt))
        _write(tmp / MARKER, json.dumps({"generator": "amge-eval", "version": __version__}) + "\n")
        progress.finish("build site")
        old = None
        if out.exists():
            old = out.parent / f".old-{out.name}-{secrets.token_hex(6)}"
            os.rename(out, old)
        os.rename(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return SiteResult(out, pages, [b.dataset for b in boards], n_entries)
