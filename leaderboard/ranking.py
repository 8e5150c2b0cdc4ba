"""The one ranking definition of the board. The site, the exports, the leader of the paired tie
tests and the rescore rank-change reports all use it, so they cannot disagree.

Rows are ordered by test_a as shown (rounded to one decimal), highest first. Rows whose shown
test_a agree share a rank (competition ranking: 1, 2, 2, 4) and are ordered by test_u as shown,
higher first (the papers' question is generalisation to unseen activities), then by name and
folder name. Rows without test_a come last, unranked. The leader, against whom every scored entry
is tested, is the first row of that order that has predictions: the leader badge always sits on
the highest scored row.
"""

from __future__ import annotations

from collections.abc import Mapping

from amge_eval.harness.vocab import RANK_KEY

from .entries import Entry

DIGITS = 1  # the board shows mAP to one decimal, as the papers do
TIE_BREAK = "test_u"


def shown(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def sort_key(entry: Entry, values: Mapping[str, float | None] | None = None) -> tuple:
    """The entry's place in the board order; ``values`` overrides its numbers (rescore)."""
    v = values if values is not None else entry.values()
    a, u = shown(v.get(RANK_KEY)), shown(v.get(TIE_BREAK))
    return (a is None, -(a or 0.0), u is None, -(u or 0.0), entry.name.casefold(), entry.slug)


def ordered(entries: list[Entry], values: Mapping[str, Mapping] | None = None) -> list[Entry]:
    """Entries in board order; ``values`` maps slug -> numbers that override an entry's own."""
    return sorted(entries, key=lambda e: sort_key(e, (values or {}).get(e.slug)))


def ranks(entries: list[Entry], values: Mapping[str, Mapping] | None = None
          ) -> dict[str, int | None]:
    """Competition ranks by shown test_a ("1, 2, 2, 4"); None for rows without test_a."""
    shown_a = {e.slug: shown(((values or {}).get(e.slug) or e.values()).get(RANK_KEY))
               for e in entries}
    return {slug: (None if a is None else
                   1 + sum(1 for o in shown_a.values() if o is not None and o > a))
            for slug, a in shown_a.items()}


def leader_of(entries: list[Entry]) -> Entry | None:
    """The first row of the board order that has predictions and a test_a."""
    return next((e for e in ordered(entries)
                 if e.has_predictions and e.values()[RANK_KEY] is not None), None)
