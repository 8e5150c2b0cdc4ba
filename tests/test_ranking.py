"""The one ranking definition (leaderboard/ranking.py): board order, ranks and the tie-test leader
can never disagree."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.harness.records import SCORER_VERSION, EntryMeta, Environment, ScoreRecord
from amge_eval.harness.records.entry import Reported
from amge_eval.harness.records.score import CISettings, PredictionsInfo, SummaryCell
from amge_eval.leaderboard.entries import Entry
from amge_eval.leaderboard.ranking import leader_of, ordered, ranks, shown
from amge_eval.leaderboard.table import build_board


def _entry(slug: str, test_a: float, test_u: float, scored: bool = True) -> Entry:
    test_s = 2 * test_a - test_u
    meta = dict(entry_version=1, name=slug.upper(), dataset="synth", family="other", authors=[],
                modalities_train=["rgb"], modalities_test=["rgb"], training_data="t",
                pretraining="none")
    if not scored:
        rep = Reported(paper_version="v1", table="Table 2", val_s=0.0, val_u=0.0, val_a=0.0,
                       test_s=test_s, test_u=test_u, test_a=test_a)
        return Entry("synth", slug, Path(slug), EntryMeta(status="reported", reported=rep, **meta))
    record = ScoreRecord(
        scorer_version=SCORER_VERSION, amge_eval_version="0", protocol="p", protocol_text="p",
        created="2026-11-30T00:00:00+00:00", dataset="synth", dataset_paper_version="synthetic",
        predictions=PredictionsInfo(path="predictions", sha256=f"{len(slug):064x}",
                                    format="dir", notes=[]),
        ci=CISettings(kinds=["activity"], shown="activity", level=0.95, resamples=100, seed=0,
                      method="bca", resampling={}),
        splits={}, environment=Environment(python="3.11", platform="test"),
        summary={k: SummaryCell(value=v, intervals={})
                 for k, v in (("test_s", test_s), ("test_u", test_u), ("test_a", test_a))})
    return Entry("synth", slug, Path(slug), EntryMeta(status="verified", **meta), record)


def test_the_leader_badge_sits_on_the_first_row():
    # The review's case: both show test_a 62.5; B has the higher test_u, so B is listed first,
    # and B (not A, whose unrounded test_a is higher) is the leader.
    a, b = _entry("a", 62.54, 60.0), _entry("b", 62.46, 70.0)
    board = build_board("synth", [a, b], None)
    assert [r.entry.slug for r in board.rows] == ["b", "a"]
    assert leader_of([a, b]).slug == "b" == board.leader
    assert [r.tie for r in board.rows] == ["leader", "untested"]
    assert ranks([a, b]) == {"a": 1, "b": 1}


def test_reported_rows_rank_but_never_lead():
    paper, mine = _entry("paper", 90.0, 80.0, scored=False), _entry("mine", 50.0, 40.0)
    board = build_board("synth", [mine, paper], None)
    assert [r.entry.slug for r in board.rows] == ["paper", "mine"]
    assert board.leader == "mine" and [r.rank for r in board.rows] == [1, 2]
    assert [r.tie for r in board.rows] == ["untestable", "leader"]


_rows = st.lists(st.tuples(st.floats(0, 100, allow_nan=False), st.floats(0, 100, allow_nan=False),
                           st.booleans()), min_size=1, max_size=12)


@given(_rows)
@settings(max_examples=300, deadline=None)
def test_order_ranks_and_leader_agree(rows):
    entries = [_entry(f"e{i:02d}", a, u, scored) for i, (a, u, scored) in enumerate(rows)]
    board = build_board("synth", entries, None)
    order = [r.entry.slug for r in board.rows]
    assert order == [e.slug for e in ordered(entries)]
    shown_a = [shown(r.values["test_a"]) for r in board.rows]
    assert shown_a == sorted(shown_a, reverse=True)  # highest shown test_a first
    assert [r.rank for r in board.rows] == sorted(r.rank for r in board.rows)
    for r1, r2 in zip(board.rows, board.rows[1:]):
        if shown(r1.values["test_a"]) == shown(r2.values["test_a"]):
            assert r1.rank == r2.rank
            assert shown(r1.values["test_u"]) >= shown(r2.values["test_u"])
        else:
            assert r2.rank == 1 + sum(1 for r in board.rows if shown(r.values["test_a"])
                                      > shown(r2.values["test_a"]))
    scored = [r for r in board.rows if r.entry.has_predictions]
    assert board.leader == (scored[0].entry.slug if scored else None)
    assert [r.tie for r in board.rows].count("leader") == (1 if scored else 0)
