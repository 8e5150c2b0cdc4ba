"""The entry file (``submissions/<dataset>/<entry>/entry.toml``): who made a leaderboard row, with
what, and for ``reported`` rows the paper's numbers.

Read by leaderboard/entries.py (through harness.schema.collect, so that every problem of a file
is reported at once), written there with tomli-w. docs/leaderboard.md documents every key (a
test checks). Values a stranger writes are shown on a public site, so text may hold no control
characters, links must be http(s), and lengths are bounded.
"""

from __future__ import annotations

import math
import re
import unicodedata
from datetime import date
from typing import Annotated, Literal

import msgspec

from ..vocab import FAMILIES, MODALITIES, STATUSES, TABLE_KEYS
from .base import Percent

ENTRY_VERSION = 1
MAX_NAME = 100
MAX_TEXT = 2000
DATASET_RE = re.compile(r"^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_URL_RE = re.compile(r"^https?://[^\s<>\"']+$")

# Literal[("a", "b")] is Literal["a", "b"]: the vocabulary stays the one source of the names.
Status = Literal[STATUSES]
Family = Literal[FAMILIES]
Modality = Literal[MODALITIES]
Positive = Annotated[int, msgspec.Meta(ge=1)]


# Unicode's bidirectional controls (embeddings, overrides, isolates, marks): they can make a
# name read as something else (a reversed file name, a different number) and no language needs
# them in plain text; the bidi algorithm orders right-to-left scripts by itself.
BIDI_CONTROLS = frozenset([0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def bad_text(s: str, multiline: bool = False) -> str | None:
    """Why a string cannot be shown as entry text, or None."""
    for ch in s:
        o = ord(ch)
        if o in BIDI_CONTROLS:
            return f"holds the bidirectional control character U+{o:04X}"
        if 0xD800 <= o <= 0xDFFF:
            return "holds an unpaired surrogate (not valid Unicode text)"
        if (o < 32 and not (multiline and ch in "\n\t")) or o == 127 or 0x80 <= o < 0xA0:
            return f"holds the control character U+{o:04X}"
        if unicodedata.category(ch) in ("Zl", "Zp") and not multiline:
            return f"holds the line separator U+{o:04X}"
    return None


class Reported(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The [reported] table: a paper's numbers, as printed (mAP %)."""

    paper_version: str  # which paper version the numbers come from (v1, v2)
    table: str  # the table they come from, e.g. "Table 2"
    val_s: Percent
    val_u: Percent
    val_a: Percent
    test_s: Percent
    test_u: Percent
    test_a: Percent

    def values(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in TABLE_KEYS}


class EntryMeta(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    """The keys of an entry file, in the order they are written."""

    entry_version: int  # version of the entry-file layout; this is version 1
    name: str  # display name, 1-100 characters
    dataset: str  # dataset card name; must match the folder the entry is in
    status: Status
    family: Family
    authors: list[str]  # who produced the numbers or predictions (may be empty)
    team: str | None = None  # the team a submission counts against in the test-split quota
    paper: str | None = None  # title or citation of the paper that describes the method
    paper_url: str | None = None  # http(s) link to the paper
    code_url: str | None = None  # http(s) link to the code
    modalities_train: list[Modality]  # inputs used in training
    modalities_test: list[Modality]  # inputs the model sees at test time
    params_m: Annotated[float, msgspec.Meta(ge=0.0)] | None = None  # trainable parameters, millions
    training_data: str  # data the model was trained on
    pretraining: str  # e.g. ImageNet-1K, "none" or "not stated"
    frames: Positive | None = None  # frames per clip at test time
    views: Positive | None = None  # clips (views) per video at test time
    preset: str | None = None  # the run-config preset of a reproduced row ("default", "paper")
    added: str | None = None  # date added, YYYY-MM-DD
    notes: str | None = None  # free text shown on the entry page
    reported: Reported | None = None  # only for status "reported"

    @classmethod
    def check_field(cls, key: str, value: object) -> list[tuple[str, str]]:
        """(message, code) for each rule one well-typed value breaks (harness.schema)."""
        if value is None:
            return []
        if key == "entry_version" and value != ENTRY_VERSION:
            return [(f"{value!r} is not supported; this amge-eval reads version "
                     f"{ENTRY_VERSION}", "E905")]
        if key in ("name", "paper", "training_data", "pretraining", "preset", "notes"):
            out = _text_problems(value, MAX_NAME if key == "name" else MAX_TEXT, key == "notes")
            if key == "name" and not value.strip():
                out.append(("must not be empty", "E906"))
            return out
        if key == "team":
            from .quota import team_key

            out = _text_problems(value, MAX_NAME)
            if not team_key(value):
                out.append(("needs at least one letter or digit", "E903"))
            return out
        if key == "reported":
            return [(f"{k}: {msg}", code) for k in ("paper_version", "table")
                    for msg, code in _text_problems(getattr(value, k), MAX_TEXT)]
        if key == "authors":
            return [(f"{a[:40]!r} {msg}", code) for a in value
                    for msg, code in _text_problems(a, MAX_NAME)]
        if key == "dataset" and (not DATASET_RE.match(value) or ".." in value):
            return [(f"{value[:60]!r} is not a dataset card name", "E911")]
        if key in ("paper_url", "code_url") and not _URL_RE.match(value):
            return [(f"{value[:80]!r} is not an http(s) URL", "E908")]
        if key in ("modalities_train", "modalities_test"):
            if not value:
                return [(f"expected a non-empty list of modalities from "
                         f"{', '.join(MODALITIES)}", "E903")]
            if len(set(value)) != len(value):
                return [("lists a modality twice", "E903")]
        if key == "params_m" and not math.isfinite(value):
            return [(f"expected a finite number, got {value}", "E903")]
        if key == "added":
            try:
                if not _DATE_RE.match(value):
                    raise ValueError
                date.fromisoformat(value)
            except ValueError:
                return [(f"{value!r} is not a date; write YYYY-MM-DD", "E903")]
        return []


def _text_problems(value: str, limit: int, multiline: bool = False) -> list[tuple[str, str]]:
    why = bad_text(value, multiline)
    if why:
        return [(why, "E903")]
    if len(value) > limit:
        return [(f"is {len(value)} characters long; at most {limit} are allowed", "E903")]
    return []
