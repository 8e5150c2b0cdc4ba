"""Run configuration: TOML data, one file per baseline, overridable from the command line.

A config has four tables. ``[model]`` goes to the baseline's builder as keyword arguments,
``[data]`` to the loader of its modality, ``[train]`` and ``[eval]`` to the runner (their keys
and defaults are the dataclasses below). Precedence, lowest first: these defaults, the
baseline's file in ``baselines/configs/``, a user's ``--config FILE``, ``--set table.key=value``
overrides, and the shortcuts ``--epochs``/``--batch-size``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from amge_eval.harness.errors import AmgeError

TABLES = ("model", "data", "train", "eval")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 1.0  # linear warmup, then cosine decay to 0 (per optimiser step)
    grad_clip: float = 1.0  # max global grad norm; 0 disables
    # "bce": sigmoid + BCE-with-logits per muscle (PySlowFast's multi-label recipe).
    # "softmax-bce": softmax over the 20 muscles, then BCE on those probabilities (what the
    # MuscleMap release trains with, although its config calls it a focal loss).
    loss: str = "bce"
    # "batch": BatchNorm uses batch statistics in training (standard). "frozen": BatchNorm layers
    # stay in eval mode; needed for bit-comparable multi-process CPU runs (no SyncBatchNorm there).
    batchnorm: str = "batch"
    workers: int = 0  # DataLoader worker processes
    amp: bool = True  # mixed precision (bfloat16/float16 autocast) on CUDA only
    log_every: int = 10  # steps between progress updates


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 32
    temporal_views: int = 1
    spatial_views: int = 1
    # How per-view scores become one score per sample: "mean" or "max" of the per-view
    # probabilities (sigmoid for "bce", softmax for "softmax-bce").
    aggregate: str = "mean"


_CHOICES = {("train", "loss"): ("bce", "softmax-bce"), ("train", "batchnorm"): ("batch", "frozen"),
            ("eval", "aggregate"): ("mean", "max")}


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
            raise AmgeError(f"{source}: unknown table [{table}]; tables are "
                            f"{', '.join('[' + t + ']' for t in TABLES)}", code="E801")
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
        raise AmgeError(f"--set {text}: unknown table {table!r}; tables are {', '.join(TABLES)}",
                        code="E802")
    return table, key.strip(), value


def _typed(cls, table: str, values: dict, source: str):
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        import difflib

        close = difflib.get_close_matches(unknown[0], list(known), n=1)
        hint = f" Did you mean {table}.{close[0]}?" if close else ""
        raise AmgeError(f"{source}: unknown key {table}.{unknown[0]}.{hint} Keys of [{table}]: "
                        f"{', '.join(known)}", code="E803")
    out = {}
    for k, v in values.items():
        want = type(getattr(cls(), k))
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, want) or (want is int and isinstance(v, bool)):
            raise AmgeError(f"{source}: {table}.{k} must be {want.__name__}, got {v!r}",
                            code="E803")
        choices = _CHOICES.get((table, k))
        if choices and v not in choices:
            raise AmgeError(f"{source}: {table}.{k} must be one of {', '.join(choices)}, got "
                            f"{v!r}", code="E803")
        out[k] = v
    cfg = cls(**out)
    for k in ("epochs", "batch_size", "temporal_views", "spatial_views"):
        if hasattr(cfg, k) and getattr(cfg, k) < (0 if k == "epochs" else 1):
            raise AmgeError(f"{source}: {table}.{k} must be positive, got {getattr(cfg, k)}",
                            code="E803")
    return cfg


def load_config(default_path: Path, config_file: Path | None = None,
                overrides: list[str] | tuple = (), epochs: int | None = None,
                batch_size: int | None = None) -> RunConfig:
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
    return RunConfig(model=merged.get("model", {}), data=merged.get("data", {}),
                     train=_typed(TrainConfig, "train", merged.get("train", {}), source),
                     eval=_typed(EvalConfig, "eval", merged.get("eval", {}), source))
