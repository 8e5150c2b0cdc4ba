"""The submissions store as a whole: finding its entries, loading and validating them, and
`leaderboard doctor` (every write goes through leaderboard/transaction.py: one lock, journaled).

Layout (docs/leaderboard.md)::

    submissions/<dataset>/<entry>/      one entry (leaderboard/entries.py)
    submissions/<dataset>/ties.json     paired tests against the leader (leaderboard/ties.py)
    submissions/_reports/               rescore reports (leaderboard/rescore.py)
    submissions/.txn-<id>/              a write in progress, or a killed one (transaction.py)

Several stores can be read as one (``load_store([committed, mine])``): a later store's entry
replaces an earlier store's entry of the same dataset and folder name. That is how `amge-eval
reproduce` shows the committed board with a user's reproduced rows in place of the committed
ones, without writing into the committed store.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from amge_eval.harness.errors import AmgeError, MissingData, Problem
from amge_eval.harness.progress import NULL_PROGRESS, Progress

from .entries import Entry, EntryInvalid, is_entry_name, load_entry
from .transaction import (
    LEGACY_PREFIXES,
    TXN_PREFIX,
    check_readable,
    dead_uncommitted,
    recover,
    store_lock,
)

Stores = str | os.PathLike | Sequence[str | os.PathLike]


def store_roots(stores: Stores) -> list[Path]:
    if isinstance(stores, (str, os.PathLike)):
        return [Path(stores)]
    return [Path(s) for s in stores]


def dataset_dirs(submissions_dir: str | os.PathLike) -> list[Path]:
    root = Path(submissions_dir)
    if not root.is_dir():
        raise MissingData(f"No submissions folder at {root}; pass --submissions DIR (the folder "
                          f"that holds <dataset>/<entry>/entry.toml)", code="E912")
    return [p for p in sorted(root.iterdir()) if p.is_dir() and is_entry_name(p.name)]


def entry_dirs(dataset_dir: Path) -> list[Path]:
    return [p for p in sorted(dataset_dir.iterdir()) if p.is_dir() and is_entry_name(p.name)]


def load_store(stores: Stores, verify_hashes: bool = False,
               progress: Progress = NULL_PROGRESS) -> dict[str, list[Entry]]:
    """Every entry by dataset (entries in folder-name order). With several stores, a later
    store's entry replaces an earlier one's of the same dataset and folder name. Raises
    EntryInvalid listing the problems of every broken entry, so one run shows them all."""
    roots = store_roots(stores)
    with contextlib.ExitStack() as locks:
        for root in roots:
            if root.is_dir():
                locks.enter_context(store_lock(root, "sh"))  # no write is half done
                check_readable(root)
        return _load(roots, verify_hashes, progress)


def _load(roots: list[Path], verify_hashes: bool, progress: Progress) -> dict[str, list[Entry]]:
    folders = {}  # (dataset, slug) -> (root, folder); later roots win
    datasets: set[str] = set()
    for root in roots:
        for d in dataset_dirs(root):
            datasets.add(d.name)
            for e in entry_dirs(d):
                folders[(d.name, e.name)] = (root, e)
    out: dict[str, list[Entry]] = {d: [] for d in sorted(datasets)}
    problems: list[Problem] = []
    progress.start("load submissions", total=len(folders))
    for (dataset, _), (root, folder) in sorted(folders.items()):
        try:
            entry = load_entry(folder, verify_hashes=verify_hashes)
            entry.store = root
            out[dataset].append(entry)
        except EntryInvalid as exc:
            problems += exc.problems
        except AmgeError as exc:
            problems.append(Problem(exc.code, exc.message, str(folder)))
        progress.advance("load submissions")
    progress.finish("load submissions")
    if problems:
        raise EntryInvalid(problems, ", ".join(str(r) for r in roots))
    return out


def leftovers(submissions_dir: str | os.PathLike) -> list[Path]:
    """Staging folders of killed writers that were never committed (harmless, invisible to
    readers; `leaderboard doctor` removes them), and those of older amge-eval versions."""
    root = Path(submissions_dir)
    dead = [root / name for name in dead_uncommitted(root)]
    legacy = [p for d in dataset_dirs(root) for p in sorted(d.iterdir())
              if p.is_dir() and p.name.startswith(LEGACY_PREFIXES)]
    return dead + legacy


@dataclass
class StoreCheck:
    entries: list[str]  # "<dataset>/<entry>" checked
    leftovers: list[str]  # staging folders of killed writers (harmless; doctor removes them)


def validate_store(submissions_dir: str | os.PathLike, paths: Iterable[str] | None = None,
                   verify_hashes: bool = True) -> StoreCheck:
    """Validate the entries that ``paths`` touch (files or folders inside the store; all entries
    when None). Paths of deleted files are ignored. Raises EntryInvalid with every problem, and
    AmgeError (E915) while a killed writer's committed transaction is unfinished."""
    root = Path(submissions_dir).resolve()
    with store_lock(root, "sh"):
        check_readable(root)
        if paths is None:
            targets = [e for d in dataset_dirs(root) for e in entry_dirs(d)]
        else:
            targets = []
            for p in paths:
                try:
                    parts = Path(p).resolve().relative_to(root).parts
                except ValueError:
                    continue
                if len(parts) >= 2 and is_entry_name(parts[0]) and is_entry_name(parts[1]):
                    folder = root / parts[0] / parts[1]
                    if folder.is_dir() and folder not in targets:
                        targets.append(folder)
        problems: list[Problem] = []
        for folder in targets:
            try:
                load_entry(folder, verify_hashes=verify_hashes)
            except EntryInvalid as exc:
                problems += exc.problems
            except AmgeError as exc:
                problems.append(Problem(exc.code, exc.message, str(folder)))
        if problems:
            raise EntryInvalid(problems, str(submissions_dir))
        return StoreCheck([f"{f.parent.name}/{f.name}" for f in targets],
                          [str(p.relative_to(root)) for p in leftovers(root)])


@dataclass
class DoctorReport:
    finished: list[str]  # interrupted writes completed (their entries are now the new ones)
    removed: list[str]  # staging folders of killed writers deleted (nothing had been written)
    live: list[str]  # writes in progress right now, left alone
    check: StoreCheck  # the store validated afterwards


def doctor(submissions_dir: str | os.PathLike) -> DoctorReport:
    """Finish every interrupted write, remove every leftover, then validate the whole store."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise MissingData(f"No submissions folder at {root}; pass --submissions DIR", code="E912")
    with store_lock(root, "ex"):
        rep = recover(root)
        legacy = [p for p in leftovers(root) if not p.name.startswith(TXN_PREFIX)]
        for p in legacy:
            shutil.rmtree(p, ignore_errors=True)
        check = validate_store(root)
    return DoctorReport(rep.finished, rep.removed + [str(p.relative_to(root)) for p in legacy],
                        rep.live, check)

