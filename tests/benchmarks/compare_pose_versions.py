"""The skeleton extractor of an earlier commit against the working tree's, on the real clips of
tests/data/real, the two alternating within each clip: frames with a person, tracker starts,
where the followed person is, frames/s (docs/raw-video.md, "What broke on real footage").

    python tests/benchmarks/compare_pose_versions.py [--old 462ca6f]

The earlier baselines/data/pose.py is read with `git show` and loaded beside the current one
(it imports the current decode.py). Prints Markdown.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from amge_eval.baselines.data import pose as current
from amge_eval.harness.records.base import cpu_model

ROOT = Path(__file__).resolve().parents[2]
REAL = ROOT / "tests" / "data" / "real"


def load_old(commit: str):
    src = subprocess.run(["git", "show", f"{commit}:baselines/data/pose.py"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    path = Path(tempfile.mkdtemp(prefix="amge-pose-old-")) / "pose_old.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("amge_eval.baselines.data.pose_old", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", default="462ca6f", help="commit of the earlier extractor")
    args = ap.parse_args()
    old = load_old(args.old)
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {cpu_model()}, {os.cpu_count()} cores; "
          f"load average {load}\n")
    print("| clip | extractor | frames | with a person | tracker starts | median hip x / width | "
          "median ankle y / height | frames/s |")
    print("|---|---|---|---|---|---|---|---|")
    for video in sorted(REAL.glob("*.mp4")):
        for tag, mod in ((args.old, old), ("working tree", current)):
            r = mod.extract_video(video)
            seq = r.sequence[:, 0]
            w, h = r.image_size
            hips, ankles = seq[:, [11, 12]], seq[:, [15, 16]]
            okh, oka = (hips[..., 2] > 0).all(1), (ankles[..., 2] > 0).all(1)
            hx = f"{np.median(hips[okh, :, 0]) / w:.2f}" if okh.any() else "-"
            ay = f"{np.median(ankles[oka, :, 1]) / h:.2f}" if oka.any() else "-"
            print(f"| {video.stem} | {tag} | {r.frames} | {r.detected} | {r.switches} | {hx} | "
                  f"{ay} | {r.frames / r.seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
