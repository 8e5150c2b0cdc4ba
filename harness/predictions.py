"""Prediction files: reading, validation (every problem at once, with stable codes), writing.

Formats (docs/formats.md has the full description):

- ``.npz`` with ``sample_ids`` (N,) str, ``scores`` (N, 20) real, ``muscles`` (20,) str in label
  order, optional ``dataset`` and ``split`` (str scalars). A multi-split npz holds
  ``<split>/sample_ids`` and ``<split>/scores`` for several splits and one shared ``muscles``
  (and optional ``dataset``).
- ``.csv`` with the header ``sample_id,<20 muscle ids in label order>``; dataset and split come
  from the command line or, inside a directory, from the file name (``test_unseen.csv``).
- a directory of such files, one split each.

Files are opened read-only, npz members with ``allow_pickle=False``, and the declared
(decompressed) size of everything is checked against a cap before any array is read.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import Problem, ValidationFailed
from .fileio import dir_sha256, sha256_file, write_bytes_atomic
from .muscles import MUSCLE_IDS, NUM_MUSCLES, canonical_muscle
from .vocab import SPLITS, did_you_mean

DEFAULT_MAX_BYTES = 2 * 1024**3
MAX_ID_LENGTH = 512
_SHOW = 5  # how many offending items a message lists


def max_bytes_default() -> int:
    """Cap on a prediction file's (decompressed) size: $AMGE_EVAL_MAX_BYTES, else 2 GiB."""
    env = os.environ.get("AMGE_EVAL_MAX_BYTES")
    try:
        return int(env) if env else DEFAULT_MAX_BYTES
    except ValueError:
        return DEFAULT_MAX_BYTES


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
    items = list(items)
    shown = ", ".join(repr(x)[:80] for x in items[:n])
    return shown + (", ..." if len(items) > n else "")


# --------------------------------------------------------------------------- array checks

def check_scores(scores: np.ndarray, source: str, problems: list[Problem]) -> np.ndarray | None:
    """Dtype, shape and finiteness of a score array; returns it as float or None when unusable."""
    kind = scores.dtype.kind
    if kind not in "fiu":
        what = {"O": "object", "c": "complex", "U": "string", "S": "bytes", "b": "boolean",
                "V": "structured", "M": "datetime", "m": "timedelta"}.get(kind, str(scores.dtype))
        problems.append(Problem("E300", f"Expected real-valued scores (float or int), but got "
                                        f"{what} dtype {scores.dtype}; store one real score per "
                                        f"sample and muscle (higher = more likely active)", source))
        return None
    if scores.ndim != 2 or scores.shape[1] != NUM_MUSCLES:
        problems.append(Problem("E301", f"Expected scores of shape (N, {NUM_MUSCLES}), one column "
                                        f"per muscle, but got {scores.shape}", source))
        return None
    if kind == "f":
        scores = scores.astype(np.float32 if scores.dtype.itemsize <= 4 else np.float64, copy=False)
        bad = ~np.isfinite(scores)
        if bad.any():
            rows, cols = np.nonzero(bad)
            pos = ", ".join(f"(row {r}, {MUSCLE_IDS[c]})" for r, c in zip(rows[:_SHOW], cols[:_SHOW]))
            n_nan = int(np.isnan(scores).sum())
            problems.append(Problem("E302", f"{int(bad.sum())} scores are not finite ({n_nan} NaN, "
                                            f"{int(bad.sum()) - n_nan} infinite); first at {pos}. "
                                            f"Replace them with real numbers", source))
            return None
    else:
        scores = scores.astype(np.float64)
    return scores


def check_ids(ids: np.ndarray, source: str, problems: list[Problem]) -> np.ndarray | None:
    if ids.dtype.kind != "U" or ids.ndim != 1:
        hint = " (decode bytes with .astype(str))" if ids.dtype.kind == "S" else ""
        problems.append(Problem("E303", f"Expected sample_ids as a 1-D string array, but got dtype "
                                        f"{ids.dtype} with shape {ids.shape}{hint}", source))
        return None
    bad = bad_ids(ids)
    if bad:
        problems.append(Problem("E305", f"{len(bad)} sample ids are empty, longer than "
                                        f"{MAX_ID_LENGTH} characters, padded with spaces or hold "
                                        f"control characters; first: {_first(bad, 3)}", source))
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dups = {str(u): int(c) for u, c in zip(uniq[counts > 1], counts[counts > 1])}
        problems.append(Problem("E402", f"{len(dups)} sample ids occur more than once; first: "
                                        f"{_first(dups)}. Give each sample exactly one row", source))
    return ids


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def bad_ids(ids: np.ndarray) -> list[str]:
    """Ids that are empty, too long, padded with spaces or hold control characters (vectorised:
    one regex pass over all ids, string lengths and stripping in numpy)."""
    if ids.size == 0:
        return []
    lengths = np.char.str_len(ids)
    bad = (lengths == 0) | (lengths > MAX_ID_LENGTH) | (np.char.strip(ids) != ids)
    if _CONTROL.search("".join(ids.tolist())):
        bad |= np.array([bool(_CONTROL.search(s)) for s in ids.tolist()])
    return ids[bad].tolist()


def check_muscles(muscles: np.ndarray, source: str, problems: list[Problem]) -> list[int] | None:
    if muscles.dtype.kind != "U" or muscles.ndim != 1:
        problems.append(Problem("E313", f"Expected muscles as a 1-D string array of the "
                                        f"{NUM_MUSCLES} muscle ids, but got dtype {muscles.dtype} "
                                        f"with shape {muscles.shape}", source))
        return None
    return check_muscle_names(muscles.tolist(), source, problems)


def check_muscle_names(names: list[str], source: str, problems: list[Problem]) -> list[int] | None:
    """The 20 muscle ids (or the papers' names), each once, in any order.

    Returns ``order`` with ``order[j]`` = the file's column of muscle j, or None when the names
    are unusable. The names are what catches a column-order mistake: columns listed in another
    order than the label order are realigned by name, never silently taken by position.
    """
    canon = [canonical_muscle(n) for n in names]
    unknown = [n for n, c in zip(names, canon) if c is None]
    if unknown:
        problems.append(Problem("E311", f"{len(unknown)} unknown muscle names: {_first(unknown)}"
                                        f"{did_you_mean(str(unknown[0]), list(MUSCLE_IDS))} "
                                        f"Use the ids of `amge-eval datasets show`", source))
    known = [c for c in canon if c is not None]
    dups = sorted({c for c in known if known.count(c) > 1})
    if dups:
        problems.append(Problem("E313", f"muscle names repeated: {_first(dups)}", source))
    missing = [m for m in MUSCLE_IDS if m not in known]
    if missing:
        problems.append(Problem("E310", f"{len(missing)} of the {NUM_MUSCLES} muscles are missing: "
                                        f"{_first(missing)}", source))
    if unknown or dups or missing or len(canon) != NUM_MUSCLES:
        return None
    return [canon.index(m) for m in MUSCLE_IDS]


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
    text = str(value.reshape(()).item())
    if key == "split" and text not in SPLITS:
        problems.append(Problem("E306", f"split {text!r} is not a split name"
                                        f"{did_you_mean(text, list(SPLITS))} Splits: "
                                        f"{', '.join(SPLITS)}", source))
        return None
    return text


# --------------------------------------------------------------------------- npz

_NPY_MAGIC = b"\x93NUMPY"


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, source: str,
                 problems: list[Problem]) -> np.ndarray | None:
    key = info.filename[:-4]
    try:
        with zf.open(info) as f:
            head = f.read(6)
            if head != _NPY_MAGIC:
                if head[:1] == b"\x80":
                    problems.append(Problem("E104", f"member {key!r} is a pickle, not a .npy array; "
                                                    f"pickles are never loaded", source))
                else:
                    problems.append(Problem("E101", f"member {key!r} is not a .npy array", source))
                return None
            version = tuple(f.read(2))
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                problems.append(Problem("E101", f"member {key!r} has unknown .npy version "
                                                f"{version}", source))
                return None
            if dtype.hasobject:
                problems.append(Problem("E104", f"{key!r} is an object array, which is stored as a "
                                                f"pickle and never loaded; save plain numeric or "
                                                f"string arrays (e.g. scores.astype(np.float32), "
                                                f"ids.astype(str))", source))
                return None
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if count * dtype.itemsize > info.file_size:
                problems.append(Problem("E101", f"member {key!r} is truncated: its header declares "
                                                f"{count * dtype.itemsize} bytes", source))
                return None
            data = f.read(count * dtype.itemsize)
        arr = np.frombuffer(data, dtype=dtype, count=count)
        arr = arr.reshape(shape, order="F" if fortran else "C")
        return np.ascontiguousarray(arr)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, zlib.error) as exc:
        problems.append(Problem("E101", f"member {key!r} cannot be read ({type(exc).__name__}: "
                                        f"{exc}); the file is damaged or truncated", source))
        return None


_SINGLE_KEYS = {"sample_ids", "scores", "muscles", "dataset", "split"}
_PART_KEYS = {"sample_ids", "scores"}


def _read_npz(path: Path, source: str, max_bytes: int, problems: list[Problem]) -> list[Predictions]:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        problems.append(Problem("E101", f"not a readable .npz (zip) file ({exc}); it may be "
                                        f"truncated or another format renamed to .npz", source))
        return []
    with zf:
        infos = zf.infolist()
        total = sum(i.file_size for i in infos)
        if total > max_bytes:
            problems.append(Problem("E103", f"the archive expands to {total} bytes, over the cap of "
                                            f"{max_bytes} (set AMGE_EVAL_MAX_BYTES to raise it)",
                                    source))
            return []
        if not infos:
            problems.append(Problem("E200", "the archive is empty; expected sample_ids, scores "
                                            "and muscles", source))
            return []
        arrays: dict[str, np.ndarray | None] = {}
        for info in infos:
            if not info.filename.endswith(".npy") or info.is_dir():
                problems.append(Problem("E201", f"unexpected member {info.filename!r}; an npz "
                                                f"holds only .npy arrays", source))
                continue
            arrays[info.filename[:-4]] = _read_member(zf, info, source, problems)

    split_keys = {k.split("/", 1)[0] for k in arrays if "/" in k}
    flat = {k for k in arrays if "/" not in k}
    if split_keys:
        return _parts_from_multi(arrays, split_keys, flat, source, problems)
    for k in sorted(flat - _SINGLE_KEYS):
        problems.append(Problem("E201", f"unexpected key {k!r}{did_you_mean(k, sorted(_SINGLE_KEYS))}"
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
                      problems, order)
    return [part] if part else []


def _parts_from_multi(arrays, split_keys, flat, source, problems) -> list[Predictions]:
    for k in sorted(flat - {"muscles", "dataset"}):
        problems.append(Problem("E201", f"unexpected key {k!r} in a multi-split file; it holds "
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
        sub = f"{source}[{s}]"
        if s not in SPLITS:
            problems.append(Problem("E202", f"{s!r} is not a split name{did_you_mean(s, list(SPLITS))}"
                                            f" Splits: {', '.join(SPLITS)}", source))
            continue
        keys = {k.split("/", 1)[1] for k in arrays if k.startswith(s + "/")}
        for k in sorted(keys - _PART_KEYS):
            problems.append(Problem("E201", f"unexpected key '{s}/{k}'", source))
        for k in sorted(_PART_KEYS - keys):
            problems.append(Problem("E200", f"required key '{s}/{k}' is missing", source))
        part = _make_part(arrays.get(f"{s}/sample_ids"), arrays.get(f"{s}/scores"), s, dataset,
                          sub, problems, order)
        if part:
            parts.append(part)
    return parts


def _make_part(ids, scores, split, dataset, source, problems, order=None) -> Predictions | None:
    ids_ok = check_ids(ids, source, problems) if ids is not None else None
    scores_ok = check_scores(scores, source, problems) if scores is not None else None
    if ids_ok is not None and scores is not None and scores.ndim >= 1 and len(ids_ok) != scores.shape[0]:
        problems.append(Problem("E304", f"sample_ids has {len(ids_ok)} entries but scores has "
                                        f"{scores.shape[0]} rows; give one row per id", source))
        return None
    if ids_ok is None or scores_ok is None or order is None:
        return None
    note = reorder_note(order)
    if note:
        scores_ok = np.ascontiguousarray(scores_ok[:, order])
    return Predictions(ids_ok, scores_ok, split, dataset, source, note)


# --------------------------------------------------------------------------- csv

def _read_csv(path: Path, source: str, problems: list[Problem]) -> list[Predictions]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(Problem("E101", f"not UTF-8 text ({exc})", source))
        return []
    if "\x00" in text:
        problems.append(Problem("E101", "holds NUL bytes: not a CSV text file", source))
        return []
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        problems.append(Problem("E106", f"CSV syntax error: {exc}", source))
        return []
    rows = [r for r in rows if r]  # blank lines
    if not rows:
        problems.append(Problem("E106", "no header row; expected sample_id,<20 muscle ids>", source))
        return []
    header = rows[0]
    if not header or header[0].strip() != "sample_id":
        problems.append(Problem("E106", f"the first column must be 'sample_id', but the header "
                                        f"starts with {header[0][:40]!r}", source))
        return []
    order = check_muscle_names([h.strip() for h in header[1:]], source, problems)
    if order is None:
        return []
    body = rows[1:]
    width = len(header)
    bad = [i + 2 for i, r in enumerate(body) if len(r) != width]
    if bad:
        problems.append(Problem("E106", f"{len(bad)} rows do not have {width} fields; first at "
                                        f"line {_first(bad)}", source))
        return []
    ids = np.array([r[0] for r in body], dtype=str) if body else np.zeros(0, dtype="<U1")
    cells = [r[1:] for r in body]
    try:
        scores = np.array(cells, dtype=np.float64).reshape(len(body), NUM_MUSCLES)
    except ValueError:
        where = [(i, j) for i, r in enumerate(cells) for j, v in enumerate(r) if not _is_float(v)]
        i, j = where[0]
        problems.append(Problem("E300", f"{len(where)} cells are not numbers; first: "
                                        f"{cells[i][j][:40]!r} at line {i + 2}, column "
                                        f"{MUSCLE_IDS[j]!r}", source))
        return []
    part = _make_part(ids, scores, None, None, source, problems, order)
    return [part] if part else []


def _is_float(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


# --------------------------------------------------------------------------- entry point

def read_predictions(path: str | os.PathLike, max_bytes: int | None = None
                     ) -> tuple[PredictionFile | None, list[Problem]]:
    """Read a prediction file or directory without judging it against labels.

    Returns (file, problems). The file is None when nothing usable could be read. The input is
    never modified: every file is opened read-only.
    """
    path = Path(path)
    max_bytes = max_bytes_default() if max_bytes is None else max_bytes
    problems: list[Problem] = []
    source = str(path)
    if not path.exists():
        return None, [Problem("E100", "no such file or directory", source)]
    if path.is_dir():
        return _read_dir(path, max_bytes, problems)
    if not path.is_file():
        return None, [Problem("E105", "not a regular file", source)]
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        return None, [Problem("E105", f"unsupported file type {suffix or '(none)'!r}; give a .npz, "
                                      f".csv or a directory of them", source)]
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [Problem("E101", f"cannot stat the file: {exc}", source)]
    if size == 0:
        return None, [Problem("E102", "the file is empty (0 bytes)", source)]
    if size > max_bytes:
        return None, [Problem("E103", f"the file is {size} bytes, over the cap of {max_bytes} "
                                      f"(set AMGE_EVAL_MAX_BYTES to raise it)", source)]
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return None, [Problem("E101", f"cannot read the file: {exc}", source)]
    parts = (_read_npz(path, source, max_bytes, problems) if suffix == ".npz"
             else _read_csv(path, source, problems))
    return PredictionFile(path, digest, suffix[1:], parts), problems


def _read_dir(path: Path, max_bytes: int, problems: list[Problem]) -> tuple[PredictionFile | None,
                                                                            list[Problem]]:
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in (".npz", ".csv") and p.is_file())
    if not files:
        return None, [Problem("E100", "the directory holds no .npz or .csv prediction files",
                              str(path))]
    out = PredictionFile(path, "", "dir")
    for f in files:
        sub, sub_problems = read_predictions(f, max_bytes)
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


def raise_if(problems: list[Problem], source: str) -> None:
    if problems:
        raise ValidationFailed(problems, source)


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
