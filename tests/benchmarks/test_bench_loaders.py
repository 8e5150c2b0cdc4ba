"""DataLoader throughput of the skeleton and video loaders, next to a training step of a model,
so that we can see whether loading or the model bounds training speed.

Run with ``pytest tests/benchmarks/test_bench_loaders.py --benchmark-enable``; each result's
``extra_info`` holds clips (samples) per second. Skeleton: T = 64, V = 17 (COCO-17), batch 16.
Video: 16 frames, stride 4 at 30 fps, 224 crop, batch 4, from a 320x240 and a 1280x720 h264 file.
"""

from __future__ import annotations

import time
from fractions import Fraction

import numpy as np
import pytest
import torch

from amge_eval.baselines.data.datasets import SkeletonDataset, VideoDataset, make_loader
from amge_eval.harness.labels import make_label_set
from amge_eval.harness.skeletons import read_skeletons, write_skeletons

av = pytest.importorskip("av")

N_SKELETON = 256
N_VIDEO = 8
VIDEO_SECONDS = 5


def _labels(ids, media=None):
    return make_label_set("bench", "train", ids, [i.split("/")[0] for i in ids], media,
                          (np.arange(len(ids))[:, None] + np.arange(20)) % 2)


@pytest.fixture(scope="module")
def skeletons(tmp_path_factory):
    d = tmp_path_factory.mktemp("bench-skeletons")
    rng = np.random.default_rng(0)
    ids = [f"act{i % 10}/clip{i:04d}" for i in range(N_SKELETON)]
    seqs = []
    for _ in ids:
        t = int(rng.integers(60, 300))  # MuscleMap clips are a few seconds at 30 fps
        x = np.zeros((t, 2, 17, 3), np.float32)
        x[..., 0] = rng.uniform(0, 1280, (t, 2, 17))
        x[..., 1] = rng.uniform(0, 720, (t, 2, 17))
        x[..., 2] = rng.uniform(0.1, 1.0, (t, 2, 17))
        x[rng.uniform(size=(t, 2, 17)) < 0.1] = 0
        seqs.append(x)
    write_skeletons(d / "sk.npz", ids, seqs, "coco17", [[1280, 720]] * len(ids), [30.0] * len(ids))
    return _labels(ids), read_skeletons(d / "sk.npz")


def _encode(path, w, h, seconds):
    """Moving gradients with noise: content that costs a realistic amount to decode."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:h, 0:w]
    noise = rng.integers(0, 40, (h, w, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(30))
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "23"}
        for k in range(30 * seconds):
            img = np.empty((h, w, 3), np.uint8)
            img[..., 0] = (xx + 4 * k) % 256
            img[..., 1] = (yy + 2 * k) % 256
            img[..., 2] = ((xx + yy) // 2 + k) % 256
            img = img // 2 + np.roll(noise, k, axis=1) + 40
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-videos")
    out = {}
    for w, h in ((320, 240), (1280, 720)):
        name = f"{w}x{h}"
        (root / "bench" / name).mkdir(parents=True)
        _encode(root / "bench" / name / "clip.mp4", w, h, VIDEO_SECONDS)
        ids = [f"{name}/clip{i}" for i in range(N_VIDEO)]
        out[name] = (_labels(ids, [f"{name}/clip.mp4"] * N_VIDEO), root)
    return out


def _epoch_rate(benchmark, ds, batch, workers, rounds=3):
    """Clips per second of one pass over ``ds``, median of ``rounds`` passes (workers included)."""
    rates = []

    def one_pass():
        t0 = time.perf_counter()
        n = 0
        for b in make_loader(ds, batch, shuffle=True, num_workers=workers, epoch=len(rates)):
            n += len(b.index)
        rates.append(n / (time.perf_counter() - t0))

    benchmark.pedantic(one_pass, rounds=rounds, iterations=1)
    benchmark.extra_info["clips_per_s"] = round(float(np.median(rates)), 2)
    return float(np.median(rates))


@pytest.mark.parametrize("workers", [0, 2])
def test_skeleton_loader(benchmark, skeletons, workers):
    torch.set_num_threads(2)
    labels, sk = skeletons
    ds = SkeletonDataset(labels, sk, {"frames": 64, "max_persons": 1, "flip": True,
                                      "rotate": 10.0, "scale_jitter": 0.1}, train=True)
    assert _epoch_rate(benchmark, ds, 16, workers) > 0


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("mode", ["train", "test"])
@pytest.mark.parametrize("size", ["320x240", "1280x720"])
def test_video_loader(benchmark, videos, size, mode, workers):
    torch.set_num_threads(2)
    labels, root = videos[size]
    ds = VideoDataset(labels, {"frames": 16, "stride": 4, "crop": 224}, data_root=root,
                      train=mode == "train")
    assert _epoch_rate(benchmark, ds, 4, workers, rounds=2) > 0


def _train_step_rate(benchmark, model, x, y):
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        loss.backward()
        opt.step()

    step()  # warm-up
    benchmark.pedantic(step, rounds=3, iterations=1)
    rate = len(x) / benchmark.stats.stats.median
    benchmark.extra_info["samples_per_s"] = round(rate, 2)
    return rate


def test_stgcn_train_step(benchmark):
    """The registered ST-GCN (K=1) on a batch of 16 loader-shaped inputs (3, 64, 17, 1)."""
    from amge_eval.baselines.registry import get_baseline

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = get_baseline("stgcn").builder(num_muscles=20)
    x = torch.randn(16, 3, 64, 17, 1)
    y = (torch.rand(16, 20) > 0.7).float()
    assert _train_step_rate(benchmark, model, x, y) > 0


class TinyVideoNet(torch.nn.Module):
    """Two strided 3-D convolutions and a linear head: far lighter than any real video baseline."""

    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv3d(3, 16, (3, 7, 7), stride=(1, 4, 4), padding=(1, 3, 3)),  # (16, T, 56, 56)
            torch.nn.ReLU(),
            torch.nn.Conv3d(16, 32, 3, stride=2, padding=1),  # (32, T/2, 28, 28)
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool3d(1),  # (32, 1, 1, 1)
            torch.nn.Flatten(),
            torch.nn.Linear(32, 20),
        )

    def forward(self, x):  # x: (B, 3, T, H, W)
        return self.body(x)


def test_tiny_video_train_step(benchmark):
    torch.set_num_threads(2)
    torch.manual_seed(0)
    x = torch.rand(4, 3, 16, 224, 224)
    y = (torch.rand(4, 20) > 0.7).float()
    assert _train_step_rate(benchmark, TinyVideoNet(), x, y) > 0
