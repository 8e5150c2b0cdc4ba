"""One validator for every table the project reads: typed, with each problem named by its path.

``convert(cls, data, where, code)`` builds ``cls`` (a dataclass or a msgspec Struct) from a
mapping read from TOML or JSON. It refuses keys the class does not have (with the project's one
"did you mean"), converts each value to its field's annotated type with msgspec in strict mode
(no ``"16"`` for 16, no ``1`` for ``true``; a list becomes a tuple where the field is a tuple),
and collects every problem before it raises, each as ``<where>.<key>: <what>``::

    [data].frames: expected int, got "16x4"
    [train].lr: expected float, got true
    [model]: unknown key 'chanels'. Did you mean 'channels'?

A class may add rules of its own: a classmethod ``check_field(key, value)`` returning
(message, code) pairs for one well-typed value (it runs for every field that converted, so a
file's problems are all reported at once), and a method ``check(self)`` returning (key, message)
or (key, message, code) tuples for rules across fields, run once every type is right. ``collect`` returns the problems instead of raising, for callers that report them with
codes of their own (entry files).

Used by: run configs (all four tables), dataset cards, leaderboard entry files, and the record
readers (harness.records), which decode whole JSON documents with msgspec and name the failing
field by its JSON path the same way.
"""

from __future__ import annotations

import json
import re
import types
import typing
from dataclasses import dataclass

import msgspec

from .errors import AmgeError
from .vocab import did_you_mean


@dataclass(frozen=True)
class Issue:
    """One problem of a table: ``path`` names the key, ``kind`` what went wrong."""

    path: str  # "[data].frames", "reported.val_s", "splits.val_seen.map"
    message: str  # "expected int, got \"16x4\""
    kind: str  # "unknown" | "missing" | "type" | "value"
    code: str = ""  # a caller's error code for this problem, where the check names one

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


_MISSING = object()
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)


def show(value: object, limit: int = 60) -> str:
    """A value as the user wrote it (JSON spelling: "text", true, [1, 2]), shortened."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def join(where: str, key: str) -> str:
    if not where:
        return key
    return f"{where}{key}" if key.startswith("[") else f"{where}.{key}"


def _lookup(value: object, sub: str) -> object:
    """The part of ``value`` at a msgspec sub-path such as ``.a[0].b``; _MISSING if unknown."""
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]", sub):
        try:
            if name:
                value = value[name]  # type: ignore[index]
            elif index == "...":
                return _MISSING
            else:
                value = value[int(index)]  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _choices(hint) -> tuple | None:
    """The allowed values of a Literal (also inside Optional/Annotated), else None."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _choices(typing.get_args(hint)[0])
    if origin is typing.Literal:
        return typing.get_args(hint)
    if origin in (typing.Union, types.UnionType, list, tuple):  # an element's, or a member's
        for arg in typing.get_args(hint):
            found = _choices(arg) if arg is not Ellipsis else None
            if found:
                return found
    return None


def describe(exc: msgspec.ValidationError, value: object, hint=None) -> tuple[str, str]:
    """(sub-path, message) of a msgspec error, reworded: ``expected int, got "16x4"``."""
    m = _AT.match(str(exc))
    msg, sub = m.group("msg"), m.group("path") or ""
    got = _lookup(value, sub)
    msg = msg.replace("`", "")
    if msg.startswith("Invalid enum value"):
        allowed = _choices(hint)
        msg = (f"expected one of {', '.join(repr(c) for c in allowed)}, got {show(got)}."
               f"{did_you_mean(got, allowed)}" if allowed else f"invalid value {show(got)}")
    elif msg.startswith("Expected"):
        msg = "expected" + msg[len("Expected"):]
        if ", got " in msg and got is not _MISSING:
            msg = msg.split(", got ")[0] + f", got {show(got)}"
        elif got is not _MISSING and ", got" not in msg:
            msg += f", got {show(got)}"
    elif msg.startswith("Object missing required field"):
        msg = "missing required key " + msg.split("field", 1)[1].strip().replace("`", "'")
    elif msg.startswith("Object contains unknown field"):
        msg = "unknown key " + msg.split("field", 1)[1].strip().replace("`", "'")
    else:
        msg = msg[:1].lower() + msg[1:]
    return sub, msg


def plain(value: object) -> object:
    """numpy scalars (np.float32(2.5), np.int64(3)) as the Python numbers they hold, also inside
    lists and tables, so that values computed with numpy pass the strict type checks."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v) for v in value)
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy" and getattr(value, "ndim", 1) == 0:
        return item()
    return value


def _fields(cls) -> list[tuple[str, str, bool]]:
    """(attribute name, key as written, required) of each field of a dataclass or Struct."""
    info = msgspec.inspect.type_info(cls)
    return [(f.name, f.encode_name, f.required) for f in info.fields]


def collect(cls, data: object, where: str = "") -> tuple[object | None, list[Issue]]:
    """Build ``cls`` from ``data``; returns (instance or None, every problem found)."""
    if not isinstance(data, dict):
        return None, [Issue(where or "(top)", f"expected a table of keys, got {show(data)}",
                            "type")]
    try:
        return _collect(cls, data, where)
    except RecursionError:
        return None, [Issue(where or "(top)", "nested too deeply", "type")]


def _collect(cls, data: dict, where: str) -> tuple[object | None, list[Issue]]:
    hints = typing.get_type_hints(cls, include_extras=True)
    fields = _fields(cls)
    keys = {key: attr for attr, key, _ in fields}
    issues: list[Issue] = []
    for key in data:
        if key not in keys:
            issues.append(Issue(where or "(top)", f"unknown key {str(key)!r}."
                                f"{did_you_mean(key, keys)} Keys: {', '.join(keys)}",
                                "unknown"))
    values: dict[str, object] = {}
    check_field = getattr(cls, "check_field", None)
    for attr, key, required in fields:
        if key not in data:
            if required:
                issues.append(Issue(join(where, key), "required key is missing", "missing"))
            continue
        raw = plain(data[key])
        try:
            values[attr] = msgspec.convert(raw, hints[attr], strict=True)
        except msgspec.ValidationError as exc:
            sub, msg = describe(exc, raw, hints[attr])
            issues.append(Issue(join(where, key) + sub, msg, "type"))
            continue
        if check_field is not None:
            issues += [Issue(join(where, key), msg, "value", code)
                       for msg, code in check_field(key, values[attr])]
    if issues:
        return None, issues
    try:
        obj = cls(**values)
    except (TypeError, ValueError) as exc:
        return None, [Issue(where or "(top)", str(exc), "value")]
    check = getattr(obj, "check", None)
    if callable(check):
        issues = [Issue(join(where, c[0]) if c[0] else (where or "(top)"), c[1], "value",
                        c[2] if len(c) > 2 else "") for c in check()]
        if issues:
            return None, issues
    return obj, []


def convert(cls, data: object, where: str = "", code: str = "E803", source: str = ""):
    """Build ``cls`` from ``data`` or raise AmgeError(code) listing every problem."""
    obj, issues = collect(cls, data, where)
    if issues:
        head = f"{source}: " if source else ""
        raise AmgeError(head + "; ".join(str(i) for i in issues), code=code)
    return obj


def to_builtins(obj) -> object:
    """A dataclass or Struct as plain JSON/TOML values (tuples become lists)."""
    return msgspec.to_builtins(obj)
