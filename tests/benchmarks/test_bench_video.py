"""CPU speed of the video baselines' training: the tiny variants' training step, and decoding +
augmentation per loader worker for 320x240, 720p and 1080p sources, with PyAV (the loader's
decoder) and, when it is installed and finds FFmpeg, torchcodec on the CPU for comparison.

Run with ``pytest -o addopts="" tests/benchmarks/test_bench_video.py``; ``extra_info`` holds
clips per second. The full-size models' training step is ``amge-eval bench`` (minutes per model
on a CPU). Threads: ``AMGE_BENCH_THREADS`` (default 2); on a machine shared with other work,
1 thread avoids waiting on a descheduled second thread.

The decode cases draw training clips as the MViTv2-S config does (16 frames, stride 4 at 30
fps, "resized" crop to 224) at evenly spaced positions of a 5 s, 30 fps h264 file (one key frame:
x264's default interval is longer than the file, so a late clip decodes from the start, as in
many phone and web videos). "decode" stops at the uint8 frames; "decode+augment" is a loader
item. torchcodec picks the frame shown at each time + half a frame (the nearest frame of a
constant-rate file), so both decode the same frames.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from amge_eval.baselines.config import load_config
from amge_eval.baselines.registry import get_baseline, list_baselines

av = pytest.importorskip("av")

THREADS = int(os.environ.get("AMGE_BENCH_THREADS", "2"))
TINY = [s.name for s in list_baselines() if s.family == "video" and s.name.endswith("-tiny")]
SIZES = ["320x240", "1280x720", "1920x1080"]
BATCH = 16


@pytest.mark.parametrize("name", TINY)
def test_tiny_train_step(benchmark, name):
    """forward + backward + AdamW on a batch of 16 clips of the variant's input shape."""
    from amge_eval.baselines.training import make_optimizer, multilabel_loss

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    cfg = load_config(get_baseline(name))
    model = get_baseline(name).builder(num_muscles=20, **cfg.model).train()
    opt = make_optimizer(model, cfg.train)
    x = torch.randn(BATCH, 3, cfg.data["frames"], cfg.data["crop"], cfg.data["crop"])
    y = (torch.rand(BATCH, 20) < 0.3).float()

    def step():
        loss = multilabel_loss(model(x), y, cfg.train.loss).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    benchmark.pedantic(step, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["clips_per_s"] = round(BATCH / benchmark.stats.stats.median, 2)
    benchmark.extra_info["threads"] = torch.get_num_threads()


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    from amge_eval.baselines.bench import write_test_video

    root = tmp_path_factory.mktemp("decode")
    return {s: write_test_video(root / f"{s}.mp4", *map(int, s.split("x"))) for s in SIZES}


def _settings():
    from amge_eval.baselines.data.video import VideoSettings

    return VideoSettings(frames=16, stride=4, crop=224)


def _pyav_frames(path, settings, fraction):
    from amge_eval.baselines.data.video import decode_clips

    return decode_clips(path, [fraction], settings)[0].frames


def _torchcodec_decoder():
    try:
        from torchcodec.decoders import VideoDecoder
    except ImportError:
        pytest.skip("torchcodec is not installed (pip install torchcodec)")
    return VideoDecoder


def _torchcodec_frames(path, settings, fraction, decoder_cls):
    from amge_eval.baselines.data.video import clip_start, sample_times

    dec = decoder_cls(str(path), device="cpu", seek_mode="approximate",
                      dimension_order="NHWC")
    meta = dec.metadata
    start = clip_start(meta.duration_seconds, settings.span, fraction)
    times = sample_times(start, settings.frames, settings.stride, settings.fps)
    half = 0.5 / meta.average_fps
    times = np.minimum(times + half, meta.duration_seconds - half)
    return dec.get_frames_played_at(times.tolist()).data.numpy()


@pytest.mark.parametrize("work", ["decode", "decode+augment"])
@pytest.mark.parametrize("backend", ["pyav", "torchcodec"])
@pytest.mark.parametrize("size", SIZES)
def test_decode_clips_per_worker(benchmark, sources, size, backend, work):
    from amge_eval.baselines.data.transforms import finish, train_view

    torch.set_num_threads(1)  # a loader worker's setting (baselines/data/datasets.py)
    s = _settings()
    if backend == "torchcodec":
        cls = _torchcodec_decoder()
        try:
            _torchcodec_frames(sources[size], s, 0.5, cls)
        except (RuntimeError, OSError) as exc:
            pytest.skip(f"torchcodec cannot decode here: {str(exc).splitlines()[0][:200]}")
        decode = lambda path, f: _torchcodec_frames(path, s, f, cls)  # noqa: E731
    else:
        decode = lambda path, f: _pyav_frames(path, s, f)  # noqa: E731
    clips = {"320x240": 12, "1280x720": 6, "1920x1080": 4}[size]
    positions = np.linspace(0, 1, clips)  # the same clips for both backends, early to late

    def run():
        rng = np.random.default_rng(0)
        for f in positions:
            frames = decode(sources[size], f)
            assert frames.shape == (16, *reversed([int(v) for v in size.split("x")]), 3)
            if work == "decode+augment":
                finish(train_view(frames, s, rng), s)

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    benchmark.extra_info["clips_per_s"] = round(clips / benchmark.stats.stats.median, 2)
