"""Exports of the board: csv | json | md | latex.

The LaTeX table is ready to paste into a paper: booktabs rules, one table per dataset, the best
value of each mAP column in bold (every row that shows the best value at one decimal).
Exports carry the board's numbers and provenance hashes only: no labels, no per-sample scores.
"""

from __future__ import annotations

import csv
import io
import json
import os

from .store import STATUSES
from .table import ALL_KEYS, HEADERS, KEYS, TIE_LABEL, Board, Row, load_boards

FORMATS: tuple[str, ...] = ("csv", "json", "md", "latex")
SUFFIX: dict[str, str] = {"csv": "csv", "json": "json", "md": "md", "latex": "tex"}
EXPORT_VERSION = "1"


def fmt(v: float | None, digits: int = 1) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _params(row: Row) -> str:
    p = row.entry.meta.get("params_m")
    return "" if p is None else f"{p:.1f}"


def row_dict(board: Board, row: Row) -> dict:
    e = row.entry
    iv = row.intervals
    return {
        "dataset": board.dataset, "rank": row.rank, "entry": e.slug, "name": e.name,
        "status": e.status, "family": e.family,
        "modalities_train": e.meta["modalities_train"], "modalities_test": e.meta["modalities_test"],
        "params_m": e.meta.get("params_m"),
        "values": {k: row.values[k] for k in ALL_KEYS},
        "intervals": {k: (list(iv[k]) if iv[k] else None) for k in ALL_KEYS},
        "tie": row.tie, "tie_detail": row.tie_detail, "warnings": row.warnings,
        "paper": e.meta.get("paper", ""), "paper_url": e.meta.get("paper_url", ""),
        "code_url": e.meta.get("code_url", ""),
        "source": ({"paper_version": e.reported.paper_version, "table": e.reported.table}
                   if e.reported else None),
        "provenance": ({"scorer_version": e.record.get("scorer_version"),
                        "predictions_sha256": e.prediction_sha256,
                        "label_fingerprints": {s: v["label_fingerprint"]
                                               for s, v in e.record["splits"].items()}}
                       if e.record else None),
    }


def to_csv(boards: list[Board]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["dataset", "rank", "entry", "name", "status", "family", "modalities_test",
                "params_m", *ALL_KEYS, "test_a_low", "test_a_high", "tie", "warnings"])
    for b in boards:
        for r in b.rows:
            iv = r.intervals["test_a"]
            w.writerow([b.dataset, r.rank or "", r.entry.slug, r.entry.name, r.entry.status,
                        r.entry.family, "+".join(r.entry.meta["modalities_test"]), _params(r),
                        *[fmt(r.values[k], 2) for k in ALL_KEYS],
                        fmt(iv[0], 2) if iv else "", fmt(iv[1], 2) if iv else "", r.tie,
                        " | ".join(r.warnings)])
    return buf.getvalue()


def to_json(boards: list[Board]) -> str:
    doc = {"schema_version": EXPORT_VERSION, "kind": "leaderboard", "statuses": list(STATUSES),
           "datasets": [{"dataset": b.dataset, "title": b.title, "paper_version": b.paper_version,
                         "leader": b.leader, "rows": [row_dict(b, r) for r in b.rows]}
                        for b in boards]}
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _md_cell(text: str) -> str:
    # A pipe would end the cell and a line break the row; backslash-escape the first, drop the
    # second, and keep HTML from rendering.
    text = " ".join(str(text).split())
    for ch in ("\\", "|", "<", ">", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def to_markdown(boards: list[Board]) -> str:
    out = []
    for b in boards:
        out.append(f"## {_md_cell(b.title)} ({b.dataset})\n")
        out.append("| # | Model | Status | #PM | " + " | ".join(HEADERS[k] for k in KEYS)
                   + " | Gap (s-u) | Tie |")
        out.append("|---:|---|---|---:|" + "---:|" * len(KEYS) + "---:|---|")
        for r in b.rows:
            warn = " (!)" if r.warnings else ""
            out.append(f"| {r.rank or ''} | {_md_cell(r.entry.name)}{warn} | {r.entry.status} | "
                       f"{_params(r)} | " + " | ".join(fmt(r.values[k]) for k in KEYS)
                       + f" | {fmt(r.values['test_gap'])} | {TIE_LABEL[r.tie]} |")
        out.append("")
        if any(r.warnings for r in b.rows):
            out.append("(!) reported averages disagree with their seen/unseen numbers beyond "
                       "rounding, or the record needs a rescore.\n")
    return "\n".join(out)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
                  "^": r"\textasciicircum{}", "<": r"\textless{}", ">": r"\textgreater{}",
                  "|": r"\textbar{}"}


def latex_escape(text: str) -> str:
    return "".join(_LATEX_SPECIAL.get(ch, ch) for ch in " ".join(str(text).split()))


def to_latex(boards: list[Board]) -> str:
    """One booktabs table per dataset; needs \\usepackage{booktabs} in the preamble."""
    out = ["% Generated by amge-eval leaderboard export; needs \\usepackage{booktabs}."]
    for b in boards:
        best = {}
        for k in KEYS:
            shown = [round(r.values[k], 1) for r in b.rows if r.values[k] is not None]
            best[k] = max(shown) if shown else None
        out += ["\\begin{table}[t]", "\\centering",
                f"\\caption{{Masked mAP (\\%) on {latex_escape(b.title)}; best per column in "
                f"bold.}}",
                f"\\label{{tab:amge-{latex_escape(b.dataset).replace(chr(92), '')}}}",
                "\\begin{tabular}{l r " + "r" * len(KEYS) + "}", "\\toprule",
                "Model & \\#PM & " + " & ".join(
                    f"{HEADERS[k][:-2]}$_{HEADERS[k][-1]}$" for k in KEYS) + " \\\\",
                "\\midrule"]
        for r in b.rows:
            cells = []
            for k in KEYS:
                v = r.values[k]
                text = fmt(v) if v is not None else "--"
                if v is not None and best[k] is not None and round(v, 1) == best[k]:
                    text = f"\\textbf{{{text}}}"
                cells.append(text)
            params = f"{_params(r)}M" if _params(r) else "--"
            out.append(f"{latex_escape(r.entry.name)} & {params} & " + " & ".join(cells)
                       + " \\\\")
        out += ["\\bottomrule", "\\end{tabular}", "\\end{table}", ""]
    return "\n".join(out)


RENDERERS = {"csv": to_csv, "json": to_json, "md": to_markdown, "latex": to_latex}


def render(boards: list[Board], format: str) -> str:
    from amge_eval.harness.errors import AmgeError

    if format not in RENDERERS:
        raise AmgeError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)}",
                        code="E903")
    return RENDERERS[format](boards)


def export(submissions_dir: str | os.PathLike = "submissions", format: str = "csv",
           datasets: list[str] | None = None) -> str:
    """The whole board (or some datasets) as csv | json | md | latex text."""
    from amge_eval.harness.errors import AmgeError

    if format not in RENDERERS:
        raise AmgeError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)}",
                        code="E903")
    boards = load_boards(submissions_dir)
    if datasets:
        have = {b.dataset for b in boards}
        missing = [d for d in datasets if d not in have]
        if missing:
            raise AmgeError(f"No entries for dataset {missing[0]!r}; the store has "
                            f"{', '.join(sorted(have)) or 'none'}", code="E911")
        boards = [b for b in boards if b.dataset in datasets]
    return render(boards, format)
