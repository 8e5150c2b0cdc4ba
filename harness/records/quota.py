"""The quota ledger (``submissions/<dataset>/quota.json``): every scoring of a team's predictions
on the test splits of a dataset with a submission quota.

Written by leaderboard/quota.py after each scoring that `amge-eval leaderboard score-pending` (or
a submit with a quota) commits, and read by it before the next one: a team may have at most the
configured number of scorings in any rolling window (docs/leaderboard.md, "Private labels").
"""

from __future__ import annotations

import unicodedata
from typing import ClassVar, Literal

import msgspec

from .base import Record, Sha256

QUOTA_SCHEMA_VERSION = "1.0"


def team_key(team: str) -> str:
    """The name a team is counted by: Unicode-normalised (NFKC), case-folded, letters and digits
    only, so ``ACME Lab``, ``acme-lab`` and ``Acme_Lab`` are one team. May be empty."""
    return "".join(c for c in unicodedata.normalize("NFKC", team).casefold() if c.isalnum())


class QuotaScoring(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    team: str  # the team as its entry file names it
    team_key: str  # what it is counted by (team_key())
    entry: str  # the entry folder the scoring produced
    at: str  # UTC time of the scoring, ISO 8601
    sha256: Sha256  # the scored predictions
    splits: list[str]  # the test splits scored


class QuotaLedger(Record, kw_only=True, forbid_unknown_fields=True):
    KIND: ClassVar[str] = "quota"
    VERSION: ClassVar[str] = QUOTA_SCHEMA_VERSION
    CODE: ClassVar[str] = "E918"

    schema_version: str = QUOTA_SCHEMA_VERSION
    kind: Literal["quota"] = "quota"
    dataset: str  # dataset card name
    scorings: list[QuotaScoring]  # oldest first

    def check(self) -> list[tuple[str, str]]:
        from datetime import datetime

        out = []
        for i, s in enumerate(self.scorings):
            try:
                t = datetime.fromisoformat(s.at)
                if t.tzinfo is None:
                    raise ValueError
            except ValueError:
                out.append((f"scorings[{i}].at", f"expected a UTC time (ISO 8601), got {s.at!r}"))
            if s.team_key != team_key(s.team):
                out.append((f"scorings[{i}].team_key", f"expected {team_key(s.team)!r} for team "
                                                       f"{s.team!r}, got {s.team_key!r}"))
        return out
