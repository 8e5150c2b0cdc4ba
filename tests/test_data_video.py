"""Video loading: timestamp sampling on real encoded files (h264, h265, vp9, mpeg4; mp4, mov,
mkv, webm, avi; portrait, phone rotation tags, 1080p and 4K; 10, 24, 25, 29.97, 30, 50 and 60 fps
and variable frame rate; audio tracks; short and long clips; corrupt files), transforms against
torchvision and numpy, media path resolution, and determinism across DataLoader workers.

Every test video is written here with PyAV. Frame k shows k in binary as eight black/white
blocks, so a decoded frame says which source frame it is, whatever the codec's losses.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

av = pytest.importorskip("av")
tvf = pytest.importorskip("torchvision.transforms.v2.functional")

from amge_eval.baselines.data.datasets import (  # noqa: E402
    VideoDataset,
    collate,
    make_loader,
    media_candidates,
    resolve_media,
)
from amge_eval.baselines.data.transforms import (  # noqa: E402
    crop,
    eval_views,
    mctkd_pairing,
    random_resized_crop_box,
    resize,
    rgb_diff,
    short_side_size,
    to_float,
    train_view,
    uniform_crop_offsets,
)
from amge_eval.baselines.data.video import (  # noqa: E402
    VideoError,
    VideoSettings,
    decode_at,
    decode_clips,
    probe_video,
)
from amge_eval.harness.errors import AmgeError, MissingData  # noqa: E402
from amge_eval.harness.labels import make_label_set  # noqa: E402
from amge_eval.harness.official import REFERENCE_REWRITE, parse_rewrite  # noqa: E402

torch.set_num_threads(1)


def frame_image(k: int, w: int, h: int) -> np.ndarray:
    img = np.zeros((h, w, 3), np.uint8)
    bw, bh = w // 4, h // 2
    for b in range(8):
        if (k >> b) & 1:
            r, c = divmod(b, 4)
            img[r * bh:(r + 1) * bh, c * bw:(c + 1) * bw] = 255
    return img


def frame_number(img: np.ndarray) -> int:
    h, w = img.shape[:2]
    bw, bh = w // 4, h // 2
    k = 0
    for b in range(8):
        r, c = divmod(b, 4)
        y, x = r * bh + bh // 2, c * bw + bw // 2
        k |= int(img[y - 1:y + 2, x - 1:x + 2].mean() > 128) << b
    return k


def encode(path, codec: str, times, size=(64, 48), audio=False, gop=None):
    """A video whose frame k is shown from ``times[k]`` seconds (millisecond timestamps)."""
    w, h = size
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        if gop:
            s.codec_context.gop_size = gop
        a = c.add_stream("aac", rate=16000) if audio else None
        for k, t in enumerate(times):
            f = av.VideoFrame.from_ndarray(frame_image(k, w, h), format="rgb24")
            f.pts, f.time_base = int(round(t * 1000)), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        if a is not None:
            n = int((times[-1] + 0.5) * 16000)
            af = av.AudioFrame.from_ndarray((np.sin(np.arange(n) / 9) * 0.1).astype(np.float32)[None],
                                            format="fltp", layout="mono")
            af.sample_rate, af.pts = 16000, 0
            for p in a.encode(af):
                c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def uniform(n, fps):
    return list(np.arange(n) / fps)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("media")
    vfr = np.cumsum(np.random.default_rng(0).uniform(0.01, 0.09, 50))
    files = {
        "h264": encode(d / "h264.mp4", "libx264", uniform(60, 30)),
        "vp9": encode(d / "vp9.webm", "libvpx-vp9", uniform(60, 30)),
        "mpeg4": encode(d / "mpeg4.avi", "mpeg4", uniform(60, 30)),
        "portrait": encode(d / "portrait.mp4", "libx264", uniform(45, 30), size=(48, 80)),
        "fps10": encode(d / "fps10.mp4", "libx264", uniform(25, 10)),
        "fps60": encode(d / "fps60.mp4", "libx264", uniform(150, 60)),
        "vfr": encode(d / "vfr.mp4", "libx264", list(vfr - vfr[0])),
        "audio": encode(d / "audio.mp4", "libx264", uniform(60, 30), audio=True),
        "audio_webm": None,
        "short": encode(d / "short.mp4", "libx264", uniform(15, 30)),
        "long": encode(d / "long.mp4", "libx264", uniform(900, 30), size=(32, 32), gop=30),
    }
    with av.open(str(d / "audio.webm"), "w") as c:  # vp9 + opus, audio longer than video
        s = c.add_stream("libvpx-vp9", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("libopus", rate=48000)
        for k in range(30):
            f = av.VideoFrame.from_ndarray(frame_image(k, 64, 48), format="rgb24")
            f.pts = k
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        af = av.AudioFrame.from_ndarray(np.zeros((1, 48000 * 3), np.float32), format="fltp",
                                        layout="mono")
        af.sample_rate, af.pts = 48000, 0
        for p in a.encode(af):
            c.mux(p)
        for p in a.encode():
            c.mux(p)
    files["audio_webm"] = d / "audio.webm"
    good = (d / "h264.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(good[: len(good) // 2])  # mp4 index at the end: unreadable
    (d / "garbage.mp4").write_bytes(b"\x00\x01not a video" * 50)
    (d / "empty.mp4").write_bytes(b"")
    files.update(truncated=d / "truncated.mp4", garbage=d / "garbage.mp4", empty=d / "empty.mp4")
    return files


def all_times(path) -> np.ndarray:
    """Independent reference: every frame's timestamp, from a plain full decode."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        start = float(s.start_time * s.time_base) if s.start_time is not None else 0.0
        return np.array([f.time - start for f in c.decode(s)])


def nearest(ref: np.ndarray, t: float) -> int:
    d = np.abs(ref - t)
    return int(np.flatnonzero(d == d.min())[0])  # earlier frame on ties


@pytest.mark.parametrize("name", ["h264", "vp9", "mpeg4", "portrait", "fps10", "fps60", "vfr",
                                  "audio", "audio_webm", "long"])
def test_each_time_gets_the_nearest_frame(media, name):
    ref = all_times(media[name])
    rng = np.random.default_rng(1)
    times = np.concatenate([rng.uniform(0, ref[-1], 12), ref[[0, -1]], ref[3:6] + 1e-4])
    clip = decode_at(media[name], times)
    want = np.array([nearest(ref, t) for t in times])
    np.testing.assert_allclose(clip.times, ref[want], atol=1e-9)
    assert [frame_number(f) for f in clip.frames] == (want % 256).tolist()
    h, w = (80, 48) if name == "portrait" else (32, 32) if name == "long" else (48, 64)
    assert clip.frames.shape == (len(times), h, w, 3) and clip.frames.dtype == np.uint8


@pytest.mark.parametrize("name,fps", [("fps10", 10), ("fps60", 60), ("h264", 30), ("vfr", None)])
def test_clip_sampled_at_target_fps_by_timestamp(media, name, fps):
    s = VideoSettings(frames=8, stride=2, fps=30.0)
    ref = all_times(media[name])
    (clip,) = decode_clips(media[name], [0.0], s)
    want_t = np.arange(8) * 2 / 30  # the first of any number of views starts at 0
    want = [nearest(ref, t) for t in want_t]
    assert [frame_number(f) for f in clip.frames] == want
    if fps:  # constant rate: the frames expected by counting, e.g. every 2nd at 30, every 4th at 60
        assert want == [int(round(t * fps)) for t in want_t]


def test_long_video_decodes_only_what_it_needs(media):
    s = VideoSettings()  # 16 frames, stride 4 at 30 fps
    ref = all_times(media["long"])
    clips = decode_clips(media["long"], [0.5], s)
    start = 0.5 * (30.0 - s.span)
    want = [nearest(ref, t) for t in start + np.arange(16) * 4 / 30]
    assert [frame_number(f) for f in clips[0].frames] == [k % 256 for k in want]
    assert clips[0].decoded < 120  # a seek and a short lead-in, not 900 frames
    # five positions decode in one pass, seeking between them
    five = decode_clips(media["long"], [k / 4 for k in range(5)], s)
    assert five[0].decoded < 5 * 100
    assert [c.times[0] for c in five] == pytest.approx([ref[nearest(ref, k / 4 * (30 - s.span))]
                                                        for k in range(5)])


@pytest.mark.parametrize("policy", ["last", "loop", "zero"])
def test_clips_longer_than_the_video(media, policy):
    # 12 times 0.08 s apart (0.96 s) from a 0.5 s video (15 frames at 30 fps); no time lies on a
    # frame midpoint or on the loop boundary, so the expected frames are unambiguous
    s = VideoSettings(frames=12, stride=2, fps=25.0, short_clip=policy)
    ref = all_times(media["short"])
    (clip,) = decode_clips(media["short"], [0.7], s)  # starts at 0 whatever the position
    got = [frame_number(f) for f in clip.frames]
    times = np.arange(12) * 0.08
    inside = times < 0.5
    assert got[:7] == [nearest(ref, t) for t in times[inside]] == [0, 2, 5, 7, 10, 12, 14]
    if policy == "last":
        assert got[7:] == [14] * 5
    elif policy == "loop":
        assert got[7:] == [nearest(ref, t % 0.5) for t in times[~inside]] == [2, 4, 7, 9, 11]
    else:
        assert not clip.frames[7:].any() and np.isnan(clip.times[7:]).all()


def test_reference_test_position_is_the_first_of_five(media):
    s = VideoSettings()
    assert s.test_positions() == [0.0]
    assert VideoSettings(view_indices=None).test_positions() == [0, 0.25, 0.5, 0.75, 1.0]
    assert VideoSettings(temporal_views=1, view_indices=None).test_positions() == [0.5]
    (clip,) = decode_clips(media["fps60"], s.test_positions(), s)
    assert frame_number(clip.frames[0]) == 0


def test_truncated_duration_is_replaced_by_the_true_end(media, tmp_path):
    data = media["vp9"].read_bytes()
    p = tmp_path / "cut.webm"
    p.write_bytes(data[: len(data) // 2])  # the header still says 2 s
    ref = all_times(p)
    s = VideoSettings(frames=4, stride=3, fps=30.0)
    (clip,) = decode_clips(p, [1.0], s)  # the last start the real frames allow
    want_start = ref[-1] + (ref[-1] - ref[-2]) - s.span
    want = [nearest(ref, want_start + j * 0.1) for j in range(4)]
    assert [frame_number(f) for f in clip.frames] == want


@pytest.mark.parametrize("name,match", [("truncated", "Invalid data"), ("garbage", "Invalid data"),
                                        ("empty", "Invalid data")])
def test_corrupt_files_raise_naming_the_file(media, name, match):
    with pytest.raises(VideoError, match=match) as ei:
        decode_at(media[name], [0.0])
    assert str(media[name]) in str(ei.value) and ei.value.code == "E710"
    with pytest.raises(VideoError):
        probe_video(media[name])


def test_probe(media):
    info = probe_video(media["portrait"])
    assert (info.width, info.height) == (48, 80) and info.frames == 45
    assert info.duration == pytest.approx(1.5, abs=0.05)


# --------------------------------------------------------------------------- files as users have them

# (file, encoder, frame times, pixel size (w, h), display rotation, audio encoder)
WORLD = {
    "hevc": ("hevc.mp4", "libx265", uniform(60, 30), (64, 48), 0, None),
    "hevc_mov_audio": ("iphone.mov", "libx265", list(np.arange(40) * 1001 / 30000), (64, 48), 0,
                       "aac"),  # 29.97 fps with sound, as a phone writes it
    "fps24": ("film.mp4", "libx264", uniform(40, 24), (64, 48), 0, None),
    "fps25": ("pal.mkv", "libx264", uniform(40, 25), (64, 48), 0, "libopus"),
    "fps50": ("fps50.mp4", "libx264", uniform(80, 50), (64, 48), 0, None),
    "mpeg4_1080p": ("1080p.avi", "mpeg4", uniform(10, 30), (1920, 1080), 0, None),
    "h264_1080p_portrait": ("portrait1080.mp4", "libx264", uniform(10, 30), (1080, 1920), 0, None),
    "hevc_1080p": ("hevc1080.mp4", "libx265", uniform(8, 30), (1920, 1080), 0, None),
    "vp9_1080p": ("vp91080.webm", "libvpx-vp9", uniform(6, 30), (1920, 1080), 0, None),
    "h264_4k": ("uhd.mp4", "libx264", uniform(4, 30), (3840, 2160), 0, None),
    # a phone's portrait video: landscape pixels and a display matrix turning them upright
    "phone_rotated": ("phone.mp4", "libx264", uniform(30, 30), (96, 64), 90, "aac"),
    "phone_rotated_270": ("phone270.mp4", "libx265", uniform(30, 30), (96, 64), -90, None),
}


def encode_world(path, codec, times, size, rotation=0, audio=None):
    w, h = size
    with av.open(str(path), "w") as c:
        s = c.add_stream(codec, rate=30)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.time_base = s.codec_context.time_base = Fraction(1, 30000)
        if codec in ("libx264", "libx265"):
            s.options = {"preset": "ultrafast", **({"x265-params": "log-level=error"}
                                                   if codec == "libx265" else {})}
        elif codec == "libvpx-vp9":
            s.options = {"deadline": "realtime", "cpu-used": "8"}
        if rotation:
            s.set_display_rotation(rotation)
        a = c.add_stream(audio, rate=48000) if audio else None
        for k, t in enumerate(times):
            f = av.VideoFrame.from_ndarray(frame_image(k, w, h), format="rgb24")
            f.pts, f.time_base = int(round(t * 30000)), Fraction(1, 30000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
        if a is not None:
            af = av.AudioFrame.from_ndarray(np.zeros((1, 48000), np.float32), format="fltp",
                                            layout="mono")
            af.sample_rate, af.pts = 48000, 0
            for p in a.encode(af):
                c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The kinds of files users have; a kind whose encoder this FFmpeg build lacks is None."""
    d = tmp_path_factory.mktemp("world")
    out = {}
    for name, (file, codec, times, size, rotation, audio) in WORLD.items():
        missing = [c for c in (codec, audio) if c and c not in av.codecs_available]
        out[name] = missing or encode_world(d / file, codec, times, size, rotation, audio)
    return out


def _world(world, name):
    if isinstance(world[name], list):
        pytest.skip(f"the local FFmpeg build has no {' or '.join(world[name])} encoder")
    return world[name]


@pytest.mark.parametrize("name", list(WORLD))
def test_files_as_users_have_them_get_the_nearest_frame(world, name):
    path = _world(world, name)
    _, _, times, (w, h), rotation, _ = WORLD[name]
    ref = all_times(path)
    np.testing.assert_allclose(ref, np.array(times), atol=6e-4)  # webm, mkv: millisecond clocks
    rng = np.random.default_rng(2)
    ask = np.concatenate([rng.uniform(0, ref[-1], 6), ref[[0, -1]]])
    clip = decode_at(path, ask)
    want = [nearest(ref, t) for t in ask]
    turns = {90: 1, -90: 3}.get(rotation, 0)
    shown = (w, h) if turns % 2 == 0 else (h, w)
    assert clip.frames.shape == (len(ask), shown[1], shown[0], 3)
    # turning the frames back gives the encoded pixels, whose blocks say the frame number
    assert [frame_number(np.rot90(f, -turns)) for f in clip.frames] == want
    info = probe_video(path)
    assert (info.width, info.height) == shown


@pytest.mark.parametrize("name", ["h264_4k", "h264_1080p_portrait", "phone_rotated"])
def test_large_and_rotated_files_through_the_dataset(world, name, tmp_path):
    path = _world(world, name)
    labels = make_label_set("toy", "train", ["a/x"], ["a"], [str(path)],
                            np.zeros((1, 20), np.uint8))
    s = {"frames": 4, "stride": 2, "crop": 32, "test_short_side": 40,
         "train_short_side": [32, 40]}
    for train in (False, True):
        x, _, _ = VideoDataset(labels, s, data_root=tmp_path, train=train)[0]
        assert x.shape == (3, 4, 32, 32) and torch.isfinite(x).all()
    (test,) = decode_clips(path, [0.0], VideoSettings(frames=2, stride=1))
    w, h = WORLD[name][3]
    if WORLD[name][4]:  # upright: the short side of the encoded pixels is now the width
        assert test.frames.shape[1:3] == (w, h)


# --------------------------------------------------------------------------- transforms


@settings(max_examples=40, deadline=None)
@given(h=st.integers(8, 300), w=st.integers(8, 300), size=st.integers(8, 260))
def test_short_side_resize_matches_torchvision(h, w, size):
    x = torch.rand(2, 3, h, w, generator=torch.Generator().manual_seed(h * 1000 + w))
    nh, nw = short_side_size(h, w, size)
    ours = resize(x, (nh, nw))
    theirs = tvf.resize(x, [size], antialias=False)
    assert ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    if nh < h and nw < w:
        torch.testing.assert_close(resize(x, (nh, nw), antialias=True),
                                   tvf.resize(x, [size], antialias=True), atol=1e-5, rtol=0)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(16, 200), w=st.integers(16, 200), size=st.integers(1, 16))
def test_centre_crop_matches_torchvision(h, w, size):
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h + 7 * w))
    top, left = uniform_crop_offsets(h, w, size)
    ours = crop(x, top, left, size, size)
    assert ours.shape[-2:] == (size, size)
    # PySlowFast rounds the centre offset up, torchvision to the nearest even; equal when exact
    if (h - size) % 2 == 0 and (w - size) % 2 == 0:
        torch.testing.assert_close(ours, tvf.center_crop(x, [size, size]))
    tv_top, tv_left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    assert 0 <= top - tv_top <= 1 and 0 <= left - tv_left <= 1


def test_three_crops_along_the_long_side():
    assert [uniform_crop_offsets(256, 455, 224, k, 3) for k in range(3)] == [(16, 0), (16, 116), (16, 231)]
    assert [uniform_crop_offsets(455, 256, 224, k, 3) for k in range(3)] == [(0, 16), (116, 16), (231, 16)]


@settings(max_examples=60, deadline=None)
@given(h=st.integers(4, 400), w=st.integers(4, 400), seed=st.integers(0, 10_000),
       lo=st.floats(0.01, 1.0), r=st.floats(0.3, 3.0))
def test_random_resized_crop_box_properties(h, w, seed, lo, r):
    ratio = (min(r, 1 / r), max(r, 1 / r))
    top, left, bh, bw = random_resized_crop_box(h, w, (lo, 1.0), ratio, np.random.default_rng(seed))
    assert 0 <= top and top + bh <= h and 0 <= left and left + bw <= w and bh >= 1 and bw >= 1


def test_random_resized_crop_resize_matches_torchvision():
    x = torch.rand(3, 3, 90, 160, generator=torch.Generator().manual_seed(0))
    rng = np.random.default_rng(0)
    for _ in range(5):
        top, left, h, w = random_resized_crop_box(90, 160, (0.08, 1.0), (0.75, 1.3333), rng)
        area = h * w / (90 * 160)
        assert 0.07 <= area <= 1.0
        ours = resize(crop(x, top, left, h, w), (56, 56))
        torch.testing.assert_close(ours, tvf.resized_crop(x, top, left, h, w, [56, 56],
                                                          antialias=False), atol=1e-5, rtol=0)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(2, 240), w=st.integers(2, 240), seed=st.integers(0, 1000),
       mode=st.sampled_from(["resized", "jitter"]), views=st.sampled_from([1, 3]))
def test_crops_keep_the_requested_size_for_any_aspect(h, w, seed, mode, views):
    frames = np.random.default_rng(seed).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    s = VideoSettings(crop=32, test_short_side=40, train_short_side=(32, 48), train_crop=mode,
                      spatial_views=views)
    x = train_view(frames, s, np.random.default_rng(seed))
    assert x.shape == (2, 3, 32, 32)
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    vs = eval_views(frames, s)
    assert len(vs) == views and all(v.shape == (2, 3, 32, 32) for v in vs)


def test_rgb_diff_against_numpy():
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (3, 6, 5, 7)).astype(np.float32)
    want = np.zeros_like(x)
    for t in range(1, 6):
        want[:, t] = np.abs(x[:, t] - x[:, t - 1])
    np.testing.assert_allclose(rgb_diff(torch.from_numpy(x)).numpy(), want, atol=1e-7)


def test_to_float_against_numpy():
    f = np.random.default_rng(0).integers(0, 256, (2, 5, 7, 3), dtype=np.uint8)
    np.testing.assert_allclose(to_float(f).numpy(), f.transpose(0, 3, 1, 2) / 255.0, atol=1e-7)


def test_mctkd_pairing():
    x = torch.rand(2, 2, 6, 4, 8, 8)
    y = mctkd_pairing(x)
    assert torch.equal(y[:, :, :3], x[:, :, :3])
    assert torch.equal(y[:, 0, 3:], x[:, 1, 3:]) and not y[:, 1, 3:].any()
    with pytest.raises(ValueError, match="Expected"):
        mctkd_pairing(x[:, :1])


# --------------------------------------------------------------------------- media paths


def test_resolve_media_layouts(tmp_path):
    root = tmp_path / "data"
    (root / "mm" / "push_ups").mkdir(parents=True)
    (root / "mm" / "push_ups" / "c1.mp4").write_bytes(b"x")
    assert resolve_media("push_ups/c1.mp4", root, "mm") == root / "mm" / "push_ups" / "c1.mp4"
    assert resolve_media("push_ups\\c1.mp4", root, "mm") == root / "mm" / "push_ups" / "c1.mp4"
    vr = tmp_path / "videos"
    (vr / "squats").mkdir(parents=True)
    (vr / "squats" / "c2.mp4").write_bytes(b"x")
    official = "/home/author/data/musclemap_trimmed/squats/c2.mp4"
    assert resolve_media(official, root, "mm", video_root=vr) == vr / "squats" / "c2.mp4"
    rescaled = tmp_path / "musclemap_rescale" / "squats"
    rescaled.mkdir(parents=True)
    (rescaled / "c3.mp4").write_bytes(b"x")
    trimmed = str(tmp_path / "musclemap_trimmed" / "squats" / "c3.mp4")
    assert resolve_media(trimmed, root, "mm", rewrite=REFERENCE_REWRITE) == rescaled / "c3.mp4"
    assert parse_rewrite(["reference"]) == REFERENCE_REWRITE
    assert parse_rewrite(["a=b"]) == {"a": "b"}
    with pytest.raises(AmgeError, match="OLD=NEW"):
        parse_rewrite(["a/b=c"])
    assert media_candidates("x/y.mp4", root, "mm", vr) == [root / "mm/x/y.mp4", vr / "x/y.mp4"]


def test_missing_media_names_sample_path_and_fix(tmp_path):
    with pytest.raises(MissingData) as ei:
        resolve_media("/home/author/musclemap_trimmed/lunges/c9.mp4", tmp_path, "mm",
                      sample_id="lunges/c9")
    msg = str(ei.value)
    assert ei.value.code == "E711" and "sample 'lunges/c9'" in msg
    assert "/home/author/musclemap_trimmed/lunges/c9.mp4" in msg and "--video-root" in msg
    assert "absolute paths" in msg
    with pytest.raises(MissingData, match="media path in the label store is empty"):
        resolve_media("", tmp_path, "mm", sample_id="a/b")


# --------------------------------------------------------------------------- datasets


def _dataset_dir(tmp_path, media, names):
    root = tmp_path / "data"
    ids, paths = [], []
    for i, name in enumerate(names):
        src = media[name]
        rel = f"act{i % 2}/{name}_{i}{src.suffix}"
        (root / "toy" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "toy" / rel).write_bytes(src.read_bytes())
        ids.append(f"act{i % 2}/{name}_{i}")
        paths.append(rel)
    labels = make_label_set("toy", "test_seen", ids, [i.split("/")[0] for i in ids], paths,
                            (np.arange(len(ids))[:, None] + np.arange(20)) % 2)
    return labels, root


SMALL = dict(crop=32, test_short_side=40, train_short_side=(32, 40), frames=6, stride=3)


def test_dataset_outputs_and_settings(media, tmp_path):
    labels, root = _dataset_dir(tmp_path, media, ["h264", "portrait", "vp9", "audio"])
    ds = VideoDataset(labels, SMALL, data_root=root)
    x, y, i = ds[1]
    assert x.shape == (3, 6, 32, 32) and x.dtype == torch.float32 and i == 1
    assert torch.equal(y, torch.from_numpy(labels.labels[1].astype(np.float32)))
    rec = ds.settings()
    json.dumps(rec)
    assert rec["output_shape"] == [3, 6, 32, 32] and rec["frames"] == 6 and rec["mode"] == "test"
    multi = VideoDataset(labels, {**SMALL, "view_indices": [0, 2, 4], "spatial_views": 3},
                         data_root=root)
    x, _, _ = multi[0]
    assert x.shape == (9, 3, 6, 32, 32) and multi.views == 9
    # temporal-major: views 0-2 are the left/centre/right crops of one clip (64x48 -> 53x40,
    # crops at x = 0, 11, 21), view 3 starts the next clip
    assert torch.equal(x[0][..., 11:32], x[1][..., 0:21])
    assert torch.equal(x[1][..., 10:32], x[2][..., 0:22])
    assert not torch.equal(x[0], x[3])
    train = VideoDataset(labels, {**SMALL, "train_views": 2, "modality": "rgb+rgb_diff"},
                         data_root=root, train=True)
    x, _, _ = train[2]
    assert x.shape == (2, 6, 6, 32, 32)
    diff = VideoDataset(labels, {**SMALL, "modality": "rgb_diff"}, data_root=root)
    assert diff[0][0].shape == (3, 6, 32, 32)


def test_rgb_diff_channels_come_from_the_returned_frames(media, tmp_path):
    labels, root = _dataset_dir(tmp_path, media, ["h264"])
    both = VideoDataset(labels, {**SMALL, "modality": "rgb+rgb_diff"}, data_root=root)[0][0]
    rgb = both[:3].numpy()
    want = np.zeros_like(rgb)
    want[:, 1:] = np.abs(rgb[:, 1:] - rgb[:, :-1])
    np.testing.assert_allclose(both[3:].numpy(), want, atol=1e-6)
    assert both[3:].abs().sum() > 0  # the test video changes every frame


def test_mean_std_normalisation(media, tmp_path):
    labels, root = _dataset_dir(tmp_path, media, ["h264"])
    plain = VideoDataset(labels, SMALL, data_root=root)[0][0]
    norm = VideoDataset(labels, {**SMALL, "mean": [0.45] * 3, "std": [0.225] * 3},
                        data_root=root)[0][0]
    torch.testing.assert_close(norm, (plain - 0.45) / 0.225)


def test_workers_and_epochs(media, tmp_path):
    labels, root = _dataset_dir(tmp_path, media, ["h264", "vp9", "vfr", "portrait"])
    ds = VideoDataset(labels, {**SMALL, "train_crop": "jitter"}, data_root=root, train=True)
    a = list(make_loader(ds, 2, shuffle=True, num_workers=0, epoch=3, seed=1))
    b = list(make_loader(ds, 2, shuffle=True, num_workers=2, epoch=3, seed=1))
    for p, q in zip(a, b):
        assert torch.equal(p.index, q.index) and torch.equal(p.x, q.x)
    c = list(make_loader(ds, 2, shuffle=True, num_workers=0, epoch=4, seed=1))
    assert not all(torch.equal(p.x, q.x) for p, q in zip(a, c))


def test_missing_and_corrupt_files(media, tmp_path):
    labels, root = _dataset_dir(tmp_path, media, ["h264", "truncated", "garbage", "vp9"])
    (root / "toy" / labels.media[3]).unlink()
    with pytest.raises(MissingData, match=r"1 of 4 samples of toy/test_seen have no video; "
                                          r"first: 'act1/vp9_3'.*--skip-bad") as ei:
        VideoDataset(labels, SMALL, data_root=root)
    assert ei.value.code == "E711"
    (root / "toy" / labels.media[3]).write_bytes(media["vp9"].read_bytes())
    ds = VideoDataset(labels, SMALL, data_root=root)
    with pytest.raises(VideoError, match="truncated_1.mp4") as ei:
        ds[1]
    assert ei.value.code == "E710"
    (root / "toy" / labels.media[3]).unlink()
    safe = VideoDataset(labels, SMALL, data_root=root, skip_bad=True)
    assert safe.sample_ids == ["act0/h264_0"]
    assert [s.sample_id for s in safe.skipped] == ["act1/vp9_3", "act1/truncated_1", "act0/garbage_2"]
    assert "Invalid data" in safe.skipped[1].reason and safe.settings()["skipped"] == 3
    # a file that breaks after the dataset was built is dropped from its batch and reported
    (root / "toy" / labels.media[0]).write_bytes(b"broken")
    batch = collate([safe[0]])
    assert batch.x.shape[0] == 0 and batch.skipped[0].sample_id == "act0/h264_0"


@pytest.mark.parametrize("bad,match", [
    ({"stirde": 2}, "\\[data\\]: unknown key 'stirde'. Did you mean 'stride'"),
    ({"crop": [224]}, "\\[data\\].crop: expected int, got \\[224\\]"),
    ({"view_indices": [5]}, "view_indices must be"),
    ({"spatial_views": 2}, "spatial_views must be 1 or 3"),
    ({"test_short_side": 200}, "test_short_side \\(200\\) must be at least crop \\(224\\)"),
    ({"modality": "flow"}, "modality must be one of rgb, rgb_diff, rgb\\+rgb_diff"),
    ({"mean": [0.45] * 3}, "mean and std must be given together"),
    ({"short_clip": "pad"}, "short_clip must be one of last, loop, zero"),
])
def test_invalid_settings(media, tmp_path, bad, match):
    labels, root = _dataset_dir(tmp_path, media, ["h264"])
    with pytest.raises(AmgeError, match=match) as ei:
        VideoDataset(labels, bad, data_root=root)
    assert ei.value.code == "E730"


def test_check_media(media, tmp_path):
    from amge_eval.baselines.data.datasets import check_media
    from amge_eval.harness.labels import write_labels

    labels, root = _dataset_dir(tmp_path, media, ["h264", "garbage", "vp9"])
    write_labels(tmp_path / "labels", labels)
    (root / "toy" / labels.media[2]).unlink()
    ok, problems = check_media("toy", "test_seen", labels_dir=tmp_path / "labels", data_root=root)
    assert ok == 1
    assert [(p.sample_id, p.reason.split(":")[0]) for p in problems] == [
        ("act0/vp9_2", "missing"), ("act1/garbage_1", "Cannot decode video " + str(
            root / "toy" / labels.media[1]))]


def test_every_video_setting_and_error_code_is_documented():
    import re
    from dataclasses import fields
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "data.md").read_text()
    section = text.split("## Video clips", 1)[1].split("## Media paths", 1)[0]
    assert set(re.findall(r"^\| `(\w+)` \|", section, flags=re.M)) == {
        f.name for f in fields(VideoSettings)}
    sources = [*sorted((root / "baselines" / "data").glob("*.py")), root / "harness" / "alphapose.py"]
    raised = set()
    for p in sources:
        raised |= set(re.findall(r'code(?:: str)?\s*=\s*"(E\d{3})"', p.read_text()))
    table = set(re.findall(r"^\| (E\d{3}) \|", text.split("## Error codes", 1)[1], flags=re.M))
    assert table <= raised  # no stale rows
    # skeleton and flow extraction from raw video (pose.py, flow.py, extract.py) list theirs in
    # docs/raw-video.md, with the other codes of that workflow
    raw = (root / "docs" / "raw-video.md").read_text().split("## Error codes", 1)[1]
    assert raised <= table | set(re.findall(r"\b(E\d{3})\b", raw))


def test_raw_stream_without_timestamps_or_duration(tmp_path):
    """A raw .h264 stream states no duration and its frames carry no timestamps: times come from
    a frame counter at the stream's guessed rate, decoding from the start."""
    path = tmp_path / "raw.h264"
    with av.open(str(path), "w", format="h264") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for k in range(40):
            f = av.VideoFrame.from_ndarray(frame_image(k, 64, 48), format="rgb24")
            f.pts = k
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    with av.open(str(path)) as c:
        rate = float(c.streams.video[0].average_rate)
        assert c.streams.video[0].duration is None and c.duration is None
    ref = np.arange(40) / rate
    (clip,) = decode_clips(path, [0.5], VideoSettings(frames=4, stride=4))  # no time on a midpoint
    start = 0.5 * (40 / rate - 4 * 4 / 30)
    want = [nearest(ref, start + j * 4 / 30) for j in range(4)]
    assert [frame_number(f) for f in clip.frames] == want
    loop = decode_at(path, [1.0, 40 / rate + 0.12], short_clip="loop")
    assert [frame_number(f) for f in loop.frames] == [nearest(ref, 1.0), nearest(ref, 0.12)]


def test_the_baselines_inputs_reach_the_video_loader(media, tmp_path):
    # A baseline registered for RGB and RGB-difference gets both (6 channels) without any [data]
    # key; one that says otherwise in [data] is refused rather than silently given RGB only.
    from amge_eval.baselines.inputs import build_dataset

    labels, root = _dataset_dir(tmp_path, media, ["h264"])
    both = build_dataset("rgb+rgb_diff", labels, root, dict(SMALL), train=False, seed=0)
    assert both[0][0].shape == (6, 6, 32, 32) and both.settings()["modality"] == "rgb+rgb_diff"
    rgb = build_dataset("rgb", labels, root, dict(SMALL), train=False, seed=0)
    assert rgb[0][0].shape == (3, 6, 32, 32)
    with pytest.raises(AmgeError, match="registered for 'rgb\\+rgb_diff'") as err:
        build_dataset("rgb+rgb_diff", labels, root, {**SMALL, "modality": "rgb"}, train=False,
                      seed=0)
    assert err.value.code == "E803"
