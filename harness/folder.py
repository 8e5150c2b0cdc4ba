"""A dataset from a folder of one's own videos: `amge-eval labels from-folder`.

Layout: ``<folder>/<split>/<activity>/<clip>.<video suffix>``, with any of the five splits
(train, val_seen, val_unseen, test_seen, test_unseen). MuscleMap labels are per activity, so
the muscles come from a table, a CSV with the header ``activity,muscles`` and one row per
activity whose ``muscles`` cell lists the groups it works, separated by ``;`` (ids such as
``upper_back`` or the papers' names such as ``upper back``; an empty cell works none).

The result is an ordinary label store: ``<labels-dir>/<dataset>/<split>.csv`` for each split
present (sample id ``<activity>/<clip>``, the activity, and the video's absolute path as
``media``) and a dataset card ``<labels-dir>/<dataset>/card.toml`` (its activities, the unseen
ones being those that appear only in the ``*_unseen`` splits, and the split sizes). Every command
that takes ``--dataset`` then works on it: `data skeletons`, `data flow`, `run-baseline`,
`predict`, `score`. Nothing is written when a problem is found (E515 lists them).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tomli_w

from .errors import AmgeError, MissingData
from .fileio import write_text_atomic
from .labels import make_label_set, write_labels
from .muscles import MUSCLE_IDS, canonical_muscle
from .vocab import SPLITS

# What counts as a video file (the same list the extractors use, baselines/data/decode.py).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".wmv",
                  ".3gp", ".ts", ".mts", ".flv", ".ogv")


@dataclass(frozen=True)
class FolderDataset:
    dataset: str
    labels_dir: Path
    counts: dict[str, int]  # samples per split
    activities: list[str]
    unseen: list[str]  # activities only in the *_unseen splits
    card: Path


def read_muscle_table(path) -> dict[str, np.ndarray]:
    """activity -> (20,) uint8 label vector, from the ``activity,muscles`` CSV."""
    path = Path(path)
    try:
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    except (OSError, UnicodeDecodeError) as exc:
        raise AmgeError(f"Muscle table {path} is unreadable: {exc}", code="E515") from exc
    if not rows or [c.strip().lower() for c in rows[0]] != ["activity", "muscles"]:
        raise AmgeError(f"Muscle table {path}: expected the header 'activity,muscles'",
                        code="E515")
    table, problems = {}, []
    for i, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2 or not row[0].strip():
            problems.append(f"line {i}: expected 'activity,muscle;muscle;...'")
            continue
        act = row[0].strip()
        if act in table:
            problems.append(f"line {i}: activity {act!r} is listed twice")
        vec = np.zeros(len(MUSCLE_IDS), np.uint8)
        for name in (n for n in row[1].split(";") if n.strip()):
            mid = canonical_muscle(name)
            if mid is None:
                problems.append(f"line {i}: unknown muscle group {name.strip()!r} (groups: "
                                f"{', '.join(MUSCLE_IDS)})")
            else:
                vec[MUSCLE_IDS.index(mid)] = 1
        table[act] = vec
    if problems:
        raise AmgeError(f"Muscle table {path}: {len(problems)} problems: " + "; ".join(problems[:10]),
                        code="E515")
    return table


def folder_dataset(folder, dataset: str, muscles, labels_dir, *, title: str | None = None,
                   replace: bool = False) -> FolderDataset:
    """Write the label store and card of the folder's videos (see the module docstring)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise MissingData(f"Video folder {root} does not exist", code="E715")
    if not dataset or not all(c.isalnum() or c in "-_" for c in dataset):
        raise AmgeError(f"Dataset name {dataset!r}: use letters, digits, '-' and '_'",
                        code="E515")
    from .datasets import builtin_cards

    if dataset in builtin_cards():
        raise AmgeError(f"{dataset!r} is a built-in dataset; choose another name", code="E515")
    table = read_muscle_table(muscles)
    found: dict[str, list[tuple[str, str, Path]]] = {}
    problems = []
    for split in SPLITS:
        d = root / split
        if not d.is_dir():
            continue
        rows = []
        for dirpath, dirnames, filenames in os.walk(d):
            dirnames[:] = sorted(x for x in dirnames if not x.startswith("."))
            for name in sorted(filenames):
                p = Path(dirpath) / name
                if name.startswith(".") or p.suffix.lower() not in VIDEO_SUFFIXES:
                    continue
                rel = p.relative_to(d)
                if len(rel.parts) != 2:
                    problems.append(f"{p}: expected <split>/<activity>/<clip>")
                    continue
                rows.append((rel.parts[0], rel.with_suffix("").as_posix(), p.resolve()))
        if rows:
            found[split] = rows
    others = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in SPLITS
                    and not p.name.startswith("."))
    if not found:
        raise MissingData(f"No videos under {root}/<split>/<activity>/ (splits: "
                          f"{', '.join(SPLITS)}; other folders there: "
                          f"{', '.join(others) or 'none'})", code="E715")
    acts = sorted({a for rows in found.values() for a, _, _ in rows})
    absent = [a for a in acts if a not in table]
    if absent:
        problems.append(f"activities without a row in the muscle table: {', '.join(absent[:10])}")
    if problems:
        raise AmgeError(f"{root}: {len(problems)} problems: " + "; ".join(problems[:10]),
                        code="E515")
    sets = [make_label_set(dataset, split, [s for _, s, _ in rows], [a for a, _, _ in rows],
                           [str(p) for _, _, p in rows], np.stack([table[a] for a, _, _ in rows]))
            for split, rows in found.items()]
    seen = {a for split, rows in found.items() if not split.endswith("_unseen")
            for a, _, _ in rows}
    unseen = [a for a in acts if a not in seen]
    if not replace:  # refuse before writing anything
        from .labels import read_labels, split_path

        for ls in sets:
            if split_path(labels_dir, dataset, ls.split).exists() and \
                    read_labels(labels_dir, dataset, ls.split).fingerprint != ls.fingerprint:
                raise AmgeError(f"The label store already holds other labels for "
                                f"{dataset}/{ls.split}; pass --replace to overwrite them",
                                code="E502")
    for ls in sets:
        write_labels(labels_dir, ls, replace=replace)
    card = {"name": dataset, "title": title or dataset, "paper_version": "user",
            "source": f"`amge-eval labels from-folder` of a folder of {len(acts)} activities",
            "activities": len(acts), "activity_from_path": "parent", "labels": "public",
            "splits": {s: len(rows) for s, rows in found.items()},
            "unseen": {"activities": unseen, "complete": True}}
    path = write_text_atomic(Path(labels_dir) / dataset / "card.toml",
                             "# Dataset card written by `amge-eval labels from-folder`\n"
                             + tomli_w.dumps(card))
    return FolderDataset(dataset, Path(labels_dir), {s: len(r) for s, r in found.items()},
                         acts, unseen, path)
