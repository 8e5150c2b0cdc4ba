"""The baseline registry: one decorator registers a baseline, its family, modality and paper facts.

Adding a baseline = one model file with one decorated builder, plus its config file
``baselines/configs/<name>.toml``::

    @register_baseline("stgcn", family="skeleton", modality="skeleton",
                       paper_name="ST-GCN", paper_params_m=2.6)
    def build_stgcn(num_muscles: int = 20, **model_cfg) -> nn.Module:
        ...

The builder receives the ``[model]`` table of the config as keyword arguments. Model modules are
imported on demand (``load_all``), so listing or scoring never imports torch.
"""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from amge_eval.harness.errors import AmgeError

FAMILIES = ("statistical", "skeleton", "video")
MODALITIES = ("none", "labels", "skeleton", "rgb", "rgb+rgbdiff", "rgb+skeleton")
CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class BaselineSpec:
    name: str  # command-line name, e.g. "stgcn"
    family: str  # one of FAMILIES
    modality: str  # input the model sees at test time, one of MODALITIES
    builder: Callable  # (num_muscles=20, **model_cfg) -> model
    paper_name: str | None  # its row name in the papers' tables (reported_results.csv)
    paper_params_m: float | None  # the papers' #PM column, millions
    description: str
    module: str  # where it is defined

    @property
    def config_path(self) -> Path:
        return CONFIG_DIR / f"{self.name}.toml"


_REGISTRY: dict[str, BaselineSpec] = {}


def register_baseline(name: str, *, family: str, modality: str, paper_name: str | None = None,
                      paper_params_m: float | None = None, description: str = ""):
    """Decorator: register ``builder`` under ``name``."""
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, not {family!r}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, not {modality!r}")

    def wrap(builder: Callable) -> Callable:
        if name in _REGISTRY and _REGISTRY[name].module != builder.__module__:
            raise ValueError(f"baseline {name!r} is registered twice ({_REGISTRY[name].module} "
                             f"and {builder.__module__})")
        doc = description or (builder.__doc__ or "").strip().splitlines()[0:1]
        _REGISTRY[name] = BaselineSpec(name, family, modality, builder, paper_name,
                                       paper_params_m, doc if isinstance(doc, str) else "".join(doc),
                                       builder.__module__)
        return builder

    return wrap


def load_all() -> None:
    """Import every module under baselines/models so that their decorators run."""
    from amge_eval.baselines import models

    for info in pkgutil.iter_modules(models.__path__):
        if not info.name.startswith("_"):
            importlib.import_module(f"{models.__name__}.{info.name}")


def list_baselines() -> list[BaselineSpec]:
    load_all()
    order = {f: i for i, f in enumerate(FAMILIES)}
    return sorted(_REGISTRY.values(), key=lambda s: (order[s.family], s.name))


def get_baseline(name: str) -> BaselineSpec:
    load_all()
    if name not in _REGISTRY:
        close = difflib.get_close_matches(name, list(_REGISTRY), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise AmgeError(f"Unknown baseline {name!r}.{hint} See `amge-eval baselines list`.",
                        code="E800")
    return _REGISTRY[name]
