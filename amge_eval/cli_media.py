"""The commands from raw video: `amge-eval data skeletons`, `amge-eval data flow` and
`amge-eval predict`, registered on cli.py's app (a thin layer, as the rest of the CLI)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from amge_eval.cli import DataRoot, LabelsDir, _out, app, data_app, labels_app

Source = Annotated[str, typer.Argument(
    help="A folder of videos (every video under it; sample ids are their paths inside it "
         "without the suffix), or, with --dataset, a split of the label store (or 'all').",
    metavar="VIDEO_DIR|SPLIT")]
DatasetOpt = Annotated[str | None, typer.Option(
    "--dataset", "-d", help="Read the videos of SPLIT from this dataset's label store and write "
    "where the loaders read (<data-root>/<dataset>/...).", show_default=False)]
VideoRoot = Annotated[Path | None, typer.Option(
    help="Local root of the split's videos (<video-root>/<activity>/<file>).",
    show_default=False)]
Rewrite = Annotated[list[str] | None, typer.Option(
    help="OLD=NEW path component rewrite of the split's media paths, or 'reference' "
         "(repeatable).", show_default=False)]
Workers = Annotated[int, typer.Option(help="Videos processed in parallel (processes).")]
Replace = Annotated[bool, typer.Option(help="Overwrite existing outputs.")]
SkipBad = Annotated[bool, typer.Option(help="Leave out unreadable or missing videos (listed) "
                                            "instead of stopping.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


def _targets(source: str, dataset: str | None, out: Path | None, kind: str, labels_dir,
             data_root, video_root, rewrite, skip_bad):
    """[(what, jobs, out path, missing ids)] for a folder or for the split(s) of a dataset."""
    from amge_eval.baselines.data.extract import folder_videos, split_videos
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.fileio import default_data_root
    from amge_eval.harness.labels import list_store, resolve_labels_dir
    from amge_eval.harness.official import parse_rewrite
    from amge_eval.harness.skeletons import skeleton_path
    from amge_eval.harness.vocab import SPLITS

    if dataset is None:
        folder = Path(source).expanduser()
        default = folder / ("skeletons.npz" if kind == "skeletons" else "flow")
        return [(str(folder), folder_videos(folder), out or default, [])]
    labels = resolve_labels_dir(labels_dir)
    if source == "all":
        splits = [s for ds, s, _ in list_store(labels) if ds == dataset]
        splits = [s for s in SPLITS if s in splits]
    elif source in SPLITS:
        splits = [source]
    else:
        raise AmgeError(f"With --dataset, give a split ({', '.join(SPLITS)}) or 'all', not "
                        f"{source!r}", code="E406")
    if not splits:
        raise AmgeError(f"The label store {labels} holds no split of {dataset}", code="E503")
    if out is not None and len(splits) > 1:
        raise AmgeError("--out names one output; with 'all' the outputs go where the loaders "
                        "read them (leave --out out)", code="E601")
    root = Path(data_root).expanduser() if data_root else default_data_root()
    targets = []
    for split in splits:
        jobs, missing = split_videos(dataset, split, labels_dir=labels, data_root=root,
                                     video_root=video_root, rewrite=parse_rewrite(rewrite),
                                     skip_missing=skip_bad)
        if kind == "skeletons":
            path = out or skeleton_path(root, dataset, split)
        else:
            from amge_eval.baselines.data.flow import flow_dir

            path = out or flow_dir(root, dataset, split)
        targets.append((f"{dataset}/{split}", jobs, path, missing))
    return targets


def _rate(rep) -> str:
    fps = rep.frames_per_s
    return f", {fps:.1f} frames/s per worker" if fps else ""


@data_app.command("skeletons")
def data_skeletons(
    source: Source,
    dataset: DatasetOpt = None,
    out: Annotated[Path | None, typer.Option(help="The skeleton store to write (default: "
                                             "<VIDEO_DIR>/skeletons.npz, or the split's "
                                             "<data-root>/<dataset>/skeletons/<split>.npz).",
                                             show_default=False)] = None,
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    video_root: VideoRoot = None,
    rewrite: Rewrite = None,
    max_fps: Annotated[float, typer.Option(help="Frames kept per second (the first of each "
                                           "1/max-fps interval).")] = 30.0,
    max_side: Annotated[int, typer.Option(help="Long side, in pixels, the frames are scaled "
                                          "to before the pose estimator.")] = 640,
    max_people: Annotated[int, typer.Option(help="People looked for when choosing whom to "
                                            "follow (the most central, largest).")] = 3,
    workers: Workers = 1,
    replace: Replace = False,
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
):
    """Extract 2-D skeletons (COCO-17 with confidences) from raw video with MediaPipe's pose
    landmarker (pip install 'amge-eval[pose]') into the skeleton store the loaders read;
    resumable (a rerun continues an interrupted one) and parallel over videos."""
    from amge_eval.baselines.data.extract import extract_skeletons
    from amge_eval.baselines.data.pose import PoseSettings
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console

    settings = PoseSettings(max_fps=max_fps, max_side=max_side, max_people=max_people)
    o = _out()
    for what, jobs, path, missing in _targets(source, dataset, out, "skeletons", labels_dir,
                                              data_root, video_root, rewrite, skip_bad):
        with RichProgress(console(stderr=True), quiet=quiet) as progress:
            rep = extract_skeletons(jobs, path, settings=settings, workers=workers,
                                    replace=replace, skip_bad=skip_bad, progress=progress)
        o.print(f"{what}: wrote {rep.done} of {rep.videos} videos ({rep.frames} frames; "
                f"{rep.reused} resumed) to {rep.out} in {rep.seconds:.1f} s{_rate(rep)}",
                markup=False)
        for label, ids in (("No person found", rep.no_person),
                           ("Several people (the most central, largest was kept)", rep.several),
                           ("Left out, unreadable", list(rep.failed)),
                           ("Left out, missing", missing)):
            if ids:
                o.print(f"  {label}: {len(ids)}; first: {', '.join(ids[:5])}", markup=False)


@data_app.command("flow")
def data_flow(
    source: Source,
    dataset: DatasetOpt = None,
    out: Annotated[Path | None, typer.Option(help="Folder of the flow files (default: "
                                             "<VIDEO_DIR>/flow, or the split's "
                                             "<data-root>/<dataset>/flow/<split>/).",
                                             show_default=False)] = None,
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    video_root: VideoRoot = None,
    rewrite: Rewrite = None,
    method: Annotated[str, typer.Option(help="dis-ultrafast, dis-fast, dis-medium (OpenCV's "
                                        "DIS presets) or farneback.")] = "dis-medium",
    fps: Annotated[float, typer.Option(help="Frames kept per second; flow is computed between "
                                       "consecutive kept frames.")] = 30.0,
    short_side: Annotated[int, typer.Option(help="Short side, in pixels, of the frames the "
                                            "flow is computed and stored at.")] = 128,
    bound: Annotated[float, typer.Option(help="Flow is clipped to +-bound pixels and stored "
                                         "as int8 in steps of bound/127.")] = 10.0,
    workers: Workers = 1,
    replace: Replace = False,
    skip_bad: SkipBad = False,
    quiet: Quiet = False,
):
    """Compute dense optical flow with OpenCV (pip install 'amge-eval[flow]'), one compact file
    per video (docs/raw-video.md, "Flow store"), for the optical-flow baselines; a rerun skips the
    videos already done."""
    from amge_eval.baselines.data.extract import extract_flow
    from amge_eval.baselines.data.flow import FlowSettings
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console

    settings = FlowSettings(method=method, fps=fps, short_side=short_side, bound=bound)
    o = _out()
    for what, jobs, path, missing in _targets(source, dataset, out, "flow", labels_dir,
                                              data_root, video_root, rewrite, skip_bad):
        with RichProgress(console(stderr=True), quiet=quiet) as progress:
            rep = extract_flow(jobs, path, settings=settings, workers=workers, replace=replace,
                               skip_bad=skip_bad, progress=progress)
        o.print(f"{what}: {rep.done} of {rep.videos} videos ({rep.frames} flow frames, "
                f"{rep.bytes / 1e6:.1f} MB; {rep.reused} already there) in {rep.out} in "
                f"{rep.seconds:.1f} s{_rate(rep)}", markup=False)
        for label, ids in (("Left out, unreadable", list(rep.failed)),
                           ("Left out, missing", missing)):
            if ids:
                o.print(f"  {label}: {len(ids)}; first: {', '.join(ids[:5])}", markup=False)


def _picture_paths(picture: Path, ids: list[str]) -> list[Path]:
    """One picture per video: ``picture`` itself for one video, else
    ``<stem>.<sample id><suffix>`` beside it."""
    if len(ids) == 1:
        return [picture]
    return [picture.with_name(f"{picture.stem}.{re.sub(r'[^A-Za-z0-9_-]+', '_', i)}"
                              f"{picture.suffix}") for i in ids]


@app.command("predict")
def predict(
    model: Annotated[Path, typer.Argument(help="A run folder of `amge-eval run-baseline` "
                                               "(run.json), or a checkpoint file with "
                                               "--baseline.", metavar="RUN_OR_CHECKPOINT")],
    videos: Annotated[list[Path], typer.Argument(help="Video files, or folders of videos.",
                                                 metavar="VIDEO...")],
    baseline: Annotated[str | None, typer.Option(help="The baseline of a checkpoint file.",
                                                 show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML over the baseline's "
                                                "config (checkpoint files).",
                                                show_default=False)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="table.key=value over the "
                                                   "config (checkpoint files; repeatable).",
                                                   show_default=False)] = None,
    preset: Annotated[str | None, typer.Option(help="Config preset of a checkpoint file.",
                                               show_default=False)] = None,
    checkpoint_dir: Annotated[Path | None, typer.Option(help="Where the run's checkpoints are "
                                                        "(default: ~/.cache/amge-eval/"
                                                        "checkpoints).", show_default=False)] = None,
    labels_dir: LabelsDir = None,
    skeletons: Annotated[Path | None, typer.Option(help="Skeletons made by `amge-eval data "
                                                   "skeletons` (else extracted now).",
                                                   show_default=False)] = None,
    flow: Annotated[Path | None, typer.Option("--flow", help="Flow folder made by `amge-eval "
                                              "data flow` (else computed now).",
                                              show_default=False)] = None,
    out: Annotated[Path | None, typer.Option(help="Write the scores as a prediction file "
                                             "(.npz or .csv) that `amge-eval validate` "
                                             "accepts.", show_default=False)] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", "-d", help="Dataset named in the "
                                                "--out file (your videos' own dataset, e.g. "
                                                "from `labels from-folder`).",
                                                show_default=False)] = None,
    split: Annotated[str | None, typer.Option("--split", "-s", help="Split named in the --out "
                                              "file.", show_default=False)] = None,
    picture: Annotated[Path | None, typer.Option(help="Draw a body map (.svg or .png): front "
                                                 "and back, each muscle group shaded by its "
                                                 "score; one file per video.",
                                                 show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda.")] = "auto",
    workers: Workers = 1,
    quiet: Quiet = False,
):
    """Run a trained baseline on new videos and print the 20 muscle scores; optionally write a
    prediction file and a body-map picture."""
    from rich.table import Table

    from amge_eval.baselines.predict import load_predictor, predict_videos, video_jobs
    from amge_eval.harness.bodymap import write_body_map
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.muscles import MUSCLES
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console

    if split is not None:
        from amge_eval.harness.datasets import check_split

        check_split(split)
    if dataset is not None:
        from amge_eval.harness.datasets import get_card
        from amge_eval.harness.labels import resolve_labels_dir

        get_card(dataset, resolve_labels_dir(labels_dir))
    for path, allowed in ((out, (".npz", ".csv")), (picture, (".svg", ".png"))):
        if path is not None and path.suffix.lower() not in allowed:
            raise AmgeError(f"{path} must end in {' or '.join(allowed)}", code="E601")
    dev = None
    if device != "cpu":
        from amge_eval.baselines.runner import _device

        dev = _device(device)
    jobs = video_jobs(videos)
    pred = load_predictor(model, baseline=baseline, config_file=config,
                          overrides=tuple(set_ or ()), preset=preset,
                          checkpoint_dir=checkpoint_dir, labels_dir=labels_dir, device=dev)
    with RichProgress(console(stderr=True), quiet=quiet) as progress:
        res = predict_videos(pred, jobs, skeletons=skeletons, flow_root=flow, workers=workers,
                             device=dev, progress=progress)
    o = _out()
    shown = res.sample_ids[:8]
    t = Table(title=f"{pred.spec.name}: muscle scores (0-1)", title_justify="left")
    t.add_column("muscle")
    for sid in shown:
        t.add_column(sid, justify="right")
    for m in MUSCLES:
        t.add_row(m.name, *[f"{res.scores[k, m.index]:.3f}" for k in range(len(shown))])
    o.print(t)
    if len(res.sample_ids) > len(shown):
        o.print(f"(first {len(shown)} of {len(res.sample_ids)} videos; --out writes all)")
    if out is not None:
        if out.suffix.lower() == ".csv":
            import csv
            import io

            from amge_eval.harness.fileio import write_text_atomic
            from amge_eval.harness.muscles import MUSCLE_IDS

            buf = io.StringIO()
            w = csv.writer(buf, lineterminator="\n")
            w.writerow(["sample_id", *MUSCLE_IDS])
            w.writerows([sid, *(f"{v:.6g}" for v in row)]
                        for sid, row in zip(res.sample_ids, res.scores.tolist()))
            write_text_atomic(out, buf.getvalue())
        else:
            from amge_eval.harness.predictions import write_predictions

            write_predictions(out, res.sample_ids, res.scores, dataset, split)
        o.print(f"Prediction file: {out}", markup=False)
    if picture is not None:
        for sid, row, path in zip(res.sample_ids, res.scores.tolist(),
                                  _picture_paths(picture, res.sample_ids)):
            write_body_map(row, path, title=f"{sid}: {pred.spec.name}")
            o.print(f"Body map: {path}", markup=False)


@labels_app.command("from-folder")
def labels_from_folder(
    folder: Annotated[Path, typer.Argument(help="Folder of <split>/<activity>/<clip> videos.",
                                           metavar="VIDEO_DIR")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Name of your dataset.")],
    muscles: Annotated[Path, typer.Option(help="CSV 'activity,muscles': each activity with "
                                          "the muscle groups it works, ';'-separated.")],
    labels_dir: LabelsDir = None,
    title: Annotated[str | None, typer.Option(help="Display name of the dataset.",
                                              show_default=False)] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite different labels already in the "
                                          "store.")] = False,
):
    """Make a dataset of your own videos: the label store of a <split>/<activity>/<clip> folder
    and a dataset card, from a table of the muscles each activity works."""
    from amge_eval.harness.folder import folder_dataset
    from amge_eval.harness.labels import resolve_labels_dir

    res = folder_dataset(folder, dataset, muscles, resolve_labels_dir(labels_dir), title=title,
                         replace=replace)
    o = _out()
    o.print(f"Dataset {res.dataset}: {', '.join(f'{k} {v}' for k, v in res.counts.items())} "
            f"samples, {len(res.activities)} activities ({len(res.unseen)} unseen). Card: "
            f"{res.card}", markup=False)
