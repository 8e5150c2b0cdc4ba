"""Measure the extractors from raw video (docs/raw-video.md, "Measured"): pose frames/s and
per-joint agreement with the embedded benchmark's ground truth on rendered clips; optical-flow
frames/s and store size of each flow method, side by side on the same rendered clips; both
extractors on the real clips of tests/data/real. One process, one video at a time.

    python tests/benchmarks/measure_extract.py [--clips 12] [--size 256]

Prints Markdown. Times are wall time of decoding plus estimation (MediaPipe and OpenCV use
their own threads, as they do by default); the machine, its load average before and after and
the versions are printed with them, since on a shared machine the figures move with the load.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from amge_eval.baselines.data.extract import folder_videos
from amge_eval.baselines.data.flow import METHODS, FlowSettings, compute_flow, write_flow
from amge_eval.baselines.data.pose import extract_video
from amge_eval.baselines.data.pose_check import agreement_on_synth
from amge_eval.harness.fileio import write_bytes_atomic
from amge_eval.harness.records.base import cpu_model
from amge_eval.harness.synth.activities import ACTIVITIES
from amge_eval.harness.synth.generate import make_clip, make_settings
from amge_eval.harness.synth.render import encode_mp4, render_frames

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def pose_section(acts: list[str], size: int) -> None:
    a = agreement_on_synth(acts, size=size)
    print(f"\n## Pose vs ground truth: {len(acts)} rendered clips, {size}x{size}, 25 fps\n")
    print(f"Activities: {', '.join(acts)}.\n")
    print(f"{a.frames} frames, a person found in {a.detected} ({a.detected / a.frames:.1%}); "
          f"{a.frames / a.seconds:.1f} frames/s (decoding and estimation, {a.seconds:.1f} s)\n")
    print("| joint | found | median error (px) | median / standing height | "
          "90th pct / standing height |")
    print("|---|---|---|---|---|")
    for j, name in enumerate(a.joints):
        e, r = a.errors_px[j], a.errors_rel[j]
        if len(r):
            print(f"| {name} | {a.found[j] / a.frames:.1%} | {np.median(e):.1f} | "
                  f"{np.median(r):.3f} | {np.percentile(r, 90):.3f} |")
        else:
            print(f"| {name} | 0% | - | - | - |")
    allp, allr = np.concatenate(a.errors_px), np.concatenate(a.errors_rel)
    print(f"| all joints | {a.found.sum() / (len(a.joints) * a.frames):.1%} | "
          f"{np.median(allp):.1f} | {np.median(allr):.3f} | {np.percentile(allr, 90):.3f} |")


def flow_section(acts: list[str]) -> None:
    """Every method on every clip, the methods alternating within each clip."""
    synth = make_settings(size=128)
    pairs = dict.fromkeys(METHODS, 0)
    secs = dict.fromkeys(METHODS, 0.0)
    sizes: dict[str, list[int]] = {m: [] for m in METHODS}
    mp4 = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in acts:
            c, rng = make_clip(synth, name, 0)
            video = write_bytes_atomic(Path(tmp) / "c.mp4",
                                       encode_mp4(render_frames(c.scene, synth.size, rng), 25))
            mp4.append(video.stat().st_size)
            for m in METHODS:
                t0 = time.perf_counter()
                clip = compute_flow(video, FlowSettings(method=m))
                secs[m] += time.perf_counter() - t0
                pairs[m] += len(clip.times)
                sizes[m].append(write_flow(Path(tmp) / "f.npz", clip).stat().st_size)
    print(f"\n## Optical flow of the same {len(acts)} clips rendered at the benchmark's default "
          f"128x128, 25 fps\n")
    print(f"Default settings otherwise (short side 128, bound 10 px). The clips' mp4 files "
          f"average {np.mean(mp4) / 1e3:.0f} kB.\n")
    print("| method | flow frames | flow frames/s | store per clip (kB) | bytes per flow frame |")
    print("|---|---|---|---|---|")
    for m in METHODS:
        print(f"| {m} | {pairs[m]} | {pairs[m] / secs[m]:.0f} | {np.mean(sizes[m]) / 1e3:.0f} | "
              f"{sum(sizes[m]) / pairs[m]:,.0f} |")


def real_section() -> None:
    print("\n## Real clips (tests/data/real), default settings\n")
    print("| clip | displayed size | kept fps | pose frames | with the person | pose frames/s | "
          "flow frames | flow frames/s | flow store (kB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for job in folder_videos(REAL):
            res = extract_video(job.path)
            t0 = time.perf_counter()
            clip = compute_flow(job.path, FlowSettings())
            flow_s = time.perf_counter() - t0
            size = write_flow(Path(tmp) / "f.npz", clip).stat().st_size
            n = len(clip.times)
            print(f"| {job.sample_id} | {res.image_size[0]}x{res.image_size[1]} | {res.fps:g} | "
                  f"{res.frames} | {res.detected} | {res.frames / res.seconds:.1f} | {n} | "
                  f"{n / flow_s:.1f} | {size / 1e3:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=12, help="rendered clips (activities)")
    ap.add_argument("--size", type=int, default=256, help="rendered video side for the pose check")
    ap.add_argument("--skip-real", action="store_true", help="leave out the real clips")
    args = ap.parse_args()
    import cv2
    import mediapipe

    print(f"Command: `python {' '.join(sys.argv)}`  ")
    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC  ")
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}, "
          f"mediapipe {mediapipe.__version__}, OpenCV {cv2.__version__}  ")
    print(f"Load average (1, 5, 15 min) at the start: {_load()}")
    step = max(1, len(ACTIVITIES) // args.clips)
    acts = [a.name for a in ACTIVITIES[::step]][:args.clips]
    pose_section(acts, args.size)
    flow_section(acts)
    if not args.skip_real:
        real_section()
    print(f"\nLoad average at the end: {_load()}")


if __name__ == "__main__":
    main()
