"""The `amge-eval` command line: parse arguments, call one library function, print.

Heavy modules (numpy, the harness, torch) load inside the commands that need them, so that
`amge-eval --help` stays fast. Library errors (AmgeError) become one `Error: ...` line on stderr
and their exit status; anything else is an internal error (exit 70).
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

EXIT_INTERNAL = 70

app = typer.Typer(
    name="amge-eval",
    help="Reference benchmark for video-based Activated Muscle Group Estimation (MuscleMap).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
datasets_app = typer.Typer(help="Dataset cards: published facts of each dataset.", no_args_is_help=True)
labels_app = typer.Typer(help="The label store: import and list held-out labels; encrypt and "
                         "decrypt private labels.", no_args_is_help=True)
baselines_app = typer.Typer(help="The baseline registry.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(labels_app, name="labels")
data_app = typer.Typer(help="Media and benchmark data: the embedded synthetic benchmark, "
                       "skeleton import, media checks.", no_args_is_help=True)
app.add_typer(baselines_app, name="baselines")
app.add_typer(data_app, name="data")


class CIKind(StrEnum):
    activity = "activity"
    sample = "sample"
    both = "both"


LabelsDir = Annotated[Path | None, typer.Option(
    "--labels-dir", help="Label store root (default: $AMGE_EVAL_LABELS, else "
    "~/.cache/amge-eval/labels).", show_default=False)]
DatasetOpt = Annotated[str | None, typer.Option(
    "--dataset", "-d", help="Dataset card name (default: the file's 'dataset' key).")]
SplitOpt = Annotated[str | None, typer.Option(
    "--split", "-s", help="Split to score (default: the file's 'split' key, or every split of "
    "a multi-split file or directory).")]
DataRoot = Annotated[Path | None, typer.Option(
    "--data-root", help="Media root (default: $AMGE_EVAL_DATA, else ~/.cache/amge-eval/data).",
    show_default=False)]
Resamples = Annotated[int, typer.Option(help="Bootstrap resamples per interval.")]
Seed = Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")]
SynthSeed = Annotated[int, typer.Option(help="Seed of the generator (same seed, same "
                                             "labels and skeletons).")]
RunSeed = Annotated[int, typer.Option(help="Seed of training (initialisation, data order, "
                                           "augmentation) and of the bootstrap.")]


def _kinds(ci: CIKind) -> tuple[str, ...]:
    return ("activity", "sample") if ci is CIKind.both else (ci.value,)


def _out():
    from amge_eval.render import console

    return console()


def _write_json(path: Path, text: str, inputs: list[Path]) -> None:
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.fileio import write_text_atomic

    if str(path) == "-":
        sys.stdout.write(text)
        return
    for p in inputs:
        if p.exists() and path.exists() and path.resolve() == p.resolve():
            raise AmgeError(f"--json {path} would overwrite an input file; choose another path",
                            code="E601")
    if path.is_dir():
        raise AmgeError(f"--json {path} is a directory; give a file path", code="E601")
    write_text_atomic(path, text)


# --------------------------------------------------------------------------- scoring

@app.command()
def score(
    predictions: Annotated[Path, typer.Argument(help="preds.npz, a CSV, a multi-split npz or a "
                                                     "directory of per-split files.")],
    dataset: DatasetOpt = None,
    split: SplitOpt = None,
    labels_dir: LabelsDir = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the result record "
                                                   "(JSON) here; '-' for stdout.")] = None,
    ci: Annotated[CIKind, typer.Option(help="Bootstrap resampling unit of the intervals: "
                                       "activity clusters (default; honest on unseen splits), "
                                       "samples, or both.")] = CIKind.activity,
    resamples: Resamples = 10_000,
    seed: Seed = 0,
    per_muscle: Annotated[bool, typer.Option(help="Show the per-muscle AP table.")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing (use with --json).")] = False,
):
    """Validate a prediction file against held-out labels and compute the masked mAP.

    Prints val/test x seen/unseen/averaged mAP with 95% bootstrap intervals and per-muscle AP.
    """
    from amge_eval.harness.records import SCORER_VERSION, ScoreRecord
    from amge_eval.harness.scoring import score_file
    from amge_eval.render import score_tables

    report = score_file(predictions, dataset=dataset, split=split, labels_dir=labels_dir,
                        ci_kinds=_kinds(ci), resamples=resamples, seed=seed)
    if json_path:
        _write_json(json_path, ScoreRecord.from_report(report).to_json(), [predictions])
    if not quiet and str(json_path) != "-":
        out = _out()
        for t in score_tables(report, report.ci_kinds[0], per_muscle=per_muscle):
            out.print(t)
        fp = ", ".join(f"{s.split} {s.label_fingerprint[:12]}" for s in report.splits.values())
        out.print(f"Intervals: {int(report.level * 100)}% BCa bootstrap, {resamples:,} "
                  f"resamples by {' and by '.join(report.ci_kinds)}, seed {seed}. "
                  f"Scorer {SCORER_VERSION}; labels {fp}; predictions sha256 "
                  f"{report.predictions.sha256[:12]}.")
        for note in report.notes:
            out.print(f"Note: {note}")
        if json_path:
            out.print(f"Result record written to {json_path}")


@app.command()
def validate(
    predictions: Annotated[Path, typer.Argument(help="Prediction file or directory.")],
    dataset: DatasetOpt = None,
    split: SplitOpt = None,
    labels_dir: LabelsDir = None,
    require_labels: Annotated[bool, typer.Option(help="Fail (exit 3) when the labels (or id "
                                                 "lists) needed for the id checks are absent.")] = False,
    ids_dir: Annotated[Path | None, typer.Option(help="Check the ids against the public id lists "
                                                 "<DIR>/<dataset>/<split>.ids (e.g. the "
                                                 "repository's labels/) instead of labels.",
                                                 show_default=False)] = None,
):
    """Check a prediction file without scoring it; every problem is listed at once.

    File checks always run; id checks run for each split whose labels are in the store, or,
    with --ids-dir, whose public id list is there (same problem codes).
    Exit status: 0 valid, 1 invalid, 3 labels required but absent.
    """
    from amge_eval.harness.scoring import validate_file

    rep = validate_file(predictions, dataset=dataset, split=split, labels_dir=labels_dir,
                        require_labels=require_labels, ids_dir=ids_dir)
    out = _out()
    rows = ", ".join(f"{k}: {v} rows" for k, v in rep.n_rows.items())
    out.print(f"OK {predictions} ({rep.dataset or 'dataset not named'}; {rows})")
    what = "public id lists" if ids_dir else "labels"
    if rep.checked:
        out.print(f"  ids match the {what} of: {', '.join(rep.checked)}")
    for note in rep.notes:
        out.print(f"  note: {note}")
    if rep.without_labels:
        where = (f"no public id lists in {ids_dir} for" if ids_dir else
                 "no labels in the store for")
        hint = "--ids-dir" if ids_dir else "--labels-dir"
        out.print(f"  {where}: {', '.join(rep.without_labels)} "
                  f"(file checks only; pass {hint} to check ids)")


@app.command()
def compare(
    a: Annotated[Path, typer.Argument(help="First prediction file (A).")],
    b: Annotated[Path, typer.Argument(help="Second prediction file (B).")],
    dataset: DatasetOpt = None,
    split: SplitOpt = None,
    labels_dir: LabelsDir = None,
    ci: Annotated[CIKind, typer.Option(help="Resampling unit (activity or sample).")] = CIKind.activity,
    resamples: Resamples = 10_000,
    seed: Seed = 0,
    json_path: Annotated[Path | None, typer.Option("--json", help="Write the comparison record.")] = None,
):
    """Paired bootstrap of the mAP difference A - B per split, with interval and p-value."""
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.records import CompareRecord
    from amge_eval.harness.scoring import compare_files
    from amge_eval.render import compare_table

    if ci is CIKind.both:
        raise AmgeError("compare takes one resampling unit: --ci activity or --ci sample",
                        code="E600")
    cmp = compare_files(a, b, dataset=dataset, split=split, labels_dir=labels_dir,
                        ci_kind=ci.value, resamples=resamples, seed=seed)
    if json_path:
        _write_json(json_path, CompareRecord.from_report(cmp).to_json(), [a, b])
    out = _out()
    out.print(compare_table(cmp))
    for name, only in (("A", cmp.only_in_a), ("B", cmp.only_in_b)):
        if only:
            out.print(f"Not compared (only in {name}): {', '.join(only)}")


# --------------------------------------------------------------------------- datasets

@datasets_app.command("list")
def datasets_list(labels_dir: LabelsDir = None):
    """List the dataset cards (built in, and any in the label store)."""
    from rich.table import Table

    from amge_eval.harness.datasets import list_cards
    from amge_eval.harness.labels import resolve_labels_dir

    t = Table()
    for col in ("name", "title", "paper", "activities", "unseen", "samples (train/vs/vu/ts/tu)"):
        t.add_column(col)
    for c in list_cards(resolve_labels_dir(labels_dir)).values():
        sizes = "/".join(str(c.split_sizes.get(s, "?")) for s in
                         ("train", "val_seen", "val_unseen", "test_seen", "test_unseen"))
        t.add_row(c.name, c.title, c.paper_version, str(c.activities), str(c.unseen_count), sizes)
    _out().print(t)


@datasets_app.command("show")
def datasets_show(name: Annotated[str, typer.Argument(help="Dataset card name.")],
                  labels_dir: LabelsDir = None):
    """Show one dataset card: splits, unseen activities, the 20 muscles and their regions."""
    from rich.table import Table

    from amge_eval.harness.datasets import get_card
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.muscles import MUSCLES

    c = get_card(name, resolve_labels_dir(labels_dir))
    out = _out()
    out.print(f"[bold]{c.title}[/bold] ({c.name}), paper version {c.paper_version}")
    out.print(f"{c.paper}\nSource: {c.source}. Activities: {c.activities}"
              + (f"; clips stated: {c.clips_stated}" if c.clips_stated else ""))
    if c.notes:
        out.print(f"Notes: {c.notes}")
    out.print("Labels: " + ("private (held out; scored by CI after merge, docs/leaderboard.md)"
                            if c.labels == "private" else "public (score locally)"))
    t = Table(title="Splits (published sizes)", title_justify="left")
    t.add_column("split")
    t.add_column("samples", justify="right")
    for s, n in c.split_sizes.items():
        t.add_row(s, str(n))
    out.print(t)
    known = ", ".join(c.unseen_activities) or "-"
    more = "" if c.unseen_complete else f" (the paper names {len(c.unseen_activities)} of {c.unseen_count})"
    out.print(f"Unseen activities ({c.unseen_count}){more}: {known}")
    out.print("Activity from a video path (labels import): " + c.activity_from_path
              + (f" {c.activity_regex!r}" if c.activity_regex else ""))
    m = Table(title="Muscle groups (label order: the order the papers list them in, three-dataset "
                    "version supplementary D.1, journal version Section III-B; the release's "
                    "code names no muscles, its label pickles hold only the indices #)",
              title_justify="left")
    for col in ("#", "id", "name", "region", "anatomical members"):
        m.add_column(col)
    for mu in MUSCLES:
        m.add_row(str(mu.index), mu.id, mu.name, mu.region, "; ".join(mu.members))
    out.print(m)


# --------------------------------------------------------------------------- labels

@labels_app.command("import")
def labels_import(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset card name.")],
    split: Annotated[str, typer.Option("--split", "-s", help="Split the pickles hold.")],
    videos: Annotated[Path, typer.Option(help="Pickled list of video paths (official release).")],
    labels: Annotated[Path, typer.Option(help="Pickled list of lists of muscle indices 0..19.")],
    labels_dir: LabelsDir = None,
    activity_from: Annotated[str | None, typer.Option(help="How a clip's activity is read from "
                                                      "its path: 'filename' (the release's "
                                                      "...AN_<activity>_ST... rule), 'parent' "
                                                      "(the folder's name), 'regex' (see "
                                                      "--activity-regex) or 'none'; default: "
                                                      "the card's setting.")] = None,
    activity_regex: Annotated[str | None, typer.Option(help="Regular expression searched in "
                                                       "each path; its only group, or the group "
                                                       "named 'activity', is the activity "
                                                       "(implies --activity-from regex).")] = None,
    allow_activity_mismatch: Annotated[bool, typer.Option(help="Import even when the paths give "
                                                          "another number of activities than "
                                                          "the card (a copy that really "
                                                          "differs); recorded in the "
                                                          "provenance.")] = False,
    rewrite: Annotated[list[str] | None, typer.Option(help="OLD=NEW path component rewrite in "
                                                      "media paths, e.g. musclemap_trimmed="
                                                      "musclemap_rescale, or 'reference' "
                                                      "(repeatable).")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite different labels already in the store.")] = False,
):
    """Import one split from the official release layout (two pickles) into the label store."""
    from amge_eval.harness.datasets import check_split
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.official import import_official, parse_rewrite

    check_split(split)
    ls, path, warnings = import_official(dataset, split, videos, labels,
                                         resolve_labels_dir(labels_dir), activity_from, replace,
                                         parse_rewrite(rewrite), activity_regex=activity_regex,
                                         allow_activity_mismatch=allow_activity_mismatch)
    out = _out()
    acts = len({a for a in ls.activities.tolist() if a})
    out.print(f"Imported {len(ls)} samples ({acts} activities) into {path}")
    out.print(f"Label fingerprint: {ls.fingerprint}")
    for w in warnings:
        out.print(f"[yellow]Warning:[/yellow] {w}")


@labels_app.command("list")
def labels_list(labels_dir: LabelsDir = None):
    """List every split in the label store with its size and fingerprint."""
    from rich.table import Table

    from amge_eval.harness.labels import read_labels, resolve_labels_dir

    root = resolve_labels_dir(labels_dir)
    t = Table(title=f"Label store {root}", title_justify="left")
    for col in ("dataset", "split", "samples", "activities", "fingerprint"):
        t.add_column(col)
    from amge_eval.harness.labels import list_store

    for ds, split, _ in list_store(root):
        ls = read_labels(root, ds, split)
        t.add_row(ds, split, str(len(ls)), str(len({a for a in ls.activities.tolist() if a})),
                  ls.fingerprint[:16])
    _out().print(t)


EncryptedDir = Annotated[Path, typer.Option(
    "--encrypted", help="The encrypted label store (<dataset>/manifest.json, <split>.csv.enc, "
    "<split>.ids); the repository's labels/.")]


@labels_app.command("encrypt")
def labels_encrypt(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset card name.")],
    split: Annotated[list[str] | None, typer.Option("--split", "-s", help="Split to encrypt "
                                                    "(repeatable; default: every evaluation "
                                                    "split in the store).")] = None,
    labels_dir: LabelsDir = None,
    encrypted: EncryptedDir = Path("labels"),
    replace: Annotated[bool, typer.Option(help="Overwrite different labels, or re-encrypt every "
                                          "split with a new key (rotation).")] = False,
):
    """Encrypt labels of the label store into the repository's encrypted store (key from
    $AMGE_EVAL_LABELS_KEY), with the public id lists and manifest."""
    from amge_eval.harness.private import encrypt_labels, key_from_env

    res = encrypt_labels(dataset, labels_dir, encrypted, key_from_env(), splits=split or None,
                         replace=replace)
    out = _out()
    folder = res.encrypted_dir / dataset
    if res.written:
        out.print(f"Encrypted {', '.join(res.written)} of {dataset} into {folder} (key id "
                  f"{res.key_id}); commit {folder}/")
    if res.unchanged:
        out.print(f"Unchanged (same labels, same key): {', '.join(res.unchanged)}")


@labels_app.command("decrypt")
def labels_decrypt(
    encrypted: EncryptedDir = Path("labels"),
    out_dir: Annotated[Path | None, typer.Option("--out", help="New or empty folder outside every "
                                                 "git work tree (default: a new temporary "
                                                 "folder).", show_default=False)] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d", help="Only these "
                                                      "datasets (repeatable).")] = None,
):
    """Decrypt the encrypted label store (key from $AMGE_EVAL_LABELS_KEY) into a private label
    store, after checking every split against the public manifest; prints no label."""
    from amge_eval.harness.private import KEY_ENV, decrypt_labels, key_from_env

    have_key = bool(os.environ.get(KEY_ENV, "").strip())
    res = decrypt_labels(encrypted, key_from_env() if have_key else None, out_dir,
                         datasets=dataset or None)
    out = _out()
    if not res.splits:
        out.print(f"No encrypted labels in {encrypted}; nothing decrypted. Label store: "
                  f"{res.out_dir}")
        return
    datasets = sorted({s.dataset for s in res.splits})
    out.print(f"Decrypted {len(res.splits)} splits of {', '.join(datasets)}; every fingerprint "
              f"matches the manifest. Label store (private files): {res.out_dir}")
    out.print(f"Use it with --labels-dir {res.out_dir}, and delete it when done.")


# --------------------------------------------------------------------------- data

@data_app.command("synth")
def data_synth(
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    clips_per_activity: Annotated[int, typer.Option(help="Clips generated per activity.")] = 16,
    size: Annotated[str, typer.Option(help="Video size: a side (128) or WIDTHxHEIGHT.")] = "128",
    video: Annotated[bool, typer.Option(help="Render mp4 videos (skeleton baselines need "
                                        "only the skeletons).")] = True,
    seed: SynthSeed = 0,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 1,
    overwrite: Annotated[bool, typer.Option(help="Replace a different benchmark already "
                                            "there.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
):
    """Generate the embedded synthetic benchmark (labels, skeletons, videos) deterministically."""
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.synth.generate import generate_benchmark
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console

    with RichProgress(console(stderr=True), quiet=quiet) as progress:
        res = generate_benchmark(resolve_labels_dir(labels_dir), data_root,
                                 clips_per_activity=clips_per_activity, size=size, video=video,
                                 seed=seed, workers=workers, overwrite=overwrite,
                                 progress=progress)
    counts = ", ".join(f"{k} {v}" for k, v in res.counts.items())
    verb = "Found the identical benchmark" if res.reused else f"Generated in {res.seconds:.1f} s"
    _out().print(f"{verb}: {counts}; {res.videos} videos.\nLabels: {res.labels_dir}/synth\n"
                 f"Media: {res.data_root}/synth (manifest {res.manifest})")


@data_app.command("preview")
def data_preview(
    out: Annotated[Path, typer.Option(help="Output image: .png (contact sheet) or .gif "
                                      "(animated).")] = Path("synth_preview.png"),
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    clips_per_activity: Annotated[int, typer.Option(help="Clips shown per activity.")] = 2,
    frames_per_clip: Annotated[int, typer.Option(help="Frames per clip (png).")] = 4,
    activity: Annotated[list[str] | None, typer.Option(help="Only these activities "
                                                       "(repeatable).")] = None,
):
    """Write a contact sheet of the embedded benchmark with the skeletons drawn over the video."""
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.synth.preview import write_preview

    path = write_preview(resolve_labels_dir(labels_dir), data_root, out,
                         clips_per_activity=clips_per_activity, frames_per_clip=frames_per_clip,
                         activities=activity or None)
    _out().print(f"Preview written to {path}")


@data_app.command("import-alphapose")
def data_import_alphapose(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset card name.")],
    split: Annotated[str, typer.Option("--split", "-s", help="Split of the label store.")],
    json_dir: Annotated[Path, typer.Option(help="Folder of AlphaPose result JSONs, one per "
                                           "video (docs/data.md).")],
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    video_root: Annotated[Path | None, typer.Option(help="Where the videos are (for image size "
                                                    "and fps).")] = None,
    layout: Annotated[str, typer.Option(help="auto, coco17 or halpe26.")] = "auto",
    persons: Annotated[int, typer.Option(help="Persons kept per frame.")] = 1,
    frame_base: Annotated[int, typer.Option(help="Number of the first frame in image_id.")] = 0,
    fps: Annotated[float | None, typer.Option(help="Frame rate when no video is found.")] = None,
    image_size: Annotated[tuple[int, int] | None, typer.Option(help="W H when no video is "
                                                              "found.")] = None,
    mapping: Annotated[Path | None, typer.Option(help="CSV sample_id,json naming each "
                                                 "sample's file.")] = None,
    skip_missing: Annotated[bool, typer.Option(help="Leave out samples without a JSON.")] = False,
    replace: Annotated[bool, typer.Option(help="Overwrite an existing skeleton file.")] = False,
):
    """Convert AlphaPose JSON (COCO-17 or Halpe-26) into the skeleton store for one split."""
    from amge_eval.harness.alphapose import import_alphapose
    from amge_eval.harness.labels import resolve_labels_dir

    rep = import_alphapose(dataset, split, json_dir, labels_dir=resolve_labels_dir(labels_dir),
                           data_root=data_root, video_root=video_root, layout=layout,
                           max_persons=persons, frame_base=frame_base, fps=fps,
                           image_size=image_size, mapping=mapping, skip_missing=skip_missing,
                           replace=replace)
    out = _out()
    out.print(f"Wrote {rep.samples} samples ({rep.frames} frames, layout {rep.layout}, up to "
              f"{rep.max_persons} persons) to {rep.path}; {rep.from_video} sized from their "
              f"video, {rep.tracked} with track ids.")
    for label, ids in (("Skipped (no JSON)", rep.skipped), ("No detections", rep.empty)):
        if ids:
            out.print(f"{label}: {len(ids)}; first: {', '.join(ids[:5])}")


@data_app.command("check-media")
def data_check_media(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset card name.")],
    split: Annotated[str, typer.Option("--split", "-s", help="Split of the label store.")],
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    video_root: Annotated[Path | None, typer.Option(help="Local root of the release's "
                                                    "videos.")] = None,
    rewrite: Annotated[list[str] | None, typer.Option(help="OLD=NEW path component rewrite, or "
                                                      "'reference' (repeatable).")] = None,
):
    """Find and open every video of a split; list the ones that are missing or undecodable."""
    from amge_eval.baselines.data.datasets import check_media
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.official import parse_rewrite

    usable, problems = check_media(dataset, split, labels_dir=resolve_labels_dir(labels_dir),
                                   data_root=data_root, video_root=video_root,
                                   rewrite=parse_rewrite(rewrite))
    out = _out()
    out.print(f"{usable} videos of {dataset}/{split} open and decode.")
    for p in problems[:20]:
        out.print(f"  {p.sample_id}: {p.reason}")
    if problems:
        raise AmgeError(f"{len(problems)} videos are missing or undecodable", code="E711")


# --------------------------------------------------------------------------- baselines

@baselines_app.command("list")
def baselines_list():
    """List registered baselines with trainable parameters counted from the built model vs the
    paper's (a frozen sender is left out, as the papers count)."""
    from rich.table import Table

    from amge_eval.baselines.registry import EXTRA_HINT, list_baselines, unavailable
    from amge_eval.baselines.summary import count_parameters

    t = Table(title="Baselines (parameters in millions, 20 outputs)", title_justify="left")
    for col in ("name", "family", "inputs", "params (built)", "paper #PM", "difference",
                "paper row"):
        t.add_column(col, justify="right" if col.startswith(("params", "paper #", "diff")) else "left")
    for spec in list_baselines():
        n = count_parameters(spec)
        paper = spec.paper_params_m
        diff = "" if paper is None or n is None else f"{n / 1e6 - paper:+.2f}"
        if spec.params_note:
            diff += " *"  # a note below the table says why
        t.add_row(spec.name, spec.family, spec.modality,
                  "-" if n is None else f"{n / 1e6:.2f}", "" if paper is None else f"{paper:.1f}",
                  diff, spec.paper_name or "")
    out = _out()
    out.print(t)
    notes = [(s.name, s.params_note) for s in list_baselines() if s.params_note]
    for name, note in notes:
        out.print(f"{name}: {note}.", markup=False)
    skipped = unavailable()
    if skipped:
        out.print(f"Not listed: the model files {', '.join(sorted(skipped))} need "
                  f"{', '.join(sorted(set(skipped.values())))}, which is not installed "
                  f"({EXTRA_HINT}).", markup=False)


ContainerOpt = Annotated[str, typer.Option(
    "--container", help="Run inside an image: docker, podman or apptainer (none: on this "
    "machine). Data and labels are mounted read-only, the output read-write; the image goes "
    "into the run record (docs/tables.md).")]
ImageOpt = Annotated[str | None, typer.Option(
    "--image", help="The image for --container: a local image reference (docker, podman) or a "
    "SIF file (apptainer); default $AMGE_EVAL_IMAGE.", show_default=False)]
ContainerExtra = Annotated[list[str] | None, typer.Option(
    "--container-opt", help="Extra option for the engine's run command, e.g. "
    "--container-opt=--runtime=runc (repeatable).", show_default=False)]


def _image(container: str, image: str | None) -> str:
    from amge_eval.harness.errors import AmgeError

    image = image or os.environ.get("AMGE_EVAL_IMAGE")
    if not image:
        raise AmgeError(f"--container {container} needs --image (or $AMGE_EVAL_IMAGE): an "
                        f"image built from baselines/containers/Dockerfile (docs/tables.md)",
                        code="E861")
    return image


@app.command("run-baseline")
def run_baseline_cmd(
    name: Annotated[str, typer.Argument(help="Baseline name (see `amge-eval baselines list`).")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset card name; 'synth' "
                                         "is generated on first use.")] = "synth",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: "
                                             "runs/<dataset>/<name>-seed<seed>).")] = None,
    labels_dir: LabelsDir = None,
    data_root: Annotated[Path | None, typer.Option(help="Media root (default: $AMGE_EVAL_DATA, "
                                                   "else ~/.cache/amge-eval/data).")] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file overriding the "
                                                "baseline's config.")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override one setting: "
                                                   "table.key=value (repeatable).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Shortcut for --set train.epochs=N.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Shortcut for --set "
                                                   "train.batch_size=N.")] = None,
    seed: RunSeed = 0,
    preset: Annotated[str | None, typer.Option(help="Config preset applied over the baseline's "
                                               "file, below --config and --set: 'paper' (the "
                                               "papers' and release's recipe, docs/presets.md) "
                                               "or 'default'.")] = None,
    device: Annotated[str, typer.Option(help="auto (a GPU when present), cpu or cuda.")] = "auto",
    weights: Annotated[Path | None, typer.Option(help="Local state-dict file to initialise "
                                                 "the model from (never downloaded).")] = None,
    stage: Annotated[str, typer.Option(help="For a baseline that distils from a frozen sender "
                                       "(TransM3E): 'sender' trains only the sender (it writes "
                                       "sender.pt), 'main' trains the model with --sender, "
                                       "'all' trains the sender into <out>/sender first "
                                       "unless --sender is given.")] = "all",
    sender: Annotated[Path | None, typer.Option(help="The sender.pt of a `--stage sender` run "
                                                "(local file).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue from the run's last checkpoint when "
                                         "one exists.")] = True,
    checkpoint_dir: Annotated[Path | None, typer.Option(help="Where checkpoints go (default: "
                                                     "~/.cache/amge-eval/checkpoints).")] = None,
    skip_bad: Annotated[bool, typer.Option(help="Skip undecodable media and record their ids "
                                           "(the run is then not scored).")] = False,
    resamples: Resamples = 10_000,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    deterministic: Annotated[bool, typer.Option(help="Pin every numerical knob (CPU dispatch, "
                                                "oneDNN, MKL, threads, algorithms) for "
                                                "bit-identical predictions; slower.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars (for CI).")] = False,
    container: ContainerOpt = "none",
    image: ImageOpt = None,
    container_opt: ContainerExtra = None,
):
    """Train and evaluate a baseline; write predictions for all four evaluation splits,
    their scores and a run record."""
    from amge_eval.baselines.runner import RunOptions, run_baseline
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console, score_tables

    opts = RunOptions(baseline=name, dataset=dataset, out=out, labels_dir=labels_dir,
                      data_root=data_root, config_file=config, overrides=tuple(set_ or ()),
                      epochs=epochs, batch_size=batch_size, seed=seed, device=device,
                      weights=weights, resume=resume, skip_bad=skip_bad, resamples=resamples,
                      threads=threads, checkpoint_dir=checkpoint_dir,
                      deterministic=deterministic, preset=preset, stage=stage,
                      sender=sender)
    if container != "none":
        from amge_eval.baselines.launch import run_in_container

        ran = run_in_container(opts, container, _image(container, image),
                               extra=tuple(container_opt or ()))
        digest = ran.info.digest or ran.info.image_id or "no id"
        _out().print(f"Run written to {ran.out} (run.json, predictions/, scores.json) by "
                     f"{container} image {ran.info.image} ({digest})", markup=False)
        return
    with RichProgress(console(stderr=True), quiet=quiet) as progress:
        result = run_baseline(opts, progress)
    if result.record is None:
        return  # a non-zero rank of a torchrun job
    o = _out()
    if result.report is not None:
        if not quiet:
            for t in score_tables(result.report, result.report.ci_kinds[0], per_muscle=False):
                o.print(t)
    else:
        o.print("Some samples were skipped (--skip-bad): predictions are incomplete and were "
                "not scored; see run.json.")
    extra = ", sender.pt" if result.record.stage == "sender" else (
        ", sender/" if (result.out / "sender" / "run.json").is_file() else "")
    o.print(f"Run written to {result.out} (run.json, predictions/, scores.json{extra})")


@app.command("run-table")
def run_table_cmd(
    table: Annotated[str, typer.Argument(help="Table file (TOML, docs/tables.md), or the name of "
                                              "a ready-made one in baselines/tables/ (smoke, "
                                              "paper-v1-table2, paper-v2-table-ii).")],
    out: Annotated[Path | None, typer.Option(help="The table's folder: cells, states, logs, "
                                             "entries, exports (default: "
                                             "runs/tables/<table>).")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="The submissions store the "
                                               "entries go to (default: <out>/store).")] = None,
    status: Annotated[bool, typer.Option("--status", help="Show every cell's progress (done, "
                                         "running, failed with the reason) and stop.")] = False,
    plan: Annotated[bool, typer.Option("--plan", help="List the cells and the GPU-hour "
                                       "estimate and stop.")] = False,
    backend: Annotated[str, typer.Option(help="local (one cell after the other on this "
                                         "machine) or slurm (one job per cell, submitit).")] = "local",
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    container: ContainerOpt = "none",
    image: ImageOpt = None,
    container_opt: ContainerExtra = None,
    slurm_folder: Annotated[Path | None, typer.Option(help="submitit's job folder, on storage "
                                                      "the nodes share (default: "
                                                      "<out>/slurm).")] = None,
    wait: Annotated[bool, typer.Option(help="slurm: wait for the jobs, then enter and export "
                                       "the table.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
):
    """Fill a table of baselines x datasets x presets x seeds: run every missing cell (a rerun
    resumes, done cells are skipped), enter each seed set as one board entry (mean and spread
    over the seeds) and export the table as csv, md, json and latex."""
    from rich.table import Table

    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.vocab import TABLE_KEYS
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console
    from amge_eval.tables import TableOptions, run_table, table_plan, table_status
    from amge_eval.tables.estimate import FORMULA
    from amge_eval.tables.state import counts

    if container != "none":
        image = _image(container, image)
    opts = TableOptions(out=out, store=store, labels_dir=labels_dir, data_root=data_root,
                        backend=backend, container=container, image=image,
                        container_opts=tuple(container_opt or ()), slurm_folder=slurm_folder,
                        wait=wait)
    o = _out()
    if plan:
        cells, est = table_plan(table, opts)
        spec = cells.table.spec
        o.print(f"{spec.title}: {len(cells.cells)} cells ({len(spec.baselines)} baselines x "
                f"{len(spec.datasets)} datasets x {len(spec.presets)} presets x "
                f"{len(spec.seeds)} seeds) in {cells.out}", markup=False)
        t = Table(title="GPU hours (estimate)", title_justify="left")
        for col in ("dataset", "row", "cells", "epochs", "train clips", "GPU hours", "missing"):
            t.add_column(col)
        for r in est.rows:
            t.add_row(r.dataset, r.row, str(r.cells), "-" if r.epochs is None else str(r.epochs),
                      "-" if r.train_clips is None else str(r.train_clips),
                      "-" if r.gpu_hours is None else f"{r.gpu_hours:.1f}", r.missing)
        o.print(t)
        o.print(f"Known: {est.known_hours:.1f} GPU hours; {len(est.unknown)} rows without the "
                f"figures for one. {FORMULA}.", markup=False)
        return
    if status:
        res = table_status(table, opts)
    else:
        with RichProgress(console(stderr=True), quiet=quiet) as progress:
            res = run_table(table, opts, progress)
    t = Table(title=f"{res.plan.table.spec.title}: cells", title_justify="left")
    for col in ("cell", "status", "detail"):
        t.add_column(col)
    for v in res.views:
        t.add_row(v.cell.label, v.status, v.detail[:200])
    o.print(t)
    o.print("Cells: " + ", ".join(f"{n} {k}" for k, n in counts(res.views).items()))
    if res.submitted:
        o.print(f"Submitted {len(res.submitted)} cells (jobs "
                f"{', '.join(sorted(set(res.submitted.values()))[:5])}); follow them with "
                f"`amge-eval run-table {table} --status`", markup=False)
    if not status and res.assembly.entries:
        b = Table(title="Entries (masked mAP %, mean ± sd over seeds)", title_justify="left")
        for col in ("dataset", "entry", "seeds", *TABLE_KEYS):
            b.add_column(col, justify="left" if col in ("dataset", "entry") else "right")
        for (dataset, _), e in res.assembly.entries.items():
            cells = [f"{e.values()[k]:.1f}" + ("" if (sd := e.record.summary[k].spread()) is None
                                                 else f" ± {sd:.1f}") for k in TABLE_KEYS]
            b.add_row(dataset, e.name, str(len(e.record.seeds) or 1), *cells)
        o.print(b)
        o.print(f"Entries: {res.store}. Table: "
                + ", ".join(str(p) for p in res.assembly.exports.values()), markup=False)
    if not status and res.failures:
        first = next(iter(res.failures.items()))
        raise AmgeError(f"{len(res.failures)} cells of the table failed or cannot run (first: "
                        f"{first[0]}: {first[1][:200]}); the others' results are kept. See "
                        f"`amge-eval run-table {table} --status`", code="E866")


@app.command("bench")
def bench_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Video baselines to measure "
                                                      "(default: the full-size ones).",
                                                      show_default=False)] = None,
    device: Annotated[str, typer.Option(help="auto (a GPU when present), cpu or cuda.")] = "auto",
    batch_size: Annotated[int | None, typer.Option(help="Clips per step (default: the "
                                                   "config's on a GPU, 2 on the CPU).",
                                                   show_default=False)] = None,
    steps: Annotated[int, typer.Option(help="Measured training steps (the median is "
                                       "reported).")] = 3,
    warmup: Annotated[int, typer.Option(help="Unmeasured steps first.")] = 1,
    video_size: Annotated[str, typer.Option(help="WIDTHxHEIGHT of the generated h264 video "
                                            "the loader decodes.")] = "320x240",
    loader: Annotated[bool, typer.Option(help="Measure the video loader too.")] = True,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    channels_last: Annotated[bool | None, typer.Option("--channels-last/--no-channels-last",
                                                       help="Channels-last weights and clips "
                                                       "(default: the config's "
                                                       "[train].channels_last).",
                                                       show_default=False)] = None,
    compile: Annotated[bool | None, typer.Option("--compile/--no-compile", help="torch.compile "
                                                 "the model (default: the config's "
                                                 "[train].compile).", show_default=False)] = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the results "
                                                   "as JSON here.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
):
    """Training speed (forward + backward clips/s), peak memory and video-loader clips/s of the
    video baselines on this machine."""
    import json

    from rich.table import Table

    from amge_eval.baselines.bench import bench
    from amge_eval.harness.fileio import write_text_atomic
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console

    with RichProgress(console(stderr=True), quiet=quiet) as progress:
        results = bench(names or (), device=device, batch_size=batch_size, steps=steps,
                        warmup=warmup, video_size=video_size, loader=loader, threads=threads,
                        channels_last=channels_last, compile=compile, progress=progress)
    first = results[0]
    t = Table(title=f"Training speed on {first.device} ({first.device_name}, {first.threads} "
                    f"threads)", title_justify="left")
    for col in ("baseline", "params", "batch", "clip (CxTxHxW)", "train clips/s",
                "peak memory MiB", "loader clips/s"):
        t.add_column(col, justify="left" if col == "baseline" else "right")
    for r in results:
        t.add_row(r.name, f"{r.params / 1e6:.2f}M", str(r.batch_size),
                  "x".join(str(v) for v in r.clip),
                  r.error or f"{r.train_clips_per_s:.2f}",
                  "-" if r.peak_memory_mib is None else f"{r.peak_memory_mib:,.0f}",
                  "-" if r.loader_clips_per_s is None else f"{r.loader_clips_per_s:.2f}")
    out = _out()
    out.print(t)
    flags = ", ".join(f"{r.name}: " + "+".join(k for k, v in (("amp", r.amp),
                      ("channels-last", r.channels_last), ("compile", r.compiled)) if v)
                      for r in results if r.amp or r.channels_last or r.compiled)
    out.print(f"Peak memory: {first.memory_kind}. Loader: decode + augment of one training clip "
              f"in this process (one worker) from a {first.loader_source or 'no'} video."
              + (f" Switches: {flags}." if flags else ""), markup=False)
    if json_path:
        write_text_atomic(json_path, json.dumps([r.to_dict() for r in results], indent=2) + "\n")
        out.print(f"Results written to {json_path}")


# --------------------------------------------------------------------------- leaderboard
leaderboard_app = typer.Typer(help="The leaderboard: build the site, rescore, export, validate.",
                              no_args_is_help=True)
app.add_typer(leaderboard_app, name="leaderboard")

SubmissionsDir = Annotated[Path, typer.Option(
    "--submissions", help="The submissions store (folder of <dataset>/<entry>/).")]
SubmissionsDirs = Annotated[list[Path] | None, typer.Option(
    "--submissions", help="The submissions store (folder of <dataset>/<entry>/); repeat to read "
    "several as one, later ones replacing entries of the same name (default: submissions).")]


@app.command()
def submit(
    path: Annotated[Path, typer.Argument(help="Prediction file, folder of per-split files, or a "
                                              "runner output folder (run.json).")],
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="Dataset card name.")],
    name: Annotated[str, typer.Option(help="Entry name shown on the board.")],
    replace: Annotated[bool, typer.Option(help="Overwrite an entry of the same name.")] = False,
    status: Annotated[str | None, typer.Option(help="verified (prediction files) or reproduced "
                                               "(runner folder); inferred when omitted.")] = None,
    entry_file: Annotated[Path | None, typer.Option(help="TOML file with entry metadata "
                                                    "(docs/leaderboard.md).")] = None,
    submissions: SubmissionsDir = Path("submissions"),
    labels_dir: LabelsDir = None,
    resamples: Resamples = 10_000,
    seed: Seed = 0,
):
    """Validate, score and add one entry to the submissions store (atomically)."""
    from amge_eval.leaderboard.submit import submit as submit_entry

    res = submit_entry(path, dataset, name, submissions_dir=submissions, labels_dir=labels_dir,
                       status=status, entry_file=entry_file, replace=replace,
                       resamples=resamples, seed=seed)
    e = res.entry
    out = _out()
    out.print(f"{'Replaced' if res.replaced else 'Added'} {e.dataset}/{e.slug} ({e.status}): "
              f"test_a {e.values()['test_a']:.1f}")
    for note in res.notes:
        out.print(f"[yellow]Note:[/yellow] {note}")


@leaderboard_app.command("build")
def leaderboard_build(
    out_dir: Annotated[Path, typer.Option("--out", help="Site folder (new, empty, or a site "
                                                        "built before).")] = Path("site"),
    submissions: SubmissionsDirs = None,
    title: Annotated[str, typer.Option(help="Site title.")] = "AMGE leaderboard",
):
    """Build the static leaderboard site (and its exports) from the submissions store."""
    from amge_eval.leaderboard.site import build_site

    res = build_site(submissions or [Path("submissions")], out_dir, title=title)
    _out().print(f"Built {res.pages} pages for {res.entries} entries "
                 f"({', '.join(res.datasets)}) in {res.out_dir}")


@leaderboard_app.command("rescore")
def leaderboard_rescore(
    submissions: SubmissionsDir = Path("submissions"),
    labels_dir: LabelsDir = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Only these datasets.")] = None,
):
    """Re-score every entry with predictions; report rank changes after label or scorer changes."""
    from amge_eval.leaderboard.rescore import rescore

    res = rescore(submissions, labels_dir, datasets=dataset or None)
    rep = res.record
    out = _out()
    out.print(f"Rescored {len(rep.rescored)}, unchanged {len(rep.unchanged)}, "
              f"skipped {len(rep.skipped)}")
    for key, why in rep.reasons.items():
        out.print(f"  {key}: {'; '.join(why)}")
    for key, why in rep.skipped.items():
        out.print(f"  skipped {key}: {why}")
    for m in rep.moves:
        out.print(f"  {m.dataset}/{m.entry}: rank {m.old_rank} -> {m.new_rank}")
    if res.report_path:
        out.print(f"Rank-change report: {res.report_path}")


@leaderboard_app.command("score-pending")
def leaderboard_score_pending(
    labels_dir: Annotated[Path, typer.Option("--labels-dir", help="The decrypted label store "
                                             "(`amge-eval labels decrypt --out DIR`).")],
    submissions: SubmissionsDir = Path("submissions"),
    quota: Annotated[Path | None, typer.Option(help="The quota file (default: "
                                               "<submissions>/quota.toml).",
                                               show_default=False)] = None,
    resamples: Resamples = 10_000,
):
    """Score pending submissions (submissions/_pending/) into verified entries, within each
    team's quota; what CI runs after a merge."""
    from amge_eval.harness.errors import AmgeError
    from amge_eval.leaderboard.pending import score_pending
    from amge_eval.leaderboard.quota import QUOTA_FILE, QuotaPolicy

    policy = QuotaPolicy.from_file(quota or submissions / QUOTA_FILE)
    res = score_pending(submissions, labels_dir, policy, resamples=resamples)
    out = _out()
    out.print(f"Scored {len(res.accepted)} pending submissions, refused {len(res.refused)}")
    for key in res.accepted:
        out.print(f"  added {key}")
    for key, exc in res.refused.items():
        out.print(f"  refused {key} ({exc.code}): {exc.message}")
    if res.refused:
        first = next(iter(res.refused.values()))
        raise AmgeError(f"{len(res.refused)} pending submissions were refused and stay pending "
                        f"(listed above)", code=first.code)


@leaderboard_app.command("export")
def leaderboard_export(
    format: Annotated[str, typer.Option("--format", "-f", help="csv, json, md or latex.")] = "csv",
    submissions: SubmissionsDirs = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Only these datasets.")] = None,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write here instead of "
                                                  "stdout.")] = None,
):
    """Export the board as csv, json, Markdown or a LaTeX (booktabs) table."""
    from amge_eval.harness.fileio import write_text_atomic
    from amge_eval.leaderboard.export import export

    text = export(submissions or [Path("submissions")], format, datasets=dataset or None)
    if out_path:
        write_text_atomic(out_path, text)
    else:
        sys.stdout.write(text)


@leaderboard_app.command("validate")
def leaderboard_validate(
    paths: Annotated[list[str] | None, typer.Argument(help="Changed files or entry folders "
                                                      "(default: every entry).")] = None,
    submissions: SubmissionsDir = Path("submissions"),
    hashes: Annotated[bool, typer.Option(help="Check prediction files against their "
                                              "records.")] = True,
    ids_dir: Annotated[Path | None, typer.Option(help="Public id lists (<DIR>/<dataset>/<split>"
                                                 ".ids, the repository's labels/) to check "
                                                 "pending submissions' ids against.",
                                                 show_default=False)] = None,
):
    """Validate entries of the store, and pending submissions (submissions/_pending/) without
    labels; every problem listed at once."""
    from amge_eval.harness.errors import Problem
    from amge_eval.leaderboard.entries import EntryInvalid
    from amge_eval.leaderboard.pending import validate_pending
    from amge_eval.leaderboard.store import validate_store

    problems: list[Problem] = []
    res = pending = None
    try:
        res = validate_store(submissions, paths=paths or None, verify_hashes=hashes)
    except EntryInvalid as exc:
        problems += exc.problems
    try:
        pending = validate_pending(submissions, paths or None, ids_dir)
    except EntryInvalid as exc:
        problems += exc.problems
    if problems:
        raise EntryInvalid(problems, str(submissions))
    out = _out()
    out.print(f"OK: {len(res.entries)} entries valid")
    if pending:
        how = "against the public id lists" if ids_dir else "format only, no id lists given"
        out.print(f"OK: {len(pending)} pending submissions valid ({how}): {', '.join(pending)}")
    for p in res.leftovers:
        out.print(f"Leftover of a killed write (harmless; `amge-eval leaderboard doctor` removes "
                  f"it): {p}", markup=False)


@leaderboard_app.command("doctor")
def leaderboard_doctor(submissions: SubmissionsDir = Path("submissions")):
    """Finish interrupted writes, remove leftovers of killed ones, and validate the store."""
    from amge_eval.leaderboard.store import doctor

    rep = doctor(submissions)
    out = _out()
    for name in rep.finished:
        out.print(f"Finished the interrupted write {name}", markup=False)
    for name in rep.removed:
        out.print(f"Removed the leftover {name}", markup=False)
    for name in rep.live:
        out.print(f"Left alone (a write in progress): {name}", markup=False)
    out.print(f"OK: {len(rep.check.entries)} entries valid"
              + ("" if rep.finished or rep.removed else "; nothing to repair"))


@leaderboard_app.command("seed")
def leaderboard_seed(
    csv_path: Annotated[Path, typer.Option("--from", help="The papers' reported_results.csv.")],
    submissions: SubmissionsDir = Path("submissions"),
    check: Annotated[bool, typer.Option(help="Only report differences; write nothing.")] = False,
):
    """Write one `reported` entry per row of the papers' main tables."""
    from amge_eval.harness.errors import AmgeError
    from amge_eval.leaderboard.reported import compare_with_csv, seed_reported

    if check:
        diffs = compare_with_csv(submissions, csv_path)
        if diffs:
            raise AmgeError("The store differs from the CSV:\n  " + "\n  ".join(diffs),
                            code="E909")
        _out().print("The reported entries match the CSV.")
        return
    res = seed_reported(csv_path, submissions)
    _out().print(f"Wrote {len(res.written)}, unchanged {len(res.unchanged)}, "
                 f"removed {len(res.removed)}")


# --------------------------------------------------------------------------- main job

@app.command()
def reproduce(
    baseline: Annotated[list[str] | None, typer.Option("--baseline", "-b", help="Baselines to run "
                                                       "(repeatable; default: the statistical "
                                                       "and skeleton baselines).")] = None,
    video: Annotated[bool, typer.Option("--video", help="Also run the tiny CPU variants of the "
                                        "papers' eight video baselines (1.5-4 minutes each per "
                                        "seed on a 2-core CPU) and of TransM3E, both versions "
                                        "(each seed trains its sender first); renders the "
                                        "benchmark's videos.")] = False,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders go.")] = Path("runs"),
    store: Annotated[Path | None, typer.Option("--store", help="Your submissions store, where "
                                               "the reproduced entries go (default: "
                                               "<runs-dir>/submissions).")] = None,
    submissions: Annotated[Path, typer.Option("--submissions", help="The committed store the "
                                              "site shows beside yours (read only).")] = Path("submissions"),
    update_committed: Annotated[bool, typer.Option(help="Maintainers: write the reproduced "
                                                   "entries into --submissions itself.")] = False,
    site: Annotated[Path, typer.Option("--site", help="Where the site is built.")] = Path("site"),
    labels_dir: LabelsDir = None,
    data_root: DataRoot = None,
    seeds: Annotated[int, typer.Option(help="Train every baseline with seeds 0..N-1; the board "
                                       "shows the mean, with the spread over seeds (the "
                                       "committed board uses 3; one keeps the main job near "
                                       "10 minutes on two cores).")] = 1,
    preset: Annotated[str | None, typer.Option(help="Config preset of the trained baselines "
                                               "('paper': the papers' recipe, docs/presets.md); "
                                               "their entries are named <baseline>-<preset>.")] = None,
    resamples: Resamples = 10_000,
    threads: Annotated[int | None, typer.Option(help="torch CPU threads.")] = None,
    deterministic: Annotated[bool, typer.Option(help="Pin every numerical knob (CPU dispatch, "
                                                "oneDNN, MKL, threads, algorithms) for "
                                                "bit-identical predictions; slower.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
):
    """The main job: generate the embedded benchmark, run the statistical and skeleton
    baselines, score them, enter them in your store and build the site from the committed
    store plus yours."""
    from rich.table import Table

    from amge_eval.harness.vocab import TABLE_KEYS
    from amge_eval.progress_ui import RichProgress
    from amge_eval.render import console
    from amge_eval.reproduce import DEFAULT_BASELINES, VIDEO_BASELINES
    from amge_eval.reproduce import reproduce as run_all

    names = tuple(baseline or DEFAULT_BASELINES) + (VIDEO_BASELINES if video else ())
    with RichProgress(console(stderr=True), quiet=quiet) as progress:
        res = run_all(tuple(dict.fromkeys(names)), runs_dir=runs_dir,
                      store=store, committed=submissions, update_committed=update_committed,
                      site_dir=site, labels_dir=labels_dir, data_root=data_root,
                      seeds=tuple(range(seeds)), resamples=resamples, threads=threads,
                      deterministic=deterministic, preset=preset,
                      progress=progress)
    t = Table(title="Embedded benchmark (synth): masked mAP %", title_justify="left")
    for col in ("baseline", "params", *TABLE_KEYS, "seconds"):
        t.add_column(col, justify="left" if col == "baseline" else "right")
    def cell(name, k):
        v, sd = res.summaries[name].get(k), res.spreads[name].get(k)
        return "-" if v is None else f"{v:.1f}" + ("" if sd is None else f" ± {sd:.1f}")

    for name in res.summaries:
        t.add_row(name, f"{res.params[name] / 1e6:.2f}M", *[cell(name, k) for k in TABLE_KEYS],
                  f"{res.seconds[name]:.0f}")
    out = _out()
    out.print(t)
    total = sum(res.seconds.values())
    out.print(f"Total {total:.0f} s. Entries: {res.store}. Site: {res.site}/index.html - serve "
              f"it with `python -m http.server --directory {res.site} 8000` and open "
              f"http://localhost:8000/")


# --------------------------------------------------------------------------- from raw video
# `data skeletons`, `data flow` and `predict` live in their own module, registered here.
from amge_eval import cli_media  # noqa: E402, F401

# --------------------------------------------------------------------------- entry point

def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: maps library errors to messages and exit statuses."""
    try:
        app(args=argv, prog_name="amge-eval")
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - the one place errors become exit statuses
        from amge_eval.harness.errors import AmgeError

        if isinstance(exc, AmgeError):
            from amge_eval.harness.errors import ValidationFailed

            suffix = "" if isinstance(exc, ValidationFailed) else f" ({exc.code})"
            sys.stderr.write(f"Error: {exc.message}{suffix}\n")
            sys.exit(exc.exit_code)
        if os.environ.get("AMGE_EVAL_DEBUG"):
            raise
        sys.stderr.write(f"Internal error: {type(exc).__name__}: {exc}\n"
                         "This is a bug in amge-eval; rerun with AMGE_EVAL_DEBUG=1 for the "
                         "traceback and report it.\n")
        sys.exit(EXIT_INTERNAL)
