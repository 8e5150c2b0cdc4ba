"""`amge-eval run-table`: fill a table of (baseline x dataset x preset x seed) runs with one
command, resumably, on this machine or on a Slurm cluster, and publish it as board entries.

- ``spec.py``      the table file (TOML) and its checks
- ``plan.py``      the cells, their folders and config hashes; when a cell counts as done
- ``state.py``     each cell's state file, the event log, the progress view
- ``execute.py``   running one cell (the same `run-baseline` command on every backend)
- ``slurm.py``     the Slurm backend (submitit: one job per cell, job arrays, torchrun)
- ``assemble.py``  seed sets into a submissions store, exports in the leaderboard's formats
- ``estimate.py``  the GPU hours a table needs
- ``run.py``       run_table, table_status, table_plan

docs/tables.md describes the table file, the backends and the containers.
"""

from .run import TableOptions, TableResult, run_table, table_plan, table_status
from .spec import load_table

__all__ = ["TableOptions", "TableResult", "load_table", "run_table", "table_plan",
           "table_status"]
