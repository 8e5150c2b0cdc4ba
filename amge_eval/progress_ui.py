"""Rich progress bars for the harness.progress.Progress protocol (CLI only)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class RichProgress:
    """One bar per task, with live figures (loss, samples/s, epoch) in its description."""

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.quiet = quiet
        self.console = console or Console(stderr=True)
        self._bars = Progress(TextColumn("{task.description}"), BarColumn(),
                              MofNCompleteColumn(), TaskProgressColumn(),
                              TextColumn("{task.fields[info]}"), TimeElapsedColumn(),
                              TextColumn("ETA"), TimeRemainingColumn(),
                              console=self.console, transient=False, disable=quiet)
        self._tasks: dict[str, int] = {}
        self._started: dict[str, float] = {}

    def __enter__(self):
        self._bars.start()
        return self

    def __exit__(self, *exc):
        self._bars.stop()

    @staticmethod
    def _info(info: dict) -> str:
        parts = []
        if "epoch" in info:
            parts.append(f"epoch {info['epoch']}/{info.get('epochs', '?')}")
        if "loss" in info:
            parts.append(f"loss {info['loss']:.4f}")
        for key, unit in (("samples_per_s", "samples/s"), ("clips_per_s", "clips/s")):
            if key in info:
                parts.append(f"{info[key]:.1f} {unit}")
        return "  ".join(parts)

    def start(self, task, total=None, **info):
        if task in self._tasks:
            self._bars.remove_task(self._tasks[task])
        self._tasks[task] = self._bars.add_task(task, total=total,
                                                completed=info.pop("completed", 0),
                                                info=self._info(info))
        self._started[task] = time.perf_counter()

    def advance(self, task, n=1, **info):
        if task in self._tasks:
            self._bars.update(self._tasks[task], advance=n,
                              **({"info": self._info(info)} if info else {}))

    def finish(self, task, **info):
        if task in self._tasks:
            t = self._bars.tasks[[x.id for x in self._bars.tasks].index(self._tasks[task])]
            self._bars.update(self._tasks[task], completed=t.total or t.completed,
                              **({"info": self._info(info)} if info else {}))

    def note(self, message):
        if not self.quiet:
            self.console.print(message)
