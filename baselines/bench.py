"""`amge-eval bench`: how fast the video baselines train on this machine, and whether decoding
keeps up.

For each baseline, at the input its config file sets ([data] frames and crop, its [train] loss,
mixed precision, channels-last and compile switches):

- **train clips/s**: forward + backward + AdamW step on random clips of that shape, the median
  step of ``steps`` after ``warmup`` unmeasured ones (the first steps allocate, tune kernels and,
  with compile, compile);
- **peak memory**: on CUDA the peak of allocated memory during the measured steps; on the CPU
  the peak growth of the process's resident memory over its level before the model was built,
  sampled every 5 ms;
- **loader clips/s**: the training loader (decode + augment, the config's [data] settings) on a
  generated 5 s, 30 fps h264 video of ``video_size``, in this process (one worker's rate: a
  DataLoader with W workers gives about W times that while cores last).

Nothing here prints; ``amge-eval bench`` renders the results.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.progress import NULL_PROGRESS, Progress

from .config import load_config
from .registry import get_baseline, list_baselines


@dataclass
class BenchResult:
    name: str
    device: str  # "cpu" or "cuda"
    device_name: str  # CPU model or GPU name
    threads: int  # torch CPU threads
    params: int
    batch_size: int
    clip: tuple[int, int, int, int]  # (C, T, H, W) of one clip
    amp: bool  # autocast (CUDA only)
    channels_last: bool
    compiled: bool
    step_s: list[float] = field(default_factory=list)  # the measured steps, seconds
    train_clips_per_s: float | None = None  # batch / median step
    peak_memory_mib: float | None = None
    memory_kind: str = ""  # "cuda max allocated" or "cpu rss growth"
    loader_clips_per_s: float | None = None  # decode + augment, one worker
    loader_source: str = ""  # the video the loader read, e.g. "320x240 h264 30 fps, 5 s"
    error: str | None = None  # e.g. out of memory: the other figures are then missing

    def to_dict(self) -> dict:
        return asdict(self)


def default_names() -> list[str]:
    """The full-size video baselines (the papers' rows)."""
    return [s.name for s in list_baselines()
            if s.family == "video" and not s.name.endswith("-tiny")]


class PeakRSS:
    """Peak resident memory of this process while the block runs, in MiB, by sampling."""

    def __init__(self, interval_s: float = 0.005):
        self.interval_s = interval_s
        self.peak = 0
        self._stop = threading.Event()

    @staticmethod
    def current() -> int:
        try:
            with open("/proc/self/statm") as f:
                return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, ValueError):  # not Linux: the lifetime peak is the best there is
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.current())
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self.peak = self.current()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.current())


def write_test_video(path: Path, width: int, height: int, seconds: float = 5.0,
                     fps: int = 30) -> Path:
    """An h264 file of moving gradients with noise (content that costs a realistic amount to
    decode; x264 "veryfast", CRF 23, its default key-frame interval)."""
    from fractions import Fraction

    import av
    import numpy as np

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:height, 0:width]
    noise = rng.integers(0, 40, (height, width, 3), dtype=np.uint8)
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.options = {"preset": "veryfast", "crf": "23"}
        for k in range(int(round(seconds * fps))):
            img = np.empty((height, width, 3), np.uint8)
            img[..., 0] = (xx + 4 * k) % 256
            img[..., 1] = (yy + 2 * k) % 256
            img[..., 2] = ((xx + yy) // 2 + k) % 256
            img = img // 2 + np.roll(noise, k, axis=1) + 40
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def loader_rate(data_cfg: dict, video: Path, clips: int = 8, seed: int = 0) -> float:
    """Training clips per second of the video loader with ``data_cfg`` on ``video`` (a few
    clips per file: each sample decodes at its own random position)."""
    import numpy as np

    from amge_eval.harness.labels import make_label_set

    from .data.datasets import VideoDataset

    ids = [f"bench/clip{i}" for i in range(clips)]
    labels = make_label_set("bench", "train", ids, ["bench"] * clips, [str(video)] * clips,
                            np.zeros((clips, 20), np.uint8))
    ds = VideoDataset(labels, {**data_cfg, "seed": seed}, train=True, data_root=video.parent)
    ds[0]  # opens the codec once, as a worker's first item does
    t0 = time.perf_counter()
    for i in range(clips):
        ds[i]
    return clips / (time.perf_counter() - t0)


def _parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise AmgeError(f"--video-size expects WIDTHxHEIGHT (e.g. 1280x720), got {text!r}",
                        code="E819") from exc
    if not (16 <= w <= 8192 and 16 <= h <= 8192) or w % 2 or h % 2:
        raise AmgeError(f"--video-size: expected even sides between 16 and 8192, got {text!r}",
                        code="E819")
    return w, h


def bench(names: list[str] | tuple = (), *, device: str = "auto", batch_size: int | None = None,
          steps: int = 3, warmup: int = 1, video_size: str = "320x240", loader_clips: int = 8,
          loader: bool = True, threads: int | None = None, amp: bool | None = None,
          channels_last: bool | None = None, compile: bool | None = None,
          progress: Progress = NULL_PROGRESS) -> list[BenchResult]:
    """Measure each baseline in ``names`` (default: the full-size video baselines).

    ``batch_size`` defaults to the config's on CUDA and 2 on the CPU (a full-size video model
    trains at a few clips per second there); ``amp``, ``channels_last`` and ``compile``
    default to the config's [train] switches.
    """
    import torch

    from .runner import _device, _device_record
    from .training import make_optimizer, multilabel_loss, prepare_input, to_channels_last

    if steps < 1 or warmup < 0 or loader_clips < 1 or (batch_size is not None and batch_size < 1):
        raise AmgeError(f"bench needs steps >= 1, warmup >= 0, loader clips >= 1 and a batch "
                        f"size >= 1; got steps {steps}, warmup {warmup}, loader clips "
                        f"{loader_clips}, batch size {batch_size}", code="E819")
    names = list(names) or default_names()
    specs = [get_baseline(n) for n in names]  # unknown names fail before anything runs
    for spec in specs:
        if spec.family != "video":
            raise AmgeError(f"bench measures video baselines; {spec.name} is a {spec.family} "
                            f"baseline", code="E819")
    width, height = _parse_size(video_size)
    if threads:
        torch.set_num_threads(threads)
    dev = _device(device)
    record = _device_record(dev)
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="amge-bench-") as tmp:
        video = None
        if loader:
            progress.note(f"Encoding a {width}x{height} test video for the loader")
            video = write_test_video(Path(tmp) / f"{width}x{height}.mp4", width, height)
        progress.start("bench", total=len(specs))
        for spec in specs:
            cfg = load_config(spec)
            data = cfg.data
            channels = 6 if data.get("modality") == "rgb+rgb_diff" else 3
            clip = (channels, int(data.get("frames", 16)), int(data.get("crop", 224)),
                    int(data.get("crop", 224)))
            use_amp = (cfg.train.amp if amp is None else amp) and dev.type == "cuda"
            use_cl = cfg.train.channels_last if channels_last is None else channels_last
            use_compile = cfg.train.compile if compile is None else compile
            n = batch_size or (cfg.train.batch_size if dev.type == "cuda" else 2)
            res = BenchResult(spec.name, dev.type, record.name or "", torch.get_num_threads(), 0,
                              n, clip, use_amp, use_cl, use_compile,
                              memory_kind="cuda max allocated" if dev.type == "cuda"
                              else "cpu rss growth")
            try:
                _measure(res, spec, cfg, dev, steps, warmup, torch, make_optimizer,
                         multilabel_loss, prepare_input, to_channels_last)
            except torch.OutOfMemoryError as exc:
                res.error = f"out of memory at batch {n}: {str(exc).splitlines()[0]}"
            finally:
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
            if video is not None:
                res.loader_clips_per_s = round(loader_rate(data, video, loader_clips), 2)
                res.loader_source = f"{width}x{height} h264 30 fps, 5 s"
            results.append(res)
            progress.advance("bench")
        progress.finish("bench")
    return results


def _measure(res: BenchResult, spec, cfg, dev, steps, warmup, torch, make_optimizer,
             multilabel_loss, prepare_input, to_channels_last) -> None:
    base = PeakRSS.current()
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    with PeakRSS() as rss:
        torch.manual_seed(0)
        model = spec.builder(num_muscles=20, **cfg.model).to(dev).train()
        res.params = sum(p.numel() for p in model.parameters())
        if res.channels_last:
            to_channels_last(model)
        step_model = torch.compile(model) if res.compiled else model
        opt = make_optimizer(model, cfg.train)
        dtype = (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16) \
            if res.amp else torch.float16
        scaler = torch.amp.GradScaler("cuda", enabled=res.amp and dtype == torch.float16)
        g = torch.Generator().manual_seed(0)
        x = torch.randn(res.batch_size, *res.clip, generator=g)
        y = (torch.rand(res.batch_size, 20, generator=g) < 0.3).float().to(dev)
        x = prepare_input(x, dev, res.channels_last)
        times = []
        for i in range(warmup + steps):
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            t0 = time.perf_counter()
            with torch.autocast(dev.type, dtype=dtype, enabled=res.amp):
                loss = multilabel_loss(step_model(x), y, cfg.train.loss).mean()
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            if dev.type == "cuda":
                torch.cuda.synchronize(dev)
            if i >= warmup:
                times.append(time.perf_counter() - t0)
        res.step_s = [round(t, 4) for t in times]
        res.train_clips_per_s = round(res.batch_size / statistics.median(times), 3)
    if dev.type == "cuda":
        res.peak_memory_mib = round(torch.cuda.max_memory_allocated(dev) / 2**20, 1)
    else:
        res.peak_memory_mib = round((rss.peak - base) / 2**20, 1)
    del model, opt, x
