"""Every record that crosses a layer, typed, versioned and documented (docs/formats.md).

| record | file | written by | read by |
|---|---|---|---|
| ``ScoreRecord`` | ``score --json``, ``scores.json`` | harness.scoring via the CLI, the runner, submit | leaderboard |
| ``CompareRecord`` | ``compare --json`` | the CLI | users |
| ``RunRecord`` | ``run.json`` | baselines/runner.py | leaderboard (reproduced entries) |
| ``TiesRecord`` | ``submissions/<dataset>/ties.json`` | leaderboard/ties.py | leaderboard/table.py |
| ``EntryMeta`` | ``entry.toml`` | leaderboard/entries.py | leaderboard |
| ``RescoreRecord`` | ``submissions/_reports/rescore-*.json`` | leaderboard/rescore.py | maintainers |
| ``LabelManifest`` | ``labels/<dataset>/manifest.json`` | harness/private.py (``labels encrypt``) | harness/private.py |
| ``QuotaLedger`` | ``submissions/<dataset>/quota.json`` | leaderboard/quota.py | leaderboard/quota.py |

Each has ``to_json``/``from_json`` (``EntryMeta``: TOML through leaderboard/entries.py) and a
schema version; readers refuse unknown keys and name the failing field by its path.
"""

from .base import Environment, Record, RecordInvalid, environment, field_paths
from .entry import ENTRY_VERSION, EntryMeta, Reported
from .private import EncryptedSplit, LabelManifest
from .quota import QuotaLedger, QuotaScoring, team_key
from .rescore import RankMove, RescoreRecord
from .run import RUN_SCHEMA_VERSION, RunRecord
from .score import (
    PROTOCOL,
    SCHEMA_VERSION,
    SCORER_VERSION,
    CompareRecord,
    ScoreRecord,
)
from .ties import TiesRecord

__all__ = ["ENTRY_VERSION", "PROTOCOL", "RUN_SCHEMA_VERSION", "SCHEMA_VERSION", "SCORER_VERSION",
           "CompareRecord", "EncryptedSplit", "EntryMeta", "Environment", "LabelManifest",
           "QuotaLedger", "QuotaScoring", "RankMove", "Record", "RecordInvalid", "RescoreRecord",
           "Reported", "RunRecord", "ScoreRecord", "TiesRecord", "environment", "field_paths",
           "team_key"]
