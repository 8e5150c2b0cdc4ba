"""The layering rules of ARCHITECTURE/README, as import-linter contracts (pyproject.toml,
[tool.importlinter]) checked over every import statement, those inside functions included.

The repository maps its folders onto one import namespace (harness/ -> amge_eval.harness, ...),
which import-linter cannot follow from the installed package, so the test lays the source out
as that namespace in a temporary folder (copies of the .py files) and lints it there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")
pytestmark = pytest.mark.skipif(not LINT.is_file(), reason="import-linter is not installed "
                                "(pip install -e '.[test]')")


def _mirror(dest: Path) -> Path:
    pkg = dest / "amge_eval"
    shutil.copytree(ROOT / "amge_eval", pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("harness", "baselines", "leaderboard"):
        shutil.copytree(ROOT / folder, pkg / folder,
                        ignore=shutil.ignore_patterns("__pycache__", "*.toml", "*.csv", "*.j2",
                                                      "*.css", "*.js"))
    return dest


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=root, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)


def test_the_layering_contracts_hold(tmp_path):
    res = _lint(_mirror(tmp_path))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "3 kept, 0 broken" in res.stdout


@pytest.mark.parametrize("where, line, finding", [
    ("harness/metric.py", "def _x():\n    import torch\n",
     "amge_eval.harness is not allowed to import torch"),
    ("harness/scoring.py", "from amge_eval.leaderboard import store\n",
     "amge_eval.harness is not allowed to import amge_eval.leaderboard"),
    ("leaderboard/site.py", "def _y():\n    from amge_eval.baselines import registry\n",
     "amge_eval.leaderboard is not allowed to import amge_eval.baselines"),
    ("baselines/runner.py", "from amge_eval.cli import app\n",
     "amge_eval.baselines is not allowed to import amge_eval.cli"),
])
def test_a_violation_is_caught(tmp_path, where, line, finding):
    root = _mirror(tmp_path)
    path = root / "amge_eval" / where
    path.write_text(path.read_text() + "\n" + line)
    res = _lint(root)
    assert res.returncode != 0 and finding in res.stdout, res.stdout
