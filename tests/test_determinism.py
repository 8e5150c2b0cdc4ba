"""`--deterministic`: the pins are applied and recorded, and two runs give the same bits."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from amge_eval.harness.fileio import sha256_file

from .leaderboard_helpers import REPO

pytestmark = pytest.mark.slow

_SMALL = ["--epochs", "1", "--set", "data.frames=16", "--set", "model.channels=[16,16,32,32]",
          "--set", "model.strides=[1,2,1,2]", "--resamples", "200", "-q"]


def _run(tmp_path, out, *extra):
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY",
                                                             "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")}
    env.update(AMGE_EVAL_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "amge_eval", "run-baseline", "stgcn", "--out",
                          str(out), *_SMALL, *extra], env=env, capture_output=True, text=True,
                         timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    run = json.loads((out / "run.json").read_text())
    digest = {p.name: sha256_file(p) for p in sorted((out / "predictions").iterdir())}
    return run, digest


def test_deterministic_runs_are_bit_identical_and_record_their_pins(tmp_path):
    a, da = _run(tmp_path, tmp_path / "a", "--deterministic", "--no-resume")
    b, db = _run(tmp_path, tmp_path / "b", "--deterministic", "--no-resume")
    assert da == db  # the same bits, prediction file by prediction file
    det = a["determinism"]
    assert det["aten_cpu_capability"] == "AVX2" and det["threads"] == 1
    assert det["env"] == {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2",
                          "MKL_CBWR": "AVX2,STRICT", "CUBLAS_WORKSPACE_CONFIG": ":4096:8"}
    assert det["onednn"] is False and a["device"]["cpu_threads"] == 1
    plain, _ = _run(tmp_path, tmp_path / "c", "--no-resume")
    assert plain["determinism"] is None


def test_deterministic_refuses_a_process_that_already_loaded_torch(tmp_path):
    code = ("import torch, sys; from amge_eval.cli import main; "
            "main(['run-baseline', 'stgcn', '--deterministic', '--out', sys.argv[1]])")
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")],
                         env={**os.environ, "AMGE_EVAL_HOME": str(tmp_path / "home")},
                         capture_output=True, text=True, timeout=300)
    if "AVX2" == subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu."
                                 "get_cpu_capability())"], capture_output=True,
                                text=True).stdout.strip():
        pytest.skip("this CPU's torch already dispatches to AVX2")
    assert res.returncode == 1 and "(E818)" in res.stderr and "before torch is imported" in res.stderr


def test_reproduce_deterministic_pins_before_the_registry_loads_torch(tmp_path):
    """`reproduce --deterministic` looks baselines up (which imports torch and every model)
    before its first run: the pins must already be in place then, or every run refuses (E818).
    The run itself is replaced by the real pin check, which passes only if torch was loaded
    pinned."""
    script = (
        "import sys\n"
        "import amge_eval.baselines.runner as runner\n"
        "from amge_eval.baselines.determinism import pin_environment\n"
        "from amge_eval.reproduce import reproduce\n"
        "class Reached(Exception): pass\n"
        "def fake(opts, progress=None):\n"
        "    assert 'torch' in sys.modules\n"
        "    pin_environment()\n"
        "    import torch\n"
        "    print('capability', torch.backends.cpu.get_cpu_capability())\n"
        "    raise Reached\n"
        "runner.run_baseline = fake\n"
        "try:\n"
        "    reproduce(('har-lookup',), runs_dir=sys.argv[1], committed=sys.argv[1],\n"
        "              site_dir=sys.argv[1], deterministic=True, resamples=200)\n"
        "except Reached:\n"
        "    print('reached the run')\n")
    env = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY",
                                                             "ONEDNN_MAX_CPU_ISA", "MKL_CBWR")}
    env.update(AMGE_EVAL_HOME=str(tmp_path / "home"), PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-c", script, str(tmp_path / "out")], env=env,
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "reached the run" in res.stdout and "capability AVX2" in res.stdout
