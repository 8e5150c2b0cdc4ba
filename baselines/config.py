"""Run configuration: TOML data, one file per baseline, overridable from the command line.

A config has four tables, each checked by the project's one validator (harness.schema: unknown
keys refused with a "did you mean", strict types, every problem named by its path, e.g.
``[data].frames: expected int, got "16x4"``) as soon as the config is loaded, before any data is
read or generated:

- ``[model]`` against the baseline's registered config class; the builder receives its keys;
- ``[data]`` against the loader settings of the baseline's inputs (SkeletonSettings,
  VideoSettings; docs/data.md); baselines that read no media take an empty table;
- ``[train]`` and ``[eval]`` against TrainConfig and EvalConfig below.

Precedence, lowest first: these defaults, the baseline's file in ``baselines/configs/``, a
preset (``--preset NAME``), a user's ``--config FILE``, ``--set table.key=value`` overrides,
and the shortcuts ``--epochs``/``--batch-size``.

A preset is one overlay file per baseline, ``baselines/configs/presets/<preset>/<baseline>.toml``
(``PresetFile``): the same four tables, checked by the same validator once merged; optional
``[paper_version.<v>.<table>]`` tables applied on top for datasets whose card has that paper
version (the papers train for different epochs); and ``[sources]``, where each key set
(``"train.lr"``, ``"paper_version.v2.train.epochs"``) names where its value comes from. The
names of the folders under ``presets/`` are the presets there are; ``paper`` is the MuscleMap
papers' and release's recipe (docs/presets.md, generated from these files). A new baseline
adds its preset with one file.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.schema import convert
from amge_eval.harness.vocab import did_you_mean

from .registry import CONFIG_DIR, BaselineSpec

TABLES = ("model", "data", "train", "eval")
PRESET_DIR = CONFIG_DIR / "presets"
DEFAULT_PRESET = "default"  # the baseline's own file, no overlay; recorded as None
Positive = Annotated[int, msgspec.Meta(ge=1)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]


@dataclass(frozen=True)
class TrainConfig:
    epochs: Annotated[int, msgspec.Meta(ge=0)] = 10
    batch_size: Positive = 16
    lr: Annotated[float, msgspec.Meta(gt=0.0)] = 1e-3
    weight_decay: NonNegative = 0.05
    warmup_epochs: NonNegative = 1.0  # linear warmup, then cosine decay to 0 (per optimiser step)
    grad_clip: NonNegative = 1.0  # max global grad norm; 0 disables
    # "bce": sigmoid + BCE-with-logits per muscle (PySlowFast's multi-label recipe).
    # "softmax-bce": softmax over the 20 muscles, then BCE on those probabilities (what the
    # MuscleMap release trains with, although its config calls it a focal loss).
    loss: Literal["bce", "softmax-bce"] = "bce"
    # "batch": BatchNorm uses batch statistics in training (standard). "frozen": BatchNorm layers
    # stay in eval mode; needed for bit-comparable multi-process CPU runs (no SyncBatchNorm there).
    batchnorm: Literal["batch", "frozen"] = "batch"
    workers: Annotated[int, msgspec.Meta(ge=0)] = 0  # DataLoader worker processes
    amp: bool = True  # mixed precision (bfloat16/float16 autocast) on CUDA only
    # channels-last memory (N, T, H, W, C) for the 5-D weights and clips of 3-D CNNs
    channels_last: bool = False
    compile: bool = False  # torch.compile the training step's model (the first steps compile)
    log_every: Positive = 10  # steps between progress updates


@dataclass(frozen=True)
class EvalConfig:
    batch_size: Positive = 32
    temporal_views: Positive = 1
    spatial_views: Positive = 1
    # How per-view scores become one score per sample: "mean" or "max" of the per-view
    # probabilities (sigmoid for "bce", softmax for "softmax-bce").
    aggregate: Literal["mean", "max"] = "mean"


@dataclass(frozen=True)
class RunConfig:
    model: dict
    data: dict
    train: TrainConfig
    eval: EvalConfig

    def to_dict(self) -> dict:
        return {"model": dict(self.model), "data": dict(self.data), "train": asdict(self.train),
                "eval": asdict(self.eval)}

    def digest(self) -> str:
        """sha256 of the canonical JSON of the resolved config (identifies a run's settings)."""
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode()).hexdigest()


def data_settings_class(spec: BaselineSpec) -> type | None:
    """The loader settings class of the baseline's inputs (in training, where they are more than
    at test time); None for baselines without media."""
    inputs = set(spec.train_modalities or spec.modalities)
    if inputs <= {"none", "labels"}:
        return None
    if inputs == {"skeleton"}:
        from .data.skeleton import SkeletonSettings

        return SkeletonSettings
    if "skeleton" in inputs:  # video and skeletons: the video table with a [data.skeleton] one
        from .data.paired import VideoSkeletonSettings

        return VideoSkeletonSettings
    from .data.video import VideoSettings

    return VideoSettings


def read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AmgeError(f"Config file {path} not found", code="E801") from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise AmgeError(f"Config file {path} is not valid TOML: {exc}", code="E801") from exc


def _merge(base: dict, extra: dict, source: str) -> dict:
    out = copy.deepcopy(base)
    for table, values in extra.items():
        if table not in TABLES:
            raise AmgeError(f"{source}: unknown table [{table}].{did_you_mean(table, TABLES)} "
                            f"Tables are {', '.join('[' + t + ']' for t in TABLES)}",
                            code="E801")
        if not isinstance(values, dict):
            raise AmgeError(f"{source}: [{table}] must be a table", code="E801")
        _deep_update(out.setdefault(table, {}), copy.deepcopy(values))
    return out


def _deep_update(into: dict, values: dict) -> None:
    """Update ``into`` key by key; a nested table updates the nested table it replaces, so an
    overlay that sets one key of [model.backbone_options] keeps the others."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value


def parse_override(text: str) -> tuple[str, str, object]:
    """``table.key=value`` with a TOML value (``train.lr=3e-4``, ``model.layout="coco17"``,
    bare words are strings: ``model.layout=coco17``)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise AmgeError(f"--set expects table.key=value, got {text!r}", code="E802")
    lhs, raw = text.split("=", 1)
    table, key = lhs.strip().split(".", 1)
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if table not in TABLES:
        raise AmgeError(f"--set {text}: unknown table {table!r}.{did_you_mean(table, TABLES)} "
                        f"Tables are {', '.join(TABLES)}", code="E802")
    return table, key.strip(), value


def check_tables(spec: BaselineSpec, merged: dict, source: str) -> tuple[TrainConfig, EvalConfig]:
    """Check all four tables; raises AmgeError(E803) listing every problem of the config."""
    problems: list[str] = []

    def check(cls, table: str):
        if cls is None:
            if merged.get(table):
                problems.append(f"[{table}]: {spec.name} takes no {table} settings, got "
                                f"{', '.join(merged[table])}")
            return None
        try:
            return convert(cls, merged.get(table, {}), f"[{table}]")
        except AmgeError as exc:
            problems.append(exc.message)
            return None

    check(spec.config, "model")
    check(data_settings_class(spec), "data")
    train, evaluation = check(TrainConfig, "train"), check(EvalConfig, "eval")
    if problems:
        raise AmgeError(f"{source}: " + "; ".join(problems), code="E803")
    return train, evaluation


class _Tables(msgspec.Struct, forbid_unknown_fields=True):
    """A partial config: some of the four tables (their keys are checked once merged)."""

    model: dict[str, object] = {}
    data: dict[str, object] = {}
    train: dict[str, object] = {}
    eval: dict[str, object] = {}


class PresetFile(msgspec.Struct, forbid_unknown_fields=True):
    """The keys of a preset overlay file, ``baselines/configs/presets/<preset>/<baseline>.toml``."""

    model: dict[str, object] = {}
    data: dict[str, object] = {}
    train: dict[str, object] = {}
    eval: dict[str, object] = {}
    # overlays for datasets of one paper version ("v1", "v2"; a card's paper_version)
    paper_version: dict[str, _Tables] = {}
    # "<table>.<key>" or "paper_version.<v>.<table>.<key>" -> where the value comes from
    sources: dict[str, str] = {}

    def settings(self) -> dict[str, object]:
        """Every key the file sets, by its ``[sources]`` name."""
        out = {f"{t}.{k}": v for t in TABLES for k, v in getattr(self, t).items()}
        for version, tables in self.paper_version.items():
            out.update({f"paper_version.{version}.{t}.{k}": v for t in TABLES
                        for k, v in getattr(tables, t).items()})
        return out

    def check(self) -> list[tuple[str, str]]:
        problems = []
        keys = self.settings()
        for key in keys:
            if not self.sources.get(key, "").strip():
                problems.append(("sources", f"no source for {key!r}: say where its value comes "
                                            f"from (paper version and section, release file and "
                                            f"key, or official repository file)"))
        from amge_eval.harness.datasets import builtin_cards

        versions = sorted({c.paper_version for c in builtin_cards().values()})
        for version in self.paper_version:
            if version not in versions:
                problems.append(("paper_version", f"{version!r} is no dataset card's paper "
                                                  f"version.{did_you_mean(version, versions)} "
                                                  f"Versions: {', '.join(versions)}"))
        for key in self.sources:
            if key not in keys:
                problems.append(("sources", f"{key!r} is not a setting of this file."
                                            f"{did_you_mean(key, keys)}"))
        return problems

    def tables(self, paper_version: str | None) -> dict[str, dict]:
        """The overlay for a dataset of ``paper_version``: the base tables, then its own."""
        out = {t: dict(getattr(self, t)) for t in TABLES}
        extra = self.paper_version.get(paper_version or "")
        if extra is not None:
            for t in TABLES:
                out[t].update(getattr(extra, t))
        return {t: v for t, v in out.items() if v}


def preset_names() -> list[str]:
    """The presets there are: the folders of ``baselines/configs/presets/``, and ``default``."""
    found = sorted(p.name for p in PRESET_DIR.iterdir() if p.is_dir()) if PRESET_DIR.is_dir() else []
    return [DEFAULT_PRESET, *found]


def presets_of(spec: BaselineSpec) -> list[str]:
    """The presets defined for one baseline (``default`` always)."""
    return [p for p in preset_names() if p == DEFAULT_PRESET or preset_path(spec.name, p).is_file()]


def preset_path(baseline: str, preset: str) -> Path:
    return PRESET_DIR / preset / f"{baseline}.toml"


def read_preset(spec: BaselineSpec, preset: str) -> PresetFile:
    """A baseline's overlay file for ``preset``; AmgeError E804 when the preset is unknown or the
    baseline has none, E801/E803 when the file is unreadable or malformed."""
    names = preset_names()
    if preset not in names:
        raise AmgeError(f"Unknown preset {preset!r}.{did_you_mean(preset, names)} Presets: "
                        f"{', '.join(names)}.", code="E804")
    path = preset_path(spec.name, preset)
    if not path.is_file():
        has = [b.stem for b in sorted((PRESET_DIR / preset).glob("*.toml"))]
        raise AmgeError(f"Baseline {spec.name} has no {preset!r} preset (no {path.name} in "
                        f"baselines/configs/presets/{preset}/); the {preset!r} preset exists "
                        f"for: {', '.join(has) or 'no baseline'}. Presets of {spec.name}: "
                        f"{', '.join(presets_of(spec))}.", code="E804")
    return convert(PresetFile, read_toml(path), code="E803", source=str(path))


def load_config(spec: BaselineSpec, config_file: Path | None = None,
                overrides: list[str] | tuple = (), epochs: int | None = None,
                batch_size: int | None = None, preset: str | None = None,
                paper_version: str | None = None) -> RunConfig:
    """The baseline's resolved config, every table checked.

    ``preset`` (None or "default": none) overlays ``presets/<preset>/<baseline>.toml`` on the
    baseline's file, with its ``[paper_version.<paper_version>]`` tables on top."""
    default_path = spec.config_path
    merged = _merge({}, read_toml(default_path), str(default_path))
    source = str(default_path)
    if preset not in (None, DEFAULT_PRESET):
        overlay = read_preset(spec, preset)
        source = str(preset_path(spec.name, preset))
        merged = _merge(merged, overlay.tables(paper_version), source)
    if config_file is not None:
        merged = _merge(merged, read_toml(config_file), str(config_file))
        source = str(config_file)
    for text in overrides:
        table, key, value = parse_override(text)
        merged.setdefault(table, {})[key] = value
    if overrides:
        source = "--set"
    if epochs is not None:
        merged.setdefault("train", {})["epochs"] = epochs
    if batch_size is not None:
        merged.setdefault("train", {})["batch_size"] = batch_size
    train, evaluation = check_tables(spec, merged, source)
    return RunConfig(model=merged.get("model", {}), data=merged.get("data", {}),
                     train=train, eval=evaluation)


# --------------------------------------------------------------------------- docs/presets.md

PRESETS_DOC_BEGIN = "<!-- BEGIN generated from baselines/configs (baselines.config.presets_markdown) -->"
PRESETS_DOC_END = "<!-- END generated -->"


def _cell(value: object) -> str:
    from amge_eval.harness.schema import show

    return "–" if value is _ABSENT else f"`{show(value, limit=80)}`"


_ABSENT = object()


def presets_markdown(preset: str = "paper") -> str:
    """The table of docs/presets.md: per baseline with a ``preset`` file, every setting whose
    value differs from the baseline's CPU default, with the source of the preset's value; then
    the settings the preset pins at the default's value. Generated from the files themselves (a
    test compares it with the docs), so the docs cannot drift from the configs."""
    from .registry import list_baselines

    lines = []
    for spec in list_baselines():
        if not preset_path(spec.name, preset).is_file():
            continue
        overlay = read_preset(spec, preset)
        base = load_config(spec).to_dict()
        by_version = {v: load_config(spec, preset=preset, paper_version=v).to_dict()
                      for v in ("v1", *sorted(overlay.paper_version))}
        lines += [f"### {spec.paper_name or spec.name} (`{spec.name}`)", "",
                  f"`baselines/configs/{spec.name}.toml` vs "
                  f"`baselines/configs/presets/{preset}/{spec.name}.toml`.", "",
                  f"| setting | CPU default | `{preset}` preset | source of the preset's value |",
                  "|---|---|---|---|"]
        same = []
        for table in TABLES:
            keys = sorted(set(base[table]) | {k for d in by_version.values() for k in d[table]})
            for key in keys:
                default = base[table].get(key, _ABSENT)
                values = {v: d[table].get(key, _ABSENT) for v, d in by_version.items()}
                name = f"{table}.{key}"
                sources = [overlay.sources[s] for s in (name, *(f"paper_version.{v}.{name}"
                                                              for v in sorted(values)))
                           if s in overlay.sources]
                if all(v == default for v in values.values()):
                    if sources:
                        same.append(f"`{name}` = {_cell(default)}")
                    continue
                if len(set(map(repr, values.values()))) == 1:
                    shown = _cell(values["v1"])
                else:
                    shown = "; ".join(f"{_cell(x)} ({'v1, synth' if v == 'v1' else v})"
                                      for v, x in values.items())
                source = " / ".join(sources) or "(not set by the preset: a class default)"
                lines.append(f"| `{name}` | {_cell(default)} | {shown} | "
                             f"{source.replace('|', '/')} |")
        lines.append("")
        if same:
            lines += [f"Set by the preset at the CPU default's value: {', '.join(same)}.", ""]
    return "\n".join(lines).rstrip() + "\n"


def update_presets_doc(path: str | Path) -> Path:
    """Rewrite the generated block of docs/presets.md from the config files."""
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    head, _, rest = text.partition(PRESETS_DOC_BEGIN + "\n")
    _, _, tail = rest.partition(PRESETS_DOC_END)
    from amge_eval.harness.fileio import write_text_atomic

    return write_text_atomic(path, f"{head}{PRESETS_DOC_BEGIN}\n{presets_markdown()}"
                                   f"{PRESETS_DOC_END}{tail}")
