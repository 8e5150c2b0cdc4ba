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
user's ``--config FILE``, ``--set table.key=value`` overrides, and the shortcuts
``--epochs``/``--batch-size``.
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

from .registry import BaselineSpec

TABLES = ("model", "data", "train", "eval")
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
        out.setdefault(table, {}).update(copy.deepcopy(values))
    return out


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


def load_config(spec: BaselineSpec, config_file: Path | None = None,
                overrides: list[str] | tuple = (), epochs: int | None = None,
                batch_size: int | None = None) -> RunConfig:
    """The baseline's resolved config, every table checked."""
    default_path = spec.config_path
    merged = _merge({}, read_toml(default_path), str(default_path))
    source = str(default_path)
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
