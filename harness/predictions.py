"""Prediction files: reading, validation (every problem at once, with stable codes), writing.

Formats (docs/formats.md has the full description):

- ``.npz`` with ``sample_ids`` (N,) str, ``scores`` (N, 20) real, ``muscles`` (20,) str in label
  order, optional ``dataset`` and ``split`` (str scalars). A multi-split npz holds
  ``<split>/sample_ids`` and ``<split>/scores`` for several splits and one shared ``muscles``
  (and optional ``dataset``).
- ``.csv`` with the header ``sample_id,<20 muscle ids in label order>``; dataset and split come
  from the command line or, inside a directory, from the file name (``test_unseen.csv``).
- a directory of such files, one split each.

Files come from strangers, so the reader trusts nothing they declare. Files are opened
read-only; npz members are parsed by ``harness.npyzip`` (no pickles, no numpy header fallback,
bounded reads). Every resource a file can ask for is bounded before it is spent, each with its
own problem code (:class:`ReadLimits`, overridable by environment variables): the file's size and
its decompressed size (E103), the memory its arrays need once converted (E108), zip members and
directory files (E107), rows per split (E307), CSV line length (E308), muscle-name count and
length (E314). A dtype, shape or row count is checked from the array's header, before its data
is read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import AmgeError, Problem
from .fileio import dir_sha256, sha256_file, write_bytes_atomic
from .muscles import MUSCLE_IDS, NUM_MUSCLES, canonical_muscle
from .npyzip import (
    ZIP_ERRORS,
    NpyHeader,
    Refused,
    check_size,
    open_archive,
    open_member,
    read_data,
    read_header,
    show,
)
from .vocab import SPLITS, did_you_mean

DEFAULT_MAX_BYTES = 2 * 1024**3
DEFAULT_MAX_ROWS = 2_000_000  # 200 times the largest real split (~10^4 rows)
DEFAULT_MAX_MEMBERS = 64  # a multi-split file has at most 12
DEFAULT_MAX_LINE = 65_536  # characters; a CSV row is at most ~1,100
MAX_ID_LENGTH = 512
MAX_NAMES = 100  # muscle names per file: a valid file has 20
MAX_NAME_LENGTH = 100  # characters per muscle name: the longest alias has 15
MAX_TEXT_LENGTH = 100  # characters of the dataset or split field
SCORE_ROW_BYTES = NUM_MUSCLES * 8  # memory of one score row as float64, charged per row
_SHOW = 5  # how many offending items a message lists


def _env_int(name: str, default: int) -> int:
    env = os.environ.get(name)
    if env is None or env.strip() == "":
        return default
    try:
        value = int(env.strip().replace("_", ""))
    except ValueError:
        value = 0
    if value <= 0:
        raise AmgeError(f"Expected a positive whole number in {name}, but got {env[:40]!r}",
                        code="E600")
    return value


def max_bytes_default() -> int:
    """Cap on a prediction file's (decompressed) size: $AMGE_EVAL_MAX_BYTES, else 2 GiB."""
    return _env_int("AMGE_EVAL_MAX_BYTES", DEFAULT_MAX_BYTES)


@dataclass(frozen=True)
class ReadLimits:
    """What one read may spend. ``from_env`` reads the AMGE_EVAL_MAX_* variables."""

    max_bytes: int = DEFAULT_MAX_BYTES  # file size, decompressed size, and converted memory
    max_rows: int = DEFAULT_MAX_ROWS  # rows of one split
    max_members: int = DEFAULT_MAX_MEMBERS  # zip members, or files in a directory
    max_line: int = DEFAULT_MAX_LINE  # characters in one CSV line

    @classmethod
    def from_env(cls, max_bytes: int | None = None) -> ReadLimits:
        return cls(max_bytes=max_bytes_default() if max_bytes is None else max_bytes,
                   max_rows=_env_int("AMGE_EVAL_MAX_ROWS", DEFAULT_MAX_ROWS),
                   max_members=_env_int("AMGE_EVAL_MAX_MEMBERS", DEFAULT_MAX_MEMBERS),
                   max_line=_env_int("AMGE_EVAL_MAX_LINE", DEFAULT_MAX_LINE))


class _Budget:
    """Memory one read may use: decompressed arrays, the float64 working copy of the scores (160
    bytes a row), CSV ids and scores. Shared by the files of a directory."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0

    def take(self, n: int) -> bool:
        if self.used + n > self.limit:
            return False
        self.used += n
        return True

    def refusal(self, what: str, n: int) -> str:
        return (f"{what} would bring the memory this read needs to {self.used + n} bytes, over "
                f"the cap of {self.limit} (decompressed arrays, plus {SCORE_ROW_BYTES} bytes per "
                f"score row for the float64 working copy; set AMGE_EVAL_MAX_BYTES to raise it)")


@dataclass(eq=False)
class Predictions:
    """The scores of one split, rows in file order."""

    sample_ids: np.ndarray  # (N,) str
    scores: np.ndarray  # (N, 20) float32 or float64, columns in MUSCLE_IDS order
    split: str | None
    dataset: str | None
    source: str  # file (and split key) it came from
    note: str | None = None  # e.g. columns realigned to label order by their names


@dataclass(eq=False)
class PredictionFile:
    path: Path
    sha256: str
    format: str  # "npz", "csv" or "dir"
    parts: list[Predictions] = field(default_factory=list)
    members: dict[str, str] = field(default_factory=dict)  # file -> sha256 (for directories)


def _first(items, n=_SHOW) -> str:
    items = list(items[:n + 1]) if isinstance(items, list | tuple) else list(items)
    shown = ", ".join((show(x, 80) if isinstance(x, str) else repr(x)[:80]) for x in items[:n])
    return shown + (", ..." if len(items) > n else "")


# --------------------------------------------------------------------------- strings

# Every character str.isspace() accepts (tests/test_reader_limits.py checks the list).
_WHITESPACE = np.array([0x9, 0xA, 0xB, 0xC, 0xD, 0x1C, 0x1D, 0x1E, 0x1F, 0x20, 0x85, 0xA0, 0x1680,
                        *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000],
                       dtype=np.uint32)


@dataclass
class _StringFlags:
    lengths: np.ndarray  # characters, trailing NULs excluded (numpy cannot store them)
    control: np.ndarray  # holds a control character (NUL inside included)
    invalid: np.ndarray  # holds a code point that is no Unicode character (surrogate, > U+10FFFF)
    padded: np.ndarray  # starts or ends with whitespace


def _string_flags(arr: np.ndarray) -> _StringFlags:
    """Per element of a 1-D native ``<U`` array, from its code points, in blocks of about a
    million code points (so temporaries stay small however long one string is): no Python string
    is made, so code points that Python strings cannot hold are seen, not trusted."""
    arr = np.ascontiguousarray(arr.reshape(-1))
    n = arr.shape[0]
    width = arr.dtype.itemsize // 4
    flags = _StringFlags(np.zeros(n, np.int64), np.zeros(n, bool), np.zeros(n, bool),
                         np.zeros(n, bool))
    if width == 0 or n == 0:
        return flags
    block = 1 << 20
    rows_per = max(1, block // width)
    cols_per = min(width, block)
    for a in range(0, n, rows_per):
        b = min(n, a + rows_per)
        cp_rows = arr[a:b].view(np.uint32).reshape(b - a, width)
        ln = np.zeros(b - a, np.int64)
        nonzero_count = np.zeros(b - a, np.int64)
        for c0 in range(0, width, cols_per):
            cp = cp_rows[:, c0:c0 + cols_per]
            nz = cp != 0
            nonzero_count += np.count_nonzero(nz, axis=1)
            has = nz.any(axis=1)
            last = c0 + cp.shape[1] - np.argmax(nz[:, ::-1], axis=1)
            ln = np.where(has, last, ln)  # blocks run left to right: the last one with a
            del nz                         # non-NUL code point sets the length
            flags.invalid[a:b] |= ((cp > 0x10FFFF) | ((cp >= 0xD800) & (cp <= 0xDFFF))).any(axis=1)
            flags.control[a:b] |= (((cp > 0) & (cp < 0x20)) | (cp == 0x7F)).any(axis=1)
        flags.lengths[a:b] = ln
        # NUL pads every string to the width: a NUL before the end is one the string holds
        flags.control[a:b] |= (width - nonzero_count) > (width - ln)
        first = cp_rows[:, 0]
        last_cp = cp_rows[np.arange(b - a), np.maximum(ln - 1, 0)]
        flags.padded[a:b] = (ln > 0) & (np.isin(first, _WHITESPACE) | np.isin(last_cp, _WHITESPACE))
    return flags


def _bad_id_mask(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(bad, invalid): ids that are empty, too long, padded, hold control characters or are
    not Unicode text; and those of them that Python strings cannot show."""
    f = _string_flags(ids)
    bad = (f.lengths == 0) | (f.lengths > MAX_ID_LENGTH) | f.control | f.invalid | f.padded
    return bad, f.invalid


def bad_ids(ids: np.ndarray) -> list[str]:
    """Ids that are empty, too long, padded with spaces, hold control characters or code points
    that are no Unicode character (vectorised over the code points, no Python string per id)."""
    if ids.size == 0:
        return []
    bad, invalid = _bad_id_mask(ids)
    return [f"<id {i}: not Unicode text>" if invalid[i] else str(ids[i])
            for i in np.flatnonzero(bad)]


def _head(arr: np.ndarray, i: int, n: int = 80) -> str:
    """repr of element i of a string array, cut to n characters without making the whole
    string (an element may be as large as the cap)."""
    cut = str(arr[i:i + 1].astype(f"<U{n + 1}")[0])
    return repr(cut[:n]) + ("..." if len(cut) > n else "")


def _show_ids(ids: np.ndarray, mask: np.ndarray, invalid: np.ndarray, n: int = _SHOW) -> str:
    idx = np.flatnonzero(mask)
    shown = [f"<row {i}: not Unicode text>" if invalid[i] else _head(ids, i) for i in idx[:n]]
    return ", ".join(shown) + (", ..." if len(idx) > n else "")


# --------------------------------------------------------------------------- array checks

_KIND_NAMES = {"O": "object", "c": "complex", "U": "string", "S": "bytes", "b": "boolean",
               "V": "structured", "M": "datetime", "m": "timedelta"}
_EXACT = 2**53  # integers of at most this magnitude are exact in float64


def _column_name(c: int, names: list[str] | None) -> str:
    return repr(names[c][:40]) if names is not None and c < len(names) else f"column {c}"


def check_scores(scores: np.ndarray, source: str, problems: list[Problem],
                 names: list[str] | None = None, notes: list[str] | None = None
                 ) -> np.ndarray | None:
    """Dtype, shape and finiteness of a score array; returns it as float32/float64 (or as
    per-column ranks, see :func:`exact_scores`, saying so in ``notes``) or None when unusable.
    ``names`` are the file's column names, for messages."""
    kind = scores.dtype.kind
    if kind not in "fiu":
        what = _KIND_NAMES.get(kind, str(scores.dtype))
        problems.append(Problem("E300", f"Expected real-valued scores (float or int), but got "
                                        f"{what} dtype {scores.dtype}; store one real score per "
                                        f"sample and muscle (higher = more likely active)", source))
        return None
    if scores.ndim != 2 or scores.shape[1] != NUM_MUSCLES:
        problems.append(Problem("E301", f"Expected scores of shape (N, {NUM_MUSCLES}), one column "
                                        f"per muscle, but got {scores.shape}", source))
        return None
    if kind == "f":
        bad = ~np.isfinite(scores)  # in the file's own precision: 1e400 is a finite long double
        if bad.any():
            rows, cols = np.nonzero(bad)
            pos = ", ".join(f"(row {r}, {_column_name(c, names)})"
                            for r, c in zip(rows[:_SHOW], cols[:_SHOW]))
            n_bad = int(bad.sum())
            n_nan = int(np.isnan(scores).sum())
            problems.append(Problem("E302", f"{n_bad} scores are not finite ({n_nan} NaN, "
                                            f"{n_bad - n_nan} infinite); first at {pos}. "
                                            f"Replace them with real numbers", source))
            return None
    exact, ranked = exact_scores(scores)
    if ranked and notes is not None:
        notes.append(_RANK_NOTE)
    return exact


def exact_scores(scores: np.ndarray) -> tuple[np.ndarray, bool]:
    """Finite real scores as float32/float64 without changing any AP: (array, ranked).

    AP depends only on the order and the ties of the scores within each column. Integers of at
    most 2**53 and floats of at most 64 bits are exact in float64 and are cast. Scores float64
    cannot hold exactly (64-bit integers beyond 2**53, long doubles that round or overflow) are
    replaced by their dense rank within their column (0 for the lowest value, ties sharing a
    rank), which keeps every column's order and ties, and so every AP, exactly.
    """
    dt = scores.dtype
    if dt.kind == "f" and dt.itemsize <= 8:
        return scores.astype(np.float32 if dt.itemsize <= 4 else np.float64, copy=False), False
    if dt.kind in "iu":
        if dt.itemsize < 8 or scores.size == 0:
            return scores.astype(np.float64), False
        if int(scores.min()) >= -_EXACT and int(scores.max()) <= _EXACT:
            return scores.astype(np.float64), False
    else:  # long double
        with np.errstate(over="ignore"):
            as64 = scores.astype(np.float64)
        if np.isfinite(as64).all() and np.array_equal(as64.astype(dt), scores):
            return as64, False
    out = np.empty(scores.shape, dtype=np.float64)
    for j in range(scores.shape[1]):
        _, inverse = np.unique(scores[:, j], return_inverse=True)
        out[:, j] = inverse.reshape(-1)
    return out, True


_RANK_NOTE = ("scores that float64 cannot hold exactly (64-bit integers beyond 2**53 or long "
              "doubles) were replaced by their rank within each column, which keeps every AP "
              "exactly (AP depends only on order and ties)")


def check_ids(ids: np.ndarray, source: str, problems: list[Problem]) -> np.ndarray | None:
    if ids.dtype.kind != "U" or ids.ndim != 1:
        hint = " (decode bytes with .astype(str))" if ids.dtype.kind == "S" else ""
        problems.append(Problem("E303", f"Expected sample_ids as a 1-D string array, but got dtype "
                                        f"{ids.dtype} with shape {ids.shape}{hint}", source))
        return None
    if ids.size == 0:
        return ids
    bad, invalid = _bad_id_mask(ids)
    if bad.any():
        problems.append(Problem("E305", f"{int(bad.sum())} sample ids are empty, longer than "
                                        f"{MAX_ID_LENGTH} characters, padded with spaces, hold "
                                        f"control characters or are not Unicode text; first: "
                                        f"{_show_ids(ids, bad, invalid, 3)}", source))
    n_dup, first = _duplicates(ids)
    if n_dup:
        mask = np.zeros(len(ids), bool)
        mask[first] = True
        problems.append(Problem("E402", f"{n_dup} sample ids occur more than once; first: "
                                        f"{_show_ids(ids, mask, invalid)}. Give each sample "
                                        f"exactly one row", source))
    return None if bad.any() else ids


def _duplicates(ids: np.ndarray) -> tuple[int, np.ndarray]:
    """(number of distinct ids that occur more than once, rows of the first few of them in
    sorted order). An index sort and blockwise comparison of neighbours: unlike np.unique, no
    copy of the ids is made (an id may be as long as the cap)."""
    n = len(ids)
    if n < 2:
        return 0, np.zeros(0, np.int64)
    order = np.argsort(ids, kind="stable")
    same = np.empty(n - 1, bool)
    step = max(1, (1 << 22) // max(1, ids.dtype.itemsize))
    for a in range(0, n - 1, step):
        b = min(n - 1, a + step)
        same[a:b] = ids[order[a:b]] == ids[order[a + 1:b + 1]]
    starts = np.flatnonzero(same & np.r_[True, ~same[:-1]])  # first pair of each run
    return len(starts), order[starts[:_SHOW]]


def check_muscles(muscles: np.ndarray, source: str, problems: list[Problem]) -> list[int] | None:
    if muscles.dtype.kind != "U" or muscles.ndim != 1:
        problems.append(Problem("E313", f"Expected muscles as a 1-D string array of the "
                                        f"{NUM_MUSCLES} muscle ids, but got dtype {muscles.dtype} "
                                        f"with shape {muscles.shape}", source))
        return None
    if muscles.shape[0] > MAX_NAMES:
        problems.append(_too_many_names(muscles.shape[0], source))
        return None
    flags = _string_flags(muscles)
    if flags.invalid.any():
        problems.append(Problem("E313", f"{int(flags.invalid.sum())} muscle names hold code "
                                        f"points that are not Unicode characters; store the "
                                        f"muscle ids as text", source))
        return None
    return check_muscle_names(muscles.tolist(), source, problems)


def _too_many_names(n: int, source: str) -> Problem:
    return Problem("E314", f"Expected the {NUM_MUSCLES} muscle names, but got {n}; at most "
                           f"{MAX_NAMES} are read. Give one name per score column", source)


def check_muscle_names(names: list[str], source: str, problems: list[Problem]) -> list[int] | None:
    """The 20 muscle ids (or the papers' names), each once, in any order.

    Returns ``order`` with ``order[j]`` = the file's column of muscle j, or None when the names
    are unusable. The names are what catches a column-order mistake: columns listed in another
    order than the label order are realigned by name, never silently taken by position.
    Linear in the number of names, which is bounded (E314) before anything else is done.
    """
    if len(names) > MAX_NAMES:
        problems.append(_too_many_names(len(names), source))
        return None
    long = [i for i, n in enumerate(names) if len(n) > MAX_NAME_LENGTH]
    if long:
        problems.append(Problem("E314", f"{len(long)} muscle names are longer than "
                                        f"{MAX_NAME_LENGTH} characters (column {long[0]} has "
                                        f"{len(names[long[0]])}); use the ids of `amge-eval "
                                        f"datasets show`", source))
        return None
    canon = [canonical_muscle(n) for n in names]
    unknown = [n for n, c in zip(names, canon) if c is None]
    if unknown:
        problems.append(Problem("E311", f"{len(unknown)} unknown muscle names: {_first(unknown)}"
                                        f"{did_you_mean(str(unknown[0]), list(MUSCLE_IDS))} "
                                        f"Use the ids of `amge-eval datasets show`", source))
    counts = Counter(c for c in canon if c is not None)
    dups = sorted(c for c, k in counts.items() if k > 1)
    if dups:
        problems.append(Problem("E313", f"muscle names repeated: {_first(dups)}", source))
    missing = [m for m in MUSCLE_IDS if m not in counts]
    if missing:
        problems.append(Problem("E310", f"{len(missing)} of the {NUM_MUSCLES} muscles are missing: "
                                        f"{_first(missing)}", source))
    if unknown or dups or missing or len(canon) != NUM_MUSCLES:
        return None
    column = {c: i for i, c in enumerate(canon)}
    return [column[m] for m in MUSCLE_IDS]


def reorder_note(order: list[int] | None) -> str | None:
    """A note when the file's columns are not in label order (they are realigned by name)."""
    if order is None or order == list(range(NUM_MUSCLES)):
        return None
    moved = sum(1 for j, i in enumerate(order) if i != j)
    return (f"{moved} score columns were listed in another order than the label order; they "
            f"were realigned by their muscle names")


def _check_text_field(value: np.ndarray, key: str, source: str,
                      problems: list[Problem]) -> str | None:
    if value.dtype.kind != "U" or value.size != 1 or value.ndim > 1:
        problems.append(Problem("E306", f"Expected {key!r} to be one string, but got dtype "
                                        f"{value.dtype} with shape {value.shape}", source))
        return None
    flags = _string_flags(value)
    if flags.invalid.any() or flags.control.any() or int(flags.lengths[0]) > MAX_TEXT_LENGTH:
        problems.append(Problem("E306", f"Expected {key!r} to be a name of at most "
                                        f"{MAX_TEXT_LENGTH} printable characters, but got "
                                        f"{int(flags.lengths[0])} characters"
                                        f"{' with control characters' if flags.control.any() else ''}"
                                        f"{' that are not Unicode text' if flags.invalid.any() else ''}",
                                source))
        return None
    text = str(value.reshape(()).item())
    if key == "split" and text not in SPLITS:
        problems.append(Problem("E306", f"split {text!r} is not a split name"
                                        f"{did_you_mean(text, list(SPLITS))} Splits: "
                                        f"{', '.join(SPLITS)}", source))
        return None
    return text


# --------------------------------------------------------------------------- npz

_SINGLE_KEYS = {"sample_ids", "scores", "muscles", "dataset", "split"}
_PART_KEYS = {"sample_ids", "scores"}
_ROLES = {"sample_ids": "sample_ids", "scores": "scores", "muscles": "muscles",
          "dataset": "text", "split": "text"}


def _role(key: str, multi: bool) -> str | None:
    """What a key may hold (sample_ids, scores, muscles, text), or None for a key that is not
    read at all (it is reported as unexpected)."""
    if "/" in key:
        split, _, leaf = key.partition("/")
        return leaf if leaf in _PART_KEYS and split in SPLITS else None
    if multi and key not in ("muscles", "dataset"):
        return None
    return _ROLES.get(key)


def _header_ok(h: NpyHeader, key: str, role: str, limits: ReadLimits, source: str,
               problems: list[Problem]) -> bool:
    """Dtype, shape and size a key may have, judged from its header before any data is read."""
    what = _KIND_NAMES.get(h.kind, h.descr)
    shape = h.shape if len(h.shape) <= 4 else (*h.shape[:4], "...")
    if role == "scores":
        if h.kind not in "fiu":
            problems.append(Problem("E300", f"Expected real-valued scores (float or int), but got "
                                            f"{what} dtype {h.descr}; store one real score per "
                                            f"sample and muscle (higher = more likely active)",
                                    source))
            return False
        if len(h.shape) != 2 or h.shape[1] != NUM_MUSCLES:
            problems.append(Problem("E301", f"Expected scores of shape (N, {NUM_MUSCLES}), one "
                                            f"column per muscle, but got {shape}", source))
            return False
    elif role == "sample_ids":
        if h.kind != "U" or len(h.shape) != 1:
            hint = " (decode bytes with .astype(str))" if h.kind == "S" else ""
            problems.append(Problem("E303", f"Expected sample_ids as a 1-D string array, but got "
                                            f"dtype {h.descr} with shape {shape}{hint}", source))
            return False
    elif role == "muscles":
        if h.kind != "U" or len(h.shape) != 1:
            problems.append(Problem("E313", f"Expected muscles as a 1-D string array of the "
                                            f"{NUM_MUSCLES} muscle ids, but got dtype {h.descr} "
                                            f"with shape {shape}", source))
            return False
        if h.shape[0] > MAX_NAMES:
            problems.append(_too_many_names(h.shape[0], source))
            return False
    elif h.kind != "U" or h.count != 1 or len(h.shape) > 1:
        problems.append(Problem("E306", f"Expected {key!r} to be one string, but got dtype "
                                        f"{h.descr} with shape {shape}", source))
        return False
    if role in _PART_KEYS and h.shape[0] > limits.max_rows:
        problems.append(Problem("E307", f"{key!r} has {h.shape[0]} rows, over the limit of "
                                        f"{limits.max_rows} per split (set AMGE_EVAL_MAX_ROWS to "
                                        f"raise it)", source))
        return False
    return True


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, role: str,
                 limits: ReadLimits, budget: _Budget, source: str, problems: list[Problem],
                 shapes: dict[str, tuple[int, ...]]) -> np.ndarray | None:
    try:
        with open_member(zf, info, key) as f:
            h = read_header(f, key)
            if h.dtype is not None and h.dtype.hasobject:
                problems.append(Problem("E104", f"{show(key)} is an object array, which is stored "
                                                f"as a pickle and never loaded; save plain numeric "
                                                f"or string arrays (e.g. scores.astype(np.float32),"
                                                f" ids.astype(str))", source))
                return None
            check_size(h, info, key)
            shapes[key] = h.shape
            if not _header_ok(h, key, role, limits, source, problems):
                return None
            need = h.nbytes + (h.shape[0] * SCORE_ROW_BYTES if role == "scores" else 0)
            if not budget.take(need):
                problems.append(Problem("E108", budget.refusal(f"reading {key!r}", need), source))
                return None
            return read_data(f, h, key)
    except Refused as r:
        problems.append(Problem(r.code, r.message, source))
    except ZIP_ERRORS as exc:
        problems.append(Problem("E101", f"member {show(key)} cannot be read "
                                        f"({type(exc).__name__}: {str(exc)[:200]}); the file is "
                                        f"damaged or truncated", source))
    return None


def _read_npz(path: Path, source: str, limits: ReadLimits, budget: _Budget,
              problems: list[Problem]) -> list[Predictions]:
    try:
        with open_archive(path, limits.max_members) as zf:
            arrays, shapes = _read_members(zf, source, limits, budget, problems)
    except Refused as r:
        problems.append(Problem(r.code, r.message, source))
        return []
    if arrays is None:
        return []
    split_keys = {k.split("/", 1)[0] for k in arrays if "/" in k}
    flat = {k for k in arrays if "/" not in k}
    if split_keys:
        return _parts_from_multi(arrays, shapes, split_keys, flat, source, problems)
    for k in sorted(flat - _SINGLE_KEYS):
        problems.append(Problem("E201", f"unexpected key {show(k)}"
                                        f"{did_you_mean(k[:MAX_TEXT_LENGTH], sorted(_SINGLE_KEYS))}"
                                        f" Keys are: sample_ids, scores, muscles, dataset, split",
                                source))
    for k in ("sample_ids", "scores", "muscles"):
        if k not in arrays:
            problems.append(Problem("E200", f"required key {k!r} is missing", source))
    order = None
    if arrays.get("muscles") is not None:
        order = check_muscles(arrays["muscles"], source, problems)
    dataset = split = None
    if arrays.get("dataset") is not None:
        dataset = _check_text_field(arrays["dataset"], "dataset", source, problems)
    if arrays.get("split") is not None:
        split = _check_text_field(arrays["split"], "split", source, problems)
    part = _make_part(arrays.get("sample_ids"), arrays.get("scores"), split, dataset, source,
                      problems, order, shapes.get("sample_ids"), shapes.get("scores"))
    return [part] if part else []


def _read_members(zf, source, limits, budget, problems):
    infos = zf.infolist()
    total = sum(i.file_size for i in infos)
    if total > limits.max_bytes:
        problems.append(Problem("E103", f"the archive expands to {total} bytes, over the cap of "
                                        f"{limits.max_bytes} (set AMGE_EVAL_MAX_BYTES to raise it)",
                                source))
        return None, {}
    if not infos:
        problems.append(Problem("E200", "the archive is empty; expected sample_ids, scores "
                                        "and muscles", source))
        return None, {}
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        if not info.filename.endswith(".npy") or info.is_dir():
            problems.append(Problem("E201", f"unexpected member {show(info.filename)}; an npz "
                                            f"holds only .npy arrays", source))
            continue
        members[info.filename[:-4]] = info
    multi = any("/" in k for k in members)
    arrays: dict[str, np.ndarray | None] = {}
    shapes: dict[str, tuple[int, ...]] = {}
    for key, info in members.items():
        role = _role(key, multi)
        # keys that are not read are reported as unexpected (E201) or not a split (E202)
        arrays[key] = (None if role is None else
                       _read_member(zf, info, key, role, limits, budget, source, problems, shapes))
    return arrays, shapes


def _parts_from_multi(arrays, shapes, split_keys, flat, source, problems) -> list[Predictions]:
    for k in sorted(flat - {"muscles", "dataset"}):
        problems.append(Problem("E201", f"unexpected key {show(k)} in a multi-split file; it holds "
                                        f"<split>/sample_ids, <split>/scores, muscles and dataset",
                                source))
    if "muscles" not in arrays:
        problems.append(Problem("E200", "required key 'muscles' is missing", source))
    order = None
    if arrays.get("muscles") is not None:
        order = check_muscles(arrays["muscles"], source, problems)
    dataset = None
    if arrays.get("dataset") is not None:
        dataset = _check_text_field(arrays["dataset"], "dataset", source, problems)
    parts = []
    for s in sorted(split_keys):
        sub = f"{source}[{s[:MAX_TEXT_LENGTH]}]"
        if s not in SPLITS:
            problems.append(Problem("E202", f"{show(s)} is not a split name"
                                            f"{did_you_mean(s[:MAX_TEXT_LENGTH], list(SPLITS))}"
                                            f" Splits: {', '.join(SPLITS)}", source))
            continue
        keys = {k.split("/", 1)[1] for k in arrays if k.startswith(s + "/")}
        for k in sorted(keys - _PART_KEYS):
            problems.append(Problem("E201", f"unexpected key {show(f'{s}/{k}')}", source))
        for k in sorted(_PART_KEYS - keys):
            problems.append(Problem("E200", f"required key '{s}/{k}' is missing", source))
        part = _make_part(arrays.get(f"{s}/sample_ids"), arrays.get(f"{s}/scores"), s, dataset,
                          sub, problems, order, shapes.get(f"{s}/sample_ids"),
                          shapes.get(f"{s}/scores"))
        if part:
            parts.append(part)
    return parts


def _make_part(ids, scores, split, dataset, source, problems, order=None, ids_shape=None,
               scores_shape=None) -> Predictions | None:
    names = [MUSCLE_IDS[j] for j in np.argsort(order)] if order is not None else None
    notes: list[str] = []
    ids_ok = check_ids(ids, source, problems) if ids is not None else None
    scores_ok = (check_scores(scores, source, problems, names, notes) if scores is not None
                 else None)
    n_ids = len(ids) if ids is not None else (ids_shape[0] if ids_shape and len(ids_shape) == 1
                                              else None)
    n_rows = scores.shape[0] if scores is not None and scores.ndim >= 1 else (
        scores_shape[0] if scores_shape else None)
    if n_ids is not None and n_rows is not None and n_ids != n_rows:
        problems.append(Problem("E304", f"sample_ids has {n_ids} entries but scores has "
                                        f"{n_rows} rows; give one row per id", source))
        return None
    if ids_ok is None or scores_ok is None or order is None:
        return None
    note = reorder_note(order)
    if note:
        notes.append(note)
        scores_ok = np.ascontiguousarray(scores_ok[:, order])
    return Predictions(ids_ok, scores_ok, split, dataset, source, "; ".join(notes) or None)


# --------------------------------------------------------------------------- csv

_CSV_CHUNK = 4096  # rows parsed to numbers at a time
_CSV_ROW_BYTES = SCORE_ROW_BYTES + 64  # charged per row: float64 scores and the id's Python object


class _Lines:
    """Lines of a text file for csv.reader, each at most ``limit`` characters; stops at the
    first longer line or NUL character, and says where."""

    def __init__(self, text: io.TextIOBase, limit: int):
        self.text = text
        self.limit = limit
        self.number = 0
        self.too_long: int | None = None
        self.nul: int | None = None

    def __iter__(self):
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limit + 2)
        if not line:
            raise StopIteration
        self.number += 1
        if len(line.rstrip("\r\n")) > self.limit:
            self.too_long = self.number
            raise StopIteration
        if "\x00" in line:
            self.nul = self.number
            raise StopIteration
        return line


def _cells_ok(cell: str) -> bool:
    """A CSV score cell: an ASCII decimal number as float() reads it (no '_' separators)."""
    if not cell.isascii() or "_" in cell:
        return False
    try:
        float(cell)
        return True
    except ValueError:
        return False


@dataclass
class _CsvState:
    names: list[str]
    order: list[int]
    ids: list[str] = field(default_factory=list)
    blocks: list[np.ndarray] = field(default_factory=list)
    pending: list[list[str]] = field(default_factory=list)
    pending_lines: list[int] = field(default_factory=list)
    ragged: int = 0
    ragged_first: list[int] = field(default_factory=list)
    bad_cells: int = 0
    bad_first: tuple | None = None

    def flush(self) -> None:
        if not self.pending:
            return
        rows = self.pending
        try:
            joined = "".join(c for r in rows for c in r)
            if not joined.isascii() or "_" in joined:
                raise ValueError
            block = np.array(rows, dtype=np.float64).reshape(len(rows), NUM_MUSCLES)
        except ValueError:
            block = None
            for r, line in zip(rows, self.pending_lines):
                for j, cell in enumerate(r):
                    if not _cells_ok(cell):
                        self.bad_cells += 1
                        if self.bad_first is None:
                            self.bad_first = (cell, line, j)
        if block is not None and not self.bad_cells:
            self.blocks.append(block)
        self.pending = []
        self.pending_lines = []


def _read_csv(path: Path, source: str, limits: ReadLimits, budget: _Budget,
              problems: list[Problem]) -> list[Predictions]:
    try:
        raw = open(path, "rb")  # noqa: SIM115 -- closed below
    except OSError as exc:
        problems.append(Problem("E101", f"cannot read the file: {exc}", source))
        return []
    with raw, io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as text:
        lines = _Lines(text, limits.max_line)
        reader = csv.reader(lines)
        try:
            state = _scan_csv(reader, lines, source, limits, budget, problems)
        except csv.Error as exc:
            problems.append(Problem("E106", f"CSV syntax error at line {reader.line_num}: "
                                            f"{str(exc)[:200]}", source))
            return []
        except UnicodeDecodeError as exc:
            problems.append(Problem("E101", f"not UTF-8 text ({exc.reason} in the bytes "
                                            f"{exc.object[exc.start:exc.start + 4]!r}); save it as "
                                            f"UTF-8", source))
            return []
    if lines.too_long is not None:
        problems.append(Problem("E308", f"line {lines.too_long} is longer than {limits.max_line} "
                                        f"characters; a row is one id and {NUM_MUSCLES} numbers "
                                        f"(set AMGE_EVAL_MAX_LINE to raise the limit)", source))
        return []
    if lines.nul is not None:
        problems.append(Problem("E101", f"holds NUL bytes (line {lines.nul}): not a CSV text "
                                        f"file", source))
        return []
    if state is None:
        return []
    if state.ragged:
        width = len(state.names) + 1
        problems.append(Problem("E106", f"{state.ragged} rows do not have {width} fields; first "
                                        f"at line {_first(state.ragged_first)}", source))
    if state.bad_cells:
        cell, line, j = state.bad_first
        problems.append(Problem("E300", f"{state.bad_cells} cells are not numbers; first: "
                                        f"{show(cell, 40)} at line {line}, column "
                                        f"{state.names[j][:40]!r}", source))
    if state.ragged or state.bad_cells:
        return []
    return _csv_part(state, source, budget, problems)


def _scan_csv(reader, lines: _Lines, source: str, limits: ReadLimits, budget: _Budget,
              problems: list[Problem]) -> _CsvState | None:
    state = None
    records = 0
    for row in reader:
        records += 1
        if records > limits.max_rows + 1:
            problems.append(Problem("E307", f"more than {limits.max_rows} rows, the limit per "
                                            f"split (set AMGE_EVAL_MAX_ROWS to raise it)", source))
            return None
        if not row:
            continue  # a blank line
        if state is None:
            if row[0].strip() != "sample_id":
                problems.append(Problem("E106", f"the first column must be 'sample_id', but the "
                                                f"header starts with {show(row[0], 40)}", source))
                return None
            names = [h.strip() for h in row[1:]]
            order = check_muscle_names(names, source, problems)
            if order is None:
                return None
            state = _CsvState(names, order)
            continue
        if len(row) != len(state.names) + 1:
            state.ragged += 1
            if len(state.ragged_first) < _SHOW + 1:
                state.ragged_first.append(reader.line_num)
            continue
        sid = row[0]
        if not budget.take(_CSV_ROW_BYTES + len(sid)):
            problems.append(Problem("E108", budget.refusal(f"row {len(state.ids) + 1}",
                                                           _CSV_ROW_BYTES + len(sid)), source))
            return None
        # an id over the limit is flagged (E305) from its first MAX_ID_LENGTH + 1 characters,
        # so that one long id cannot widen every id's fixed-width string
        state.ids.append(sid if len(sid) <= MAX_ID_LENGTH else sid[:MAX_ID_LENGTH + 1])
        state.pending.append(row[1:])
        state.pending_lines.append(reader.line_num)
        if len(state.pending) >= _CSV_CHUNK:
            state.flush()
    if state is None:
        if lines.too_long is None and lines.nul is None:  # else that is the problem
            problems.append(Problem("E106", "no header row; expected sample_id,<20 muscle ids>",
                                    source))
        return None
    state.flush()
    return state


def _csv_part(state: _CsvState, source: str, budget: _Budget,
              problems: list[Problem]) -> list[Predictions]:
    n = len(state.ids)
    width = max((len(s) for s in state.ids), default=1) or 1
    need = n * 4 * width
    if not budget.take(need):
        problems.append(Problem("E108", budget.refusal("the sample ids as fixed-width strings",
                                                       need), source))
        return []
    ids = np.array(state.ids, dtype=f"<U{width}")
    state.ids = []
    scores = (np.concatenate(state.blocks) if state.blocks
              else np.zeros((0, NUM_MUSCLES), dtype=np.float64))
    state.blocks = []
    part = _make_part(ids, scores, None, None, source, problems, state.order)
    return [part] if part else []


# --------------------------------------------------------------------------- entry point

def read_predictions(path: str | os.PathLike, max_bytes: int | None = None,
                     limits: ReadLimits | None = None
                     ) -> tuple[PredictionFile | None, list[Problem]]:
    """Read a prediction file or directory without judging it against labels.

    Returns (file, problems). The file is None when nothing usable could be read. The input is
    never modified: every file is opened read-only. Nothing a file holds makes this raise: every
    finding is a problem with a code. ``limits`` defaults to :meth:`ReadLimits.from_env`
    (``max_bytes``, when given, replaces its byte cap).
    """
    limits = limits or ReadLimits.from_env(max_bytes)
    budget = _Budget(limits.max_bytes)
    path = Path(path)
    if path.is_dir():
        return _read_dir(path, limits, budget, [])
    return _read_file(path, limits, budget)


def _read_file(path: Path, limits: ReadLimits, budget: _Budget
               ) -> tuple[PredictionFile | None, list[Problem]]:
    problems: list[Problem] = []
    source = str(path)
    if not path.exists():
        return None, [Problem("E100", "no such file or directory", source)]
    if not path.is_file():
        return None, [Problem("E105", "not a regular file", source)]
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        return None, [Problem("E105", f"unsupported file type {show(suffix) if suffix else '(none)'}"
                                      f"; give a .npz, .csv or a directory of them", source)]
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [Problem("E101", f"cannot stat the file: {exc}", source)]
    if size == 0:
        return None, [Problem("E102", "the file is empty (0 bytes)", source)]
    if size > limits.max_bytes:
        return None, [Problem("E103", f"the file is {size} bytes, over the cap of "
                                      f"{limits.max_bytes} (set AMGE_EVAL_MAX_BYTES to raise it)",
                              source)]
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return None, [Problem("E101", f"cannot read the file: {exc}", source)]
    parts = (_read_npz(path, source, limits, budget, problems) if suffix == ".npz"
             else _read_csv(path, source, limits, budget, problems))
    return PredictionFile(path, digest, suffix[1:], parts), problems


def _read_dir(path: Path, limits: ReadLimits, budget: _Budget, problems: list[Problem]
              ) -> tuple[PredictionFile | None, list[Problem]]:
    files = []
    try:
        for p in path.iterdir():
            if p.suffix.lower() in (".npz", ".csv") and p.is_file():
                files.append(p)
                if len(files) > limits.max_members:
                    return None, [Problem("E107", f"the directory holds more than "
                                                  f"{limits.max_members} prediction files (one "
                                                  f"per split is expected; set "
                                                  f"AMGE_EVAL_MAX_MEMBERS to raise the limit)",
                                          str(path))]
    except OSError as exc:
        return None, [Problem("E101", f"cannot list the directory: {exc}", str(path))]
    files.sort()
    if not files:
        return None, [Problem("E100", "the directory holds no .npz or .csv prediction files",
                              str(path))]
    out = PredictionFile(path, "", "dir")
    for f in files:
        sub, sub_problems = _read_file(f, limits, budget)
        problems.extend(sub_problems)
        if sub is None:
            continue
        out.members[f.name] = sub.sha256
        for part in sub.parts:
            if part.split is None and f.stem in SPLITS:
                part.split = f.stem
            elif part.split is None:
                problems.append(Problem("E406", f"cannot tell which split {f.name} holds: name the "
                                                f"file <split>.csv / <split>.npz or store a "
                                                f"'split' key", str(f)))
                continue
            out.parts.append(part)
    counts: dict[str, int] = {}
    for part in out.parts:
        counts[part.split] = counts.get(part.split, 0) + 1
    for s, c in counts.items():
        if c > 1:
            problems.append(Problem("E202", f"{c} files hold split {s!r}; keep one per split",
                                    str(path)))
    out.sha256 = dir_sha256(out.members)
    datasets = {p.dataset for p in out.parts if p.dataset}
    if len(datasets) > 1:
        problems.append(Problem("E404", f"files name different datasets: {_first(sorted(datasets))}",
                                str(path)))
    return out, problems


# --------------------------------------------------------------------------- in memory

MEMORY_SOURCE = "<memory>"
MEMORY_DIGEST_VERSION = "amge-predictions/v1"


def _as_numpy(value) -> np.ndarray:
    """An array-like as numpy. Tensors (anything with ``detach``) are detached and moved to the
    CPU first, without importing torch here."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu()
        if getattr(value, "dtype", None) is not None and str(value.dtype) == "torch.bfloat16":
            value = value.float()  # numpy has no bfloat16; float32 holds every bfloat16 exactly
        return value.numpy()
    return np.asarray(value)


def _ids_from_memory(ids) -> np.ndarray:
    """Sample ids as the 1-D string array a file stores. A list (or an object array) of ``str``
    becomes a string array; anything else keeps its dtype, so ``check_ids`` reports it."""
    arr = ids if isinstance(ids, np.ndarray) else np.asarray(list(ids) if not isinstance(ids, str)
                                                            else ids)
    if arr.size == 0 and arr.ndim == 1:
        return np.zeros(0, dtype=str)
    if arr.dtype.kind == "O" and all(isinstance(x, str) for x in arr.ravel().tolist()):
        return arr.astype(str)
    return arr


def memory_digest(parts: list[Predictions]) -> str:
    """sha256 of in-memory predictions, defined over what is scored, never over object identity.

    The hashed text is ``amge-predictions/v1\n`` then, per split in sorted order::

        split=<split>\n
        sample_ids=<JSON list of the ids, in row order>\n
        scores=<dtype, e.g. <f4>,<rows>x<cols>\n
        <the scores' bytes, C order, little-endian>

    ``scores`` are the validated array (float32 for float16/float32 input, float64 otherwise),
    so the same numbers in the same row order always give the same digest on any machine.
    """
    h = hashlib.sha256(f"{MEMORY_DIGEST_VERSION}\n".encode())
    for part in sorted(parts, key=lambda p: p.split or ""):
        sc = np.ascontiguousarray(part.scores, dtype=part.scores.dtype.newbyteorder("<"))
        h.update(f"split={part.split}\n".encode())
        h.update(f"sample_ids={json.dumps(part.sample_ids.tolist(), ensure_ascii=False)}\n"
                 .encode())
        h.update(f"scores={sc.dtype.str},{sc.shape[0]}x{sc.shape[1]}\n".encode())
        h.update(sc.tobytes())
    return h.hexdigest()


def predictions_from_arrays(parts, dataset: str | None = None
                            ) -> tuple[PredictionFile | None, list[Problem]]:
    """In-memory predictions as the ``PredictionFile`` a multi-split ``.npz`` of the same arrays
    reads as: ``parts`` maps split -> (sample_ids, scores), scores (N, 20) in label order.

    The arrays go through the file checks themselves (``check_ids``, ``check_scores``, the length
    check), so a problem gets the code it gets in a file. ``dataset`` is stored on every part, as
    a file's ``dataset`` key is. The result has path ``<memory>``, format ``memory`` and the sha256
    of ``memory_digest``. Returns (file, problems), as ``read_predictions`` does.
    """
    source = MEMORY_SOURCE
    problems: list[Problem] = []
    out: list[Predictions] = []
    if not parts:
        problems.append(Problem("E200", "Expected at least one split -> (sample_ids, scores), but "
                                        "got none", source))
    identity = list(range(NUM_MUSCLES))
    for split in sorted(parts, key=str):  # a multi-split file's parts come in this order too
        sub = f"{source}[{split}]"
        if not isinstance(split, str) or split not in SPLITS:
            problems.append(Problem("E202", f"{split!r} is not a split name"
                                            f"{did_you_mean(str(split), list(SPLITS))} Splits: "
                                            f"{', '.join(SPLITS)}", source))
            continue
        value = parts[split]
        if not isinstance(value, (tuple, list)) or len(value) != 2:
            problems.append(Problem("E200", f"Expected (sample_ids, scores) for {split}, but got "
                                            f"{type(value).__name__}", sub))
            continue
        ids, scores = value
        try:
            ids = _ids_from_memory(ids)
        except (TypeError, ValueError, RuntimeError) as exc:
            problems.append(Problem("E303", f"sample_ids cannot be read as an array ({exc})", sub))
            ids = None
        try:
            scores = _as_numpy(scores)
        except (TypeError, ValueError, RuntimeError) as exc:
            problems.append(Problem("E300", f"scores cannot be read as an array ({exc})", sub))
            scores = None
        if ids is None or scores is None:
            continue
        part = _make_part(ids, scores, split, dataset, sub, problems, identity)
        if part:
            out.append(part)
    return PredictionFile(Path(source), memory_digest(out), "memory", out), problems


def check_against_labels(part: Predictions, label_ids: list[str], split: str,
                         problems: list[Problem]) -> np.ndarray | None:
    """Match file rows to label rows. Returns ``order`` with scores[order] aligned to the labels.

    Reports ids missing from the file (E400), ids not in the split (E401) and an empty split
    (E405). Duplicates were reported when the file was read.
    """
    src = part.source
    if len(label_ids) == 0:
        problems.append(Problem("E405", f"the label store's {split} split is empty; there is "
                                        f"nothing to score", src))
        return None
    if len(part.sample_ids) == 0:
        problems.append(Problem("E405", f"the file holds no rows for {split} "
                                        f"({len(label_ids)} samples expected)", src))
        return None
    row_of: dict[str, int] = {}
    for i, s in enumerate(part.sample_ids.tolist()):
        row_of.setdefault(s, i)
    missing = [s for s in label_ids if s not in row_of]
    label_set = set(label_ids)
    extra = [s for s in row_of if s not in label_set]
    if missing:
        problems.append(Problem("E400", f"{len(missing)} of the {len(label_ids)} samples of {split} "
                                        f"have no row in the file; first: {_first(missing)}. Predict "
                                        f"every sample of the split", src))
    if extra:
        problems.append(Problem("E401", f"{len(extra)} ids are not samples of {split}; first: "
                                        f"{_first(extra)}. Check the split, and the id convention "
                                        f"in docs/formats.md", src))
    if missing or extra or len(row_of) != len(part.sample_ids):
        return None
    return np.fromiter((row_of[s] for s in label_ids), dtype=np.int64, count=len(label_ids))


# --------------------------------------------------------------------------- writing

def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


def write_predictions(path: str | os.PathLike, sample_ids, scores, dataset: str | None = None,
                      split: str | None = None) -> Path:
    """Write a single-split prediction file (atomically) that the scorer accepts."""
    ids = np.asarray(list(sample_ids), dtype=str)
    sc = np.asarray(scores)
    if sc.ndim != 2 or sc.shape != (len(ids), NUM_MUSCLES):
        raise ValueError(f"Expected scores of shape ({len(ids)}, {NUM_MUSCLES}), but got {sc.shape}")
    arrays = {"sample_ids": ids, "scores": sc, "muscles": np.array(MUSCLE_IDS)}
    if dataset:
        arrays["dataset"] = np.array(dataset)
    if split:
        arrays["split"] = np.array(split)
    return write_bytes_atomic(path, _npz_bytes(arrays))


def write_prediction_bundle(path: str | os.PathLike, parts: dict[str, tuple], dataset: str | None = None
                            ) -> Path:
    """Write a multi-split file: ``parts`` maps split -> (sample_ids, scores)."""
    arrays: dict[str, np.ndarray] = {"muscles": np.array(MUSCLE_IDS)}
    if dataset:
        arrays["dataset"] = np.array(dataset)
    for split, (ids, sc) in parts.items():
        if split not in SPLITS:
            raise ValueError(f"unknown split {split!r}")
        arrays[f"{split}/sample_ids"] = np.asarray(list(ids), dtype=str)
        arrays[f"{split}/scores"] = np.asarray(sc)
    return write_bytes_atomic(path, _npz_bytes(arrays))
