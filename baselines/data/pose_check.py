"""How well the skeleton extractor agrees with ground truth: the embedded benchmark renders its
videos from known skeletons (harness/synth), so the extractor's joints can be compared with the
true ones, joint by joint.

The truth is ``Scene.pixels``, the exact projection of each joint (before the benchmark's own
simulated estimator noise); the error of a joint in a frame is the distance in pixels between
the extracted and the true position, and its relative error divides that by the person's
standing height in pixels in that frame (the body's segment lengths from ankle to the top of
the head times the frame's pixels per metre). Joints the extractor reports as missing
(confidence 0) and frames without a detection count as misses, not as errors.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amge_eval.harness.fileio import write_bytes_atomic
from amge_eval.harness.skeletons import COCO17

from .pose import PoseSettings, extract_video


@dataclass
class Agreement:
    """Per-joint errors of the extractor on rendered clips (COCO-17 joint order)."""

    joints: tuple[str, ...]
    errors_px: list[np.ndarray]  # per joint: the errors of every frame where it was found
    errors_rel: list[np.ndarray]  # the same over the standing height
    found: np.ndarray  # (17,) frames where the joint was found
    frames: int  # frames compared, all clips
    detected: int  # frames with a person
    seconds: float  # extraction wall time, all clips
    clips: list[str]

    def median_px(self) -> np.ndarray:
        return np.array([np.median(e) if len(e) else np.nan for e in self.errors_px])

    def median_rel(self) -> np.ndarray:
        return np.array([np.median(e) if len(e) else np.nan for e in self.errors_rel])


def standing_height(body) -> float:
    """Ankle to the top of the head, in metres, of a synth Body."""
    return body.ankle + body.shank + body.thigh + body.trunk + body.neck + 2 * body.head


def agreement_on_synth(activities: list[str], *, size: int = 256, index: int = 0, seed: int = 0,
                       settings: PoseSettings | None = None) -> Agreement:
    """Render one clip of each activity (the benchmark's generator at ``size`` pixels), extract
    its skeletons and compare them with the truth."""
    from amge_eval.harness.synth.generate import make_clip, make_settings
    from amge_eval.harness.synth.render import encode_mp4, render_frames

    synth = make_settings(size=size, seed=seed)
    errs_px: list[list[np.ndarray]] = [[] for _ in COCO17.joints]
    errs_rel: list[list[np.ndarray]] = [[] for _ in COCO17.joints]
    found = np.zeros(len(COCO17.joints), np.int64)
    frames = detected = 0
    seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="amge-pose-check-") as tmp:
        for name in activities:
            clip, render_rng = make_clip(synth, name, index)
            video = Path(tmp) / "clip.mp4"
            write_bytes_atomic(video, encode_mp4(render_frames(clip.scene, synth.size,
                                                               render_rng), synth.fps))
            res = extract_video(video, settings)
            seconds += res.seconds
            truth = clip.scene.pixels  # (T, 17, 2)
            got = res.sequence[:, 0]  # (T, 17, 3)
            n = min(len(truth), len(got))
            frames += n
            detected += int((got[:n, :, 2] > 0).any(axis=1).sum())
            height = standing_height(clip.scene.body) * clip.scene.px_per_m[:n]  # (T,)
            for j in range(len(COCO17.joints)):
                ok = got[:n, j, 2] > 0
                d = np.linalg.norm(got[:n, j, :2] - truth[:n, j], axis=1)[ok]
                errs_px[j].append(d)
                errs_rel[j].append(d / height[ok])
                found[j] += int(ok.sum())
    return Agreement(COCO17.joints, [np.concatenate(e) for e in errs_px],
                     [np.concatenate(e) for e in errs_rel], found, frames, detected, seconds,
                     list(activities))
