"""Training skeleton baselines end to end on a tiny embedded benchmark: outputs, determinism,
resume, and torchrun with two processes against a single-process run."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from amge_eval.harness.vocab import EVAL_SPLITS

TINY = ["--set", "model.channels=[8,8,8,8,16,16,16,16,16,16]", "--set", "data.frames=16",
        "--set", "data.max_persons=1", "--set", "model.layout=\"coco17\"", "--epochs", "2",
        "--batch-size", "8", "--resamples", "200", "--quiet", "--threads", "1"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A small embedded benchmark (skeletons only), generated once for the module."""
    from amge_eval.harness.synth.generate import generate_benchmark

    home = tmp_path_factory.mktemp("bench")
    generate_benchmark(home / "labels", home / "data", clips_per_activity=4, video=False)
    return home


def _run(bench, out, *extra, env=None, launcher=None):
    cmd = (launcher or [sys.executable, "-m", "amge_eval"]) + [
        "run-baseline", "stgcn", "--labels-dir", str(bench / "labels"), "--data-root",
        str(bench / "data"), "--out", str(out), "--checkpoint-dir", str(bench / "ckpt"),
        *TINY, *extra]
    e = {**os.environ, "AMGE_EVAL_HOME": str(bench / "home"), "OMP_NUM_THREADS": "1"}
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, timeout=600)


def _preds(out):
    res = {}
    for split in EVAL_SPLITS:
        with np.load(out / "predictions" / f"{split}.npz") as z:
            res[split] = (z["sample_ids"], z["scores"])
    return res


@pytest.mark.slow
def test_train_outputs_are_complete_and_deterministic(bench, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        r = _run(bench, out, "--no-resume")
        assert r.returncode == 0, r.stderr
    rec = json.loads((a / "run.json").read_text())
    assert rec["epochs"] == 2 and rec["params"] > 0 and rec["world_size"] == 1
    assert rec["config"]["data"]["frames"] == 16
    assert rec["data_settings"]["train"]["frames"] == 16
    assert {"train_s", "eval_s", "score_s", "total_s"} <= set(rec["timing"])
    assert len(rec["train"]["losses"]) == 2
    pa, pb = _preds(a), _preds(b)
    for split in EVAL_SPLITS:
        assert np.array_equal(pa[split][0], pb[split][0])
        np.testing.assert_array_equal(pa[split][1], pb[split][1])
    scores = json.loads((a / "scores.json").read_text())
    assert set(scores["splits"]) == set(EVAL_SPLITS)


@pytest.mark.slow
def test_killed_run_resumes_and_ends_where_an_uninterrupted_run_ends(bench, tmp_path):
    import signal
    import time

    four = ["--set", "train.epochs=4"]
    full = tmp_path / "full"
    assert _run(bench, full, "--no-resume", "--checkpoint-dir", str(tmp_path / "c1"),
                *four).returncode == 0
    ckpts = tmp_path / "c2"
    cmd = [sys.executable, "-m", "amge_eval", "run-baseline", "stgcn", "--labels-dir",
           str(bench / "labels"), "--data-root", str(bench / "data"), "--out",
           str(tmp_path / "part"), *TINY, *four, "--checkpoint-dir", str(ckpts)]
    env = {**os.environ, "AMGE_EVAL_HOME": str(bench / "home"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not list(ckpts.glob("*/last.pt")) and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    r = _run(bench, tmp_path / "part", "--checkpoint-dir", str(ckpts), *four)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "part" / "run.json").read_text())
    assert 1 <= rec["train"]["resumed_from_epoch"] < 4
    pf, pp = _preds(full), _preds(tmp_path / "part")
    for split in EVAL_SPLITS:
        np.testing.assert_allclose(pf[split][1], pp[split][1], atol=1e-6)


@pytest.mark.slow
def test_torchrun_two_processes_equal_a_single_process(bench, tmp_path):
    frozen = ["--set", "train.batchnorm=\"frozen\"", "--no-resume"]
    single = _run(bench, tmp_path / "single", *frozen)
    assert single.returncode == 0, single.stderr
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                "--master_port", "29517", "-m", "amge_eval"]
    multi = _run(bench, tmp_path / "multi", *frozen, launcher=launcher)
    assert multi.returncode == 0, multi.stderr
    rec = json.loads((tmp_path / "multi" / "run.json").read_text())
    assert rec["world_size"] == 2
    ps, pm = _preds(tmp_path / "single"), _preds(tmp_path / "multi")
    for split in EVAL_SPLITS:
        assert np.array_equal(ps[split][0], pm[split][0])
        np.testing.assert_allclose(ps[split][1], pm[split][1], atol=1e-5)
