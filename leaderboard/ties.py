"""Statistical ties with the leader: a paired activity-cluster bootstrap of every scored entry
against the board's leader (leaderboard/ranking.py) on test_a, kept in
``<dataset>/ties.json`` (harness.records.TiesRecord) and reused per entry while its inputs are
unchanged. An entry is tied when the 95% interval of (entry - leader) contains 0; its p-value,
from the same BCa construction, is then at least 0.05. Reported entries have no predictions and
are never tested.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import RecordInvalid, TiesRecord
from amge_eval.harness.records.ties import TieParty, TieResult
from amge_eval.harness.vocab import RANK_KEY

from .entries import PREDICTIONS_DIR, Entry, check_dataset_name
from .ranking import leader_of
from .store import entry_dirs, load_store
from .transaction import Transaction, store_lock

TIES_FILE = "ties.json"


def read_ties(dataset_dir: Path) -> TiesRecord | None:
    """The dataset's ties record, or None when absent or unreadable (it is a cache)."""
    p = Path(dataset_dir) / TIES_FILE
    if not p.is_file():
        return None
    try:
        return TiesRecord.read(p)
    except RecordInvalid:
        return None


def _party(e: Entry) -> TieParty:
    return TieParty(entry=e.slug, sha256=e.prediction_sha256,
                    label_fingerprints=e.record.label_fingerprints)


def update_ties(submissions_dir: str | os.PathLike, dataset: str,
                labels_dir: str | os.PathLike | None = None,
                resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                progress: Progress = NULL_PROGRESS) -> TiesRecord:
    """Test every scored entry of ``dataset`` against the leader and write ties.json (only when
    something changed, so an unchanged file keeps its bytes and time stamp)."""

    check_dataset_name(dataset)
    with store_lock(submissions_dir, "ex"):  # the entries cannot change while they are tested
        return _update(Path(submissions_dir), dataset, labels_dir, resamples, seed, progress)


def _update(root: Path, dataset: str, labels_dir, resamples: int, seed: int,
            progress: Progress) -> TiesRecord:
    from amge_eval.harness.records import SCORER_VERSION
    from amge_eval.harness.scoring import compare_files

    dataset_dir = root / dataset
    entries = (load_store(root).get(dataset, []) if dataset_dir.is_dir()
               and entry_dirs(dataset_dir) else [])
    leader = leader_of(entries)
    old = read_ties(dataset_dir)
    out = TiesRecord(dataset=dataset, key=RANK_KEY, ci="activity", level=bs.DEFAULT_LEVEL,
                     resamples=resamples, seed=seed, scorer_version=SCORER_VERSION,
                     leader=_party(leader) if leader else None, entries={})
    reuse = old is not None and old.settings() == out.settings() and old.leader == out.leader
    others = [e for e in entries if e.has_predictions and leader and e.slug != leader.slug]
    progress.start("paired tests", total=len(others))
    for e in others:
        cached = old.entries.get(e.slug) if reuse else None
        if cached and cached.sha256 == e.prediction_sha256 \
                and cached.label_fingerprints == e.record.label_fingerprints:
            out.entries[e.slug] = cached
            progress.advance("paired tests")
            continue
        cmp = compare_files(e.path / PREDICTIONS_DIR, leader.path / PREDICTIONS_DIR,
                            dataset=dataset, labels_dir=labels_dir, ci_kind="activity",
                            resamples=resamples, seed=seed)
        row = next((r for r in cmp.rows if r.key == RANK_KEY), None)
        if row is not None and not math.isnan(row.p_value):
            low, high = 100 * row.interval.low, 100 * row.interval.high
            out.entries[e.slug] = TieResult(
                sha256=e.prediction_sha256, label_fingerprints=e.record.label_fingerprints,
                diff=round(100 * row.diff, 6), low=round(low, 6), high=round(high, 6),
                p_value=row.p_value, tied=bool(low <= 0.0 <= high))
        progress.advance("paired tests")
    progress.finish("paired tests")
    if dataset_dir.is_dir() and out != old:
        with Transaction.begin(root) as txn:
            txn.stage_file(f"{dataset}/{TIES_FILE}", out.to_json())
            txn.commit()
    return out
