"""The filled table: each complete seed set (every seed of one baseline x dataset x preset done)
entered into a submissions store as one `reproduced` entry (the mean over the seeds, with each
seed's value and their spread; leaderboard/submit.py), and the store exported in the
leaderboard's formats (csv, md, json, latex; leaderboard/export.py).

An entry is submitted again only when its runs changed (a cell was rerun), so assembling a
table twice costs nothing; a seed set with a missing seed is left out until it is complete.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import write_text_atomic
from amge_eval.harness.progress import NULL_PROGRESS, Progress

from .plan import Cell, Plan, done_record

EXPORT_STEM = "table"


@dataclass
class Assembly:
    entries: dict[tuple[str, str], object] = field(default_factory=dict)  # group -> Entry
    submitted: list[tuple[str, str]] = field(default_factory=list)  # groups (re)entered now
    incomplete: dict[tuple[str, str], int] = field(default_factory=dict)  # group -> seeds done
    failed: dict[tuple[str, str], str] = field(default_factory=dict)  # group -> why not entered
    exports: dict[str, Path] = field(default_factory=dict)  # format -> file


def _up_to_date(store: Path, cells: list[Cell], runs: dict) -> object | None:
    """The stored entry when it holds exactly these runs (by creation time and config)."""
    from amge_eval.leaderboard.entries import EntryInvalid, load_entry

    folder = store / cells[0].dataset / cells[0].slug
    if not folder.is_dir():
        return None
    try:
        entry = load_entry(folder)
    except EntryInvalid:
        return None
    have = {n: (r.created, r.config_sha256) for n, r in entry.runs.items()}
    want = {c.seed: (runs[c.seed].created, runs[c.seed].config_sha256) for c in cells}
    return entry if have == want else None


def assemble(plan: Plan, store: Path, labels_dir: Path | None, *, resamples: int,
             progress: Progress = NULL_PROGRESS) -> Assembly:
    from amge_eval.leaderboard.export import FORMATS, SUFFIX, export
    from amge_eval.leaderboard.submit import submit

    res = Assembly()
    for group, cells in plan.groups().items():
        runs = {c.seed: done_record(c) for c in cells}
        done = sum(r is not None for r in runs.values())
        if done < len(cells):
            res.incomplete[group] = done
            continue
        extra = sorted(p.name for p in cells[0].folder.parent.glob("seed-*")
                       if p.name not in {c.folder.name for c in cells})
        if extra:
            res.failed[group] = (f"{cells[0].folder.parent} holds seeds the table does not list "
                                 f"({', '.join(extra)}); move them away to enter the seed set")
            continue
        entry = _up_to_date(store, cells, runs)
        if entry is None:
            progress.note(f"Entering {cells[0].dataset} / {cells[0].name} "
                          f"({len(cells)} seeds)")
            try:
                entry = submit(cells[0].folder.parent, cells[0].dataset, cells[0].name,
                               submissions_dir=store, labels_dir=labels_dir, replace=True,
                               resamples=resamples, progress=progress).entry
            except AmgeError as exc:
                res.failed[group] = f"{exc.message} ({exc.code})"
                continue
            res.submitted.append(group)
        res.entries[group] = entry
    datasets = sorted({d for d, _ in res.entries})
    if datasets:
        for fmt in FORMATS:
            path = plan.out / f"{EXPORT_STEM}.{SUFFIX[fmt]}"
            write_text_atomic(path, export(store, fmt, datasets=datasets))
            res.exports[fmt] = path
    return res
