"""The rescore report (``submissions/_reports/rescore-<UTC time>.json``): which entries a
`leaderboard rescore` rewrote, why, and how ranks moved. Written by leaderboard/rescore.py when
the scorer version or a label fingerprint changed; kept for maintainers."""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from .base import Record

RESCORE_SCHEMA_VERSION = "1.0"


class RankMove(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    dataset: str
    entry: str  # slug
    name: str
    old_rank: int | None  # None = unranked
    new_rank: int | None
    old_value: float | None  # the ranking key before, %
    new_value: float | None


class RescoreRecord(Record, kw_only=True, forbid_unknown_fields=True):
    KIND: ClassVar[str] = "rescore"
    VERSION: ClassVar[str] = RESCORE_SCHEMA_VERSION

    schema_version: str = RESCORE_SCHEMA_VERSION
    kind: Literal["rescore"] = "rescore"
    created: str  # UTC time, ISO 8601
    rescored: list[str]  # "<dataset>/<entry>" whose record was rewritten
    unchanged: list[str]
    skipped: dict[str, str]  # "<dataset>/<entry>" -> why (labels absent, ...)
    reasons: dict[str, list[str]]  # "<dataset>/<entry>" -> what changed
    moves: list[RankMove]
