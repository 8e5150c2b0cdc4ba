"""How long-running library code reports progress without printing.

Library functions take an optional ``progress`` object; the CLI passes one that draws rich
progress bars, tests pass nothing (``NULL_PROGRESS``)."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def start(self, task: str, total: int | None = None, **info) -> None:
        """A task begins; ``total`` steps if known."""

    def advance(self, task: str, n: int = 1, **info) -> None:
        """``n`` more steps are done; ``info`` carries live figures (loss, clips/s, ...)."""

    def finish(self, task: str, **info) -> None:
        """The task ended."""

    def note(self, message: str) -> None:
        """A one-line message worth showing (a skipped file, a resumed checkpoint)."""


class _Null:
    def start(self, task, total=None, **info):
        pass

    def advance(self, task, n=1, **info):
        pass

    def finish(self, task, **info):
        pass

    def note(self, message):
        pass


NULL_PROGRESS: Progress = _Null()
