"""Import labels from the official MuscleMap release layout.

Per split the release has two pickles: a list of video paths and a list of lists of muscle
indices 0..19. The reference code multi-hot encodes them with scikit-learn's MultiLabelBinarizer
fitted on 0..19, so column j is muscle j; ``multi_hot`` reproduces exactly that (a test checks
it against MultiLabelBinarizer).

Pickles can run code when loaded, so ``safe_unpickle`` admits only what these files need:
lists, tuples, strings and integers. Any other object, including every class (numpy arrays,
sets built through ``builtins``) is refused before it is created.
"""

from __future__ import annotations

import io
import pickle
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from .datasets import get_card
from .errors import AmgeError
from .fileio import sha256_file, write_json_atomic
from .labels import (
    LabelSet,
    activity_from_path,
    make_label_set,
    sample_id_from_path,
    split_path,
    write_labels,
)
from .muscles import NUM_MUSCLES

MAX_PICKLE_BYTES = 256 * 1024 * 1024


class _Refused(pickle.UnpicklingError):
    """The pickle asked for something beyond plain lists, strings and integers."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # noqa: D401 - pickle API
        raise _Refused(f"refused to load {module}.{name}")

    def persistent_load(self, pid):
        raise _Refused("refused a persistent reference")


def safe_unpickle(path: str | Path, what: str):
    """Load a pickle of lists/tuples/str/int only; anything else raises AmgeError (E504)."""
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
                        f"integers ({exc}); only the official release layout is accepted",
                        code="E504") from exc
    except Exception as exc:  # truncated or not a pickle at all
        raise AmgeError(f"{what} file {path} is not a readable pickle: "
                        f"{type(exc).__name__}: {exc}", code="E504") from exc
    _check_plain(obj, path, what)
    return obj


_ALLOWED = (list, tuple, str, int)


def _check_plain(obj, path: Path, what: str) -> None:
    """Only lists/tuples/str/int (no bool, float, bytes, dict, set, None), checked without recursion."""
    stack = [obj]
    while stack:
        o = stack.pop()
        if type(o) not in _ALLOWED:
            raise AmgeError(f"{what} file {path} holds a {type(o).__name__}; only lists of "
                            f"strings and lists of integer lists are accepted", code="E504")
        if type(o) in (list, tuple):
            stack.extend(o)


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
    if type(videos) not in (list, tuple) or not all(type(v) is str for v in videos):
        raise AmgeError(f"Videos file {videos_pkl} must hold a list of path strings", code="E504")
    if type(labels) not in (list, tuple) or not all(type(x) in (list, tuple) for x in labels):
        raise AmgeError(f"Labels file {labels_pkl} must hold a list of lists of muscle indices",
                        code="E504")
    if len(videos) != len(labels):
        raise AmgeError(f"The videos file lists {len(videos)} paths but the labels file "
                        f"{len(labels)} label lists; they must pair up one to one", code="E504")
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


def import_official(dataset: str, split: str, videos_pkl: str | Path, labels_pkl: str | Path,
                    labels_dir: str | Path, activity_from: str | None = None,
                    replace: bool = False, media_rewrite: dict[str, str] | None = None
                    ) -> tuple[LabelSet, Path, list[str]]:
    """Import one split into the store. Returns (labels, written path, warnings).

    ``activity_from``: "parent" takes the activity from the video's folder name, "none" leaves
    it empty; default: the card's ``activity_from_path``. ``media_rewrite`` replaces whole path
    components (parse_rewrite), e.g. REFERENCE_REWRITE as the reference code does.
    """
    card = get_card(dataset, Path(labels_dir))
    videos, y = read_official_split(videos_pkl, labels_pkl)
    mode = activity_from or card.activity_from_path
    if mode not in ("parent", "none"):
        raise AmgeError(f"--activity-from must be 'parent' or 'none', not {mode!r}", code="E505")
    ids = [sample_id_from_path(v) for v in videos]
    acts = [activity_from_path(v) if mode == "parent" else "" for v in videos]
    media = [rewrite_path(v, media_rewrite) for v in videos] if media_rewrite else list(videos)
    ls = make_label_set(dataset, split, ids, acts, media, y)
    warnings = []
    expected = card.split_sizes.get(split)
    if expected is not None and expected != len(ls):
        warnings.append(f"{dataset}/{split} has {len(ls)} samples; the paper reports {expected}")
    if split.endswith("unseen") and mode == "parent" and card.unseen_complete:
        unknown = sorted(set(acts) - set(card.unseen_activities))
        if unknown:
            warnings.append(f"{len(unknown)} activities of {split} are not in the card's unseen "
                            f"list (first: {unknown[0]!r}); check the folder names")
    path = write_labels(labels_dir, ls, replace=replace)
    write_json_atomic(split_path(labels_dir, dataset, split).with_suffix(".provenance.json"), {
        "source": "official-pickles",
        "videos": {"path": str(Path(videos_pkl).resolve()), "sha256": sha256_file(videos_pkl)},
        "labels": {"path": str(Path(labels_pkl).resolve()), "sha256": sha256_file(labels_pkl)},
        "activity_from": mode,
        "media_rewrite": dict(media_rewrite) if media_rewrite else None,
        "label_fingerprint": ls.fingerprint,
        "imported": datetime.now(UTC).isoformat(timespec="seconds"),
    })
    return ls, path, warnings

