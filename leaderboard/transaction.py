"""Every write to the submissions store is one transaction under one lock, so that no kill and no
race can damage it.

**The lock.** Writers (submit, replace, rescore, ties, seed, doctor) take an exclusive ``flock``
on the store's root folder; readers take a shared one, so a reader never sees a write half done.
The lock lives on the folder itself (no lock file in the store) and dies with its process, so a
killed writer never leaves the store locked. (Without ``fcntl``, on Windows, there is no lock.)

**A transaction** stages everything it will write in a hidden folder of the store,
``.txn-<id>/``, which readers never look at, while its owner holds an ``flock`` on that folder
(so another process can tell a live staging folder from a dead one). It commits by writing
``.txn-<id>/journal.json`` (the list of moves: staged path -> target path) atomically, under the
store lock; then it applies the moves one by one (a target that exists is first moved into the
transaction's ``trash/``) and removes its folder. The journal is the commit point:

- killed before the journal exists: nothing in the store changed; the staging folder is dead and
  is removed by the next writer or by `leaderboard doctor` (rolled back);
- killed after: every writer, on taking the lock, first finishes any committed transaction
  (rolled forward: each move whose staged path still exists is made), so every entry and record
  ends up either wholly old or wholly new.

Readers refuse a store with a committed transaction that nobody finished (a killed writer) and
say to run `amge-eval leaderboard doctor`, which finishes it; they never read a half-applied one.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import make_dirs, write_bytes_atomic

TXN_PREFIX = ".txn-"
JOURNAL = "journal.json"
LEGACY_PREFIXES = (".tmp-", ".old-")  # staging folders of amge-eval before transactions


def _step(name: str) -> None:
    """Called before every step of a transaction (a seam for the kill-at-every-step tests)."""


# --------------------------------------------------------------------------- locks

def _flock(fd: int, mode: str, blocking: bool = True) -> bool:
    try:
        import fcntl
    except ImportError:  # no flock on this platform
        return True
    op = {"ex": fcntl.LOCK_EX, "sh": fcntl.LOCK_SH}[mode] | (0 if blocking else fcntl.LOCK_NB)
    try:
        fcntl.flock(fd, op)
        return True
    except BlockingIOError:
        return False


_HELD: dict[Path, str] = {}  # store roots this process holds a lock on -> "ex" | "sh"


@contextlib.contextmanager
def store_lock(root: Path, mode: str = "ex") -> Iterator[None]:
    """Hold the store's lock ("ex" for writers, "sh" for readers); re-entrant in a process."""
    root = Path(root).resolve()
    if root in _HELD and (_HELD[root] == "ex" or mode == "sh"):
        yield
        return
    fd = os.open(make_dirs(root), os.O_RDONLY)
    try:
        _flock(fd, mode)
        _HELD[root] = mode
        yield
    finally:
        _HELD.pop(root, None)
        os.close(fd)  # releases the flock


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --------------------------------------------------------------------------- transactions

@dataclass
class Transaction:
    """A set of staged files and folders that replace their targets all together, or not at all.

    Build with ``stage_dir``/``stage_file``/``delete``, then ``commit()`` (with the store lock
    held, or it takes it). ``abandon()`` (or leaving a ``begin`` block by an exception) removes
    the staging folder; the store is untouched.
    """

    root: Path
    folder: Path
    moves: list[tuple[str, str]] = field(default_factory=list)  # (staged, target), root-relative
    _fd: int | None = None

    @classmethod
    def begin(cls, root: str | os.PathLike) -> Transaction:
        root = make_dirs(root)
        _step("begin")
        folder = root / f"{TXN_PREFIX}{secrets.token_hex(8)}"
        folder.mkdir()
        (folder / "new").mkdir()
        fd = os.open(folder, os.O_RDONLY)
        _flock(fd, "ex")  # marks the folder as live until this process ends or abandons it
        return cls(root, folder, [], fd)

    def _staged(self, target: str) -> Path:
        _step("stage")
        return self.folder / "new" / str(len(self.moves))

    def stage_dir(self, target: str) -> Path:
        """An empty folder that becomes ``root/target`` (replacing it) on commit."""
        path = self._staged(target)
        path.mkdir()
        self.moves.append((str(path.relative_to(self.root)), target))
        return path

    def stage_file(self, target: str, data: bytes | str) -> Path:
        """A file that becomes ``root/target`` (replacing it) on commit."""
        path = self._staged(target)
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        self.moves.append((str(path.relative_to(self.root)), target))
        return path

    def delete(self, target: str) -> None:
        """``root/target`` is removed on commit."""
        self.moves.append(("", target))

    def commit(self) -> None:
        """Make every move, atomically as seen by readers; recovers others' committed ones first."""
        with store_lock(self.root, "ex"):
            recover(self.root)
            _step("journal")
            journal = {"moves": [{"staged": s, "target": t} for s, t in self.moves]}
            write_bytes_atomic(self.folder / JOURNAL, json.dumps(journal).encode())
            fsync_dir(self.folder)
            _apply(self.root, self.folder)
        self._release()

    def abandon(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self._release()

    def _release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None or self._fd is not None:
            self.abandon()


def _apply(root: Path, folder: Path) -> None:
    """Make the journal's moves that are not made yet (idempotent), then drop the folder."""
    moves = json.loads((folder / JOURNAL).read_text(encoding="utf-8"))["moves"]
    trash = folder / "trash"
    trash.mkdir(exist_ok=True)
    for i, move in enumerate(moves):
        staged = root / move["staged"] if move["staged"] else None
        target = root / move["target"]
        if staged is not None and not staged.exists():
            continue  # made before a kill
        _step(f"move {i}")
        if target.exists() or target.is_symlink():
            old = trash / str(i)
            if old.exists():
                shutil.rmtree(old) if old.is_dir() else old.unlink()
            os.rename(target, old)
        if staged is not None:  # else: a deletion, done by the move into trash
            target.parent.mkdir(parents=True, exist_ok=True)
            os.rename(staged, target)
        fsync_dir(target.parent)
    _step("cleanup")
    shutil.rmtree(folder)
    fsync_dir(root)


# --------------------------------------------------------------------------- recovery

@dataclass
class Recovery:
    finished: list[str] = field(default_factory=list)  # committed transactions rolled forward
    removed: list[str] = field(default_factory=list)  # dead staging folders rolled back
    live: list[str] = field(default_factory=list)  # staging folders of running writers


def _txn_folders(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(TXN_PREFIX))


def _alive(folder: Path) -> bool:
    fd = os.open(folder, os.O_RDONLY)
    try:
        return not _flock(fd, "ex", blocking=False)
    finally:
        os.close(fd)


def recover(root: str | os.PathLike) -> Recovery:
    """Finish committed transactions and remove dead uncommitted ones (store lock held)."""
    root = Path(root)
    rep = Recovery()
    for folder in _txn_folders(root):
        if _alive(folder):
            rep.live.append(folder.name)
        elif (folder / JOURNAL).is_file():
            _apply(root, folder)
            rep.finished.append(folder.name)
        else:
            shutil.rmtree(folder, ignore_errors=True)
            rep.removed.append(folder.name)
    return rep


def dead_uncommitted(root: str | os.PathLike) -> list[str]:
    """Staging folders of killed writers that never committed: harmless, removed by recovery."""
    return [f.name for f in _txn_folders(Path(root))
            if not (f / JOURNAL).is_file() and not _alive(f)]


def pending(root: str | os.PathLike) -> list[str]:
    """Committed transactions that no live writer is finishing (a killed writer's)."""
    return [f.name for f in _txn_folders(Path(root))
            if (f / JOURNAL).is_file() and not _alive(f)]


def check_readable(root: str | os.PathLike) -> None:
    """Readers call this under the shared lock: a killed writer's committed transaction must be
    finished before the store can be read as a whole."""
    waiting = pending(root)
    if waiting:
        raise AmgeError(f"The store {root} holds an interrupted write ({', '.join(waiting)}); run "
                        f"`amge-eval leaderboard doctor --submissions {root}` to finish it "
                        f"(any write through amge-eval finishes it too)", code="E915")
