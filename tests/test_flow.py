"""Optical flow (baselines/data/flow.py, flow_dataset.py, extract.py): flow of a known motion,
the store format, the loader modality, resuming and the run-baseline path of a flow model."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the flow loader needs torch (pip install -e "
                            "'.[baselines]')")

from amge_eval.baselines.data.extract import VideoJob, extract_flow  # noqa: E402
from amge_eval.baselines.data.flow import (  # noqa: E402
    FLOW_FORMAT,
    FlowClip,
    FlowSettings,
    compute_flow,
    quantise,
    read_flow,
    sample_file,
    write_flow,
)
from amge_eval.baselines.data.flow_dataset import FlowDataset, flow_indices  # noqa: E402
from amge_eval.harness.errors import AmgeError, MissingExtra  # noqa: E402
from amge_eval.harness.labels import make_label_set  # noqa: E402

from .conftest import needs_extra  # noqa: E402

# OpenCV computes the flow (the flow extra); the written videos need PyAV
needs_flow = needs_extra("baselines,flow", "av", "cv2")


def texture(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture (blurred noise), RGB uint8: something flow can lock onto."""
    rng = np.random.default_rng(seed)
    small = rng.random((h // 8 + 2, w // 8 + 2))
    big = np.kron(small, np.ones((8, 8)))[:h, :w]
    k = np.ones(5) / 5
    big = np.apply_along_axis(lambda r: np.convolve(r, k, "same"), 1, big)
    big = np.apply_along_axis(lambda c: np.convolve(c, k, "same"), 0, big)
    g = (big - big.min()) / (np.ptp(big) + 1e-9) * 200 + 25
    return np.repeat(g[..., None], 3, axis=2).astype(np.uint8)


def moving_video(path, dx: int, dy: int, frames: int = 12, size=(256, 192), fps: int = 25):
    """A texture panning ``dx``, ``dy`` pixels per frame."""
    import av

    w, h = size
    big = texture(h + abs(dy) * frames + 8, w + abs(dx) * frames + 8)
    buf = io.BytesIO()
    with av.open(buf, mode="w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.options = {"crf": "12"}
        for t in range(frames):
            # content moves by +dx: the window moves by -dx over the big texture
            x0 = 4 + max(dx, 0) * frames - dx * t
            y0 = 4 + max(dy, 0) * frames - dy * t
            f = np.ascontiguousarray(big[y0:y0 + h, x0:x0 + w])
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path


@needs_flow
@pytest.mark.parametrize("method", ["dis-medium", "dis-fast", "farneback"])
def test_flow_of_a_known_pan(tmp_path, method):
    video = moving_video(tmp_path / "pan.mp4", dx=4, dy=-2)
    s = FlowSettings(method=method, short_side=96, bound=8.0)
    clip = compute_flow(video, s)
    assert clip.size == (128, 96) and clip.source_size == (256, 192)
    assert clip.flow.shape == (11, 96, 128, 2) and clip.flow.dtype == np.int8
    np.testing.assert_allclose(clip.times, np.arange(1, 12) / 25, atol=1e-6)
    inner = clip.as_float(slice(None))[:, 16:-16, 16:-16] * s.bound  # pixels of the stored size
    # 4 and -2 source pixels per frame at half the size: (2, -1)
    assert np.median(inner[..., 0]) == pytest.approx(2.0, abs=0.25)
    assert np.median(inner[..., 1]) == pytest.approx(-1.0, abs=0.25)


@needs_flow
def test_fps_keeps_the_first_frame_of_each_interval(tmp_path):
    video = moving_video(tmp_path / "pan60.mp4", dx=2, dy=0, frames=24, fps=60)
    clip = compute_flow(video, FlowSettings(fps=30, short_side=96))
    assert clip.fps == 30 and len(clip.times) == 11  # 12 kept frames, 11 pairs
    np.testing.assert_allclose(np.diff(clip.times), 2 / 60, atol=1e-6)
    inner = clip.as_float(slice(None))[:, 16:-16, 16:-16] * clip.bound
    assert np.median(inner[..., 0]) == pytest.approx(2 * 2 * 0.5, abs=0.25)  # 2 frames apart


def test_store_round_trip_and_malformed_files(tmp_path):
    rng = np.random.default_rng(0)
    f = rng.normal(0, 5, (3, 8, 10, 2))
    q = quantise(f, 10.0)
    assert q.dtype == np.int8 and np.abs(q.astype(np.float32) * 10 / 127 - np.clip(f, -10, 10)).max() <= 10 / 254 + 1e-6
    clip = FlowClip(q, np.array([0.04, 0.08, 0.12]), 10.0, 25.0, (10, 8), (20, 16),
                    {"method": "dis-medium"})
    path = write_flow(tmp_path / "a.npz", clip)
    back = read_flow(path)
    np.testing.assert_array_equal(back.flow, q)
    assert back.size == (10, 8) and back.source_size == (20, 16) and back.fps == 25.0
    assert back.duration == pytest.approx(0.16)
    with np.load(path) as z:
        assert str(z["format"]) == FLOW_FORMAT
        arrays = {k: z[k] for k in z.files}
    for key, bad in (("flow", q.astype(np.int16)), ("times", np.zeros(2)),
                     ("format", np.array("x")), ("size", np.array([3, 3]))):
        buf = io.BytesIO()
        np.savez(buf, **{**arrays, key: bad})
        (tmp_path / "bad.npz").write_bytes(buf.getvalue())
        with pytest.raises(AmgeError) as err:
            read_flow(tmp_path / "bad.npz")
        assert err.value.code == "E713" and "bad.npz" in err.value.message
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(AmgeError, match="not a readable npz"):
        read_flow(tmp_path / "junk.npz")


def test_the_documented_flow_store_lists_exactly_the_keys_written(tmp_path):
    import re
    from pathlib import Path

    doc = (Path(__file__).parents[1] / "docs" / "raw-video.md").read_text()
    section = doc[doc.index("### Flow store"):doc.index("### The loader modality")]
    documented = re.findall(r"^\| `(\w+)` \|", section, flags=re.M)
    clip = FlowClip(np.zeros((1, 4, 6, 2), np.int8), np.array([0.04]), 10.0, 25.0, (6, 4),
                    (12, 8), {"method": "dis-medium"})
    with np.load(write_flow(tmp_path / "a.npz", clip)) as z:
        assert documented == list(z.files)

def test_sample_files_never_leave_the_folder(tmp_path):
    assert sample_file(tmp_path, "squat/a", ".npz") == tmp_path / "squat" / "a.npz"
    for sid in ("../x", "/abs", "a/../../b", "c:/x", "a\\b"):
        p = sample_file(tmp_path, sid, ".npz")
        assert p.parent == tmp_path / "_ids"


def test_flow_indices_take_the_nearest_stored_flow():
    times = np.array([0.04, 0.08, 0.12, 0.16])
    targets = np.array([0.0, 0.05, 0.061, 0.099, 0.3])
    brute = [int(np.argmin(np.abs(times - t))) for t in targets]
    assert flow_indices(times, targets, 0.2, "last").tolist() == brute
    assert flow_indices(times, targets, 0.2, "zero").tolist() == brute[:-1] + [-1]
    assert flow_indices(times, np.array([0.25]), 0.2, "loop").tolist() == [0]


def _flow_labels(ids):
    return make_label_set("mine", "train", ids, ["a"] * len(ids), [""] * len(ids),
                          np.eye(20, dtype=np.uint8)[: len(ids)])


def test_the_loader_gives_flow_clips_and_flips_them(tmp_path):
    root = tmp_path / "flow"
    t = 30
    f = np.zeros((t, 48, 64, 2), np.int8)
    f[..., 0] = 100  # dx > 0 everywhere
    f[:, :, :32, 1] = 50  # dy > 0 on the left half only
    write_flow(root / "a" / "x.npz", FlowClip(f, np.arange(1, t + 1) / 30, 10.0, 30.0, (64, 48),
                                               (128, 96), {}))
    labels = _flow_labels(["a/x"])
    s = {"frames": 8, "stride": 2, "crop": 32, "test_short_side": 32, "train_short_side": [32, 40],
         "train_crop": "jitter", "temporal_views": 1}
    test = FlowDataset(labels, s, flow_root=root)
    x, y, i = test[0]
    assert x.shape == (2, 8, 32, 32) and x.dtype == torch.float32
    assert torch.allclose(x[0], torch.full_like(x[0], 100 / 127))
    flipped = [FlowDataset(labels, {**s, "seed": k}, train=True, flow_root=root)[0][0]
               for k in range(12)]
    signs = {float(v[0].mean().sign()) for v in flipped}
    assert signs == {1.0, -1.0}  # some views flipped (dx negated), some not
    for v in flipped:  # the dy > 0 half moves with the flip
        left, right = v[1, :, :, :4].mean(), v[1, :, :, -4:].mean()
        assert (left > right) == bool(v[0].mean() > 0)
    assert test.output_shape == (2, 8, 32, 32)
    with pytest.raises(AmgeError) as err:
        FlowDataset(_flow_labels(["a/x", "a/missing"]), s, flow_root=root)
    assert err.value.code == "E712" and "amge-eval data flow" in err.value.message
    skipping = FlowDataset(_flow_labels(["a/x", "a/missing"]), s, flow_root=root, skip_bad=True)
    assert len(skipping) == 1 and skipping.skipped[0].sample_id == "a/missing"


@needs_flow
def test_extraction_resumes_and_refuses_other_settings(tmp_path):
    jobs = [VideoJob(f"pan/{k}", moving_video(tmp_path / f"v{k}.mp4", dx=k + 1, dy=0, frames=6))
            for k in range(2)]
    out = tmp_path / "flow"
    first = extract_flow(jobs, out, settings=FlowSettings(short_side=64))
    assert first.done == 2 and first.reused == 0 and first.frames == 10 and first.bytes > 0
    again = extract_flow(jobs, out, settings=FlowSettings(short_side=64))
    assert again.reused == 2 and again.frames_new == 0
    with pytest.raises(AmgeError) as err:
        extract_flow(jobs, out, settings=FlowSettings(short_side=80))
    assert err.value.code == "E716"
    redo = extract_flow(jobs, out, settings=FlowSettings(short_side=80), replace=True)
    assert redo.reused == 0 and read_flow(out / "pan" / "0.npz").size[1] == 80


def test_without_opencv_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(MissingExtra) as err:
        compute_flow("whatever.mp4")
    assert err.value.code == "E830" and "amge-eval[flow]" in err.value.message
