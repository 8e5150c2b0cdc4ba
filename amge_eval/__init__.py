"""amge-eval: the reference benchmark harness for video-based Activated Muscle Group Estimation.

The import namespace maps the repository's folders:

- ``amge_eval.harness``     <- ``harness/``     (defines and scores the benchmark; never imports torch)
- ``amge_eval.baselines``   <- ``baselines/``   (trains and runs models)
- ``amge_eval.leaderboard`` <- ``leaderboard/`` (turns ``submissions/`` into a site and exports)
- ``amge_eval.cli``         <- ``amge_eval/cli.py`` (the thin Typer layer)
"""

__version__ = "0.1.0"
