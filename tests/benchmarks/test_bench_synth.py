"""Generation speed of the embedded benchmark (clips/s), with and without video.

Run with ``python -m pytest -o addopts="" tests/benchmarks/test_bench_synth.py --benchmark-only``;
``extra_info`` holds clips per second. A subset of 3 clips per activity (144 clips) at the
default 128x128 keeps a round short; clips are independent, so the rate carries over.
"""

from __future__ import annotations

import shutil

import pytest

from amge_eval.harness.synth.generate import generate_benchmark


@pytest.mark.parametrize("video", [False, True], ids=["skeletons", "video"])
@pytest.mark.parametrize("workers", [1, 2])
def test_generation_speed(benchmark, tmp_path, video, workers):
    counter = iter(range(1000))

    def run():
        root = tmp_path / str(next(counter))
        res = generate_benchmark(root / "labels", root / "data", clips_per_activity=3,
                                 video=video, workers=workers)
        shutil.rmtree(root)
        return res

    res = benchmark.pedantic(run, rounds=2, iterations=1)
    clips = sum(res.counts.values())
    benchmark.extra_info["clips"] = clips
    benchmark.extra_info["clips_per_s"] = clips / benchmark.stats.stats.min
