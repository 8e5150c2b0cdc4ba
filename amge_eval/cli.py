"""The `amge-eval` command line: parse arguments, call one library function, print.

Heavy modules (numpy, the harness, torch) load inside the commands that need them, so that
`amge-eval --help` stays fast. Library errors (AmgeError) become one `Error: ...` line on stderr
and their exit status; anything else is an internal error (exit 70).
"""

from __future__ import annotations

import os
import sys
from enum import Enum
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
labels_app = typer.Typer(help="The label store: import and list held-out labels.", no_args_is_help=True)
app.add_typer(datasets_app, name="datasets")
app.add_typer(labels_app, name="labels")


class CIKind(str, Enum):
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
Resamples = Annotated[int, typer.Option(help="Bootstrap resamples per interval.")]
Seed = Annotated[int, typer.Option(help="Seed of the bootstrap resampling.")]


def _kinds(ci: CIKind) -> tuple[str, ...]:
    return ("activity", "sample") if ci is CIKind.both else (ci.value,)


def _out():
    from amge_eval.render import console

    return console()


def _write_json(path: Path, obj, inputs: list[Path]) -> None:
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.fileio import write_json_atomic

    if str(path) == "-":
        import json

        sys.stdout.write(json.dumps(obj, indent=2) + "\n")
        return
    for p in inputs:
        if p.exists() and path.exists() and path.resolve() == p.resolve():
            raise AmgeError(f"--json {path} would overwrite an input file; choose another path",
                            code="E601")
    if path.is_dir():
        raise AmgeError(f"--json {path} is a directory; give a file path", code="E601")
    write_json_atomic(path, obj)


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
    from amge_eval.harness.records import result_record
    from amge_eval.harness.scoring import score_file
    from amge_eval.render import score_tables

    report = score_file(predictions, dataset=dataset, split=split, labels_dir=labels_dir,
                        ci_kinds=_kinds(ci), resamples=resamples, seed=seed)
    if json_path:
        _write_json(json_path, result_record(report), [predictions])
    if not quiet and str(json_path) != "-":
        out = _out()
        for t in score_tables(report, report.ci_kinds[0], per_muscle=per_muscle):
            out.print(t)
        fp = ", ".join(f"{s.split} {s.label_fingerprint[:12]}" for s in report.splits.values())
        from amge_eval.harness.records import SCORER_VERSION

        out.print(f"Intervals: {int(report.level * 100)}% percentile bootstrap, {resamples:,} "
                  f"resamples by {' and by '.join(report.ci_kinds)}, seed {seed}. "
                  f"Scorer {SCORER_VERSION}; labels {fp}; predictions sha256 "
                  f"{report.predictions.sha256[:12]}.")
        if json_path:
            out.print(f"Result record written to {json_path}")


@app.command()
def validate(
    predictions: Annotated[Path, typer.Argument(help="Prediction file or directory.")],
    dataset: DatasetOpt = None,
    split: SplitOpt = None,
    labels_dir: LabelsDir = None,
    require_labels: Annotated[bool, typer.Option(help="Fail (exit 3) when the labels needed for "
                                                 "the id checks are not in the store.")] = False,
):
    """Check a prediction file without scoring it; every problem is listed at once.

    File checks always run; id checks run for each split whose labels are in the store.
    Exit status: 0 valid, 1 invalid, 3 labels required but absent.
    """
    from amge_eval.harness.scoring import validate_file

    rep = validate_file(predictions, dataset=dataset, split=split, labels_dir=labels_dir,
                        require_labels=require_labels)
    out = _out()
    rows = ", ".join(f"{k}: {v} rows" for k, v in rep.n_rows.items())
    out.print(f"OK {predictions} ({rep.dataset or 'dataset not named'}; {rows})")
    if rep.checked:
        out.print(f"  ids match the labels of: {', '.join(rep.checked)}")
    if rep.without_labels:
        out.print(f"  no labels in the store for: {', '.join(rep.without_labels)} "
                  f"(file checks only; pass --labels-dir to check ids)")


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
    from amge_eval.harness.records import compare_record
    from amge_eval.harness.scoring import compare_files
    from amge_eval.render import compare_table

    if ci is CIKind.both:
        raise AmgeError("compare takes one resampling unit: --ci activity or --ci sample",
                        code="E600")
    cmp = compare_files(a, b, dataset=dataset, split=split, labels_dir=labels_dir,
                        ci_kind=ci.value, resamples=resamples, seed=seed)
    if json_path:
        _write_json(json_path, compare_record(cmp), [a, b])
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
    t = Table(title="Splits (published sizes)", title_justify="left")
    t.add_column("split")
    t.add_column("samples", justify="right")
    for s, n in c.split_sizes.items():
        t.add_row(s, str(n))
    out.print(t)
    known = ", ".join(c.unseen_activities) or "-"
    more = "" if c.unseen_complete else f" (the paper names {len(c.unseen_activities)} of {c.unseen_count})"
    out.print(f"Unseen activities ({c.unseen_count}){more}: {known}")
    m = Table(title="Muscle groups (label order)", title_justify="left")
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
    activity_from: Annotated[str | None, typer.Option(help="'parent' (activity = the video's "
                                                      "folder name) or 'none'; default: the "
                                                      "card's setting.")] = None,
    rewrite: Annotated[str | None, typer.Option(help="OLD:NEW path component to rewrite in media "
                                                "paths, e.g. musclemap_trimmed:musclemap_rescale.")] = None,
    replace: Annotated[bool, typer.Option(help="Overwrite different labels already in the store.")] = False,
):
    """Import one split from the official release layout (two pickles) into the label store."""
    from amge_eval.harness.datasets import check_split
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.official import import_official

    check_split(split)
    rw = None
    if rewrite:
        if rewrite.count(":") != 1 or "" in rewrite.split(":"):
            raise AmgeError(f"--rewrite takes OLD:NEW, got {rewrite!r}", code="E505")
        rw = tuple(rewrite.split(":"))
    ls, path, warnings = import_official(dataset, split, videos, labels,
                                         resolve_labels_dir(labels_dir), activity_from, replace, rw)
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
