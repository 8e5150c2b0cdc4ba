"""Fuzzing the entry reader (``leaderboard.entries.load_entry``): entry files, score and run
records, and folder layouts as a stranger's pull request could make them.

Every case starts from a valid entry folder (a scored ``verified`` entry, a ``reproduced`` one
with its run record, a ``reported`` paper row) and mutates one layer:

- ``entry.toml``: keys (unknown, missing, repeated tables), values of every TOML type (dates,
  arrays of mixed types, inline tables, huge integers, inf/nan floats, long, empty, control and
  bidirectional-control text, deep nesting), and bytes (bit flips, truncation, insertion,
  invalid UTF-8);
- ``scores.json`` and ``run.json``: structure (keys deleted, added, renamed; values of other
  JSON types; numbers out of range, huge, NaN tokens; deep nesting; long strings) and bytes;
- the folder: files missing or extra, prediction files changed after scoring, seed folders.

The oracle, for every case:

1. ``load_entry`` raises nothing but ``EntryInvalid``/``AmgeError`` (a user error with a code
   from the catalogue);
2. it takes under 2 s;
3. an entry it accepts is consistent: its entry file round-trips through ``entry_toml`` and the
   validator, its records through ``to_json``/``from_json``, every number it would show is
   finite and in range, and the board can be built from it;
4. the folder is not modified.

Run from the repository root::

    python tests/fuzz/fuzz_entries.py --cases 100000       # the long campaign
    python tests/fuzz/fuzz_entries.py --replay 1234        # one case again

Case ``i`` of seed ``s`` draws from ``random.Random(f"{s}:{i}")``. The suite runs a short,
deterministic version (tests/fuzz/test_fuzz_short.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import sys
import tempfile
import time
import tomllib
import traceback
from pathlib import Path

HANG_S = 2.0
KINDS = ("verified", "reproduced", "reported")


# --------------------------------------------------------------------------- the base entries

def make_bases(root: Path) -> dict[str, Path]:
    """One valid entry folder of each status, built with the project's own submit."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from amge_eval.leaderboard.submit import submit
    from tests.conftest import make_store
    from tests.leaderboard_helpers import COMMITTED, copy_reported, write_pred_dir, write_run_dir

    store = make_store(root / "labels")
    subs = copy_reported(root / "subs")
    submit(write_pred_dir(root / "p", store, 0.5), "musclemap136", "Verified model",
           submissions_dir=subs, labels_dir=store.root, resamples=200)
    submit(write_run_dir(root / "r", store, 0.5), "musclemap136", "Reproduced model",
           submissions_dir=subs, labels_dir=store.root, resamples=200)
    assert COMMITTED.is_dir()
    ds = subs / "musclemap136"
    return {"verified": ds / "verified-model", "reproduced": ds / "reproduced-model",
            "reported": ds / "paper-v1-mvitv2-s"}


# --------------------------------------------------------------------------- mutations

_WEIRD_TEXT = ["", " ", "x" * 5000, "\x07bell", "a\u202eb", "line\nbreak", "\ud800",
               "<script>alert(1)</script>", "=HYPERLINK(1)", "日本語", "🏋️", "\x00",
               "javascript:alert(1)", "../../etc/passwd", "https://ok.example/x"]


def _value(rng: random.Random, depth: int = 0):
    kind = rng.randrange(11)
    if kind == 0:
        return rng.choice([0, 1, -1, 2**63 - 1, -(2**63), rng.randrange(-10**6, 10**6)])
    if kind == 1:
        return rng.choice([0.0, -0.0, 1e308, -1e308, 5e-324, 1e-3, 50.5, 100.0001, 12.5])
    if kind == 2:
        return rng.choice(_WEIRD_TEXT)
    if kind == 3:
        return rng.random() < 0.5
    if kind == 4 and depth < 3:
        return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 5 and depth < 3:
        return {rng.choice(["a", "name", "val_s", "x y"]): _value(rng, depth + 1)
                for _ in range(rng.randrange(3))}
    if kind == 6:
        import datetime

        return datetime.date(2026, 11, 30)
    if kind == 7:
        return ["rgb", "rgb_diff"][: rng.randrange(3)]
    if kind == 8:
        return rng.choice(["reported", "verified", "reproduced", "video", "other", "v1"])
    if kind == 9:
        return float("nan") if rng.random() < 0.5 else float("inf")
    return rng.choice(["2026-13-45", "2026-11-30", "1.0", "synth", "musclemap136"])


def _toml_text(data: dict) -> str:
    import tomli_w

    try:
        return tomli_w.dumps(data)
    except (TypeError, ValueError):
        return "x = 1\n"


def mutate_entry_file(rng: random.Random, text: str) -> bytes:
    data = tomllib.loads(text)
    op = rng.randrange(6)
    keys = list(data) or ["name"]
    if op == 0:
        data[rng.choice(keys)] = _value(rng)
    elif op == 1:
        data.pop(rng.choice(keys), None)
    elif op == 2:
        data[rng.choice(["nmae", "team", "extra", "reported", "preset", "frames"])] = _value(rng)
    elif op == 3 and "reported" in data and isinstance(data["reported"], dict):
        rep = data["reported"]
        rep[rng.choice(list(rep) + ["bogus"])] = _value(rng)
    elif op == 4:
        return ("a = " + "[" * rng.randrange(50, 5000) + "]" * 10).encode()
    else:
        return _bytes(rng, text.encode())
    return _toml_text(data).encode("utf-8", "surrogatepass")


def _walk(obj, rng: random.Random, steps: int = 0):
    """A random (container, key) path inside a JSON document."""
    path = []
    cur = obj
    while isinstance(cur, dict | list) and cur and rng.random() < 0.8:
        key = rng.choice(list(cur)) if isinstance(cur, dict) else rng.randrange(len(cur))
        path.append((cur, key))
        cur = cur[key]
    return path


def mutate_json(rng: random.Random, raw: bytes) -> bytes:
    doc = json.loads(raw)
    op = rng.randrange(7)
    path = _walk(doc, rng)
    if op <= 2 and path:
        parent, key = path[-1]
        if op == 0:
            parent[key] = json.loads(json.dumps(_value(rng), default=str).replace("NaN", "0")
                                     .replace("Infinity", "1"))
        elif op == 1 and isinstance(parent, dict):
            del parent[key]
        elif op == 2:
            parent[key] = rng.choice([None, -5, 250.0, 1e309 if False else 1e300, "text", [],
                                      {}, True, "a" * 100000])
    elif op == 3 and isinstance(doc, dict):
        doc[rng.choice(["extra", "kind", "schema_version", "seeds"])] = _value(rng, 2) \
            if rng.random() < 0.5 else rng.choice(["score", "run", "9.0", "2.1", 3])
    elif op == 4:
        return b'{"kind": "score", "schema_version": "2.1", "x": ' + b"[" * rng.randrange(
            100, 200000) + b"]"
    elif op == 5:
        text = json.dumps(doc)
        return text.replace("0.", "NaN" if rng.random() < 0.5 else "1e999", 1).encode()
    else:
        return _bytes(rng, raw)
    return json.dumps(doc, default=str).encode("utf-8", "surrogatepass")


def _bytes(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    op = rng.randrange(4)
    if op == 0 and b:
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif op == 1:
        del b[rng.randrange(len(b) + 1):]
    elif op == 2:
        i = rng.randrange(len(b) + 1)
        b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
    else:
        b[rng.randrange(len(b) + 1):rng.randrange(len(b) + 1)] = b"\xff\xfe\xc3("
    return bytes(b)


def mutate_folder(rng: random.Random, folder: Path) -> None:
    op = rng.randrange(5)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if op == 0 and files:
        rng.choice(files).unlink()
    elif op == 1:
        (folder / rng.choice(["extra.txt", "predictions/x.npz", "runs/seed-0.json",
                              "predictions/seed-0/test_seen.npz"])).parent.mkdir(
            parents=True, exist_ok=True)
        (folder / "extra.txt").write_bytes(b"x")
    elif op == 2 and (folder / "predictions").is_dir():
        preds = sorted((folder / "predictions").glob("*.npz"))
        if preds:
            p = rng.choice(preds)
            p.write_bytes(_bytes(rng, p.read_bytes()))
    elif op == 3 and (folder / "predictions").is_dir():
        shutil.rmtree(folder / "predictions")
    else:
        (folder / "run.json").write_bytes(b'{"kind": "run"}')


def mutate(rng: random.Random, folder: Path) -> str:
    """Mutate one layer of the entry folder in place; returns what was done."""
    layer = rng.choice(["entry", "entry", "scores", "scores", "run", "folder"])
    if layer == "entry":
        p = folder / "entry.toml"
        p.write_bytes(mutate_entry_file(rng, p.read_text(encoding="utf-8")))
    elif layer in ("scores", "run"):
        p = folder / f"{layer}.json"
        if p.is_file():
            p.write_bytes(mutate_json(rng, p.read_bytes()))
        else:
            layer = "folder"
    if layer == "folder":
        mutate_folder(rng, folder)
    return layer


# --------------------------------------------------------------------------- the oracle

def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


def check(folder: Path, verify_hashes: bool) -> str:
    """Run the oracle on one folder: '' when fine, else what broke."""
    from amge_eval.harness.errors import AmgeError
    from amge_eval.harness.records import RunRecord, ScoreRecord
    from amge_eval.leaderboard.entries import entry_toml, load_entry, validate_entry
    from amge_eval.leaderboard.table import build_board

    before = _digest(folder)
    t0 = time.perf_counter()
    try:
        entry = load_entry(folder, verify_hashes=verify_hashes)
    except AmgeError:
        entry = None
    except Exception:  # noqa: BLE001 - the finding
        return "raised " + traceback.format_exc(limit=3)
    took = time.perf_counter() - t0
    if took > HANG_S:
        return f"took {took:.2f} s"
    if _digest(folder) != before:
        return "modified the folder"
    if entry is None:
        return ""
    try:
        again = validate_entry(tomllib.loads(entry_toml(entry.meta)), "t",
                               has_predictions=entry.record is not None,
                               has_run=entry.run is not None)
        if again != entry.meta:
            return "entry file does not round-trip"
        if entry.record is not None and \
                ScoreRecord.from_json(entry.record.to_json()) != entry.record:
            return "score record does not round-trip"
        if entry.run is not None and RunRecord.from_json(entry.run.to_json()) != entry.run:
            return "run record does not round-trip"
        for k, v in entry.values().items():
            if v is not None and not -100 <= v <= 100:
                return f"{k} = {v} out of range"
        build_board(entry.dataset, [entry], None)
    except Exception:  # noqa: BLE001 - the finding
        return "accepted entry is inconsistent: " + traceback.format_exc(limit=3)
    return ""


def run(cases: int, seed: int = 0, start: int = 0, out: Path | None = None,
        bases: dict[str, Path] | None = None, work: Path | None = None) -> dict:
    """Fuzz ``cases`` cases; returns counts and the failures (case -> finding)."""
    tmp = Path(tempfile.mkdtemp(prefix="fuzz-entries-")) if work is None else work
    bases = bases or make_bases(tmp / "bases")
    stats = {"cases": 0, "accepted": 0, "slowest_s": 0.0, "failures": {}}
    for i in range(start, start + cases):
        rng = random.Random(f"{seed}:{i}")
        kind = rng.choice(KINDS)
        folder = tmp / "case" / "musclemap136" / bases[kind].name
        if folder.parent.exists():
            shutil.rmtree(folder.parent)
        shutil.copytree(bases[kind], folder)
        mutate(rng, folder)
        t0 = time.perf_counter()
        finding = check(folder, verify_hashes=rng.random() < 0.3)
        stats["slowest_s"] = max(stats["slowest_s"], time.perf_counter() - t0)
        stats["cases"] += 1
        if finding:
            stats["failures"][i] = finding
            if out is not None:
                dest = out / f"case-{seed}-{i}"
                shutil.copytree(folder, dest, dirs_exist_ok=True)
        else:
            try:
                from amge_eval.leaderboard.entries import load_entry

                load_entry(folder)
                stats["accepted"] += 1
            except Exception:  # noqa: BLE001 - counted as refused
                pass
    return stats


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--replay", type=int, default=None, help="run one case again")
    p.add_argument("--out", type=Path, default=Path("tests/fuzz/failures-entries"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    if args.replay is not None:
        stats = run(1, args.seed, args.replay, args.out)
    else:
        stats = run(args.cases, args.seed, 0, args.out)
    stats["seconds"] = round(time.perf_counter() - t0, 1)
    fails = stats.pop("failures")
    print(json.dumps(stats), file=sys.stderr)
    for i, f in list(fails.items())[:20]:
        print(f"case {i}: {f}", file=sys.stderr)
    return 1 if fails else 0


if __name__ == "__main__":
    raise SystemExit(main())
