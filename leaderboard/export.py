"""Exports of the board: csv | json | md | latex.

The tabular exports are views of one pandas DataFrame (``board_frame``: one row per board row,
in board order), so their columns and numbers cannot drift apart: CSV is the frame itself, the
Markdown and LaTeX tables are its paper-style columns. The LaTeX table is ready to paste into a
paper: booktabs rules, one table per dataset, the best value of each mAP column in bold (every
row that shows the best value at one decimal). JSON keeps the nested provenance. Exports carry
the board's numbers and provenance hashes only: no labels, no per-sample scores.
"""

from __future__ import annotations

import json
import os

import pandas as pd

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.vocab import STATUSES, SUMMARY_KEYS, TABLE_KEYS

from .table import HEADERS, TIE_LABEL, Board, Row, load_boards

FORMATS: tuple[str, ...] = ("csv", "json", "md", "latex")
SUFFIX: dict[str, str] = {"csv": "csv", "json": "json", "md": "md", "latex": "tex"}
EXPORT_VERSION = "1"


def _params(row: Row) -> str:
    p = row.entry.meta.params_m
    return "" if p is None else f"{p:.1f}"


def board_frame(boards: list[Board]) -> pd.DataFrame:
    """One row per board row, in board order; numbers in %, None where absent."""
    records = []
    for b in boards:
        for r in b.rows:
            iv = r.intervals["test_a"]
            records.append({
                "dataset": b.dataset, "rank": r.rank, "entry": r.entry.slug,
                "name": r.entry.name, "status": r.entry.status, "family": r.entry.family,
                "modalities_test": "+".join(r.entry.meta.modalities_test),
                "params_m": _params(r), **{k: r.values[k] for k in SUMMARY_KEYS},
                "test_a_low": iv[0] if iv else None, "test_a_high": iv[1] if iv else None,
                "seeds": len(r.seeds) or None, "test_a_sd": r.spread("test_a"),
                "tie": r.tie, "warnings": " | ".join(r.warnings)})
    frame = pd.DataFrame.from_records(records, columns=[
        "dataset", "rank", "entry", "name", "status", "family", "modalities_test", "params_m",
        *SUMMARY_KEYS, "test_a_low", "test_a_high", "seeds", "test_a_sd", "tie", "warnings"])
    return frame.astype({"rank": "Int64", "seeds": "Int64", **{k: "float64" for k in (
        *SUMMARY_KEYS, "test_a_low", "test_a_high", "test_a_sd")}})


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...), +cmd,
# @SUM, a tab or return before them); such text cells get a leading apostrophe, which
# spreadsheets show as plain text (OWASP's "CSV injection" advice). Numbers are left alone.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_TEXT_COLUMNS = ("dataset", "entry", "name", "status", "family", "modalities_test", "params_m",
                 "tie", "warnings")


def csv_safe(text: str) -> str:
    return "'" + text if isinstance(text, str) and text.startswith(_FORMULA_START) else text


def to_csv(boards: list[Board]) -> str:
    frame = board_frame(boards)
    for col in _TEXT_COLUMNS:
        frame[col] = frame[col].map(csv_safe)
    return frame.to_csv(index=False, float_format="%.2f", lineterminator="\n")


def row_dict(board: Board, row: Row) -> dict:
    e, iv = row.entry, row.intervals
    rep = e.meta.reported
    return {
        "dataset": board.dataset, "rank": row.rank, "entry": e.slug, "name": e.name,
        "status": e.status, "family": e.family,
        "modalities_train": list(e.meta.modalities_train),
        "modalities_test": list(e.meta.modalities_test), "params_m": e.meta.params_m,
        "values": {k: row.values[k] for k in SUMMARY_KEYS},
        "intervals": {k: (list(iv[k]) if iv[k] else None) for k in SUMMARY_KEYS},
        "seeds": row.seeds,
        "seed_values": {k: list(e.record.summary[k].seed_values) for k in SUMMARY_KEYS
                        if row.seeds and k in e.record.summary},
        "spread": {k: row.spread(k) for k in SUMMARY_KEYS} if row.seeds else None,
        "tie": row.tie, "tie_detail": row.tie_detail, "warnings": row.warnings,
        "paper": e.meta.paper or "", "paper_url": e.meta.paper_url or "",
        "code_url": e.meta.code_url or "", "preset": e.meta.preset,
        "source": {"paper_version": rep.paper_version, "table": rep.table} if rep else None,
        "provenance": ({"scorer_version": e.record.scorer_version,
                        "predictions_sha256": e.prediction_sha256,
                        "label_fingerprints": e.record.label_fingerprints}
                       if e.record else None),
    }


def to_json(boards: list[Board]) -> str:
    doc = {"schema_version": EXPORT_VERSION, "kind": "leaderboard", "statuses": list(STATUSES),
           "datasets": [{"dataset": b.dataset, "title": b.title, "paper_version": b.paper_version,
                         "leader": b.leader, "rows": [row_dict(b, r) for r in b.rows]}
                        for b in boards]}
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _paper_table(frame: pd.DataFrame, missing: str, name) -> pd.DataFrame:
    """The papers' columns of one dataset's rows, as display text (one decimal)."""
    cells = {"#": frame["rank"].map(lambda v: "" if pd.isna(v) else str(v)),
             "Model": [name(n, w) for n, w in zip(frame["name"], frame["warnings"])]}
    return pd.DataFrame(cells | {
        "Status": frame["status"], "#PM": frame["params_m"],
        **{HEADERS[k]: frame[k].map(lambda v: missing if pd.isna(v) else f"{v:.1f}")
           for k in (*TABLE_KEYS, "test_gap")},
        HEADERS["test_a"]: [missing if pd.isna(v) else f"{v:.1f}" + ("" if pd.isna(sd) else
                                                                    f" ± {sd:.1f}")
                            for v, sd in zip(frame["test_a"], frame["test_a_sd"])],
        "Tie": frame["tie"].map(TIE_LABEL)})


def _md_cell(text: str) -> str:
    # A pipe would end the cell and a line break the row; backslash-escape the first, drop the
    # second, and keep HTML from rendering.
    text = " ".join(str(text).split())
    for ch in ("\\", "|", "<", ">", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text


def to_markdown(boards: list[Board]) -> str:
    frame, out = board_frame(boards), []
    for b in boards:
        t = _paper_table(frame[frame["dataset"] == b.dataset], "",
                         lambda n, w: _md_cell(n) + (" (!)" if w else ""))
        right = {"#", "#PM", *(HEADERS[k] for k in (*TABLE_KEYS, "test_gap"))}
        out += [f"## {_md_cell(b.title)} ({b.dataset})\n",
                "| " + " | ".join(t.columns) + " |",
                "|" + "".join("---:|" if c in right else "---|" for c in t.columns)]
        out += ["| " + " | ".join(row) + " |" for row in t.itertuples(index=False)]
        out.append("")
        if (frame.loc[frame["dataset"] == b.dataset, "warnings"] != "").any():
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
    frame = board_frame(boards)
    out = ["% Generated by amge-eval leaderboard export; needs \\usepackage{booktabs}."]
    for b in boards:
        rows = frame[frame["dataset"] == b.dataset].reset_index(drop=True)
        table = pd.DataFrame({"Model": rows["name"].map(latex_escape),
                              "\\#PM": rows["params_m"].map(lambda p: f"{p}M" if p else "--")})
        for k in TABLE_KEYS:
            shown = rows[k].round(1)
            sds = rows["test_a_sd"] if k == "test_a" else [None] * len(rows)
            table[f"{HEADERS[k][:-2]}$_{HEADERS[k][-1]}$"] = [
                "--" if pd.isna(v) else (f"\\textbf{{{v:.1f}}}" if s == shown.max() else f"{v:.1f}")
                + ("" if sd is None or pd.isna(sd) else f"$\\pm${sd:.1f}")
                for v, s, sd in zip(rows[k], shown, sds)]
        label = latex_escape(b.dataset).replace("\\", "")
        out.append(table.style.hide(axis="index").to_latex(
            hrules=True, position="t", position_float="centering", column_format="l r "
            + "r" * len(TABLE_KEYS),
            caption=f"Masked mAP (\\%) on {latex_escape(b.title)}; best per column in bold.",
            label=f"tab:amge-{label}"))
    return "\n".join(out)


RENDERERS = {"csv": to_csv, "json": to_json, "md": to_markdown, "latex": to_latex}


def _check_format(format: str) -> None:
    if format not in RENDERERS:
        raise AmgeError(f"Unknown export format {format!r}; choose one of {', '.join(FORMATS)}",
                        code="E903")


def render(boards: list[Board], format: str) -> str:
    _check_format(format)
    return RENDERERS[format](boards)


def export(submissions_dir: str | os.PathLike = "submissions", format: str = "csv",
           datasets: list[str] | None = None) -> str:
    """The whole board (or some datasets) as csv | json | md | latex text."""
    _check_format(format)
    boards = load_boards(submissions_dir)
    if datasets:
        have = {b.dataset for b in boards}
        missing = [d for d in datasets if d not in have]
        if missing:
            raise AmgeError(f"No entries for dataset {missing[0]!r}; the store has "
                            f"{', '.join(sorted(have)) or 'none'}", code="E911")
        boards = [b for b in boards if b.dataset in datasets]
    return render(boards, format)
