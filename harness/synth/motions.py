"""Base postures and motion primitives: how the synthetic exercises move.

A clip is one posture (how the body is placed: standing, in a plank, lying, ...) plus one or
more primitives (what moves: the knees and hips flex, the elbows flex, the trunk twists, ...).
Each primitive is a function that adds joint-angle trajectories to a ``Motion`` from a phase
signal that runs from 0 (rest) to 1 (the peak of a repetition). ``animate`` then poses the
body: forward kinematics, the posture's support (which joints stay put), lifts (jumps, calf
raises) and inverse kinematics for hands and feet that rest on the floor or a bar.

Which muscles a primitive loads is not decided here but in ``activities.RULES``; this module
only makes the motion that those rules describe visible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .body import (
    DOFS,
    LIMB_JOINTS,
    LIMBS,
    ORIENT,
    SIDES,
    Body,
    Frames,
    J,
    forward,
    limb_ik,
)

POSTURES: tuple[str, ...] = ("standing", "prone", "supine", "side_lying", "seated", "hanging",
                             "quadruped")
# How high a joint sits above the floor when it rests on it (metres).
CONTACT = {"left_ankle": 0.08, "right_ankle": 0.08, "left_wrist": 0.04, "right_wrist": 0.04,
           "left_elbow": 0.05, "right_elbow": 0.05, "left_knee": 0.06, "right_knee": 0.06,
           "left_hip": 0.1, "right_hip": 0.1, "left_shoulder": 0.08, "right_shoulder": 0.08}


@dataclass(frozen=True)
class Step:
    """One primitive of an activity, as the activity catalogue writes it.

    side: "both" (limbs move together), "alternate" (left rep, then right rep), "left",
    "right", or "either" (one side, drawn per clip). hold: the primitive is held near its peak
    instead of repeated. rate: repetitions relative to the clip's tempo. phase: offset of the
    repetition cycle, in cycles. params: primitive-specific style knobs; they change how the
    motion looks, never which muscles it loads.
    """

    name: str
    side: str = "both"
    hold: bool = False
    rate: float = 1.0
    phase: float = 0.0
    params: dict = field(default_factory=dict)


@dataclass
class Motion:
    """Joint-angle trajectories of one clip under construction (degrees, (T,) arrays)."""

    t: int
    posture: str
    base: dict[str, float]  # the posture's static angles: the rest pose IK targets come from
    pose: dict[str, np.ndarray]  # time-varying additions to ``base``
    orient: str
    ik: dict[str, tuple[float, float, float]]  # limb held at its rest end -> bend hint
    support: tuple[str, ...]  # joints whose mean stays where it is in the rest pose
    ground: tuple[str, ...]  # joints resting on the floor in the rest pose
    prop: str | None = None  # "bench" or "bar", drawn by the renderer
    lift: np.ndarray | None = None  # (T, 3) world offset after support (jumps, calf raises)
    target_lift: dict[str, np.ndarray] = field(default_factory=dict)  # limb -> (T, 3)
    uses: set[str] = field(default_factory=set)  # limbs a primitive drives ("l_arm", ...)
    support_set: bool = False  # a primitive already chose the support
    # joint -> (T,) how far off its support the joint is (1 = lifted): a raised leg stops
    # carrying the body, and the joints that stay down do
    unloaded: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, dof: str, values) -> None:
        self.pose[dof] = self.pose.get(dof, 0.0) + np.broadcast_to(np.asarray(values, float),
                                                                   (self.t,))

    def add_lift(self, values: np.ndarray) -> None:
        self.lift = values if self.lift is None else self.lift + values

    def set_support(self, *joints: str) -> None:
        if not self.support_set:  # the first primitive that cares decides
            self.support = joints
            self.support_set = True

    def free(self, limb: str, lifted: np.ndarray | None = None) -> None:
        """Let a primitive drive ``limb`` by angles instead of holding its end in place.

        ``lifted`` (T,) in [0, 1]: when the limb leaves the floor, so that a support joint on
        it stops holding the body up while it is in the air.
        """
        self.ik.pop(limb, None)
        self.uses.add(limb)
        if lifted is not None:
            for joint in LIMB_JOINTS[limb][1:]:
                prev = self.unloaded.get(joint, 0.0)
                self.unloaded[joint] = np.maximum(prev, np.clip(lifted, 0.0, 1.0))


# ------------------------------------------------------------------ postures

def _angle_for_reach(height: float, length: float) -> float:
    """Tilt (degrees) of a straight body of ``length`` whose raised end sits ``height`` up."""
    return float(np.degrees(np.arcsin(np.clip(height / length, 0.0, 0.95))))


def posture_motion(name: str, variant: str, body: Body, t: int, rng: np.random.Generator) -> Motion:
    """The rest pose of a posture, with small per-clip variation of every base angle."""
    b: dict[str, float] = {}
    ik: dict[str, tuple[float, float, float]] = {}
    prop = None
    body_len = body.thigh + body.shank + body.trunk
    if name == "standing":
        orient, support, ground = "upright", ("left_hip", "right_hip"), ("left_ankle", "right_ankle")
        stance = rng.uniform(2.0, 9.0)
        b.update(l_hip_abd=stance, r_hip_abd=stance, l_knee=3.0, r_knee=3.0)
    elif name == "prone":
        orient, support = "face_down", ("left_ankle", "right_ankle")
        if variant == "forearms":
            tilt = _angle_for_reach(body.upper_arm + 0.05 - CONTACT["left_ankle"], body_len)
            b.update(l_elbow=90.0, r_elbow=90.0)
            ground = ("left_ankle", "right_ankle", "left_elbow", "right_elbow")
        else:
            tilt = _angle_for_reach(body.upper_arm + body.forearm + 0.04 - CONTACT["left_ankle"],
                                    body_len)
            ground = ("left_ankle", "right_ankle", "left_wrist", "right_wrist")
        b.update(pitch=tilt, l_sh_flex=90.0 - tilt, r_sh_flex=90.0 - tilt, l_sh_abd=8.0,
                 r_sh_abd=8.0, l_hip_abd=3.0, r_hip_abd=3.0)
        ik = {"l_arm": (0.5, -1.0, 0.0), "r_arm": (-0.5, -1.0, 0.0)}
    elif name == "supine":
        orient, support = "face_up", ("left_hip", "right_hip")
        ground = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
        b.update(l_sh_abd=12.0, r_sh_abd=12.0)
        if variant == "knees_bent":
            b.update(l_hip_flex=55.0, r_hip_flex=55.0, l_knee=105.0, r_knee=105.0)
            ik = {"l_leg": (0.0, 0.0, 1.0), "r_leg": (0.0, 0.0, 1.0)}
            ground = ground + ("left_ankle", "right_ankle")
    elif name == "side_lying":
        # a side plank on the left hand, seen from the front
        orient, support = "left_side_down", ("left_ankle", "right_ankle")
        tilt = _angle_for_reach(body.upper_arm + body.forearm + 0.04 - 0.05, body_len)
        b.update(roll=tilt, l_sh_abd=90.0 - tilt, r_sh_abd=rng.uniform(5.0, 20.0),
                 r_hip_flex=rng.uniform(0.0, 12.0))
        ik = {"l_arm": (0.0, -1.0, 0.0)}
        ground = ("left_ankle", "left_wrist")
    elif name == "seated":
        orient = "upright"
        if variant == "floor":
            support, ground = ("left_hip", "right_hip"), ("left_hip", "right_hip", "left_ankle")
            b.update(pitch=38.0, l_hip_flex=100.0, r_hip_flex=100.0, l_knee=95.0, r_knee=95.0,
                     trunk_flex=5.0)
        elif variant == "dip":
            # hands on a bench behind, hips off it, feet forward on the floor
            support, ground = ("left_wrist", "right_wrist"), ("left_ankle",)
            b.update(l_hip_flex=80.0, r_hip_flex=80.0, l_knee=80.0, r_knee=80.0,
                     l_sh_flex=-35.0, r_sh_flex=-35.0, l_sh_abd=8.0, r_sh_abd=8.0)
            ik = {"l_arm": (0.0, 0.0, -1.0), "r_arm": (0.0, 0.0, -1.0),
                  "l_leg": (0.0, 0.0, 1.0), "r_leg": (0.0, 0.0, 1.0)}
            prop = "bench_behind"
        else:
            support, ground = ("left_hip", "right_hip"), ("left_ankle", "right_ankle")
            b.update(l_hip_flex=90.0, r_hip_flex=90.0, l_knee=90.0, r_knee=90.0,
                     l_hip_abd=8.0, r_hip_abd=8.0, trunk_flex=rng.uniform(-4.0, 8.0))
            ik = {"l_leg": (0.0, 0.0, 1.0), "r_leg": (0.0, 0.0, 1.0)}
            prop = "bench"
    elif name == "hanging":
        orient, support, ground = "upright", ("left_wrist", "right_wrist"), ()
        grip = rng.uniform(8.0, 22.0)
        b.update(l_sh_flex=172.0, r_sh_flex=172.0, l_sh_abd=grip, r_sh_abd=grip,
                 l_knee=8.0, r_knee=8.0)
        ik = {"l_arm": (1.0, -0.3, 0.4), "r_arm": (-1.0, -0.3, 0.4)}
        prop = "bar"
    elif name == "quadruped":
        orient, support = "face_down", ("left_knee", "right_knee", "left_wrist", "right_wrist")
        ground = ("left_knee", "right_knee", "left_wrist", "right_wrist")
        rise = (body.upper_arm + body.forearm + CONTACT["left_wrist"]
                - body.thigh - CONTACT["left_knee"])
        tilt = _angle_for_reach(rise, body.trunk)
        b.update(pitch=tilt, l_sh_flex=90.0 - tilt, r_sh_flex=90.0 - tilt, l_hip_flex=90.0 - tilt,
                 r_hip_flex=90.0 - tilt, l_knee=96.0, r_knee=96.0, l_hip_abd=4.0, r_hip_abd=4.0)
        ik = {"l_arm": (0.0, -1.0, 0.0), "r_arm": (0.0, -1.0, 0.0)}
    else:
        raise ValueError(f"unknown posture {name!r}")
    for k in list(b):  # nobody holds a posture exactly like anybody else
        b[k] += rng.normal(0.0, 2.0)
    return Motion(t, name, b, {}, orient, ik, support, ground, prop)


# ------------------------------------------------------------------ phase signals

@dataclass(frozen=True)
class Signal:
    """Per-side phase of one step: 0 = rest, 1 = peak; ``cycle`` is the repetition angle."""

    l: np.ndarray  # noqa: E741 - the left side, beside r
    r: np.ndarray
    cycle: np.ndarray  # (T,) radians, increasing

    @property
    def both(self) -> np.ndarray:
        return np.maximum(self.l, self.r)

    def side(self, s: str) -> np.ndarray:
        return self.l if s == "l" else self.r


def clip_clock(t: int, rng: np.random.Generator) -> np.ndarray:
    """Warped time in [0, 1] over the clip: the tempo drifts, and some clips start (or end)
    with the person still, as trimmed real clips often do."""
    u = np.arange(t) / max(t - 1, 1)
    speed = 1.0 + rng.uniform(0.0, 0.3) * np.sin(2 * np.pi * (rng.uniform(0.3, 1.2) * u
                                                               + rng.random()))
    still = rng.uniform(0.0, 0.2) if rng.random() < 0.3 else 0.0
    if rng.random() < 0.5:
        speed[u < still] = 0.0
    else:
        speed[u > 1.0 - still] = 0.0
    clock = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    return clock / max(clock[-1], 1e-9)


def step_signal(step: Step, side: str, clock: np.ndarray, reps: float, start: float,
                rng: np.random.Generator, shape: float = 1.0) -> Signal:
    """Phase of one step. ``shape`` > 1 dwells at rest, < 1 dwells at the peak."""
    cycle = 2 * np.pi * (reps * step.rate * clock + start + step.phase)
    if step.hold:
        level = rng.uniform(0.75, 1.0)
        s = level + 0.015 * np.sin(cycle * rng.uniform(3.0, 7.0))
        s = np.clip(s, 0.0, 1.0)
        zero = np.zeros_like(s)
        return Signal(s if side != "r" else zero, s if side != "l" else zero, cycle)
    if side == "alternate":
        half = np.sin(cycle)
        return Signal(np.maximum(half, 0.0) ** shape, np.maximum(-half, 0.0) ** shape, cycle)
    s = (0.5 - 0.5 * np.cos(cycle)) ** shape
    zero = np.zeros_like(s)
    return Signal(s if side != "r" else zero, s if side != "l" else zero, cycle)


# ------------------------------------------------------------------ primitives

Primitive = Callable[[Motion, Signal, Step, float, np.random.Generator], None]
PRIMITIVES: dict[str, Primitive] = {}
# posture of each primitive's call -> the postures it has a motion for
PRIMITIVE_POSTURES: dict[str, tuple[str, ...]] = {}


def primitive(name: str, postures: tuple[str, ...]):
    def deco(fn: Primitive) -> Primitive:
        PRIMITIVES[name] = fn
        PRIMITIVE_POSTURES[name] = postures
        return fn
    return deco


def _sides(sig: Signal):
    return ((s, sig.side(s)) for s in SIDES)


@primitive("static_hold", POSTURES)
def static_hold(m: Motion, sig: Signal, step: Step, amp: float, rng) -> None:
    """Isometric hold of the posture: nothing but a little sway."""


@primitive("squat", ("standing",))
def squat(m, sig, step, amp, rng):
    """Knees and hips flex together with the feet planted; the trunk leans to balance."""
    s = sig.both * amp
    lean = step.params.get("lean", 1.0)
    m.set_support("left_ankle", "right_ankle")
    for sd in SIDES:
        m.add(f"{sd}_hip_flex", 100.0 * s)
        m.add(f"{sd}_knee", 118.0 * s)
    m.add("trunk_flex", 38.0 * lean * s)
    m.uses.update({"l_leg", "r_leg"})


@primitive("lunge", ("standing",))
def lunge(m, sig, step, amp, rng):
    """Split stance; both knees bend as the hips drop straight down."""
    front = "l" if sig.l.any() else "r"
    back = "r" if front == "l" else "l"
    m.base[f"{front}_hip_flex"] = m.base.get(f"{front}_hip_flex", 0.0) + 32.0
    m.base[f"{back}_hip_flex"] = m.base.get(f"{back}_hip_flex", 0.0) - 22.0
    m.base[f"{front}_knee"] = 6.0
    m.ik["l_leg"] = (0.0, 0.0, 1.0)
    m.ik["r_leg"] = (0.0, 0.0, 1.0)
    drop = np.zeros((m.t, 3))
    drop[:, 1] = -0.36 * amp * sig.both
    m.add_lift(drop)
    m.uses.update({"l_leg", "r_leg"})


@primitive("hip_hinge", ("standing",))
def hip_hinge(m, sig, step, amp, rng):
    """The trunk tips forward from the hips, knees soft, arms hanging (a deadlift)."""
    s = sig.both * amp * step.params.get("depth", 1.0)
    m.set_support("left_ankle", "right_ankle")
    m.add("pitch", -40.0 * s)  # the pelvis tips forward with the trunk
    m.add("trunk_flex", 22.0 * s)
    for sd in SIDES:
        m.add(f"{sd}_hip_flex", 55.0 * s)
        m.add(f"{sd}_knee", 22.0 * s)
        if f"{sd}_arm" not in m.uses:  # arms hang straight down while the trunk tips
            m.free(f"{sd}_arm")
            m.base[f"{sd}_sh_abd"] = 6.0
            m.add(f"{sd}_sh_flex", 62.0 * s)
    m.uses.update({"l_leg", "r_leg"})


@primitive("elbow_flexion", ("standing", "seated"))
def elbow_flexion(m, sig, step, amp, rng):
    """Curl: the elbows flex against a weight, upper arms still."""
    for sd, s in _sides(sig):
        m.free(f"{sd}_arm")
        m.base[f"{sd}_sh_abd"] = 6.0
        m.add(f"{sd}_elbow", 10.0 + 125.0 * amp * s)
        m.add(f"{sd}_sh_flex", 12.0 * s)


@primitive("elbow_extension", ("standing", "seated"))
def elbow_extension(m, sig, step, amp, rng):
    """Overhead extension: upper arms up, the forearms drop behind the head and extend."""
    for sd, s in _sides(sig):
        m.free(f"{sd}_arm")
        m.base[f"{sd}_sh_flex"] = 165.0
        m.base[f"{sd}_sh_abd"] = 8.0
        m.add(f"{sd}_elbow", 135.0 - 120.0 * amp * s)


@primitive("push", ("prone", "seated", "quadruped"))
def push(m, sig, step, amp, rng):
    """Body weight lowered and pushed up by the arms, hands planted (push up, dip)."""
    s = sig.both * amp
    if m.posture == "quadruped":  # knee push up: the trunk pivots down about the knees
        m.set_support("left_knee", "right_knee")
        m.add("pitch", -28.0 * (1.0 - s))
    elif m.orient == "face_down":
        m.set_support("left_ankle", "right_ankle")
        m.add("pitch", -0.65 * m.base.get("pitch", 0.0) * (1.0 - s))
        if step.params.get("narrow"):  # diamond push up: hands together under the chest
            for sd in SIDES:
                m.base[f"{sd}_sh_abd"] = -9.0
    else:  # bench dip: the body sinks between the hands
        drop = np.zeros((m.t, 3))
        drop[:, 1] = -0.22 * (1.0 - s)
        m.add_lift(drop)
    m.uses.update({"l_arm", "r_arm"})


@primitive("shoulder_press", ("standing", "seated"))
def shoulder_press(m, sig, step, amp, rng):
    """Hands from shoulder height to overhead: shoulders abduct, elbows extend."""
    for sd, s in _sides(sig):
        m.free(f"{sd}_arm")
        m.base[f"{sd}_sh_abd"] = 85.0
        m.base[f"{sd}_sh_rot"] = 90.0
        m.base[f"{sd}_sh_flex"] = 15.0
        m.add(f"{sd}_sh_abd", 78.0 * amp * s)
        m.add(f"{sd}_elbow", 100.0 - 95.0 * amp * s)


@primitive("front_raise", ("standing", "quadruped", "prone", "seated", "supine"))
def front_raise(m, sig, step, amp, rng):
    """A straight arm swings forward and up (shoulder flexion); with ``tap`` the hand leaves
    the floor and touches the opposite shoulder instead (plank shoulder taps)."""
    for sd, s in _sides(sig):
        if not s.any():
            continue
        m.free(f"{sd}_arm", lifted=s)
        if step.params.get("tap"):
            m.add(f"{sd}_sh_abd", -(m.base.get(f"{sd}_sh_abd", 0.0) + 35.0) * amp * s)
            m.add(f"{sd}_elbow", 125.0 * amp * s)
            m.add(f"{sd}_sh_flex", 15.0 * amp * s)
            continue
        top = 180.0 if m.orient == "face_down" else 95.0
        start = m.base.get(f"{sd}_sh_flex", 0.0)
        m.add(f"{sd}_sh_flex", (top - start) * amp * s)
        m.add(f"{sd}_elbow", -m.base.get(f"{sd}_elbow", 0.0) * s)


@primitive("lateral_raise", ("standing", "seated"))
def lateral_raise(m, sig, step, amp, rng):
    """Straight arms raised out to the sides (shoulder abduction)."""
    top = step.params.get("top", 85.0)
    for sd, s in _sides(sig):
        m.free(f"{sd}_arm")
        m.base[f"{sd}_sh_abd"] = 8.0
        m.base[f"{sd}_elbow"] = 12.0
        m.add(f"{sd}_sh_abd", (top - 8.0) * amp * s)


@primitive("row", ("standing", "seated", "hanging", "prone", "quadruped"))
def row(m, sig, step, amp, rng):
    """Pull towards the trunk: shoulders extend, elbows flex (rows, pull ups; in a plank, one
    hand leaves the floor and rows to the ribs)."""
    if m.orient == "face_down":
        for sd, s in _sides(sig):
            if not s.any():
                continue
            m.free(f"{sd}_arm", lifted=s)
            start = m.base.get(f"{sd}_sh_flex", 0.0)
            m.add(f"{sd}_sh_flex", -(start + 15.0) * amp * s)
            m.add(f"{sd}_elbow", 100.0 * amp * s)
        return
    s = sig.both * amp
    if m.prop == "bar":  # pull up: the body rises to the hands
        rise = np.zeros((m.t, 3))
        rise[:, 1] = 0.42 * s
        m.add_lift(rise)
        m.uses.update({"l_arm", "r_arm"})
        return
    reach = 85.0 if m.prop == "bench" else 0.0  # seated rows start with the arms forward
    for sd in SIDES:
        m.free(f"{sd}_arm")
        m.base[f"{sd}_sh_flex"] = m.base.get(f"{sd}_sh_flex", 0.0) + reach
        m.base[f"{sd}_sh_abd"] = 10.0
        m.add(f"{sd}_sh_flex", -(reach + 45.0) * s)
        m.add(f"{sd}_elbow", 8.0 + 105.0 * s)
        m.add(f"{sd}_sh_abd", 15.0 * s)


@primitive("trunk_flexion", ("supine",))
def trunk_flexion(m, sig, step, amp, rng):
    """Crunch: the shoulders curl up off the floor, the head follows."""
    s = sig.both * amp
    m.add("trunk_flex", step.params.get("range", 38.0) * s)
    m.add("neck_flex", 18.0 * s)
    if not {"l_arm", "r_arm"} & m.uses:  # hands behind the head
        for sd in SIDES:
            m.base[f"{sd}_sh_flex"] = 150.0
            m.base[f"{sd}_sh_abd"] = 45.0
            m.base[f"{sd}_elbow"] = 140.0


@primitive("side_bend", ("standing", "seated"))
def side_bend(m, sig, step, amp, rng):
    """The trunk bends sideways, alternately left and right."""
    m.add("trunk_lat", 32.0 * amp * (sig.l - sig.r))
    m.add("neck_lat", 8.0 * amp * (sig.l - sig.r))


@primitive("trunk_rotation", ("standing", "seated", "side_lying", "supine"))
def trunk_rotation(m, sig, step, amp, rng):
    """The trunk twists about the spine, the arms carried with it."""
    if m.orient == "left_side_down":  # thread the top arm under the body
        s = sig.both * amp
        m.add("trunk_rot", 40.0 * s)
        m.free("r_arm")
        m.base["r_sh_abd"] = 150.0
        m.add("r_sh_abd", -150.0 * s)
        m.add("r_sh_flex", 80.0 * s)
        return
    m.add("trunk_rot", 48.0 * amp * (sig.l - sig.r))
    if not {"l_arm", "r_arm"} & m.uses:
        hold = step.params.get("arms", "together")
        for sd in SIDES:
            m.free(f"{sd}_arm")
            if hold == "out":
                m.base[f"{sd}_sh_abd"] = 80.0
                m.base[f"{sd}_elbow"] = 15.0
            else:  # hands together in front of the belly
                m.base[f"{sd}_sh_flex"] = 30.0
                m.base[f"{sd}_sh_abd"] = -12.0
                m.base[f"{sd}_elbow"] = 95.0


@primitive("leg_raise", ("supine", "hanging", "standing"))
def leg_raise(m, sig, step, amp, rng):
    """A straight leg swings up from the hip (hip flexion, knees straight)."""
    top = step.params.get("top", 85.0)
    for sd, s in _sides(sig):
        if not s.any():
            continue
        m.free(f"{sd}_leg", lifted=s)
        m.add(f"{sd}_hip_flex", top * amp * s)
        m.add(f"{sd}_knee", 5.0 * s)


@primitive("knee_drive", ("standing", "prone", "supine", "hanging", "seated", "quadruped"))
def knee_drive(m, sig, step, amp, rng):
    """Hip and knee flex together, the knee driven towards the chest."""
    for sd, s in _sides(sig):
        if not s.any():
            continue
        m.free(f"{sd}_leg", lifted=s)
        # a mountain climber tucks the foot up so that it clears the floor
        hip, knee = {"supine": (60.0, 20.0), "prone": (85.0, 130.0), "seated": (35.0, 10.0),
                     "quadruped": (45.0, 25.0)}.get(m.posture, (100.0, 115.0))
        m.add(f"{sd}_hip_flex", hip * amp * s)
        m.add(f"{sd}_knee", knee * amp * s)
    if m.posture == "prone":  # mountain climber: the hands carry the body
        m.set_support("left_wrist", "right_wrist")
    if step.params.get("hop"):
        bounce = np.zeros((m.t, 3))
        bounce[:, 1] = 0.04 * np.abs(np.sin(sig.cycle))
        m.add_lift(bounce)


@primitive("knee_extension", ("seated",))
def knee_extension(m, sig, step, amp, rng):
    """Seated: the knee straightens the lower leg out in front."""
    for sd, s in _sides(sig):
        m.free(f"{sd}_leg")
        m.add(f"{sd}_knee", -80.0 * amp * s)


@primitive("hip_abduction", ("standing", "side_lying", "quadruped", "supine", "prone",
                               "seated"))
def hip_abduction(m, sig, step, amp, rng):
    """The leg swings out to the side (a flexed hip opens sideways in a fire hydrant)."""
    top = step.params.get("top", 40.0)
    for sd, s in _sides(sig):
        if not s.any():
            continue
        m.free(f"{sd}_leg", lifted=s)
        m.add(f"{sd}_hip_abd", top * amp * s)
    if m.posture == "prone":  # plank jacks: the hands carry the body, the feet hop apart
        m.set_support("left_wrist", "right_wrist")
    if m.posture == "supine":  # scissors: legs held a little off the floor
        for sd in SIDES:
            m.base[f"{sd}_hip_flex"] = 25.0


@primitive("hip_extension", ("quadruped", "standing", "prone"))
def hip_extension(m, sig, step, amp, rng):
    """The thigh swings back behind the body (kickback, donkey kick, bird dog, a leg lifted
    off the floor in a plank, the back kick of a running stride)."""
    straight = step.params.get("straight", False)
    reach = {"prone": 30.0, "standing": 28.0}.get(m.posture, 15.0)  # past the rest angle
    for sd, s in _sides(sig):
        if not s.any():
            continue
        m.free(f"{sd}_leg", lifted=s)
        start = m.base.get(f"{sd}_hip_flex", 0.0)
        m.add(f"{sd}_hip_flex", -(start + reach) * amp * s)
        if straight:  # the knee opens late, once the thigh is up, so the foot clears the floor
            m.add(f"{sd}_knee", -m.base.get(f"{sd}_knee", 0.0) * s ** 2)
        elif m.posture == "standing":  # the heel comes up behind
            m.add(f"{sd}_knee", 70.0 * amp * s)


@primitive("hip_lift", ("supine", "side_lying"))
def hip_lift(m, sig, step, amp, rng):
    """The pelvis rises off the floor until the body is straight (bridge, side plank)."""
    s = sig.both * amp
    if m.orient == "face_up":
        m.set_support("left_shoulder", "right_shoulder")
        m.add("pitch", 32.0 * s)
    else:  # side plank: from hips on the floor to a straight line
        m.add("roll", -0.9 * m.base.get("roll", 0.0) * (1.0 - s))


@primitive("plantar_flexion", ("standing", "seated"))
def plantar_flexion(m, sig, step, amp, rng):
    """Calf raise: the heels rise, lifting the body (standing) or the knees (seated)."""
    up = np.zeros((m.t, 3))
    up[:, 1] = 0.075 * amp * sig.both
    if m.prop == "bench":
        for sd in SIDES:
            m.target_lift[f"{sd}_leg"] = up
    else:
        m.set_support("left_ankle", "right_ankle")
        m.add_lift(up)


@primitive("jump", ("standing",))
def jump(m, sig, step, amp, rng):
    """Countermovement jump: a dip, a flight, a landing."""
    p = np.mod(sig.cycle / (2 * np.pi), 1.0)
    height = step.params.get("height", 0.28) * amp
    dip = step.params.get("dip", 1.0)
    crouch = np.where(p < 0.4, np.sin(np.pi * p / 0.4) ** 2, 0.0)
    crouch += 0.5 * np.where(p >= 0.75, np.sin(np.pi * (p - 0.75) / 0.25) ** 2, 0.0)
    q = np.clip((p - 0.4) / 0.35, 0.0, 1.0)
    flight = np.where((p >= 0.4) & (p < 0.75), 4.0 * q * (1.0 - q), 0.0)
    m.set_support("left_ankle", "right_ankle")
    for sd in SIDES:
        m.add(f"{sd}_hip_flex", 55.0 * dip * crouch)
        m.add(f"{sd}_knee", 75.0 * dip * crouch)
    m.add("trunk_flex", 22.0 * dip * crouch)
    up = np.zeros((m.t, 3))
    up[:, 1] = height * flight
    m.add_lift(up)
    m.uses.update({"l_leg", "r_leg"})


@primitive("neck_tilt", ("standing", "seated"))
def neck_tilt(m, sig, step, amp, rng):
    """The head tilts and turns from side to side."""
    m.add("neck_lat", 30.0 * amp * (sig.l - sig.r))
    m.add("neck_rot", 25.0 * amp * (sig.l - sig.r) * step.params.get("turn", 1.0))
    m.add("neck_flex", 12.0 * amp * np.minimum(sig.l + sig.r, 1.0))


# ------------------------------------------------------------------ idle style

ARM_STYLES = {  # what free arms do while the legs or trunk work
    "down": {"sh_abd": 8.0, "elbow": 12.0},
    "hips": {"sh_abd": 40.0, "elbow": 105.0, "sh_rot": -70.0},
    "forward": {"sh_flex": 85.0, "elbow": 8.0},
    "chest": {"sh_flex": 35.0, "sh_abd": -15.0, "elbow": 130.0},
}


def idle(m: Motion, rng: np.random.Generator, arms: str = "down") -> None:
    """Style and small involuntary motion: arm carriage (``arms``, one of ARM_STYLES), sway,
    breathing."""
    if m.orient == "upright" and m.prop not in ("bar", "bench_behind"):
        style = ARM_STYLES[arms] if m.prop != "bench" else {"sh_flex": 30.0, "elbow": 45.0}
        for sd in SIDES:
            if f"{sd}_arm" not in m.uses and f"{sd}_arm" not in m.ik:
                for k, v in style.items():
                    m.base[f"{sd}_{k}"] = v + rng.normal(0.0, 4.0)
    u = np.arange(m.t)
    for dof, size in (("trunk_flex", 1.2), ("trunk_lat", 0.8), ("neck_flex", 2.0),
                      ("neck_rot", 3.0)):
        m.add(dof, size * np.sin(2 * np.pi * (u / rng.uniform(30.0, 90.0) + rng.random())))
    # fidgeting: free limbs wander a little (a hand scratches, an arm swings); limbs that rest
    # on the floor stay there
    for limb, dofs in (("l_arm", ("l_sh_flex", "l_elbow")), ("r_arm", ("r_sh_flex", "r_elbow")),
                       ("l_leg", ("l_hip_flex",)), ("r_leg", ("r_hip_flex",))):
        if limb in m.uses or limb in m.ik or rng.random() < 0.5 or m.orient != "upright":
            continue
        for dof in dofs:
            size = rng.uniform(3.0, 15.0 if limb.endswith("arm") else 6.0)
            m.add(dof, size * np.sin(2 * np.pi * (u / rng.uniform(15.0, 60.0) + rng.random())))


# ------------------------------------------------------------------ posing

def _frames(body: Body, m: Motion, pose: dict, t: int) -> Frames:
    return forward(body, ORIENT[m.orient], pose, t)


def animate(body: Body, m: Motion) -> np.ndarray:
    """World joint positions (T, 17, 3) of a finished Motion, the floor at y = 0."""
    rest = _frames(body, m, m.base, 1)
    pose = {k: m.base.get(k, 0.0) + m.pose.get(k, 0.0) for k in DOFS}
    cur = _frames(body, m, pose, m.t)
    idx = [J[j] for j in m.support]
    # a support joint whose limb is in the air carries (almost) nothing: (T, K) weights
    weight = np.stack([np.clip(1.0 - np.broadcast_to(m.unloaded.get(j, 0.0), (m.t,)), 0.02, 1.0)
                       for j in m.support], axis=1)
    weight /= weight.sum(axis=1, keepdims=True)
    shift = np.einsum("tk,tkc->tc", weight, rest.joints[:, idx] - cur.joints[:, idx])  # (T, 3)
    if m.ground:
        floor = min(rest.joints[0, J[j], 1] - CONTACT.get(j, 0.05) for j in m.ground)
    else:  # hanging: feet a little above the floor
        floor = min(rest.joints[0, J[j], 1] for j in ("left_ankle", "right_ankle")) - 0.3
    shift[:, 1] -= floor
    rest.joints[..., 1] -= floor
    cur.joints += shift[:, None, :]
    if m.lift is not None:
        cur.joints += m.lift[:, None, :]
    for limb in LIMBS:
        if limb in m.ik:
            end = J[LIMB_JOINTS[limb][2]]
            target = np.broadcast_to(rest.joints[0, end], (m.t, 3)).copy()
            if limb in m.target_lift:
                target += m.target_lift[limb]
            limb_ik(cur, body, limb, target, np.asarray(m.ik[limb], float))
    return cur.joints

