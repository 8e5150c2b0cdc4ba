"""The Python API's functions that are not the harness's own: ``score`` and ``read_labels``.

``amge_eval`` exposes these (and ``masked_map``, ``write_predictions``, ``MUSCLES``,
``MaskedMAP``) lazily, so that ``import amge_eval`` stays free of numpy and torch; this module
imports numpy, and is imported only when one of its names is first used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .harness import bootstrap as bs
from .harness import labels as _labels
from .harness.labels import LabelSet
from .harness.scoring import ScoreReport, score_arrays, score_file


def _ci_kinds(ci) -> tuple[str, ...]:
    """``ci`` as the scorer's tuple of kinds: "both" and a single kind name are accepted as the
    CLI's ``--ci`` takes them; unknown kinds are refused by the scorer (E600)."""
    if isinstance(ci, str):
        return bs.CI_KINDS if ci == "both" else (ci,)
    return tuple(ci)


def score(predictions, *, dataset: str | None = None, split: str | None = None,
          labels_dir: str | os.PathLike | None = None, ci=("activity",),
          resamples: int = bs.DEFAULT_RESAMPLES, seed: int = bs.DEFAULT_SEED) -> ScoreReport:
    """Score predictions against the label store, as ``amge-eval score`` does.

    ``predictions`` is a path (a ``.npz``/``.csv`` file or a folder of them) or a mapping
    split -> (sample_ids, scores), scores (N, 20) array-like (numpy, torch or lists) in label
    order. In-memory predictions are checked and scored by the very code that scores a file of
    them: same problem codes, same numbers; their ``report.predictions.sha256`` is defined in
    ``harness.predictions.memory_digest``. ``ci`` lists the interval kinds ("activity",
    "sample"; "both"; ``()`` for none, the fastest). Raises ``ValidationFailed`` listing every
    problem, ``MissingData`` (E503) when labels are absent, ``AmgeError`` for bad settings.
    """
    kinds = _ci_kinds(ci)
    if isinstance(predictions, (str, os.PathLike)):
        return score_file(predictions, dataset=dataset, split=split, labels_dir=labels_dir,
                          ci_kinds=kinds, resamples=resamples, seed=seed)
    if isinstance(predictions, Mapping):
        return score_arrays(predictions, dataset=dataset, split=split, labels_dir=labels_dir,
                            ci_kinds=kinds, resamples=resamples, seed=seed)
    raise TypeError(f"Expected a path or a mapping split -> (sample_ids, scores), but got "
                    f"{type(predictions).__name__}")


def read_labels(dataset: str, split: str, labels_dir: str | os.PathLike | None = None
                ) -> LabelSet:
    """One split of the label store. ``labels_dir`` defaults to the store the CLI uses:
    ``$AMGE_EVAL_LABELS``, else ``$AMGE_EVAL_HOME/labels`` (``~/.cache/amge-eval/labels``).
    Raises ``MissingData`` (E503) naming what to do when the split is absent."""
    return _labels.read_labels(labels_dir, dataset, split)
