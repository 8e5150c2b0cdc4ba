"""Contact sheet (PNG) or animated grid (GIF) of the synthetic benchmark, skeletons overlaid.

Frames come from the benchmark's videos where they exist and are re-rendered from the seed
otherwise (a benchmark generated with video=False); the overlaid skeletons always come from the
skeleton store, so the sheet shows exactly what a skeleton model is given.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from ..errors import AmgeError
from ..fileio import write_bytes_atomic
from ..progress import NULL_PROGRESS, Progress
from ..skeletons import COCO17, read_skeletons, skeleton_path
from ..vocab import did_you_mean
from .activities import ACTIVITIES, ACTIVITY_BY_NAME
from .generate import (
    DATASET,
    clip_stem,
    dataset_root,
    make_clip,
    media_path,
    require_manifest,
    settings_from_manifest,
    split_plan,
)
from .style import source_of

TITLE_H = 12
LEFT_COLOUR, RIGHT_COLOUR, MID_COLOUR = (0, 230, 255), (255, 140, 0), (255, 255, 0)


def _edge_colour(a: int, b: int) -> tuple[int, int, int]:
    names = COCO17.joints[a] + COCO17.joints[b]
    if "left" in names and "right" not in names:
        return LEFT_COLOUR
    if "right" in names and "left" not in names:
        return RIGHT_COLOUR
    return MID_COLOUR


def overlay(frame: np.ndarray, joints: np.ndarray):
    """PIL image of ``frame`` (H, W, 3) with one person's (17, 3) skeleton drawn on it."""
    from PIL import Image, ImageDraw

    img = Image.fromarray(frame)
    draw = ImageDraw.Draw(img)
    for a, b in COCO17.edges:
        if joints[a, 2] > 0 and joints[b, 2] > 0:
            draw.line([tuple(joints[a, :2]), tuple(joints[b, :2])], fill=_edge_colour(a, b),
                      width=1)
    for x, y, c in joints:
        if c > 0:
            draw.point((float(x), float(y)), fill=(255, 255, 255))
    return img


def decode_video(path: str | Path) -> np.ndarray:
    """(T, H, W, 3) uint8 frames of a video file, decoded with PyAV."""
    import av

    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def _clip_order(plan: list[str]) -> list[int]:
    """Clip indices of one activity in preview order: clip 0, then the held-out clips (val,
    test) cut from the same source video as clip 0, then the rest. A seen activity's first two
    cells thus show one footage in train and in a held-out split."""
    first = [0] if plan else []
    same = [i for i in range(1, len(plan))
            if plan[i] != "train" and source_of(i) == source_of(0)]
    rest = [i for i in range(1, len(plan)) if i not in same]
    return first + same + rest


def _pick(activities, clips_per_activity: int, available: int) -> list[tuple[str, int]]:
    names = [a.name for a in ACTIVITIES]
    if activities:
        unknown = [n for n in activities if n not in ACTIVITY_BY_NAME]
        if unknown:
            raise AmgeError(f"Unknown synth activity {unknown[0]!r}."
                            f"{did_you_mean(unknown[0], names)} Activities: {', '.join(names)}",
                            code="E740")
        names = [n for n in names if n in set(activities)]
    plan = split_plan(available)
    k = min(clips_per_activity, available)
    return [(n, i) for n in names for i in _clip_order(plan[n])[:k]]


def write_preview(labels_dir=None, data_root=None, out_path: str | Path = "synth_preview.png", *,
                  clips_per_activity: int = 2, frames_per_clip: int = 4, activities=None,
                  progress: Progress = NULL_PROGRESS) -> Path:
    """Write a contact sheet of ``clips_per_activity`` clips of each activity.

    Each activity's first clip comes first, then its held-out clips cut from the same source
    video (so a seen activity shows one footage in train and in val or test), then the rest;
    titles name the split and the source video.
    ``out_path`` ending in .png: a still sheet, ``frames_per_clip`` frames per clip in a row.
    Ending in .gif: an animated grid, one cell per clip. ``activities`` limits the sheet to
    those activity names. ``labels_dir`` is accepted for symmetry with generate_benchmark; the
    split of each clip follows from the manifest's settings.
    """
    from PIL import Image, ImageDraw

    out = Path(out_path)
    kind = out.suffix.lower()
    if kind not in (".png", ".gif"):
        raise AmgeError(f"Expected a preview path ending in .png or .gif, but got {out}",
                        code="E740")
    if clips_per_activity < 1 or frames_per_clip < 1:
        raise AmgeError("Expected at least one clip per activity and one frame per clip",
                        code="E740")
    manifest = require_manifest(data_root)
    settings = settings_from_manifest(manifest)
    root = dataset_root(data_root)
    picks = _pick(activities, clips_per_activity, settings.clips_per_activity)
    plan = split_plan(settings.clips_per_activity)
    stores = {}
    progress.start("preview", total=len(picks))
    cells = []  # (title, unseen, frames (T, H, W, 3), skeleton (T, 17, 3))
    for name, i in picks:
        act = ACTIVITY_BY_NAME[name]
        split = plan[name][i]
        if split not in stores:
            stores[split] = read_skeletons(skeleton_path(root.parent, DATASET, split))
        skel = stores[split].get(f"{act.folder}/{clip_stem(i)}")[:, 0]
        video = root / media_path(act, i)
        if video.is_file():
            frames = decode_video(video)
        else:
            from .render import render_frames

            clip, rng = make_clip(settings, name, i)
            frames = render_frames(clip.scene, settings.size, rng)
        n = min(len(frames), len(skel))
        cells.append((f"{name} ({split}, source {source_of(i)})", act.unseen, frames[:n],
                      skel[:n]))
        progress.advance("preview", 1)
    progress.finish("preview")
    w, h = settings.size
    buf = io.BytesIO()
    if kind == ".png":
        strip_w, strip_h = w * frames_per_clip, h + TITLE_H
        cols = max(1, math.ceil(math.sqrt(len(cells) * strip_h / strip_w * 1.6)))
        rows = math.ceil(len(cells) / cols)
        sheet = Image.new("RGB", (cols * strip_w, rows * strip_h), (20, 20, 20))
        draw = ImageDraw.Draw(sheet)
        for k, (title, unseen, frames, skel) in enumerate(cells):
            x0, y0 = (k % cols) * strip_w, (k // cols) * strip_h
            draw.text((x0 + 2, y0), title, fill=(255, 200, 120) if unseen else (230, 230, 230))
            for j, t in enumerate(np.linspace(0, len(frames) - 1, frames_per_clip).astype(int)):
                sheet.paste(overlay(frames[t], skel[t]), (x0 + j * w, y0 + TITLE_H))
        sheet.save(buf, format="PNG")
    else:
        cols = max(1, math.ceil(math.sqrt(len(cells) * (h + TITLE_H) / w * 1.6)))
        rows = math.ceil(len(cells) / cols)
        length = max(len(c[2]) for c in cells)
        pages = []
        for t in range(length):
            page = Image.new("RGB", (cols * w, rows * (h + TITLE_H)), (20, 20, 20))
            draw = ImageDraw.Draw(page)
            for k, (title, unseen, frames, skel) in enumerate(cells):
                x0, y0 = (k % cols) * w, (k // cols) * (h + TITLE_H)
                draw.text((x0 + 2, y0), title, fill=(255, 200, 120) if unseen else (230, 230, 230))
                f = t % len(frames)  # shorter clips loop
                page.paste(overlay(frames[f], skel[f]), (x0, y0 + TITLE_H))
            pages.append(page.quantize(colors=128, method=Image.Quantize.MEDIANCUT))
        pages[0].save(buf, format="GIF", save_all=True, append_images=pages[1:],
                      duration=int(round(1000 / settings.fps)), loop=0, optimize=False)
    return write_bytes_atomic(out, buf.getvalue())
