"""A table's cells: one (baseline, dataset, preset, seed) run each, with the config hash its
run record must carry to count as done.

The output folder of a table (``--out``, default ``runs/tables/<table>``)::

    cells/<dataset>/<entry>/seed-<n>/   one runner output folder per cell; <entry>/ is the seed
                                        set that becomes one board entry (leaderboard/submit.py)
    checkpoints/<run key>/last.pt       the runner's checkpoints (a killed cell resumes)
    state/<cell>.json                   each started cell's state (state.py)
    logs/<cell>.log                     each cell's output
    events.jsonl                        every start, finish and failure, in order
    store/<dataset>/<entry>/            the board entries (a submissions store; --store)
    table.csv, table.md, table.json, table.tex   the filled table in the leaderboard's formats

A cell is done when its folder holds a run record of the same baseline, dataset, preset, seed
and resolved-config hash, with its scores: a rerun of the table skips it, and a change of the
table (an override, a preset) makes it due again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.records import RecordInvalid, RunRecord

from .spec import Resources, Table

CELLS_DIR = "cells"


@dataclass
class Cell:
    row: str  # the baseline as the table names it
    dataset: str
    preset: str
    seed: int
    name: str  # the entry's name on the board
    slug: str  # the entry's folder name
    overrides: tuple[str, ...]
    resources: Resources
    folder: Path  # the runner output folder
    baseline: str | None = None  # the registry name (None: not registered)
    family: str | None = None
    digest: str | None = None  # the resolved config's sha256, which the run record must carry
    config: object = None  # the resolved RunConfig (epochs and views for the estimate)
    problem: str | None = None  # why the cell cannot run (unknown baseline, bad override...)

    @property
    def key(self) -> str:
        """The cell's id, safe as a file name: ``<dataset>--<entry>--seed-<n>``."""
        return f"{self.dataset}--{self.slug}--seed-{self.seed}"

    @property
    def group(self) -> tuple[str, str]:
        """The seed set it belongs to: (dataset, entry folder name)."""
        return self.dataset, self.slug

    @property
    def label(self) -> str:
        return f"{self.dataset} / {self.name} / seed {self.seed}"

    def is_done(self) -> bool:
        return done_record(self) is not None


@dataclass
class Plan:
    table: Table
    out: Path
    cells: list[Cell] = field(default_factory=list)

    def groups(self) -> dict[tuple[str, str], list[Cell]]:
        out: dict[tuple[str, str], list[Cell]] = {}
        for c in self.cells:
            out.setdefault(c.group, []).append(c)
        return out


def resolve_baseline(name: str):
    """The registry spec of a table's baseline: a registry name or a papers' row name."""
    from amge_eval.baselines.registry import get_baseline, list_baselines

    try:
        return get_baseline(name)
    except AmgeError as first:
        for spec in list_baselines():
            if spec.paper_name and spec.paper_name.casefold() == name.casefold():
                return spec
        hint = " (" + first.message + ")" if first.code == "E830" else ""
        raise AmgeError(f"not registered: no baseline is named {name!r} or registers the "
                        f"papers' row {name!r}{hint}", code=first.code) from first


def resolve_config(spec, preset: str, overrides: tuple[str, ...], paper_version: str | None):
    """The config a run of these settings resolves to, exactly as the runner resolves it (the
    baseline's file, the preset with its overlay for the dataset's paper version, overrides)."""
    from amge_eval.baselines.config import DEFAULT_PRESET, RunConfig, load_config

    cfg = load_config(spec, None, list(overrides),
                      preset=None if preset == DEFAULT_PRESET else preset,
                      paper_version=paper_version)
    if spec.family == "statistical":  # the runner drops their (empty) data table
        cfg = RunConfig(cfg.model, {}, cfg.train, cfg.eval)
    return cfg


def entry_name(table: Table, row: str, spec, preset: str) -> str:
    name = table.row(row).name or (spec.paper_name if spec is not None and spec.paper_name
                                   else row)
    return name if len(table.presets(row)) == 1 else f"{name} ({preset})"


def plan_table(table: Table, out: Path, labels_dir=None) -> Plan:
    """Every cell of the table in run order (dataset, row, preset, seed), each resolved against
    the registry and its config; a cell that cannot run carries the reason instead."""
    from amge_eval.harness.datasets import get_card
    from amge_eval.leaderboard.entries import entry_slug

    plan = Plan(table, Path(out))
    versions: dict[str, str | None] = {}
    for dataset in table.spec.datasets:
        try:
            versions[dataset] = get_card(dataset, labels_dir).paper_version
        except AmgeError as exc:
            raise AmgeError(f"{table.path}: datasets: {exc.message}", code="E864") from exc
    specs: dict[str, object] = {}
    errors: dict[str, str] = {}
    for row in table.spec.baselines:
        try:
            specs[row] = resolve_baseline(row)
        except AmgeError as exc:
            errors[row] = exc.message
    seen: dict[tuple[str, str], str] = {}
    for dataset in table.spec.datasets:
        for row in table.spec.baselines:
            spec = specs.get(row)
            resources = table.resources(row)
            if spec is not None and spec.family == "statistical":
                resources = Resources(**{**_as_dict(resources), "gpus_per_node": 0, "nodes": 1})
            for preset in table.presets(row):
                name = entry_name(table, row, spec, preset)
                slug = entry_slug(name)
                if seen.setdefault((dataset, slug), row) != row:
                    raise AmgeError(f"{table.path}: rows {seen[(dataset, slug)]!r} and {row!r} "
                                    f"make the same entry {slug!r}; give one a `name` in "
                                    f"[baseline.{row!r}]", code="E864")
                cfg = digest = problem = None
                if spec is None:
                    problem = errors[row]
                else:
                    try:
                        cfg = resolve_config(spec, preset, table.overrides(row),
                                             versions[dataset])
                        digest = cfg.digest()
                    except AmgeError as exc:
                        problem = exc.message
                for seed in table.spec.seeds:
                    plan.cells.append(Cell(
                        row=row, dataset=dataset, preset=preset, seed=seed, name=name, slug=slug,
                        overrides=table.overrides(row), resources=resources,
                        folder=plan.out / CELLS_DIR / dataset / slug / f"seed-{seed}",
                        baseline=getattr(spec, "name", None), family=getattr(spec, "family", None),
                        digest=digest, config=cfg, problem=problem))
    return plan


def _as_dict(obj) -> dict:
    import msgspec

    return msgspec.structs.asdict(obj)


def read_run(cell: Cell) -> RunRecord | None:
    try:
        return RunRecord.read(cell.folder / "run.json")
    except RecordInvalid:
        return None


def matches(cell: Cell, run: RunRecord | None) -> bool:
    """Whether ``run`` is this cell's finished run: same baseline, dataset, preset, seed and
    config hash, and scored."""
    return (run is not None and cell.digest is not None and run.baseline == cell.baseline
            and run.dataset == cell.dataset and run.seed == cell.seed
            and (run.preset or "default") == cell.preset and run.config_sha256 == cell.digest
            and run.scores is not None and (cell.folder / run.scores).is_file())


def done_record(cell: Cell) -> RunRecord | None:
    run = read_run(cell) if (cell.folder / "run.json").is_file() else None
    return run if matches(cell, run) else None
