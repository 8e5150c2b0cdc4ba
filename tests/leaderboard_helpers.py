"""Builders shared by the leaderboard tests: prediction folders, runner output folders, and small
submission stores built from the committed reported entries plus scored ones."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amge_eval.harness.predictions import write_predictions
from amge_eval.harness.records import RunRecord, environment
from amge_eval.harness.records.run import (
    DataSettings,
    DeviceInfo,
    EvalViews,
    GitInfo,
    SkippedSample,
    TrainInfo,
)

from .conftest import DATASET, EVAL, Store

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "submissions"
# The papers' main tables, vendored into the package; tests/test_store.py checks the copy
# against shared/paper/reported_results.csv whenever that is beside the checkout.
REPORTED_CSV = REPO / "leaderboard" / "reported_results.csv"
SHARED_CSV = REPO.parent / "shared" / "paper" / "reported_results.csv"
RESAMPLES = 200  # enough for a 95% interval; keeps scoring in tests at a fraction of a second


def informative_scores(labels: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Scores that rank positives above negatives more or less well (noise 0 = perfectly)."""
    rng = np.random.default_rng(seed)
    return (labels + noise * rng.standard_normal(labels.shape)).astype(np.float32)


def write_pred_dir(folder: Path, store: Store, noise: float, seed: int = 0,
                   splits=EVAL, dataset: str = DATASET, labels: dict | None = None) -> Path:
    """One <split>.npz per split; ``labels`` (split -> matrix) overrides what scores follow."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, split in enumerate(splits):
        ls = store.labels[split]
        y = labels[split] if labels and split in labels else ls.labels
        write_predictions(folder / f"{split}.npz", ls.sample_ids,
                          informative_scores(y, noise, seed + i), dataset=dataset, split=split)
    return folder


def run_record(dataset: str = DATASET, skipped=None, **over) -> RunRecord:
    """A run record as baselines/runner.py writes it (``skipped``: split -> ids)."""
    fields = dict(
        created="2026-11-30T00:00:00+00:00", baseline="stgcn", paper_name="ST-GCN",
        family="skeleton", modalities=["skeleton"], dataset=dataset,
        dataset_paper_version="v1", label_fingerprints={}, seed=0,
        config={"model": {"strategy": "uniform"}, "train": {"epochs": 2, "lr": 0.001}},
        config_sha256="0" * 64, git=GitInfo(commit="0123abc", dirty=False),
        environment=environment(), command=["run-baseline", "stgcn", "--out", "<path>"],
        timing={"train_s": 1.5, "eval_s": 0.25, "total_s": 1.75}, paper_params_m=2.6,
        params=2_640_000, params_m=2.64, epochs=2,
        predictions={s: f"predictions/{s}.npz" for s in EVAL}, scores="scores.json",
        benchmark_manifest=None,
        train=TrainInfo(losses=[0.7, 0.6], steps=8, checkpoint="0123456789abcdef/last.pt",
                        run_key="0123456789abcdef", resumed_from_epoch=None),
        device=DeviceInfo(type="cpu", name="test cpu", cpu_threads=2), world_size=1,
        weights=None,
        data_settings=DataSettings(train={"frames": 64}, eval={"frames": 64},
                                   eval_views=EvalViews(temporal=1, spatial=1, aggregate="mean",
                                                        scores="sigmoid")),
        skipped_samples={split: [SkippedSample(sample_id=i, reason="missing") for i in ids]
                         for split, ids in (skipped or {}).items()})
    fields.update(over)
    return RunRecord(**fields)


def write_run_dir(folder: Path, store: Store, noise: float, seed: int = 0,
                  seed_of_run: int | None = None, **over) -> Path:
    """The layout `amge-eval run-baseline NAME --out DIR` writes (``seed`` makes the scores,
    ``seed_of_run`` is the run record's training seed)."""
    write_pred_dir(folder / "predictions", store, noise, seed)
    if seed_of_run is not None:
        over["seed"] = seed_of_run
    (folder / "run.json").write_text(run_record(**over).to_json())
    return folder


def copy_reported(dest: Path, datasets=(DATASET,)) -> Path:
    """A submissions folder holding the committed reported entries of ``datasets``."""
    for ds in datasets:
        shutil.copytree(COMMITTED / ds, dest / ds,
                        ignore=shutil.ignore_patterns(".*", "ties.json"))
    return dest


def all_files(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if p.is_file())


ENTRY = """entry_version = 1
name = "{name}"
dataset = "{dataset}"
status = "verified"
family = "video"
authors = ["A. Person"]
{team}modalities_train = ["rgb"]
modalities_test = ["rgb"]
training_data = "MuscleMap136 train split"
pretraining = "none"
"""


def add_pending(subs: Path, store: Store, name: str, team: str | None = "ACME Lab",
                dataset: str = DATASET, noise: float = 0.5, seed: int = 0,
                folder: str | None = None, splits=EVAL) -> Path:
    """A pending submission (submissions/_pending/<dataset>/<entry>/) for a private dataset."""
    from amge_eval.leaderboard.entries import entry_slug

    d = subs / "_pending" / dataset / (folder or entry_slug(name))
    write_pred_dir(d / "predictions", store, noise, seed, splits=splits, dataset=dataset)
    (d / "entry.toml").write_text(ENTRY.format(
        name=name, dataset=dataset, team=f'team = "{team}"\n' if team else ""))
    return d


HOSTILE_NAME = '=HYPERLINK("http://x")<script>alert("pwn")</script> "Q" \'S\' & Ünïcødé 🏋️‍♀️ שלום'
HOSTILE_NOTES = 'Line one <img src=x onerror=alert(1)>\nline two </dd></dl><script>bad()</script>'


@dataclass
class Fixture:
    subs: Path
    site: Path
    store: Store


def build_fixture(root: Path, store: Store | None = None) -> Fixture:
    """A store with the committed reported rows of musclemap136 and four scored entries (one
    with hostile metadata, one reproduced run that skipped two samples), and its built site."""
    from amge_eval.leaderboard.site import build_site
    from amge_eval.leaderboard.submit import submit

    from .conftest import make_store

    store = store or make_store(root / "labels")
    subs = copy_reported(root / "subs")

    def add(path, name, **kw):
        submit(path, DATASET, name, submissions_dir=subs, labels_dir=store.root,
               resamples=RESAMPLES, **kw)

    add(write_pred_dir(root / "good", store, 0.3, seed=1), "Good model",
        metadata={"family": "video", "authors": ["Ada Lovelace"], "params_m": 12.5,
                  "paper_url": "https://example.org/paper?id=1&v=2"})
    add(write_pred_dir(root / "hostile", store, 0.32, seed=2), HOSTILE_NAME,
        metadata={"family": "other", "authors": ['Mr "Quote" O\'Neil', "<b>bold</b>"],
                  "notes": HOSTILE_NOTES, "training_data": "<i>x</i> & y",
                  "code_url": "https://example.org/code?a=1&b=2"})
    # Runs that skip samples cannot be scored; this one lists training samples it skipped.
    skipped = {"train": [store.ids("train")[0], store.ids("train")[1]]}
    add(write_run_dir(root / "run", store, 0.6, seed=3, skipped=skipped), "ST-GCN")
    add(write_pred_dir(root / "weak", store, 2.5, seed=4), "Weak model",
        metadata={"family": "skeleton", "modalities_train": ["skeleton"],
                  "modalities_test": ["skeleton"]})
    site = root / "site"
    build_site(subs, site)
    return Fixture(subs, site, store)
