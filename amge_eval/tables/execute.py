"""Running one cell: its command (the same `run-baseline` command on every backend, under
torchrun or in a container when the table asks), its output into the cell's log, its state
before and after, and the reason when it fails.

Used by the local backend in the run-table process and by the Slurm job on a compute node; only
the first node of a multi-node cell writes the state.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.fileio import make_dirs

from .plan import Cell, done_record
from .state import CellState, log_event, log_path, now, read_state, write_state


@dataclass
class CellCommand:
    """Everything a process needs to run one cell, picklable (a Slurm job carries it)."""

    cell: Cell
    out: Path  # the table folder
    labels_dir: Path
    data_root: Path
    container: str = "none"
    image: str | None = None
    container_opts: tuple[str, ...] = ()
    container_info: object = None  # the image's ContainerInfo, looked up once per table
    python: str = field(default_factory=lambda: sys.executable)

    def options(self):
        from amge_eval.baselines.runner import RunOptions

        c = self.cell
        return RunOptions(baseline=c.baseline, dataset=c.dataset, out=c.folder,
                          labels_dir=self.labels_dir, data_root=self.data_root,
                          overrides=c.overrides, seed=c.seed, device=self.device,
                          resume=True, checkpoint_dir=self.out / "checkpoints",
                          resamples=self.resamples, threads=self.threads,
                          deterministic=self.deterministic,
                          preset=None if c.preset == "default" else c.preset)

    # table-wide settings, set by the backend from the table file
    device: str = "auto"
    resamples: int = 10_000
    threads: int | None = None
    deterministic: bool = False

    def argv(self, torchrun=None) -> list[str]:
        from amge_eval.baselines.launch import TorchRun, host_argv, prepare_container

        r = self.cell.resources
        torchrun = torchrun or TorchRun(nproc=max(1, r.gpus_per_node), nnodes=r.nodes)
        if self.device == "cpu" or self.cell.family == "statistical":
            torchrun = TorchRun()
        if self.container == "none":
            return host_argv(self.options(), self.python, torchrun)
        run = prepare_container(self.options(), self.container, self.image, torchrun=torchrun,
                                extra=self.container_opts, info=self.container_info)
        run.remove_leftover()
        return run.argv


def _die_with_parent() -> None:
    """In the child: get SIGTERM when the parent dies (Linux), so that killing run-table stops
    its cell too instead of leaving it running unwatched."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def failure_reason(returncode: int, log: Path) -> str:
    """The reason a cell failed: the runner's `Error: ...` line when it printed one."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    try:
        lines = [x.strip() for x in log.read_text(errors="replace").splitlines() if x.strip()]
    except OSError:
        lines = []
    for line in reversed(lines):
        if line.startswith(("Error:", "Internal error:", "Traceback")):
            return f"{line} (exit {returncode})"
    return f"exit {returncode}" + (f": {lines[-1][:300]}" if lines else "")


def run_cell(cmd: CellCommand, backend: str = "local", job_id: str | None = None,
             torchrun=None, write: bool = True) -> CellState:
    """Run one cell to its end; returns (and, with ``write``, records) its final state."""
    cell, out = cmd.cell, cmd.out
    old = read_state(out, cell)
    attempt = 1 if old is None else old.attempt if old.status == "queued" else old.attempt + 1
    log = log_path(out, cell)
    make_dirs(log.parent)
    state = CellState(cell=cell.key, status="running", backend=backend,
                      host=socket.gethostname(), job_id=job_id, attempt=attempt, started=now(),
                      log=str(log.relative_to(out)))
    t0 = time.perf_counter()
    try:
        argv = cmd.argv(torchrun)
    except Exception as exc:  # noqa: BLE001 - a cell that cannot even start is one failure
        from amge_eval.harness.errors import AmgeError

        reason = exc.message if isinstance(exc, AmgeError) else f"{type(exc).__name__}: {exc}"
        state.status, state.reason, state.finished = "failed", reason, now()
        if write:
            write_state(out, state)
            log_event(out, cell.key, "failed", reason=reason)
        return state
    state.command = argv  # the state is this machine's (unlike a run record): real paths
    with open(log, "a", encoding="utf-8") as f:
        f.write(f"==== {now()} attempt {attempt}: {' '.join(argv)}\n")
        f.flush()
        proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                preexec_fn=_die_with_parent if os.name == "posix" else None)
        state.pid = proc.pid
        if write:
            write_state(out, state)
            log_event(out, cell.key, "start", attempt=attempt, backend=backend,
                      **({"job_id": job_id} if job_id else {}))
        try:
            returncode = proc.wait()
        except BaseException:
            proc.terminate()
            proc.wait()
            raise
    state.seconds = round(time.perf_counter() - t0, 1)
    state.finished = now()
    if returncode == 0 and done_record(cell) is not None:
        state.status = "done"
    elif returncode == 0:
        state.status = "failed"
        state.reason = ("the run ended without a record that matches the table (baseline, "
                        "preset, seed and config hash); see its log")
    else:
        state.status, state.reason = "failed", failure_reason(returncode, log)
    if write:
        write_state(out, state)
        log_event(out, cell.key, state.status, seconds=state.seconds,
                  **({"reason": state.reason} if state.reason else {}))
    return state
