"""The submissions store: one folder per leaderboard entry, validated, written atomically.

Layout (docs/leaderboard.md has the full description)::

    submissions/<dataset>/<entry>/entry.toml     the entry file (ENTRY_FIELDS), always
    submissions/<dataset>/<entry>/predictions/   the scored prediction files (not for `reported`)
    submissions/<dataset>/<entry>/scores.json    their result record (harness.records)
    submissions/<dataset>/<entry>/run.json       the runner's run record (`reproduced` only)
    submissions/<dataset>/ties.json              paired tests of each entry against the leader
    submissions/_reports/                        rescore rank-change reports

Names starting with "." or "_" are never entries: submit builds an entry in a hidden temporary
sibling folder (".tmp-<entry>-<random>") and renames it into place, so a reader sees either no
entry or a whole one, and a killed submit leaves at most a hidden folder that nothing reads.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import numbers
import os
import re
import secrets
import shutil
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.datasets import EVAL_SPLITS, get_card
from amge_eval.harness.errors import AmgeError, MissingData, Problem, ValidationFailed
from amge_eval.harness.fileio import sha256_file, write_json_atomic, write_text_atomic
from amge_eval.harness.labels import resolve_labels_dir
from amge_eval.harness.muscles import MUSCLE_IDS, NUM_MUSCLES
from amge_eval.harness.progress import NULL_PROGRESS, Progress

ENTRY_FILE = "entry.toml"
SCORES_FILE = "scores.json"
RUN_FILE = "run.json"
PREDICTIONS_DIR = "predictions"
TIES_FILE = "ties.json"
REPORTS_DIR = "_reports"
ENTRY_VERSION = 1
TIES_VERSION = "1"

STATUSES: tuple[str, ...] = ("reported", "reproduced", "verified")
STATUS_TEXT: dict[str, str] = {
    "reported": "numbers copied from a paper, not re-scored",
    "reproduced": "the harness scored predictions produced by this project's baselines",
    "verified": "the harness scored predictions submitted by the authors",
}
# The registry's families (statistical, skeleton, video) plus two for outside submissions.
FAMILIES: tuple[str, ...] = ("statistical", "skeleton", "video", "multimodal", "other")
MODALITIES: tuple[str, ...] = ("none", "labels", "rgb", "rgb_diff", "optical_flow", "skeleton",
                               "depth", "audio", "text")
# The six table cells of the papers, then the two generalisation gaps (seen - unseen).
KEYS: tuple[str, ...] = ("val_s", "val_u", "val_a", "test_s", "test_u", "test_a")
GAP_KEYS: tuple[str, ...] = ("val_gap", "test_gap")
RANK_KEY = "test_a"

MAX_NAME = 100
MAX_SLUG = 64
MAX_TEXT = 2000
_SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_DATASET_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
# Names that Windows refuses as file names; a store must check out everywhere.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)),
             *(f"lpt{i}" for i in range(10))}

# Every key of an entry file: (kind, required, meaning). docs/leaderboard.md documents each one
# and a test checks that the two agree.
ENTRY_FIELDS: dict[str, tuple[str, bool, str]] = {
    "entry_version": ("int", True, "version of the entry-file layout; this is version 1"),
    "name": ("text", True, "display name of the method, 1-100 characters"),
    "dataset": ("dataset", True, "dataset card name; must match the folder the entry is in"),
    "status": ("status", True, "reported | reproduced | verified"),
    "family": ("family", True, "statistical | skeleton | video | multimodal | other"),
    "authors": ("text_list", True, "who produced the numbers or predictions (may be empty)"),
    "paper": ("text", False, "title or citation of the paper that describes the method"),
    "paper_url": ("url", False, "http(s) link to the paper"),
    "code_url": ("url", False, "http(s) link to the code"),
    "modalities_train": ("modalities", True, "inputs used in training (e.g. rgb, rgb_diff)"),
    "modalities_test": ("modalities", True, "inputs the model sees at test time"),
    "params_m": ("number", False, "trainable parameters in millions; absent = not stated"),
    "training_data": ("text", True, "data the model was trained on"),
    "pretraining": ("text", True, "pretraining data (e.g. ImageNet-1K), 'none' or 'not stated'"),
    "frames": ("count", False, "frames per clip at test time; absent = not stated"),
    "views": ("count", False, "clips (views) per video at test time; absent = not stated"),
    "added": ("date", False, "date the entry was added, YYYY-MM-DD"),
    "notes": ("text", False, "free text shown on the entry page"),
    "reported": ("table", False, "reported numbers ([reported] table); only for status reported"),
}
REPORTED_FIELDS: dict[str, tuple[str, bool, str]] = {
    "paper_version": ("text", True, "which paper version the numbers come from (v1, v2, ...)"),
    "table": ("text", True, "the table the numbers come from, e.g. 'Table 2'"),
    **{k: ("percent", True, f"{k} mAP in %, as printed") for k in KEYS},
}

# Error codes of the leaderboard (docs/leaderboard.md lists them).
CODES: dict[str, str] = {
    "E900": "entry file unreadable or not TOML",
    "E901": "unknown key in an entry file",
    "E902": "required key missing",
    "E903": "value of the wrong type or out of range",
    "E904": "status does not fit the entry's content",
    "E905": "unsupported entry_version",
    "E906": "entry name unusable",
    "E907": "entry already exists",
    "E908": "link is not an http(s) URL",
    "E909": "stored result record or prediction files inconsistent",
    "E910": "run record invalid",
    "E911": "dataset name invalid or not the entry's folder",
    "E912": "submission input unusable",
    "E913": "output folder is not a leaderboard site",
    "E914": "submission lacks the test splits",
}


class EntryInvalid(ValidationFailed):
    """An entry (or a submission's metadata) failed validation; lists every problem at once."""


# --------------------------------------------------------------------------- the entry

@dataclass(frozen=True)
class Reported:
    paper_version: str
    table: str
    values: dict[str, float]  # KEYS -> mAP %, as printed


@dataclass
class Entry:
    """One row of the board, as read from its folder."""

    dataset: str
    slug: str  # folder name, unique per dataset
    path: Path
    meta: dict  # the validated entry file (ENTRY_FIELDS keys that are present)
    record: dict | None = None  # scores.json (entries with predictions)
    run: dict | None = None  # run.json (reproduced entries)

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def status(self) -> str:
        return self.meta["status"]

    @property
    def family(self) -> str:
        return self.meta["family"]

    @property
    def reported(self) -> Reported | None:
        rep = self.meta.get("reported")
        if rep is None:
            return None
        return Reported(rep["paper_version"], rep["table"], {k: rep[k] for k in KEYS})

    @property
    def has_predictions(self) -> bool:
        return self.record is not None

    @property
    def prediction_sha256(self) -> str | None:
        return self.record["predictions"]["sha256"] if self.record else None

    def values(self) -> dict[str, float | None]:
        """KEYS and GAP_KEYS -> mAP % (None where the entry has no such number)."""
        out: dict[str, float | None] = {k: None for k in (*KEYS, *GAP_KEYS)}
        rep = self.reported
        if rep is not None:
            out.update(rep.values)
        elif self.record is not None:
            for k in (*KEYS, *GAP_KEYS):
                cell = self.record.get("summary", {}).get(k)
                out[k] = cell["value"] if cell else None
        for name in ("val", "test"):
            s, u = out[f"{name}_s"], out[f"{name}_u"]
            if out[f"{name}_gap"] is None and s is not None and u is not None:
                out[f"{name}_gap"] = s - u
        return out

    def intervals(self) -> dict[str, tuple[float, float] | None]:
        """KEYS and GAP_KEYS -> (low, high) of the record's shown interval kind, in %."""
        out: dict[str, tuple[float, float] | None] = {k: None for k in (*KEYS, *GAP_KEYS)}
        if self.record is None:
            return out
        shown = self.record.get("ci", {}).get("shown")
        for k in out:
            cell = self.record.get("summary", {}).get(k)
            iv = (cell or {}).get("intervals", {}).get(shown) if shown else None
            if iv and iv.get("low") is not None and iv.get("high") is not None:
                out[k] = (iv["low"], iv["high"])
        return out


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
                        f"folder name from; include some ASCII letters or digits",
                        code="E906")
    if slug in _RESERVED:
        raise AmgeError(f"The name {name!r} would make the reserved folder name {slug!r}; "
                        f"choose a longer name", code="E906")
    return slug


def check_dataset_name(dataset: str) -> str:
    if not isinstance(dataset, str) or not _DATASET_RE.match(dataset) or ".." in dataset:
        raise AmgeError(f"Invalid dataset name {str(dataset)[:60]!r}: use a dataset card name "
                        f"(lower-case letters, digits, '-', '_', '.'); see `amge-eval datasets "
                        f"list`", code="E911")
    return dataset


def _bad_text(s: str, multiline: bool = False) -> str | None:
    """Why a string cannot go into an entry file, or None."""
    for ch in s:
        o = ord(ch)
        if 0xD800 <= o <= 0xDFFF:
            return "holds an unpaired surrogate (not valid Unicode text)"
        if (o < 32 and not (multiline and ch in "\n\t")) or o == 127 or 0x80 <= o < 0xA0:
            return f"holds the control character U+{o:04X}"
        if unicodedata.category(ch) in ("Zl", "Zp") and not multiline:
            return f"holds the line separator U+{o:04X}"
    return None


# --------------------------------------------------------------------------- validation

def _did_you_mean(key: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(choices), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _check_value(key: str, kind: str, value, source: str, problems: list[Problem]):
    """Check one value; returns it normalised, or None after recording a problem."""
    def bad(msg, code="E903"):
        problems.append(Problem(code, f"{key}: {msg}", source))

    if kind == "int":
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
            return bad(f"expected an integer, but got {value!r}")
        return int(value)
    if kind in ("text", "dataset", "status", "family", "date", "url"):
        if not isinstance(value, str):
            return bad(f"expected text, but got {type(value).__name__} {value!r}")
        limit = MAX_NAME if key == "name" else MAX_TEXT
        why = _bad_text(value, multiline=key == "notes")
        if why:
            return bad(why)
        if len(value) > limit:
            return bad(f"is {len(value)} characters long; at most {limit} are allowed")
        if key == "name" and not value.strip():
            return bad("must not be empty", "E906")
        if kind == "dataset" and not _DATASET_RE.match(value):
            return bad(f"{value!r} is not a dataset card name", "E911")
        if kind == "status" and value not in STATUSES:
            return bad(f"{value!r} is not a status; use one of {', '.join(STATUSES)}."
                       f"{_did_you_mean(value, STATUSES)}")
        if kind == "family" and value not in FAMILIES:
            return bad(f"{value!r} is not a family; use one of {', '.join(FAMILIES)}."
                       f"{_did_you_mean(value, FAMILIES)}")
        if kind == "date":
            try:
                if not _DATE_RE.match(value):
                    raise ValueError
                date.fromisoformat(value)
            except ValueError:
                return bad(f"{value!r} is not a date; write YYYY-MM-DD")
        if kind == "url" and value and not re.match(r"^https?://[^\s<>\"']+$", value):
            return bad(f"{value[:80]!r} is not an http(s) URL", "E908")
        return value
    if kind == "text_list":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return bad("expected a list of names (strings)")
        for v in value:
            why = _bad_text(v) or ("is too long" if len(v) > MAX_NAME else None)
            if why:
                return bad(f"{v[:40]!r} {why}")
        return value
    if kind == "modalities":
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            return bad(f"expected a non-empty list of modalities from {', '.join(MODALITIES)}")
        unknown = [v for v in value if v not in MODALITIES]
        if unknown:
            return bad(f"unknown modality {unknown[0]!r}; use {', '.join(MODALITIES)}."
                       f"{_did_you_mean(unknown[0], MODALITIES)}")
        if len(set(value)) != len(value):
            return bad("lists a modality twice")
        return value
    if kind in ("number", "percent"):
        if (isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real)
                or not math.isfinite(value)):
            return bad(f"expected a finite number, but got {value!r}")
        if value < 0 or (kind == "percent" and value > 100):
            return bad(f"{value} is out of range ({'0-100' if kind == 'percent' else '>= 0'})")
        return float(value)
    if kind == "count":
        if (isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral)
                or value < 1):
            return bad(f"expected a positive integer, but got {value!r}")
        return int(value)
    raise AssertionError(kind)


def validate_entry(data: dict, source: str = "", dataset: str | None = None,
                   has_predictions: bool = False, has_run: bool = False) -> dict:
    """Check an entry file's content; return it normalised or raise EntryInvalid (all problems).

    ``dataset`` is the folder the entry lives in; ``has_predictions``/``has_run`` say whether
    the folder holds scored predictions and a run record, which the status must fit.
    """
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise EntryInvalid([Problem("E900", "expected a table of keys", source)], source)
    for key in data:
        if key not in ENTRY_FIELDS:
            problems.append(Problem("E901", f"unknown key {key!r}.{_did_you_mean(key, ENTRY_FIELDS)}"
                                            f" Keys are listed in docs/leaderboard.md", source))
    version = data.get("entry_version")
    if version is not None and version != ENTRY_VERSION:
        raise EntryInvalid([Problem("E905", f"entry_version {version!r} is not supported; this "
                                            f"amge-eval reads version {ENTRY_VERSION}", source)],
                           source)
    out: dict = {}
    for key, (kind, required, _) in ENTRY_FIELDS.items():
        if key not in data:
            if required:
                problems.append(Problem("E902", f"required key {key!r} is missing", source))
            continue
        if kind == "table":
            continue
        value = _check_value(key, kind, data[key], source, problems)
        if value is not None:
            out[key] = value
    if "reported" in data:
        rep = data["reported"]
        if not isinstance(rep, dict):
            problems.append(Problem("E903", "reported: expected a [reported] table", source))
        else:
            clean = {}
            for key in rep:
                if key not in REPORTED_FIELDS:
                    problems.append(Problem("E901", f"unknown key 'reported.{key}'."
                                                    f"{_did_you_mean(key, REPORTED_FIELDS)}",
                                            source))
            for key, (kind, _required, _) in REPORTED_FIELDS.items():
                if key not in rep:
                    problems.append(Problem("E902", f"required key 'reported.{key}' is missing",
                                            source))
                    continue
                value = _check_value(f"reported.{key}", kind, rep[key], source, problems)
                if value is not None:
                    clean[key] = value
            out["reported"] = clean
    if dataset is not None and out.get("dataset") not in (None, dataset):
        problems.append(Problem("E911", f"dataset {out['dataset']!r} differs from the folder "
                                        f"{dataset!r} the entry is in", source))
    status = out.get("status")
    if status == "reported":
        if "reported" not in data:
            problems.append(Problem("E904", "status 'reported' needs a [reported] table with the "
                                            "paper's numbers", source))
        if has_predictions:
            problems.append(Problem("E904", "a 'reported' entry holds the paper's numbers, not "
                                            "predictions; use status 'verified' for scored "
                                            "predictions", source))
    elif status in ("reproduced", "verified"):
        if "reported" in data:
            problems.append(Problem("E904", f"status {status!r} is scored by the harness; remove "
                                            f"the [reported] table (it is for status 'reported')",
                                    source))
        if not has_predictions:
            problems.append(Problem("E904", f"status {status!r} needs scored predictions "
                                            f"({PREDICTIONS_DIR}/ and {SCORES_FILE}); submit them "
                                            f"with `amge-eval submit`", source))
        if status == "reproduced" and not has_run:
            problems.append(Problem("E904", f"status 'reproduced' needs the runner's {RUN_FILE}; "
                                            f"submit a runner output folder", source))
    if problems:
        raise EntryInvalid(problems, source)
    return out


# --------------------------------------------------------------------------- TOML writing

def _toml_string(s: str) -> str:
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif o < 32 or o == 127:
            out.append(f"\\u{o:04X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _toml_value(v) -> str:
    # numbers.* also covers numpy scalars, whose repr() is not TOML ("np.float64(2.5)").
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, numbers.Integral):
        return str(int(v))
    if isinstance(v, numbers.Real):
        if not math.isfinite(v):
            raise ValueError("TOML entry files hold finite numbers only")
        return repr(float(v))
    if isinstance(v, str):
        return _toml_string(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to an entry file")


def entry_toml(meta: dict) -> str:
    """The entry file's text: keys in ENTRY_FIELDS order, the [reported] table last."""
    lines = ["# amge-eval leaderboard entry; docs/leaderboard.md describes every key."]
    for key in ENTRY_FIELDS:
        if key in meta and key != "reported" and meta[key] is not None:
            lines.append(f"{key} = {_toml_value(meta[key])}")
    rep = meta.get("reported")
    if rep is not None:
        lines += ["", "[reported]"]
        for key in REPORTED_FIELDS:
            if key in rep:
                lines.append(f"{key} = {_toml_value(rep[key])}")
    return "\n".join(lines) + "\n"


def read_entry_file(path: str | os.PathLike) -> dict:
    """Parse an entry file (or a --entry-file metadata file) without validating it."""
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AmgeError(f"{path}: no such entry file", code="E900") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise EntryInvalid([Problem("E900", f"not a readable TOML file: {exc}", str(path))],
                           str(path)) from exc


# --------------------------------------------------------------------------- records

def check_record(record, source: str, dataset: str) -> list[Problem]:
    """Structure of a stored result record: only what the board reads, so a hostile or broken
    scores.json fails here with a message instead of somewhere inside the site build."""
    problems: list[Problem] = []

    def bad(msg):
        problems.append(Problem("E909", msg, source))

    def pct_ok(v):
        return v is None or (isinstance(v, int | float) and not isinstance(v, bool)
                             and math.isfinite(v) and -100 <= v <= 100)

    if not isinstance(record, dict) or record.get("kind") != "score":
        bad("not a result record of `amge-eval score` (kind 'score')")
        return problems
    if str(record.get("schema_version", "")).split(".")[0] != "1":
        bad(f"result record schema_version {record.get('schema_version')!r} is not 1.x")
    if record.get("dataset") != dataset:
        bad(f"the record scores dataset {record.get('dataset')!r}, not {dataset!r}")
    preds = record.get("predictions")
    if not isinstance(preds, dict) or not _HEX64.match(str(preds.get("sha256", ""))):
        bad("predictions.sha256 missing or not a sha256 hex digest")
    if not isinstance(record.get("scorer_version"), str):
        bad("scorer_version missing")
    ci = record.get("ci")
    if not isinstance(ci, dict):
        bad("ci settings missing")
    summary = record.get("summary")
    if not isinstance(summary, dict):
        bad("summary missing")
    else:
        for k, cell in summary.items():
            if not isinstance(cell, dict) or not pct_ok(cell.get("value")):
                bad(f"summary.{k}.value is not a percentage")
                continue
            for kind, iv in (cell.get("intervals") or {}).items():
                if not isinstance(iv, dict) or not (pct_ok(iv.get("low")) and pct_ok(iv.get("high"))):
                    bad(f"summary.{k}.intervals.{kind} malformed")
    splits = record.get("splits")
    if not isinstance(splits, dict):
        bad("splits missing")
        return problems
    for split, s in splits.items():
        if split not in EVAL_SPLITS or not isinstance(s, dict):
            bad(f"splits.{str(split)[:40]} is not an evaluation split")
            continue
        if not _HEX64.match(str(s.get("label_fingerprint", ""))):
            bad(f"splits.{split}.label_fingerprint missing or malformed")
        pm = s.get("per_muscle")
        if (not isinstance(pm, list) or len(pm) != NUM_MUSCLES
                or any(not isinstance(m, dict) or m.get("muscle") != MUSCLE_IDS[i]
                       or not pct_ok(m.get("ap")) or type(m.get("n_pos")) is not int
                       for i, m in enumerate(pm))):
            bad(f"splits.{split}.per_muscle must list the {NUM_MUSCLES} muscles in label order "
                f"with ap and n_pos")
        regions = s.get("regions")
        if not isinstance(regions, dict) or not all(pct_ok(v) for v in regions.values()):
            bad(f"splits.{split}.regions malformed")
    return problems


def dir_sha256(members: dict[str, str]) -> str:
    """The harness's hash of a prediction directory: sha256 over sorted 'name<TAB>hash' lines."""
    import hashlib

    h = hashlib.sha256()
    for name, digest in sorted(members.items()):
        h.update(f"{name}\t{digest}\n".encode())
    return h.hexdigest()


def _prediction_members(folder: Path) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir())
            if p.is_file() and p.suffix.lower() in (".npz", ".csv")}


# --------------------------------------------------------------------------- loading

def _is_entry_name(name: str) -> bool:
    return not name.startswith((".", "_"))


def _read_json(path: Path, code: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EntryInvalid([Problem(code, f"unreadable JSON: {exc}", str(path))], str(path)) from exc


def load_entry(folder: str | os.PathLike, verify_hashes: bool = False) -> Entry:
    """Read and validate one entry folder. ``verify_hashes`` re-hashes the prediction files and
    checks them against the result record (slow for big files; the site build skips it)."""
    folder = Path(folder)
    dataset, slug = folder.parent.name, folder.name
    check_dataset_name(dataset)
    source = str(folder / ENTRY_FILE)
    if not _SLUG_RE.match(slug):
        raise EntryInvalid([Problem("E906", f"entry folder {slug!r} is not a safe name (lower-case "
                                            f"letters, digits and '-')", str(folder))], str(folder))
    if not (folder / ENTRY_FILE).is_file():
        raise EntryInvalid([Problem("E902", f"{ENTRY_FILE} is missing", str(folder))], str(folder))
    data = read_entry_file(folder / ENTRY_FILE)
    has_scores = (folder / SCORES_FILE).is_file()
    has_preds = (folder / PREDICTIONS_DIR).is_dir()
    has_run = (folder / RUN_FILE).is_file()
    meta = validate_entry(data, source, dataset=dataset, has_predictions=has_scores and has_preds,
                          has_run=has_run)
    problems: list[Problem] = []
    if has_scores != has_preds:
        problems.append(Problem("E909", f"{SCORES_FILE} and {PREDICTIONS_DIR}/ come together; one "
                                        f"is missing", str(folder)))
    record = run = None
    if has_scores:
        record = _read_json(folder / SCORES_FILE, "E909")
        problems += check_record(record, str(folder / SCORES_FILE), dataset)
    if has_run:
        run = _read_json(folder / RUN_FILE, "E910")
        if not isinstance(run, dict) or run.get("kind") != "run":
            problems.append(Problem("E910", "run.json is not a run record (kind 'run')",
                                    str(folder / RUN_FILE)))
    if verify_hashes and record is not None and has_preds and not problems:
        members = _prediction_members(folder / PREDICTIONS_DIR)
        stored = record["predictions"]
        if dir_sha256(members) != stored["sha256"]:
            changed = sorted(k for k in set(members) | set(stored.get("members", {}))
                             if members.get(k) != stored.get("members", {}).get(k))
            problems.append(Problem("E909", f"prediction files differ from the ones scored "
                                            f"(changed: {', '.join(changed) or 'unknown'}); run "
                                            f"`amge-eval leaderboard rescore`",
                                    str(folder / PREDICTIONS_DIR)))
    if problems:
        raise EntryInvalid(problems, str(folder))
    return Entry(dataset, slug, folder, meta, record, run if isinstance(run, dict) else None)


def dataset_dirs(submissions_dir: str | os.PathLike) -> list[Path]:
    root = Path(submissions_dir)
    if not root.is_dir():
        raise MissingData(f"No submissions folder at {root}; pass --submissions DIR (the folder "
                          f"that holds <dataset>/<entry>/entry.toml)", code="E912")
    return [p for p in sorted(root.iterdir()) if p.is_dir() and _is_entry_name(p.name)]


def entry_dirs(dataset_dir: Path) -> list[Path]:
    return [p for p in sorted(dataset_dir.iterdir()) if p.is_dir() and _is_entry_name(p.name)]


def load_store(submissions_dir: str | os.PathLike, verify_hashes: bool = False,
               progress: Progress = NULL_PROGRESS) -> dict[str, list[Entry]]:
    """Every entry of the store by dataset. Raises EntryInvalid listing the problems of every
    broken entry, so one run shows them all."""
    out: dict[str, list[Entry]] = {}
    problems: list[Problem] = []
    datasets = dataset_dirs(submissions_dir)
    folders = [(d, e) for d in datasets for e in entry_dirs(d)]
    progress.start("load submissions", total=len(folders))
    for d in datasets:
        out[d.name] = []
    for d, e in folders:
        try:
            out[d.name].append(load_entry(e, verify_hashes=verify_hashes))
        except EntryInvalid as exc:
            problems += exc.problems
        except AmgeError as exc:
            problems.append(Problem(exc.code, exc.message, str(e)))
        progress.advance("load submissions")
    progress.finish("load submissions")
    if problems:
        raise EntryInvalid(problems, str(submissions_dir))
    return out


@dataclass
class StoreCheck:
    entries: list[str]  # "<dataset>/<entry>" checked
    leftovers: list[str]  # hidden temporary folders of killed submits


def validate_store(submissions_dir: str | os.PathLike, paths: Iterable[str] | None = None,
                   verify_hashes: bool = True) -> StoreCheck:
    """Validate the entries that ``paths`` touch (files or folders inside the store; all entries
    when None). Paths of deleted files are ignored. Raises EntryInvalid with every problem."""
    root = Path(submissions_dir).resolve()
    if paths is None:
        targets = [e for d in dataset_dirs(root) for e in entry_dirs(d)]
    else:
        targets = []
        for p in paths:
            rel = Path(p).resolve()
            try:
                parts = rel.relative_to(root).parts
            except ValueError:
                continue
            if len(parts) >= 2 and _is_entry_name(parts[0]) and _is_entry_name(parts[1]):
                folder = root / parts[0] / parts[1]
                if folder.is_dir() and folder not in targets:
                    targets.append(folder)
    problems: list[Problem] = []
    for folder in targets:
        try:
            load_entry(folder, verify_hashes=verify_hashes)
        except EntryInvalid as exc:
            problems += exc.problems
        except AmgeError as exc:
            problems.append(Problem(exc.code, exc.message, str(folder)))
    if problems:
        raise EntryInvalid(problems, str(submissions_dir))
    leftovers = [str(p.relative_to(root)) for d in dataset_dirs(root) for p in sorted(d.iterdir())
                 if p.is_dir() and p.name.startswith((".tmp-", ".old-"))]
    return StoreCheck([f"{f.parent.name}/{f.name}" for f in targets], leftovers)


# --------------------------------------------------------------------------- submit

@dataclass
class SubmitResult:
    entry: Entry
    replaced: bool
    notes: list[str] = field(default_factory=list)


@contextlib.contextmanager
def _dataset_lock(dataset_dir: Path):
    """An exclusive lock on one dataset's folder: flock on the folder itself, so no lock file
    ends up in the store, and the lock dies with its process (a killed submit never leaves the
    store locked). Without flock (Windows) the rename below still refuses duplicates."""
    dataset_dir.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(dataset_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _before_commit() -> None:
    """Called right before an entry is renamed into place (a seam for the kill test)."""


def _runner_inputs(folder: Path, dataset: str) -> tuple[dict, list[Path]]:
    """The run record of a runner output folder and the prediction files it names."""
    source = str(folder / RUN_FILE)
    run = _read_json(folder / RUN_FILE, "E910")
    problems = []
    if not isinstance(run, dict) or run.get("kind") != "run":
        raise EntryInvalid([Problem("E910", "not a run record (expected \"kind\": \"run\")",
                                    source)], source)
    if run.get("dataset") != dataset:
        problems.append(Problem("E910", f"the run is on dataset {run.get('dataset')!r}, but "
                                        f"--dataset {dataset!r} was given", source))
    preds = run.get("predictions")
    files: list[Path] = []
    if not isinstance(preds, dict) or not preds:
        problems.append(Problem("E910", "'predictions' must map splits to prediction files",
                                source))
    else:
        root = folder.resolve()
        for split, rel in preds.items():
            if split not in EVAL_SPLITS:
                continue
            p = (folder / str(rel)).resolve()
            if not isinstance(rel, str) or not p.is_relative_to(root):
                problems.append(Problem("E910", f"predictions.{split}: {str(rel)[:80]!r} points "
                                                f"outside the run folder", source))
            elif not p.is_file():
                problems.append(Problem("E910", f"predictions.{split}: {rel!r} does not exist",
                                        source))
            else:
                files.append(p)
        names = [p.name for p in files]
        if len(set(names)) != len(names):
            problems.append(Problem("E910", "two prediction files share a file name", source))
    if problems:
        raise EntryInvalid(problems, source)
    return run, files


def _meta_from_run(run: dict, title: str) -> dict:
    """Entry defaults taken from a run record; explicit metadata overrides them."""
    modality = str(run.get("modality") or "")
    mods = [m.replace("rgbdiff", "rgb_diff") for m in modality.split("+") if m]
    ds = run.get("data_settings") if isinstance(run.get("data_settings"), dict) else {}
    out = {"family": run.get("family") if run.get("family") in FAMILIES else "other",
           "authors": ["amge-eval baselines"],
           "modalities_train": mods or ["none"], "modalities_test": mods or ["none"],
           "training_data": f"{title} train split",
           "pretraining": "not stated",
           "notes": f"Reproduced with `amge-eval run-baseline {run.get('baseline', '?')}`."}
    if type(run.get("params")) is int and run["params"] >= 0:
        out["params_m"] = round(run["params"] / 1e6, 3)
    # The runner nests the test-time loader settings under "eval" and the views under
    # "eval_views" (temporal x spatial); flat "frames"/"views" are accepted too.
    ev = ds.get("eval") if isinstance(ds.get("eval"), dict) else {}
    views = ds.get("eval_views") if isinstance(ds.get("eval_views"), dict) else {}
    frames = ds.get("frames", ev.get("frames"))
    n_views = ds.get("views")
    if n_views is None and type(views.get("temporal")) is int and type(views.get("spatial")) is int:
        n_views = views["temporal"] * views["spatial"]
    for key, value in (("frames", frames), ("views", n_views)):
        if type(value) is int and value >= 1:
            out[key] = value
    return out


def _collect_inputs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = [p for p in sorted(path.iterdir())
             if p.is_file() and p.suffix.lower() in (".npz", ".csv")]
    if not files:
        raise AmgeError(f"{path} holds no .npz or .csv prediction files (and no {RUN_FILE} of a "
                        f"runner output folder)", code="E912")
    return files


def _sanitise_record(record: dict, dataset: str, pred_dir: Path) -> dict:
    """Drop the submitter's local paths from the record (the store is public): file paths
    become relative to the entry folder, label paths relative to the label store."""
    record["predictions"]["path"] = PREDICTIONS_DIR
    prefix = str(pred_dir)
    for split, s in record["splits"].items():
        s["label_path"] = f"{dataset}/{split}.csv"
        src = str(s.get("source", ""))
        s["source"] = (PREDICTIONS_DIR + src[len(prefix):] if src.startswith(prefix)
                       else f"{PREDICTIONS_DIR}/{Path(src).name}")
    return record


def submit(path: str | os.PathLike, dataset: str, name: str, *,
           submissions_dir: str | os.PathLike = "submissions",
           labels_dir: str | os.PathLike | None = None,
           status: str | None = None,
           entry_file: str | os.PathLike | None = None,
           metadata: dict | None = None,
           replace: bool = False,
           resamples: int = bs.DEFAULT_RESAMPLES,
           seed: int = bs.DEFAULT_SEED,
           tie_resamples: int | None = None,
           progress: Progress = NULL_PROGRESS) -> SubmitResult:
    """Validate, score and add one entry to the store (atomically).

    ``path`` is a prediction file, a folder of per-split prediction files, or a runner output
    folder (with run.json; the entry is then ``reproduced`` and keeps the run record). Metadata
    comes from ``entry_file`` (TOML, keys of ENTRY_FIELDS), then ``metadata``, then defaults.
    Refuses an existing entry of the same name unless ``replace``. On any failure the store is
    left as it was.
    """
    path = Path(path)
    check_dataset_name(dataset)
    slug = entry_slug(name)
    card = get_card(dataset, resolve_labels_dir(labels_dir))
    if not path.exists():
        raise AmgeError(f"{path}: no such file or directory; give a prediction file, a folder of "
                        f"per-split files, or a runner output folder", code="E912")
    if not (path.is_file() or path.is_dir()):
        raise AmgeError(f"{path} is not a regular file or folder", code="E912")
    runner = path.is_dir() and (path / RUN_FILE).is_file()
    if status is not None and status not in STATUSES:
        raise AmgeError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}", code="E903")
    if runner and status not in (None, "reproduced"):
        raise AmgeError(f"{path} is a runner output folder, so the entry is 'reproduced'; drop "
                        f"--status {status}", code="E904")
    if not runner and status == "reproduced":
        raise AmgeError(f"status 'reproduced' is for runner output folders (with {RUN_FILE}); "
                        f"{path} has none. Submit the folder `amge-eval run-baseline --out` wrote",
                        code="E904")
    if status == "reported":
        raise AmgeError("status 'reported' is for numbers copied from a paper, not for "
                        "predictions; seed those with `amge-eval leaderboard seed`", code="E904")
    status = status or ("reproduced" if runner else "verified")

    root = Path(submissions_dir)
    dataset_dir = root / dataset
    target = dataset_dir / slug
    if target.exists() and not replace:
        raise AmgeError(f"Entry {slug!r} already exists in {dataset_dir}; pass --replace to "
                        f"overwrite it, or choose another --name", code="E907")

    run, files = _runner_inputs(path, dataset) if runner else (None, _collect_inputs(path))
    meta: dict = {"entry_version": ENTRY_VERSION, "name": name, "dataset": dataset,
                  "status": status, "authors": [], "modalities_train": ["rgb"],
                  "modalities_test": ["rgb"], "training_data": f"{card.title} train split",
                  "pretraining": "not stated", "family": "other",
                  "added": datetime.now(UTC).date().isoformat()}
    if run is not None:
        meta.update(_meta_from_run(run, card.title))
    given = dict(read_entry_file(entry_file)) if entry_file is not None else {}
    given.update(metadata or {})
    for key, fixed in (("name", name), ("dataset", dataset), ("status", status)):
        if key in given and given[key] != fixed:
            raise AmgeError(f"The entry file says {key} = {given[key]!r} but the submission is "
                            f"for {fixed!r}; make them agree", code="E911")
    meta.update(given)
    # Validate the metadata before any work; the content checks run again on the built folder.
    validate_entry(meta, str(entry_file or "metadata"), dataset=dataset, has_predictions=True,
                   has_run=run is not None)

    dataset_dir.mkdir(parents=True, exist_ok=True)
    tmp = dataset_dir / f".tmp-{slug}-{secrets.token_hex(6)}"
    try:
        tmp.mkdir()
        (tmp / PREDICTIONS_DIR).mkdir()
        for f in files:
            shutil.copyfile(f, tmp / PREDICTIONS_DIR / f.name)
        if run is not None:
            shutil.copyfile(path / RUN_FILE, tmp / RUN_FILE)
        from amge_eval.harness.records import result_record
        from amge_eval.harness.scoring import score_file

        progress.start("score", total=None, entry=slug)
        try:
            report = score_file(tmp / PREDICTIONS_DIR, dataset=dataset, labels_dir=labels_dir,
                                resamples=resamples, seed=seed)
        except ValidationFailed as exc:
            raise _relocated(exc, tmp / PREDICTIONS_DIR, files, path) from exc
        progress.finish("score")
        missing = [s for s in ("test_seen", "test_unseen") if s not in report.splits]
        if missing:
            raise AmgeError(f"The submission has no predictions for {', '.join(missing)}; the "
                            f"board ranks by test_a and needs test_seen and test_unseen",
                            code="E914")
        write_json_atomic(tmp / SCORES_FILE, _sanitise_record(result_record(report), dataset,
                                                               tmp / PREDICTIONS_DIR))
        write_text_atomic(tmp / ENTRY_FILE, entry_toml(meta))
        _validate_built(tmp, dataset)  # exactly what will be committed
        _before_commit()
        with _dataset_lock(dataset_dir):
            replaced = target.exists()
            if replaced and not replace:
                raise AmgeError(f"Entry {slug!r} was added to {dataset_dir} while this submit "
                                f"ran; pass --replace to overwrite it, or choose another --name",
                                code="E907")
            old = None
            if replaced:
                old = dataset_dir / f".old-{slug}-{secrets.token_hex(6)}"
                os.rename(target, old)
            try:
                os.rename(tmp, target)
            except OSError as exc:
                if old is not None:
                    os.rename(old, target)
                raise AmgeError(f"Entry {slug!r} appeared in {dataset_dir} while this submit "
                                f"ran; pass --replace or choose another --name", code="E907") from exc
            _fsync_dir(dataset_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    entry = load_entry(target)
    result = SubmitResult(entry, replaced)
    try:
        update_ties(root, dataset, labels_dir=labels_dir,
                    resamples=tie_resamples or resamples, seed=seed, progress=progress)
    except AmgeError as exc:
        result.notes.append(f"The paired tie test was not updated: {exc.message}")
    return result


def _relocated(exc: ValidationFailed, copies: Path, files: list[Path], given: Path
               ) -> ValidationFailed:
    """The scorer's problems with the user's file names instead of the temporary copies'."""
    def fix(text: str) -> str:
        for f in files:
            text = text.replace(str(copies / f.name), str(f))
        return text.replace(str(copies), str(given))

    return ValidationFailed([Problem(p.code, fix(p.message), fix(p.source))
                             for p in exc.problems], str(given))


def _validate_built(folder: Path, dataset: str) -> None:
    """Load a freshly built entry folder as if it were in the store (its hidden name aside)."""
    source = str(folder / ENTRY_FILE)
    validate_entry(read_entry_file(folder / ENTRY_FILE), source, dataset=dataset,
                   has_predictions=True, has_run=(folder / RUN_FILE).is_file())
    problems = check_record(_read_json(folder / SCORES_FILE, "E909"), str(folder / SCORES_FILE),
                            dataset)
    if problems:
        raise EntryInvalid(problems, str(folder))


def remove_stale_temporaries(submissions_dir: str | os.PathLike) -> list[str]:
    """Delete the hidden folders that killed submits left behind; returns what was removed.
    Only call it when no submit is running."""
    removed = []
    for d in dataset_dirs(submissions_dir):
        for p in sorted(d.iterdir()):
            if p.is_dir() and p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)
                removed.append(str(p))
    return removed


# --------------------------------------------------------------------------- ties

def _rank_value(entry: Entry) -> float:
    v = entry.values()[RANK_KEY]
    return -math.inf if v is None else v


def leader_of(entries: list[Entry]) -> Entry | None:
    """The best scored entry by test_a (ties broken by test_u, then slug)."""
    scored = [e for e in entries if e.has_predictions and e.values()[RANK_KEY] is not None]
    if not scored:
        return None
    return sorted(scored, key=lambda e: (-_rank_value(e), -(e.values()["test_u"] or 0), e.slug))[0]


def _fingerprints(entry: Entry) -> dict[str, str]:
    return {s: v["label_fingerprint"] for s, v in entry.record["splits"].items()}


def read_ties(dataset_dir: Path) -> dict | None:
    p = dataset_dir / TIES_FILE
    if not p.is_file():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) and data.get("kind") == "ties" else None


def update_ties(submissions_dir: str | os.PathLike, dataset: str,
                labels_dir: str | os.PathLike | None = None,
                resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED,
                progress: Progress = NULL_PROGRESS) -> dict:
    """Paired bootstrap of every scored entry against the leader on test_a (compare_files);
    an entry is tied when the 95% interval of (entry - leader) contains 0. Results are kept in
    ``<dataset>/ties.json`` and reused while the predictions, labels, scorer and settings are
    the same. Reported entries have no predictions and are never tested."""
    from amge_eval.harness.records import SCORER_VERSION
    from amge_eval.harness.scoring import compare_files

    check_dataset_name(dataset)
    dataset_dir = Path(submissions_dir) / dataset
    entries = [load_entry(p) for p in entry_dirs(dataset_dir)] if dataset_dir.is_dir() else []
    leader = leader_of(entries)
    old = read_ties(dataset_dir) or {}
    out = {"schema_version": TIES_VERSION, "kind": "ties", "dataset": dataset, "key": RANK_KEY,
           "ci": "activity", "level": bs.DEFAULT_LEVEL, "resamples": resamples, "seed": seed,
           "scorer_version": SCORER_VERSION, "leader": None, "entries": {}}
    if leader is None:
        if dataset_dir.is_dir() and out != old:
            write_json_atomic(dataset_dir / TIES_FILE, out)
        return out
    out["leader"] = {"entry": leader.slug, "sha256": leader.prediction_sha256,
                     "label_fingerprints": _fingerprints(leader)}
    same_setup = all(old.get(k) == out[k] for k in ("resamples", "seed", "scorer_version", "ci",
                                                      "level", "leader"))
    others = [e for e in entries if e.has_predictions and e.slug != leader.slug]
    progress.start("paired tests", total=len(others))
    for e in others:
        cached = (old.get("entries") or {}).get(e.slug) if same_setup else None
        if cached and cached.get("sha256") == e.prediction_sha256 \
                and cached.get("label_fingerprints") == _fingerprints(e):
            out["entries"][e.slug] = cached
            progress.advance("paired tests")
            continue
        cmp = compare_files(e.path / PREDICTIONS_DIR, leader.path / PREDICTIONS_DIR,
                            dataset=dataset, labels_dir=labels_dir, ci_kind="activity",
                            resamples=resamples, seed=seed)
        row = next((r for r in cmp.rows if r.key == RANK_KEY), None)
        if row is None:
            continue
        low, high = 100 * row.interval.low, 100 * row.interval.high
        out["entries"][e.slug] = {
            "sha256": e.prediction_sha256, "label_fingerprints": _fingerprints(e),
            "diff": round(100 * row.diff, 6), "low": round(low, 6), "high": round(high, 6),
            "p_value": row.p_value, "tied": bool(low <= 0.0 <= high)}
        progress.advance("paired tests")
    progress.finish("paired tests")
    if out != old:  # an unchanged file keeps its bytes and its time stamp
        write_json_atomic(dataset_dir / TIES_FILE, out)
    return out


# --------------------------------------------------------------------------- rescore

@dataclass
class RankMove:
    dataset: str
    entry: str
    name: str
    old_rank: int | None
    new_rank: int | None
    old_value: float | None
    new_value: float | None


@dataclass
class RescoreReport:
    rescored: list[str]  # "<dataset>/<entry>" whose record was rewritten
    unchanged: list[str]
    skipped: dict[str, str]  # entry -> why (labels absent, ...)
    reasons: dict[str, list[str]]  # entry -> what changed (scorer version, label fingerprint)
    moves: list[RankMove]
    report_path: Path | None

    def to_json(self) -> dict:
        return {"kind": "rescore", "rescored": self.rescored, "unchanged": self.unchanged,
                "skipped": self.skipped, "reasons": self.reasons,
                "moves": [vars(m) for m in self.moves]}


def ranks(entries: list[Entry], values: dict[str, float | None] | None = None
          ) -> dict[str, int | None]:
    """Competition ranks by test_a shown to one decimal ('1, 2, 2, 4'); no test_a = no rank.
    ``values`` overrides the test_a of some entries (slug -> value)."""
    vals = {e.slug: (values or {}).get(e.slug, e.values()[RANK_KEY]) for e in entries}
    shown = {k: round(v, 1) for k, v in vals.items() if v is not None}
    return {k: (1 + sum(1 for o in shown.values() if o > shown[k]) if k in shown else None)
            for k in vals}


def rescore(submissions_dir: str | os.PathLike = "submissions",
            labels_dir: str | os.PathLike | None = None,
            datasets: Iterable[str] | None = None,
            report_dir: str | os.PathLike | None = None,
            tie_resamples: int | None = None,
            progress: Progress = NULL_PROGRESS) -> RescoreReport:
    """Re-score every entry that has prediction files, with the settings of its record.

    A record is rewritten when a number, the scorer version or a label fingerprint changed.
    When the scorer version or a fingerprint changed, a rank-change report (which entries
    moved on test_a) is written to ``<submissions>/_reports/rescore-<UTC time>.json`` (or
    ``report_dir``). Ties are brought up to date with the settings of each dataset's ties.json
    (or ``tie_resamples``). Entries whose labels are absent are skipped.
    """
    from amge_eval.harness.records import SCORER_VERSION, result_record
    from amge_eval.harness.scoring import score_file

    store = load_store(submissions_dir)
    wanted = set(datasets) if datasets is not None else None
    rep = RescoreReport([], [], {}, {}, [], None)
    versions_changed = False
    total = sum(1 for ds, es in store.items() for e in es
                if e.has_predictions and (wanted is None or ds in wanted))
    progress.start("rescore", total=total)
    for ds, entries in store.items():
        if wanted is not None and ds not in wanted:
            continue
        before = ranks(entries)
        new_values: dict[str, float | None] = {}
        version_moved = False
        for e in entries:
            if not e.has_predictions:
                continue
            key = f"{ds}/{e.slug}"
            old = e.record
            ci = old.get("ci", {})
            try:
                report = score_file(e.path / PREDICTIONS_DIR, dataset=ds, labels_dir=labels_dir,
                                    ci_kinds=tuple(ci.get("kinds") or ("activity",)),
                                    resamples=int(ci.get("resamples") or bs.DEFAULT_RESAMPLES),
                                    seed=int(ci.get("seed") or 0),
                                    level=float(ci.get("level") or bs.DEFAULT_LEVEL))
            except MissingData as exc:
                rep.skipped[key] = exc.message
                progress.advance("rescore")
                continue
            new = _sanitise_record(result_record(report, shown_ci=ci.get("shown")), ds,
                                   e.path / PREDICTIONS_DIR)
            why = []
            if old.get("scorer_version") != SCORER_VERSION:
                why.append(f"scorer {old.get('scorer_version')} -> {SCORER_VERSION}")
            for split, s in new["splits"].items():
                fp_old = old.get("splits", {}).get(split, {}).get("label_fingerprint")
                if fp_old != s["label_fingerprint"]:
                    why.append(f"{split} labels {str(fp_old)[:12]} -> {s['label_fingerprint'][:12]}")
            if why:
                version_moved = True
            if new["predictions"]["sha256"] != old["predictions"]["sha256"]:
                why.append("prediction files changed since they were scored")
            numbers = lambda r: {k: v.get("value") for k, v in r.get("summary", {}).items()}  # noqa: E731
            if why or numbers(new) != numbers(old):
                write_json_atomic(e.path / SCORES_FILE, new)
                rep.rescored.append(key)
                rep.reasons[key] = why or ["numbers changed"]
                new_values[e.slug] = new["summary"].get(RANK_KEY, {}).get("value")
            else:
                rep.unchanged.append(key)
            progress.advance("rescore")
        if new_values:
            after = ranks(entries, new_values)
            for e in entries:
                if before[e.slug] != after[e.slug]:
                    rep.moves.append(RankMove(ds, e.slug, e.name, before[e.slug], after[e.slug],
                                              e.values()[RANK_KEY],
                                              new_values.get(e.slug, e.values()[RANK_KEY])))
        if any(e.has_predictions for e in entries):
            # Cached per entry: only pairs whose inputs changed are tested again.
            old_ties = read_ties(Path(submissions_dir) / ds) or {}
            try:
                update_ties(submissions_dir, ds, labels_dir=labels_dir,
                            resamples=tie_resamples or int(old_ties.get("resamples")
                                                           or bs.DEFAULT_RESAMPLES),
                            seed=int(old_ties.get("seed") or bs.DEFAULT_SEED), progress=progress)
            except MissingData as exc:
                rep.skipped[f"{ds}/{TIES_FILE}"] = exc.message
        versions_changed = versions_changed or version_moved
    progress.finish("rescore")
    if versions_changed:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        folder = Path(report_dir) if report_dir else Path(submissions_dir) / REPORTS_DIR
        rep.report_path = folder / f"rescore-{stamp}.json"
        write_json_atomic(rep.report_path, rep.to_json())
    return rep
