"""Statistical baselines of the papers (Random, All Ones, All Zeros) and a label-prior baseline.

They need no training and no input, but go through the same runner, prediction files and
records as every model. Any score that is constant within a muscle column has AP equal to that
column's prevalence (every threshold admits all samples), which is why All Ones, All Zeros and
the label prior score exactly the mean prevalence of the scored muscles, and Random close to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amge_eval.baselines.registry import register_baseline
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.muscles import NUM_MUSCLES


@dataclass
class StatisticalModel:
    """Scores for n samples without looking at them. ``fit`` sees only the train labels."""

    kind: str  # "random" | "constant" | "prior"
    value: float = 0.0
    prior: np.ndarray | None = None

    def fit(self, train_labels: np.ndarray) -> StatisticalModel:
        if self.kind == "prior":
            self.prior = np.asarray(train_labels, dtype=np.float64).mean(axis=0)
        return self

    def predict(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.kind == "random":
            return rng.random((n, NUM_MUSCLES)).astype(np.float32)
        if self.kind == "constant":
            return np.full((n, NUM_MUSCLES), self.value, dtype=np.float32)
        if self.prior is None:
            raise RuntimeError("the label-prior baseline must be fitted first")
        return np.tile(self.prior.astype(np.float32), (n, 1))


def _no_options(name: str, options: dict) -> None:
    if options:
        raise AmgeError(f"{name} takes no [model] options, got {', '.join(options)}", code="E803")


@register_baseline("random", family="statistical", modalities=("none",), paper_name="Random",
                   paper_params_m=0.0)
def build_random(num_muscles: int = NUM_MUSCLES, **options) -> StatisticalModel:
    """Uniform random scores in [0, 1), from the run's seed."""
    _no_options("random", options)
    return StatisticalModel("random")


@register_baseline("all-ones", family="statistical", modalities=("none",), paper_name="All Ones",
                   paper_params_m=0.0)
def build_all_ones(num_muscles: int = NUM_MUSCLES, **options) -> StatisticalModel:
    """Every muscle scored 1."""
    _no_options("all-ones", options)
    return StatisticalModel("constant", 1.0)


@register_baseline("all-zeros", family="statistical", modalities=("none",), paper_name="All Zeros",
                   paper_params_m=0.0)
def build_all_zeros(num_muscles: int = NUM_MUSCLES, **options) -> StatisticalModel:
    """Every muscle scored 0."""
    _no_options("all-zeros", options)
    return StatisticalModel("constant", 0.0)


@register_baseline("prior", family="statistical", modalities=("labels",))
def build_prior(num_muscles: int = NUM_MUSCLES, **options) -> StatisticalModel:
    """Each muscle scored by its prevalence in the train split."""
    _no_options("prior", options)
    return StatisticalModel("prior")
