"""amge-eval: the reference benchmark harness for video-based Activated Muscle Group Estimation.

The import namespace maps the repository's folders:

- ``amge_eval.harness``     <- ``harness/``     (defines and scores the benchmark; never imports torch)
- ``amge_eval.baselines``   <- ``baselines/``   (trains and runs models)
- ``amge_eval.leaderboard`` <- ``leaderboard/`` (turns ``submissions/`` into a site and exports)
- ``amge_eval.cli``         <- ``amge_eval/cli.py`` (the thin Typer layer)

The Python API (README, "Python API") is the names of ``__all__``. They are imported on first
use (PEP 562), so that ``import amge_eval`` loads neither numpy nor torch: every CLI command
and every tool that only needs ``__version__`` starts fast, and torch is imported only by
``MaskedMAP``.
"""

__version__ = "0.1.0"

__all__ = ["MUSCLES", "MaskedMAP", "__version__", "masked_map", "read_labels", "score",
           "write_predictions"]

# name -> (module, attribute in it)
_LAZY = {
    "MUSCLES": ("amge_eval.harness.muscles", "MUSCLES"),
    "MaskedMAP": ("amge_eval.baselines.metric", "MaskedMAP"),
    "masked_map": ("amge_eval.harness.metric", "masked_map"),
    "read_labels": ("amge_eval.api", "read_labels"),
    "score": ("amge_eval.api", "score"),
    "write_predictions": ("amge_eval.harness.predictions", "write_predictions"),
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'amge_eval' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    try:
        value = getattr(importlib.import_module(module), attr)
    except ModuleNotFoundError as exc:
        if name != "MaskedMAP" or not (exc.name or "").split(".")[0] == "torch":
            raise
        from amge_eval.harness.errors import MissingExtra

        raise MissingExtra("amge_eval.MaskedMAP needs torch, which is not installed; install "
                           "the baselines extra: pip install 'amge-eval[baselines]'",
                           code="E830") from exc
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
