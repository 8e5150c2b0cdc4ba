"""The Slurm backend of `amge-eval run-table`: a table filled through submitit's local executor
(the same pickled jobs a cluster runs), the sbatch scripts submitit generates from a table's
resources (captured by a stand-in `sbatch`), and the torchrun command of a multi-node cell."""

from __future__ import annotations

import pickle
import re
import stat
from pathlib import Path

import pytest

pytest.importorskip("submitit", reason="the Slurm backend needs submitit (pip install -e "
                    "'.[test]')")

from amge_eval.baselines.launch import TorchRun  # noqa: E402
from amge_eval.tables import TableOptions, load_table, run_table, table_status  # noqa: E402
from amge_eval.tables.execute import CellCommand  # noqa: E402
from amge_eval.tables.plan import plan_table  # noqa: E402
from amge_eval.tables.slurm import CellJob  # noqa: E402
from amge_eval.tables.state import read_events  # noqa: E402

from .test_run_table import bench, table_file  # noqa: E402, F401 - the module's fixture

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_slurm_backend_fills_a_table_through_submitits_local_executor(bench, tmp_path,  # noqa: F811
                                                                      monkeypatch):
    monkeypatch.chdir(ROOT)  # the jobs import amge_eval from here, as the submitting process
    table = table_file(tmp_path / "t.toml", baselines=("random", "stgcn"))
    out = tmp_path / "out"
    opts = TableOptions(out=out, labels_dir=bench / "labels", data_root=bench / "data",
                        backend="slurm", slurm_executor="local", wait=True, poll_s=0.5)
    res = run_table(table, opts)
    assert len(res.submitted) == 4
    assert not res.failures, res.failures
    assert [v.status for v in res.views] == ["done"] * 4
    assert sorted(e.slug for e in res.assembly.entries.values()) == ["random", "st-gcn"]
    assert " ± " in (out / "table.md").read_text()
    events = read_events(out)
    assert sorted(e["cell"] for e in events if e["event"] == "submitted") == \
        sorted(c.key for c in res.plan.cells)
    assert all(e["backend"] == "submitit-local" for e in events if e["event"] == "start")
    # run again: every cell is done, nothing is submitted
    again = run_table(table, opts)
    assert again.submitted == {}


def _fake_sbatch(bin_dir: Path, capture: Path) -> None:
    """An `sbatch` that keeps the script it is given and answers like Slurm."""
    bin_dir.mkdir()
    capture.mkdir()
    script = bin_dir / "sbatch"
    script.write_text("#!/bin/sh\n"
                      f"n=$(ls {capture} | wc -l)\n"
                      f"cp \"$1\" {capture}/script-$n.sh\n"
                      "echo \"Submitted batch job $((4200 + n))\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    srun = bin_dir / "srun"  # submitit checks that it is on a Slurm node; never run here
    srun.write_text("#!/bin/sh\nexit 1\n")
    srun.chmod(srun.stat().st_mode | stat.S_IEXEC)


def test_the_generated_sbatch_scripts_carry_each_cells_resources(bench, tmp_path,  # noqa: F811
                                                                 monkeypatch, cli):
    capture = tmp_path / "scripts"
    _fake_sbatch(tmp_path / "bin", capture)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{__import__('os').environ['PATH']}")
    t = tmp_path / "t.toml"
    t.write_text('table_version = 1\ntitle = "cluster"\nbaselines = ["random", "stgcn"]\n'
                 'datasets = ["synth"]\nseeds = [0, 1, 2]\n'
                 '[resources]\npartition = "gpu"\naccount = "lab"\nmem_gb = 64\n'
                 'time_min = 90\ncpus_per_task = 16\narray_parallelism = 2\n'
                 'setup = ["module load cuda/12.6"]\n'
                 '[baseline.stgcn.resources]\nnodes = 2\ngpus_per_node = 4\n')
    out = tmp_path / "out"
    res = run_table(t, TableOptions(out=out, labels_dir=bench / "labels",
                                    data_root=bench / "data", backend="slurm"))
    assert sorted(res.submitted.values()) == [f"{j}_{i}" for j in (4200, 4201) for i in range(3)]
    scripts = [p.read_text() for p in sorted(capture.iterdir())]
    assert len(scripts) == 2  # one job array per distinct resources
    stat_script, gcn_script = scripts
    for s in scripts:
        assert s.startswith("#!/bin/bash")
        for line in ("#SBATCH --array=0-2%2", "#SBATCH --partition=gpu", "#SBATCH --account=lab",
                     "#SBATCH --mem=64GB", "#SBATCH --time=90", "#SBATCH --cpus-per-task=16",
                     "#SBATCH --ntasks-per-node=1", "#SBATCH --job-name=amge-t",
                     "module load cuda/12.6"):
            assert line in s, (line, s)
        assert re.search(r"srun .*submitit\.core\._submit", s)
    assert "#SBATCH --nodes=1" in stat_script and "--gpus-per-node" not in stat_script
    assert "#SBATCH --nodes=2" in gcn_script and "#SBATCH --gpus-per-node=4" in gcn_script
    # every cell is queued with its job, and the progress view says so
    code, stdout, _ = cli("run-table", t, "--out", out, "--status")
    assert code == 0 and "6 queued" in stdout and "job 4201_2" in stdout
    # the pickled jobs run the table's cells
    pickles = sorted((out / "slurm").glob("*_submitted.pkl"))
    assert len(pickles) == 6
    with open(pickles[0], "rb") as f:
        job = pickle.load(f)
    assert isinstance(job.function, CellJob)


def test_a_multi_node_cell_runs_torchrun_on_every_node(bench, tmp_path, monkeypatch):  # noqa: F811
    t = tmp_path / "t.toml"
    t.write_text('table_version = 1\ntitle = "x"\nbaselines = ["stgcn"]\ndatasets = ["synth"]\n'
                 '[resources]\nnodes = 2\ngpus_per_node = 4\n')
    plan = plan_table(load_table(t), tmp_path / "out")
    cmd = CellCommand(cell=plan.cells[0], out=tmp_path / "out", labels_dir=bench / "labels",
                      data_root=bench / "data", device="cuda")
    argv = cmd.argv(TorchRun(nproc=4, nnodes=2, node_rank=1, master_addr="gpu07",
                             master_port=23456))
    i = argv.index("torch.distributed.run")
    assert argv[i + 1:i + 11] == ["--nnodes", "2", "--node_rank", "1", "--nproc_per_node", "4",
                                  "--master_addr", "gpu07", "--master_port", "23456"]
    assert argv[i + 11:i + 15] == ["-m", "amge_eval", "run-baseline", "stgcn"]
    assert "--device" in argv and argv[argv.index("--device") + 1] == "cuda"
    # in the job, the node's place comes from Slurm's environment
    seen = {}

    def fake_run_cell(c, backend, job_id, torchrun, write):
        seen.update(backend=backend, job_id=job_id, torchrun=torchrun, write=write)
        from amge_eval.tables.state import CellState

        return CellState(cell=c.cell.key, status="done", backend=backend)

    monkeypatch.setattr("amge_eval.tables.slurm.run_cell", fake_run_cell)
    for key, value in {"SLURM_JOB_ID": "777", "SLURM_JOB_NUM_NODES": "2", "SLURM_NODEID": "1",
                       "SLURM_JOB_NODELIST": "gpu[07-08]", "SLURM_NTASKS": "2",
                       "SLURM_PROCID": "1", "SLURM_LOCALID": "0",
                       "_TEST_CLUSTER_": "slurm"}.items():  # submitit's own switch for tests
        monkeypatch.setenv(key, value)
    assert CellJob(cmd, "slurm")() == "done"
    tr = seen["torchrun"]
    assert (tr.nproc, tr.nnodes, tr.node_rank, tr.master_addr) == (4, 2, 1, "gpu07")
    assert seen["write"] is False and seen["job_id"] == "777"  # only node 0 writes the state


def test_a_statistical_cell_never_asks_for_a_gpu(tmp_path):
    t = tmp_path / "t.toml"
    t.write_text('table_version = 1\ntitle = "x"\nbaselines = ["random"]\ndatasets = ["synth"]\n'
                 '[resources]\nnodes = 2\ngpus_per_node = 8\n')
    cell = plan_table(load_table(t), tmp_path).cells[0]
    assert (cell.resources.nodes, cell.resources.gpus_per_node) == (1, 0)
    res = table_status(t, TableOptions(out=tmp_path / "out"))
    assert [v.status for v in res.views] == ["pending"]
