"""Activity-specific nuisance: the footage an activity's clips are cut from.

Real AMGE datasets cut many clips out of a few source videos per activity, so the clips of one
activity share a performer, a camera set-up, a tempo and a room. A seen activity's train, val
and test clips come from the same footage; an unseen activity's footage is new. Recognising the
footage (who, where, how fast) therefore identifies a seen activity, and with it its label, and
says nothing useful about an unseen one: a shortcut that works only on seen activities, as in
the papers (their HAR + lookup-table baseline scores as well as any model on seen activities
and far worse on unseen ones).

An activity's footage is ``SOURCES`` source videos: ``activity_style(seed, name, posture, k)``
draws source k's ``Style`` from (seed, activity name, k), and clip i is cut from source
``i % SOURCES`` with small deviations of its own (``clip_style``). The render colours and room
come from ``Style.render_seed`` (``render.py``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields, replace

import numpy as np

from .body import Body, random_body
from .motions import ARM_STYLES

# Entropy word that separates an activity's style stream from its clips' streams (clip
# indices are < 10,000).
STYLE_TAG = 0x5354594C45
SOURCES = 4  # source videos per activity; clip i comes from source i % SOURCES
ARM_CARRIAGES = tuple(sorted(ARM_STYLES))

# Camera yaw ranges per posture (degrees; floor exercises are also filmed mirrored): people film
# standing exercises from the front to the side, and floor exercises mostly from the side.
YAW = {"standing": (-80.0, 80.0), "seated": (-75.0, 75.0), "hanging": (-60.0, 60.0),
       "prone": (-35.0, 35.0), "supine": (-35.0, 35.0), "side_lying": (-30.0, 30.0),
       "quadruped": (-35.0, 35.0)}
PITCH = (-5.0, 30.0)
FLOOR_POSTURES = ("prone", "supine", "side_lying", "quadruped")

# How far one clip strays from its activity's style.
CLIP_SPREAD = {
    "body": 0.015,  # relative, per segment length
    "yaw": 7.0,  # degrees (standard deviation)
    "pitch": 3.0,  # degrees (standard deviation)
    "distance": 0.06,  # relative
    "tempo": 0.08,  # relative
    "amplitude": 0.05,  # absolute
    "shape": 0.08,  # relative
    "length": 0.1,  # of the frame range
    "noise": 0.15,  # relative
}


@dataclass(frozen=True)
class Style:
    """The performer, camera, tempo and room of one activity's footage."""

    body: Body  # the performer's proportions
    yaw: float  # camera yaw (degrees) the activity is filmed around
    pitch: float  # camera pitch (degrees)
    distance: float  # camera distance (metres)
    mirrored: bool  # floor exercises: filmed from the performer's other side
    rep_seconds: float  # seconds per repetition (tempo)
    amplitude: float  # range of motion (1 = the primitive's full range)
    shape: float  # > 1 dwells at rest, < 1 dwells at the peak of a repetition
    length: float  # typical clip length, as a fraction of the frame range
    fill: float  # how much of the frame the person's box fills
    noise: float  # pose-estimator jitter, as a fraction of the person's extent
    arms: str  # how free arms are carried (one of ARM_CARRIAGES)
    render_seed: int  # colours, clothes and room of the videos


def style_seed(seed: int, activity: str, source: int) -> np.random.SeedSequence:
    return np.random.SeedSequence([seed, zlib.crc32(activity.encode("utf-8")), STYLE_TAG, source])


def source_of(index: int) -> int:
    """The source video clip ``index`` of an activity is cut from."""
    return index % SOURCES


def activity_style(seed: int, activity: str, posture: str, source: int = 0) -> Style:
    """The style of source video ``source`` of ``activity``: a function of (seed, name,
    source) alone."""
    rng = np.random.default_rng(style_seed(seed, activity, source))
    lo, hi = YAW[posture]
    return Style(
        body=random_body(rng),
        yaw=float(rng.uniform(lo, hi)),
        pitch=float(rng.uniform(*PITCH)),
        distance=float(rng.uniform(3.5, 7.0)),
        mirrored=bool(posture in FLOOR_POSTURES and rng.random() < 0.5),
        rep_seconds=float(rng.uniform(1.2, 3.0)),
        amplitude=float(rng.uniform(0.65, 1.05)),
        shape=float(rng.uniform(0.7, 1.6)),
        length=float(rng.random()),
        fill=float(rng.uniform(0.68, 0.9)),
        noise=float(rng.uniform(0.006, 0.03)),
        arms=str(ARM_CARRIAGES[int(rng.integers(0, len(ARM_CARRIAGES)))]),
        render_seed=int(rng.integers(0, 2**31)),
    )


def clip_style(style: Style, rng: np.random.Generator) -> Style:
    """One clip's deviation from its activity's style (the same source footage, another cut)."""
    sp = CLIP_SPREAD
    body = replace(style.body, **{f.name: getattr(style.body, f.name)
                                  * float(1.0 + rng.normal(0.0, sp["body"]))
                                  for f in fields(Body)})
    return replace(
        style,
        body=body,
        yaw=float(style.yaw + rng.normal(0.0, sp["yaw"])),
        pitch=float(style.pitch + rng.normal(0.0, sp["pitch"])),
        distance=float(style.distance * (1.0 + rng.uniform(-sp["distance"], sp["distance"]))),
        rep_seconds=float(style.rep_seconds * (1.0 + rng.uniform(-sp["tempo"], sp["tempo"]))),
        amplitude=float(style.amplitude + rng.uniform(-sp["amplitude"], sp["amplitude"])),
        shape=float(style.shape * (1.0 + rng.uniform(-sp["shape"], sp["shape"]))),
        length=float(np.clip(style.length + rng.uniform(-sp["length"], sp["length"]), 0.0, 1.0)),
        noise=float(style.noise * (1.0 + rng.uniform(-sp["noise"], sp["noise"]))),
    )
