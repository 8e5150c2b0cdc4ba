"""`amge-eval leaderboard rescore`: score every entry with predictions again, with the settings
of its own record, after a label or scorer change.

A record is rewritten when a number, the scorer version or a label fingerprint changed. When the
scorer version or a fingerprint changed, a rank-change report (harness.records.RescoreRecord:
which entries moved on the board, leaderboard/ranking.py) is written to
``<submissions>/_reports/rescore-<UTC time>.json``. Ties are brought up to date afterwards.
Entries whose labels are absent are skipped and listed.

The whole rescore holds the store's lock, and every record it rewrites, with its report, is
committed as one transaction (leaderboard/transaction.py): killed at any moment, the store holds
either every old record or every new one (with the full report), never a mix of label versions.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.errors import AmgeError, MissingData
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import RankMove, RescoreRecord, ScoreRecord
from amge_eval.harness.vocab import RANK_KEY, SUMMARY_KEYS

from .entries import PREDICTIONS_DIR, SCORES_FILE, Entry
from .ranking import ranks
from .store import load_store
from .ties import TIES_FILE, read_ties, update_ties
from .transaction import Transaction, store_lock

REPORTS_DIR = "_reports"


@dataclass
class RescoreResult:
    record: RescoreRecord  # what was rescored, why, and the rank moves
    report_path: Path | None  # where the record was written (only after a version change)


def _rescored(e: Entry, dataset: str, labels_dir) -> ScoreRecord:
    from amge_eval.harness.scoring import score_file

    ci = e.record.ci
    report = score_file(e.path / PREDICTIONS_DIR, dataset=dataset, labels_dir=labels_dir,
                        ci_kinds=tuple(ci.kinds) or ("activity",), resamples=ci.resamples,
                        seed=ci.seed, level=ci.level)
    return ScoreRecord.from_report(report, shown_ci=ci.shown)


def _why(old: ScoreRecord, new: ScoreRecord) -> tuple[list[str], bool]:
    """What changed between two records, and whether a version or label change is among it."""
    why = []
    if old.scorer_version != new.scorer_version:
        why.append(f"scorer {old.scorer_version} -> {new.scorer_version}")
    for split, s in new.splits.items():
        fp_old = old.splits[split].label_fingerprint if split in old.splits else None
        if fp_old != s.label_fingerprint:
            why.append(f"{split} labels {str(fp_old)[:12]} -> {s.label_fingerprint[:12]}")
    versions = bool(why)
    if new.predictions.sha256 != old.predictions.sha256:
        why.append("prediction files changed since they were scored")
    return why, versions


def rescore(submissions_dir: str | os.PathLike = "submissions",
            labels_dir: str | os.PathLike | None = None,
            datasets: Iterable[str] | None = None,
            report_dir: str | os.PathLike | None = None,
            tie_resamples: int | None = None,
            progress: Progress = NULL_PROGRESS) -> RescoreResult:
    """Re-score every entry that has prediction files (of ``datasets``, default all)."""
    root = Path(submissions_dir)
    if not root.is_dir():
        raise MissingData(f"No submissions folder at {root}; pass --submissions DIR", code="E912")
    with store_lock(root, "ex"):
        return _rescore(root, labels_dir, datasets, report_dir, tie_resamples, progress)


def _rescore(root: Path, labels_dir, datasets, report_dir, tie_resamples,
             progress: Progress) -> RescoreResult:
    store = load_store(root)
    wanted = set(datasets) if datasets is not None else None
    unknown = sorted((wanted or set()) - set(store))
    if unknown:
        raise AmgeError(f"The store {root} has no dataset {unknown[0]!r}; it has "
                        f"{', '.join(store) or 'none'}", code="E911")
    rep = RescoreRecord(created=datetime.now(UTC).isoformat(timespec="seconds"), rescored=[],
                        unchanged=[], skipped={}, reasons={}, moves=[])
    versions_changed = False
    todo = {ds: es for ds, es in store.items() if wanted is None or ds in wanted}
    progress.start("rescore", total=sum(e.has_predictions for es in todo.values() for e in es))
    with Transaction.begin(root) as txn:
        for ds, entries in todo.items():
            before = ranks(entries)
            new_values: dict[str, dict] = {}
            for e in entries:
                if not e.has_predictions:
                    continue
                key = f"{ds}/{e.slug}"
                try:
                    new = _rescored(e, ds, labels_dir)
                except MissingData as exc:
                    rep.skipped[key] = exc.message
                    progress.advance("rescore")
                    continue
                why, versions = _why(e.record, new)
                versions_changed |= versions
                numbers = {k: new.value(k) for k in SUMMARY_KEYS}
                if why or numbers != {k: e.record.value(k) for k in SUMMARY_KEYS}:
                    txn.stage_file(f"{ds}/{e.slug}/{SCORES_FILE}", new.to_json())
                    rep.rescored.append(key)
                    rep.reasons[key] = why or ["numbers changed"]
                    new_values[e.slug] = {**e.values(), **numbers}
                else:
                    rep.unchanged.append(key)
                progress.advance("rescore")
            if new_values:
                after = ranks(entries, new_values)
                rep.moves += [RankMove(dataset=ds, entry=e.slug, name=e.name,
                                       old_rank=before[e.slug], new_rank=after[e.slug],
                                       old_value=e.values()[RANK_KEY],
                                       new_value=(new_values.get(e.slug) or e.values())[RANK_KEY])
                              for e in entries if before[e.slug] != after[e.slug]]
        path = None
        if versions_changed:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            if report_dir is not None:
                path = rep.write(Path(report_dir) / f"rescore-{stamp}.json")
            else:
                path = root / REPORTS_DIR / f"rescore-{stamp}.json"
                txn.stage_file(f"{REPORTS_DIR}/{path.name}", rep.to_json())
        txn.commit()  # every new record and the report, or none of them
    for ds, entries in todo.items():
        if any(e.has_predictions for e in entries):
            old_ties = read_ties(root / ds)
            try:  # cached per entry: only pairs whose inputs changed are tested again
                update_ties(root, ds, labels_dir=labels_dir,
                            resamples=tie_resamples or (old_ties.resamples if old_ties
                                                        else bs.DEFAULT_RESAMPLES),
                            seed=old_ties.seed if old_ties else bs.DEFAULT_SEED,
                            progress=progress)
            except MissingData as exc:
                rep.skipped[f"{ds}/{TIES_FILE}"] = exc.message
    progress.finish("rescore")
    return RescoreResult(rep, path)
