"""Dataset cards: the published facts of each benchmark dataset.

A card is one TOML file in ``harness/cards/`` (built in) or ``<labels-dir>/<dataset>/card.toml``
(written next to a generated or user-made label store, e.g. by ``amge-eval data synth``). Cards
are data: adding a dataset means adding a file, not code.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import AmgeError
from .muscles import MUSCLE_IDS

SPLITS: tuple[str, ...] = ("train", "val_seen", "val_unseen", "test_seen", "test_unseen")
EVAL_SPLITS: tuple[str, ...] = ("val_seen", "val_unseen", "test_seen", "test_unseen")
# The two averaged protocols of the papers: val_a = (val_s + val_u) / 2, test_a likewise.
PAIRS: dict[str, tuple[str, str]] = {"val": ("val_seen", "val_unseen"),
                                     "test": ("test_seen", "test_unseen")}
SHORT: dict[str, str] = {"val_seen": "val_s", "val_unseen": "val_u",
                         "test_seen": "test_s", "test_unseen": "test_u"}

_CARD_DIR = Path(__file__).parent / "cards"


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
    activity_from_path: str = "parent"  # "parent" | "none"; see labels.sample_id_from_path
    muscles: tuple[str, ...] = MUSCLE_IDS
    notes: str = ""
    path: str = ""  # the card file
    extra: dict = field(default_factory=dict)  # any further keys of the card file


def _card_from_file(path: Path) -> DatasetCard:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AmgeError(f"Dataset card {path} is unreadable: {exc}", code="E500") from exc
    try:
        unseen = data.get("unseen", {})
        names = tuple(unseen.get("activities", ()))
        splits = {str(k): int(v) for k, v in data.get("splits", {}).items()}
        unknown = sorted(set(splits) - set(SPLITS))
        if unknown:
            raise ValueError(f"unknown split names {unknown}; expected some of {list(SPLITS)}")
        known = {"name", "title", "paper_version", "paper", "source", "activities", "clips_stated",
                 "activity_from_path", "notes", "splits", "unseen", "muscles"}
        muscles = tuple(data.get("muscles", MUSCLE_IDS))
        if muscles != MUSCLE_IDS:
            raise ValueError("a card may not change the 20 muscle groups or their order")
        card = DatasetCard(
            name=str(data["name"]), title=str(data.get("title", data["name"])),
            paper_version=str(data.get("paper_version", "")), paper=str(data.get("paper", "")),
            source=str(data.get("source", "")), activities=int(data["activities"]),
            split_sizes=splits, unseen_activities=names,
            unseen_complete=bool(unseen.get("complete", True)),
            unseen_count=int(unseen.get("count", len(names))),
            clips_stated=data.get("clips_stated"),
            activity_from_path=str(data.get("activity_from_path", "parent")),
            notes=str(data.get("notes", "")), path=str(path),
            extra={k: v for k, v in data.items() if k not in known},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AmgeError(f"Dataset card {path} is malformed: {exc}", code="E500") from exc
    if card.activity_from_path not in ("parent", "none"):
        raise AmgeError(f"Dataset card {path}: activity_from_path must be 'parent' or 'none'",
                        code="E500")
    return card


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


def did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return f" Did you mean: {', '.join(close)}?" if close else ""


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
