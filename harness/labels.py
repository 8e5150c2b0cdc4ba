"""The label store: held-out labels per dataset and split, in one documented CSV format.

Layout (docs/formats.md has the full description)::

    <labels-dir>/<dataset>/<split>.csv              the labels
    <labels-dir>/<dataset>/<split>.provenance.json  where they came from (written by imports)
    <labels-dir>/<dataset>/card.toml                optional card (generated datasets)

Each CSV has the header ``sample_id,activity,media,<20 muscle ids in label order>`` and one row
per sample with 0/1 in the muscle columns. ``activity`` may be empty when the source gives none.

The label fingerprint (``LabelSet.fingerprint``) is the sha256 of a canonical serialisation that
does not depend on row order, line endings or the media paths::

    amge-labels/v1\\n
    dataset=<dataset>\\n
    split=<split>\\n
    muscles=<id,id,...>\\n
    <sample_id>\\t<activity>\\t<20 characters 0/1>\\n   one line per sample, sorted by sample_id
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .datasets import check_split
from .errors import AmgeError, MissingData
from .fileio import default_labels_dir, write_text_atomic
from .muscles import MUSCLE_IDS, NUM_MUSCLES
from .vocab import ACTIVITY_MODES, did_you_mean

FINGERPRINT_VERSION = "amge-labels/v1"
HEADER: tuple[str, ...] = ("sample_id", "activity", "media", *MUSCLE_IDS)


@dataclass(frozen=True, eq=False)
class LabelSet:
    """Labels of one split. Row ``i`` of ``labels`` belongs to ``sample_ids[i]``."""

    dataset: str
    split: str
    sample_ids: np.ndarray  # (N,) str
    activities: np.ndarray  # (N,) str, "" where unknown
    media: np.ndarray  # (N,) str, path of the sample's video relative to the dataset's media root
    labels: np.ndarray  # (N, 20) uint8 in {0, 1}

    def __post_init__(self):
        n = len(self.sample_ids)
        if self.labels.shape != (n, NUM_MUSCLES) or len(self.activities) != n or len(self.media) != n:
            raise AmgeError(f"Label set {self.dataset}/{self.split}: inconsistent lengths", code="E501")

    def __len__(self) -> int:
        return len(self.sample_ids)

    @cached_property
    def fingerprint(self) -> str:
        """sha256 of the canonical serialisation (see the module docstring)."""
        h = hashlib.sha256()
        h.update(f"{FINGERPRINT_VERSION}\ndataset={self.dataset}\nsplit={self.split}\n"
                 f"muscles={','.join(MUSCLE_IDS)}\n".encode())
        bits = ["".join(map(str, row)) for row in self.labels.astype(np.uint8).tolist()]
        for i in np.argsort(self.sample_ids, kind="stable"):
            h.update(f"{self.sample_ids[i]}\t{self.activities[i]}\t{bits[i]}\n".encode())
        return h.hexdigest()

    @cached_property
    def index(self) -> dict[str, int]:
        return {sid: i for i, sid in enumerate(self.sample_ids.tolist())}

    def clusters(self) -> tuple[np.ndarray, list[str], str]:
        """Group samples for the cluster bootstrap.

        Returns (cluster index per sample, cluster names, kind). Samples are grouped by activity
        when every sample has one; otherwise by their 20-bit label vector (labels are per activity
        in every MuscleMap dataset, so this groups samples of one activity or of activities that
        share a label vector).
        """
        if len(self) and all(a != "" for a in self.activities.tolist()):
            names, inv = np.unique(self.activities, return_inverse=True)
            return inv.astype(np.int64), names.tolist(), "activity"
        keys = np.array(["".join(map(str, r)) for r in self.labels.astype(np.uint8).tolist()])
        names, inv = np.unique(keys, return_inverse=True)
        return inv.astype(np.int64), names.tolist(), "label-vector"


def make_label_set(dataset: str, split: str, sample_ids, activities, media, labels) -> LabelSet:
    """Build a LabelSet from Python sequences, checking ids and label values."""
    sample_ids = np.asarray(list(sample_ids), dtype=str)
    n = len(sample_ids)
    activities = np.asarray(list(activities), dtype=str) if activities is not None else np.full(n, "")
    media = np.asarray(list(media), dtype=str) if media is not None else np.full(n, "")
    lab = np.asarray(labels)
    if lab.ndim != 2 or lab.shape[1] != NUM_MUSCLES or lab.shape[0] != n:
        raise AmgeError(f"Expected labels of shape ({n}, {NUM_MUSCLES}), but got {lab.shape}",
                        code="E501")
    if not np.isin(lab, (0, 1)).all():
        raise AmgeError("Labels must be 0 or 1", code="E501")
    _check_ids(sample_ids, f"{dataset}/{split}")
    for col in (activities, media):
        text = "".join(col.tolist())
        if "\n" in text or "\r" in text:
            raise AmgeError("Activities and media paths may not contain line breaks", code="E501")
    if n == 0:
        activities = np.zeros(0, dtype=str)
        media = np.zeros(0, dtype=str)
        sample_ids = np.zeros(0, dtype=str)
    return LabelSet(dataset, split, sample_ids, activities, media, lab.astype(np.uint8))


def _check_ids(ids: np.ndarray, where: str) -> None:
    from .predictions import bad_ids

    bad = bad_ids(ids)
    if bad:
        raise AmgeError(f"{where}: {len(bad)} invalid sample ids (empty, over 512 characters, "
                        f"control characters or surrounding spaces); first: {bad[0][:80]!r}",
                        code="E501")
    uniq, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        dups = uniq[counts > 1].tolist()
        raise AmgeError(f"{where}: {len(dups)} duplicated sample ids; first: "
                        f"{', '.join(repr(d) for d in dups[:5])}", code="E501")


def split_path(labels_dir: str | os.PathLike, dataset: str, split: str) -> Path:
    return Path(labels_dir) / dataset / f"{split}.csv"


def resolve_labels_dir(labels_dir: str | os.PathLike | None) -> Path:
    return Path(labels_dir).expanduser() if labels_dir else default_labels_dir()


def to_csv(ls: LabelSet) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    for sid, act, med, row in zip(ls.sample_ids.tolist(), ls.activities.tolist(),
                                  ls.media.tolist(), ls.labels.tolist()):
        w.writerow([sid, act, med, *row])
    return buf.getvalue()


def write_labels(labels_dir: str | os.PathLike, ls: LabelSet, replace: bool = False) -> Path:
    """Write a split atomically. Refuses to overwrite different labels unless ``replace``."""
    path = split_path(labels_dir, ls.dataset, ls.split)
    if path.exists() and not replace:
        old = read_labels(labels_dir, ls.dataset, ls.split)
        if old.fingerprint != ls.fingerprint:
            raise AmgeError(f"{path} already holds different labels (fingerprint "
                            f"{old.fingerprint[:12]}); pass --replace to overwrite them",
                            code="E502")
    return write_text_atomic(path, to_csv(ls))


def parse_csv(text: str, dataset: str, split: str, source: str) -> LabelSet:
    rows = list(csv.reader(io.StringIO(text)))
    if not rows or tuple(rows[0]) != HEADER:
        got = ",".join(rows[0][:6]) + ",..." if rows else "nothing"
        raise AmgeError(f"{source}: expected the header sample_id,activity,media,"
                        f"{','.join(MUSCLE_IDS[:3])},... (20 muscle ids in label order), "
                        f"but got {got}", code="E501")
    body = rows[1:]
    bad = [i + 2 for i, r in enumerate(body) if len(r) != len(HEADER)]
    if bad:
        raise AmgeError(f"{source}: {len(bad)} rows have the wrong number of fields "
                        f"(first at line {bad[0]})", code="E501")
    cells = np.array([r[3:] for r in body], dtype=str).reshape(len(body), NUM_MUSCLES)
    ones, zeros = cells == "1", cells == "0"
    if not (ones | zeros).all():
        i, j = np.argwhere(~(ones | zeros))[0]
        raise AmgeError(f"{source}: muscle columns must hold 0 or 1, but line {i + 2} has "
                        f"{cells[i, j][:20]!r} for {MUSCLE_IDS[j]}", code="E501")
    lab = ones.astype(np.uint8)
    return make_label_set(dataset, split, [r[0] for r in body], [r[1] for r in body],
                          [r[2] for r in body], lab)


def read_labels(labels_dir: str | os.PathLike | None, dataset: str, split: str) -> LabelSet:
    """Read one split from the store; a MissingData error names what to do when it is absent."""
    check_split(split)
    root = resolve_labels_dir(labels_dir)
    path = split_path(root, dataset, split)
    if not path.is_file():
        have = sorted(p.stem for p in (root / dataset).glob("*.csv")) if (root / dataset).is_dir() else []
        hint = (f" The store has {dataset} splits: {', '.join(have)}." if have else
                f" The store at {root} has no labels for {dataset!r}.")
        how = ("run `amge-eval data synth` to generate them" if dataset == "synth" else
               f"import them with `amge-eval labels import --dataset {dataset} --split {split} "
               f"--videos VIDEOS.pkl --labels LABELS.pkl`")
        raise MissingData(f"No labels for {dataset}/{split} at {path}.{hint} Pass --labels-dir "
                          f"(or set AMGE_EVAL_LABELS) to point at your store, or {how}.",
                          code="E503")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise AmgeError(f"{path} is unreadable: {exc}", code="E501") from exc
    return parse_csv(text, dataset, split, str(path))


def list_store(labels_dir: str | os.PathLike | None) -> list[tuple[str, str, Path]]:
    """(dataset, split, path) of every split file in the store."""
    root = resolve_labels_dir(labels_dir)
    out = []
    if root.is_dir():
        for p in sorted(root.glob("*/*.csv")):
            out.append((p.parent.name, p.stem, p))
    return out


def activity_from_dirname(name: str) -> str:
    """Folder name -> activity: underscores become spaces, CamelCase is split, all lower case.

    ``push_ups`` -> ``push ups``; ``ShavingBeard`` -> ``shaving beard``; ``v-ups`` stays.
    """
    s = name.replace("_", " ")
    if " " not in s and any(c.isupper() for c in s[1:]):
        s = "".join((" " + c if c.isupper() and i and not s[i - 1].isupper() else c)
                    for i, c in enumerate(s))
    return " ".join(s.lower().split())


def sample_id_from_path(path: str) -> str:
    """Sample id of a video path: ``<parent folder>/<file name without extension>``.

    ``/data/musclemap_trimmed/push_ups/clip_0001.mp4`` -> ``push_ups/clip_0001``. A bare file
    name gives its stem. Backslashes count as separators, so Windows paths give the same ids.
    """
    parts = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts:
        raise AmgeError(f"Cannot derive a sample id from the empty path {path!r}", code="E501")
    stem = parts[-1].rsplit(".", 1)[0] if "." in parts[-1].lstrip(".") else parts[-1]
    return f"{parts[-2]}/{stem}" if len(parts) > 1 else stem


def _parts(path: str) -> list[str]:
    return [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]


def activity_from_path(path: str) -> str:
    """Activity of ``--activity-from parent``: the name of the folder holding the video."""
    parts = _parts(path)
    return activity_from_dirname(parts[-2]) if len(parts) > 1 else ""


def activity_from_filename(path: str) -> str | None:
    """Activity of ``--activity-from filename``: the MuscleMap release's own rule.

    The release (slowfast/datasets/dataset_cleanup.py) names a clip's activity by the text
    between the last ``AN_`` and the next ``_ST`` (``...AN_push_ups_ST...`` -> ``push ups``).
    It applies that to the whole path; this applies it to the file name, which gives the same
    text whenever the file name holds ``AN_``. None when the file name does not hold
    ``AN_<activity>_ST`` (the release would then produce a bogus name such as a whole path).
    """
    parts = _parts(path)
    if not parts or "AN_" not in parts[-1]:
        return None
    rest = parts[-1].split("AN_")[-1]
    if "_ST" not in rest:
        return None
    raw = rest.split("_ST")[0]
    return activity_from_dirname(raw) or None


def compile_activity_regex(pattern: str) -> re.Pattern:
    """The pattern of ``--activity-regex``: it must compile and name the activity by a group
    called ``activity`` or by its only group. Raises AmgeError (E505) otherwise."""
    if not isinstance(pattern, str) or not pattern:
        raise AmgeError("--activity-regex needs a pattern, e.g. '/(?P<activity>[^/]+)/[^/]+$'",
                        code="E505")
    try:
        rx = re.compile(pattern)
    except re.error as exc:
        raise AmgeError(f"--activity-regex {pattern!r} is not a valid regular expression: {exc}",
                        code="E505") from exc
    if "activity" not in rx.groupindex and rx.groups != 1:
        raise AmgeError(f"--activity-regex {pattern!r} has {rx.groups} groups; give it one "
                        f"group, or name the activity's group (?P<activity>...)", code="E505")
    return rx


def activity_from_regex(path: str, rx: re.Pattern) -> str | None:
    """Activity of ``--activity-from regex``: the group ``activity`` (or the only group) of the
    first match of ``rx`` in the path (``\\`` read as ``/``), normalised like a folder name;
    None when the pattern does not match or the group is empty."""
    m = rx.search(str(path).replace("\\", "/"))
    if m is None:
        return None
    raw = m.group("activity") if "activity" in rx.groupindex else m.group(1)
    return activity_from_dirname(raw) if raw else None


def activity_of_paths(paths, mode: str, regex: str | None = None) -> list[str]:
    """The activity of every video path under one mode (vocab.ACTIVITY_MODES):

    - ``filename``: the release's ``AN_<activity>_ST`` rule (activity_from_filename);
    - ``parent``: the folder holding the file (activity_from_path);
    - ``regex``: a user pattern (activity_from_regex);
    - ``none``: "" for every path.

    Raises AmgeError (E505) naming the first path a ``filename`` or ``regex`` mode cannot read.
    """
    paths = list(paths)
    if mode == "none":
        return [""] * len(paths)
    if mode == "parent":
        return [activity_from_path(p) for p in paths]
    if mode == "filename":
        acts = [activity_from_filename(p) for p in paths]
        why = "no AN_<activity>_ST in their file name"
    elif mode == "regex":
        rx = compile_activity_regex(regex or "")
        acts = [activity_from_regex(p, rx) for p in paths]
        why = f"no match (or an empty activity group) for --activity-regex {regex!r}"
    else:
        raise AmgeError(f"--activity-from must be one of {', '.join(ACTIVITY_MODES)}, not "
                        f"{mode!r}.{did_you_mean(mode, ACTIVITY_MODES)}", code="E505")
    bad = [p for p, a in zip(paths, acts) if a is None]
    if bad:
        hint = ("; the release's own paths read `...AN_<activity>_ST...`; for one folder per "
                "activity use --activity-from parent" if mode == "filename" else "")
        raise AmgeError(f"{len(bad)} of {len(paths)} video paths have {why} (first: "
                        f"{str(bad[0])[:160]!r}){hint}", code="E505")
    return acts
