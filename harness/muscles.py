"""The 20 muscle groups of the MuscleMap label space, in label order.

Column ``j`` of every label matrix and every score matrix is muscle ``MUSCLES[j]``: this is the
order in which the papers list the 20 groups (three-dataset version, supplementary D.1; journal
version, Section III-B). The official release names no muscle anywhere: its label pickles hold
indices 0..19 and its MultiLabelBinarizer fitted on 0..19 makes column j of index j, so reading
index j as the papers' j-th muscle is the papers' order, not something the code states. Ids are
stable snake_case names; the papers' wording is kept as ``name``.

The body-region grouping is this project's (the papers define none): it exists only to
summarise per-muscle AP, and never changes a reported mAP.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Muscle:
    index: int
    id: str  # stable identifier used in prediction files and CSV headers
    name: str  # the papers' wording
    region: str  # one of REGIONS
    members: tuple[str, ...]  # anatomical members, as listed in the papers


REGIONS: tuple[str, ...] = ("head_neck", "arms", "trunk", "legs")

MUSCLES: tuple[Muscle, ...] = (
    Muscle(0, "neck_and_head", "neck and head", "head_neck",
           ("occipitofrontalis", "temporoparietalis", "levator labii superioris", "masticatorii",
            "sternocleidomastoideus")),
    Muscle(1, "chest", "chest", "trunk", ("pectoralis major",)),
    Muscle(2, "shoulder", "shoulder", "arms", ("deltoideus",)),
    Muscle(3, "biceps", "biceps", "arms", ("biceps brachii",)),
    Muscle(4, "triceps", "triceps", "arms", ("triceps brachii",)),
    Muscle(5, "forearms", "forearms", "arms",
           ("flexor carpi radialis", "palmaris longus", "abductor pollicis longus")),
    Muscle(6, "upper_back", "upper back", "trunk", ("trapezius",)),
    Muscle(7, "latissimus", "latissimus", "trunk", ("latissimus dorsi",)),
    Muscle(8, "obliques", "obliques", "trunk", ("external oblique", "serratus anterior")),
    Muscle(9, "upper_abdominis", "upper abdominis", "trunk",
           ("rectus abdominis", "quadratus lumborum")),
    Muscle(10, "lower_abdominis", "lower abdominis", "trunk",
           ("transversus abdominis", "pyramidalis")),
    Muscle(11, "lower_back", "lower back", "trunk", ("erector spinae",)),
    Muscle(12, "hamstring", "hamstring", "legs",
           ("biceps femoris", "semimembranosus", "semitendinosus")),
    Muscle(13, "quadriceps", "quadriceps", "legs", ("rectus femoris", "vastus medialis")),
    Muscle(14, "calves", "calves", "legs", ("gastrocnemius", "soleus")),
    Muscle(15, "inner_thigh", "inner thigh", "legs", ("adductor longus", "sartorius", "gracilis")),
    Muscle(16, "outer_thigh", "outer thigh", "legs", ("iliotibial tract",)),
    Muscle(17, "gluteus", "gluteus", "legs", ("gluteus maximus",)),
    Muscle(18, "feet_ankles", "feet ankles", "legs",
           ("peroneus longus and brevis", "extensor digitorum longus", "flexor hallucis longus",
            "flexor digitorum longus", "peroneus tertius", "tibialis posterior")),
    Muscle(19, "wrists", "wrists", "arms",
           ("extensor pollicis", "1st dorsal interosseous", "pronator quadratus")),
)

NUM_MUSCLES = len(MUSCLES)
MUSCLE_IDS: tuple[str, ...] = tuple(m.id for m in MUSCLES)

_ALIASES: dict[str, str] = {}
for _m in MUSCLES:
    _ALIASES[_m.id] = _m.id
    _ALIASES[_m.name] = _m.id


def canonical_muscle(name: str) -> str | None:
    """Map a muscle id or the papers' name (case- and space-insensitive) to its id, else None."""
    key = " ".join(str(name).strip().lower().replace("_", " ").split())
    return _ALIASES.get(key) or _ALIASES.get(key.replace(" ", "_"))


def region_columns() -> dict[str, list[int]]:
    """Column indices of each body region, in REGIONS order."""
    return {r: [m.index for m in MUSCLES if m.region == r] for r in REGIONS}
