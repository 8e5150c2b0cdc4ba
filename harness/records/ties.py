"""The ties record (``submissions/<dataset>/ties.json``): each scored entry's paired bootstrap
test against the board's leader on the ranking key, cached per entry.

Written and read by leaderboard/ties.py. An entry is tied when the interval of (entry - leader)
contains 0, which is the case exactly when its p-value is at least 1 - level (both come from one
BCa construction, harness/bootstrap.py). A cached row is reused while the entry's and the
leader's predictions, their labels, the scorer and the test settings are unchanged.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import msgspec

from .base import Record, Sha256, SignedPercent

TIES_SCHEMA_VERSION = "2.0"


class TieParty(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    entry: str  # entry folder name (slug)
    sha256: Sha256  # of its prediction folder
    label_fingerprints: dict[str, Sha256]  # split -> labels it was scored on


class TieResult(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    sha256: Sha256  # the entry's predictions when tested
    label_fingerprints: dict[str, Sha256]
    diff: SignedPercent  # entry - leader on the key, %
    low: SignedPercent  # interval of the difference, %
    high: SignedPercent
    p_value: float
    tied: bool  # low <= 0 <= high


class TiesRecord(Record, kw_only=True, forbid_unknown_fields=True):
    KIND: ClassVar[str] = "ties"
    VERSION: ClassVar[str] = TIES_SCHEMA_VERSION

    schema_version: str = TIES_SCHEMA_VERSION
    kind: Literal["ties"] = "ties"
    dataset: str
    key: str  # the ranking key tested (test_a)
    ci: Literal["activity", "sample"]  # resampling unit
    level: float
    resamples: int
    seed: int
    scorer_version: str
    leader: TieParty | None  # None while no entry has predictions
    entries: dict[str, TieResult]  # entry slug -> its test against the leader

    def settings(self) -> tuple:
        """What a cached row depends on besides the two entries."""
        return (self.key, self.ci, self.level, self.resamples, self.seed, self.scorer_version)
