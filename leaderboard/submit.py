"""`amge-eval submit`: validate, score and add one entry to the store, as one transaction.

The entry is built in a transaction's staging folder (leaderboard/transaction.py), validated
exactly as the store will read it, and committed under the store's lock together with the check
that its name is free (or ``replace``); the paired tie tests are brought up to date under the same
lock. A reader sees either no entry (or the old one) or the whole new one, whatever moment a
submit is killed at, and two submits of one name never both succeed.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from amge_eval.harness import bootstrap as bs
from amge_eval.harness.datasets import get_card
from amge_eval.harness.errors import AmgeError, Problem, ValidationFailed
from amge_eval.harness.labels import resolve_labels_dir
from amge_eval.harness.progress import NULL_PROGRESS, Progress
from amge_eval.harness.records import ENTRY_VERSION, RecordInvalid, RunRecord, ScoreRecord
from amge_eval.harness.scoring import seed_folders
from amge_eval.harness.vocab import EVAL_SPLITS, STATUSES

from .entries import (
    ENTRY_FILE,
    PREDICTIONS_DIR,
    RUN_FILE,
    RUNS_DIR,
    SCORES_FILE,
    Entry,
    EntryInvalid,
    check_dataset_name,
    entry_slug,
    entry_toml,
    load_entry,
    read_entry_file,
    validate_entry,
)
from .quota import LEDGER_FILE
from .ties import update_ties
from .transaction import Transaction, store_lock


@dataclass
class SubmitResult:
    entry: Entry
    replaced: bool
    notes: list[str] = field(default_factory=list)


def _before_commit() -> None:
    """Called once the entry is built, before the commit (a seam for the race tests)."""


def _runner_inputs(folder: Path, dataset: str) -> tuple[RunRecord, list[Path]]:
    """The run record of a runner output folder and the prediction files it names."""
    source = str(folder / RUN_FILE)
    try:
        run = RunRecord.read(folder / RUN_FILE)
    except RecordInvalid as exc:
        raise EntryInvalid([Problem("E910", exc.message.removeprefix(f"{source}: "), source)],
                           source) from exc
    problems = []
    if run.dataset != dataset:
        problems.append(Problem("E910", f"the run is on dataset {run.dataset!r}, but --dataset "
                                        f"{dataset!r} was given", source))
    files: list[Path] = []
    root = folder.resolve()
    for split, rel in run.predictions.items():
        if split not in EVAL_SPLITS:
            continue
        p = (folder / rel).resolve()
        if not p.is_relative_to(root):
            problems.append(Problem("E910", f"predictions.{split}: {rel[:80]!r} points outside "
                                            f"the run folder", source))
        elif not p.is_file():
            problems.append(Problem("E910", f"predictions.{split}: {rel!r} does not exist",
                                    source))
        else:
            files.append(p)
    if not run.predictions:
        problems.append(Problem("E910", "'predictions' names no prediction file", source))
    names = [p.name for p in files]
    if len(set(names)) != len(names):
        problems.append(Problem("E910", "two prediction files share a file name", source))
    if problems:
        raise EntryInvalid(problems, source)
    return run, files


def _meta_from_run(run: RunRecord, title: str) -> dict:
    """Entry defaults taken from a run record; explicit metadata overrides them."""
    mods = list(run.modalities) or ["none"]
    # what the training loader read, where it read more than the test inputs (TransM3E's
    # RGB difference or skeletons, late fusion's RGB difference)
    train_mods = str(run.data_settings.train.get("modality") or "").split("+")
    out = {"family": run.family, "authors": ["amge-eval baselines"],
           "modalities_train": train_mods if all(train_mods) else mods, "modalities_test": mods,
           "training_data": f"{title} train split", "pretraining": "not stated",
           "preset": run.preset or "default",
           "notes": f"Reproduced with `amge-eval run-baseline {run.baseline}"
                    f"{f' --preset {run.preset}' if run.preset else ''}`."
                    + (f" Parameters: {run.params_note}." if run.params_note else ""),
           "params_m": round(run.params / 1e6, 3)}
    for key, value in (("frames", run.test_frames()), ("views", run.test_views())):
        if value is not None:
            out[key] = value
    return out


def _collect_inputs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    files = [p for p in sorted(path.iterdir())
             if p.is_file() and p.suffix.lower() in (".npz", ".csv")]
    if not files:
        raise AmgeError(f"{path} holds no .npz or .csv prediction files (and no {RUN_FILE} of a "
                        f"runner output folder)", code="E912")
    return files


@dataclass
class _Inputs:
    """What a submission copies: prediction files by destination folder under predictions/
    ("" or "seed-<n>"), and run records by destination path in the entry."""

    files: dict[str, list[Path]]
    runs: dict[str, Path]
    run: RunRecord | None  # the (first seed's) run record, for the entry's metadata


def _inputs(path: Path, dataset: str) -> _Inputs:
    seeds = seed_folders(path) if path.is_dir() else None
    if seeds is None:
        if path.is_dir() and (path / RUN_FILE).is_file():
            run, files = _runner_inputs(path, dataset)
            return _Inputs({"": files}, {RUN_FILE: path / RUN_FILE}, run)
        return _Inputs({"": _collect_inputs(path)}, {}, None)
    runner = {n: (d / RUN_FILE).is_file() for n, d in seeds.items()}
    if any(runner.values()) and not all(runner.values()):
        raise AmgeError(f"{path}: some seed folders are runner output folders (with {RUN_FILE}) "
                        f"and some are not; submit one kind", code="E912")
    if not any(runner.values()):
        return _Inputs({f"seed-{n}": _collect_inputs(d) for n, d in seeds.items()}, {}, None)
    files, runs, records = {}, {}, {}
    for n, d in seeds.items():
        records[n], files[f"seed-{n}"] = _runner_inputs(d, dataset)
        runs[f"{RUNS_DIR}/seed-{n}.json"] = d / RUN_FILE
    first = records[min(records)]
    problems = [Problem("E910", f"seed-{n} holds a run with seed {r.seed}", str(seeds[n]))
                for n, r in records.items() if r.seed != n]
    problems += [Problem("E910", f"seed-{n} ran {r.baseline} with config {r.config_sha256[:12]} "
                                 f"(preset {r.preset or 'default'}), but seed-{min(records)} ran "
                                 f"{first.baseline} with config {first.config_sha256[:12]} "
                                 f"(preset {first.preset or 'default'}): a seed set is one recipe",
                         str(seeds[n]))
                 for n, r in records.items()
                 if (r.baseline, r.config_sha256, r.preset)
                 != (first.baseline, first.config_sha256, first.preset)]
    if problems:
        raise EntryInvalid(problems, str(path))
    return _Inputs(files, runs, first)


def _status(path: Path, runner: bool, status: str | None) -> str:
    if status is not None and status not in STATUSES:
        raise AmgeError(f"Unknown status {status!r}; use one of {', '.join(STATUSES)}", code="E903")
    if runner and status not in (None, "reproduced"):
        raise AmgeError(f"{path} is a runner output folder, so the entry is 'reproduced'; drop "
                        f"--status {status}", code="E904")
    if not runner and status == "reproduced":
        raise AmgeError(f"status 'reproduced' is for runner output folders (with {RUN_FILE}); "
                        f"{path} has none. Submit the folder `amge-eval run-baseline --out` wrote",
                        code="E904")
    if status == "reported":
        raise AmgeError("status 'reported' is for numbers copied from a paper, not for "
                        "predictions; seed those with `amge-eval leaderboard seed`", code="E904")
    return status or ("reproduced" if runner else "verified")


def submit(path: str | os.PathLike, dataset: str, name: str, *,
           submissions_dir: str | os.PathLike = "submissions",
           labels_dir: str | os.PathLike | None = None,
           status: str | None = None,
           entry_file: str | os.PathLike | None = None,
           metadata: dict | None = None,
           replace: bool = False,
           resamples: int = bs.DEFAULT_RESAMPLES,
           seed: int = bs.DEFAULT_SEED,
           tie_resamples: int | None = None,
           progress: Progress = NULL_PROGRESS,
           quota=None, consume: str | None = None) -> SubmitResult:
    """Validate, score and add one entry to the store (atomically).

    ``path`` is a prediction file, a folder of per-split prediction files, or a runner output
    folder (with run.json; the entry is then ``reproduced`` and keeps the run record); or a seed
    set: a folder of ``seed-<n>/`` folders of either kind (one recipe, several seeds: the entry's
    numbers are the means over the seeds, with each seed's value kept). Metadata
    comes from ``entry_file`` (TOML, the keys of docs/leaderboard.md), then ``metadata``, then
    defaults. Refuses an existing entry of the same name unless ``replace``. On any failure the
    store is left as it was. ``consume`` names a folder of the store (relative to it) that the
    same transaction removes: a pending submission, scored exactly once even if this is killed.
    ``quota`` (a leaderboard.quota.QuotaPolicy) refuses a team over its
    quota of test-split scorings before anything is scored, and counts the scoring once the
    entry is committed.
    """
    path = Path(path)
    check_dataset_name(dataset)
    slug = entry_slug(name)
    card = get_card(dataset, resolve_labels_dir(labels_dir))
    if not path.exists():
        raise AmgeError(f"{path}: no such file or directory; give a prediction file, a folder of "
                        f"per-split files, or a runner output folder", code="E912")
    if not (path.is_file() or path.is_dir()):
        raise AmgeError(f"{path} is not a regular file or folder", code="E912")
    inputs = _inputs(path, dataset)
    status = _status(path, bool(inputs.runs), status)

    dataset_dir = Path(submissions_dir) / dataset
    target = dataset_dir / slug
    if target.exists() and not replace:
        raise AmgeError(f"Entry {slug!r} already exists in {dataset_dir}; pass --replace to "
                        f"overwrite it, or choose another --name", code="E907")

    run = inputs.run
    meta: dict = {"entry_version": ENTRY_VERSION, "name": name, "dataset": dataset,
                  "status": status, "authors": [], "modalities_train": ["rgb"],
                  "modalities_test": ["rgb"], "training_data": f"{card.title} train split",
                  "pretraining": "not stated", "family": "other",
                  "added": datetime.now(UTC).date().isoformat()}
    if run is not None:
        meta.update(_meta_from_run(run, card.title))
        seeds = sorted(int(r.split("seed-")[1][:-5]) for r in inputs.runs if "seed-" in r)
        if seeds:
            meta["notes"] = (f"Reproduced with `amge-eval run-baseline {run.baseline} --seed N` "
                             f"for N in {', '.join(map(str, seeds))}; numbers are the means over "
                             f"the seeds.")
    given = dict(read_entry_file(entry_file)) if entry_file is not None else {}
    given.update(metadata or {})
    for key, fixed in (("name", name), ("dataset", dataset), ("status", status)):
        if key in given and given[key] != fixed:
            raise AmgeError(f"The entry file says {key} = {given[key]!r} but the submission is "
                            f"for {fixed!r}; make them agree", code="E911")
    meta.update(given)
    # Validate the metadata before any work; the content checks run again on the built folder.
    typed = validate_entry(meta, str(entry_file or "metadata"), dataset=dataset,
                           has_predictions=True, has_run=run is not None)
    if quota is not None:
        quota.admit(submissions_dir, typed)

    with Transaction.begin(submissions_dir) as txn:
        folder = txn.stage_dir(f"{dataset}/{slug}")
        copies = {}  # copy -> the user's file, to name the user's files in problems
        for sub, files in inputs.files.items():
            dest = folder / PREDICTIONS_DIR / sub
            dest.mkdir(parents=True)
            for f in files:
                shutil.copyfile(f, dest / f.name)
                copies[dest / f.name] = f
        for rel, src in inputs.runs.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, folder / rel)
        report = _score(folder / PREDICTIONS_DIR, copies, path, dataset, labels_dir, resamples,
                        seed, progress)
        ScoreRecord.from_report(report).write(folder / SCORES_FILE)
        (folder / ENTRY_FILE).write_text(entry_toml(typed), encoding="utf-8")
        load_entry(folder, slug=slug, dataset=dataset)  # exactly what will be committed
        _before_commit()
        with store_lock(submissions_dir, "ex"):
            replaced = target.exists()
            if replaced and not replace:
                raise AmgeError(f"Entry {slug!r} was added to {dataset_dir} while this submit "
                                f"ran; pass --replace to overwrite it, or choose another --name",
                                code="E907")
            if quota is not None:  # again under the lock: the ledger is counted with the entry
                quota.admit(submissions_dir, typed)
                ledger = quota.ledger_with(submissions_dir, typed, slug, report.predictions.sha256,
                                           list(report.splits))
                if ledger is not None:
                    txn.stage_file(f"{dataset}/{LEDGER_FILE}", ledger.to_json())
            if consume is not None:
                txn.delete(consume)
            txn.commit()
            result = SubmitResult(load_entry(target), replaced)
            try:
                update_ties(submissions_dir, dataset, labels_dir=labels_dir,
                            resamples=tie_resamples or resamples, seed=seed, progress=progress)
            except AmgeError as exc:
                result.notes.append(f"The paired tie test was not updated: {exc.message}")
    return result


def _score(folder: Path, copies: dict[Path, Path], given: Path, dataset: str, labels_dir,
           resamples, seed, progress: Progress):
    """Score the copied prediction files; problems name the user's files, not the copies."""
    from amge_eval.harness.scoring import score_file

    progress.start("score", total=None)
    try:
        report = score_file(folder, dataset=dataset, labels_dir=labels_dir,
                            resamples=resamples, seed=seed)
    except ValidationFailed as exc:
        raise _relocated(exc, folder, copies, given) from exc
    progress.finish("score")
    missing = [s for s in ("test_seen", "test_unseen") if s not in report.splits]
    if missing:
        raise AmgeError(f"The submission has no predictions for {', '.join(missing)}; the "
                        f"board ranks by test_a and needs test_seen and test_unseen", code="E914")
    return report


def _relocated(exc: ValidationFailed, folder: Path, copies: dict[Path, Path], given: Path
               ) -> ValidationFailed:
    """The scorer's problems with the user's file names instead of the staged copies'."""
    def fix(text: str) -> str:
        for copy, original in copies.items():
            text = text.replace(str(copy), str(original))
        return text.replace(str(folder), str(given))

    return ValidationFailed([Problem(p.code, fix(p.message), fix(p.source))
                             for p in exc.problems], str(given))
