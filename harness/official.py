"""Import labels from the official MuscleMap release layout.

Per split the release has two pickles: a list of video paths and a list of lists of muscle
indices 0..19. The reference code multi-hot encodes them with scikit-learn's MultiLabelBinarizer
fitted on 0..19, so column j is muscle j; ``multi_hot`` reproduces exactly that (a test checks
it against MultiLabelBinarizer).

Pickles can run code when loaded, so ``safe_unpickle`` admits only what these files hold:
lists, tuples, strings and integers, and numpy's numeric and unicode arrays and scalars (the
release's reader takes numpy integer indices, one numpy array per row, numpy string paths).
numpy objects are never built by numpy's own unpickling code: each allow-listed numpy global
(``NUMPY_GLOBALS``) resolves to a function of this module that checks its arguments (the dtype
is a bool, integer, float or unicode type, not objects, bytes, void or structured; at most two
axes and ``MAX_ARRAY_ELEMENTS`` elements; a data buffer of exactly the declared size) and
returns plain Python values. Every other global, including every class, is refused before it is
created.
"""

from __future__ import annotations

import io
import math
import pickle
import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .datasets import DatasetCard, get_card
from .errors import AmgeError
from .fileio import sha256_file, write_json_atomic
from .labels import (
    LabelSet,
    activity_of_paths,
    make_label_set,
    sample_id_from_path,
    split_path,
    write_labels,
)
from .muscles import NUM_MUSCLES
from .vocab import ACTIVITY_MODES, did_you_mean

MAX_PICKLE_BYTES = 256 * 1024 * 1024
MAX_ARRAY_ELEMENTS = 10_000_000  # per numpy array in a pickle
MAX_STRING_CHARS = 4096  # per element of a numpy unicode array (a path)
MAX_DEPTH = 4  # lists nested deeper than this are not the release's layout
MAX_SAMPLES = 1_000_000  # paths per split (the largest published split has 8,837)
MAX_ROW = 64  # muscle indices per sample (20 muscles; MultiLabelBinarizer allows repeats)


class _Refused(pickle.UnpicklingError):
    """The pickle asked for something beyond plain lists, strings, integers and numpy arrays."""


# --------------------------------------------------------------------------- numpy, checked

_DTYPE_SPEC = re.compile(r"^(?:b1|[iu][1248]|f[248]|U\d{1,5})$")
_KIND_NAMES = {"O": "Python objects", "S": "bytes", "V": "void or structured records",
               "M": "datetimes", "m": "timedeltas", "c": "complex numbers"}


class _NdarrayMarker:
    """What the global ``numpy.ndarray`` resolves to: a token ``_reconstruct`` accepts, not a
    class (so no pickle opcode can instantiate or call it)."""

    __slots__ = ()

    def __setstate__(self, state):
        raise _Refused("refused to set the state of numpy.ndarray itself")


_NDARRAY = _NdarrayMarker()


class _DtypeStub:
    """A numpy dtype as the pickle describes it (``numpy.dtype(spec, align, copy)`` plus its
    state), checked: only bool, integer, float and unicode types."""

    __slots__ = ("spec", "order", "elsize", "built")

    def __init__(self, spec: str):
        self.spec, self.order, self.elsize, self.built = spec, "=", None, False

    def __setstate__(self, state):
        if self.built:
            raise _Refused("a dtype's state was set twice")
        if type(state) is not tuple or len(state) != 8 or state[0] != 3:
            raise _Refused(f"unsupported dtype state {_short(state)}")
        _, order, subarray, names, fields, elsize, _alignment, _flags = state
        if order not in ("<", ">", "|", "="):
            raise _Refused(f"unsupported byte order {_short(order)}")
        if subarray is not None or names is not None or fields is not None:
            raise _Refused("structured or sub-array dtypes are not accepted")
        if type(elsize) is not int or type(_alignment) is not int or type(_flags) is not int:
            raise _Refused("malformed dtype state")
        self.order, self.elsize, self.built = order, elsize, True

    def dtype(self) -> np.dtype:
        dt = np.dtype(self.spec)
        if self.spec.startswith("U") and self.elsize not in (None, -1):
            if self.elsize != dt.itemsize:
                raise _Refused(f"dtype {self.spec} declares {self.elsize} bytes per element")
        if self.order in ("<", ">") and dt.itemsize > 1:
            dt = dt.newbyteorder(self.order)
        if dt.itemsize == 0:
            raise _Refused("zero-width string dtypes are not accepted")
        if dt.kind == "U" and dt.itemsize // 4 > MAX_STRING_CHARS:
            raise _Refused(f"strings of {dt.itemsize // 4} characters exceed the cap of "
                           f"{MAX_STRING_CHARS}")
        return dt


def _make_dtype(spec=None, align=False, copy=False, *rest):
    """``numpy.dtype`` as a pickle calls it: a bool/int/float/unicode type name only."""
    if rest or type(align) is not bool or type(copy) is not bool or type(spec) is not str:
        raise _Refused(f"unsupported numpy.dtype call {_short((spec, align, copy, *rest))}")
    if not _DTYPE_SPEC.match(spec):
        kind = _KIND_NAMES.get(spec[:1], spec[:20])
        raise _Refused(f"refused a numpy array of {kind} (dtype {spec[:20]!r}); only integer, "
                       f"float, bool and unicode arrays are accepted")
    return _DtypeStub(spec)


def _check_shape(shape, dtype: np.dtype, nbytes: int) -> tuple[int, ...]:
    if type(shape) is not tuple or not all(type(n) is int and n >= 0 for n in shape):
        raise _Refused(f"malformed array shape {_short(shape)}")
    if len(shape) > 2:
        raise _Refused(f"arrays of {len(shape)} axes are not accepted (at most 2)")
    n = math.prod(shape)
    if n > MAX_ARRAY_ELEMENTS:
        raise _Refused(f"an array declares {n} elements; the cap is {MAX_ARRAY_ELEMENTS}")
    if n * dtype.itemsize != nbytes:
        raise _Refused(f"an array declares shape {shape} of {dtype} ({n * dtype.itemsize} "
                       f"bytes) but holds {nbytes} bytes")
    return shape


def _array_to_plain(data, stub, shape, fortran: bool):
    if type(stub) is not _DtypeStub:
        raise _Refused(f"an array's dtype is a {type(stub).__name__}, not a numpy dtype")
    if type(data) not in (bytes, bytearray):
        raise _Refused(f"an array's data is a {type(data).__name__}, not a byte buffer")
    dt = stub.dtype()
    shape = _check_shape(shape, dt, len(data))
    arr = np.frombuffer(bytes(data), dtype=dt).reshape(shape, order="F" if fortran else "C")
    return _PlainArray(arr.tolist())


class _PlainArray(list):
    """A numpy array decoded to (nested) Python lists; a list type of its own so that
    ``_plain`` knows it was an array and nothing else can be one."""

    __slots__ = ()


class _ArrayStub:
    """``numpy._core.multiarray._reconstruct(ndarray, (0,), b'b')`` before its state is set."""

    __slots__ = ("value",)

    def __init__(self):
        self.value = None

    def __setstate__(self, state):
        if self.value is not None:
            raise _Refused("an array's state was set twice")
        if type(state) is not tuple or len(state) != 5 or state[0] != 1:
            raise _Refused(f"unsupported array state {_short(state)}")
        _, shape, stub, fortran, data = state
        if type(fortran) is not bool:
            raise _Refused("malformed array state")
        self.value = _array_to_plain(data, stub, shape, fortran)


def _reconstruct(cls=None, shape=None, typecode=None, *rest):
    if cls is not _NDARRAY or rest or shape != (0,) or typecode != b"b":
        raise _Refused(f"unsupported numpy array reconstruction {_short((cls, shape, typecode))}")
    return _ArrayStub()


def _frombuffer(buf=None, stub=None, shape=None, order=None, *rest):
    """numpy's protocol-5 array constructor (numpy._core.numeric._frombuffer)."""
    if rest or order not in ("C", "F"):
        raise _Refused("unsupported numpy array construction")
    return _array_to_plain(buf, stub, shape, order == "F")


def _scalar(stub=None, data=None, *rest):
    """A numpy scalar (numpy._core.multiarray.scalar): its plain Python value."""
    if rest or type(stub) is not _DtypeStub or type(data) is not bytes:
        raise _Refused("unsupported numpy scalar")
    dt = stub.dtype()
    if len(data) != dt.itemsize:
        raise _Refused(f"a numpy {dt} scalar holds {len(data)} bytes, not {dt.itemsize}")
    return np.frombuffer(data, dtype=dt)[0].item()


def _latin1(text=None, encoding=None, *rest):
    """``_codecs.encode(text, "latin1")``: how protocol 2 spells bytes (numpy data buffers)."""
    if rest or type(text) is not str or encoding not in ("latin1", "latin-1"):
        raise _Refused("refused _codecs.encode other than of text to latin1")
    return text.encode("latin1")


# The only globals a pickle may name, for numpy 1 (numpy.core) and 2 (numpy._core) alike.
NUMPY_GLOBALS: dict[tuple[str, str], object] = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _make_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy.core.multiarray", "scalar"): _scalar,
    ("numpy._core.multiarray", "scalar"): _scalar,
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("_codecs", "encode"): _latin1,
}


def _short(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # noqa: D401 - pickle API
        found = NUMPY_GLOBALS.get((module, name))
        if found is None:
            raise _Refused(f"refused to load {module}.{name}")
        return found

    def persistent_load(self, pid):
        raise _Refused("refused a persistent reference")


def safe_unpickle(path: str | Path, what: str):
    """Load a pickle of lists/tuples/str/int and numpy numeric or unicode arrays and scalars, as
    plain Python (arrays become lists); anything else raises AmgeError (E504)."""
    path = Path(path)
    if not path.is_file():
        raise AmgeError(f"{what} file {path} not found", code="E504")
    size = path.stat().st_size
    if size == 0:
        raise AmgeError(f"{what} file {path} is empty", code="E504")
    if size > MAX_PICKLE_BYTES:
        raise AmgeError(f"{what} file {path} is {size} bytes; the cap is {MAX_PICKLE_BYTES}",
                        code="E504")
    data = path.read_bytes()
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data)).load()
    except _Refused as exc:
        raise AmgeError(f"{what} file {path} holds something other than lists of strings and "
                        f"integers or numpy integer and string arrays ({exc}); only the official "
                        f"release layout is accepted", code="E504") from exc
    except Exception as exc:  # truncated, not a pickle, or a call with the wrong arguments
        raise AmgeError(f"{what} file {path} is not a readable pickle: "
                        f"{type(exc).__name__}: {exc}", code="E504") from exc
    return _plain(obj, path, what)


_ALLOWED = (list, tuple, _PlainArray, str, int)


def _plain(root, path: Path, what: str):
    """``root`` with every numpy array as a list; refuses any other type (no bool, float, bytes,
    dict, set, None), a reference cycle and nesting deeper than MAX_DEPTH. Each container is
    converted once (rows shared by many samples, as the release pickles them, stay cheap)."""
    done: dict[int, object] = {}
    open_: set[int] = set()

    def refuse(o, why=None):
        raise AmgeError(f"{what} file {path} holds {why or 'a ' + type(o).__name__}; only lists "
                        f"of strings and lists of integer lists (or numpy integer and string "
                        f"arrays) are accepted", code="E504")

    def walk(o, depth: int):
        if type(o) is _ArrayStub:
            if o.value is None:
                refuse(o, "a numpy array without data")
            o = o.value
        t = type(o)
        if t not in _ALLOWED:
            refuse(o)
        if t is str or t is int:
            return o
        key = id(o)
        if key in done:
            return done[key]
        if key in open_:
            refuse(o, "a list that contains itself")
        if depth >= MAX_DEPTH:
            refuse(o, f"lists nested more than {MAX_DEPTH} deep")
        open_.add(key)
        out = [walk(x, depth + 1) for x in o]
        open_.discard(key)
        done[key] = out
        return out

    return walk(root, 0)


def multi_hot(index_lists, num_classes: int = NUM_MUSCLES) -> np.ndarray:
    """(N, num_classes) uint8 multi-hot of lists of class indices, as MultiLabelBinarizer(0..C-1)."""
    out = np.zeros((len(index_lists), num_classes), dtype=np.uint8)
    for i, idx in enumerate(index_lists):
        for j in idx:
            out[i, j] = 1
    return out


def read_official_split(videos_pkl: str | Path, labels_pkl: str | Path) -> tuple[list[str], np.ndarray]:
    """(video paths, (N, 20) multi-hot) from the two pickles of one split, validated."""
    videos = safe_unpickle(videos_pkl, "Videos")
    labels = safe_unpickle(labels_pkl, "Labels")
    if type(videos) is not list or not all(type(v) is str for v in videos):
        raise AmgeError(f"Videos file {videos_pkl} must hold a list of path strings (or a 1-D "
                        f"numpy string array)", code="E504")
    if type(labels) is not list or not all(type(x) is list for x in labels):
        raise AmgeError(f"Labels file {labels_pkl} must hold a list of lists of muscle indices "
                        f"(or of 1-D numpy integer arrays)", code="E504")
    if len(videos) != len(labels):
        raise AmgeError(f"The videos file lists {len(videos)} paths but the labels file "
                        f"{len(labels)} label lists; they must pair up one to one", code="E504")
    if len(videos) > MAX_SAMPLES:
        raise AmgeError(f"Videos file {videos_pkl} lists {len(videos)} paths; the cap is "
                        f"{MAX_SAMPLES}", code="E504")
    long = next((i for i, x in enumerate(labels) if len(x) > MAX_ROW), None)
    if long is not None:
        raise AmgeError(f"Labels file {labels_pkl}: entry {long} lists {len(labels[long])} "
                        f"muscle indices; at most {MAX_ROW} are accepted", code="E504")
    bad = [(i, j) for i, x in enumerate(labels) for j in x
           if type(j) is not int or not 0 <= j < NUM_MUSCLES]
    if bad:
        i, j = bad[0]
        raise AmgeError(f"Labels file {labels_pkl}: {len(bad)} muscle indices outside 0..19 "
                        f"(first: {j!r} in entry {i})", code="E504")
    return list(videos), multi_hot(labels)


# The MuscleMap release reads its videos from a sibling folder of the pickled paths.
REFERENCE_REWRITE: dict[str, str] = {"musclemap_trimmed": "musclemap_rescale"}


def parse_rewrite(items) -> dict[str, str]:
    """``["old=new", ...]`` (the repeatable --rewrite option of `labels import` and `data
    check-media`) -> {old: new}; the word "reference" gives REFERENCE_REWRITE."""
    out: dict[str, str] = {}
    for item in items or ():
        if item == "reference":
            out.update(REFERENCE_REWRITE)
            continue
        old, sep, new = str(item).partition("=")
        if not sep or not old or not new or "/" in old + new or "\\" in old + new:
            raise AmgeError(f"A path rewrite is OLD=NEW with single path components "
                            f"(e.g. musclemap_trimmed=musclemap_rescale), got {item!r}",
                            code="E505")
        out[old] = new
    return out


def rewrite_path(path: str, rewrite: dict[str, str] | None) -> str:
    """``path`` with every whole component that is a key of ``rewrite`` replaced."""
    parts = str(path).replace("\\", "/").split("/")
    return "/".join((rewrite or {}).get(p, p) for p in parts)


def resolve_activity_mode(card: DatasetCard, activity_from: str | None,
                          activity_regex: str | None) -> tuple[str, str | None]:
    """(mode, pattern) of an import: ``--activity-from`` if given, else ``regex`` when only
    ``--activity-regex`` is given, else the card's. Raises AmgeError (E505) on a bad pair."""
    if activity_from is not None and activity_from not in ACTIVITY_MODES:
        raise AmgeError(f"--activity-from must be one of {', '.join(ACTIVITY_MODES)}, not "
                        f"{activity_from!r}.{did_you_mean(activity_from, ACTIVITY_MODES)}",
                        code="E505")
    if activity_regex is not None:
        if activity_from not in (None, "regex"):
            raise AmgeError(f"--activity-regex is read only with --activity-from regex, not "
                            f"with --activity-from {activity_from}", code="E505")
        return "regex", activity_regex
    mode = activity_from or card.activity_from_path
    pattern = card.activity_regex if mode == "regex" else None
    if mode == "regex" and pattern is None:
        raise AmgeError("--activity-from regex needs --activity-regex PATTERN (one group, or a "
                        "group named activity), e.g. --activity-regex "
                        "'AN_(?P<activity>.+?)_ST'", code="E505")
    return mode, pattern


def _count_problem(card: DatasetCard, split: str, mode: str, pattern: str | None,
                   videos: list[str], acts: list[str]) -> str | None:
    """Why the split's activities disagree with the card, with what to try; None if they agree."""
    expected = card.activity_count(split)
    found = sorted(set(acts))
    if len(found) == expected:
        return None
    kind = "unseen" if split.endswith("_unseen") else "seen"
    if len(found) == 1:
        what = f"1 activity in {split}: every path gave {found[0]!r}"
    else:
        what = (f"{len(found)} activities in {split} (first: "
                f"{', '.join(repr(a) for a in found[:3])})")
    tries = []
    for other in ("filename", "parent"):
        if other == mode:
            continue
        try:
            n = len(set(activity_of_paths(videos, other)))
        except AmgeError:
            continue
        if n == expected:
            tries.append(f"--activity-from {other} gives {expected}")
    hint = ("; " + "; ".join(tries) if tries else
            "; check --activity-from (filename, parent, or regex with --activity-regex)")
    return (f"{what}; the card says {expected} ({kind} activities of {card.name}, "
            f"--activity-from {mode}{' ' + repr(pattern) if pattern else ''}){hint}. If your copy "
            f"of the data really holds a different number of activities, pass "
            f"--allow-activity-mismatch")


def import_official(dataset: str, split: str, videos_pkl: str | Path, labels_pkl: str | Path,
                    labels_dir: str | Path, activity_from: str | None = None,
                    replace: bool = False, media_rewrite: dict[str, str] | None = None,
                    activity_regex: str | None = None, allow_activity_mismatch: bool = False
                    ) -> tuple[LabelSet, Path, list[str]]:
    """Import one split into the store. Returns (labels, written path, warnings).

    ``activity_from`` (vocab.ACTIVITY_MODES; default: the card's ``activity_from_path``, or
    "regex" when only ``activity_regex`` is given) says how each clip's activity is read from
    its path (labels.activity_of_paths). Unless the mode is "none", the split must hold exactly
    the card's number of activities (DatasetCard.activity_count): otherwise AmgeError E514,
    naming what was found and which mode would give the card's count, before anything is
    written; ``allow_activity_mismatch`` turns that into a warning (recorded in the provenance).
    ``media_rewrite`` replaces whole path components (parse_rewrite), e.g. REFERENCE_REWRITE as
    the reference code does.
    """
    card = get_card(dataset, Path(labels_dir))
    mode, pattern = resolve_activity_mode(card, activity_from, activity_regex)
    videos, y = read_official_split(videos_pkl, labels_pkl)
    acts = activity_of_paths(videos, mode, pattern)
    ids = [sample_id_from_path(v) for v in videos]
    media = [rewrite_path(v, media_rewrite) for v in videos] if media_rewrite else list(videos)
    ls = make_label_set(dataset, split, ids, acts, media, y)
    warnings = []
    problem = _count_problem(card, split, mode, pattern, videos, acts) if mode != "none" else None
    if problem and not allow_activity_mismatch:
        raise AmgeError(problem[:1].upper() + problem[1:], code="E514")
    if problem:
        found, _, _ = problem.partition(". If your copy")
        warnings.append(f"{found} (accepted with --allow-activity-mismatch)")
    expected = card.split_sizes.get(split)
    if expected is not None and expected != len(ls):
        warnings.append(f"{dataset}/{split} has {len(ls)} samples; the paper reports {expected}")
    if split.endswith("unseen") and mode != "none" and card.unseen_complete:
        unknown = sorted(set(acts) - set(card.unseen_activities))
        if unknown:
            warnings.append(f"{len(unknown)} activities of {split} are not in the card's unseen "
                            f"list (first: {unknown[0]!r}); check the paths' activity names")
    path = write_labels(labels_dir, ls, replace=replace)
    write_json_atomic(split_path(labels_dir, dataset, split).with_suffix(".provenance.json"), {
        "source": "official-pickles",
        "videos": {"path": str(Path(videos_pkl).resolve()), "sha256": sha256_file(videos_pkl)},
        "labels": {"path": str(Path(labels_pkl).resolve()), "sha256": sha256_file(labels_pkl)},
        "activity_from": mode,
        "activity_regex": pattern,
        "activities": len(set(acts)) if mode != "none" else None,
        "activity_mismatch_allowed": problem if problem else None,
        "media_rewrite": dict(media_rewrite) if media_rewrite else None,
        "label_fingerprint": ls.fingerprint,
        "imported": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return ls, path, warnings
