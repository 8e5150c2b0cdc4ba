"""The board of each dataset: ranked rows with their numbers, intervals, tie status and warnings.

The site and the exports render the same Board, so they cannot disagree.

Rows are in the order and carry the ranks of the one ranking definition (leaderboard/ranking.py;
docs/leaderboard.md, "Ranking and ties"). Tie marks come from the paired tests against the leader
(leaderboard/ties.py); reported rows have no predictions and cannot be tested.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import TiesRecord

from .entries import Entry
from .ranking import leader_of, ordered, ranks
from .reported import consistency_warnings
from .store import Stores, load_store, store_roots
from .ties import read_ties

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
    values: dict[str, float | None]  # SUMMARY_KEYS, mAP %
    intervals: dict[str, tuple[float, float] | None]
    tie: str  # a TIE_TEXT key
    tie_detail: dict | None  # diff, low, high, p_value of (entry - leader) when tested
    warnings: list[str] = field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        """The training seeds a seed set's numbers average over (empty otherwise)."""
        return list(self.entry.record.seeds) if self.entry.record else []

    def spread(self, key: str) -> float | None:
        """Standard deviation of a seed set's value of ``key`` over its seeds, %."""
        cell = self.entry.record.summary.get(key) if self.entry.record else None
        return cell.spread() if cell else None

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
    ties: TiesRecord | None  # ties.json as read
    labels: str = "public"  # the card's labels: "private" (held out, scored by CI) or "public"

    @property
    def families(self) -> list[str]:
        return sorted({r.entry.family for r in self.rows})

    @property
    def statuses(self) -> list[str]:
        return sorted({r.entry.status for r in self.rows})


def _card(dataset: str) -> tuple[str, str, str]:
    from amge_eval.harness.datasets import get_card
    from amge_eval.harness.errors import AmgeError

    try:
        card = get_card(dataset)
        return card.title, card.paper_version, card.labels
    except AmgeError:
        return dataset, "", "public"


def build_board(dataset: str, entries: list[Entry], ties: TiesRecord | None) -> Board:
    from amge_eval.harness.records import SCORER_VERSION

    rank_of = ranks(entries)
    leader = leader_of(entries)
    ties_ok = bool(ties and leader and ties.leader and ties.leader.entry == leader.slug
                   and ties.leader.sha256 == leader.prediction_sha256)
    rows = []
    for e in ordered(entries):
        values = e.values()
        detail = None
        if not e.has_predictions:
            tie = "untestable"
        elif leader is not None and e.slug == leader.slug:
            tie = "leader"
        else:
            got = ties.entries.get(e.slug) if ties_ok else None
            if got and got.sha256 == e.prediction_sha256:
                tie = "tied" if got.tied else "behind"
                detail = {"diff": got.diff, "low": got.low, "high": got.high,
                          "p_value": got.p_value}
            else:
                tie = "untested"
        warnings = consistency_warnings(values) if e.status == "reported" else []
        if e.record is not None and e.record.scorer_version != SCORER_VERSION:
            warnings.append(f"scored with scorer {e.record.scorer_version}; this is "
                            f"{SCORER_VERSION}: run `amge-eval leaderboard rescore`")
        rows.append(Row(e, rank_of[e.slug], values, e.intervals(), tie, detail, warnings))
    title, version, labels = _card(dataset)
    return Board(dataset, title, version, rows, leader.slug if leader else None, ties, labels)


def load_boards(stores: Stores, progress: Progress = NULL_PROGRESS) -> list[Board]:
    """One Board per dataset that holds entries, in dataset-name order. With several stores
    (leaderboard/store.py), each dataset's ties come from the last store that has them."""
    store = load_store(stores, progress=progress)
    roots = store_roots(stores)

    def ties(ds: str) -> TiesRecord | None:
        found = [t for t in (read_ties(r / ds) for r in roots) if t is not None]
        return found[-1] if found else None

    return [build_board(ds, entries, ties(ds)) for ds, entries in sorted(store.items()) if entries]


# Column headers of the table cells, as the papers print them.
HEADERS: dict[str, str] = {"val_s": "Val_s", "val_u": "Val_u", "val_a": "Val_a",
                           "test_s": "Test_s", "test_u": "Test_u", "test_a": "Test_a",
                           "val_gap": "Val gap", "test_gap": "Gap (s-u)"}
