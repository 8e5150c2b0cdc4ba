"""The Slurm backend: one job per cell through submitit, cells of the same resources submitted
together as one job array, each job the same `run-baseline` command as the local backend.

A cell asks for ``nodes`` x ``gpus_per_node`` GPUs, ``cpus_per_task``, ``mem_gb`` and
``time_min`` (the table's ``[resources]``, per baseline overridable). Slurm starts one task per
node; each task runs torchrun with one process per GPU (``--nnodes``/``--node_rank`` and the
first node as the rendezvous for several nodes), and the runner trains the cell with DDP. A job
that reaches its time limit or is preempted is requeued by submitit (``checkpoint``) and resumes
from the cell's last checkpoint. Only the first node writes the cell's state.

``executor="local"`` runs the same jobs with submitit's LocalExecutor on this machine (one node),
which is how the tests run this backend without a cluster.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import msgspec

from amge_eval.harness.errors import AmgeError

from .execute import CellCommand, run_cell
from .spec import Resources
from .state import CellState, log_event, read_state, write_state


def _submitit():
    try:
        import submitit
    except ImportError as exc:
        raise AmgeError("The Slurm backend needs submitit: pip install 'amge-eval[cluster]'",
                        code="E867") from exc
    return submitit


class CellJob:
    """The callable a Slurm job runs: one cell, on every node of the job."""

    def __init__(self, cmd: CellCommand, backend: str):
        self.cmd = cmd
        self.backend = backend

    def __call__(self) -> str:
        from amge_eval.baselines.launch import TorchRun

        submitit = _submitit()
        env = submitit.JobEnvironment()
        r = self.cmd.cell.resources
        port = 20000 + zlib.crc32(str(env.job_id).encode()) % 20000
        torchrun = TorchRun(nproc=max(1, r.gpus_per_node), nnodes=env.num_nodes,
                            node_rank=env.node, master_addr=env.hostnames[0], master_port=port)
        state = run_cell(self.cmd, backend=self.backend, job_id=str(env.job_id),
                         torchrun=torchrun, write=env.node == 0)
        if state.status != "done":
            raise RuntimeError(f"cell {self.cmd.cell.key} failed: {state.reason}")
        return state.status

    def checkpoint(self, *args, **kwargs):
        """Requeue on timeout or preemption: the cell resumes from its last checkpoint."""
        return _submitit().helpers.DelayedSubmission(self, *args, **kwargs)


def slurm_parameters(r: Resources, job_name: str) -> dict:
    """submitit's SlurmExecutor parameters (sbatch options) for one cell's resources."""
    params = {"job_name": job_name, "nodes": r.nodes, "ntasks_per_node": 1,
              "cpus_per_task": r.cpus_per_task, "mem": f"{r.mem_gb}GB", "time": r.time_min,
              "array_parallelism": r.array_parallelism, "stderr_to_stdout": True,
              "signal_delay_s": 120}
    if r.gpus_per_node:
        params["gpus_per_node"] = r.gpus_per_node
    for key in ("partition", "account", "qos", "constraint"):
        if getattr(r, key):
            params[key] = getattr(r, key)
    if r.setup:
        params["setup"] = list(r.setup)
    return params


def local_parameters(r: Resources) -> dict:
    """submitit's LocalExecutor parameters for the same cell (one node on this machine)."""
    if r.nodes > 1:
        raise AmgeError(f"A cell of {r.nodes} nodes cannot run on submitit's local executor "
                        f"(one node)", code="E867")
    return {"timeout_min": r.time_min, "gpus_per_node": r.gpus_per_node, "tasks_per_node": 1,
            "nodes": 1}


def make_executor(folder: Path, executor: str = "slurm"):
    submitit = _submitit()
    if executor == "local":
        return submitit.LocalExecutor(folder=folder)
    if executor != "slurm":
        raise AmgeError(f"Unknown submitit executor {executor!r}; use slurm or local",
                        code="E867")
    try:
        return submitit.SlurmExecutor(folder=folder)
    except RuntimeError as exc:  # no srun on PATH: not a Slurm login node
        raise AmgeError(f"--backend slurm: {exc} (`srun` and `sbatch` must be on PATH)",
                        code="E867") from exc


def submit_cells(commands: list[CellCommand], folder: Path, table_name: str,
                 executor: str = "slurm") -> dict[str, object]:
    """Submit one job per cell, one job array per distinct resources; returns cell key -> job.
    Each cell's state becomes "queued" with its job id."""
    groups: dict[bytes, list[CellCommand]] = {}
    for cmd in commands:
        groups.setdefault(msgspec.json.encode(cmd.cell.resources), []).append(cmd)
    backend = "slurm" if executor == "slurm" else "submitit-local"
    jobs: dict[str, object] = {}
    for cmds in groups.values():
        ex = make_executor(folder, executor)
        r = cmds[0].cell.resources
        try:
            ex.update_parameters(**(slurm_parameters(r, f"amge-{table_name}")
                                    if executor == "slurm" else local_parameters(r)))
        except ValueError as exc:
            raise AmgeError(f"submitit refused the resources {r}: {exc}", code="E867") from exc
        try:
            with ex.batch():
                submitted = [ex.submit(CellJob(cmd, backend)) for cmd in cmds]
        except Exception as exc:  # noqa: BLE001 - sbatch missing, refused, unreachable
            if isinstance(exc, AmgeError):
                raise
            raise AmgeError(f"Submitting to {executor} failed: {type(exc).__name__}: "
                            f"{str(exc)[:300]}", code="E867") from exc
        for cmd, job in zip(cmds, submitted):
            _queued(cmd, backend, str(job.job_id))
            jobs[cmd.cell.key] = job
    return jobs


def _queued(cmd: CellCommand, backend: str, job_id: str) -> None:
    old = read_state(cmd.out, cmd.cell)
    attempt = old.attempt + 1 if old is not None else 1
    write_state(cmd.out, CellState(cell=cmd.cell.key, status="queued", backend=backend,
                                   job_id=job_id, attempt=attempt))
    log_event(cmd.out, cmd.cell.key, "submitted", job_id=job_id, backend=backend)
