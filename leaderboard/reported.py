"""Rows taken from the papers: seeding them as `reported` entries, and checking them.

``seed_reported(csv, submissions)`` turns every row of the papers' main tables
(leaderboard/reported_results.csv, a copy of shared/paper/reported_results.csv) into ``submissions/<dataset>/paper-<version>-<model>/
entry.toml``, using the facts in ``paper_models.toml`` for what the CSV does not hold. Its output
is committed; ``compare_with_csv`` says where the committed store and the CSV disagree.

``consistency_warnings`` checks a reported row against itself: the papers print val_a and
test_a as the mean of the seen and unseen numbers, each rounded to one decimal. The seen and
unseen numbers carry up to 0.05 of rounding each (so their mean too), and the printed mean
another 0.05, so a consistent row has |x_a - (x_s + x_u) / 2| <= 0.1.
"""

from __future__ import annotations

import csv
import os
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.records import ENTRY_VERSION
from amge_eval.harness.vocab import TABLE_KEYS

from .entries import (
    ENTRY_FILE,
    entry_slug,
    entry_toml,
    load_entry,
    read_entry_file,
    validate_entry,
)
from .store import dataset_dirs, entry_dirs
from .transaction import Transaction, store_lock

CSV_HEADER = ("paper_version", "dataset", "model", "params_m", *TABLE_KEYS)
ROUNDING = 0.05  # half of the last printed digit (one decimal)
TOLERANCE = 2 * ROUNDING  # the printed mean's own rounding + the rounding carried by the inputs
PREFIX = "paper"
_MODELS_FILE = Path(__file__).parent / "paper_models.toml"


@cache
def paper_facts() -> dict:
    """paper_models.toml: {'papers': {version: ...}, 'models': {model: ...}}."""
    return tomllib.loads(_MODELS_FILE.read_text(encoding="utf-8"))


def consistency_warnings(values: dict[str, float | None]) -> list[str]:
    """Why a row's averages disagree with its seen/unseen numbers (empty when they agree)."""
    out = []
    for name in ("val", "test"):
        s, u, a = values.get(f"{name}_s"), values.get(f"{name}_u"), values.get(f"{name}_a")
        if s is None or u is None or a is None:
            continue
        mean = (s + u) / 2
        if abs(a - mean) > TOLERANCE + 1e-9:
            out.append(f"{name}_a {a:.1f} is not the mean of {name}_s and {name}_u "
                       f"({s:.1f}, {u:.1f}: mean {mean:.2f}); off by {abs(a - mean):.2f}, more "
                       f"than the rounding allows ({TOLERANCE:.2f})")
    return out


def reported_slug(version: str, model: str) -> str:
    return entry_slug(f"{PREFIX}-{version}-{model}")


def read_reported_csv(path: str | os.PathLike) -> list[dict]:
    """The CSV's rows with numbers as floats; raises AmgeError naming the first bad line."""
    path = Path(path)
    if not path.is_file():
        raise MissingData(f"No reported-results CSV at {path}; pass the path of "
                          f"shared/paper/reported_results.csv", code="E912")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != CSV_HEADER:
            raise AmgeError(f"{path}: expected the header {','.join(CSV_HEADER)}, but got "
                            f"{','.join(reader.fieldnames or [])}", code="E903")
        rows = []
        for line, r in enumerate(reader, start=2):
            try:
                row = {"paper_version": r["paper_version"], "dataset": r["dataset"],
                       "model": r["model"], "params_m": float(r["params_m"])}
                row.update({k: float(r[k]) for k in TABLE_KEYS})
            except (TypeError, ValueError) as exc:
                raise AmgeError(f"{path}:{line}: not a number ({exc})", code="E903") from exc
            rows.append(row)
    return rows


def _title(dataset: str) -> str:
    from amge_eval.harness.datasets import get_card

    try:
        return get_card(dataset).title
    except AmgeError:
        return dataset


def entry_meta(row: dict) -> dict:
    """The entry file content of one CSV row."""
    facts = paper_facts()
    version, model = row["paper_version"], row["model"]
    if version not in facts["papers"]:
        raise AmgeError(f"paper version {version!r} has no [papers.{version}] in "
                        f"{_MODELS_FILE.name}", code="E903")
    if model not in facts["models"]:
        raise AmgeError(f"model {model!r} has no [models.\"{model}\"] in {_MODELS_FILE.name}; "
                        f"add its family, modalities and pretraining there", code="E903")
    paper, m = facts["papers"][version], facts["models"][model]
    meta = {
        "entry_version": ENTRY_VERSION, "name": model, "dataset": row["dataset"],
        "status": "reported", "family": m["family"], "authors": list(paper["authors"]),
        "paper": paper["title"],
        "code_url": paper["code_url"] if m.get("code") and paper.get("code_url") else None,
        "modalities_train": list(m["modalities_train"]),
        "modalities_test": list(m["modalities_test"]),
        "params_m": row["params_m"],
        "training_data": m.get("training_data", f"{_title(row['dataset'])} train split"),
        "pretraining": m["pretraining"], "frames": m.get("frames"), "views": m.get("views"),
        "notes": m.get("notes"),
        "reported": {"paper_version": version, "table": paper["table"],
                     **{k: row[k] for k in TABLE_KEYS}},
    }
    return {k: v for k, v in meta.items() if v is not None}


def reported_entries(csv_path: str | os.PathLike) -> dict[str, str]:
    """'<dataset>/<entry>' -> entry file text, for every row of the CSV."""
    out: dict[str, str] = {}
    for row in read_reported_csv(csv_path):
        key = f"{row['dataset']}/{reported_slug(row['paper_version'], row['model'])}"
        if key in out:
            raise AmgeError(f"{csv_path}: two rows map to the entry {key}", code="E907")
        out[key] = entry_toml(validate_entry(entry_meta(row), key, dataset=row["dataset"]))
    return out


@dataclass
class SeedResult:
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def _is_seeded(folder: Path) -> bool:
    """A folder seed_reported owns: a paper-* entry with status reported and nothing else."""
    if not folder.name.startswith(f"{PREFIX}-"):
        return False
    files = [p.name for p in folder.iterdir()]
    if files != [ENTRY_FILE]:
        return False
    try:
        return read_entry_file(folder / ENTRY_FILE).get("status") == "reported"
    except AmgeError:
        return False


def seed_reported(csv_path: str | os.PathLike, submissions_dir: str | os.PathLike,
                  prune: bool = True) -> SeedResult:
    """Write (or refresh) one `reported` entry per CSV row. With ``prune``, seeded entries whose
    row left the CSV are removed. All of it is one transaction under the store's lock; other
    entries are never touched."""
    wanted = reported_entries(csv_path)
    root = Path(submissions_dir)
    res = SeedResult()
    with store_lock(root, "ex"), Transaction.begin(root) as txn:
        for key, text in sorted(wanted.items()):
            path = root / key / ENTRY_FILE
            if path.is_file() and path.read_text(encoding="utf-8") == text:
                res.unchanged.append(key)
                continue
            if path.parent.exists() and not _is_seeded(path.parent):
                raise AmgeError(f"{path.parent} exists and is not a seeded paper entry; move it "
                                f"before seeding", code="E907")
            txn.stage_file(f"{key}/{ENTRY_FILE}", text)
            res.written.append(key)
        if prune:
            for d in dataset_dirs(root):
                for e in entry_dirs(d):
                    key = f"{d.name}/{e.name}"
                    if key not in wanted and _is_seeded(e):
                        txn.delete(key)
                        res.removed.append(key)
        txn.commit()
    return res


def compare_with_csv(submissions_dir: str | os.PathLike, csv_path: str | os.PathLike) -> list[str]:
    """Every way the store's reported entries differ from the CSV (empty when they match):
    rows without an entry, entries without a row, and differing numbers or files."""
    wanted = reported_entries(csv_path)
    rows = {f"{r['dataset']}/{reported_slug(r['paper_version'], r['model'])}": r
            for r in read_reported_csv(csv_path)}
    root = Path(submissions_dir)
    have = {}
    for d in dataset_dirs(root):
        for e in entry_dirs(d):
            entry = load_entry(e)
            if entry.status == "reported":
                have[f"{d.name}/{e.name}"] = entry
    diffs = [f"{k}: row {rows[k]['paper_version']} {rows[k]['model']} has no entry"
             for k in sorted(set(wanted) - set(have))]
    diffs += [f"{k}: reported entry has no row in the CSV" for k in sorted(set(have) - set(wanted))]
    for k in sorted(set(wanted) & set(have)):
        entry, row = have[k], rows[k]
        rep = entry.meta.reported
        got = {"model": entry.name, "paper_version": rep.paper_version, "dataset": entry.dataset,
               "params_m": entry.meta.params_m, **rep.values()}
        for col in CSV_HEADER:
            if got[col] != row[col]:
                diffs.append(f"{k}: {col} is {got[col]!r} in the store, {row[col]!r} in the CSV")
        if (entry.path / ENTRY_FILE).read_text(encoding="utf-8") != wanted[k]:
            diffs.append(f"{k}: {ENTRY_FILE} differs from what seeding writes")
    return diffs
