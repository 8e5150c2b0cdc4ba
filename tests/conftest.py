"""Shared fixtures. Every test runs with amge-eval's default locations inside a temporary
folder, so no test reads or writes the user's ~/.cache/amge-eval."""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from amge_eval.harness.labels import make_label_set, write_labels

# Property tests draw the same examples on every run (seeded by each test's name), so CI is
# reproducible; HYPOTHESIS_PROFILE=default explores new random examples instead.
settings.register_profile("amge", derandomize=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "amge"))

DATASET = "musclemap136"
EVAL = ("val_seen", "val_unseen", "test_seen", "test_unseen")


def needs_extra(extra: str, *modules: str) -> pytest.MarkDecorator:
    """Skip, naming the install line, when a module of an optional extra does not import (the
    CI test extra installs them all, so there they run)."""
    missing = []
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return pytest.mark.skipif(bool(missing), reason=f"needs {', '.join(missing)} (pip install "
                              f"-e '.[{extra}]')")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("amge-home")
    monkeypatch.setenv("AMGE_EVAL_HOME", str(home))
    monkeypatch.delenv("AMGE_EVAL_LABELS", raising=False)
    monkeypatch.delenv("AMGE_EVAL_DATA", raising=False)
    monkeypatch.delenv("AMGE_EVAL_MAX_BYTES", raising=False)


@dataclass
class Store:
    """A small label store with per-activity labels, and matching informative scores."""

    root: Path
    labels: dict  # split -> LabelSet
    scores: dict  # split -> (N, 20) float32 aligned with labels

    def ids(self, split):
        return self.labels[split].sample_ids.tolist()


def make_store(root: Path, seed: int = 0, sizes=None, dataset: str = DATASET) -> Store:
    rng = np.random.default_rng(seed)
    sizes = sizes or {"train": (60, 12), "val_seen": (90, 12), "val_unseen": (80, 5),
                      "test_seen": (90, 12), "test_unseen": (84, 5)}
    seen_table = (rng.random((12, 20)) < 0.3).astype(np.uint8)
    unseen_table = (rng.random((5, 20)) < 0.3).astype(np.uint8)
    labels, scores = {}, {}
    for split, (n, n_act) in sizes.items():
        table = unseen_table if "unseen" in split else seen_table
        prefix = "u" if "unseen" in split else "s"
        act = rng.integers(0, n_act, n)
        y = table[act]
        ids = [f"{prefix}act_{a}/{split}_{i:04d}" for i, a in enumerate(act)]
        ls = make_label_set(dataset, split, ids, [f"{prefix}act {a}" for a in act],
                            [f"videos/{i}.mp4" for i in ids], y)
        write_labels(root, ls)
        labels[split] = ls
        scores[split] = (0.8 * y + rng.random((n, 20))).astype(np.float32)
    return Store(root, labels, scores)


@pytest.fixture
def store(tmp_path) -> Store:
    return make_store(tmp_path / "labels")


def tree_digest(root: Path) -> str:
    """sha256 over every file's relative path, bytes and mtime under root (or the file)."""
    h = hashlib.sha256()
    root = Path(root)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    for p in files:
        h.update(str(p.relative_to(root.parent if root.is_file() else root)).encode())
        h.update(p.read_bytes())
        h.update(str(p.stat().st_mtime_ns).encode())
    return h.hexdigest()


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns (exit status, stdout, stderr)."""
    from amge_eval.cli import main

    def run(*args):
        code = 0
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
