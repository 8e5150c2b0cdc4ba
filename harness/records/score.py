"""Score and compare records: what `amge-eval score --json` and `compare --json` write, what the
runner leaves as ``scores.json``, and what the leaderboard reads.

``SCHEMA_VERSION`` changes when a field is added, removed or changes meaning; ``SCORER_VERSION``
changes whenever a number the scorer produces could change for the same inputs (metric, masking,
bootstrap scheme, seeding). ``PROTOCOL`` names the papers' evaluation protocol. docs/formats.md
documents every field, nested ones included (a test checks).

All AP and mAP values are percentages (0-100), as in the papers' tables; NaN is written as null.
Paths are never absolute: the scored file is named by its base name, each split's scores by their
path relative to the folder holding the scored file, and labels relative to the label store.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal

import msgspec

from amge_eval import __version__

from ..muscles import MUSCLE_IDS, MUSCLES, NUM_MUSCLES
from ..vocab import EVAL_SPLITS, SUMMARY_KEYS
from .base import Count, Environment, Percent, Record, Sha256, SignedPercent, environment

SCHEMA_VERSION = "2.1"  # 2.1: per-activity AP of each split; seed sets
SCORER_VERSION = "1.1.0"  # 1.1.0: compare's p-value is read off the BCa interval itself
PROTOCOL = "musclemap-masked-map/v1"
PROTOCOL_TEXT = ("masked mAP as PySlowFast get_map: per split, drop muscles with no positive, "
                 "scikit-learn step AP per muscle, unweighted mean; val_a/test_a = mean of seen "
                 "and unseen; gap = seen - unseen")
CI_METHOD = ("bca (bias-corrected and accelerated percentile; jackknife over the resampling "
             "units)")
RESAMPLING = {"activity": "activities drawn with replacement (label vectors where activities are "
                          "unknown)",
              "sample": "samples drawn with replacement"}
P_VALUE = ("two-sided, from the BCa interval: the largest alpha whose (1 - alpha) interval "
           "contains 0, floored at 1/(R + 1); p < 1 - level exactly when the interval excludes 0")


class IntervalRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    low: SignedPercent | None  # lower end, % (null when no replicate was scorable)
    high: SignedPercent | None  # upper end, %
    se: float | None  # standard deviation of the replicates, %
    method: str  # "bca" or "percentile"
    degenerate_replicates: Count  # replicates with no scorable muscle, left out


class MuscleRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    muscle: str  # muscle id (harness/muscles.py), in label order
    ap: Percent | None  # AP in %, null when not scored
    n_pos: Count  # positive samples of this muscle in the split
    scored: bool  # False when the split has no positive (the column is dropped)
    region: str  # body region of the muscle


class ActivityRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    activity: str
    ap: Percent | None  # activity AP (harness.metric.activity_ap), %
    n_samples: Count  # the activity's clips in the split


class SplitRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    n_samples: Count
    cluster_kind: Literal["activity", "label-vector"]  # what the activity bootstrap resamples
    n_clusters: Count
    label_fingerprint: Sha256  # sha256 of the split's labels (harness/labels.py)
    labels: str  # the split's label file, relative to the label store: "<dataset>/<split>.csv"
    source: str  # where the scores came from, relative to the scored file's folder
    map: Percent | None  # masked mAP, %
    intervals: dict[str, IntervalRecord]  # interval kind ("activity", "sample") -> interval
    n_scored: Count  # muscles scored (with a positive)
    per_muscle: list[MuscleRecord]  # the 20 muscles in label order
    regions: dict[str, Percent | None]  # mean AP of the scored muscles of each body region
    per_activity: list[ActivityRecord] = []  # worst first; empty when activities are unknown


class SummaryCell(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    value: SignedPercent | None  # %, seen - unseen for the gaps; a seed set's mean over seeds
    intervals: dict[str, IntervalRecord]
    seed_values: list[SignedPercent | None] = []  # a seed set: the value of each seed, in order

    def spread(self) -> float | None:
        """Sample standard deviation over the seeds (None for fewer than two)."""
        vals = [v for v in self.seed_values if v is not None]
        if len(vals) < 2:
            return None
        mean = sum(vals) / len(vals)
        return (sum((v - mean) ** 2 for v in vals) / (len(vals) - 1)) ** 0.5


class PredictionsInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    path: str  # base name of the scored file or folder ("<memory>" for in-memory predictions)
    sha256: Sha256  # of the file; of a folder: over its sorted "name<TAB>sha256" member lines
    format: Literal["npz", "csv", "dir", "memory", "seeds"]
    notes: list[str]  # e.g. score columns realigned to label order by their names
    members: dict[str, Sha256] = {}  # folder member -> sha256


class CISettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    kinds: list[Literal["activity", "sample"]]  # interval kinds computed
    shown: Literal["activity", "sample"] | None  # the kind tables and the board show
    level: float  # 0.95
    resamples: Count
    seed: int
    method: str
    resampling: dict[str, str]  # kind -> what a resample draws
    p_value: str | None = None  # compare records: how the p-value is defined


class ScoreRecord(Record, kw_only=True, forbid_unknown_fields=True):
    """The result of scoring one prediction file (or folder) against the label store."""

    KIND: ClassVar[str] = "score"
    VERSION: ClassVar[str] = SCHEMA_VERSION

    schema_version: str = SCHEMA_VERSION
    kind: Literal["score"] = "score"
    scorer_version: str  # version of the scoring code; changes whenever a number could
    amge_eval_version: str
    protocol: str  # evaluation protocol id
    protocol_text: str  # the protocol in words
    created: str  # UTC time, ISO 8601
    dataset: str  # dataset card name
    dataset_paper_version: str  # v1, v2 or synthetic
    predictions: PredictionsInfo
    ci: CISettings
    splits: dict[str, SplitRecord]  # evaluation split -> its result
    summary: dict[str, SummaryCell]  # val_s ... test_gap that the splits allow
    environment: Environment
    seeds: list[int] = []  # a seed set: the training seeds its numbers average over

    def check(self) -> list[tuple[str, str]]:
        out = []
        for split, s in self.splits.items():
            if split not in EVAL_SPLITS:
                out.append((f"splits.{split}", f"{split!r} is not an evaluation split"))
            elif [m.muscle for m in s.per_muscle] != list(MUSCLE_IDS):
                out.append((f"splits.{split}.per_muscle",
                            f"must list the {NUM_MUSCLES} muscles in label order"))
        out += [(f"summary.{k}", f"{k!r} is not a summary key") for k in self.summary
                if k not in SUMMARY_KEYS]
        return out

    def value(self, key: str) -> float | None:
        cell = self.summary.get(key)
        return cell.value if cell else None

    def interval(self, key: str, kind: str | None = None) -> tuple[float, float] | None:
        """(low, high) of a summary cell for ``kind`` (default: the shown kind), in %."""
        cell = self.summary.get(key)
        iv = cell.intervals.get(kind or self.ci.shown or "") if cell else None
        if iv is None or iv.low is None or iv.high is None:
            return None
        return iv.low, iv.high

    @property
    def label_fingerprints(self) -> dict[str, str]:
        return {s: v.label_fingerprint for s, v in self.splits.items()}

    @classmethod
    def from_report(cls, report, shown_ci: str | None = None) -> ScoreRecord:
        """The record of a harness.scoring.ScoreReport."""
        shown = shown_ci or (report.ci_kinds[0] if report.ci_kinds else None)
        base = Path(report.predictions.path).parent
        return cls(
            scorer_version=SCORER_VERSION, amge_eval_version=__version__, protocol=PROTOCOL,
            protocol_text=PROTOCOL_TEXT, created=_now(), dataset=report.dataset,
            dataset_paper_version=report.card.paper_version,
            predictions=predictions_info(report.predictions, report.notes),
            ci=CISettings(kinds=list(report.ci_kinds), shown=shown, level=report.level,
                          resamples=report.resamples, seed=report.seed, method=CI_METHOD,
                          resampling=dict(RESAMPLING)),
            splits={k: split_record(v, report.dataset, base) for k, v in report.splits.items()},
            summary={k: SummaryCell(value=pct(v.value), intervals={
                ci: interval_record(iv) for ci, iv in v.intervals.items()},
                seed_values=[pct(x) for x in report.seed_values.get(k, [])])
                for k, v in report.summary.items()},
            environment=environment(), seeds=list(report.seeds))


class CompareSide(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    predictions: PredictionsInfo
    summary: dict[str, SummaryCell]


class DifferenceRecord(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    key: str  # val_s ... test_a
    a: SignedPercent | None
    b: SignedPercent | None
    diff: SignedPercent | None  # a - b, %
    interval: IntervalRecord  # paired bootstrap interval of a - b
    p_value: float | None  # two-sided, see ci.p_value; null when no interval can be formed


class CompareRecord(Record, kw_only=True, forbid_unknown_fields=True):
    """A paired comparison of two prediction files (A - B) on the same labels."""

    KIND: ClassVar[str] = "compare"
    VERSION: ClassVar[str] = SCHEMA_VERSION

    schema_version: str = SCHEMA_VERSION
    kind: Literal["compare"] = "compare"
    scorer_version: str
    amge_eval_version: str
    protocol: str
    created: str
    dataset: str
    ci: CISettings
    a: CompareSide
    b: CompareSide
    differences: list[DifferenceRecord]
    only_in_a: list[str]  # splits scored for A only (not compared)
    only_in_b: list[str]
    environment: Environment

    @classmethod
    def from_report(cls, cmp) -> CompareRecord:
        """The record of a harness.scoring.CompareReport."""
        a, b = ScoreRecord.from_report(cmp.a), ScoreRecord.from_report(cmp.b)
        ci = msgspec.structs.replace(a.ci, kinds=[cmp.ci_kind], shown=cmp.ci_kind,
                                     p_value=P_VALUE)
        return cls(
            scorer_version=SCORER_VERSION, amge_eval_version=__version__, protocol=PROTOCOL,
            created=a.created, dataset=cmp.dataset, ci=ci,
            a=CompareSide(predictions=a.predictions, summary=a.summary),
            b=CompareSide(predictions=b.predictions, summary=b.summary),
            differences=[DifferenceRecord(key=r.key, a=pct(r.a), b=pct(r.b), diff=pct(r.diff),
                                          interval=interval_record(r.interval),
                                          p_value=None if math.isnan(r.p_value) else r.p_value)
                         for r in cmp.rows],
            only_in_a=list(cmp.only_in_a), only_in_b=list(cmp.only_in_b),
            environment=a.environment)


# --------------------------------------------------------------------------- builders

def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def pct(x) -> float | None:
    """A fraction as a JSON-safe percentage: NaN becomes None."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else round(100.0 * x, 6)


def interval_record(iv) -> IntervalRecord:
    return IntervalRecord(low=pct(iv.low), high=pct(iv.high), se=pct(iv.se), method=iv.method,
                          degenerate_replicates=iv.degenerate)


def relative_source(source: str, base: Path) -> str:
    """A split's source ("<dir>/test_seen.npz", "<file>[test_seen]") relative to ``base``."""
    prefix = str(base)
    if prefix not in ("", ".") and source.startswith(prefix + "/"):
        return source[len(prefix) + 1:]
    return source if not Path(source).is_absolute() else Path(source).name


def predictions_info(pf, notes=()) -> PredictionsInfo:
    return PredictionsInfo(path=Path(pf.path).name or str(pf.path), sha256=pf.sha256,
                           format=pf.format, notes=list(notes),
                           members=dict(sorted(pf.members.items())))


def split_record(s, dataset: str, base: Path) -> SplitRecord:
    return SplitRecord(
        n_samples=s.n_samples, cluster_kind=s.cluster_kind, n_clusters=s.n_clusters,
        label_fingerprint=s.label_fingerprint, labels=f"{dataset}/{s.split}.csv",
        source=relative_source(s.source, base), map=pct(s.map),
        intervals={k: interval_record(v) for k, v in s.intervals.items()},
        n_scored=int(s.scored.sum()),
        per_muscle=[MuscleRecord(muscle=m.id, ap=pct(s.ap[m.index]), n_pos=int(s.n_pos[m.index]),
                                 scored=bool(s.scored[m.index]), region=m.region)
                    for m in MUSCLES],
        regions={r: pct(v) for r, v in s.regions.items()},
        per_activity=[ActivityRecord(activity=a, ap=pct(ap), n_samples=n)
                      for a, (ap, n) in s.per_activity.items()])
