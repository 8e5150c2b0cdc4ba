"""The project's vocabulary: every name that more than one layer spells, defined once.

Splits and the papers' table cells, baseline families, input modalities, entry statuses and
interval kinds. Code that reads or writes one of these names imports it from here, and a name
that is not in the vocabulary gets the one "did you mean" hint of ``did_you_mean``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# ---- splits and the papers' table cells
SPLITS: tuple[str, ...] = ("train", "val_seen", "val_unseen", "test_seen", "test_unseen")
EVAL_SPLITS: tuple[str, ...] = SPLITS[1:]
# The short key of each evaluation split, as the papers' table columns name them.
SHORT: dict[str, str] = {"val_seen": "val_s", "val_unseen": "val_u",
                         "test_seen": "test_s", "test_unseen": "test_u"}
# The two averaged protocols: val_a = (val_s + val_u) / 2, test_a likewise; the gap is s - u.
PAIRS: dict[str, tuple[str, str]] = {"val": ("val_seen", "val_unseen"),
                                     "test": ("test_seen", "test_unseen")}
TABLE_KEYS: tuple[str, ...] = ("val_s", "val_u", "val_a", "test_s", "test_u", "test_a")
GAP_KEYS: tuple[str, ...] = ("val_gap", "test_gap")
SUMMARY_KEYS: tuple[str, ...] = (*TABLE_KEYS, *GAP_KEYS)
RANK_KEY = "test_a"  # the papers' headline number; the board ranks by it

# ---- label import: how `labels import` reads an activity name from a video path
# (harness/labels.py activity_of_paths; docs/formats.md "Importing the official release")
ACTIVITY_MODES: tuple[str, ...] = ("filename", "parent", "regex", "none")

# ---- methods and their inputs
# What the baseline registry builds, then two kinds of outside submission.
BASELINE_FAMILIES: tuple[str, ...] = ("statistical", "skeleton", "video")
FAMILIES: tuple[str, ...] = (*BASELINE_FAMILIES, "multimodal", "other")
# One spelling per input. A model that takes several joins them with "+" ("rgb+rgb_diff").
MODALITIES: tuple[str, ...] = ("none", "labels", "rgb", "rgb_diff", "optical_flow", "skeleton",
                               "depth", "audio", "text")

# ---- leaderboard
STATUSES: tuple[str, ...] = ("reported", "reproduced", "verified")
STATUS_TEXT: dict[str, str] = {
    "reported": "numbers copied from a paper, not re-scored",
    "reproduced": "the harness scored predictions produced by this project's baselines",
    "verified": "the harness scored predictions submitted by the authors",
}

# ---- intervals
CI_KINDS: tuple[str, ...] = ("activity", "sample")


def did_you_mean(word: object, choices: Iterable[object], n: int = 3) -> str:
    """`` Did you mean 'x'?`` (or ``'x' or 'y'``) for the choices close to ``word``; else ""."""
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=n, cutoff=0.6)
    return f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def split_modalities(text: str) -> tuple[str, ...]:
    """``"rgb+rgb_diff"`` -> ``("rgb", "rgb_diff")``; raises ValueError naming an unknown part."""
    parts = tuple(p for p in str(text).split("+"))
    for p in parts:
        if p not in MODALITIES:
            raise ValueError(f"unknown modality {p!r}; modalities are {', '.join(MODALITIES)}."
                             f"{did_you_mean(p, MODALITIES)}")
    if len(set(parts)) != len(parts):
        raise ValueError(f"{text!r} names a modality twice")
    return parts
