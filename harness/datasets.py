"""Dataset cards: the published facts of each benchmark dataset.

A card is one TOML file in ``harness/cards/`` (built in) or ``<labels-dir>/<dataset>/card.toml``
(written next to a generated or user-made label store, e.g. by ``amge-eval data synth``). Cards
are data: adding a dataset means adding a file, not code.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import msgspec

from .errors import AmgeError
from .muscles import MUSCLE_IDS
from .schema import convert
from .vocab import ACTIVITY_MODES, SPLITS, did_you_mean

_CARD_DIR = Path(__file__).parent / "cards"


class _Unseen(msgspec.Struct, forbid_unknown_fields=True):
    activities: list[str] = []  # the unseen activity names the paper gives
    complete: bool = True  # False when the paper's list is cut off
    count: int | None = None  # number of unseen activities (default: the names given)


class CardFile(msgspec.Struct, forbid_unknown_fields=True):
    """The keys of a card file (harness/cards/*.toml, or <labels-dir>/<dataset>/card.toml)."""

    name: str
    activities: int
    title: str | None = None
    paper_version: str = ""
    paper: str = ""
    source: str = ""
    clips_stated: int | None = None
    # how `labels import` reads each clip's activity from its video path (vocab.ACTIVITY_MODES):
    # "filename" (the release's ...AN_<activity>_ST... rule), "parent" (the folder), "regex"
    # (activity_regex below) or "none"; docs/formats.md "Importing the official release"
    activity_from_path: Literal[ACTIVITY_MODES] = "parent"
    activity_regex: str | None = None  # the pattern of "regex": one group, or (?P<activity>...)
    notes: str = ""
    splits: dict[Literal[SPLITS], int] = {}
    unseen: _Unseen = msgspec.field(default_factory=_Unseen)
    muscles: list[str] | None = None
    # "private": the held-out labels are not published (gated data, or committed only encrypted,
    # docs/leaderboard.md "Private labels"); "public": anyone can score locally (synth)
    labels: Literal["public", "private"] = "public"

    def check(self) -> list[tuple[str, str]]:
        if self.muscles is not None and tuple(self.muscles) != MUSCLE_IDS:
            return [("muscles", "a card may not change the 20 muscle groups or their order")]
        if self.activity_from_path == "regex":
            if self.activity_regex is None:
                return [("activity_regex", 'activity_from_path = "regex" needs activity_regex')]
            from .labels import compile_activity_regex

            try:
                compile_activity_regex(self.activity_regex)
            except AmgeError as exc:
                return [("activity_regex", exc.message.replace("--activity-regex ", "", 1))]
        elif self.activity_regex is not None:
            return [("activity_regex", f'is read only with activity_from_path = "regex", not '
                                       f'{self.activity_from_path!r}')]
        if not 0 <= self.unseen_count() <= self.activities:
            return [("unseen", f"{self.unseen_count()} unseen activities, but the card has "
                               f"{self.activities} activities in all")]
        return []

    def unseen_count(self) -> int:
        u = self.unseen
        return u.count if u.count is not None else len(u.activities)


@dataclass(frozen=True)
class DatasetCard:
    name: str  # identifier used on the command line and in files
    title: str  # display name
    paper_version: str  # "v1" (three-dataset paper), "v2" (in-the-wild journal version), "synthetic"
    paper: str
    source: str
    activities: int
    split_sizes: dict[str, int]  # published sample count per split (may be empty for generated sets)
    unseen_activities: tuple[str, ...]
    unseen_complete: bool  # False when the paper's list is cut off
    unseen_count: int  # number of unseen activities (may exceed the names known)
    clips_stated: int | None = None
    activity_from_path: str = "parent"  # vocab.ACTIVITY_MODES; see labels.activity_of_paths
    activity_regex: str | None = None  # the pattern of activity_from_path = "regex"
    muscles: tuple[str, ...] = MUSCLE_IDS
    notes: str = ""
    path: str = ""  # the card file
    labels: str = "public"  # "public" or "private" (CardFile.labels)

    def activity_count(self, split: str) -> int:
        """How many activities the split holds by the card: the unseen ones on val_unseen and
        test_unseen, the seen ones (all activities minus the unseen) on train, val_seen and
        test_seen. `labels import` refuses a split whose paths give another count (E514)."""
        return self.unseen_count if split.endswith("_unseen") else self.activities - self.unseen_count


def _card_from_file(path: Path) -> DatasetCard:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AmgeError(f"Dataset card {path} is unreadable: {exc}", code="E500") from exc
    f: CardFile = convert(CardFile, data, code="E500", source=f"Dataset card {path}")
    return DatasetCard(
        name=f.name, title=f.title or f.name, paper_version=f.paper_version, paper=f.paper,
        source=f.source, activities=f.activities, split_sizes=dict(f.splits),
        unseen_activities=tuple(f.unseen.activities), unseen_complete=f.unseen.complete,
        unseen_count=f.unseen_count(),
        clips_stated=f.clips_stated, activity_from_path=f.activity_from_path,
        activity_regex=f.activity_regex, notes=f.notes,
        path=str(path), labels=f.labels)


def builtin_cards() -> dict[str, DatasetCard]:
    """The cards shipped with amge-eval, by name."""
    cards = [_card_from_file(p) for p in sorted(_CARD_DIR.glob("*.toml"))]
    return {c.name: c for c in cards}


def list_cards(labels_dir: Path | None = None) -> dict[str, DatasetCard]:
    """Built-in cards plus cards found in a label store (store cards never shadow built-ins)."""
    cards = builtin_cards()
    if labels_dir is not None and Path(labels_dir).is_dir():
        for p in sorted(Path(labels_dir).glob("*/card.toml")):
            card = _card_from_file(p)
            cards.setdefault(card.name, card)
    return cards


def get_card(name: str, labels_dir: Path | None = None) -> DatasetCard:
    """The card named ``name``; a store card at ``<labels_dir>/<name>/card.toml`` wins over none."""
    builtin = builtin_cards()
    if name in builtin:
        return builtin[name]
    if labels_dir is not None:
        p = Path(labels_dir) / name / "card.toml"
        if p.is_file():
            card = _card_from_file(p)
            if card.name != name:
                raise AmgeError(f"Dataset card {p} names itself {card.name!r}, expected {name!r}",
                                code="E500")
            return card
    choices = sorted(list_cards(labels_dir))
    raise AmgeError(f"Unknown dataset {name!r}.{did_you_mean(name, choices)} "
                    f"Known datasets: {', '.join(choices)}.", code="E406")


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise AmgeError(f"Unknown split {split!r}.{did_you_mean(split, list(SPLITS))} "
                        f"Splits are: {', '.join(SPLITS)}.", code="E406")
    return split
