"""Pending submissions: predictions for datasets with private labels, waiting to be scored by CI.

A submitter cannot score against labels they do not have, so on a dataset whose card says
``labels = "private"`` a submission is a pull request that adds one folder::

    submissions/_pending/<dataset>/<entry>/entry.toml        the entry file (status "verified",
                                                             with a team)
    submissions/_pending/<dataset>/<entry>/predictions/      <split>.npz or .csv, test splits
                                                             included

Names starting with "_" are never entries, so the board ignores the folder. On the pull request CI
checks it without labels (``validate_pending`` with the public id lists: format, metadata, ids);
after the merge, the job that holds the label key runs ``score_pending``, which submits each
folder through the submit transaction (leaderboard/submit.py) with the team quota
(leaderboard/quota.py) and removes the folders it scored. A refused submission stays pending,
with its reason in the result.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.errors import AmgeError, Problem, ValidationFailed
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import EntryMeta, team_key
from amge_eval.harness.vocab import PAIRS

from .entries import (
    ENTRY_FILE,
    PREDICTIONS_DIR,
    EntryInvalid,
    check_dataset_name,
    entry_slug,
    load_entry,
    read_entry_file,
    validate_entry,
)

PENDING_DIR = "_pending"
_ALLOWED = {ENTRY_FILE, PREDICTIONS_DIR}


@dataclass
class Pending:
    dataset: str
    folder: Path
    meta: EntryMeta


def pending_dirs(submissions_dir: str | os.PathLike) -> list[Path]:
    """Every pending submission folder, in dataset and folder-name order."""
    root = Path(submissions_dir) / PENDING_DIR
    if not root.is_dir():
        return []
    return [f for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".")
            for f in sorted(d.iterdir()) if f.is_dir() and not f.name.startswith(".")]


def check_pending(folder: str | os.PathLike, ids_dir: str | os.PathLike | None = None,
                  check_predictions: bool = True) -> Pending:
    """Check one pending folder: its layout, its entry file (a team included), and its
    predictions (format, and with ``ids_dir`` the ids against the public id lists: the checks
    that need no labels). Raises EntryInvalid listing every problem."""
    from amge_eval.harness.datasets import get_card
    from amge_eval.harness.scoring import validate_file

    folder = Path(folder)
    src = str(folder)
    dataset = folder.parent.name
    problems: list[Problem] = []

    def fail() -> EntryInvalid:
        return EntryInvalid(problems, src)

    try:
        check_dataset_name(dataset)
        card = get_card(dataset)
    except AmgeError as exc:
        problems.append(Problem(exc.code, exc.message, src))
        raise fail() from exc
    if card.labels != "private":
        problems.append(Problem("E919", f"{dataset}'s labels are public: score the predictions "
                                        f"yourself and add the entry with `amge-eval submit`; "
                                        f"{PENDING_DIR}/ is for datasets with private labels",
                                src))
    extra = sorted(p.name for p in folder.iterdir() if p.name not in _ALLOWED)
    if extra:
        problems.append(Problem("E919", f"a pending submission holds only {ENTRY_FILE} and "
                                        f"{PREDICTIONS_DIR}/ (CI writes the scores); remove "
                                        f"{', '.join(extra)}", src))
    meta = None
    if not (folder / ENTRY_FILE).is_file():
        problems.append(Problem("E902", f"{ENTRY_FILE} is missing", src))
    else:
        try:
            meta = validate_entry(read_entry_file(folder / ENTRY_FILE), str(folder / ENTRY_FILE),
                                  dataset=dataset, has_predictions=True)
        except EntryInvalid as exc:
            problems += exc.problems
        except AmgeError as exc:
            problems.append(Problem(exc.code, exc.message, str(folder / ENTRY_FILE)))
    if meta is not None:
        if meta.status != "verified":
            problems.append(Problem("E919", f"status {meta.status!r}: a pending submission "
                                            f"becomes a 'verified' entry", src))
        if not meta.team:
            problems.append(Problem("E916", f"{dataset} has private labels and a per-team quota "
                                            f"of scorings: add team = \"...\" to {ENTRY_FILE}",
                                    str(folder / ENTRY_FILE)))
        try:
            slug = entry_slug(meta.name)
            if slug != folder.name:
                problems.append(Problem("E919", f"the folder of the entry named {meta.name!r} "
                                                f"must be named {slug!r}", src))
        except AmgeError as exc:
            problems.append(Problem(exc.code, exc.message, src))
    preds = folder / PREDICTIONS_DIR
    if not preds.is_dir():
        problems.append(Problem("E919", f"{PREDICTIONS_DIR}/ is missing: put one prediction file "
                                        f"per split there (docs/formats.md)", src))
    elif check_predictions:
        try:
            rep = validate_file(preds, dataset=dataset, ids_dir=ids_dir,
                                require_labels=ids_dir is not None)
            missing = [s for s in PAIRS["test"] if s not in rep.n_rows]
            if missing:
                problems.append(Problem("E914", f"no predictions for {', '.join(missing)}; the "
                                                f"board ranks by test_a and needs test_seen and "
                                                f"test_unseen", str(preds)))
        except ValidationFailed as exc:
            problems += exc.problems
        except AmgeError as exc:
            problems.append(Problem(exc.code, exc.message, str(preds)))
    if problems:
        raise fail()
    return Pending(dataset, folder, meta)


def validate_pending(submissions_dir: str | os.PathLike, paths=None,
                     ids_dir: str | os.PathLike | None = None) -> list[str]:
    """Check the pending folders that ``paths`` touch (all when None); returns
    ``<dataset>/<entry>`` of each checked. Raises EntryInvalid listing every problem."""
    root = Path(submissions_dir).resolve()
    if paths is None:
        targets = pending_dirs(root)
        problems: list[Problem] = []
    else:
        targets, problems = [], []
        for p in paths:
            try:
                parts = Path(p).resolve().relative_to(root).parts
            except ValueError:
                continue
            if not parts or parts[0] != PENDING_DIR:
                continue
            if len(parts) < 3:
                if (root / Path(*parts)).is_file():
                    problems.append(Problem("E919", f"a pending submission is a folder "
                                                    f"{PENDING_DIR}/<dataset>/<entry>/, not a "
                                                    f"file here", str(p)))
                continue
            folder = root / parts[0] / parts[1] / parts[2]
            if folder.is_dir() and folder not in targets:
                targets.append(folder)
    for folder in targets:
        try:
            check_pending(folder, ids_dir)
        except EntryInvalid as exc:
            problems += exc.problems
    if problems:
        raise EntryInvalid(problems, str(submissions_dir))
    return [f"{f.parent.name}/{f.name}" for f in targets]


@dataclass
class PendingResult:
    accepted: list[str] = field(default_factory=list)  # "<dataset>/<entry>" now on the board
    refused: dict[str, AmgeError] = field(default_factory=dict)  # "<dataset>/<entry>" -> why


def score_pending(submissions_dir: str | os.PathLike, labels_dir: str | os.PathLike | None,
                  quota, *, resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                  progress: Progress = NULL_PROGRESS) -> PendingResult:
    """Score every pending submission into a verified entry (submit, with ``quota``, a
    leaderboard.quota.QuotaPolicy) and remove its folder. A refused one (invalid, over its team's
    quota, a name taken by another team's or a non-verified entry) stays pending and is listed in
    ``refused``; the store is left as it was for it."""
    from .submit import submit

    result = PendingResult()
    for folder in pending_dirs(submissions_dir):
        key = f"{folder.parent.name}/{folder.name}"
        try:
            p = check_pending(folder, check_predictions=False)
            target = Path(submissions_dir) / p.dataset / folder.name
            replace = False
            if target.exists():
                old = load_entry(target)
                if (old.status != "verified" or not old.meta.team
                        or team_key(old.meta.team) != team_key(p.meta.team)):
                    raise AmgeError(f"{p.dataset}/{folder.name} is already an entry of another "
                                    f"team or status; rename the submission (its name)",
                                    code="E907")
                replace = True
            submit(folder / PREDICTIONS_DIR, p.dataset, p.meta.name,
                   submissions_dir=submissions_dir, labels_dir=labels_dir,
                   entry_file=folder / ENTRY_FILE, replace=replace, resamples=resamples,
                   seed=seed, progress=progress, quota=quota,
                   consume=str(folder.relative_to(Path(submissions_dir))))
        except AmgeError as exc:
            result.refused[key] = exc
            continue
        for parent in (folder.parent, folder.parent.parent):
            if parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
        result.accepted.append(key)
    return result
