"""One leaderboard entry: its folder layout, its names, its entry file, and reading it back whole.

Layout of an entry (docs/leaderboard.md)::

    submissions/<dataset>/<entry>/entry.toml     the entry file (harness.records.EntryMeta), always
    submissions/<dataset>/<entry>/predictions/   the scored prediction files (not for `reported`)
    submissions/<dataset>/<entry>/scores.json    their ScoreRecord
    submissions/<dataset>/<entry>/run.json       the runner's RunRecord (`reproduced` only)

A seed set (one model trained with several seeds) keeps each seed's predictions in
``predictions/seed-<n>/`` and, when reproduced, each seed's run record as ``runs/seed-<n>.json``
instead of ``run.json``; its ``scores.json`` holds the mean over the seeds with every seed's value.

Names starting with "." or "_" are never entries (temporary folders, reports).
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import tomli_w

from amge_eval.harness.errors import AmgeError, Problem, ValidationFailed
from amge_eval.harness.fileio import dir_sha256, sha256_file
from amge_eval.harness.records import EntryMeta, RecordInvalid, RunRecord, ScoreRecord
from amge_eval.harness.records.entry import DATASET_RE, ENTRY_VERSION
from amge_eval.harness.schema import collect
from amge_eval.harness.vocab import GAP_KEYS, PAIRS, SUMMARY_KEYS, TABLE_KEYS

ENTRY_FILE = "entry.toml"
SCORES_FILE = "scores.json"
RUN_FILE = "run.json"
RUNS_DIR = "runs"
PREDICTIONS_DIR = "predictions"
MAX_SLUG = 64
MAX_ENTRY_BYTES = 1024 * 1024  # an entry file is a few hundred bytes
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
# Names that Windows refuses as file names; a store must check out everywhere.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}
_CODES = {"unknown": "E901", "missing": "E902", "type": "E903", "value": "E903"}

class EntryInvalid(ValidationFailed):
    """An entry (or a submission's metadata) failed validation; lists every problem at once."""


@dataclass
class Entry:
    """One row of the board, as read from its folder."""

    dataset: str
    slug: str  # folder name, unique per dataset
    path: Path
    meta: EntryMeta
    record: ScoreRecord | None = None  # scores.json (entries with predictions)
    run: RunRecord | None = None  # run.json, or the first seed's of a seed set (reproduced)
    runs: dict[int, RunRecord] = field(default_factory=dict)  # a seed set's: seed -> RunRecord
    store: Path | None = field(default=None, compare=False)  # the store it was read from

    @property
    def name(self) -> str:
        return self.meta.name

    @property
    def status(self) -> str:
        return self.meta.status

    @property
    def family(self) -> str:
        return self.meta.family

    @property
    def has_predictions(self) -> bool:
        return self.record is not None

    @property
    def prediction_sha256(self) -> str | None:
        return self.record.predictions.sha256 if self.record else None

    def values(self) -> dict[str, float | None]:
        """SUMMARY_KEYS -> mAP % (None where the entry has no such number); a gap missing from
        a reported row is its seen minus unseen."""
        out: dict[str, float | None] = {k: None for k in SUMMARY_KEYS}
        if self.meta.reported is not None:
            out.update(self.meta.reported.values())
        elif self.record is not None:
            out.update({k: self.record.value(k) for k in SUMMARY_KEYS})
        for name in PAIRS:
            s, u = out[f"{name}_s"], out[f"{name}_u"]
            if out[f"{name}_gap"] is None and s is not None and u is not None:
                out[f"{name}_gap"] = s - u
        return out

    def intervals(self) -> dict[str, tuple[float, float] | None]:
        """SUMMARY_KEYS -> (low, high) of the record's shown interval kind, in %."""
        return {k: (self.record.interval(k) if self.record else None)
                for k in (*TABLE_KEYS, *GAP_KEYS)}


# --------------------------------------------------------------------------- names

def entry_slug(name: str) -> str:
    """A safe folder name for an entry name: lower-case ASCII letters, digits and single hyphens.

    Accents are folded (``Modèle`` -> ``modele``), every other run of characters becomes one
    hyphen, so path separators, dots and leading dots can never reach the file system:
    ``../../etc/passwd`` -> ``etc-passwd``, ``.hidden`` -> ``hidden``.
    """
    if not isinstance(name, str):
        raise AmgeError(f"Expected the entry name as text, but got {type(name).__name__}",
                        code="E906")
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:MAX_SLUG].strip("-")
    if not slug:
        raise AmgeError(f"The name {name[:60]!r} has no letters or digits to make an entry "
                        f"folder name from; include some ASCII letters or digits", code="E906")
    if slug in _RESERVED:
        raise AmgeError(f"The name {name!r} would make the reserved folder name {slug!r}; "
                        f"choose a longer name", code="E906")
    return slug


def check_dataset_name(dataset: str) -> str:
    if not isinstance(dataset, str) or not DATASET_RE.match(dataset) or ".." in dataset:
        raise AmgeError(f"Invalid dataset name {str(dataset)[:60]!r}: use a dataset card name "
                        f"(lower-case letters, digits, '-', '_', '.'); see `amge-eval datasets "
                        f"list`", code="E911")
    return dataset


def is_entry_name(name: str) -> bool:
    return not name.startswith((".", "_"))


# --------------------------------------------------------------------------- the entry file

def read_entry_file(path: str | os.PathLike) -> dict:
    """Parse an entry file (or a --entry-file metadata file) without validating it."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_ENTRY_BYTES:
            raise EntryInvalid([Problem("E900", f"is {path.stat().st_size:,} bytes; an entry "
                                                f"file is at most {MAX_ENTRY_BYTES:,}",
                                        str(path))], str(path))
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AmgeError(f"{path}: no such entry file", code="E900") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EntryInvalid([Problem("E900", f"not a readable TOML file: {exc}", str(path))],
                           str(path)) from exc
    except RecursionError as exc:
        raise EntryInvalid([Problem("E900", "nested too deeply to be an entry file",
                                    str(path))], str(path)) from exc


def validate_entry(data: object, source: str = "", dataset: str | None = None,
                   has_predictions: bool = False, has_run: bool = False) -> EntryMeta:
    """Check an entry file's content; return it typed or raise EntryInvalid (every problem).

    ``dataset`` is the folder the entry lives in; ``has_predictions``/``has_run`` say whether
    the folder holds scored predictions and a run record, which the status must fit.
    """
    if isinstance(data, dict) and data.get("entry_version", ENTRY_VERSION) != ENTRY_VERSION:
        raise EntryInvalid([Problem("E905", f"entry_version {data['entry_version']!r} is not "
                                            f"supported; this amge-eval reads version "
                                            f"{ENTRY_VERSION}", source)], source)
    meta, issues = collect(EntryMeta, data)
    problems = [Problem(i.code or _CODES[i.kind], str(i), source) for i in issues]
    if meta is not None:
        problems += _status_problems(meta, source, dataset, has_predictions, has_run)
    if problems:
        raise EntryInvalid(problems, source)
    return meta


def _status_problems(meta: EntryMeta, source: str, dataset: str | None, has_predictions: bool,
                     has_run: bool) -> list[Problem]:
    out = []
    if dataset is not None and meta.dataset != dataset:
        out.append(Problem("E911", f"dataset {meta.dataset!r} differs from the folder "
                                   f"{dataset!r} the entry is in", source))
    if meta.status == "reported":
        if meta.reported is None:
            out.append(Problem("E904", "status 'reported' needs a [reported] table with the "
                                       "paper's numbers", source))
        if has_predictions:
            out.append(Problem("E904", "a 'reported' entry holds the paper's numbers, not "
                                       "predictions; use status 'verified' for scored "
                                       "predictions", source))
        return out
    if meta.reported is not None:
        out.append(Problem("E904", f"status {meta.status!r} is scored by the harness; remove the "
                                   f"[reported] table (it is for status 'reported')", source))
    if not has_predictions:
        out.append(Problem("E904", f"status {meta.status!r} needs scored predictions "
                                   f"({PREDICTIONS_DIR}/ and {SCORES_FILE}); submit them with "
                                   f"`amge-eval submit`", source))
    if meta.status == "reproduced" and not has_run:
        out.append(Problem("E904", f"status 'reproduced' needs the runner's {RUN_FILE} (or "
                                   f"{RUNS_DIR}/seed-<n>.json for a seed set); submit a "
                                   f"runner output folder", source))
    return out


def entry_toml(meta: EntryMeta) -> str:
    """The entry file's text: keys in EntryMeta's order, absent ones left out, [reported] last."""
    return ("# amge-eval leaderboard entry; docs/leaderboard.md describes every key.\n"
            + tomli_w.dumps(msgspec.to_builtins(meta)))


# --------------------------------------------------------------------------- reading a folder

def _prediction_members(folder: Path) -> dict[str, str]:
    """Prediction file -> sha256, seed folders included ("seed-0/test_seen.npz")."""
    return {str(p.relative_to(folder)): sha256_file(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and p.suffix.lower() in (".npz", ".csv")}


def _seed_runs(folder: Path) -> dict[int, Path]:
    runs = folder / RUNS_DIR
    if not runs.is_dir():
        return {}
    found = {int(p.stem.split("-", 1)[1]): p for p in runs.glob("seed-*.json")
             if p.stem.split("-", 1)[1].isdigit()}
    return dict(sorted(found.items()))


def _read_record(cls, path: Path, problems: list[Problem]):
    try:
        return cls.read(path)
    except RecordInvalid as exc:
        problems.append(Problem(exc.code, exc.message.removeprefix(f"{path}: "), str(path)))
        return None


def load_entry(folder: str | os.PathLike, verify_hashes: bool = False,
               slug: str | None = None, dataset: str | None = None) -> Entry:
    """Read and validate one entry folder. ``verify_hashes`` re-hashes the prediction files and
    checks them against the score record (slow for big files; the site build skips it).
    ``slug`` and ``dataset`` read a staged folder as the entry it will become (submit)."""
    folder = Path(folder)
    dataset, slug = dataset or folder.parent.name, slug or folder.name
    check_dataset_name(dataset)
    if not _SLUG_RE.match(slug):
        raise EntryInvalid([Problem("E906", f"entry folder {slug!r} is not a safe name (lower-case "
                                            f"letters, digits and '-')", str(folder))], str(folder))
    if not (folder / ENTRY_FILE).is_file():
        raise EntryInvalid([Problem("E902", f"{ENTRY_FILE} is missing", str(folder))], str(folder))
    has_scores = (folder / SCORES_FILE).is_file()
    has_preds = (folder / PREDICTIONS_DIR).is_dir()
    seed_runs = _seed_runs(folder)
    has_run = (folder / RUN_FILE).is_file() or bool(seed_runs)
    meta = validate_entry(read_entry_file(folder / ENTRY_FILE), str(folder / ENTRY_FILE),
                          dataset=dataset, has_predictions=has_scores and has_preds,
                          has_run=has_run)
    problems: list[Problem] = []
    if has_scores != has_preds:
        problems.append(Problem("E909", f"{SCORES_FILE} and {PREDICTIONS_DIR}/ come together; one "
                                        f"is missing", str(folder)))
    record = _read_record(ScoreRecord, folder / SCORES_FILE, problems) if has_scores else None
    runs = {n: _read_record(RunRecord, p, problems) for n, p in seed_runs.items()}
    run = (_read_record(RunRecord, folder / RUN_FILE, problems)
           if (folder / RUN_FILE).is_file() else next(iter(runs.values()), None))
    if record is not None and record.dataset != dataset:
        problems.append(Problem("E909", f"the record scores dataset {record.dataset!r}, not "
                                        f"{dataset!r}", str(folder / SCORES_FILE)))
    if record is not None and runs and sorted(runs) != record.seeds:
        problems.append(Problem("E910", f"{RUNS_DIR}/ holds seeds {sorted(runs)} but the scores "
                                        f"are of seeds {record.seeds}", str(folder)))
    if verify_hashes and record is not None and has_preds and not problems:
        members = _prediction_members(folder / PREDICTIONS_DIR)
        stored = record.predictions
        if dir_sha256(members) != stored.sha256:
            changed = sorted(k for k in set(members) | set(stored.members)
                             if members.get(k) != stored.members.get(k))
            problems.append(Problem("E909", f"prediction files differ from the ones scored "
                                            f"(changed: {', '.join(changed) or 'unknown'}); run "
                                            f"`amge-eval leaderboard rescore`",
                                    str(folder / PREDICTIONS_DIR)))
    if problems:
        raise EntryInvalid(problems, str(folder))
    return Entry(dataset, slug, folder, meta, record, run, runs=runs)
