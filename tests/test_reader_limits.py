"""The prediction reader against an attacker: each class a review found (F1-F6), each limit and
its code, the peak memory a file can cause, and exact scores for dtypes float64 cannot hold.

tests/test_hostile_files.py runs the same classes through both CLI commands (exit 1, not 70);
tests/fuzz/ fuzzes the reader as a whole.
"""

from __future__ import annotations

import io
import struct
import time
import tracemalloc
import warnings
import zipfile
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from amge_eval.harness import predictions as P
from amge_eval.harness.muscles import MUSCLE_IDS
from amge_eval.harness.predictions import ReadLimits, bad_ids, check_muscle_names, read_predictions
from amge_eval.harness.scoring import score_file

SPLIT = "test_unseen"
MUSCLES = np.array(MUSCLE_IDS)
MIB = 1 << 20


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def _zip(path, members: dict, method=zipfile.ZIP_STORED):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names, on purpose
        with zipfile.ZipFile(path, "w", method) as z:
            for name, data in members.items() if isinstance(members, dict) else members:
                z.writestr(name, data)
    return path


def _members(n=30, scores=None, ids=None, **extra):
    ids = np.array([f"a/{i}" for i in range(n)]) if ids is None else ids
    scores = np.random.default_rng(0).random((n, 20)) if scores is None else scores
    out = {"sample_ids.npy": _npy(ids), "scores.npy": _npy(scores), "muscles.npy": _npy(MUSCLES),
           "split.npy": _npy(np.array(SPLIT)), "dataset.npy": _npy(np.array("musclemap136"))}
    out.update(extra)
    return out


def _codes(path, **kw):
    pf, problems = read_predictions(path, **kw)
    return pf, [p.code for p in problems], problems


def _header(text: bytes, version=(1, 0)) -> bytes:
    return b"\x93NUMPY" + bytes(version) + len(text).to_bytes(2 if version == (1, 0) else 4,
                                                              "little") + text


def _central_entries(data: bytes) -> list[int]:
    out, i = [], data.find(b"PK\x01\x02")
    while i >= 0:
        out.append(i)
        i = data.find(b"PK\x01\x02", i + 4)
    return out


# --------------------------------------------------------------------------- F1: zip features

@pytest.mark.parametrize("offset, value, words", [
    (8, 0x1, "encrypted"), (8, 0x40, "encrypted"), (8, 0x20, "patch"),
    (10, 1, "method 1"), (10, 6, "imploded"), (10, 9, "deflate64"), (10, 12, "bzip2"),
    (10, 14, "lzma"), (10, 93, "zstandard"), (10, 99, "AES"), (10, 65535, "method 65535"),
    (6, 64, "version"), (6, 65535, "version"),
])
def test_f1_zip_features_zipfile_raises_on_are_e101(tmp_path, offset, value, words):
    path = _zip(tmp_path / "p.npz", _members())
    data = bytearray(path.read_bytes())
    for i in _central_entries(bytes(data)):
        if offset == 8:
            data[i + 8] |= value
        else:
            struct.pack_into("<H", data, i + offset, value)
    path.write_bytes(bytes(data))
    pf, codes, problems = _codes(path)
    assert codes and set(codes) == {"E101"}, problems
    assert words in problems[0].message
    if offset == 10 and value in (12, 14):  # zipfile reads these: numpy would load them
        assert "stored and deflated" in problems[0].message


# --------------------------------------------------------------------------- F2: .npy headers

@pytest.mark.parametrize("member, words", [
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30, 20"), "literal"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30L, 20L), }  \n"), "literal"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30, 20), }")[:40], "truncated"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30, 20), }", (3, 0))[:11],
     "truncated"),
    (_header(b"{" + b"(" * 3000), "literal"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (" + b"9" * 5000 + b",), }"),
     "literal"),
    (_header(b"{'descr': '\xff', 'fortran_order': False, 'shape': (1,), }", (3, 0)), "literal"),
    (_header(b" " * 10_001, (2, 0)), "10000"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30, 20), 'x': 1}"), "keys"),
    (_header(b"['descr', 'fortran_order', 'shape']"), "keys"),
    (_header(b"{'descr': '<f8', 'fortran_order': 1, 'shape': (30, 20), }"), "fortran_order"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30.0, 20), }"), "integers"),
    (_header(b"{'descr': '<f8', 'fortran_order': False, 'shape': [30, 20], }"), "integers"),
    (_header(b"{'descr': 'float64', 'fortran_order': False, 'shape': (30, 20), }"), "dtype"),
    (_header(b"{'descr': '<U9999999999', 'fortran_order': False, 'shape': (30, 20), }"),
     "understand"),
    (_header(b"{'descr': 5, 'fortran_order': False, 'shape': (30, 20), }"), "descr"),
    (b"\x93NUMPY\x04\x00\x10\x00", "version"),
    (b"\x93NUMPZ\x01\x00", "magic"),
])
def test_f2_malformed_npy_headers_are_e101(tmp_path, member, words):
    path = _zip(tmp_path / "p.npz", _members(**{"scores.npy": member}))
    pf, codes, problems = _codes(path)
    assert "E101" in codes, problems
    assert words in " ".join(p.message for p in problems if p.code == "E101")


def test_f2_numpy_itself_raises_tokenize_error_on_an_unterminated_header(tmp_path):
    """What the old reader hit: numpy's Python-2 fallback runs tokenize, which raises an
    exception that is not a ValueError."""
    member = _header(b"{'descr': '<f8', 'fortran_order': False, 'shape': (30, 20")
    path = _zip(tmp_path / "p.npz", _members(**{"scores.npy": member}))
    with pytest.raises(Exception) as info, np.load(path) as z:
        z["scores"]
    assert not isinstance(info.value, ValueError) or "header" in str(info.value)
    assert _codes(path)[1] == ["E101"]


# --------------------------------------------------------------------------- F3: names

@pytest.mark.parametrize("n", [25_000, 100_000])
def test_f3_many_muscle_names_are_refused_at_once(tmp_path, n):
    names = np.array(list(MUSCLE_IDS) * (n // 20))  # known names: the quadratic case before
    path = _zip(tmp_path / "p.npz", _members(**{"muscles.npy": _npy(names)}),
                zipfile.ZIP_DEFLATED)
    t0 = time.perf_counter()
    pf, codes, problems = _codes(path)
    assert time.perf_counter() - t0 < 1.0
    assert codes == ["E314"], problems
    assert f"got {n}" in problems[0].message


def test_f3_duplicate_check_is_linear_when_the_name_limit_is_lifted(monkeypatch):
    monkeypatch.setattr(P, "MAX_NAMES", 10**6)
    names = list(MUSCLE_IDS) * 5000  # 100,000 known names: 60 s and more before
    problems = []
    t0 = time.perf_counter()
    assert check_muscle_names(names, "x", problems) is None
    assert time.perf_counter() - t0 < 1.0
    assert [p.code for p in problems] == ["E313"]
    problems = []
    assert check_muscle_names(list(MUSCLE_IDS) + ["chest"], "x", problems) is None
    assert [p.code for p in problems] == ["E313"] and "chest" in problems[0].message


def test_f3_wide_csv_header(tmp_path, monkeypatch):
    header = "sample_id," + ",".join(list(MUSCLE_IDS) * 2000)  # 40,000 columns
    path = tmp_path / "test_unseen.csv"
    path.write_text(header + "\n" + "a," + ",".join(["0.5"] * 40_000) + "\n")
    t0 = time.perf_counter()
    assert _codes(path)[1] == ["E308"]  # the line is longer than 65,536 characters
    monkeypatch.setenv("AMGE_EVAL_MAX_LINE", str(10**7))
    assert _codes(path)[1] == ["E314"]
    assert time.perf_counter() - t0 < 1.0


# --------------------------------------------------------------------------- F4: exact scores

def _ap_exact(scores: list, labels: list) -> Fraction:
    """scikit-learn's step AP from its definition, in exact arithmetic on the given values."""
    pos = [s for s, y in zip(scores, labels) if y]
    total = Fraction(0)
    for s in pos:
        k = sum(1 for t, y in zip(scores, labels) if y and t >= s)
        m = sum(1 for t, y in zip(scores, labels) if not y and t >= s)
        total += Fraction(k, k + m)
    return total / len(pos)


def _file_with_scores(tmp_path, store, scores):
    ids = np.array(store.ids(SPLIT))
    path = tmp_path / "p.npz"
    np.savez(path, sample_ids=ids, scores=scores, muscles=MUSCLES,
             dataset=np.array("musclemap136"), split=np.array(SPLIT))
    return path


def _check_aps(path, store, raw):
    from sklearn.metrics import average_precision_score

    rep = score_file(path, labels_dir=store.root, ci_kinds=())
    res = rep.splits[SPLIT]
    y = store.labels[SPLIT].labels
    for j in range(20):
        if y[:, j].sum() == 0:
            assert not res.scored[j]
            continue
        want = _ap_exact(raw[:, j].tolist(), y[:, j].tolist())
        assert res.ap[j] == pytest.approx(float(want), abs=1e-12), j
        if raw.dtype.kind in "iu":  # scikit-learn sorts and diffs the integers themselves
            assert average_precision_score(y[:, j], raw[:, j]) == pytest.approx(float(want),
                                                                                abs=1e-12)
    return rep


def test_f4_int64_beyond_2_53_score_exactly(tmp_path, store):
    n = len(store.ids(SPLIT))
    rng = np.random.default_rng(1)
    # distinct values 1 apart near 2**62, with ties: float64 would merge them all into one
    raw = np.int64(2**62) + rng.integers(0, n // 2, size=(n, 20)).astype(np.int64)
    assert len(np.unique(raw[:, 0].astype(np.float64))) < len(np.unique(raw[:, 0]))
    rep = _check_aps(_file_with_scores(tmp_path, store, raw), store, raw)
    part = rep.predictions.parts[0]
    assert "rank" in (part.note or "") and "rank" in " ".join(rep.notes)
    # the old cast scores these columns as all ties: a different number
    from sklearn.metrics import average_precision_score
    y = store.labels[SPLIT].labels
    j = int(np.argmax(y.sum(axis=0)))
    assert average_precision_score(y[:, j], raw[:, j].astype(np.float64)) != pytest.approx(
        rep.splits[SPLIT].ap[j], abs=1e-6)


def test_f4_uint64_near_2_64_and_int64_near_minus_2_63(tmp_path, store):
    n = len(store.ids(SPLIT))
    rng = np.random.default_rng(2)
    raw = (np.uint64(2**64 - 1000) + rng.integers(0, 900, size=(n, 20)).astype(np.uint64))
    _check_aps(_file_with_scores(tmp_path, store, raw), store, raw)
    raw = np.int64(-(2**63)) + rng.integers(0, 900, size=(n, 20)).astype(np.int64)
    _check_aps(_file_with_scores(tmp_path, store, raw), store, raw)


def test_f4_small_integers_are_cast_without_ranks(tmp_path, store):
    n = len(store.ids(SPLIT))
    raw = np.random.default_rng(3).integers(-(2**53), 2**53, size=(n, 20), dtype=np.int64)
    rep = _check_aps(_file_with_scores(tmp_path, store, raw), store, raw)
    part = rep.predictions.parts[0]
    assert part.note is None
    np.testing.assert_array_equal(part.scores, raw.astype(np.float64))


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                    reason="long double is float64 on this platform")
def test_f4_long_doubles_beyond_float64(tmp_path, store):
    n = len(store.ids(SPLIT))
    rng = np.random.default_rng(4)
    big = rng.random((n, 20)).astype(np.longdouble) * np.longdouble(10) ** 400  # finite
    pf, codes, problems = _codes(_file_with_scores(tmp_path, store, big))
    assert codes == [], problems  # was E302: "not finite"
    _check_aps(_file_with_scores(tmp_path, store, big), store, big)
    # differences below float64's resolution still order the rows
    fine = np.longdouble(1) + rng.integers(0, 5, size=(n, 20)).astype(np.longdouble) * \
        np.longdouble(2.0) ** -60
    assert len(np.unique(fine[:, 0].astype(np.float64))) == 1
    _check_aps(_file_with_scores(tmp_path, store, fine), store, fine)


def test_f4_exact_scores_keep_order_and_ties():
    raw = np.array([[2**62 + 3], [2**62 + 1], [2**62 + 3], [-5]], dtype=np.int64).repeat(20, 1)
    out, ranked = P.exact_scores(raw)
    assert ranked
    np.testing.assert_array_equal(out[:, 0], [2, 1, 2, 0])


# --------------------------------------------------------------------------- F5: memory

def _patch_sizes(data: bytearray, member: str, size: int) -> None:
    """Declare ``size`` bytes for ``member`` in both its local and its central header."""
    name = member.encode()
    i = data.index(b"PK\x03\x04" + data[4:4])  # first local header
    while i >= 0:
        n = struct.unpack_from("<H", data, i + 26)[0]
        if data[i + 30:i + 30 + n] == name:
            struct.pack_into("<I", data, i + 22, size)
        i = data.find(b"PK\x03\x04", i + 4)
    for i in _central_entries(bytes(data)):
        n = struct.unpack_from("<H", data, i + 28)[0]
        if data[i + 46:i + 46 + n] == name:
            struct.pack_into("<I", data, i + 24, size)


def test_f5_520_million_one_character_ids_are_refused_from_the_header(tmp_path):
    """The header declares 520 million '<U1' ids (2.08 GB, within the 2 GiB cap); the reader
    refuses them (E307) before reading any data, in a few MiB."""
    rows = 520_000_000
    header = np.lib.format.header_data_from_array_1_0(np.zeros(0, "<U1"))
    header["shape"] = (rows,)
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    head = buf.getvalue()
    path = _zip(tmp_path / "p.npz", _members(**{"sample_ids.npy": head + b"a\0\0\0" * 8}))
    data = bytearray(path.read_bytes())
    _patch_sizes(data, "sample_ids.npy", len(head) + 4 * rows)
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        pf, codes, problems = _codes(path)
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "E307" in codes, problems
    assert seconds < 1.0 and peak < 8 * MIB, (seconds, peak)


def _hex_ids(n):
    return np.array([f"{i:05x}" for i in range(n)], dtype="<U5")


def _worst_cases(tmp, cap):
    """Files that each push one resource to the cap (C bytes)."""
    rng = np.random.default_rng(0)
    cases = {}
    # one id of nearly C bytes (a fixed-width string of C/4 characters)
    cases["one-huge-id"] = _zip(tmp / "a.npz", _members(
        1, ids=np.array(["x" * (cap // 4 - 4096)])), zipfile.ZIP_DEFLATED)
    # as many one-character ids as the cap allows, with int8 scores (float64 costs 8x)
    n = cap // (4 * 5 + 20 + P.SCORE_ROW_BYTES) - 200
    cases["many-ids-int8"] = _zip(tmp / "b.npz", _members(
        n, ids=_hex_ids(n), scores=rng.integers(-9, 9, (n, 20), np.int8)), zipfile.ZIP_DEFLATED)
    # long doubles that need ranks, Fortran order
    n = cap // (16 * 20 + P.SCORE_ROW_BYTES + 4 * 5) - 100
    ld = np.asfortranarray(rng.random((n, 20)).astype(np.longdouble) * np.longdouble(10) ** 400)
    cases["long-double-ranks"] = _zip(tmp / "c.npz", _members(n, scores=ld, ids=_hex_ids(n)),
                                      zipfile.ZIP_DEFLATED)
    # big-endian ids (converted), float64 scores, columns permuted (realigned: one more copy)
    n = cap // (4 * 5 + 160 + P.SCORE_ROW_BYTES) - 100
    ids = _hex_ids(n).astype(">U5")
    mem = _members(n, ids=ids)
    mem["muscles.npy"] = _npy(MUSCLES[::-1])
    cases["big-endian-permuted"] = _zip(tmp / "d.npz", mem, zipfile.ZIP_DEFLATED)
    # four splits sharing the cap
    n = cap // 4 // (4 * 5 + 80 + P.SCORE_ROW_BYTES) - 100
    multi = {"muscles.npy": _npy(MUSCLES)}
    for s in ("val_seen", "val_unseen", "test_seen", "test_unseen"):
        multi[f"{s}/sample_ids.npy"] = _npy(_hex_ids(n))
        multi[f"{s}/scores.npy"] = _npy(rng.random((n, 20)).astype(np.float32))
    cases["multi-split"] = _zip(tmp / "e.npz", multi, zipfile.ZIP_DEFLATED)
    # CSV: as many rows as the budget allows, with one 512-character id widening all ids
    n = cap // (P._CSV_ROW_BYTES + 8 + 4 * 512) - 10
    lines = ["sample_id," + ",".join(MUSCLE_IDS), "y" * 512 + "," + ",".join(["1"] * 20)]
    lines += [f"{i:x}," + ",".join(["0.5"] * 20) for i in range(n)]
    (tmp / "test_unseen.csv").write_text("\n".join(lines) + "\n")
    cases["csv-wide-ids"] = tmp / "test_unseen.csv"
    # CSV: short rows up to the file-size cap (the budget refuses before the rows are parsed)
    row = "a," + ",".join(["1"] * 20) + "\n"
    (tmp / "val_seen.csv").write_text("sample_id," + ",".join(MUSCLE_IDS) + "\n"
                                      + row * ((cap - 400) // len(row)))
    cases["csv-rows-to-file-cap"] = tmp / "val_seen.csv"
    return cases


def test_f5_peak_memory_stays_within_a_small_multiple_of_the_cap(tmp_path):
    """Each worst case is read with an 8 MiB cap; the reader's peak traced memory (numpy's
    buffers and Python's objects) stays under 2.5 x cap + 2 MiB (measured: at most 2.0 x)."""
    cap = 8 * MIB
    limits = ReadLimits(max_bytes=cap)
    peaks = {}
    for name, path in _worst_cases(tmp_path, cap).items():
        tracemalloc.start()
        try:
            pf, problems = read_predictions(path, limits=limits)
            peaks[name] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        codes = {p.code for p in problems}
        assert codes <= {"E108", "E305", "E402", "E406"}, (name, problems)
        if name not in ("csv-rows-to-file-cap",):
            assert "E108" not in codes, (name, problems)  # the case is within the budget
    assert max(peaks.values()) < 2.5 * cap + 2 * MIB, {k: v / cap for k, v in peaks.items()}


def test_f5_memory_budget_is_shared_by_a_directory(tmp_path):
    d = tmp_path / "preds"
    d.mkdir()
    for s in ("val_seen", "test_seen"):
        _zip(d / f"{s}.npz", _members(300, **{"split.npy": _npy(np.array(s))}))
    assert _codes(d, max_bytes=10**6)[1] == []
    one = sum(i.file_size for i in zipfile.ZipFile(d / "val_seen.npz").infolist())
    cap = one + 300 * P.SCORE_ROW_BYTES + 1000  # one file fits, two do not
    assert _codes(d / "val_seen.npz", max_bytes=cap)[1] == []
    assert "E108" in _codes(d, max_bytes=cap)[1]


# --------------------------------------------------------------------------- F6: numpy refuses

def test_f6_negative_dimensions(tmp_path):
    text = b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 20), }"
    path = _zip(tmp_path / "p.npz", _members(**{"scores.npy": _header(text) + b"\0" * 30 * 160}))
    with pytest.raises(ValueError), np.load(path) as z:
        z["scores"]
    pf, codes, problems = _codes(path)
    assert codes == ["E101"] and "negative" in problems[0].message


def test_f6_bytes_before_the_archive(tmp_path):
    good = _zip(tmp_path / "g.npz", _members()).read_bytes()
    for prefix in (b"junk", b"PK\x03\x04junk", good):
        path = tmp_path / "p.npz"
        path.write_bytes(prefix + good)
        if prefix == b"junk":
            with pytest.raises(ValueError):
                np.load(path, allow_pickle=False)
        assert _codes(path)[1] == ["E101"], prefix[:8]


def test_f6_duplicate_member_names(tmp_path):
    path = _zip(tmp_path / "p.npz", list(_members().items()) + [("scores.npy", _npy(np.zeros((30, 20))))])
    pf, codes, problems = _codes(path)
    assert codes == ["E101"] and "'scores.npy'" in problems[0].message


# --------------------------------------------------------------------------- limits and codes

def test_e107_members_and_central_directory(tmp_path):
    path = _zip(tmp_path / "p.npz", {**_members(), **{f"x{i}.npy": b"" for i in range(70)}})
    assert _codes(path)[1] == ["E107"]
    path = _zip(tmp_path / "q.npz", {f"{i}.npy": b"" for i in range(5000)})
    t0 = time.perf_counter()
    pf, codes, problems = _codes(path)
    assert codes == ["E107"] and "central directory" in problems[0].message
    assert time.perf_counter() - t0 < 0.5
    d = tmp_path / "d"
    d.mkdir()
    for i in range(4):
        (d / f"{i}.csv").write_text("sample_id\n")
    assert _codes(d, limits=ReadLimits(max_members=3))[1] == ["E107"]


def test_e307_rows_npz_and_csv(tmp_path, monkeypatch):
    monkeypatch.setenv("AMGE_EVAL_MAX_ROWS", "10")
    assert "E307" in _codes(_zip(tmp_path / "p.npz", _members(11)))[1]
    assert _codes(_zip(tmp_path / "q.npz", _members(10)))[1] == []
    rows = "".join(f"a{i}," + ",".join(["1"] * 20) + "\n" for i in range(11))
    (tmp_path / "test_seen.csv").write_text("sample_id," + ",".join(MUSCLE_IDS) + "\n" + rows)
    assert _codes(tmp_path / "test_seen.csv")[1] == ["E307"]


def test_e308_line_limit_counts_characters_not_line_ends(tmp_path):
    row = "a," + ",".join(["1"] * 20)
    text = "sample_id," + ",".join(MUSCLE_IDS) + "\r\n" + row + "\r\n"
    (tmp_path / "test_seen.csv").write_text(text, newline="")
    longest = max(len(line) for line in text.split("\r\n"))
    assert _codes(tmp_path / "test_seen.csv", limits=ReadLimits(max_line=longest))[1] == []
    assert _codes(tmp_path / "test_seen.csv", limits=ReadLimits(max_line=longest - 1))[1] == \
        ["E308"]


def test_e108_csv_ids_widened_by_one_long_id(tmp_path):
    lines = ["sample_id," + ",".join(MUSCLE_IDS), "y" * 512 + "," + ",".join(["1"] * 20)]
    lines += [f"{i}," + ",".join(["1"] * 20) for i in range(2000)]
    (tmp_path / "test_seen.csv").write_text("\n".join(lines) + "\n")
    # the rows fit the budget, their ids as fixed-width strings (2001 x 2 KiB) do not
    cap = 2001 * (P._CSV_ROW_BYTES + 8) + 600 * 2048
    assert _codes(tmp_path / "test_seen.csv", max_bytes=cap)[1] == ["E108"]


def test_env_limits_must_be_positive_numbers(tmp_path, monkeypatch):
    from amge_eval.harness.errors import AmgeError

    path = _zip(tmp_path / "p.npz", _members())
    for bad in ("abc", "0", "-5", "1.5"):
        monkeypatch.setenv("AMGE_EVAL_MAX_ROWS", bad)
        with pytest.raises(AmgeError, match="AMGE_EVAL_MAX_ROWS"):
            read_predictions(path)
    monkeypatch.setenv("AMGE_EVAL_MAX_ROWS", "1_000")
    assert ReadLimits.from_env().max_rows == 1000


@pytest.mark.parametrize("key, value, code", [
    ("sample_ids.npy", np.frombuffer(b"a\0\0\0\xff\xff\xff\xff" * 30, "<U2"), "E305"),
    ("sample_ids.npy", np.frombuffer(b"a\0\0\0\x00\xd8\0\0" * 30, "<U2"), "E305"),
    ("muscles.npy", np.r_[MUSCLES[:19], np.frombuffer(b"\0\0\x11\0", "<U1")], "E313"),
    ("dataset.npy", np.frombuffer(b"\x00\xdc\0\0", "<U1").reshape(()), "E306"),
    ("split.npy", np.array("test\nseen"), "E306"),
    ("dataset.npy", np.array("m" * 10_000), "E306"),
])
def test_code_points_python_cannot_hold_are_refused(tmp_path, key, value, code):
    path = _zip(tmp_path / "p.npz", _members(**{key: _npy(value)}))
    pf, codes, problems = _codes(path)
    assert code in codes, problems
    for p in problems:
        p.message.encode("utf-8")  # every message is printable text


def test_whitespace_table_is_str_isspace():
    want = [c for c in range(0x110000) if chr(c).isspace()]
    assert sorted(P._WHITESPACE.tolist()) == want


def _python_bad(s: str) -> bool:
    return (len(s) == 0 or len(s) > P.MAX_ID_LENGTH or s != s.strip()
            or any(ord(c) < 32 or ord(c) == 127 for c in s))


@given(st.lists(st.text(alphabet=st.sampled_from(list("ab/ \t\n\x00\x1f\x7f\x85\u00a0\u2028\u3000é中\U0001F600")),
                        max_size=8), min_size=1, max_size=30))
def test_vectorised_id_check_matches_python(ids):
    # numpy cannot keep trailing NULs; the Python rule sees what numpy stores
    stored = [s.rstrip("\x00") for s in ids]
    arr = np.array(stored, dtype=str)
    assert bad_ids(arr) == [s for s in stored if _python_bad(s)]


def test_raise_if_is_gone():
    assert not hasattr(P, "raise_if")


def test_valid_files_still_read_exactly(tmp_path):
    rng = np.random.default_rng(5)
    scores = rng.random((40, 20)).astype(np.float32)
    for i, (version, order) in enumerate([((1, 0), "C"), ((2, 0), "F"), ((3, 0), "C")]):
        arr = np.asarray(scores, order=order)
        buf = io.BytesIO()
        np.lib.format.write_array(buf, arr, version=version)
        path = _zip(tmp_path / f"{i}.npz", _members(40, **{"scores.npy": buf.getvalue()}),
                    zipfile.ZIP_DEFLATED)
        pf, codes, problems = _codes(path)
        assert codes == [], problems
        np.testing.assert_array_equal(pf.parts[0].scores, scores)
