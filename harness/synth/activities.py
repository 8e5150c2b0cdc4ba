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

The unseen activities carry muscle combinations no seen activity has: none shares a seen label
vector, no seen activity exercises all of an unseen one's rules together, and most need a rule
(a movement in a posture) that no seen activity exercises at all. They use only postures and
primitives that seen activities use, so a model that learned what each movement loads can
approximate their labels; one that learned to recognise seen activities cannot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..muscles import MUSCLE_IDS
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
    "static_hold": {"prone": ("gluteus",),  # the hips held in line
                    "hanging": ("latissimus",)},  # an active hang sets the lats
    "squat": {"standing": ("quadriceps", "gluteus", "hamstring")},
    "lunge": {"standing": ("quadriceps", "gluteus", "hamstring", "inner_thigh")},
    "hip_hinge": {"standing": ("hamstring", "gluteus", "lower_back", "forearms")},  # and the grip
    "elbow_flexion": {"standing": ("biceps", "forearms"), "seated": ("biceps",)},
    "elbow_extension": {"standing": ("triceps", "shoulder", "upper_back"),  # arms held overhead
                        "seated": ("triceps",)},  # back against the bench
    "push": {"prone": ("chest", "triceps", "obliques"),  # serratus anterior (obliques group)
             "seated": ("triceps", "chest", "shoulder"),
             "quadruped": ("chest", "triceps", "shoulder")},
    "shoulder_press": {"standing": ("shoulder", "triceps", "upper_back"),
                       "seated": ("shoulder", "triceps")},  # the bench steadies the back
    "front_raise": {"standing": ("shoulder", "chest", "upper_back"),
                    "quadruped": ("shoulder", "upper_back", "lower_back"),
                    "prone": ("shoulder", "obliques"),  # one arm off the floor: anti-rotation
                    "seated": ("shoulder", "chest"),
                    "supine": ("shoulder",)},
    "lateral_raise": {"standing": ("shoulder", "upper_back"), "seated": ("shoulder",)},
    "row": {"standing": ("latissimus", "upper_back", "biceps"),
            "seated": ("latissimus", "upper_back", "biceps", "lower_back"),
            "hanging": ("latissimus", "upper_back", "biceps"),
            "prone": ("latissimus", "upper_back", "biceps"),
            "quadruped": ("latissimus", "upper_back", "biceps")},
    "trunk_flexion": {"supine": ("upper_abdominis", "neck_and_head")},  # the head is curled up
    "side_bend": {"standing": ("obliques", "upper_abdominis", "lower_back"),
                  "seated": ("obliques",)},
    "trunk_rotation": {"standing": ("obliques", "lower_abdominis"),
                       "seated": ("obliques", "upper_abdominis", "lower_abdominis"),
                       "side_lying": ("obliques", "upper_back"),
                       "supine": ("obliques", "upper_abdominis")},
    "leg_raise": {"supine": ("lower_abdominis", "quadriceps"),
                  "hanging": ("lower_abdominis", "quadriceps", "upper_abdominis"),
                  "standing": ("quadriceps", "lower_abdominis", "gluteus")},
    "knee_drive": {"standing": ("quadriceps", "calves", "lower_abdominis"),
                   "prone": ("lower_abdominis", "quadriceps", "obliques"),
                   "supine": ("lower_abdominis", "upper_abdominis"),
                   "hanging": ("lower_abdominis", "obliques"),
                   "seated": ("lower_abdominis", "upper_abdominis", "quadriceps"),
                   "quadruped": ("lower_abdominis", "obliques")},
    "knee_extension": {"seated": ("quadriceps",)},
    "hip_abduction": {"standing": ("outer_thigh", "gluteus", "obliques", "inner_thigh"),
                      "side_lying": ("outer_thigh", "gluteus", "obliques"),
                      "quadruped": ("gluteus", "outer_thigh"),
                      "prone": ("outer_thigh", "inner_thigh"),
                      "supine": ("inner_thigh", "outer_thigh", "lower_abdominis"),
                      "seated": ("outer_thigh", "gluteus")},
    "hip_extension": {"quadruped": ("gluteus", "hamstring"),
                      "standing": ("gluteus", "hamstring", "feet_ankles"),
                      "prone": ("gluteus", "hamstring", "lower_back")},
    "hip_lift": {"supine": ("gluteus", "hamstring", "lower_back"),
                 "side_lying": ("obliques", "outer_thigh")},
    "plantar_flexion": {"standing": ("calves", "feet_ankles"), "seated": ("calves",)},
    "jump": {"standing": ("quadriceps", "gluteus", "calves", "feet_ankles")},
    "neck_tilt": {"standing": ("neck_and_head", "upper_back"), "seated": ("neck_and_head",)},
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

    @property
    def rule_keys(self) -> frozenset[tuple[str, str]]:
        """The (primitive, posture) rules its label comes from."""
        return frozenset((p, self.posture) for p in self.primitives)


def _a(name, posture, *steps, variant="", unseen=False) -> Activity:
    return Activity(name, posture, tuple(steps), variant, unseen)


S = Step
ACTIVITIES: tuple[Activity, ...] = (
    # ---- seen, standing: one movement
    _a("squat", "standing", S("squat")),
    _a("lunge", "standing", S("lunge", side="either")),
    _a("deadlift", "standing", S("hip_hinge")),
    _a("bicep curl", "standing", S("elbow_flexion")),
    _a("overhead triceps extension", "standing", S("elbow_extension")),
    _a("shoulder press", "standing", S("shoulder_press")),
    _a("lateral raise", "standing", S("lateral_raise")),
    _a("front raise", "standing", S("front_raise")),
    _a("calf raise", "standing", S("plantar_flexion", rate=1.5)),
    _a("vertical jump", "standing", S("jump")),
    _a("high knees", "standing", S("knee_drive", side="alternate", rate=2.0, params={"hop": True})),
    _a("standing side bend", "standing", S("side_bend", side="alternate")),
    _a("torso twist", "standing", S("trunk_rotation", side="alternate", params={"arms": "out"})),
    _a("neck tilts", "standing", S("neck_tilt", side="alternate")),
    _a("standing side leg raise", "standing", S("hip_abduction", side="either")),
    # ---- seen, standing: compound exercises
    _a("bent over row", "standing", S("hip_hinge", hold=True, params={"depth": 1.2}), S("row")),
    _a("jumping jack", "standing", S("jump", rate=2.0, params={"height": 0.07, "dip": 0.25}),
       S("hip_abduction", rate=2.0, params={"top": 22.0}),
       S("lateral_raise", rate=2.0, params={"top": 165.0})),
    _a("skater hops", "standing", S("jump", rate=2.0, params={"height": 0.1, "dip": 0.6}),
       S("hip_abduction", side="alternate", params={"top": 30.0})),
    _a("squat knee drive", "standing", S("squat"),
       S("knee_drive", side="alternate", rate=0.5, phase=0.25)),
    _a("deadlift curl", "standing", S("hip_hinge"), S("elbow_flexion", phase=0.5)),
    _a("squat jack", "standing", S("squat", params={"lean": 0.6}),
       S("hip_abduction", params={"top": 25.0})),
    _a("clean and press", "standing", S("hip_hinge"), S("shoulder_press", phase=0.5)),
    _a("woodchopper", "standing", S("squat", params={"lean": 0.7}),
       S("trunk_rotation", side="alternate", rate=0.5)),
    _a("lateral lunge raise", "standing", S("lunge", side="either"), S("lateral_raise")),
    # ---- seen: plank, lying, seated, hanging, on all fours
    _a("plank", "prone", S("static_hold"), variant="forearms"),
    _a("push up", "prone", S("push")),
    _a("diamond push up", "prone", S("push", params={"narrow": True})),
    _a("mountain climbers", "prone", S("knee_drive", side="alternate", rate=2.0)),
    _a("crunch", "supine", S("trunk_flexion"), variant="knees_bent"),
    _a("sit up", "supine", S("trunk_flexion", rate=0.7, params={"range": 75.0}),
       variant="knees_bent"),
    _a("lying leg raise", "supine", S("leg_raise"), variant="straight"),
    _a("glute bridge", "supine", S("hip_lift"), variant="knees_bent"),
    _a("side plank", "side_lying", S("hip_lift", hold=True)),
    _a("side lying leg raise", "side_lying", S("hip_abduction", side="right")),
    _a("russian twist", "seated", S("trunk_rotation", side="alternate"), variant="floor"),
    _a("seated leg extension", "seated", S("knee_extension", side="either"), variant="bench"),
    _a("seated row", "seated", S("row"), variant="bench"),
    _a("dead hang", "hanging", S("static_hold")),
    _a("pull up", "hanging", S("row")),
    _a("hanging leg raise", "hanging", S("leg_raise")),
    _a("bird dog", "quadruped", S("hip_extension", side="alternate", params={"straight": True}),
       S("front_raise", side="alternate", phase=0.5)),
    _a("donkey kicks", "quadruped", S("hip_extension", side="either")),
    _a("fire hydrant", "quadruped", S("hip_abduction", side="either", params={"top": 60.0})),
    # ---- unseen: a movement in a posture no seen activity does it in (a rule no seen activity
    # exercises) ...
    _a("plank jacks", "prone", S("hip_abduction", rate=1.5, params={"top": 22.0}), unseen=True),
    _a("side plank rotation", "side_lying", S("hip_lift", hold=True), S("trunk_rotation"),
       unseen=True),
    _a("hanging knee raise", "hanging", S("knee_drive"), unseen=True),
    _a("triceps dip hold", "seated", S("push", hold=True), variant="dip", unseen=True),
    _a("scissors", "supine", S("hip_abduction", rate=1.5), variant="straight", unseen=True),
    _a("plank leg lift", "prone", S("static_hold"), S("hip_extension", side="alternate"),
       unseen=True),
    _a("shoulder taps", "prone", S("front_raise", side="alternate", params={"tap": True}),
       unseen=True),
    _a("running", "standing", S("knee_drive", side="alternate", rate=2.0, params={"hop": True}),
       S("hip_extension", side="alternate", rate=2.0, phase=0.5), unseen=True),
    _a("reverse crunches", "supine", S("knee_drive"), variant="knees_bent", unseen=True),
    _a("front kicks", "standing", S("leg_raise", side="alternate", rate=1.5), unseen=True),
    _a("knee push ups", "quadruped", S("push"), unseen=True),
    _a("seated calf raise", "seated", S("plantar_flexion", rate=1.5), variant="bench",
       unseen=True),
    _a("seated neck stretch", "seated", S("neck_tilt", side="alternate", rate=0.7),
       variant="bench", unseen=True),
    _a("renegade row", "prone", S("row", side="alternate"), unseen=True),
    _a("crossbody crunch", "supine", S("trunk_flexion"), S("trunk_rotation", side="alternate"),
       variant="knees_bent", unseen=True),
    _a("bicycle crunch", "supine", S("trunk_flexion", rate=2.0),
       S("knee_drive", side="alternate"), S("trunk_rotation", side="alternate"),
       variant="knees_bent", unseen=True),
    _a("seated lateral raise", "seated", S("lateral_raise"), variant="bench", unseen=True),
    _a("seated hip abduction", "seated", S("hip_abduction", params={"top": 30.0}),
       variant="bench", unseen=True),
    _a("kneeling row", "quadruped", S("row", side="either"), unseen=True),
    _a("seated knee raise", "seated", S("knee_drive", side="alternate"), variant="bench",
       unseen=True),
    _a("seated front raise", "seated", S("front_raise", side="alternate"), variant="bench",
       unseen=True),
    _a("seated shoulder press", "seated", S("shoulder_press"), variant="bench", unseen=True),
    _a("seated side bend", "seated", S("side_bend", side="alternate"), variant="bench",
       unseen=True),
    _a("quadruped knee tuck", "quadruped", S("knee_drive", side="alternate"), unseen=True),
    _a("dead bug", "supine", S("leg_raise", side="alternate", params={"top": 60.0}),
       S("front_raise", side="alternate", phase=0.5), variant="straight", unseen=True),
    _a("seated curl", "seated", S("elbow_flexion", side="alternate"), variant="bench",
       unseen=True),
    _a("seated triceps extension", "seated", S("elbow_extension"), variant="bench",
       unseen=True),
    _a("standing kickback", "standing", S("hip_extension", side="either"), unseen=True),
    _a("single leg deadlift", "standing", S("hip_hinge"),
       S("hip_extension", side="either", params={"straight": True}), unseen=True),
    # ... or seen movements in a combination no seen activity has
    _a("v-ups", "supine", S("trunk_flexion", params={"range": 55.0}),
       S("leg_raise", params={"top": 70.0}), variant="straight", unseen=True),
    _a("jump squat", "standing", S("squat"), S("jump", phase=0.45, params={"dip": 0.0}),
       unseen=True),
    _a("thruster", "standing", S("squat"), S("shoulder_press", phase=0.5), unseen=True),
    _a("lunge curl", "standing", S("lunge", side="either"), S("elbow_flexion"), unseen=True),
    _a("march twists", "standing", S("knee_drive", side="alternate"),
       S("trunk_rotation", side="alternate"), unseen=True),
    _a("bridge kicks", "supine", S("hip_lift", hold=True), S("leg_raise", side="alternate"),
       variant="knees_bent", unseen=True),
    _a("fire hydrant kick", "quadruped", S("hip_abduction", side="right", params={"top": 55.0}),
       S("hip_extension", side="right", phase=0.5, params={"straight": True}), unseen=True),
    _a("squat row", "standing", S("squat", params={"lean": 0.8}), S("row", phase=0.5),
       unseen=True),
    _a("squat front raise", "standing", S("squat"), S("front_raise"), unseen=True),
    _a("curl to press", "standing", S("elbow_flexion"), S("shoulder_press", phase=0.5),
       unseen=True),
    _a("windmill", "standing", S("hip_hinge", params={"depth": 0.8}),
       S("trunk_rotation", side="alternate", params={"arms": "out"}), unseen=True),
    _a("lunge front raise", "standing", S("lunge", side="either"), S("front_raise"),
       unseen=True),
    _a("hollow hold", "supine", S("trunk_flexion", hold=True, params={"range": 30.0}),
       S("leg_raise", hold=True, params={"top": 30.0}), variant="straight", unseen=True),
    _a("kettlebell swing", "standing", S("hip_hinge"), S("front_raise", phase=0.5),
       unseen=True),
    _a("calf raise curl", "standing", S("plantar_flexion"), S("elbow_flexion"), unseen=True),
    _a("calf raise press", "standing", S("plantar_flexion"), S("shoulder_press"), unseen=True),
    _a("lunge row", "standing", S("lunge", side="either"), S("row", phase=0.5), unseen=True),
    _a("wall sit curl", "standing", S("squat", hold=True, params={"lean": 0.15}),
       S("elbow_flexion"), unseen=True),
    _a("march curl", "standing", S("knee_drive", side="alternate"), S("elbow_flexion"),
       unseen=True),
    _a("march row", "standing", S("knee_drive", side="alternate"), S("row"), unseen=True),
    _a("calf raise front raise", "standing", S("plantar_flexion"), S("front_raise"),
       unseen=True),
    _a("lunge twist", "standing", S("lunge", side="either"),
       S("trunk_rotation", side="alternate", rate=0.5), unseen=True),
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
