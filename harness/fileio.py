"""Small file helpers shared across the project: atomic writes, hashing, default locations."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def dir_sha256(members: dict[str, str]) -> str:
    """The hash of a folder of files: sha256 over its sorted "name<TAB>sha256" lines, so that it
    depends on the member names and contents only (not on times or the folder's path)."""
    h = hashlib.sha256()
    for name, digest in sorted(members.items()):
        h.update(f"{name}\t{digest}\n".encode())
    return h.hexdigest()


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    The bytes go to a temporary file in the same folder, are flushed to disk, and the temporary
    file is renamed over the target; a crash leaves at most a stray ``.tmp-*`` file, never a
    half-written target. A path that cannot be written (no permission, a file where a folder
    should be, a full disk) raises AmgeError E601 naming it.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".tmp-{path.name}-", dir=path.parent)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    try:
        # mkstemp makes the file private (0600); give it the permissions a plain open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError):
            raise _unwritable(path, exc) from exc
        raise
    return path


def make_dirs(path: str | os.PathLike) -> Path:
    """``mkdir -p``; a folder that cannot be made raises AmgeError E601 naming it."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(path, exc) from exc
    return path


def _unwritable(path: Path, exc: OSError):
    from .errors import AmgeError

    return AmgeError(f"Cannot write {path}: {exc.strerror or exc}; choose a folder you can write "
                     f"to", code="E601")


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return write_bytes_atomic(path, text.encode("utf-8"))


def write_json_atomic(path: str | os.PathLike, obj) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=False) + "\n")


def amge_home() -> Path:
    """Root of amge-eval's default data locations: $AMGE_EVAL_HOME, else ~/.cache/amge-eval."""
    env = os.environ.get("AMGE_EVAL_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "amge-eval"


def default_labels_dir() -> Path:
    """The label store: $AMGE_EVAL_LABELS, else <home>/labels."""
    env = os.environ.get("AMGE_EVAL_LABELS")
    return Path(env).expanduser() if env else amge_home() / "labels"


def default_data_root() -> Path:
    """Media (videos, skeletons) per dataset: $AMGE_EVAL_DATA, else <home>/data."""
    env = os.environ.get("AMGE_EVAL_DATA")
    return Path(env).expanduser() if env else amge_home() / "data"
