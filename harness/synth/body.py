"""A 3-D stick body in the COCO-17 joint layout, posed by joint angles, and its camera.

World frame: metres, y up, the floor at y = 0; the camera looks at the body from +z at yaw 0.
Body frame (the pelvis): x = the body's left, y = up the spine, z = forward (anterior).

A pose is a dict of joint angles in degrees, one (T,) array per degree of freedom (``DOFS``);
absent ones are 0. Limbs are posed by forward kinematics from these angles, or, where a hand or
foot rests on something (the floor, a bar), placed by a two-link inverse kinematics solve so that
it stays put while the body moves. Everything is vectorised over the T frames of a clip.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..skeletons import COCO17

J = {name: i for i, name in enumerate(COCO17.joints)}
NUM_JOINTS = COCO17.num_joints
SIDES = ("l", "r")
SIDE_SIGN = {"l": 1.0, "r": -1.0}  # the body's left is +x
SIDE_NAME = {"l": "left", "r": "right"}

DOFS: tuple[str, ...] = (
    # whole-body orientation on top of the posture's: pitch tips the head towards the back,
    # roll tips it towards the body's right, yaw turns about the spine
    "pitch", "roll", "yaw",
    "trunk_flex", "trunk_lat", "trunk_rot",  # trunk on the pelvis: forward bend, to the left, twist
    "neck_flex", "neck_lat", "neck_rot",
    *(f"{s}_{d}" for s in SIDES for d in ("sh_flex", "sh_abd", "sh_rot", "elbow",
                                          "hip_flex", "hip_abd", "knee")),
)

LIMBS = ("l_arm", "r_arm", "l_leg", "r_leg")
# limb -> (root joint, middle joint, end joint)
LIMB_JOINTS = {
    "l_arm": ("left_shoulder", "left_elbow", "left_wrist"),
    "r_arm": ("right_shoulder", "right_elbow", "right_wrist"),
    "l_leg": ("left_hip", "left_knee", "left_ankle"),
    "r_leg": ("right_hip", "right_knee", "right_ankle"),
}


@dataclass(frozen=True)
class Body:
    """Segment lengths in metres; the defaults are a 1.75 m adult."""

    hip_half: float = 0.095  # pelvis centre to hip joint
    trunk: float = 0.50  # pelvis centre to the shoulder line
    shoulder_half: float = 0.19
    neck: float = 0.21  # shoulder line to head centre
    head: float = 0.11  # head radius; the face points sit on it
    upper_arm: float = 0.29
    forearm: float = 0.27
    thigh: float = 0.43
    shank: float = 0.42
    ankle: float = 0.08  # ankle joint above the sole

    def limb_lengths(self, limb: str) -> tuple[float, float]:
        return (self.upper_arm, self.forearm) if limb.endswith("arm") else (self.thigh, self.shank)


def random_body(rng: np.random.Generator) -> Body:
    """Body proportions of one person: every length scaled by its own factor around 1."""
    base = Body()
    scale = {f.name: getattr(base, f.name) * rng.uniform(0.9, 1.1) for f in fields(Body)}
    for wide in ("hip_half", "shoulder_half"):  # builds vary more in width than in bone length
        scale[wide] *= rng.uniform(0.9, 1.12)
    return replace(base, **scale)


# ------------------------------------------------------------------ rotations, (T, 3, 3)

def _rot(a: np.ndarray, i: int, j: int) -> np.ndarray:
    """Rotations by angles ``a`` (T,) in the plane of axes i -> j: (T, 3, 3)."""
    a = np.asarray(a, dtype=np.float64)
    r = np.zeros(a.shape + (3, 3))
    k = 3 - i - j
    c, s = np.cos(a), np.sin(a)
    r[..., k, k] = 1.0
    r[..., i, i] = c
    r[..., j, j] = c
    r[..., j, i] = s
    r[..., i, j] = -s
    return r


def rot_x(a: np.ndarray) -> np.ndarray:
    return _rot(a, 1, 2)  # y towards z


def rot_y(a: np.ndarray) -> np.ndarray:
    return _rot(a, 2, 0)  # z towards x


def rot_z(a: np.ndarray) -> np.ndarray:
    return _rot(a, 0, 1)  # x towards y


def _apply(r: np.ndarray, v) -> np.ndarray:
    """(T, 3, 3) @ (3,) or (T, 3) -> (T, 3)."""
    v = np.asarray(v, dtype=np.float64)
    return np.einsum("tij,...j->ti", r, v) if v.ndim == 1 else np.einsum("tij,tj->ti", r, v)


# Posture orientations: columns are where the body's x (left), y (up), z (forward) axes point.
ORIENT = {
    "upright": np.eye(3),
    "face_down": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [-1.0, 0.0, 0.0]]),
    "face_up": np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]),
    "left_side_down": np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]),
}


@dataclass
class Frames:
    """Posed body of one clip: joints (T, 17, 3) in world metres, plus the frames IK needs."""

    joints: np.ndarray
    pelvis: np.ndarray  # (T, 3)
    r_pelvis: np.ndarray  # (T, 3, 3)
    r_trunk: np.ndarray  # (T, 3, 3)
    r_head: np.ndarray  # (T, 3, 3)


def _dof(pose: dict, name: str, t: int) -> np.ndarray:
    v = pose.get(name)
    return np.zeros(t) if v is None else np.radians(np.broadcast_to(np.asarray(v, float), (t,)))


def forward(body: Body, orient: np.ndarray, pose: dict, t: int) -> Frames:
    """Forward kinematics with the pelvis at the origin."""
    d = {k: _dof(pose, k, t) for k in DOFS}
    r_pelvis = orient[None] @ rot_z(d["roll"]) @ rot_x(-d["pitch"]) @ rot_y(d["yaw"])
    r_trunk = r_pelvis @ rot_y(d["trunk_rot"]) @ rot_z(-d["trunk_lat"]) @ rot_x(d["trunk_flex"])
    r_head = r_trunk @ rot_y(d["neck_rot"]) @ rot_z(-d["neck_lat"]) @ rot_x(d["neck_flex"])
    pelvis = np.zeros((t, 3))
    neck_base = _apply(r_trunk, [0.0, body.trunk, 0.0])
    head = neck_base + _apply(r_head, [0.0, body.neck, 0.02])
    out = np.zeros((t, NUM_JOINTS, 3))
    h = body.head
    face = {"nose": (0.0, -0.1 * h, 0.95 * h), "left_eye": (0.33 * h, 0.22 * h, 0.85 * h),
            "right_eye": (-0.33 * h, 0.22 * h, 0.85 * h), "left_ear": (0.92 * h, 0.0, -0.1 * h),
            "right_ear": (-0.92 * h, 0.0, -0.1 * h)}
    for name, off in face.items():
        out[:, J[name]] = head + _apply(r_head, off)
    down = np.array([0.0, -1.0, 0.0])
    for s in SIDES:
        sg, side = SIDE_SIGN[s], SIDE_NAME[s]
        shoulder = neck_base + _apply(r_trunk, [sg * body.shoulder_half, 0.0, 0.0])
        r_upper = (r_trunk @ rot_x(-d[f"{s}_sh_flex"]) @ rot_z(sg * d[f"{s}_sh_abd"])
                   @ rot_y(sg * d[f"{s}_sh_rot"]))
        elbow = shoulder + _apply(r_upper, down * body.upper_arm)
        wrist = elbow + _apply(r_upper @ rot_x(-d[f"{s}_elbow"]), down * body.forearm)
        hip = pelvis + _apply(r_pelvis, [sg * body.hip_half, 0.0, 0.0])
        r_thigh = r_pelvis @ rot_x(-d[f"{s}_hip_flex"]) @ rot_z(sg * d[f"{s}_hip_abd"])
        knee = hip + _apply(r_thigh, down * body.thigh)
        ankle = knee + _apply(r_thigh @ rot_x(d[f"{s}_knee"]), down * body.shank)
        for name, p in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist), ("hip", hip),
                        ("knee", knee), ("ankle", ankle)):
            out[:, J[f"{side}_{name}"]] = p
    return Frames(out, pelvis, r_pelvis, r_trunk, r_head)


def two_link_ik(root: np.ndarray, target: np.ndarray, l1: float, l2: float,
                hint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Middle and end joint of a two-segment limb from ``root`` reaching for ``target``.

    root, target, hint: (T, 3). The middle joint bends towards ``hint`` (a direction). A target
    out of reach is approached along the straight line, so the end stops short of it.
    """
    v = target - root
    dist = np.linalg.norm(v, axis=-1, keepdims=True)
    # a target on the root itself gives no direction: reach straight down instead
    u = np.where(dist > 1e-9, v / np.maximum(dist, 1e-9), np.array([0.0, -1.0, 0.0]))
    d = np.clip(dist, abs(l1 - l2) + 1e-4, l1 + l2 - 1e-4)
    along = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    radius = np.sqrt(np.maximum(l1 * l1 - along * along, 0.0))
    perp = hint - np.sum(hint * u, axis=-1, keepdims=True) * u
    # a hint parallel to the limb leaves the bend direction open: pick any perpendicular
    fallback = np.cross(u, np.array([0.0, 0.0, 1.0]))
    parallel_z = np.linalg.norm(fallback, axis=-1, keepdims=True) < 1e-6
    fallback = np.where(parallel_z, np.cross(u, np.array([1.0, 0.0, 0.0])), fallback)
    weak = np.linalg.norm(perp, axis=-1, keepdims=True) < 1e-6
    perp = np.where(weak, fallback, perp)
    perp /= np.maximum(np.linalg.norm(perp, axis=-1, keepdims=True), 1e-9)
    mid = root + u * along + perp * radius
    return mid, root + u * d


def limb_ik(frames: Frames, body: Body, limb: str, target: np.ndarray, hint_body) -> None:
    """Re-pose ``limb`` in place so its end reaches ``target`` (T, 3); hint in the pelvis frame."""
    root, mid, end = (J[n] for n in LIMB_JOINTS[limb])
    hint = _apply(frames.r_trunk if limb.endswith("arm") else frames.r_pelvis, hint_body)
    m, e = two_link_ik(frames.joints[:, root], target, *body.limb_lengths(limb), hint)
    frames.joints[:, mid] = m
    frames.joints[:, end] = e


# ------------------------------------------------------------------ camera

@dataclass(frozen=True)
class Camera:
    yaw: float  # degrees; 0 looks at the body's front when it stands facing +z
    pitch: float  # degrees; positive looks down on the body
    distance: float  # metres from the look-at point
    focal: float = 1.0  # relative; only the ratio to distance matters after framing

    def rotation(self) -> np.ndarray:
        y, p = np.radians(self.yaw), np.radians(self.pitch)
        ry = rot_y(np.array([-y]))[0]
        rx = rot_x(np.array([p]))[0]
        return rx @ ry


def project(points: np.ndarray, cam: Camera, center: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Perspective projection of world points (..., 3) looked at around ``center`` (3,).

    Returns (xy, depth): xy (..., 2) in camera units with y pointing down the image, and the
    distance along the viewing axis (larger is farther).
    """
    cam_pts = (points - center) @ cam.rotation().T
    depth = cam.distance - cam_pts[..., 2]
    scale = cam.focal * cam.distance / np.maximum(depth, 0.1)
    xy = np.stack([cam_pts[..., 0] * scale, -cam_pts[..., 1] * scale], axis=-1)
    return xy, depth
