"""Fuzzing the prediction reader (``harness.predictions.read_predictions``), CSV and npz.

Every case is a file made from a valid one by structured mutation, at each layer a file has:

- content: rows, id strings (empty, long, control characters, spaces, other scripts, repeats),
  score dtypes (float16 to long double, int8 to uint64 near 2**63, bool, complex, strings,
  datetimes), shapes, memory order and byte order, NaN and infinity, muscle names (missing,
  repeated, unknown, too many, too long), dataset and split fields, multi-split files, extra and
  missing keys;
- ``.npy`` members: header text (shapes negative, huge or not integers; dtype strings numpy does
  not write; extra keys; unterminated text), header length and version fields, truncated or
  extended data;
- the zip archive: encrypted, patched and strong-encryption flags, compression methods and zip
  versions, duplicate and non-``.npy`` members, many members, bytes before or after the archive,
  end-record and central-directory fields, truncation, bit flips;
- CSV text: long lines, many columns, quoted newlines, NUL bytes, invalid UTF-8, BOMs, line
  endings, blank lines, numbers Python reads but the format does not (``1_0``, other scripts'
  digits), truncation, bit flips;

with small read limits now and then, so that every limit's refusal is reached.

The oracle, for every case:

1. ``read_predictions`` raises nothing (every finding is a problem with a code in
   PROBLEM_CODES);
2. it takes under 2 s (``--hang``);
3. a file it accepts is valid: numpy's own ``np.load(allow_pickle=False)`` (for CSV: the
   ``csv`` module and ``float``) reads the same ids and the same scores (in label order, or in
   the same per-column order where the reader ranked them), the keys are exactly the format's,
   and the content satisfies the format rules (ids non-empty, at most 512 characters, no control
   characters or padding, unique; 20 known muscle names once each; finite scores; known split);
4. the file is not modified;
5. the reader's peak memory (tracemalloc) stays under ``4 * max_bytes + 16 MiB``.

Run from the repository root::

    python tests/fuzz/fuzz_reader.py --cases 100000            # the long campaign (minutes)
    python tests/fuzz/fuzz_reader.py --cases 2000 --seed 7     # another deterministic stream
    python tests/fuzz/fuzz_reader.py --replay 12345             # write and check one case again
    python tests/fuzz/fuzz_reader.py --atheris -- -runs=100000 -timeout=2   # coverage-guided

Case ``i`` of seed ``s`` is drawn from ``random.Random(f"{s}:{i}")``, so any case can be replayed
alone. With ``--atheris`` the same generator draws its choices from libFuzzer's input bytes
(``atheris.FuzzedDataProvider``), and coverage of the reader, zipfile and csv guides the search.
Failing files are written to ``--out`` (default ``tests/fuzz/failures/``). The test suite runs a
short deterministic version (tests/fuzz/test_fuzz_short.py).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import random
import struct
import sys
import tempfile
import time
import traceback
import tracemalloc
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if __name__ == "__main__":  # import the checkout's amge_eval, not an installed copy
    sys.path.insert(0, str(ROOT))

from amge_eval.harness.datasets import SPLITS  # noqa: E402
from amge_eval.harness.errors import PROBLEM_CODES  # noqa: E402
from amge_eval.harness.muscles import MUSCLE_IDS, MUSCLES, canonical_muscle  # noqa: E402
from amge_eval.harness.predictions import ReadLimits, read_predictions  # noqa: E402

HANG_SECONDS = 2.0
MIB = 1 << 20
EVAL_SPLITS = ("val_seen", "val_unseen", "test_seen", "test_unseen")


# --------------------------------------------------------------------------- choices

class RandomChooser:
    """Choices from a seeded random.Random."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def int(self, lo: int, hi: int) -> int:
        return self.rng.randint(lo, hi)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, seq):
        return seq[self.rng.randrange(len(seq))]

    def raw(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def real(self) -> float:
        return self.rng.random()


class FdpChooser:
    """Choices from libFuzzer's input bytes (atheris.FuzzedDataProvider)."""

    def __init__(self, fdp):
        self.fdp = fdp

    def int(self, lo: int, hi: int) -> int:
        return self.fdp.ConsumeIntInRange(lo, hi)

    def chance(self, p: float) -> bool:
        return self.fdp.ConsumeProbability() < p

    def pick(self, seq):
        return seq[self.fdp.ConsumeIntInRange(0, len(seq) - 1)]

    def raw(self, n: int) -> bytes:
        data = self.fdp.ConsumeBytes(n)
        return data + b"\0" * (n - len(data))

    def real(self) -> float:
        return self.fdp.ConsumeProbability()


# --------------------------------------------------------------------------- content

_ID_CHARS = "abcxyz_/-.0123456789"
_ODD_IDS = ["", " a", "a ", "a\tb", "a\x00b", "a\x7f", "\u00e9t\u00e9/1", "\u4e2d/\u6587", "a\u2028b",
            "\u00a0x", "x" * 513, "x" * 512, "\U0001F600/1", "a,b", 'a"b', "a\nb", "\ufeffa"]
_SCORE_DTYPES = ["<f4", "<f8", ">f8", "<f2", "<f16", "<i1", "<i2", "<i4", "<i8", ">i8", "<u1",
                 "<u2", "<u4", "<u8", "|b1", "<c8", "<U5", "<M8[s]", "|S3"]


def _ids(ch, n: int) -> list[str]:
    out = []
    for i in range(n):
        if ch.chance(0.03):
            out.append(ch.pick(_ODD_IDS))
        else:
            stem = "".join(ch.pick(_ID_CHARS) for _ in range(ch.int(1, 6)))
            out.append(f"{stem}/{i}")
    if n and ch.chance(0.05):
        out[ch.int(0, n - 1)] = out[0]  # a repeat
    return out


def _scores(ch, n: int) -> np.ndarray:
    kind = ch.pick(_SCORE_DTYPES) if ch.chance(0.5) else "<f4"
    base = np.array([[ch.real() for _ in range(20)] for _ in range(n)], dtype=np.float64)
    base = base.reshape(n, 20)
    if ch.chance(0.3):
        base = np.round(base * ch.int(1, 5)) / 5  # ties
    dt = np.dtype(kind)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        if ch.chance(0.4) and dt.itemsize == 8:
            span = ch.pick([1, 1000, 2**20])
            edge = int(info.max) - span if ch.chance(0.7) else int(info.min)
            steps = (base * span).astype(np.int64).ravel().tolist()
            arr = np.array([edge + k for k in steps], dtype=dt).reshape(base.shape)
        else:
            lo, hi = max(info.min, -100), min(info.max, 100)
            arr = (lo + base * (hi - lo)).astype(dt)
    elif dt.kind == "f":
        arr = base.astype(dt)
        if dt.itemsize > 8 and ch.chance(0.5):
            arr = arr * np.longdouble(10) ** ch.pick([300, 400, -400]) + np.longdouble(1e-19) * ch.int(0, 3)
        if n and ch.chance(0.08):
            arr[ch.int(0, n - 1), ch.int(0, 19)] = ch.pick([np.nan, np.inf, -np.inf])
    elif dt.kind == "b":
        arr = base > 0.5
    elif dt.kind == "c":
        arr = base.astype(dt)
    elif dt.kind == "M":
        arr = (base * 1e6).astype(np.int64).astype(dt)
    else:
        arr = base.astype(dt)
    if ch.chance(0.08):
        arr = arr.reshape(n, 20, 1) if ch.chance(0.5) else arr[:, : ch.int(0, 21)]
    if ch.chance(0.15):
        arr = np.asfortranarray(arr)
    return arr


def _muscles(ch) -> np.ndarray:
    names = list(MUSCLE_IDS) if ch.chance(0.7) else [m.name for m in MUSCLES]
    if ch.chance(0.3):
        perm = list(range(20))
        random.Random(ch.int(0, 10**6)).shuffle(perm)
        names = [names[i] for i in perm]
    r = ch.int(0, 30)
    if r == 0:
        names = names[:19]
    elif r == 1:
        names[ch.int(0, 19)] = names[0] if ch.chance(0.5) else "wrist"
    elif r == 2:
        names = names + ["chest"]
    elif r == 3:
        names[ch.int(0, 19)] = "chest" + " " * ch.int(1, 200)
    elif r == 4:
        names = names * ch.int(2, 8)
    elif r == 5:
        names[ch.int(0, 19)] = "  " + names[0].upper() + " "
    return np.array(names)


@dataclass
class Content:
    """The arrays of one prediction file, and which of them the CSV form can carry."""

    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    multi: bool = False


def make_content(ch) -> Content:
    c = Content()
    c.multi = ch.chance(0.15)
    splits = [ch.pick(EVAL_SPLITS)]
    if c.multi:
        splits = sorted({ch.pick(EVAL_SPLITS) for _ in range(ch.int(1, 4))})
        if ch.chance(0.1):
            splits.append(ch.pick(["train", "test_unsen", "", "a/b"]))
    for s in splits:
        n = ch.pick([0, 1, 2, 3, 5, 8, 13, 30]) if ch.chance(0.9) else ch.int(31, 300)
        ids, scores = _ids(ch, n), _scores(ch, n)
        id_arr = np.array(ids, dtype=str) if ids else np.zeros(0, dtype="<U1")
        r = ch.int(0, 40)
        if r == 0:
            id_arr = id_arr.astype("S") if all(x.isascii() for x in ids) else id_arr
        elif r == 1:
            id_arr = np.arange(n)
        elif r == 2:
            id_arr = id_arr[:-1]
        elif r == 3:
            id_arr = id_arr.astype(id_arr.dtype.newbyteorder(">"))
        elif r == 4:
            id_arr = id_arr.reshape(-1, 1)
        elif r == 5:
            id_arr = id_arr.astype(f"<U{ch.int(600, 4000)}")
        prefix = f"{s}/" if c.multi else ""
        c.arrays[prefix + "sample_ids"] = id_arr
        c.arrays[prefix + "scores"] = scores
    c.arrays["muscles"] = _muscles(ch)
    if ch.chance(0.7):
        c.arrays["dataset"] = np.array(ch.pick(["musclemap136", "synth", "x" * 101, "a\nb"]))
    if not c.multi and ch.chance(0.6):
        c.arrays["split"] = np.array(ch.pick([splits[0], splits[0], "test", "train", ""]))
    for _ in range(ch.int(0, 1) if ch.chance(0.1) else 0):
        c.arrays[ch.pick(["score", "extra", "muscles ", "test_seen/x"])] = np.zeros(3)
    if ch.chance(0.05):
        del c.arrays[ch.pick(list(c.arrays))]
    return c


# --------------------------------------------------------------------------- .npy mutations

_SHAPES = ["(-1, 20)", "(-5,)", "(10**30, 20)", "(2**62, 20)", "(True, 20)", "(1.5, 20)",
           "[3, 20]", "(3, 20, 0)", "()", "(0,)", "(0, 20)", "(4294967296, 20)",
           "(" + "1, " * 40 + ")", "(3, 2**40)"]
_DESCRS = ["'<f8'", "'<f4'", "'<f16'", "'<u8'", "'|O'", "'O'", "'<U0'", "'<U99999999'",
           "'<U2000000000'", "'float64'", "'d'", "'<f3'", "'T'", "'a5'", "[('a', '<f8')]",
           "('<f8', (2,))", "'(2,)f8'", "'<M8[ns]'", "'|V8'", "'>U5'", "'|S0'", "5", "'f8,i4'",
           "'<c32'", "'<U' + '9'"]


def npy_bytes(ch, arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    version = ch.pick([None, None, (1, 0), (2, 0), (3, 0)])
    try:
        np.lib.format.write_array(buf, arr, version=version, allow_pickle=True)
    except ValueError:
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=True)
    data = buf.getvalue()
    if ch.chance(0.25):
        data = mutate_npy(ch, data)
    return data


def mutate_npy(ch, data: bytes) -> bytes:
    major = data[6]
    hl_size = 2 if major == 1 else 4
    hlen = int.from_bytes(data[8:8 + hl_size], "little")
    start = 8 + hl_size
    header = data[start:start + hlen].decode("latin-1")
    body = data[start + hlen:]
    r = ch.int(0, 13)
    if r == 0:
        header = _sub_value(header, "shape", ch.pick(_SHAPES))
    elif r == 1:
        header = _sub_value(header, "descr", ch.pick(_DESCRS))
    elif r == 2:
        header = _sub_value(header, "fortran_order", ch.pick(["1", "None", "'yes'", "True"]))
    elif r == 3:
        header = header.rstrip(" \n}") + ch.pick([", 'extra': 1}", "", ", }", "L}"])
    elif r == 4:
        header = header[: ch.int(0, len(header))]  # unterminated text, declared length kept
    elif r == 5:
        header = "{" + "(" * ch.int(10, 3000) + ")" * ch.int(0, 5)
    elif r == 6:
        body = body[: ch.int(0, len(body))]
    elif r == 7:
        body = body + ch.raw(ch.int(1, 40))
    elif r == 8:  # length field lies
        raw_len = ch.pick([0, 1, hlen - 1, hlen + 1, 65535, 10_001, 2**31])
        size = 2 if major == 1 else 4
        raw_len = min(raw_len, 2 ** (8 * size) - 1)
        return data[:8] + raw_len.to_bytes(size, "little") + data[start:]
    elif r == 9:
        return data[:6] + bytes([ch.pick([0, 1, 2, 3, 4, 255]), ch.pick([0, 1])]) + data[8:]
    elif r == 10:
        return ch.pick([b"\x80\x04", b"\x93NUMPZ", b""]) + data[6:]
    elif r == 11:
        header = header.replace("'", '"') if ch.chance(0.5) else "'not a dict'"
    elif r == 12:
        return flip_bits(ch, data, ch.int(1, 4))
    else:
        header = _sub_value(header, "shape", f"({ch.pick([0, 1, 10**6, 10**9])}, 20)")
    hb = header.encode("latin-1", "replace")
    return data[:8] + len(hb).to_bytes(hl_size, "little") + hb + body


def _sub_value(header: str, key: str, value: str) -> str:
    i = header.find(f"'{key}':")
    if i < 0:
        return header
    j = i + len(key) + 3
    depth, k = 0, j
    while k < len(header):
        c = header[k]
        if c in "([":
            depth += 1
        elif c in ")]":
            depth -= 1
        elif c == "," and depth == 0 and k > j + 1:
            break
        k += 1
    return header[:j] + " " + value + header[k:]


def flip_bits(ch, data: bytes, n: int) -> bytes:
    if not data:
        return data
    b = bytearray(data)
    for _ in range(n):
        i = ch.int(0, len(b) - 1)
        b[i] ^= 1 << ch.int(0, 7)
    return bytes(b)


# --------------------------------------------------------------------------- zip mutations

def zip_bytes(ch, members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if ch.chance(0.4) else zipfile.ZIP_STORED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names
        with zipfile.ZipFile(buf, "w", method) as zf:
            for name, data in members:  # a fixed time stamp: the same case, the same bytes
                zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data,
                            compress_type=method)
    data = buf.getvalue()
    if ch.chance(0.3):
        data = mutate_zip(ch, data)
    return data


def _entries(data: bytes) -> list[int]:
    out, i = [], data.find(b"PK\x01\x02")
    while i >= 0:
        out.append(i)
        i = data.find(b"PK\x01\x02", i + 4)
    return out


def mutate_zip(ch, data: bytes) -> bytes:
    b = bytearray(data)
    cds = _entries(data)
    eocd = data.rfind(b"PK\x05\x06")
    r = ch.int(0, 14)
    if r == 0 and cds:  # general-purpose flags: encrypted, patched, strong encryption
        i = ch.pick(cds)
        off, bit = ch.pick([(8, 0x1), (8, 0x20), (8, 0x40), (8, 0x8), (9, 0x8)])
        b[i + off] |= bit
    elif r == 1 and cds:  # compression method
        i = ch.pick(cds)
        struct.pack_into("<H", b, i + 10, ch.pick([1, 6, 9, 12, 14, 93, 95, 98, 99, 7, 65535]))
    elif r == 2 and cds:  # version needed to extract
        i = ch.pick(cds)
        struct.pack_into("<H", b, i + 6, ch.pick([64, 99, 255, 65535]))
    elif r == 3:
        return ch.pick([b"junk", b"PK\x03\x04", b"\0" * 100, b"#!/bin/sh\n"]) + data
    elif r == 4:
        return data + ch.raw(ch.int(1, 200))
    elif r == 5 and eocd >= 0:  # end record: counts, size, offset
        field = ch.pick([8, 10, 12, 16])
        width = 2 if field < 12 else 4
        value = ch.pick([0, 1, 2**(8 * width) - 1, 10**6 % 2**(8 * width), 7])
        struct.pack_into("<H" if width == 2 else "<I", b, eocd + field, value)
    elif r == 6 and cds:  # central entry sizes and offsets
        i = ch.pick(cds)
        field = ch.pick([20, 24, 42, 28, 30])
        width = 4 if field in (20, 24, 42) else 2
        value = ch.pick([0, 1, 2**(8 * width) - 1, 0xFFFFFFFF % 2**(8 * width), 100])
        struct.pack_into("<I" if width == 4 else "<H", b, i + field, value)
    elif r == 7:
        return data[: ch.int(0, len(data))]
    elif r == 8:
        return flip_bits(ch, data, ch.int(1, 8))
    elif r == 9:
        i = ch.int(0, max(0, len(b) - 1))
        n = ch.int(1, 16)
        b[i:i + n] = ch.raw(n)
    elif r == 10 and cds:  # local header flags disagree with the central ones
        lh = data.find(b"PK\x03\x04")
        if lh >= 0:
            b[lh + 6] |= 0x1
    elif r == 11 and eocd >= 0:  # a comment that runs past the end
        struct.pack_into("<H", b, eocd + 20, ch.int(1, 65535))
    elif r == 12 and cds:  # zip64 marker sizes without the extra field
        i = ch.pick(cds)
        struct.pack_into("<I", b, i + 24, 0xFFFFFFFF)
    elif r == 13 and eocd >= 0:  # central directory offset moved
        off = struct.unpack_from("<I", b, eocd + 16)[0]
        struct.pack_into("<I", b, eocd + 16, (off + ch.pick([-1, 1, -30, 4096])) % 2**32)
    else:
        return data[:ch.int(0, len(data))] + data[ch.int(0, len(data)):]
    return bytes(b)


def make_npz(ch, content: Content) -> bytes:
    members = [(f"{k}.npy", npy_bytes(ch, v)) for k, v in content.arrays.items()]
    r = ch.int(0, 30)
    if r == 0 and members:
        members.append(ch.pick(members))  # a duplicate name
    elif r == 1:
        members.append((ch.pick(["readme.txt", "dir/", "scores", "a" * 300 + ".npy"]), b"hi"))
    elif r == 2:
        members += [(f"x{i}.npy", b"") for i in range(ch.int(60, 200))]
    elif r == 3:
        members = []
    if ch.chance(0.2):
        random.Random(ch.int(0, 10**6)).shuffle(members)
    return zip_bytes(ch, members)


# --------------------------------------------------------------------------- csv

def make_csv(ch, content: Content) -> bytes:
    ids_key = next((k for k in content.arrays if k.endswith("sample_ids")), None)
    scores_key = next((k for k in content.arrays if k.endswith("scores")), None)
    ids = content.arrays.get(ids_key, np.zeros(0, "<U1")) if ids_key else np.zeros(0, "<U1")
    scores = content.arrays.get(scores_key) if scores_key else None
    names = [str(x) for x in np.asarray(content.arrays.get("muscles", np.array(MUSCLE_IDS))).ravel()]
    header = ["sample_id"] + names
    lines = [header]
    n = min(len(ids), scores.shape[0] if scores is not None and scores.ndim >= 1 else 0)
    fmt = ch.pick(["{:.6f}", "{!r}", "{:.3e}", "{}"])
    for i in range(n):
        row = scores[i].ravel() if scores is not None else []
        cells = []
        for v in row:
            try:
                cells.append(fmt.format(float(v)) if np.dtype(type(v)).kind in "fiub" else str(v))
            except (TypeError, ValueError, OverflowError):
                cells.append(str(v))
        lines.append([str(ids[i])] + cells)
    r = ch.int(0, 20)
    if r == 0 and n:
        lines[ch.int(1, n)][ch.int(1, 20) if len(lines[1]) > 20 else 0] = ch.pick(
            ["1_0", "\u0661", "\uff11", "0x10", "nan", "inf", "1e400", " 2 ", "", "--1", "1e"])
    elif r == 1 and n:
        lines[ch.int(1, n)].append("1")
    elif r == 2:
        lines[0] = ["id"] + names
    elif r == 3:
        lines[0] = lines[0] + [f"c{i}" for i in range(ch.int(100, 3000))]
    elif r == 4 and n:
        lines[ch.int(1, n)][0] = "x" * ch.int(513, 70_000)
    elif r == 5:
        lines.insert(ch.int(0, len(lines)), [])
    out = io.StringIO()
    csv.writer(out, lineterminator=ch.pick(["\n", "\r\n", "\r"])).writerows(lines)
    text = out.getvalue()
    if ch.chance(0.1):
        text = "\ufeff" + text
    data = text.encode("utf-8", "surrogatepass") if ch.chance(0.98) else text.encode("utf-16")
    r = ch.int(0, 12)
    if r == 0:
        data = data[: ch.int(0, len(data))]
    elif r == 1:
        data = flip_bits(ch, data, ch.int(1, 6))
    elif r == 2:
        i = ch.int(0, len(data))
        data = data[:i] + ch.pick([b"\x00", b"\xff\xfe", b'"', b"\n" * 50, b"\xed\xa0\x80"]) + data[i:]
    elif r == 3:
        data = data + b'"' + b"a\n" * ch.int(1, 3000)
    return data


# --------------------------------------------------------------------------- a case

@dataclass
class Case:
    data: bytes
    suffix: str  # ".npz" or ".csv"
    limits: ReadLimits
    label: str


def make_case(ch) -> Case:
    r = ch.int(0, 19)
    limits = ReadLimits()
    if ch.chance(0.1):
        limits = ReadLimits(max_bytes=ch.pick([200, 2_000, 20_000, 10**9]),
                            max_rows=ch.pick([1, 5, 100, 2_000_000]),
                            max_members=ch.pick([1, 3, 8, 64]),
                            max_line=ch.pick([20, 200, 65_536]))
    if r == 0:
        data = ch.raw(ch.int(0, 600))
        return Case(data, ch.pick([".npz", ".csv"]), limits, "raw")
    content = make_content(ch)
    if r <= 5:
        return Case(make_csv(ch, content), ".csv", limits, "csv")
    return Case(make_npz(ch, content), ".npz", limits, "npz")


# --------------------------------------------------------------------------- the oracle

class Failure(Exception):
    pass


def _valid_id(s: str) -> bool:
    return 0 < len(s) <= 512 and s == s.strip() and not any(ord(c) < 32 or ord(c) == 127
                                                             for c in s)


def _check_format(ids: np.ndarray, scores: np.ndarray) -> None:
    if ids.dtype.kind != "U" or ids.ndim != 1:
        raise Failure(f"accepted ids of dtype {ids.dtype} shape {ids.shape}")
    cp = np.ascontiguousarray(ids.astype(ids.dtype.newbyteorder("="))).view(np.uint32)
    if ((cp > 0x10FFFF) | ((cp >= 0xD800) & (cp <= 0xDFFF))).any():
        raise Failure("accepted ids holding code points that are no Unicode characters")
    lst = ids.tolist()
    if len(set(lst)) != len(lst):
        raise Failure("accepted duplicate ids")
    bad = [s for s in lst if not _valid_id(s)]
    if bad:
        raise Failure(f"accepted invalid ids {bad[:3]!r}")
    if scores.shape != (len(lst), 20) or not np.isfinite(scores).all():
        raise Failure(f"accepted scores of shape {scores.shape} or non-finite")


def _same_scores(original: np.ndarray, got: np.ndarray, ranked: bool) -> None:
    """Every column of the reader's scores orders and ties the rows exactly as the file's scores
    do (in the file's own dtype: 64-bit integers and long doubles compared exactly), and, unless
    the reader says it ranked them, holds the file's values cast to float."""
    if original.shape != got.shape:
        raise Failure(f"scores shape {got.shape} != file's {original.shape}")
    for j in range(original.shape[1]):
        a = np.unique(original[:, j], return_inverse=True)[1].reshape(-1)
        b = np.unique(got[:, j], return_inverse=True)[1].reshape(-1)
        if not np.array_equal(a, b):
            raise Failure(f"column {j}: the reader's scores order or tie rows differently from "
                          f"the file's {original.dtype} scores")
    if not ranked:
        want = original.astype(np.float32 if original.dtype.kind == "f" and
                               original.dtype.itemsize <= 4 else np.float64)
        if not np.array_equal(want, got):
            raise Failure("scores differ from numpy's")


def _order(names) -> list[int]:
    canon = [canonical_muscle(n) for n in names]
    if sorted(c for c in canon if c) != sorted(MUSCLE_IDS) or len(canon) != 20:
        raise Failure(f"accepted muscle names {names!r}")
    return [canon.index(m) for m in MUSCLE_IDS]


def oracle_npz(path: Path, pf) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            z = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 -- any refusal by numpy is the finding
            raise Failure(f"accepted, but np.load refuses: {type(exc).__name__}: {exc}") from None
    with z:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
        if len(set(names)) != len(names):
            raise Failure("accepted an archive with duplicate names")
        try:
            arrays = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001
            raise Failure(f"accepted, but np.load fails on a member: {type(exc).__name__}: "
                          f"{exc}") from None
    if any(not isinstance(v, np.ndarray) for v in arrays.values()):
        raise Failure("accepted a member numpy does not read as an array")
    multi = any("/" in k for k in arrays)
    allowed = {"muscles", "dataset"} | ({f"{s}/{x}" for s in SPLITS for x in ("sample_ids", "scores")}
                                        if multi else {"sample_ids", "scores", "split"})
    if set(arrays) - allowed:
        raise Failure(f"accepted unexpected keys {sorted(set(arrays) - allowed)}")
    order = _order(arrays["muscles"].tolist())
    for key in ("dataset", "split"):
        if key in arrays:
            v = arrays[key]
            if v.dtype.kind != "U" or v.size != 1 or len(str(v.reshape(()).item())) > 100:
                raise Failure(f"accepted {key} {v!r}")
    if "split" in arrays and str(arrays["split"].reshape(()).item()) not in SPLITS:
        raise Failure("accepted an unknown split")
    by_split = {p.split: p for p in pf.parts}
    prefixes = sorted({k.split("/")[0] for k in arrays if "/" in k}) if multi else [None]
    if len(pf.parts) != len(prefixes):
        raise Failure(f"{len(pf.parts)} parts for {len(prefixes)} splits")
    for s in prefixes:
        pre = f"{s}/" if s else ""
        part = by_split[s] if s else pf.parts[0]
        ids, scores = arrays[pre + "sample_ids"], arrays[pre + "scores"]
        if ids.dtype.kind != "U" or not np.array_equal(ids, part.sample_ids):
            raise Failure("ids differ from numpy's")
        if scores.dtype.kind not in "fiu":
            raise Failure(f"accepted scores of dtype {scores.dtype}")
        if scores.ndim != 2 or scores.shape[1] != 20:
            raise Failure(f"accepted scores of shape {scores.shape}")
        _same_scores(scores[:, order], part.scores, bool(part.note and "rank" in part.note))
        _check_format(part.sample_ids, part.scores)


def oracle_csv(path: Path, pf) -> None:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Failure("accepted a CSV that is not UTF-8") from None
    if "\x00" in text:
        raise Failure("accepted a CSV with NUL")
    rows = [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    header, body = rows[0], rows[1:]
    if header[0].strip() != "sample_id":
        raise Failure("accepted a CSV without the sample_id column")
    order = _order([h.strip() for h in header[1:]])
    ids = [r[0] for r in body]
    if any(len(r) != 21 for r in body):
        raise Failure("accepted a ragged CSV")
    cells = [c for r in body for c in r[1:]]
    if not all(c.isascii() and "_" not in c for c in cells):
        raise Failure("accepted a non-ASCII or '_' number")
    vals = np.array([float(c) for c in cells], dtype=np.float64).reshape(len(body), 20)
    part = pf.parts[0]
    if part.sample_ids.tolist() != ids:
        raise Failure("CSV ids differ")
    if not np.array_equal(vals[:, order], part.scores):
        raise Failure("CSV scores differ")
    _check_format(part.sample_ids, part.scores)


@dataclass
class Outcome:
    seconds: float
    peak: int
    accepted: bool
    codes: tuple[str, ...]


def check_case(case: Case, workdir: Path) -> Outcome:
    """Run the reader on the case's file and apply the oracle; raises Failure."""
    path = workdir / f"case{case.suffix}"
    path.write_bytes(case.data)
    before = hashlib.sha256(case.data).hexdigest()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    t0 = time.perf_counter()
    try:
        pf, problems = read_predictions(path, limits=case.limits)
    except Exception:  # noqa: BLE001 -- the finding is that anything escaped
        raise Failure("read_predictions raised:\n" + traceback.format_exc()) from None
    seconds = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1] - base
    if seconds > HANG_SECONDS:
        raise Failure(f"took {seconds:.2f} s (over {HANG_SECONDS} s)")
    if peak > 4 * case.limits.max_bytes + 16 * MIB:
        raise Failure(f"peak memory {peak} bytes over 4 * cap + 16 MiB")
    unknown = [p.code for p in problems if p.code not in PROBLEM_CODES]
    if unknown:
        raise Failure(f"problem codes not in PROBLEM_CODES: {unknown}")
    if hashlib.sha256(path.read_bytes()).hexdigest() != before:
        raise Failure("the reader modified the file")
    accepted = pf is not None and not problems and bool(pf.parts)
    if accepted:
        try:
            (oracle_npz if case.suffix == ".npz" else oracle_csv)(path, pf)
        except Failure:
            raise
        except Exception:  # noqa: BLE001 -- the oracle cannot even read what was accepted
            raise Failure("accepted a file the oracle fails on:\n" + traceback.format_exc()) \
                from None
    return Outcome(seconds, peak, accepted, tuple(sorted({p.code for p in problems})))


# --------------------------------------------------------------------------- campaigns

@dataclass
class Stats:
    cases: int = 0
    accepted: int = 0
    failures: int = 0
    slowest: float = 0.0
    slowest_case: int = -1
    peak: int = 0
    peak_case: int = -1
    codes: dict[str, int] = field(default_factory=dict)
    labels: dict[str, int] = field(default_factory=dict)


def case_rng(seed: int, index: int) -> RandomChooser:
    return RandomChooser(random.Random(f"{seed}:{index}"))


def run(cases: int, seed: int = 0, out: Path | None = None, start: int = 0,
        stop_on_failure: bool = False, progress: bool = False) -> tuple[Stats, list[str]]:
    """Run ``cases`` deterministic cases; returns (stats, failure descriptions)."""
    stats, failures = Stats(), []
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    try:
        with tempfile.TemporaryDirectory(dir="/dev/shm" if Path("/dev/shm").is_dir() else None) as tmp:
            work = Path(tmp)
            for i in range(start, start + cases):
                case = make_case(case_rng(seed, i))
                stats.cases += 1
                stats.labels[case.label] = stats.labels.get(case.label, 0) + 1
                try:
                    o = check_case(case, work)
                except Failure as f:
                    stats.failures += 1
                    failures.append(f"case {i} ({case.label}{case.suffix}): {f}")
                    if out is not None:
                        out.mkdir(parents=True, exist_ok=True)
                        (out / f"seed{seed}-case{i}{case.suffix}").write_bytes(case.data)
                    if stop_on_failure:
                        break
                    continue
                stats.accepted += o.accepted
                for c in o.codes:
                    stats.codes[c] = stats.codes.get(c, 0) + 1
                if o.seconds > stats.slowest:
                    stats.slowest, stats.slowest_case = o.seconds, i
                if o.peak > stats.peak:
                    stats.peak, stats.peak_case = o.peak, i
                if progress and (i + 1) % 5000 == 0:
                    print(f"{i + 1} cases, {stats.failures} failures, slowest "
                          f"{stats.slowest:.3f} s", file=sys.stderr, flush=True)
    finally:
        if started:
            tracemalloc.stop()
    return stats, failures


def _atheris_main(argv: list[str], out: Path) -> None:
    import atheris

    work = Path(tempfile.mkdtemp(dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    tracemalloc.start()

    def one_input(data: bytes) -> None:
        case = make_case(FdpChooser(atheris.FuzzedDataProvider(data)))
        try:
            check_case(case, work)
        except Failure:
            out.mkdir(parents=True, exist_ok=True)
            (out / f"atheris-{hashlib.sha256(data).hexdigest()[:16]}{case.suffix}").write_bytes(
                case.data)
            raise

    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *argv], one_input)
    atheris.Fuzz()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="index of the first case")
    ap.add_argument("--replay", type=int, default=None, help="write and check this case only")
    ap.add_argument("--out", type=Path, default=ROOT / "tests" / "fuzz" / "failures")
    ap.add_argument("--atheris", action="store_true", help="coverage-guided, via libFuzzer")
    ap.add_argument("rest", nargs="*", help="libFuzzer flags after --, with --atheris")
    args = ap.parse_args(argv)
    if args.atheris:
        _atheris_main(args.rest, args.out)
        return 0
    if args.replay is not None:
        case = make_case(case_rng(args.seed, args.replay))
        args.out.mkdir(parents=True, exist_ok=True)
        target = args.out / f"seed{args.seed}-case{args.replay}{case.suffix}"
        target.write_bytes(case.data)
        print(f"wrote {target}")
        pf, problems = read_predictions(target, limits=case.limits)
        for p in problems:
            print(p)
        stats, failures = run(1, args.seed, None, start=args.replay)
        print("\n".join(failures) or "ok")
        return 1 if failures else 0
    t0 = time.perf_counter()
    stats, failures = run(args.cases, args.seed, args.out, start=args.start, progress=True)
    wall = time.perf_counter() - t0
    try:
        import resource
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except ImportError:  # not on Linux
        rss = 0
    print(f"cases {stats.cases} (seed {args.seed}, from {args.start}) in {wall:.1f} s; "
          f"accepted {stats.accepted}; failures {stats.failures}")
    print(f"slowest case {stats.slowest_case}: {stats.slowest:.3f} s; peak traced memory "
          f"{stats.peak / MIB:.1f} MiB (case {stats.peak_case}); process max RSS "
          f"{rss / MIB:.0f} MiB")
    print("kinds: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.labels.items())))
    print("codes: " + ", ".join(f"{k} {v}" for k, v in sorted(stats.codes.items())))
    for f in failures[:20]:
        print(f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
