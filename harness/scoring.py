"""Score prediction files against the label store: validation, masked mAP, intervals, comparison.

One call per CLI command: ``validate_file``, ``score_file``, ``compare_files``. Each reads the
prediction file(s) read-only, collects every problem before raising ``ValidationFailed``, and
writes nothing (result records are written by ``harness.records`` on request).

``score_arrays`` scores in-memory predictions (the Python API's ``amge_eval.score``). Reading is
the only step that differs: the arrays become the ``PredictionFile`` a file of them would read
as, and from there ``score_file`` and ``score_arrays`` run one function (``_score_read``), so
the two give the same problems and the same numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import bootstrap as bs
from .datasets import DatasetCard, get_card
from .errors import AmgeError, MissingData, Problem, ValidationFailed
from .fileio import dir_sha256
from .labels import LabelSet, read_labels, resolve_labels_dir
from .metric import activity_ap, masked_map
from .muscles import REGIONS, region_columns
from .predictions import (
    MEMORY_SOURCE,
    PredictionFile,
    Predictions,
    check_against_labels,
    predictions_from_arrays,
    read_predictions,
)
from .vocab import EVAL_SPLITS, PAIRS, SHORT, SPLITS


@dataclass
class SplitResult:
    split: str
    n_samples: int
    cluster_kind: str  # "activity" or "label-vector" (what the activity bootstrap resamples)
    n_clusters: int
    label_fingerprint: str
    source: str  # which file (and split key) the scores came from
    map: float  # fraction in [0, 1]
    ap: np.ndarray  # (20,) fraction, NaN where unscored
    n_pos: np.ndarray  # (20,) positives per muscle in this split
    scored: np.ndarray  # (20,) bool
    regions: dict[str, float | None]  # mean AP of the scored muscles of each body region
    # activity -> (activity AP, clips), worst first (harness.metric.activity_ap); empty when
    # the labels name no activities
    per_activity: dict[str, tuple[float, int]] = field(default_factory=dict)
    replicates: dict[str, np.ndarray] = field(default_factory=dict)  # ci kind -> (R,) mAP
    jackknife: dict[str, np.ndarray | None] = field(default_factory=dict)  # leave-one-cluster-out
    intervals: dict[str, bs.Interval] = field(default_factory=dict)


@dataclass
class Summary:
    """A reported number: a split's mAP, an average of seen and unseen, or their gap."""

    key: str  # val_s, val_u, val_a, val_gap, test_s, ...
    value: float
    intervals: dict[str, bs.Interval]


@dataclass
class ScoreReport:
    dataset: str
    card: DatasetCard
    predictions: PredictionFile
    splits: dict[str, SplitResult]
    summary: dict[str, Summary]
    ci_kinds: tuple[str, ...]
    resamples: int
    seed: int
    level: float
    notes: list[str] = field(default_factory=list)
    # A seed set (score_seeds): the training seeds, and each summary key's value per seed
    seeds: list[int] = field(default_factory=list)
    seed_values: dict[str, list[float]] = field(default_factory=dict)


@dataclass
class _Resolved:
    """A prediction part matched to its labels: scores[order] lines up with labels rows."""

    part: Predictions
    labels: LabelSet
    order: np.ndarray


def _resolve_dataset(pf: PredictionFile | None, dataset: str | None, problems: list[Problem],
                     source: str) -> str | None:
    named = sorted({p.dataset for p in pf.parts if p.dataset}) if pf else []
    if dataset and named and named != [dataset]:
        problems.append(Problem("E404", f"the file is for dataset {named[0]!r} but "
                                        f"--dataset {dataset!r} was given", source))
        return None
    if dataset:
        return dataset
    if len(named) == 1:
        return named[0]
    if pf is not None and pf.parts and not named:  # no parts: the file's own problems say why
        problems.append(Problem("E406", "the predictions name no dataset; pass dataset=..."
                                if pf.format == "memory" else
                                "the file names no dataset; pass --dataset or store a "
                                "'dataset' key", source))
    return None


def _select_parts(pf: PredictionFile, split: str | None, problems: list[Problem]) -> list[Predictions]:
    src = str(pf.path)
    parts = pf.parts
    if split is not None and split not in SPLITS:
        problems.append(Problem("E406", f"unknown split {split!r}; splits are {', '.join(SPLITS)}",
                                src))
        return []
    if len(parts) == 1 and parts[0].split is None:
        named = pf.path.stem if pf.path.stem in SPLITS else None  # e.g. test_unseen.csv
        if split is None and named is None:
            problems.append(Problem("E406", "the file names no split; pass --split, store a "
                                            "'split' key or name the file <split>.csv/.npz", src))
            return []
        parts[0].split = split or named
        return parts
    if split is not None:
        chosen = [p for p in parts if p.split == split]
        if not chosen:
            have = ", ".join(sorted(p.split for p in parts if p.split)) or "none"
            problems.append(Problem("E403", f"--split {split} was asked for but the file holds "
                                            f"{have}", src))
        return chosen
    return parts


def _load(path, dataset, split, labels_dir, max_bytes, need_labels: bool
          ) -> tuple[PredictionFile | None, str | None, list[_Resolved], list[Problem], list[str]]:
    """Read, validate, and match to labels. Returns (file, dataset, resolved parts, problems,
    skipped-notes). With ``need_labels`` False, splits without labels are noted, not fatal."""
    pf, problems = read_predictions(path, max_bytes=max_bytes)
    return _match(pf, problems, str(path), dataset, split, labels_dir, need_labels)


def _match(pf: PredictionFile | None, problems: list[Problem], source: str, dataset, split,
           labels_dir, need_labels: bool, ids_dir=None, id_checked: list[str] | None = None
           ) -> tuple[PredictionFile | None, str | None, list[_Resolved], list[Problem], list[str]]:
    """Validate what was read (a file or in-memory arrays) and match it to the labels; adds to
    ``problems``. Returns what ``_load`` returns. With ``ids_dir`` the ids are matched to the
    public id lists instead (harness/private.py; same codes E400/E401/E405), and the splits
    checked so are appended to ``id_checked``."""
    ds = _resolve_dataset(pf, dataset, problems, source)
    resolved: list[_Resolved] = []
    skipped: list[str] = []
    if pf is None:
        return pf, ds, resolved, problems, skipped
    parts = _select_parts(pf, split, problems)
    if ds is None:
        return pf, ds, resolved, problems, skipped
    root = resolve_labels_dir(labels_dir)
    try:
        get_card(ds, root)
    except AmgeError as exc:
        problems.append(Problem("E404", str(exc), source))
        return pf, ds, resolved, problems, skipped
    for part in parts:
        if part.split == "train":
            problems.append(Problem("E403", "train is not an evaluation split; score val_seen, "
                                            "val_unseen, test_seen or test_unseen", part.source))
            continue
        if ids_dir is not None:
            if _match_ids(part, ds, ids_dir, need_labels, problems, skipped) and id_checked is not None:
                id_checked.append(part.split)
            continue
        try:
            labels = read_labels(root, ds, part.split)
        except MissingData:
            if need_labels:
                raise
            skipped.append(part.split)
            continue
        order = check_against_labels(part, labels.sample_ids.tolist(), part.split, problems)
        if order is not None:
            resolved.append(_Resolved(part, labels, order))
    return pf, ds, resolved, problems, skipped


@dataclass
class ValidationReport:
    path: Path
    dataset: str | None
    checked: list[str]  # splits checked against labels
    without_labels: list[str]  # splits whose labels were not in the store (file checks only)
    n_rows: dict[str, int]
    notes: list[str] = field(default_factory=list)  # e.g. columns realigned by name


def validate_file(path, dataset=None, split=None, labels_dir=None, require_labels=False,
                  max_bytes=None, ids_dir=None) -> ValidationReport:
    """Run every check that can run; raise ValidationFailed listing all problems. A seed set
    (``seed-<n>/`` folders) is checked folder by folder.

    With ``ids_dir`` (a folder of public id lists, ``<ids_dir>/<dataset>/<split>.ids``, such as
    the repository's encrypted label store) the ids are checked against those lists instead of
    the labels, with the same problem codes: what CI can check without the private labels."""
    seeds = seed_folders(path)
    if seeds is not None:
        return _validate_seeds(path, seeds, dataset, split, labels_dir, require_labels,
                               max_bytes, ids_dir)
    id_checked: list[str] = []
    pf, problems = read_predictions(path, max_bytes=max_bytes)
    pf, ds, resolved, problems, skipped = _match(pf, problems, str(path), dataset, split,
                                                 labels_dir, require_labels, ids_dir, id_checked)
    if problems:
        raise ValidationFailed(problems, str(path))
    return ValidationReport(Path(path), ds, [r.part.split for r in resolved] + id_checked,
                            skipped, {p.split or "?": len(p.sample_ids) for p in pf.parts},
                            _notes(pf))


def _validate_seeds(path, seeds, dataset, split, labels_dir, require_labels, max_bytes,
                    ids_dir) -> ValidationReport:
    reports, problems = {}, []
    for n, folder in seeds.items():
        try:
            reports[n] = validate_file(folder, dataset, split, labels_dir, require_labels,
                                       max_bytes, ids_dir)
        except ValidationFailed as exc:
            problems += exc.problems
    if problems:
        raise ValidationFailed(problems, str(path))
    first = next(iter(reports.values()))
    return ValidationReport(
        Path(path), first.dataset, first.checked, first.without_labels,
        {f"seed-{n}/{k}": v for n, r in reports.items() for k, v in r.n_rows.items()},
        [f"seed-{n}: {note}" for n, r in reports.items() for note in r.notes])


def _match_ids(part: Predictions, dataset: str, ids_dir, need: bool, problems: list[Problem],
               skipped: list[str]) -> bool:
    """Check one part's ids against the split's public id list; True when they match."""
    from .private import read_id_list

    try:
        ids = read_id_list(ids_dir, dataset, part.split)
    except MissingData:
        if need:
            raise
        skipped.append(part.split)
        return False
    except AmgeError as exc:
        problems.append(Problem(exc.code, exc.message, part.source))
        return False
    return check_against_labels(part, ids, part.split, problems) is not None


def _notes(pf: PredictionFile) -> list[str]:
    return [f"{p.source}: {p.note}" for p in pf.parts if p.note]


def _regions(ap: np.ndarray, scored: np.ndarray) -> dict[str, float | None]:
    out = {}
    for region, cols in region_columns().items():
        vals = [ap[c] for c in cols if scored[c]]
        out[region] = float(np.mean(vals)) if vals else None
    return {r: out[r] for r in REGIONS}


def _check_ci(ci_kinds, resamples, level, seed=bs.DEFAULT_SEED) -> tuple[str, ...]:
    kinds = tuple(ci_kinds)
    bad = [k for k in kinds if k not in bs.CI_KINDS]
    if bad:
        raise AmgeError(f"Unknown interval kind {bad[0]!r}; choose from {', '.join(bs.CI_KINDS)}",
                        code="E600")
    if isinstance(level, bool) or not isinstance(level, int | float) or not 0.5 <= level < 1:
        raise AmgeError(f"--level must be in [0.5, 1), got {level!r}", code="E600")
    if kinds:
        bs.check_resamples(resamples, level)
    bs.check_seed(seed)
    return kinds


def _split_result(r: _Resolved, ci_kinds, resamples, seed, level, weights_cache) -> SplitResult:
    labels = r.labels
    scores = r.part.scores[r.order]
    res = masked_map(scores, labels.labels)
    clusters, names, kind = labels.clusters()
    out = SplitResult(
        split=labels.split, n_samples=len(labels), cluster_kind=kind, n_clusters=len(names),
        label_fingerprint=labels.fingerprint, source=r.part.source,
        map=res.map, ap=res.ap, n_pos=res.n_pos, scored=res.scored,
        regions=_regions(res.ap, res.scored))
    if kind == "activity":
        aps, counts = activity_ap(scores, labels.labels, clusters), np.bincount(clusters)
        order = sorted(range(len(names)), key=lambda a: (np.nan_to_num(aps[a], nan=2.0), names[a]))
        out.per_activity = {names[a]: (float(aps[a]), int(counts[a])) for a in order}
    for ci in ci_kinds:
        key = (labels.split, ci, labels.fingerprint)
        if key not in weights_cache:
            rng = bs.split_rng(seed, f"{labels.split}/{ci}")
            n_cl = len(names) if ci == "activity" else len(labels)
            bs.check_weight_memory(resamples, n_cl, labels.split, ci)
            weights_cache[key] = bs.draw_weights(rng, n_cl, resamples)
        cl = clusters if ci == "activity" else np.arange(len(labels))
        reps = bs.replicate_maps(scores, labels.labels, cl, weights_cache[key])
        n_cl = weights_cache[key].shape[1]
        jack = (bs.replicate_maps(scores, labels.labels, cl, bs.jackknife_weights(n_cl))
                if n_cl <= bs.MAX_JACKKNIFE else None)
        out.replicates[ci] = reps
        out.jackknife[ci] = jack
        out.intervals[ci] = bs.bca_interval(reps, res.map, None if jack is None else [jack], level)
    return out


def _jack_pair(a: SplitResult, b: SplitResult, ci: str, fn) -> list | None:
    """Jackknife values of fn(a, b): leave one cluster out of a (b whole), then of b."""
    ja, jb = a.jackknife.get(ci), b.jackknife.get(ci)
    if ja is None or jb is None:
        return None
    return [fn(ja, b.map), fn(a.map, jb)]


def _summaries(splits: dict[str, SplitResult], ci_kinds, level) -> dict[str, Summary]:
    out: dict[str, Summary] = {}
    for split in EVAL_SPLITS:
        if split in splits:
            s = splits[split]
            out[SHORT[split]] = Summary(SHORT[split], s.map, dict(s.intervals))
    for name, (seen, unseen) in PAIRS.items():
        if seen in splits and unseen in splits:
            a, b = splits[seen], splits[unseen]
            for key, fn in ((f"{name}_a", lambda x, y: (x + y) / 2),
                            (f"{name}_gap", lambda x, y: x - y)):
                ivs = {ci: bs.bca_interval(fn(a.replicates[ci], b.replicates[ci]),
                                           fn(a.map, b.map), _jack_pair(a, b, ci, fn), level)
                       for ci in ci_kinds}
                out[key] = Summary(key, fn(a.map, b.map), ivs)
    return out


def seed_folders(path) -> dict[int, Path] | None:
    """The per-seed prediction folders (``seed-<n>/``) of a seed set, in seed order; None when
    ``path`` is not one. A folder holding both seed folders and prediction files is refused."""
    p = Path(path)
    if not p.is_dir():
        return None
    seeds = {int(m.group(1)): d for d in p.iterdir()
             if d.is_dir() and (m := _SEED_DIR.match(d.name))}
    if not seeds:
        return None
    loose = sorted(f.name for f in p.iterdir() if f.is_file()
                   and f.suffix.lower() in (".npz", ".csv"))
    if loose:
        names = ", ".join(f"seed-{n}" for n in sorted(seeds))
        raise ValidationFailed([Problem("E202", f"holds both seed folders ({names}) and "
                                                f"prediction files ({', '.join(loose[:3])}); "
                                                f"keep one layout", str(p))], str(p))
    return dict(sorted(seeds.items()))


_SEED_DIR = re.compile(r"^seed-(\d{1,9})$")


def score_file(path, dataset=None, split=None, labels_dir=None, ci_kinds=("activity",),
               resamples=bs.DEFAULT_RESAMPLES, seed=bs.DEFAULT_SEED, level=bs.DEFAULT_LEVEL,
               max_bytes=None, _weights_cache=None) -> ScoreReport:
    """Validate and score a prediction file or folder against the label store; a folder of
    ``seed-<n>/`` prediction folders is scored as a seed set (``score_seeds``)."""
    ci_kinds = _check_ci(ci_kinds, resamples, level, seed)
    seeds = seed_folders(path)
    if seeds is not None:
        return score_seeds(path, seeds, dataset=dataset, split=split, labels_dir=labels_dir,
                           ci_kinds=ci_kinds, resamples=resamples, seed=seed, level=level,
                           max_bytes=max_bytes, _weights_cache=_weights_cache)
    pf, problems = read_predictions(path, max_bytes=max_bytes)
    return _score_read(pf, problems, str(path), dataset, split, labels_dir, ci_kinds, resamples,
                       seed, level, _weights_cache)


def score_arrays(parts, dataset=None, split=None, labels_dir=None, ci_kinds=("activity",),
                 resamples=bs.DEFAULT_RESAMPLES, seed=bs.DEFAULT_SEED, level=bs.DEFAULT_LEVEL
                 ) -> ScoreReport:
    """Validate and score in-memory predictions: ``parts`` maps split -> (sample_ids, scores),
    scores (N, 20) in label order. Same checks, codes and numbers as ``score_file`` on a file of
    the same arrays; the report's predictions are ``<memory>`` with ``memory_digest``'s sha256."""
    ci_kinds = _check_ci(ci_kinds, resamples, level, seed)
    pf, problems = predictions_from_arrays(parts, dataset)
    return _score_read(pf, problems, MEMORY_SOURCE, dataset, split, labels_dir, ci_kinds,
                       resamples, seed, level, None)


def _score_read(pf: PredictionFile | None, problems: list[Problem], source: str, dataset, split,
                labels_dir, ci_kinds, resamples, seed, level, weights_cache) -> ScoreReport:
    """Score what was read, whether from a file or from memory: match to labels, raise every
    problem at once, then the mAP, intervals and summaries of each split."""
    pf, ds, resolved, problems, _ = _match(pf, problems, source, dataset, split, labels_dir,
                                           need_labels=True)
    if problems:
        raise ValidationFailed(problems, source)
    if not resolved:
        raise ValidationFailed([Problem("E405", "no evaluation split to score", source)], source)
    root = resolve_labels_dir(labels_dir)
    cache = {} if weights_cache is None else weights_cache
    splits = {}
    for r in sorted(resolved, key=lambda x: SPLITS.index(x.part.split)):
        sr = _split_result(r, ci_kinds, resamples, seed, level, cache)
        splits[sr.split] = sr
    return ScoreReport(ds, get_card(ds, root), pf, splits, _summaries(splits, ci_kinds, level),
                       ci_kinds, resamples, seed, level, _notes(pf))


def score_seeds(path, seeds: dict[int, Path], dataset=None, split=None, labels_dir=None,
                ci_kinds=("activity",), resamples=bs.DEFAULT_RESAMPLES, seed=bs.DEFAULT_SEED,
                level=bs.DEFAULT_LEVEL, max_bytes=None, _weights_cache=None) -> ScoreReport:
    """Score one model trained with several seeds: every number is the mean over the seeds.

    Each seed's predictions are scored on the same bootstrap resamples (one weights cache), and
    a replicate of the set is the mean of the seeds' replicates (likewise the jackknife values),
    so the intervals are those of the seed-averaged mAP: they say how much the data (which
    activities were drawn) moves that mean, for these seeds. How much the seeds move it is the
    spread of ``seed_values``, reported beside it. Paired comparisons of two sets (``compare``,
    the board's tie tests) compare their seed means on shared resamples.
    """
    cache = {} if _weights_cache is None else _weights_cache
    reports = {}
    problems: list[Problem] = []
    for n, folder in seeds.items():
        try:
            reports[n] = score_file(folder, dataset=dataset, split=split, labels_dir=labels_dir,
                                    ci_kinds=ci_kinds, resamples=resamples, seed=seed,
                                    level=level, max_bytes=max_bytes, _weights_cache=cache)
        except ValidationFailed as exc:
            problems += exc.problems
    if problems:
        raise ValidationFailed(problems, str(path))
    first = next(iter(reports.values()))
    for n, r in reports.items():
        if (r.dataset, list(r.splits)) != (first.dataset, list(first.splits)):
            raise ValidationFailed([Problem("E202", f"seed-{n} scores {r.dataset} "
                                            f"{', '.join(r.splits)}, but seed-{min(reports)} "
                                            f"scores {first.dataset} {', '.join(first.splits)}; "
                                            f"every seed must predict the same splits",
                                            str(path))], str(path))
    splits = {name: _mean_split([r.splits[name] for r in reports.values()], ci_kinds, level)
              for name in first.splits}
    members = {f"seed-{n}/{m}": digest for n, r in reports.items()
               for m, digest in (r.predictions.members or
                                 {Path(r.predictions.path).name: r.predictions.sha256}).items()}
    pf = PredictionFile(Path(path), dir_sha256(members), "seeds", [], members)
    summary = _summaries(splits, ci_kinds, level)
    notes = [f"seed-{n}: {note}" for n, r in reports.items() for note in r.notes]
    return ScoreReport(first.dataset, first.card, pf, splits, summary, ci_kinds, resamples, seed,
                       level, notes, list(reports),
                       {k: [r.summary[k].value for r in reports.values()] for k in summary})


def _mean_split(rs: list[SplitResult], ci_kinds, level) -> SplitResult:
    """The seed-mean of one split's results (the seeds share labels and resamples)."""
    s0 = rs[0]
    ap = np.mean([r.ap for r in rs], axis=0)
    acts = {a: (float(np.mean([r.per_activity[a][0] for r in rs])), n)
            for a, (_, n) in s0.per_activity.items()}
    out = SplitResult(
        split=s0.split, n_samples=s0.n_samples, cluster_kind=s0.cluster_kind,
        n_clusters=s0.n_clusters, label_fingerprint=s0.label_fingerprint,
        source=f"seed-*/{Path(s0.source).name}", map=float(np.mean([r.map for r in rs])), ap=ap,
        n_pos=s0.n_pos, scored=s0.scored, regions=_regions(ap, s0.scored),
        per_activity=dict(sorted(acts.items(), key=lambda kv: (np.nan_to_num(kv[1][0], nan=2.0),
                                                               kv[0]))))
    for ci in ci_kinds:
        out.replicates[ci] = np.mean([r.replicates[ci] for r in rs], axis=0)
        jacks = [r.jackknife.get(ci) for r in rs]
        out.jackknife[ci] = None if any(j is None for j in jacks) else np.mean(jacks, axis=0)
        jack = out.jackknife[ci]
        out.intervals[ci] = bs.bca_interval(out.replicates[ci], out.map,
                                            None if jack is None else [jack], level)
    return out


@dataclass
class CompareRow:
    key: str  # val_s, ..., val_a, test_a
    a: float
    b: float
    diff: float  # a - b
    interval: bs.Interval
    p_value: float


@dataclass
class CompareReport:
    dataset: str
    a: ScoreReport
    b: ScoreReport
    rows: list[CompareRow]
    only_in_a: list[str]
    only_in_b: list[str]
    ci_kind: str


def compare_files(path_a, path_b, dataset=None, split=None, labels_dir=None, ci_kind="activity",
                  resamples=bs.DEFAULT_RESAMPLES, seed=bs.DEFAULT_SEED, level=bs.DEFAULT_LEVEL,
                  max_bytes=None) -> CompareReport:
    """Paired bootstrap of the mAP difference a - b on every split both files score.

    Both files are scored with the same resampling weights (same seed, same labels), so each
    replicate compares the two systems on the same resampled data. Each row's p-value is read
    off its BCa interval (``bootstrap.bca_p_value``): p < 1 - level exactly when the interval
    excludes 0.
    """
    cache: dict = {}
    kwargs = dict(dataset=dataset, split=split, labels_dir=labels_dir, ci_kinds=(ci_kind,),
                  resamples=resamples, seed=seed, level=level, max_bytes=max_bytes)
    a = score_file(path_a, _weights_cache=cache, **kwargs)
    b = score_file(path_b, _weights_cache=cache, **kwargs)
    if a.dataset != b.dataset:
        raise AmgeError(f"The files are for different datasets: {a.dataset} and {b.dataset}",
                        code="E404")
    common = [s for s in a.splits if s in b.splits]
    if not common:
        raise AmgeError(f"The files share no split: {path_a} has {', '.join(a.splits)}; "
                        f"{path_b} has {', '.join(b.splits)}", code="E403")
    rows = []
    diffs: dict[str, np.ndarray] = {}
    jacks: dict[str, np.ndarray | None] = {}
    for split in common:
        sa, sb = a.splits[split], b.splits[split]
        d = sa.replicates[ci_kind] - sb.replicates[ci_kind]
        diffs[split] = d
        ja, jb = sa.jackknife.get(ci_kind), sb.jackknife.get(ci_kind)
        jacks[split] = None if ja is None or jb is None else ja - jb
        obs = sa.map - sb.map
        jack = None if jacks[split] is None else [jacks[split]]
        rows.append(CompareRow(SHORT[split], sa.map, sb.map, obs,
                               bs.bca_interval(d, obs, jack, level),
                               bs.bca_p_value(d, obs, jack)))
    for name, (seen, unseen) in PAIRS.items():
        if seen in diffs and unseen in diffs:
            d = (diffs[seen] + diffs[unseen]) / 2
            va, vb = a.summary[f"{name}_a"].value, b.summary[f"{name}_a"].value
            ds, du = (a.splits[seen].map - b.splits[seen].map,
                      a.splits[unseen].map - b.splits[unseen].map)
            jack = (None if jacks[seen] is None or jacks[unseen] is None else
                    [(jacks[seen] + du) / 2, (ds + jacks[unseen]) / 2])
            rows.append(CompareRow(f"{name}_a", va, vb, va - vb,
                                   bs.bca_interval(d, va - vb, jack, level),
                                   bs.bca_p_value(d, va - vb, jack)))
    return CompareReport(a.dataset, a, b, rows, [s for s in a.splits if s not in b.splits],
                         [s for s in b.splits if s not in a.splits], ci_kind)
