"""The board of each dataset: ranked rows with their numbers, intervals, tie status and warnings.

The site and the exports render the same Board, so they cannot disagree.

Ranking (docs/leaderboard.md, "Ranking and ties"): rows are ordered by test_a (the papers'
headline number), highest first. Entries whose test_a agree to the one decimal shown share a
rank ("1, 2, 2, 4"); within a rank, the higher test_u comes first, then the name. Rows without
test_a come last, unranked.

Statistical ties: every scored entry is compared with the leader (the best scored entry) by a
paired activity-cluster bootstrap of the test_a difference (store.update_ties, which calls
harness.scoring.compare_files); the entry is tied when the 95% interval of the difference
contains 0. Reported rows have no predictions and cannot be tested.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.progress import NULL_PROGRESS, Progress

from .reported import consistency_warnings
from .store import GAP_KEYS, KEYS, Entry, leader_of, load_store, ranks, read_ties

TIE_TEXT: dict[str, str] = {
    "leader": "best scored entry: the others are tested against it",
    "tied": "statistically tied with the leader (95% interval of the test_a difference "
            "contains 0)",
    "behind": "below the leader (95% interval of the test_a difference excludes 0)",
    "untestable": "reported numbers: no predictions, so no paired test is possible",
    "untested": "not tested against the current leader yet (run `amge-eval leaderboard rescore`)",
}

# The short mark each tie state shows in tables.
TIE_LABEL: dict[str, str] = {"leader": "leader", "tied": "tied", "behind": "below",
                             "untestable": "n/a", "untested": "not run"}


@dataclass
class Row:
    entry: Entry
    rank: int | None
    values: dict[str, float | None]  # KEYS + GAP_KEYS, mAP %
    intervals: dict[str, tuple[float, float] | None]
    tie: str  # a TIE_TEXT key
    tie_detail: dict | None  # diff, low, high, p_value of (entry - leader) when tested
    warnings: list[str] = field(default_factory=list)

    @property
    def tie_text(self) -> str:
        text = TIE_TEXT[self.tie]
        d = self.tie_detail
        if d:
            text += (f"; difference {d['diff']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}], "
                     f"p = {d['p_value']:.3g}")
        return text


@dataclass
class Board:
    dataset: str
    title: str
    paper_version: str
    rows: list[Row]
    leader: str | None  # slug of the tie-test leader
    ties: dict | None  # ties.json as read

    @property
    def families(self) -> list[str]:
        return sorted({r.entry.family for r in self.rows})

    @property
    def statuses(self) -> list[str]:
        return sorted({r.entry.status for r in self.rows})


def _card(dataset: str) -> tuple[str, str]:
    from amge_eval.harness.datasets import get_card
    from amge_eval.harness.errors import AmgeError

    try:
        card = get_card(dataset)
        return card.title, card.paper_version
    except AmgeError:
        return dataset, ""


def build_board(dataset: str, entries: list[Entry], ties: dict | None) -> Board:
    from amge_eval.harness.records import SCORER_VERSION

    rank_of = ranks(entries)
    leader = leader_of(entries)
    ties_ok = bool(ties and leader and ties.get("leader")
                   and ties["leader"].get("entry") == leader.slug
                   and ties["leader"].get("sha256") == leader.prediction_sha256)
    rows = []
    for e in entries:
        values = e.values()
        detail = None
        if not e.has_predictions:
            tie = "untestable"
        elif leader is not None and e.slug == leader.slug:
            tie = "leader"
        else:
            got = (ties.get("entries") or {}).get(e.slug) if ties_ok else None
            if got and got.get("sha256") == e.prediction_sha256:
                tie = "tied" if got.get("tied") else "behind"
                detail = {k: got[k] for k in ("diff", "low", "high", "p_value")}
            else:
                tie = "untested"
        warnings = consistency_warnings(values) if e.status == "reported" else []
        if e.record is not None and e.record.get("scorer_version") != SCORER_VERSION:
            warnings.append(f"scored with scorer {e.record.get('scorer_version')}; this is "
                            f"{SCORER_VERSION}: run `amge-eval leaderboard rescore`")
        rows.append(Row(e, rank_of[e.slug], values, e.intervals(), tie, detail, warnings))

    def order(r: Row):
        u = r.values["test_u"]
        return (r.rank is None, r.rank or 0, -(u if u is not None else -1.0),
                r.entry.name.casefold(), r.entry.slug)

    rows.sort(key=order)
    title, version = _card(dataset)
    return Board(dataset, title, version, rows, leader.slug if leader else None, ties)


def load_boards(submissions_dir: str | os.PathLike,
                progress: Progress = NULL_PROGRESS) -> list[Board]:
    """One Board per dataset folder that holds entries, in dataset-name order."""
    store = load_store(submissions_dir, progress=progress)
    root = Path(submissions_dir)
    return [build_board(ds, entries, read_ties(root / ds))
            for ds, entries in sorted(store.items()) if entries]


# Column headers of the six table cells, as the papers print them.
HEADERS: dict[str, str] = {"val_s": "Val_s", "val_u": "Val_u", "val_a": "Val_a",
                           "test_s": "Test_s", "test_u": "Test_u", "test_a": "Test_a",
                           "val_gap": "Val gap", "test_gap": "Gap (s-u)"}
CELL_KEYS = KEYS
ALL_KEYS = (*KEYS, *GAP_KEYS)
