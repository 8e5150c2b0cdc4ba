"""Result records: the versioned JSON that every score leaves behind.

``SCHEMA_VERSION`` changes when a field is added, removed or changes meaning; ``SCORER_VERSION``
changes whenever a number the scorer produces could change for the same inputs (metric, masking,
bootstrap scheme, seeding). ``PROTOCOL`` names the papers' evaluation protocol. docs/formats.md
documents every field; ``RESULT_FIELDS`` below is the same list, and a test checks that the two
and the written records agree.

All AP and mAP values in records are percentages (0-100), as in the papers' tables.
"""

from __future__ import annotations

import math
import platform
import sys
from datetime import UTC, datetime

from amge_eval import __version__

from .muscles import MUSCLES

SCHEMA_VERSION = "1.0"
SCORER_VERSION = "1.0.0"
PROTOCOL = "musclemap-masked-map/v1"
PROTOCOL_TEXT = ("masked mAP as PySlowFast get_map: per split, drop muscles with no positive, "
                 "scikit-learn step AP per muscle, unweighted mean; val_a/test_a = mean of seen "
                 "and unseen; gap = seen - unseen")

# Top-level fields of a result record, each with its meaning (mirrored in docs/formats.md).
RESULT_FIELDS: dict[str, str] = {
    "schema_version": "version of this record layout",
    "kind": "'score' for `amge-eval score`, 'compare' for `amge-eval compare`",
    "scorer_version": "version of the scoring code; changes whenever a number could change",
    "amge_eval_version": "installed amge-eval package version",
    "protocol": "evaluation protocol id",
    "protocol_text": "the protocol in words",
    "created": "UTC time the record was made (ISO 8601)",
    "dataset": "dataset card name",
    "dataset_paper_version": "which paper version the dataset belongs to (v1, v2, synthetic)",
    "predictions": "path, sha256, format and notes of the scored file (and member hashes for a directory)",
    "ci": "interval settings: kinds computed, kind shown, level, resamples, seed, method",
    "splits": "per split: samples, clusters, label fingerprint, mAP, intervals, per-muscle AP",
    "summary": "the papers' table cells present (val_s ... test_gap), each with intervals",
    "environment": "python, platform and library versions that produced the record",
}


def _num(x) -> float | None:
    """A JSON-safe percentage: NaN becomes null."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else round(100.0 * x, 6)


def _interval(iv) -> dict:
    return {"low": _num(iv.low), "high": _num(iv.high), "se": _num(iv.se),
            "method": iv.method, "degenerate_replicates": iv.degenerate}


def _versions() -> dict:
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for dist in ("numpy", "scikit-learn", "torch"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def _predictions(pf, notes=()) -> dict:
    out = {"path": str(pf.path), "sha256": pf.sha256, "format": pf.format, "notes": list(notes)}
    if pf.members:
        out["members"] = dict(sorted(pf.members.items()))
    return out


def split_record(s) -> dict:
    return {
        "n_samples": s.n_samples,
        "cluster_kind": s.cluster_kind,
        "n_clusters": s.n_clusters,
        "label_fingerprint": s.label_fingerprint,
        "label_path": s.label_path,
        "source": s.source,
        "map": _num(s.map),
        "intervals": {k: _interval(v) for k, v in s.intervals.items()},
        "n_scored": int(s.scored.sum()),
        "per_muscle": [
            {"muscle": m.id, "ap": _num(s.ap[m.index]), "n_pos": int(s.n_pos[m.index]),
             "scored": bool(s.scored[m.index]), "region": m.region}
            for m in MUSCLES
        ],
        "regions": {r: _num(v) for r, v in s.regions.items()},
    }


def result_record(report, shown_ci: str | None = None) -> dict:
    """The JSON-ready result record of a ScoreReport."""
    shown = shown_ci or (report.ci_kinds[0] if report.ci_kinds else None)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "score",
        "scorer_version": SCORER_VERSION,
        "amge_eval_version": __version__,
        "protocol": PROTOCOL,
        "protocol_text": PROTOCOL_TEXT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "dataset": report.dataset,
        "dataset_paper_version": report.card.paper_version,
        "predictions": _predictions(report.predictions, report.notes),
        "ci": {"kinds": list(report.ci_kinds), "shown": shown, "level": report.level,
               "resamples": report.resamples, "seed": report.seed,
               "method": "bca (bias-corrected and accelerated percentile; jackknife over the "
                         "resampling units)",
               "resampling": {"activity": "activities drawn with replacement (label vectors "
                                          "where activities are unknown)",
                              "sample": "samples drawn with replacement"}},
        "splits": {k: split_record(v) for k, v in report.splits.items()},
        "summary": {k: {"value": _num(v.value),
                        "intervals": {ci: _interval(iv) for ci, iv in v.intervals.items()}}
                    for k, v in report.summary.items()},
        "environment": _versions(),
    }


def compare_record(cmp) -> dict:
    a, b = result_record(cmp.a), result_record(cmp.b)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": "compare",
        "scorer_version": SCORER_VERSION,
        "amge_eval_version": __version__,
        "protocol": PROTOCOL,
        "created": a["created"],
        "dataset": cmp.dataset,
        "ci": {**a["ci"], "kinds": [cmp.ci_kind], "shown": cmp.ci_kind,
               "p_value": "two-sided, centred paired bootstrap: (1 + #{|d* - d| >= |d|}) / (R + 1)"},
        "a": {"predictions": a["predictions"], "summary": a["summary"]},
        "b": {"predictions": b["predictions"], "summary": b["summary"]},
        "differences": [{"key": r.key, "a": _num(r.a), "b": _num(r.b), "diff": _num(r.diff),
                         "interval": _interval(r.interval), "p_value": r.p_value}
                        for r in cmp.rows],
        "only_in_a": cmp.only_in_a,
        "only_in_b": cmp.only_in_b,
        "environment": a["environment"],
    }

