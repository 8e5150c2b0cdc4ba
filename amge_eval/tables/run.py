"""`amge-eval run-table`: fill a table, resume it, show its progress.

run_table: plan the cells -> generate the embedded benchmark when the table uses it -> run every
cell that is not done (the local backend, one after the other in this process's children; or
one Slurm job per cell) -> enter every complete seed set into the store -> export the table.
One run-table at a time holds a table folder (a lock); a second one is refused (E865). A cell
that fails is recorded with its reason and the table goes on; the command ends with E866 if any
cell failed, after writing everything the other cells made.
"""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import default_data_root, make_dirs
from amge_eval.harness.labels import resolve_labels_dir
from amge_eval.harness.progress import NULL_PROGRESS, Progress

from .assemble import Assembly, assemble
from .execute import CellCommand, run_cell
from .plan import Plan, plan_table
from .spec import Table, load_table
from .state import CellView, table_views

BACKENDS = ("local", "slurm")
LOCK_FILE = ".lock"


@dataclass
class TableOptions:
    out: Path | None = None  # the table folder (default runs/tables/<table>)
    store: Path | None = None  # where entries go (default <out>/store)
    labels_dir: Path | None = None
    data_root: Path | None = None
    backend: str = "local"  # local | slurm
    container: str = "none"  # none | docker | podman | apptainer
    image: str | None = None
    container_opts: tuple[str, ...] = ()
    slurm_folder: Path | None = None  # submitit's job folder (default <out>/slurm)
    slurm_executor: str = "slurm"  # slurm, or local (submitit's LocalExecutor: tests)
    wait: bool = False  # slurm: wait for the jobs, then assemble
    poll_s: float = 15.0


@dataclass
class TableResult:
    plan: Plan
    views: list[CellView] = field(default_factory=list)
    assembly: Assembly = field(default_factory=Assembly)
    ran: list[str] = field(default_factory=list)  # cells run to their end now (local)
    submitted: dict[str, str] = field(default_factory=dict)  # cell -> job id (slurm)
    store: Path | None = None

    @property
    def failures(self) -> dict[str, str]:
        out = {v.cell.key: v.detail for v in self.views if v.status in ("failed", "unavailable")}
        out.update({f"{d}/{e}": why for (d, e), why in self.assembly.failed.items()})
        return out


def default_out(table: Table) -> Path:
    return Path("runs") / "tables" / table.name


def _prepare(table_name, opts: TableOptions) -> tuple[Table, Plan]:
    if opts.backend not in BACKENDS:
        raise AmgeError(f"--backend must be one of {', '.join(BACKENDS)}, not {opts.backend!r}",
                        code="E867")
    table = load_table(table_name)
    out = Path(opts.out) if opts.out else default_out(table)
    if out.exists() and not out.is_dir():
        raise AmgeError(f"--out {out} is a file; give a folder", code="E865")
    return table, plan_table(table, out.absolute(), opts.labels_dir)


@contextmanager
def table_lock(out: Path):
    """Hold the table folder for this process; E865 when another run-table holds it."""
    make_dirs(out)
    f = open(out / LOCK_FILE, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise AmgeError(f"{out} is in use by another run-table ({holder}); wait for it, or "
                            f"follow it with --status", code="E865") from exc
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()}\n")
        f.flush()
        yield
    finally:
        f.close()


def table_status(table_name, opts: TableOptions = TableOptions()) -> TableResult:
    """The progress view: every cell's status, without running anything."""
    _table, plan = _prepare(table_name, opts)
    return TableResult(plan, table_views(plan, _slurm_folder(plan, opts)))


def table_plan(table_name, opts: TableOptions = TableOptions()):
    """The cells and the GPU-hour estimate (estimate.py), without running anything."""
    from .estimate import estimate

    _table, plan = _prepare(table_name, opts)
    return plan, estimate(plan, opts.labels_dir)


def _slurm_folder(plan: Plan, opts: TableOptions) -> Path:
    return Path(opts.slurm_folder) if opts.slurm_folder else plan.out / "slurm"


def _ensure_benchmark(plan: Plan, labels: Path, data: Path, progress: Progress) -> None:
    from amge_eval.baselines.launch import ensure_synth

    synth = [c for c in plan.cells if c.dataset == "synth" and c.problem is None]
    if not synth:
        return
    video = next((c.baseline for c in synth if c.family == "video"), None)
    ensure_synth(labels, data, video or synth[0].baseline, progress)


def run_table(table_name, opts: TableOptions = TableOptions(),
              progress: Progress = NULL_PROGRESS) -> TableResult:
    table, plan = _prepare(table_name, opts)
    labels = resolve_labels_dir(opts.labels_dir).absolute()
    data = (Path(opts.data_root).expanduser() if opts.data_root else default_data_root()).absolute()
    store = Path(opts.store) if opts.store else plan.out / "store"
    result = TableResult(plan, store=store)
    with table_lock(plan.out):
        info = None
        if opts.container != "none":
            from amge_eval.baselines.launch import image_identity

            if not opts.image:
                raise AmgeError(f"--container {opts.container} needs --image", code="E861")
            info = image_identity(opts.container, opts.image)
        _ensure_benchmark(plan, labels, data, progress)
        views = table_views(plan, _slurm_folder(plan, opts))
        due = [v.cell for v in views if v.status in ("pending", "failed", "interrupted")]
        s = table.spec
        commands = [CellCommand(cell=c, out=plan.out, labels_dir=labels,
                                data_root=data, container=opts.container, image=opts.image,
                                container_opts=tuple(opts.container_opts), container_info=info,
                                device=s.device, resamples=s.resamples, threads=s.threads,
                                deterministic=s.deterministic) for c in due]
        if opts.backend == "local":
            progress.start("table", total=len(commands))
            for cmd in commands:
                progress.note(f"Cell {cmd.cell.label}")
                state = run_cell(cmd)
                result.ran.append(cmd.cell.key)
                if state.status != "done":
                    progress.note(f"Cell {cmd.cell.label} failed: {state.reason}")
                progress.advance("table")
            progress.finish("table")
        elif commands:
            from .slurm import submit_cells

            jobs = submit_cells(commands, _slurm_folder(plan, opts), table.name,
                                opts.slurm_executor)
            result.submitted = {k: str(j.job_id) for k, j in jobs.items()}
            progress.note(f"Submitted {len(jobs)} cells to {opts.slurm_executor}")
            if opts.wait:
                while not all(j.done() for j in jobs.values()):
                    time.sleep(opts.poll_s)
        result.assembly = assemble(plan, store, labels, resamples=s.resamples,
                                   progress=progress)
        result.views = table_views(plan, _slurm_folder(plan, opts))
    return result
