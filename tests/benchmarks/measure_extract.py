"""Measure the extractors from raw video (the README's figures): pose frames/s and per-joint
agreement with the embedded benchmark's ground truth, and optical-flow frames/s and store size,
on rendered clips and on the real clips of tests/data/real. One process, one video at a time.

    python tests/benchmarks/measure_extract.py [--clips 12] [--size 256]

Prints Markdown tables. Times are wall time of decoding plus estimation, one video at a time
(MediaPipe and OpenCV use their own threads as they do by default).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from amge_eval.baselines.data.extract import folder_videos
from amge_eval.baselines.data.flow import FlowSettings, compute_flow, write_flow
from amge_eval.baselines.data.pose import extract_video
from amge_eval.baselines.data.pose_check import agreement_on_synth
from amge_eval.harness.records.base import cpu_model
from amge_eval.harness.synth.activities import ACTIVITIES

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=12, help="rendered clips (activities)")
    ap.add_argument("--size", type=int, default=256, help="rendered video side")
    args = ap.parse_args()
    print(f"CPU: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}")
    step = max(1, len(ACTIVITIES) // args.clips)
    acts = [a.name for a in ACTIVITIES[::step]][:args.clips]
    a = agreement_on_synth(acts, size=args.size)
    print(f"\n## Pose vs ground truth: {len(acts)} rendered clips, {args.size}x{args.size}, "
          f"25 fps ({', '.join(acts)})")
    print(f"frames {a.frames}, with a person {a.detected} ({a.detected / a.frames:.1%}); "
          f"{a.frames / a.seconds:.1f} frames/s")
    print("\n| joint | found | median error (px) | median / standing height | 90th pct / height |")
    print("|---|---|---|---|---|")
    for j, name in enumerate(a.joints):
        e, r = a.errors_px[j], a.errors_rel[j]
        p90 = np.percentile(r, 90) if len(r) else float("nan")
        print(f"| {name} | {a.found[j] / a.frames:.1%} | {np.median(e):.1f} | "
              f"{np.median(r):.3f} | {p90:.3f} |")
    allr = np.concatenate(a.errors_rel)
    print(f"| all joints | {a.found.sum() / (17 * a.frames):.1%} | "
          f"{np.median(np.concatenate(a.errors_px)):.1f} | {np.median(allr):.3f} | "
          f"{np.percentile(allr, 90):.3f} |")

    print("\n## Optical flow of rendered clips at the benchmark's default 128x128, 25 fps\n")
    from amge_eval.harness.fileio import write_bytes_atomic
    from amge_eval.harness.synth.generate import make_clip, make_settings
    from amge_eval.harness.synth.render import encode_mp4, render_frames

    synth = make_settings(size=128)
    import tempfile

    pairs, secs, sizes = 0, 0.0, []
    with tempfile.TemporaryDirectory() as tmp:
        for name in acts:
            c, rng = make_clip(synth, name, 0)
            video = write_bytes_atomic(Path(tmp) / "c.mp4",
                                       encode_mp4(render_frames(c.scene, synth.size, rng), 25))
            t0 = time.perf_counter()
            clip = compute_flow(video, FlowSettings())
            secs += time.perf_counter() - t0
            pairs += len(clip.times)
            sizes.append(write_flow(Path(tmp) / "f.npz", clip).stat().st_size)
    print(f"{len(acts)} clips, {pairs} flow frames: {pairs / secs:.0f} flow frames/s; store "
          f"{np.mean(sizes) / 1e3:.0f} kB per clip on average ({sum(sizes) / pairs:,.0f} bytes "
          f"per flow frame); the clip's mp4 for comparison is produced by the generator")

    print("\n## Real clips (tests/data/real)\n")
    print("| clip | size | fps | pose frames | pose frames/s | flow pairs | flow frames/s | "
          "flow store (bytes) | bytes per flow frame |")
    print("|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for job in folder_videos(REAL):
            res = extract_video(job.path)
            t0 = time.perf_counter()
            clip = compute_flow(job.path, FlowSettings())
            flow_s = time.perf_counter() - t0
            size = write_flow(Path(tmp) / "f.npz", clip).stat().st_size
            n = len(clip.times)
            print(f"| {job.sample_id} | {res.image_size[0]}x{res.image_size[1]} | "
                  f"{res.fps:g} (kept) | {res.frames} | {res.frames / res.seconds:.1f} | {n} | "
                  f"{n / flow_s:.1f} | {size:,} | {size / max(1, n):,.0f} |")


if __name__ == "__main__":
    main()
