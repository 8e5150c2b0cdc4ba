"""The baseline registry: one decorator registers a baseline, its family, inputs, config class and
paper facts.

Adding a baseline = one model file with one decorated builder, plus its config file
``baselines/configs/<name>.toml``::

    @register_baseline("stgcn", family="skeleton", modalities=("skeleton",), config=STGCNConfig,
                       paper_name="ST-GCN", paper_params_m=2.6)
    def build_stgcn(num_muscles: int = 20, **model_cfg) -> nn.Module:
        ...

``config`` is the dataclass of the ``[model]`` table: the config loader checks the table against
it (unknown keys, types) before anything runs, and the builder receives the table's keys as
keyword arguments. Model modules are imported on demand (``load_all``), so listing or scoring
never imports torch; a module whose optional dependency (torch, torchvision, av, ...) is not
installed is recorded, and asking for one of its baselines names the extra to install.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amge_eval.harness.errors import AmgeError, MissingExtra
from amge_eval.harness.vocab import BASELINE_FAMILIES, did_you_mean, split_modalities

CONFIG_DIR = Path(__file__).parent / "configs"
# Packages of the `baselines` extra; a model module that needs a missing one is skipped.
OPTIONAL = {"torch", "torchvision", "av", "PIL", "pytorchvideo"}
EXTRA_HINT = "pip install 'amge-eval[baselines]'"


@dataclass(frozen=True)
class BaselineSpec:
    name: str  # command-line name, e.g. "stgcn"
    family: str  # one of BASELINE_FAMILIES
    modalities: tuple[str, ...]  # inputs the model sees at test time (harness/vocab.py)
    builder: Callable  # (num_muscles=20, **model_cfg) -> model
    config: type | None  # dataclass of the [model] table; None = the baseline takes no options
    paper_name: str | None  # its row name in the papers' tables (reported_results.csv)
    paper_params_m: float | None  # the papers' #PM column, millions
    description: str
    module: str  # where it is defined
    # Why the built model's parameter count differs from the papers' #PM, where no known
    # configuration has the papers' count; shown by `baselines list` and kept in run records.
    params_note: str | None = None
    # Inputs in training where they differ from the test-time ones (TransM3E trains on RGB and
    # the RGB difference, tests on RGB); None = ``modalities``.
    train_modalities: tuple[str, ...] | None = None
    # A baseline that distils from a separately trained, frozen sender (TransM3E): the [model]
    # table -> the SenderPlan of the sender stage, or None when that config needs no sender.
    sender: Callable[[dict], SenderPlan | None] | None = None

    @property
    def modality(self) -> str:
        """The inputs joined with "+" ("skeleton", "rgb+rgb_diff"): the loader's key."""
        return "+".join(self.modalities)

    @property
    def train_modality(self) -> str:
        """The training loader's key (``modality`` unless the baseline trains on more)."""
        return "+".join(self.train_modalities or self.modalities)

    @property
    def config_path(self) -> Path:
        return CONFIG_DIR / f"{self.name}.toml"


@dataclass(frozen=True)
class SenderPlan:
    """The sender stage of a distilling baseline (`run-baseline NAME --stage sender`): what the
    runner trains first and hands on to the main stage as a file."""

    modality: str  # the sender's inputs, the loader's key ("rgb_diff", "skeleton")
    family: str  # "video" or "skeleton": the sender run's family in its run record
    build: Callable  # () -> the sender as a classifier: its inputs -> (N, 20) logits
    describe: dict  # its inputs and architecture; a --sender file must hold the same


_REGISTRY: dict[str, BaselineSpec] = {}
_UNAVAILABLE: dict[str, str] = {}  # model module -> the missing package it needs


def register_baseline(name: str, *, family: str, modalities: tuple[str, ...] | str,
                      config: type | None = None, paper_name: str | None = None,
                      paper_params_m: float | None = None, description: str = "",
                      params_note: str | None = None,
                      train_modalities: tuple[str, ...] | None = None,
                      sender: Callable[[dict], SenderPlan | None] | None = None):
    """Decorator: register ``builder`` under ``name``."""
    if family not in BASELINE_FAMILIES:
        raise ValueError(f"family must be one of {BASELINE_FAMILIES}, not {family!r}")
    mods = split_modalities(modalities) if isinstance(modalities, str) else tuple(modalities)
    split_modalities("+".join(mods))  # every part known, none twice
    if train_modalities is not None:
        train_modalities = tuple(train_modalities)
        split_modalities("+".join(train_modalities))

    def wrap(builder: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].module != builder.__module__:
            raise ValueError(f"baseline {name!r} is registered twice ({_REGISTRY[name].module} "
                             f"and {builder.__module__})")
        doc = description or ((builder.__doc__ or "").strip().splitlines() or [""])[0]
        _REGISTRY[name] = BaselineSpec(name, family, mods, builder, config, paper_name,
                                       paper_params_m, doc, builder.__module__, params_note,
                                       train_modalities, sender)
        return builder

    return wrap


def load_all() -> None:
    """Import every module under baselines/models so that their decorators run."""
    from amge_eval.baselines import models

    for info in pkgutil.iter_modules(models.__path__):
        if info.name.startswith("_") or info.name in _UNAVAILABLE:
            continue
        try:
            importlib.import_module(f"{models.__name__}.{info.name}")
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in OPTIONAL:
                raise
            _UNAVAILABLE[info.name] = exc.name.split(".")[0]


def unavailable() -> dict[str, str]:
    """Model modules skipped because an optional package is missing: module -> package."""
    load_all()
    return dict(_UNAVAILABLE)


def list_baselines() -> list[BaselineSpec]:
    load_all()
    order = {f: i for i, f in enumerate(BASELINE_FAMILIES)}
    return sorted(_REGISTRY.values(), key=lambda s: (order[s.family], s.name))


def get_baseline(name: str) -> BaselineSpec:
    load_all()
    if name in _REGISTRY:
        return _REGISTRY[name]
    if _UNAVAILABLE:
        missing = sorted(set(_UNAVAILABLE.values()))
        raise MissingExtra(f"Unknown baseline {name!r}, or one of the models that need "
                        f"{', '.join(missing)} (not installed: the model files "
                        f"{', '.join(sorted(_UNAVAILABLE))} were skipped). Install the "
                        f"baselines extra: {EXTRA_HINT}. Available now: "
                        f"{', '.join(sorted(_REGISTRY))}.", code="E830")
    raise AmgeError(f"Unknown baseline {name!r}.{did_you_mean(name, _REGISTRY)} See `amge-eval "
                    f"baselines list`.", code="E800")
