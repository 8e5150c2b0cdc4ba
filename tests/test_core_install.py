"""With the core install only (no torch, torchvision, av or Pillow: `pip install amge-eval`), the
commands that need none of them work, and the ones that do end in a coded error naming the extra
to install, never in an internal error."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# Block the optional packages in a fresh interpreter as if they were not installed.
_RUN = textwrap.dedent("""
    import sys
    for name in ("torch", "torchvision", "av", "PIL", "pytorchvideo"):
        sys.modules[name] = None  # `import torch` now raises ModuleNotFoundError
    from amge_eval.cli import main
    main(sys.argv[1:])
""")


def _cli(tmp_path, *args):
    env = {"AMGE_EVAL_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-c", _RUN, *map(str, args)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_statistical_baseline_runs_without_torch(tmp_path):
    res = _cli(tmp_path, "run-baseline", "random", "--out", tmp_path / "run", "-q",
               "--resamples", "200")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "run" / "scores.json").is_file()
    assert "Internal error" not in res.stderr


def test_a_model_baseline_names_the_extra(tmp_path):
    res = _cli(tmp_path, "run-baseline", "stgcn", "--out", tmp_path / "run")
    assert res.returncode == 1, res.stderr
    assert "pip install 'amge-eval[baselines]'" in res.stderr and "(E830)" in res.stderr
    assert not (tmp_path / "run").exists()


def test_baselines_list_shows_what_is_available(tmp_path):
    res = _cli(tmp_path, "baselines", "list")
    assert res.returncode == 0, res.stderr
    assert "random" in res.stdout and "stgcn" not in res.stdout.split("Not listed")[0]
    assert "Not listed" in res.stdout and "amge-eval[baselines]" in res.stdout
