"""Build time of the static site for 1,000 generated entries (target: under 5 s on the 2-core
development machine). Run with `pytest tests/benchmarks/test_bench_site.py --benchmark-enable`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from amge_eval.leaderboard.entries import entry_toml, read_entry_file, validate_entry
from amge_eval.leaderboard.site import build_site
from amge_eval.leaderboard.submit import submit

from ..conftest import DATASET, make_store
from ..leaderboard_helpers import COMMITTED, RESAMPLES, write_pred_dir

N_ENTRIES = 1000
N_SCORED = 300  # the rest are reported rows


def generate_store(root: Path, n: int = N_ENTRIES, n_scored: int = N_SCORED) -> Path:
    """``n`` entries in one dataset: clones of one really scored entry with perturbed numbers,
    and reported rows with random numbers."""
    rng = np.random.default_rng(0)
    store = make_store(root / "labels")
    seed_subs = root / "seed"
    submit(write_pred_dir(root / "preds", store, 0.5), DATASET, "Template",
           submissions_dir=seed_subs, labels_dir=store.root, resamples=RESAMPLES)
    template = seed_subs / DATASET / "template"
    record = json.loads((template / "scores.json").read_text())
    meta = read_entry_file(template / "entry.toml")
    reported = read_entry_file(COMMITTED / DATASET / "paper-v1-st-gcn" / "entry.toml")
    subs = root / "subs"
    for i in range(n):
        folder = subs / DATASET / f"entry-{i:04d}"
        if i < n_scored:
            shutil.copytree(template, folder)
            rec = json.loads(json.dumps(record))
            shift = float(rng.normal(0, 5))
            for cell in rec["summary"].values():
                cell["value"] = float(np.clip(cell["value"] + shift, 0, 100))
            for s in rec["splits"].values():
                for m in s["per_muscle"]:
                    if m["ap"] is not None:
                        m["ap"] = float(np.clip(m["ap"] + rng.normal(0, 8), 0, 100))
            (folder / "scores.json").write_text(json.dumps(rec))
            (folder / "entry.toml").write_text(entry_toml(validate_entry(
                {**meta, "name": f"Scored model {i}"})))
        else:
            s, u = rng.uniform(20, 99, 2).round(1)
            t, v = rng.uniform(20, 99, 2).round(1)
            rep = {**reported["reported"], "val_s": s, "val_u": u, "val_a": round((s + u) / 2, 1),
                   "test_s": t, "test_u": v, "test_a": round((t + v) / 2, 1)}
            folder.mkdir(parents=True)
            (folder / "entry.toml").write_text(entry_toml(validate_entry(
                {**reported, "name": f"Paper row {i}", "reported": rep})))
    return subs


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    return generate_store(tmp_path_factory.mktemp("bench-store"))


def test_build_site_1000_entries(benchmark, big_store, tmp_path):
    out = tmp_path / "site"
    result = benchmark.pedantic(build_site, args=(big_store, out), rounds=3, iterations=1)
    assert result.entries == N_ENTRIES and result.pages == N_ENTRIES + 2
