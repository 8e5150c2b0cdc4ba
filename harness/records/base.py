"""What every record shares: typed JSON with a kind and a schema version, written atomically,
read back with every field checked and a failure named by its path.

A record is a msgspec Struct. ``to_json`` writes it as indented JSON (keys in declaration order,
no NaN); ``from_json`` first reads only ``kind`` and ``schema_version`` (so that a record of
another kind or an unsupported version gets a message saying so, not a complaint about some
field), then decodes the whole document strictly: unknown keys, missing keys and values of the
wrong type are refused with the JSON path of the first one
(``splits.val_seen.map: expected float <= 100, got 140.5``). A record may add semantic checks in
``check(self) -> list[tuple[str, str]]``.

The schema version is "MAJOR.MINOR": a reader accepts its own major version and any minor one
(minor versions only add optional fields).
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Annotated, ClassVar, Self

import msgspec

from ..errors import AmgeError
from ..fileio import write_text_atomic
from ..schema import describe

# Shared field types.
Percent = Annotated[float, msgspec.Meta(ge=0.0, le=100.0)]  # an AP or mAP in %
SignedPercent = Annotated[float, msgspec.Meta(ge=-100.0, le=100.0)]  # a difference or gap in %
Sha256 = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]
Count = Annotated[int, msgspec.Meta(ge=0)]
MAX_RECORD_BYTES = 64 * 1024 * 1024  # the largest record a reader loads


class RecordInvalid(AmgeError):
    """A record file that is not JSON, not of the expected kind or version, or has a bad field.
    ``path`` is the failing field's path ("" for the document)."""

    def __init__(self, message: str, source: str = "", path: str = "", code: str = "E909"):
        self.source = source
        self.path = path
        where = f"{source}: " if source else ""
        field = f"{path}: " if path else ""
        super().__init__(f"{where}{field}{message}", code=code)


class _Head(msgspec.Struct):
    kind: object = None
    schema_version: object = None


class Record(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Base of the typed records. Subclasses set KIND and VERSION and declare ``kind`` and
    ``schema_version`` fields defaulting to them."""

    KIND: ClassVar[str] = ""
    VERSION: ClassVar[str] = ""
    CODE: ClassVar[str] = "E909"  # error code of an invalid record of this kind

    def check(self) -> list[tuple[str, str]]:
        """Semantic problems as (field path, message); types are checked by the decoder."""
        return []

    def to_dict(self) -> dict:
        return msgspec.to_builtins(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write(self, path: str | os.PathLike) -> Path:
        return write_text_atomic(path, self.to_json())

    @classmethod
    def from_json(cls, text: str | bytes, source: str = "") -> Self:
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
        if len(raw) > MAX_RECORD_BYTES:
            raise RecordInvalid(f"is {len(raw):,} bytes; a record is at most "
                                f"{MAX_RECORD_BYTES:,}", source, code=cls.CODE)
        try:
            head = msgspec.json.decode(raw, type=_Head)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise RecordInvalid(f"not a JSON object ({exc})", source, code=cls.CODE) from exc
        except RecursionError as exc:
            raise RecordInvalid("nested too deeply to be a record", source,
                                code=cls.CODE) from exc
        cls._check_head(head.kind, head.schema_version, source)
        try:
            obj = msgspec.json.decode(raw, type=cls, strict=True)
        except msgspec.ValidationError as exc:
            try:
                value = msgspec.json.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
                value = None  # the message then names the field without its value
            sub, msg = describe(exc, value)
            raise RecordInvalid(msg, source, sub.lstrip("."), code=cls.CODE) from exc
        except msgspec.DecodeError as exc:
            raise RecordInvalid(f"not valid JSON ({exc})", source, code=cls.CODE) from exc
        except RecursionError as exc:
            raise RecordInvalid("nested too deeply to be a record", source,
                                code=cls.CODE) from exc
        obj._raise_checks(source)
        return obj

    @classmethod
    def from_dict(cls, data: object, source: str = "") -> Self:
        if not isinstance(data, dict):
            raise RecordInvalid("expected a JSON object", source, code=cls.CODE)
        cls._check_head(data.get("kind"), data.get("schema_version"), source)
        try:
            obj = msgspec.convert(data, cls, strict=True)
        except msgspec.ValidationError as exc:
            sub, msg = describe(exc, data)
            raise RecordInvalid(msg, source, sub.lstrip("."), code=cls.CODE) from exc
        obj._raise_checks(source)
        return obj

    @classmethod
    def read(cls, path: str | os.PathLike) -> Self:
        try:
            if Path(path).stat().st_size > MAX_RECORD_BYTES:
                raise RecordInvalid(f"is {Path(path).stat().st_size:,} bytes; a record is at "
                                    f"most {MAX_RECORD_BYTES:,}", str(path), code=cls.CODE)
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise RecordInvalid(f"cannot read the file ({exc.strerror or exc})", str(path),
                                code=cls.CODE) from exc
        return cls.from_json(raw, str(path))

    @classmethod
    def _check_head(cls, kind: object, version: object, source: str) -> None:
        if kind != cls.KIND:
            raise RecordInvalid(f"not a {cls.KIND!r} record (its kind is {kind!r})", source,
                                "kind", code=cls.CODE)
        major = cls.VERSION.split(".")[0]
        if not isinstance(version, str) or version.split(".")[0] != major:
            raise RecordInvalid(f"schema_version {version!r} is not supported; this amge-eval "
                                f"reads {cls.KIND} records {major}.x", source, "schema_version",
                                code=cls.CODE)

    def _raise_checks(self, source: str) -> None:
        problems = self.check()
        if problems:
            path, msg = problems[0]
            more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
            raise RecordInvalid(msg + more, source, path, code=self.CODE)


class Environment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The software a record was made with (the only home of this information)."""

    python: str  # "3.11.7"
    platform: str  # platform.platform(): OS, kernel, architecture, libc
    machine: str | None = None  # CPU model where known (lscpu's "Model name"), else the architecture
    packages: dict[str, str | None] = {}  # distribution -> version (None = not installed)


PACKAGES: tuple[str, ...] = ("amge-eval", "numpy", "scikit-learn", "msgspec", "torch", "torchvision",
                             "av")


def cpu_model() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else the machine architecture."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(packages: tuple[str, ...] = PACKAGES) -> Environment:
    from importlib import metadata

    found: dict[str, str | None] = {}
    for dist in packages:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = None
    return Environment(python=sys.version.split()[0], platform=platform.platform(),
                       machine=cpu_model(), packages=found)


# How docs/formats.md names the keys of a table-valued field ("splits.<split>.map").
KEY_NAMES = {"splits": "<split>", "intervals": "<kind>", "summary": "<key>",
             "entries": "<entry>", "skipped_samples": "<split>"}


def field_paths(cls, prefix: str = "", stop: tuple[type, ...] = ()) -> list[str]:
    """Every field of a record type as a dotted path, nested ones included: ``splits.<split>.map``,
    ``splits.<split>.per_muscle[].ap``; parts whose type is in ``stop`` are not descended into.
    docs/formats.md documents each (a test checks)."""
    out = []
    for f in msgspec.inspect.type_info(cls).fields:
        path = f"{prefix}{f.encode_name}"
        out.append(path)
        out += _nested(f.type, path, f.encode_name, stop)
    return out


def _nested(t, path: str, name: str, stop: tuple[type, ...]) -> list[str]:
    if isinstance(t, msgspec.inspect.StructType):
        return [] if t.cls in stop else field_paths(t.cls, path + ".", stop)
    if isinstance(t, msgspec.inspect.UnionType):
        return [p for arg in t.types for p in _nested(arg, path, name, stop)]
    if isinstance(t, msgspec.inspect.DictType):
        return _nested(t.value_type, f"{path}.{KEY_NAMES.get(name, '<key>')}", name, stop)
    if isinstance(t, (msgspec.inspect.ListType, msgspec.inspect.VarTupleType)):
        return _nested(t.item_type, path + "[]", name, stop)
    return []
