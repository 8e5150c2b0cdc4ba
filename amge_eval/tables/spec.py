"""The table file (TOML, docs/tables.md): which baselines, datasets, presets and seeds make up
one table, with overrides and the compute each cell asks for.

Checked by the project's one validator (harness.schema) before anything runs: unknown keys get
a "did you mean", wrong types name the key, every ``set`` override is parsed as ``--set`` parses
it, and every problem of the file is listed at once (E864). A table is named by its path, or by
the name of a ready-made file in ``baselines/tables/`` (``amge-eval run-table smoke``).
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.schema import Issue, collect

TABLES_DIR = Path(__file__).resolve().parents[2] / "baselines" / "tables"
if not TABLES_DIR.is_dir():  # an installed package: baselines/ is amge_eval/baselines/
    TABLES_DIR = Path(__file__).resolve().parents[1] / "baselines" / "tables"

Positive = Annotated[int, msgspec.Meta(ge=1)]
Rate = Annotated[float, msgspec.Meta(gt=0.0)]


class Resources(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """What one cell asks a cluster for (the local backend uses ``gpus_per_node``: more than
    one starts the cell under torchrun on this machine)."""

    nodes: Positive = 1  # > 1: one torchrun per node, rendezvous at the first node
    gpus_per_node: Annotated[int, msgspec.Meta(ge=0)] = 1  # torchrun processes per node
    cpus_per_task: Positive = 8  # one task per node
    mem_gb: Positive = 32  # per node
    time_min: Positive = 720  # wall-clock limit; a cell past it is requeued and resumes
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    array_parallelism: Positive = 64  # cells of one job array running at once
    setup: list[str] = []  # shell lines run before the cell (module load ..., source venv)


class BaselineSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[baseline."<name>"]``: settings of one row (a name of ``baselines``)."""

    name: str | None = None  # the row's name on the board (default: the papers' row name)
    set: list[str] = []  # overrides of this row, after the table's own
    presets: list[str] | None = None  # this row's presets instead of the table's
    resources: dict[str, Any] = {}  # keys of [resources], replacing the table's
    # GPU throughput of this baseline in clips per second per GPU (from `amge-eval bench`),
    # for the GPU-hour estimate of `run-table --plan`; unknown when absent.
    train_clips_per_s: Rate | None = None
    eval_clips_per_s: Rate | None = None


class TableFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    table_version: Literal[1]
    title: str
    baselines: list[str]  # registry names or the papers' row names (`amge-eval baselines list`)
    datasets: list[str]  # dataset card names
    seeds: list[Annotated[int, msgspec.Meta(ge=0)]] = msgspec.field(default_factory=lambda: [0])
    # config presets (run-baseline --preset); "default" = the baseline's own config
    presets: list[str] = msgspec.field(default_factory=lambda: ["default"])
    set: list[str] = []  # overrides of every cell, as run-baseline --set table.key=value
    resamples: Positive = 10_000  # bootstrap resamples of every run's and entry's scoring
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: Positive | None = None  # torch CPU threads per cell
    deterministic: bool = False
    source: str = ""  # where the table comes from (a paper's table), shown by --plan
    notes: str = ""
    resources: dict[str, Any] = {}  # [resources]: the defaults of every cell
    baseline: dict[str, BaselineSettings] = {}


class Table:
    """A checked table file: its settings, and the resources and overrides of each row."""

    def __init__(self, spec: TableFile, path: Path):
        self.spec = spec
        self.path = path
        self.name = path.stem

    def row(self, name: str) -> BaselineSettings:
        return self.spec.baseline.get(name) or BaselineSettings()

    def presets(self, name: str) -> list[str]:
        return self.row(name).presets or self.spec.presets

    def overrides(self, name: str) -> tuple[str, ...]:
        return (*self.spec.set, *self.row(name).set)

    def resources(self, name: str) -> Resources:
        merged = {**self.spec.resources, **self.row(name).resources}
        obj, issues = collect(Resources, merged, f"[baseline.{name!r}.resources]"
                              if self.row(name).resources else "[resources]")
        if issues:
            raise AmgeError(f"{self.path}: " + "; ".join(map(str, issues)), code="E864")
        return obj


def find_table(name: str | Path) -> Path:
    """A table file's path: ``name`` itself, else ``baselines/tables/<name>.toml``."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    built_in = TABLES_DIR / f"{Path(str(name)).stem}.toml"
    if path.suffix in ("", ".toml") and built_in.is_file() and len(path.parts) == 1:
        return built_in
    known = sorted(p.stem for p in TABLES_DIR.glob("*.toml"))
    raise AmgeError(f"Table file {name} not found; give a path or one of the ready-made tables: "
                    f"{', '.join(known)}", code="E863")


def _rules(data: dict) -> list[Issue]:
    """The rules beyond types, checked on the file as written (so that they are reported
    together with any type problem): non-empty distinct axes, row tables of listed rows,
    overrides that parse, resources of known keys and types."""
    from amge_eval.baselines.config import parse_override
    from amge_eval.harness.vocab import did_you_mean

    issues: list[Issue] = []
    for key in ("baselines", "datasets", "seeds", "presets"):
        values = data.get(key)
        if isinstance(values, list):
            if not values:
                issues.append(Issue(key, "expected at least one value", "value"))
            dup = sorted({str(v) for v in values if values.count(v) > 1})
            if dup:
                issues.append(Issue(key, f"repeated: {', '.join(dup)}", "value"))
    listed = data.get("baselines") if isinstance(data.get("baselines"), list) else []
    rows = data.get("baseline") if isinstance(data.get("baseline"), dict) else {}
    sets = [("set", data.get("set"))]
    resources = [("resources", data.get("resources"))]
    for name, row in rows.items():
        where = f"baseline.{name!r}"
        if name not in listed:
            issues.append(Issue(where, f"{name!r} is not one of the table's baselines."
                                f"{did_you_mean(name, listed)}", "value"))
        if not isinstance(row, dict):
            continue
        presets = row.get("presets")
        if isinstance(presets, list) and (not presets or len(set(map(str, presets)))
                                          != len(presets)):
            issues.append(Issue(f"{where}.presets", "expected distinct presets, at least one",
                                "value"))
        sets.append((f"{where}.set", row.get("set")))
        resources.append((f"{where}.resources", row.get("resources")))
    for where, texts in sets:
        for text in texts if isinstance(texts, list) else []:
            if isinstance(text, str):
                try:
                    parse_override(text)
                except AmgeError as exc:
                    issues.append(Issue(where, exc.message, "value"))
    for where, table in resources:
        if isinstance(table, dict):
            issues += [Issue(f"{where}.{i.path}" if i.path != "(top)" else where, i.message,
                             i.kind) for i in collect(Resources, table)[1]]
    return issues


def load_table(name: str | Path) -> Table:
    """Read and check a table file; E863 (unreadable) or E864 (every problem listed)."""
    path = find_table(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AmgeError(f"Table file {path} is not valid TOML: {exc}", code="E863") from exc
    spec, issues = collect(TableFile, data)
    issues += _rules(data)
    if issues:
        raise AmgeError(f"{path}: " + "; ".join(map(str, issues)), code="E864")
    return Table(spec, path)
