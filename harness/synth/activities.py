"""The activity catalogue and the anatomical rule table of the synthetic benchmark.

An activity is a posture plus primitives (``motions.py``). Its muscle labels follow from those
alone, by two tables:

- ``POSTURE_LOAD``: muscles that hold a supported posture for the whole clip (arms that carry a
  plank, hands that hang from a bar);
- ``RULES[primitive][posture]``: muscles a primitive loads when done in that posture (a knee
  drive is a hip-flexor and calf drill standing, an abdominal drill hanging from a bar).

labels(activity) = POSTURE_LOAD[posture] | union of RULES[p][posture] over its primitives.
Step style (tempo, side, held or repeated, hand width) never changes a label, so every clip of
an activity carries the same 20-bit vector, as in MuscleMap. docs/synth.md prints both tables.

The unseen activities are new compositions of primitives and postures that the seen activities
use, so a model that learned what each motion loads can in principle label them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..muscles import MUSCLE_IDS, NUM_MUSCLES
from .motions import PRIMITIVE_POSTURES, Step

POSTURE_LOAD: dict[str, tuple[str, ...]] = {
    "standing": (),
    "prone": ("shoulder", "upper_abdominis", "lower_abdominis", "wrists"),  # a plank on the arms
    "supine": (),
    "side_lying": ("shoulder", "wrists"),  # a side plank on one straight arm
    "seated": (),
    "hanging": ("forearms", "wrists", "shoulder"),  # the grip and shoulders carry the body
    "quadruped": ("wrists",),
}

RULES: dict[str, dict[str, tuple[str, ...]]] = {
    "static_hold": {"prone": (), "hanging": ()},  # the posture's own load is the whole label
    "squat": {"standing": ("quadriceps", "gluteus", "hamstring")},
    "lunge": {"standing": ("quadriceps", "gluteus", "hamstring", "inner_thigh")},
    "hip_hinge": {"standing": ("hamstring", "gluteus", "lower_back")},
    "elbow_flexion": {"standing": ("biceps", "forearms")},
    "elbow_extension": {"standing": ("triceps",)},
    "push": {"prone": ("chest", "triceps"), "seated": ("triceps", "shoulder")},
    "shoulder_press": {"standing": ("shoulder", "triceps", "upper_back")},
    "front_raise": {"quadruped": ("shoulder", "upper_back")},
    "lateral_raise": {"standing": ("shoulder", "upper_back")},
    "row": {"standing": ("latissimus", "upper_back", "biceps"),
            "seated": ("latissimus", "upper_back", "biceps"),
            "hanging": ("latissimus", "upper_back", "biceps")},
    "trunk_flexion": {"supine": ("upper_abdominis",)},
    "side_bend": {"standing": ("obliques",)},
    "trunk_rotation": {"standing": ("obliques",), "seated": ("obliques", "upper_abdominis"),
                       "side_lying": ("obliques", "upper_back")},
    "leg_raise": {"supine": ("lower_abdominis", "quadriceps"),
                  "hanging": ("lower_abdominis", "quadriceps"),
                  "standing": ("quadriceps", "lower_abdominis", "calves")},
    "knee_drive": {"standing": ("quadriceps", "calves"), "prone": ("lower_abdominis", "quadriceps"),
                   "supine": ("lower_abdominis",), "hanging": ("lower_abdominis",)},
    "knee_extension": {"seated": ("quadriceps",)},
    "hip_abduction": {"standing": ("outer_thigh", "gluteus"),
                      "side_lying": ("outer_thigh", "gluteus"),
                      "quadruped": ("gluteus", "outer_thigh"),
                      "prone": ("outer_thigh", "inner_thigh")},
    "hip_extension": {"quadruped": ("gluteus", "hamstring")},
    "hip_lift": {"supine": ("gluteus", "hamstring", "lower_back"),
                 "side_lying": ("obliques", "outer_thigh")},
    "plantar_flexion": {"standing": ("calves", "feet_ankles")},
    "jump": {"standing": ("quadriceps", "gluteus", "calves", "feet_ankles")},
    "neck_tilt": {"standing": ("neck_and_head",)},
}


@dataclass(frozen=True)
class Activity:
    name: str
    posture: str
    steps: tuple[Step, ...]
    variant: str = ""  # posture style (knees bent or straight, on a bench or the floor, ...)
    unseen: bool = False

    @property
    def folder(self) -> str:
        """Folder of its clips; harness.labels.activity_from_path gives the name back."""
        return self.name.replace(" ", "_")

    @property
    def primitives(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.steps)


def _a(name, posture, *steps, variant="", unseen=False) -> Activity:
    return Activity(name, posture, tuple(steps), variant, unseen)


S = Step
ACTIVITIES: tuple[Activity, ...] = (
    # ---- seen: standing
    _a("squat", "standing", S("squat")),
    _a("wall sit", "standing", S("squat", hold=True, params={"lean": 0.15})),
    _a("lunge", "standing", S("lunge", side="either")),
    _a("deadlift", "standing", S("hip_hinge")),
    _a("bicep curl", "standing", S("elbow_flexion")),
    _a("overhead triceps extension", "standing", S("elbow_extension")),
    _a("shoulder press", "standing", S("shoulder_press")),
    _a("lateral raise", "standing", S("lateral_raise")),
    _a("bent over row", "standing", S("hip_hinge", hold=True, params={"depth": 1.2}), S("row")),
    _a("calf raise", "standing", S("plantar_flexion", rate=1.5)),
    _a("vertical jump", "standing", S("jump")),
    _a("jumping jack", "standing", S("jump", rate=2.0, params={"height": 0.07, "dip": 0.25}),
       S("hip_abduction", rate=2.0, params={"top": 22.0}),
       S("lateral_raise", rate=2.0, params={"top": 165.0})),
    _a("high knees", "standing", S("knee_drive", side="alternate", rate=2.0, params={"hop": True})),
    _a("standing side bend", "standing", S("side_bend", side="alternate")),
    _a("torso twist", "standing", S("trunk_rotation", side="alternate", params={"arms": "out"})),
    _a("neck tilts", "standing", S("neck_tilt", side="alternate")),
    _a("standing side leg raise", "standing", S("hip_abduction", side="either")),
    _a("front kicks", "standing", S("leg_raise", side="alternate", rate=1.5)),
    # ---- seen: plank, lying, seated, hanging, on all fours
    _a("plank", "prone", S("static_hold"), variant="forearms"),
    _a("push up", "prone", S("push")),
    _a("mountain climbers", "prone", S("knee_drive", side="alternate", rate=2.0)),
    _a("crunch", "supine", S("trunk_flexion"), variant="knees_bent"),
    _a("lying leg raise", "supine", S("leg_raise"), variant="straight"),
    _a("flutter kicks", "supine", S("leg_raise", side="alternate", rate=2.5, params={"top": 35.0}),
       variant="straight"),
    _a("glute bridge", "supine", S("hip_lift"), variant="knees_bent"),
    _a("reverse crunch", "supine", S("knee_drive"), variant="knees_bent"),
    _a("side plank", "side_lying", S("hip_lift", hold=True)),
    _a("side lying leg raise", "side_lying", S("hip_abduction", side="right")),
    _a("russian twist", "seated", S("trunk_rotation", side="alternate"), variant="floor"),
    _a("seated leg extension", "seated", S("knee_extension", side="either"), variant="bench"),
    _a("seated row", "seated", S("row"), variant="bench"),
    _a("triceps dips", "seated", S("push"), variant="dip"),
    _a("dead hang", "hanging", S("static_hold")),
    _a("pull up", "hanging", S("row")),
    _a("hanging leg raise", "hanging", S("leg_raise")),
    _a("bird dog", "quadruped", S("hip_extension", side="alternate", params={"straight": True}),
       S("front_raise", side="alternate", phase=0.5)),
    _a("donkey kicks", "quadruped", S("hip_extension", side="either")),
    _a("fire hydrant", "quadruped", S("hip_abduction", side="either", params={"top": 60.0})),
    # ---- unseen: new compositions of the postures and primitives above
    _a("v-ups", "supine", S("trunk_flexion", params={"range": 55.0}),
       S("leg_raise", params={"top": 70.0}), variant="straight", unseen=True),
    _a("jump squat", "standing", S("squat"), S("jump", phase=0.45, params={"dip": 0.0}),
       unseen=True),
    _a("thruster", "standing", S("squat"), S("shoulder_press", phase=0.5), unseen=True),
    _a("lunge curl", "standing", S("lunge", side="either"), S("elbow_flexion"), unseen=True),
    _a("march twists", "standing", S("knee_drive", side="alternate"),
       S("trunk_rotation", side="alternate"), unseen=True),
    _a("plank jacks", "prone", S("hip_abduction", rate=1.5, params={"top": 22.0}), unseen=True),
    _a("side plank rotation", "side_lying", S("hip_lift", hold=True), S("trunk_rotation"),
       unseen=True),
    _a("hanging knee raise", "hanging", S("knee_drive"), unseen=True),
    _a("triceps dip hold", "seated", S("push", hold=True), variant="dip", unseen=True),
    _a("calf raise hold", "standing", S("plantar_flexion", hold=True), unseen=True),
)

ACTIVITY_BY_NAME: dict[str, Activity] = {a.name: a for a in ACTIVITIES}
SEEN: tuple[Activity, ...] = tuple(a for a in ACTIVITIES if not a.unseen)
UNSEEN: tuple[Activity, ...] = tuple(a for a in ACTIVITIES if a.unseen)


def rule_muscles(posture: str, primitives) -> tuple[str, ...]:
    """Muscle ids loaded by ``primitives`` done in ``posture``, in label order."""
    if posture not in POSTURE_LOAD:
        raise KeyError(f"no posture {posture!r} in the rule table")
    loaded = set(POSTURE_LOAD[posture])
    for p in primitives:
        if posture not in RULES.get(p, {}):
            raise KeyError(f"the rule table has no entry for {p!r} in posture {posture!r}")
        loaded.update(RULES[p][posture])
    return tuple(m for m in MUSCLE_IDS if m in loaded)


def label_vector(posture: str, primitives) -> np.ndarray:
    """(20,) uint8 multi-hot vector over the muscles, in MUSCLE_IDS order."""
    on = set(rule_muscles(posture, primitives))
    return np.array([1 if m in on else 0 for m in MUSCLE_IDS], dtype=np.uint8)


def activity_labels(activity: Activity) -> np.ndarray:
    return label_vector(activity.posture, activity.primitives)


def label_table() -> np.ndarray:
    """(A, 20) label vectors of ACTIVITIES, in catalogue order."""
    return np.stack([activity_labels(a) for a in ACTIVITIES]) if ACTIVITIES else \
        np.zeros((0, NUM_MUSCLES), np.uint8)


def check_catalogue() -> None:
    """Every step names a primitive with a motion and a rule in its activity's posture."""
    names = set()
    for a in ACTIVITIES:
        if a.name in names:
            raise ValueError(f"duplicate activity {a.name!r}")
        names.add(a.name)
        for st in a.steps:
            if a.posture not in PRIMITIVE_POSTURES.get(st.name, ()):
                raise ValueError(f"{a.name}: primitive {st.name!r} has no motion in {a.posture!r}")
        rule_muscles(a.posture, a.primitives)
