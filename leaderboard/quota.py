"""The per-team quota of test-split scorings on datasets with private labels.

Every scoring against private held-out labels tells its submitter something about them; a team
that could score without limit could learn the labels by probing. So on a dataset whose card
says ``labels = "private"`` (or that ``submissions/quota.toml`` lists), an entry must name its
``team``, and a team may have at most ``scorings`` test-split scorings in any rolling window of
``window_days`` days. The scorings are kept in ``submissions/<dataset>/quota.json``
(harness.records.QuotaLedger), committed with the board.

The quota file (``submissions/quota.toml``)::

    scorings = 3        # at most this many scorings per team and dataset ...
    window_days = 30    # ... in any rolling window of this many days

    [datasets.musclemap136]   # optional: another rule for one dataset
    scorings = 5

Submit calls ``QuotaPolicy.admit`` before it scores (a refusal leaves the store untouched) and
``QuotaPolicy.record`` after the entry is committed. The check and the record are not one
transaction; CI runs one scoring job at a time (a concurrency group), so they cannot interleave.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import msgspec

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.records import EntryMeta, QuotaLedger, QuotaScoring, RecordInvalid, team_key
from amge_eval.harness.schema import convert

QUOTA_FILE = "quota.toml"  # in the submissions folder
LEDGER_FILE = "quota.json"  # in each dataset's folder
Positive = Annotated[int, msgspec.Meta(ge=1)]


class QuotaRule(msgspec.Struct, forbid_unknown_fields=True):
    scorings: Positive | None = None  # scorings a team may have in the window
    window_days: Positive | None = None  # length of the rolling window, days


class QuotaFile(msgspec.Struct, forbid_unknown_fields=True):
    """The keys of ``submissions/quota.toml``."""

    scorings: Positive = 3
    window_days: Positive = 30
    datasets: dict[str, QuotaRule] = {}


@dataclass(frozen=True)
class Limit:
    scorings: int
    window_days: int


def read_quota_file(path: str | os.PathLike) -> QuotaFile:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AmgeError(f"No quota file at {path}; create it (docs/leaderboard.md, \"Private "
                        f"labels\") or pass --quota FILE", code="E918") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AmgeError(f"Quota file {path} is unreadable: {exc}", code="E918") from exc
    return convert(QuotaFile, data, code="E918", source=f"Quota file {path}")


def read_ledger(dataset_dir: Path, dataset: str) -> QuotaLedger:
    """The dataset's ledger; an empty one when absent. A broken ledger is an error (E918), never
    silently reset: it is what the quota counts."""
    path = dataset_dir / LEDGER_FILE
    if not path.is_file():
        return QuotaLedger(dataset=dataset, scorings=[])
    ledger = QuotaLedger.read(path)
    if ledger.dataset != dataset:
        raise RecordInvalid(f"the ledger of dataset {ledger.dataset!r} is in the folder of "
                            f"{dataset!r}", str(path), "dataset", code="E918")
    return ledger


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class QuotaPolicy:
    """The quota rule of each dataset and the ledgers it is counted in."""

    config: QuotaFile
    clock: Callable[[], datetime] = _now
    private: Callable[[str], bool] | None = None  # dataset -> labels private (default: its card)

    @classmethod
    def from_file(cls, path: str | os.PathLike, clock: Callable[[], datetime] = _now
                  ) -> QuotaPolicy:
        return cls(read_quota_file(path), clock)

    def _private(self, dataset: str) -> bool:
        if self.private is not None:
            return self.private(dataset)
        from amge_eval.harness.datasets import get_card

        try:
            return get_card(dataset).labels == "private"
        except AmgeError:
            return False

    def limit(self, dataset: str) -> Limit | None:
        """The dataset's rule; None when it has no quota (public labels, not listed)."""
        rule = self.config.datasets.get(dataset)
        if rule is None and not self._private(dataset):
            return None
        rule = rule or QuotaRule()
        return Limit(rule.scorings or self.config.scorings,
                     rule.window_days or self.config.window_days)

    def used(self, ledger: QuotaLedger, team: str, limit: Limit, now: datetime
             ) -> list[QuotaScoring]:
        since = now - timedelta(days=limit.window_days)
        key = team_key(team)
        return [s for s in ledger.scorings
                if s.team_key == key and datetime.fromisoformat(s.at) > since]

    def admit(self, submissions_dir: str | os.PathLike, meta: EntryMeta) -> None:
        """Raise (E916, E917, E918) unless ``meta``'s team may have one more scoring now."""
        limit = self.limit(meta.dataset)
        if limit is None:
            return
        if not meta.team:
            raise AmgeError(f"{meta.dataset} has private labels and a quota of {limit.scorings} "
                            f"test-split scorings per team in {limit.window_days} days: add "
                            f"team = \"...\" to the entry file (docs/leaderboard.md)",
                            code="E916")
        now = self.clock()
        ledger = read_ledger(Path(submissions_dir) / meta.dataset, meta.dataset)
        used = self.used(ledger, meta.team, limit, now)
        if len(used) >= limit.scorings:
            oldest = min(datetime.fromisoformat(s.at) for s in used)
            free = (oldest + timedelta(days=limit.window_days)).astimezone(UTC)
            raise AmgeError(f"Team {meta.team!r} has used its {limit.scorings} test-split "
                            f"scorings on {meta.dataset} in the last {limit.window_days} days "
                            f"({', '.join(s.entry for s in used)}); the next one is possible after "
                            f"{free.isoformat(timespec='minutes')}. The submission stays pending "
                            f"until then", code="E917")

    def ledger_with(self, submissions_dir: str | os.PathLike, meta: EntryMeta, entry: str,
                    sha256: str, splits: list[str]) -> QuotaLedger | None:
        """The dataset's ledger with one more scoring, to commit together with the entry (submit
        stages it in the entry's transaction, under the store's lock); None without a quota."""
        limit = self.limit(meta.dataset)
        if limit is None or not meta.team:
            return None
        ledger = read_ledger(Path(submissions_dir) / meta.dataset, meta.dataset)
        ledger.scorings.append(QuotaScoring(
            team=meta.team, team_key=team_key(meta.team), entry=entry,
            at=self.clock().astimezone(UTC).isoformat(timespec="seconds"), sha256=sha256,
            splits=sorted(s for s in splits if s.startswith("test"))))
        return ledger
