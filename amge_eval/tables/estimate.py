"""The GPU hours a table needs, before it runs (`amge-eval run-table TABLE --plan`).

Per cell, with the clips of the dataset card's published split sizes and the resolved config::

    GPU-hours = (epochs x train clips / train rate  +  views x eval clips / eval rate) / 3600

where a rate is clips per second per GPU (one GPU's share: with ideal scaling over G GPUs the
wall time is 1/G of this and the GPU hours are the same). Statistical baselines take none.
The rates come from the table file (``train_clips_per_s``, ``eval_clips_per_s`` per baseline),
measured with `amge-eval bench` where that command exists; a baseline without them is listed
as unknown, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from amge_eval.harness.vocab import EVAL_SPLITS

from .plan import Plan

FORMULA = ("GPU-hours per cell = (epochs x train clips / train clips-per-s-per-GPU + eval views "
           "x eval clips / eval clips-per-s-per-GPU) / 3600")


@dataclass
class RowEstimate:
    row: str
    dataset: str
    cells: int
    epochs: int | None
    train_clips: int | None
    eval_clips: int | None
    views: int | None
    gpu_hours: float | None  # all cells of the row on the dataset; None = a figure is missing
    missing: str = ""  # what is missing for a number


@dataclass
class Estimate:
    rows: list[RowEstimate] = field(default_factory=list)

    @property
    def known_hours(self) -> float:
        return sum(r.gpu_hours for r in self.rows if r.gpu_hours is not None)

    @property
    def unknown(self) -> list[RowEstimate]:
        return [r for r in self.rows if r.gpu_hours is None]


def estimate(plan: Plan, labels_dir=None) -> Estimate:
    from amge_eval.harness.datasets import get_card
    from amge_eval.harness.errors import AmgeError

    out = Estimate()
    for (dataset, _slug), cells in plan.groups().items():
        c = cells[0]
        try:
            sizes = get_card(dataset, labels_dir).split_sizes
        except AmgeError:
            sizes = {}
        train = sizes.get("train")
        ev = sum(sizes[s] for s in EVAL_SPLITS if s in sizes) if sizes else None
        settings = plan.table.row(c.row)
        cfg = c.config
        epochs = cfg.train.epochs if cfg is not None else None
        views = cfg.eval.temporal_views * cfg.eval.spatial_views if cfg is not None else None
        if c.problem:
            out.rows.append(RowEstimate(c.name, dataset, len(cells), epochs, train, ev, views,
                                        None, f"cannot run: {c.problem}"))
            continue
        if c.family == "statistical":
            out.rows.append(RowEstimate(c.name, dataset, len(cells), 0, train, ev, views, 0.0))
            continue
        missing = []
        if not train or not ev:
            missing.append(f"split sizes of {dataset}")
        if settings.train_clips_per_s is None or settings.eval_clips_per_s is None:
            missing.append("clips/s per GPU (train_clips_per_s, eval_clips_per_s)")
        hours = None
        if not missing:
            per_cell = (epochs * train / settings.train_clips_per_s
                        + views * ev / settings.eval_clips_per_s) / 3600
            hours = per_cell * len(cells)
        out.rows.append(RowEstimate(c.name, dataset, len(cells), epochs, train, ev, views, hours,
                                    "; ".join(missing)))
    return out
