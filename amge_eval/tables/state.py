"""What is happening to each cell of a table: one small JSON state file per started cell, an
append-only event log, and the progress view (`amge-eval run-table TABLE --status`).

A cell's status is derived, never stored alone: *done* comes from its run record (plan.py), the
rest from its state file checked against reality: a *running* cell whose process is gone (a
killed run-table) is *interrupted* and resumes from its checkpoint when the table runs again; a
Slurm job that Slurm reports failed, timed out or cancelled is *failed* with that reason. Every
write is atomic, and each cell writes only its own files, so a failure in one cell never
touches another's result.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import msgspec

from amge_eval.harness.fileio import make_dirs, write_text_atomic

from .plan import Cell, Plan, done_record, read_run

STATE_DIR = "state"
LOG_DIR = "logs"
EVENTS_FILE = "events.jsonl"

STATUSES = ("done", "running", "queued", "failed", "interrupted", "pending", "unavailable")


class CellState(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cell: str  # the cell's key
    status: Literal["queued", "running", "done", "failed"]
    backend: str  # "local" or "slurm"
    host: str | None = None  # where it runs
    pid: int | None = None  # the cell's process (local backend)
    job_id: str | None = None  # the Slurm (or submitit local) job
    attempt: int = 1  # how many times it was started
    started: str | None = None  # UTC, ISO 8601
    finished: str | None = None
    seconds: float | None = None
    reason: str | None = None  # why it failed
    log: str | None = None  # its output, relative to the table folder
    command: list[str] = []  # what ran: rerun it by hand to rerun the cell


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def state_path(out: Path, cell: Cell) -> Path:
    return out / STATE_DIR / f"{cell.key}.json"


def log_path(out: Path, cell: Cell) -> Path:
    return out / LOG_DIR / f"{cell.key}.log"


def read_state(out: Path, cell: Cell) -> CellState | None:
    try:
        return msgspec.json.decode(state_path(out, cell).read_bytes(), type=CellState)
    except (OSError, msgspec.DecodeError, msgspec.ValidationError):
        return None


def write_state(out: Path, state: CellState) -> None:
    write_text_atomic(out / STATE_DIR / f"{state.cell}.json",
                      msgspec.json.encode(state).decode() + "\n")


def log_event(out: Path, cell: str, event: str, **info) -> None:
    """Append one line to the event log (one write of one short line: lines never interleave)."""
    make_dirs(out)
    line = json.dumps({"time": now(), "cell": cell, "event": event, **info}) + "\n"
    fd = os.open(out / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read_events(out: Path) -> list[dict]:
    try:
        lines = (out / EVENTS_FILE).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [json.loads(x) for x in lines if x.strip()]


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (exited, not reaped) is not running
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


@dataclass
class CellView:
    cell: Cell
    status: str  # one of STATUSES
    detail: str = ""  # the reason, the job, the seconds...
    state: CellState | None = None


def slurm_state(job_id: str, folder: Path | None) -> str | None:
    """Slurm's state of a job (via submitit and sacct), or None when it cannot be asked."""
    try:
        import submitit
    except ImportError:
        return None
    if folder is None:
        return None
    try:
        return submitit.SlurmJob(folder=folder, job_id=job_id).state
    except Exception:  # noqa: BLE001 - no sacct, no Slurm: unknown, not failed
        return None


SLURM_FAILED = ("FAILED", "TIMEOUT", "CANCELLED", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED",
                "BOOT_FAIL", "DEADLINE", "REVOKED")


def view(plan: Plan, cell: Cell, slurm_folder: Path | None = None) -> CellView:
    state = read_state(plan.out, cell)
    if cell.problem:
        return CellView(cell, "unavailable", cell.problem, state)
    run = done_record(cell)
    if run is not None:
        secs = run.timing.get("total_s")
        return CellView(cell, "done", f"{secs:.0f} s" if secs is not None else "", state)
    if state is None:
        old = read_run(cell)
        return CellView(cell, "pending", "config changed since its run" if old else "")
    if state.status == "failed":
        return CellView(cell, "failed", state.reason or "", state)
    if state.status in ("running", "queued"):
        if state.backend == "local":
            if state.host == socket.gethostname() and not pid_alive(state.pid):
                return CellView(cell, "interrupted", "its process is gone; it resumes from "
                                "its checkpoint when the table runs again", state)
            return CellView(cell, "running", f"pid {state.pid} on {state.host}, since "
                            f"{state.started}", state)
        if state.backend == "submitit-local":  # the job id is the controller's pid
            alive = state.job_id is not None and state.job_id.isdigit() and \
                pid_alive(int(state.job_id))
            if not alive and state.host in (None, socket.gethostname()):
                return CellView(cell, "interrupted", f"job {state.job_id} is gone; it resumes "
                                "from its checkpoint when the table runs again", state)
            return CellView(cell, state.status, f"job {state.job_id}", state)
        slurm = slurm_state(state.job_id, slurm_folder) if state.job_id else None
        if slurm and slurm.split()[0] in SLURM_FAILED:
            return CellView(cell, "failed", f"Slurm job {state.job_id}: {slurm}", state)
        where = f"job {state.job_id}" + (f" ({slurm})" if slurm else "")
        return CellView(cell, state.status, where, state)
    # a state of "done" without a matching record: the folder changed since
    return CellView(cell, "pending", "its run no longer matches the table", state)


def table_views(plan: Plan, slurm_folder: Path | None = None) -> list[CellView]:
    return [view(plan, c, slurm_folder) for c in plan.cells]


def counts(views: list[CellView]) -> dict[str, int]:
    out = {s: 0 for s in STATUSES}
    for v in views:
        out[v.status] += 1
    return {k: v for k, v in out.items() if v}
