"""Frames per second of the extractors from raw video: MediaPipe skeletons on a rendered clip of
the embedded benchmark (256x256, 25 fps) and on a real portrait 1080x1920 60 fps clip
(tests/data/real), and OpenCV optical flow with each method on a rendered 128x128 clip.

Run with ``pytest tests/benchmarks/test_bench_extract.py --benchmark-only``; each result's
``extra_info`` holds frames per second (decoding included). tests/benchmarks/measure_extract.py
prints the fuller tables of docs/raw-video.md (per-joint error, store sizes, every real clip).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ..conftest import needs_extra

pytestmark = needs_extra("baselines,pose,flow", "av", "mediapipe", "cv2")

REAL = Path(__file__).resolve().parents[1] / "data" / "real"


def _rendered(path: Path, size: int, activity: str = "squat") -> Path:
    from amge_eval.harness.fileio import write_bytes_atomic
    from amge_eval.harness.synth.generate import make_clip, make_settings
    from amge_eval.harness.synth.render import encode_mp4, render_frames

    s = make_settings(size=size)
    clip, rng = make_clip(s, activity, 0)
    return write_bytes_atomic(path, encode_mp4(render_frames(clip.scene, s.size, rng), s.fps))


def _rate(benchmark, run, rounds=2):
    frames = []
    benchmark.pedantic(lambda: frames.append(run()), rounds=rounds, iterations=1)
    rate = frames[-1] / benchmark.stats.stats.median
    benchmark.extra_info["frames_per_s"] = round(rate, 1)
    return rate


@pytest.mark.parametrize("source", ["rendered-256", "real-1080x1920-60fps"])
def test_pose_extraction(benchmark, tmp_path, source):
    from amge_eval.baselines.data.pose import extract_video

    video = (_rendered(tmp_path / "c.mp4", 256) if source.startswith("rendered")
             else REAL / "pose2sim_single_cam01.mp4")
    assert _rate(benchmark, lambda: extract_video(video).frames) > 0


@pytest.mark.parametrize("method", ["dis-ultrafast", "dis-fast", "dis-medium", "farneback"])
def test_flow_extraction(benchmark, tmp_path, method):
    from amge_eval.baselines.data.flow import FlowSettings, compute_flow

    video = _rendered(tmp_path / "c.mp4", 128)
    assert _rate(benchmark, lambda: len(compute_flow(video, FlowSettings(method=method)).times),
                 rounds=3) > 0
