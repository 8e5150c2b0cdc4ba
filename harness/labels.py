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
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .datasets import check_split
from .errors import AmgeError, MissingData
from .fileio import default_labels_dir, write_text_atomic
from .muscles import MUSCLE_IDS, NUM_MUSCLES

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


def activity_from_path(path: str) -> str:
    parts = [p for p in str(path).replace("\\", "/").split("/") if p not in ("", ".")]
    return activity_from_dirname(parts[-2]) if len(parts) > 1 else ""
