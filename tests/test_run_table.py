"""`amge-eval run-table`: the table file's checks, the ready-made paper tables, the local backend
end to end on a tiny embedded benchmark (statistical and GCN baselines, 2 seeds), resuming after
run-table is killed between cells and inside a cell, a failing cell that loses nobody else's
result, the progress view, and the lock."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.records import RunRecord
from amge_eval.tables import TableOptions, load_table, run_table, table_plan, table_status
from amge_eval.tables.plan import plan_table
from amge_eval.tables.run import table_lock
from amge_eval.tables.state import read_events

ROOT = Path(__file__).resolve().parents[1]
TINY_GCN = ['"train.epochs=1"', '"data.frames=16"', '"train.batch_size=8"',
            '"model.channels=[8,8,8,8,16,16,16,16,16,16]"']


def table_file(path: Path, baselines=("random", "stgcn"), seeds=(0, 1), extra: str = "",
               gcn_epochs: int = 1) -> Path:
    sets = ", ".join(s.replace("epochs=1", f"epochs={gcn_epochs}") for s in TINY_GCN)
    rows = "".join(f'\n[baseline.{b}]\nset = [{sets}]\n' for b in baselines
                   if b in ("stgcn", "ctrgcn", "hdgcn"))
    path.write_text(f'table_version = 1\ntitle = "tiny"\nbaselines = {json.dumps(list(baselines))}'
                    f'\ndatasets = ["synth"]\nseeds = {json.dumps(list(seeds))}\nresamples = 200'
                    f'\nthreads = 1\n{extra}{rows}')
    return path


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    """A tiny embedded benchmark (skeletons only), generated once for the module."""
    from amge_eval.harness.synth.generate import generate_benchmark

    home = tmp_path_factory.mktemp("bench")
    generate_benchmark(home / "labels", home / "data", clips_per_activity=4, video=False)
    return home


def options(bench, out, **kw) -> TableOptions:
    return TableOptions(out=out, labels_dir=bench / "labels", data_root=bench / "data", **kw)


def _env(bench) -> dict:
    return {**os.environ, "AMGE_EVAL_HOME": str(bench / "home"), "OMP_NUM_THREADS": "1"}


def _cli(bench, table, out, *extra, timeout=900):
    cmd = [sys.executable, "-m", "amge_eval", "run-table", str(table), "--out", str(out),
           "--labels-dir", str(bench / "labels"), "--data-root", str(bench / "data"), "-q",
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=_env(bench), timeout=timeout,
                          cwd=ROOT)


# --------------------------------------------------------------------------- the table file

def test_every_problem_of_a_table_file_is_listed_at_once(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('table_version = 1\ntitle = "x"\nbaselines = ["random", "random"]\n'
                   'datasets = ["synth"]\nseeds = []\nsedes = [1]\nset = ["lr=1"]\n'
                   '[resources]\ngpus_per_node = "two"\n[baseline.stgcn]\nset = []\n')
    with pytest.raises(AmgeError) as err:
        load_table(bad)
    msg = err.value.message
    assert err.value.code == "E864"
    for part in ("unknown key 'sedes'. Did you mean 'seeds'", "--set expects table.key=value",
                 "resources.gpus_per_node: expected int", "seeds: expected at least one value",
                 "baselines: repeated: random", "'stgcn' is not one of the table's baselines"):
        assert part in msg, msg


def test_a_missing_or_broken_table_file_says_so(tmp_path):
    with pytest.raises(AmgeError, match="not found; give a path or one of the ready-made "
                                        "tables: .*paper-v1-table2.*smoke") as err:
        load_table(tmp_path / "nope.toml")
    assert err.value.code == "E863"
    broken = tmp_path / "broken.toml"
    broken.write_text("title = [")
    with pytest.raises(AmgeError, match="not valid TOML") as err:
        load_table(broken)
    assert err.value.code == "E863"


def _csv_rows(version: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    with open(ROOT / "leaderboard" / "reported_results.csv", newline="") as f:
        for r in csv.DictReader(f):
            if r["paper_version"] == version:
                rows.setdefault(r["dataset"], []).append(r["model"])
    return rows


@pytest.mark.parametrize("name, version", [("paper-v1-table2", "v1"),
                                           ("paper-v2-table-ii", "v2")])
def test_the_papers_tables_list_the_papers_rows(tmp_path, name, version):
    table = load_table(name)
    rows = _csv_rows(version)
    assert table.spec.datasets == list(rows)
    for dataset, models in rows.items():
        assert table.spec.baselines == models, dataset
    plan = plan_table(table, tmp_path)
    assert len(plan.cells) == sum(len(m) for m in rows.values()) * len(table.spec.seeds)
    by_row = {c.row: c for c in plan.cells}
    for paper_row in ("Random", "ST-GCN", "HD-GCN"):  # registered baselines resolve by paper row
        assert by_row[paper_row].baseline is not None
    assert by_row["Random"].preset == "default" and by_row["Random"].problem is None
    gcn = by_row["ST-GCN"]  # the papers' recipe, with the epochs of the paper's version
    assert gcn.preset == "paper" and gcn.problem is None
    assert gcn.config.train.epochs == (10 if version == "v1" else 80)
    # a row no baseline registers yet is listed with the reason, never silently dropped
    unregistered = [c for c in plan.cells if c.baseline is None]
    assert all("not registered" in c.problem for c in unregistered)


def test_the_gpu_hour_estimate_follows_its_formula(tmp_path):
    t = tmp_path / "t.toml"
    t.write_text('table_version = 1\ntitle = "x"\nbaselines = ["random", "stgcn"]\n'
                 'datasets = ["musclemap136"]\nseeds = [0, 1]\n'
                 '[baseline.stgcn]\ntrain_clips_per_s = 400.0\neval_clips_per_s = 1000.0\n')
    plan, est = table_plan(t, TableOptions(out=tmp_path / "out"))
    rows = {r.row: r for r in est.rows}
    assert rows["Random"].gpu_hours == 0.0
    st = rows["ST-GCN"]
    from amge_eval.harness.datasets import get_card

    sizes = get_card("musclemap136").split_sizes
    n_eval = sum(v for k, v in sizes.items() if k != "train")
    assert st.train_clips == sizes["train"] and st.eval_clips == n_eval and st.epochs == 8
    expected = 2 * (8 * sizes["train"] / 400.0 + 1 * n_eval / 1000.0) / 3600
    assert st.gpu_hours == pytest.approx(expected)
    t.write_text(t.read_text().replace("train_clips_per_s = 400.0\n", ""))
    _plan, est = table_plan(t, TableOptions(out=tmp_path / "out"))
    assert [r.row for r in est.unknown] == ["ST-GCN"]
    assert "clips/s per GPU" in est.unknown[0].missing


def test_presets_make_their_own_cells_and_entries(tmp_path):
    t = tmp_path / "t.toml"
    t.write_text('table_version = 1\ntitle = "x"\nbaselines = ["random", "stgcn"]\n'
                 'datasets = ["synth", "musclemap-wild"]\npresets = ["default", "paper"]\n'
                 '[baseline.random]\npresets = ["default"]\n')
    plan = plan_table(load_table(t), tmp_path)
    names = sorted({(c.dataset, c.name) for c in plan.cells})
    assert names == [("musclemap-wild", "Random"), ("musclemap-wild", "ST-GCN (default)"),
                     ("musclemap-wild", "ST-GCN (paper)"), ("synth", "Random"),
                     ("synth", "ST-GCN (default)"), ("synth", "ST-GCN (paper)")]
    digests = {(c.dataset, c.preset): c.digest for c in plan.cells if c.row == "stgcn"}
    assert len(set(digests.values())) == 3  # v2 trains the paper preset longer than v1 and synth
    assert digests[("synth", "default")] == digests[("musclemap-wild", "default")]
    t.write_text(t.read_text().replace('"default", "paper"]', '"default", "papr"]'))
    plan = plan_table(load_table(t), tmp_path)
    bad = next(c for c in plan.cells if c.preset == "papr")
    assert "Unknown preset 'papr'. Did you mean 'paper'" in bad.problem


# --------------------------------------------------------------------------- the local backend

@pytest.mark.slow
def test_the_local_backend_fills_a_table_end_to_end(bench, tmp_path):
    table = table_file(tmp_path / "t.toml", baselines=("random", "stgcn", "hdgcn"))
    out = tmp_path / "out"
    res = run_table(table, options(bench, out))
    assert not res.failures, res.failures
    assert {v.status for v in res.views} == {"done"} and len(res.views) == 6
    for cell in res.plan.cells:  # the plan's config hash is exactly the runner's
        assert RunRecord.read(cell.folder / "run.json").config_sha256 == cell.digest
    entries = {e.slug: e for e in res.assembly.entries.values()}
    assert sorted(entries) == ["hd-gcn", "random", "st-gcn"]
    for e in entries.values():
        assert e.status == "reproduced" and e.record.seeds == [0, 1] and sorted(e.runs) == [0, 1]
        cell = e.record.summary["test_a"]
        assert len(cell.seed_values) == 2 and cell.spread() is not None
    md = (out / "table.md").read_text()
    assert "| ST-GCN |" in md and " ± " in md
    board = json.loads((out / "table.json").read_text())
    rows = board["datasets"][0]["rows"]
    assert {r["name"] for r in rows} == {"Random", "ST-GCN", "HD-GCN"}
    assert all(r["seeds"] == [0, 1] and r["spread"]["test_a"] is not None for r in rows)
    assert (out / "table.csv").is_file() and (out / "table.tex").is_file()
    # a second run finds every cell done: nothing starts, nothing is entered again
    events = len(read_events(out))
    again = run_table(table, options(bench, out))
    assert again.ran == [] and again.assembly.submitted == []
    assert len(read_events(out)) == events


@pytest.mark.slow
def test_a_preset_cell_runs_with_its_preset(bench, tmp_path):
    table = table_file(tmp_path / "t.toml", baselines=("stgcn",), seeds=(0,),
                       extra='presets = ["paper"]\n')
    res = run_table(table, options(bench, tmp_path / "out"))
    assert not res.failures, res.failures
    cell = res.plan.cells[0]
    run = RunRecord.read(cell.folder / "run.json")
    assert run.preset == "paper" and run.config_sha256 == cell.digest
    assert run.config["train"]["loss"] == "softmax-bce"  # from the preset
    assert run.config["data"]["frames"] == 16  # the table's override, over the preset
    entry = next(iter(res.assembly.entries.values()))
    assert entry.meta.preset == "paper"


@pytest.mark.slow
def test_a_video_baseline_in_a_table(tmp_path_factory, tmp_path):
    """A tiny video baseline goes through run-table as the skeleton ones do: its cell trains on
    the embedded benchmark's videos, its entry and its row in the exports are made."""
    from amge_eval.harness.synth.generate import generate_benchmark

    home = tmp_path_factory.mktemp("video-table")
    generate_benchmark(home / "labels", home / "data", clips_per_activity=3, video=True,
                       size=128, frames=(40, 56))
    table = tmp_path / "t.toml"
    table.write_text('table_version = 1\ntitle = "video"\nbaselines = ["c2d-r50-tiny"]\n'
                     'datasets = ["synth"]\nseeds = [0]\nresamples = 200\nthreads = 1\n'
                     '[baseline.c2d-r50-tiny]\nset = ["train.epochs=1"]\n')
    out = tmp_path / "out"
    res = run_table(table, options(home, out))
    assert not res.failures, res.failures
    assert [v.status for v in res.views] == ["done"]
    cell = res.plan.cells[0]
    run = RunRecord.read(cell.folder / "run.json")
    assert run.family == "video" and run.config_sha256 == cell.digest and run.epochs == 1
    (entry,) = res.assembly.entries.values()
    assert entry.status == "reproduced" and entry.record.seeds == [0]
    rows = json.loads((out / "table.json").read_text())["datasets"][0]["rows"]
    assert [r["name"] for r in rows] == [entry.name]


@pytest.mark.slow
def test_a_killed_table_resumes_and_runs_no_cell_twice(bench, tmp_path):
    """Kill run-table (SIGKILL) once the two statistical cells are done and the first GCN cell
    has written a checkpoint: the rerun starts neither finished cell again, and the killed cell
    resumes from its checkpoint."""
    table = table_file(tmp_path / "t.toml", gcn_epochs=4)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "amge_eval", "run-table", str(table), "--out", str(out),
           "--labels-dir", str(bench / "labels"), "--data-root", str(bench / "data"), "-q"]
    proc = subprocess.Popen(cmd, env=_env(bench), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    ckpts = out / "checkpoints"
    while time.time() < deadline and proc.poll() is None:
        done = [e for e in read_events(out) if e["event"] == "done"]
        if len(done) >= 2 and list(ckpts.glob("*/last.pt")):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {e["cell"] for e in read_events(out) if e["event"] == "done"}
    assert before == {"synth--random--seed-0", "synth--random--seed-1"}
    killed = "synth--st-gcn--seed-0"
    state = json.loads((out / "state" / f"{killed}.json").read_text())
    deadline = time.time() + 60  # the cell's process dies with run-table (PR_SET_PDEATHSIG)
    while time.time() < deadline and Path(f"/proc/{state['pid']}").exists():
        time.sleep(0.1)
    status = _cli(bench, table, out, "--status")
    assert status.returncode == 0, status.stderr
    assert "interrupted" in status.stdout and "2 done" in status.stdout

    r = _cli(bench, table, out)
    assert r.returncode == 0, r.stdout + r.stderr
    events = read_events(out)
    starts = {}
    for e in events:
        if e["event"] == "start":
            starts[e["cell"]] = starts.get(e["cell"], 0) + 1
    assert starts["synth--random--seed-0"] == 1 and starts["synth--random--seed-1"] == 1
    assert starts[killed] == 2 and starts["synth--st-gcn--seed-1"] == 1
    dones = [e["cell"] for e in events if e["event"] == "done"]
    assert sorted(dones) == sorted(set(dones)) and len(dones) == 4  # each cell finished once
    run = RunRecord.read(out / "cells" / "synth" / "st-gcn" / "seed-0" / "run.json")
    assert run.train.resumed_from_epoch is not None and run.train.resumed_from_epoch >= 1
    assert "4 done" in _cli(bench, table, out, "--status").stdout


@pytest.mark.slow
def test_a_failing_cell_loses_no_other_result(bench, tmp_path, cli):
    t = tmp_path / "t.toml"
    table_file(t, baselines=("random", "hdgcn", "nonesuch"), seeds=(0,),
               extra='[baseline.nonesuch]\nname = "Nothing"\n')
    # a config the checker accepts but the run refuses: the model's person slots differ
    t.write_text(t.read_text().replace('"train.epochs=1"', '"train.epochs=1", "model.persons=2"'))
    out = tmp_path / "out"
    res = run_table(t, options(bench, out))
    status = {v.cell.row: v for v in res.views}
    assert status["random"].status == "done"
    assert status["hdgcn"].status == "failed" and "(E803)" in status["hdgcn"].detail
    assert status["nonesuch"].status == "unavailable"
    assert "not registered" in status["nonesuch"].detail
    assert [e.slug for e in res.assembly.entries.values()] == ["random"]
    assert set(res.failures) == {"synth--hd-gcn--seed-0", "synth--nothing--seed-0"}
    # the command says so with its own code, after writing the table of what finished
    code, stdout, stderr = cli("run-table", t, "--out", out, "--labels-dir", bench / "labels",
                               "--data-root", bench / "data", "-q")
    assert code == 1 and "(E866)" in stderr and "2 cells of the table failed" in stderr
    assert "| Random |" in (out / "table.md").read_text()
    code, stdout, _ = cli("run-table", t, "--out", out, "--status")
    assert code == 0 and "1 done, 1 failed, 1 unavailable" in stdout


def test_a_table_folder_is_held_by_one_run_table(bench, tmp_path):
    table = table_file(tmp_path / "t.toml", baselines=("random",), seeds=(0,))
    out = tmp_path / "out"
    with table_lock(out):
        with pytest.raises(AmgeError, match="in use by another run-table") as err:
            run_table(table, options(bench, out))
    assert err.value.code == "E865"
    assert not (out / "cells").exists()
    res = table_status(table, options(bench, out))  # the view needs no lock
    assert [v.status for v in res.views] == ["pending"]


def test_unknown_backend_and_missing_image_are_refused(bench, tmp_path):
    table = table_file(tmp_path / "t.toml", baselines=("random",), seeds=(0,))
    with pytest.raises(AmgeError, match="--backend must be one of local, slurm") as err:
        run_table(table, options(bench, tmp_path / "out", backend="lsf"))
    assert err.value.code == "E867"
    with pytest.raises(AmgeError, match="needs --image") as err:
        run_table(table, options(bench, tmp_path / "out", container="podman"))
    assert err.value.code == "E861"
