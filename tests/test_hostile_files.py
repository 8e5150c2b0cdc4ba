"""A corpus of hostile prediction files: each gets its specific code, a non-zero exit, and leaves
the input, the label store and the requested output untouched."""

from __future__ import annotations

import io
import pickle
import zipfile

import numpy as np
import pytest

from amge_eval.harness.muscles import MUSCLE_IDS
from amge_eval.harness.predictions import write_prediction_bundle, write_predictions

from .conftest import tree_digest

SPLIT = "test_unseen"
MUSCLES = np.array(MUSCLE_IDS)


def _npy(arr) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=True)
    return buf.getvalue()


def _zip(path, members: dict, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _good(store):
    return store.ids(SPLIT), store.scores[SPLIT]


def _npz(tmp, store, name="p.npz", drop=(), **over):
    ids, scores = _good(store)
    arrays = {"sample_ids": np.array(ids), "scores": scores, "muscles": MUSCLES,
              "dataset": np.array("musclemap136"), "split": np.array(SPLIT)}
    arrays.update(over)
    for k in drop:
        arrays.pop(k)
    path = tmp / name
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _csv(tmp, store, text=None, name="test_unseen.csv", mutate=None):
    ids, scores = _good(store)
    lines = ["sample_id," + ",".join(MUSCLE_IDS)]
    lines += [i + "," + ",".join(f"{v:.6f}" for v in row) for i, row in zip(ids, scores)]
    if mutate:
        lines = mutate(lines)
    path = tmp / name
    path.write_text(text if text is not None else "\n".join(lines) + "\n")
    return path


def _object_scores(tmp, store):
    ids, scores = _good(store)
    return _zip(tmp / "p.npz", {"sample_ids.npy": _npy(np.array(ids)),
                                "scores.npy": _npy(scores.astype(object)),
                                "muscles.npy": _npy(MUSCLES)})


def _pickle_member(tmp, store):
    ids, scores = _good(store)
    return _zip(tmp / "p.npz", {"sample_ids.npy": _npy(np.array(ids)),
                                "scores.npy": pickle.dumps(scores.tolist()),
                                "muscles.npy": _npy(MUSCLES)})


def _zip_bomb(tmp, store):
    # 64 MB of zeros compress to ~64 KB; the cap is set to 10 MB for this case.
    ids, _ = _good(store)
    return _zip(tmp / "p.npz", {"sample_ids.npy": _npy(np.array(ids)),
                                "scores.npy": _npy(np.zeros((len(ids) * 4000, 20))),
                                "muscles.npy": _npy(MUSCLES)})


def _lying_header(tmp, store):
    """An npy header that declares 10^12 elements over a few bytes of data."""
    header = b"{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000, 20), }"
    header += b" " * (118 - len(header)) + b"\n"
    member = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + b"\x00" * 64
    ids, _ = _good(store)
    return _zip(tmp / "p.npz", {"sample_ids.npy": _npy(np.array(ids)), "scores.npy": member,
                                "muscles.npy": _npy(MUSCLES)})


def _truncated(tmp, store):
    good = _npz(tmp, store, name="good.npz").read_bytes()
    good_path = tmp / "good.npz"
    good_path.unlink()
    path = tmp / "p.npz"
    path.write_bytes(good[: len(good) // 2])
    return path


def _multi(tmp, store, parts, **extra):
    path = tmp / "multi.npz"
    write_prediction_bundle(path, parts, "musclemap136")
    if extra:
        with zipfile.ZipFile(path, "a") as z:
            for k, v in extra.items():
                z.writestr(f"{k}.npy", _npy(v))
    return path


def _dir_two_files_same_split(tmp, store):
    d = tmp / "preds"
    d.mkdir()
    ids, scores = _good(store)
    write_predictions(d / "a.npz", ids, scores, "musclemap136", SPLIT)
    write_predictions(d / "b.npz", ids, scores, "musclemap136", SPLIT)
    return d


def _dir_unnamed_split(tmp, store):
    d = tmp / "preds"
    d.mkdir()
    _csv(d, store, name="mystery.csv")
    return d


def _edit_zip(tmp, store, edit, name="p.npz"):
    """A valid npz whose raw bytes ``edit(bytearray)`` changes (zip-structure edits)."""
    path = _npz(tmp, store, name=name)
    data = bytearray(path.read_bytes())
    out = edit(data)
    path.write_bytes(bytes(out if out is not None else data))
    return path


def _central(data: bytearray, nth: int = 0) -> int:
    """Offset of the nth central-directory entry."""
    i = -1
    for _ in range(nth + 1):
        i = data.index(b"PK\x01\x02", i + 1)
    return i


def _set_central(offset: int, value: int, width: int = 2):
    def edit(data):
        i = _central(data)
        data[i + offset:i + offset + width] = value.to_bytes(width, "little")
    return edit


def _or_central_flags(bits: int):
    def edit(data):
        data[_central(data) + 8] |= bits
    return edit


def _npy_member(tmp, store, header: bytes, body: bytes = b"", version=(1, 0)):
    """An npz whose scores member has the given raw .npy header text."""
    size = len(header).to_bytes(2 if version == (1, 0) else 4, "little")
    member = b"\x93NUMPY" + bytes(version) + size + header + body
    ids, _ = _good(store)
    return _zip(tmp / "p.npz", {"sample_ids.npy": _npy(np.array(ids)), "scores.npy": member,
                                "muscles.npy": _npy(MUSCLES)})


def _duplicate_member(tmp, store):
    ids, scores = _good(store)
    path = tmp / "p.npz"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name
        _zip(path, {"sample_ids.npy": _npy(np.array(ids)), "scores.npy": _npy(scores),
                    "muscles.npy": _npy(MUSCLES)})
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("scores.npy", _npy(scores[::-1]))
    return path


def _many_members(tmp, store):
    ids, scores = _good(store)
    members = {"sample_ids.npy": _npy(np.array(ids)), "scores.npy": _npy(scores),
               "muscles.npy": _npy(MUSCLES)}
    members.update({f"x{i}.npy": b"" for i in range(70)})
    return _zip(tmp / "p.npz", members, zipfile.ZIP_STORED)


def _too_many_rows(tmp, store):
    # 2,000,001 one-character ids: 8 MB declared, a few KB deflated
    return _zip(tmp / "p.npz", {"sample_ids.npy": _npy(np.full(2_000_001, "a")),
                                "scores.npy": _npy(np.zeros((2, 20))), "muscles.npy": _npy(MUSCLES)})


def _write(path, data):
    if isinstance(data, str):
        path.write_text(data)
    else:
        path.write_bytes(data)
    return path


def _ids(store):
    return np.array(store.ids(SPLIT))


# (case id, builder(tmp, store) -> path, extra CLI args, expected code, exit status, env cap)
CASES = [
    ("missing-file", lambda t, s: t / "nope.npz", [], "E100", 1, None),
    ("empty-npz", lambda t, s: _write(t / "p.npz", b""), [], "E102", 1, None),
    ("empty-csv", lambda t, s: _write(t / "test_unseen.csv", b""),
     ["--dataset", "musclemap136", "--split", SPLIT], "E102", 1, None),
    ("truncated-npz", _truncated, [], "E101", 1, None),
    ("random-bytes", lambda t, s: _write(t / "p.npz", np.random.default_rng(0).bytes(4096)), [], "E101", 1, None),
    ("text-renamed-npz", lambda t, s: _write(t / "p.npz", "sample_id,chest\n"),
     [], "E101", 1, None),
    ("png-renamed-npz", lambda t, s: _write(t / "p.npz", b"\x89PNG\r\n\x1a\n" + b"\0" * 100), [], "E101", 1, None),
    ("json-extension", lambda t, s: _write(t / "p.json", "{}"), [], "E105", 1,
     None),
    ("pickle-extension", lambda t, s: _write(t / "p.pkl", pickle.dumps([1])),
     [], "E105", 1, None),
    ("empty-directory", lambda t, s: (t / "d").mkdir() or t / "d", [], "E100", 1, None),
    ("object-scores", _object_scores, ["--dataset", "musclemap136", "--split", SPLIT], "E104", 1,
     None),
    ("pickle-member", _pickle_member, ["--dataset", "musclemap136", "--split", SPLIT], "E104", 1,
     None),
    ("object-ids", lambda t, s: _zip(t / "p.npz", {
        "sample_ids.npy": _npy(np.array(s.ids(SPLIT), dtype=object)),
        "scores.npy": _npy(s.scores[SPLIT]), "muscles.npy": _npy(MUSCLES)}),
     ["--dataset", "musclemap136", "--split", SPLIT], "E104", 1, None),
    ("zip-bomb", _zip_bomb, ["--dataset", "musclemap136", "--split", SPLIT], "E103", 1, 10_000_000),
    ("file-over-cap", lambda t, s: _npz(t, s), [], "E103", 1, 1000),
    ("lying-npy-header", _lying_header, ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1,
     None),
    ("missing-scores", lambda t, s: _npz(t, s, drop=("scores",)), [], "E200", 1, None),
    ("missing-ids", lambda t, s: _npz(t, s, drop=("sample_ids",)), [], "E200", 1, None),
    ("missing-muscles", lambda t, s: _npz(t, s, drop=("muscles",)), [], "E200", 1, None),
    ("empty-archive", lambda t, s: _zip(t / "p.npz", {}), [], "E200", 1, None),
    ("typo-key", lambda t, s: _npz(t, s, drop=("scores",), score=s.scores[SPLIT]), [], "E201", 1,
     None),
    ("non-npy-member", lambda t, s: _zip(t / "p.npz", {"readme.txt": b"hi"}), [], "E201", 1, None),
    ("complex-scores", lambda t, s: _npz(t, s, scores=s.scores[SPLIT].astype(complex)), [], "E300",
     1, None),
    ("string-scores", lambda t, s: _npz(t, s, scores=s.scores[SPLIT].astype(str)), [], "E300", 1,
     None),
    ("bool-scores", lambda t, s: _npz(t, s, scores=s.scores[SPLIT] > 0.5), [], "E300", 1, None),
    ("1d-scores", lambda t, s: _npz(t, s, scores=s.scores[SPLIT][:, 0]), [], "E301", 1, None),
    ("19-columns", lambda t, s: _npz(t, s, scores=s.scores[SPLIT][:, :19]), [], "E301", 1, None),
    ("3d-scores", lambda t, s: _npz(t, s, scores=s.scores[SPLIT][:, :, None]), [], "E301", 1, None),
    ("nan-scores", lambda t, s: _npz(t, s, scores=np.where(np.eye(len(s.ids(SPLIT)), 20) > 0,
                                                          np.nan, s.scores[SPLIT])), [], "E302", 1,
     None),
    ("inf-scores", lambda t, s: _npz(t, s, scores=np.full_like(s.scores[SPLIT], np.inf)), [],
     "E302", 1, None),
    ("bytes-ids", lambda t, s: _npz(t, s, sample_ids=_ids(s).astype("S")), [], "E303", 1, None),
    ("2d-ids", lambda t, s: _npz(t, s, sample_ids=_ids(s)[:, None]), [], "E303", 1, None),
    ("int-ids", lambda t, s: _npz(t, s, sample_ids=np.arange(len(s.ids(SPLIT)))), [], "E303", 1,
     None),
    ("length-mismatch", lambda t, s: _npz(t, s, sample_ids=_ids(s)[:-1]), [], "E304", 1, None),
    ("empty-id", lambda t, s: _npz(t, s, sample_ids=np.r_[[""], _ids(s)[1:]]), [], "E305", 1,
     None),
    ("huge-id", lambda t, s: _npz(t, s, sample_ids=np.r_[["x" * 100_000], _ids(s)[1:]]), [],
     "E305", 1, None),
    ("control-char-id", lambda t, s: _npz(t, s, sample_ids=np.r_[["a\x00b"], _ids(s)[1:]]), [],
     "E305", 1, None),
    ("19-muscles", lambda t, s: _npz(t, s, muscles=MUSCLES[:19]), [], "E310", 1, None),
    ("unknown-muscle", lambda t, s: _npz(t, s, muscles=np.r_[MUSCLES[:19], ["wrist"]]), [], "E311",
     1, None),
    ("duplicated-muscle", lambda t, s: _npz(t, s, muscles=np.r_[MUSCLES[:19], [MUSCLES[0]]]), [],
     "E313", 1, None),
    ("int-muscles", lambda t, s: _npz(t, s, muscles=np.arange(20)), [], "E313", 1, None),
    ("int-dataset", lambda t, s: _npz(t, s, dataset=np.array(136)), [], "E306", 1, None),
    ("bad-split-name", lambda t, s: _npz(t, s, split=np.array("test")), [], "E306", 1, None),
    ("split-mismatch", lambda t, s: _npz(t, s), ["--split", "test_seen"], "E403", 1, None),
    ("train-split", lambda t, s: _npz(t, s, split=np.array("train")), [], "E403", 1, None),
    ("dataset-mismatch", lambda t, s: _npz(t, s, dataset=np.array("muscle-ucf90")),
     ["--dataset", "musclemap136"], "E404", 1, None),
    ("unknown-dataset", lambda t, s: _npz(t, s, dataset=np.array("musclemap137")), [], "E404", 1,
     None),
    ("missing-ids-rows", lambda t, s: _npz(t, s, sample_ids=_ids(s)[5:],
                                           scores=s.scores[SPLIT][5:]), [], "E400", 1, None),
    ("extra-ids", lambda t, s: _npz(t, s, sample_ids=np.r_[_ids(s), ["x/1"]],
                                    scores=np.r_[s.scores[SPLIT], s.scores[SPLIT][:1]]), [], "E401",
     1, None),
    ("duplicated-ids", lambda t, s: _npz(t, s, sample_ids=np.r_[_ids(s)[:-1], _ids(s)[:1]]), [],
     "E402", 1, None),
    ("empty-split", lambda t, s: _npz(t, s, sample_ids=np.zeros(0, dtype="<U4"),
                                      scores=np.zeros((0, 20))), [], "E405", 1, None),
    ("no-dataset", lambda t, s: _npz(t, s, drop=("dataset",)), [], "E406", 1, None),
    ("csv-bad-header", lambda t, s: _csv(t, s, mutate=lambda ls: ["id,x"] + ls[1:]),
     ["--dataset", "musclemap136"], "E106", 1, None),
    ("csv-ragged", lambda t, s: _csv(t, s, mutate=lambda ls: ls[:3] + [ls[3] + ",1"] + ls[4:]),
     ["--dataset", "musclemap136", "--split", SPLIT], "E106", 1, None),
    ("csv-not-a-number", lambda t, s: _csv(t, s, mutate=lambda ls: ls[:2] + [ls[2].replace(
        ",", ",abc,", 1).rsplit(",", 1)[0]] + ls[3:]), ["--dataset", "musclemap136", "--split",
                                                         SPLIT], "E300", 1, None),
    ("csv-nan", lambda t, s: _csv(t, s, mutate=lambda ls: ls[:2] + [ls[2].rsplit(",", 1)[0]
                                                                    + ",nan"] + ls[3:]),
     ["--dataset", "musclemap136", "--split", SPLIT], "E302", 1, None),
    ("csv-not-utf8", lambda t, s: _write(t / "test_unseen.csv", b"sample_id,\xff\xfe\n"), ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("multi-unknown-split", lambda t, s: _multi(t, s, {SPLIT: _good(s)}, **{
        "test_unsen/scores": s.scores[SPLIT], "test_unsen/sample_ids": _ids(s)}), [], "E202", 1,
     None),
    ("multi-missing-part", lambda t, s: _zip(t / "p.npz", {
        "muscles.npy": _npy(MUSCLES), "dataset.npy": _npy(np.array("musclemap136")),
        f"{SPLIT}/sample_ids.npy": _npy(_ids(s))}), [], "E200", 1, None),
    ("dir-two-files-one-split", _dir_two_files_same_split, [], "E202", 1, None),
    ("dir-unnamed-split", _dir_unnamed_split, ["--dataset", "musclemap136"], "E406", 1, None),
    # zip structure and .npy headers that zipfile or numpy raise on (exit 70 before) or that numpy
    # refuses while the reader accepted them
    ("encrypted-member", lambda t, s: _edit_zip(t, s, _or_central_flags(0x1)), [], "E101", 1, None),
    ("strong-encryption-flag", lambda t, s: _edit_zip(t, s, _or_central_flags(0x40)), [], "E101",
     1, None),
    ("patched-data-flag", lambda t, s: _edit_zip(t, s, _or_central_flags(0x20)), [], "E101", 1,
     None),
    ("bzip2-member", lambda t, s: _edit_zip(t, s, _set_central(10, 12)), [], "E101", 1, None),
    ("unknown-zip-method", lambda t, s: _edit_zip(t, s, _set_central(10, 99)), [], "E101", 1,
     None),
    ("zip-version-9.9", lambda t, s: _edit_zip(t, s, _set_central(6, 99)), [], "E101", 1, None),
    ("bytes-before-zip", lambda t, s: _edit_zip(t, s, lambda d: b"junk" + d), [], "E101", 1,
     None),
    ("zip-before-zip", lambda t, s: _edit_zip(t, s, lambda d: _npz(t, s, name="o.npz").read_bytes()
                                              + d), [], "E101", 1, None),
    ("duplicate-member", _duplicate_member, ["--dataset", "musclemap136", "--split", SPLIT],
     "E101", 1, None),
    ("unterminated-npy-header", lambda t, s: _npy_member(
        t, s, b"{'descr': '<f8', 'fortran_order': False, 'shape': (84, 20"),
     ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("python2-npy-header", lambda t, s: _npy_member(
        t, s, b"{'descr': '<f8', 'fortran_order': False, 'shape': (84L, 20L), }   \n",
        b"\0" * 84 * 160), ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("negative-dimension", lambda t, s: _npy_member(
        t, s, b"{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 20), }   \n",
        b"\0" * 84 * 160), ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("bool-dimension", lambda t, s: _npy_member(
        t, s, b"{'descr': '<f8', 'fortran_order': False, 'shape': (True, 20), }   \n",
        b"\0" * 160), ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("subarray-descr", lambda t, s: _npy_member(
        t, s, b"{'descr': '(20,)f8', 'fortran_order': False, 'shape': (84,), }   \n",
        b"\0" * 84 * 160), ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("npy-trailing-bytes", lambda t, s: _npy_member(
        t, s, b"{'descr': '<f8', 'fortran_order': False, 'shape': (84, 20), }   \n",
        b"\0" * (84 * 160 + 8)), ["--dataset", "musclemap136", "--split", SPLIT], "E101", 1, None),
    ("surrogate-id", lambda t, s: _npz(t, s, sample_ids=np.r_[["a\ud800"], _ids(s)[1:]]), [],
     "E305", 1, None),
    # resource limits, each with its own code
    ("too-many-members", _many_members, [], "E107", 1, None),
    ("scores-expand-over-cap", lambda t, s: _npz(t, s, scores=(s.scores[SPLIT] * 100).astype(
        np.uint8)), [], "E108", 1, 14_000),
    ("too-many-rows", _too_many_rows, ["--dataset", "musclemap136", "--split", SPLIT], "E307", 1,
     None),
    ("csv-line-too-long", lambda t, s: _csv(t, s, mutate=lambda ls: ls[:2] + ["x" * 70_000]
                                            + ls[2:]), ["--dataset", "musclemap136"], "E308", 1,
     None),
    ("too-many-muscle-names", lambda t, s: _npz(t, s, muscles=np.array(list(MUSCLES) * 6)), [],
     "E314", 1, None),
    ("muscle-name-too-long", lambda t, s: _csv(t, s, mutate=lambda ls: [
        ls[0].replace("neck_and_head", "neck" + " " * 200 + "and head")] + ls[1:]), ["--dataset", "musclemap136"],
     "E314", 1, None),
    ("labels-absent", lambda t, s: _npz(t, s, dataset=np.array("muscle-ucf90")), [], "E503", 3,
     None),
]


def test_corpus_is_big_and_covers_every_code():
    from amge_eval.harness.errors import PROBLEM_CODES

    assert len(CASES) >= 40
    covered = {c[3] for c in CASES}
    assert set(PROBLEM_CODES) - covered == set(), set(PROBLEM_CODES) - covered


@pytest.mark.parametrize("name, build, args, code, status, cap", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("command", ["score", "validate"])
def test_hostile_file(tmp_path, store, cli, monkeypatch, name, build, args, code, status, cap,
                      command):
    work = tmp_path / "work"
    work.mkdir()
    path = build(work, store)
    if cap is not None:
        monkeypatch.setenv("AMGE_EVAL_MAX_BYTES", str(cap))
    before_input = tree_digest(path) if path.exists() else None
    before_store = tree_digest(store.root)
    out_json = tmp_path / "out" / "record.json"
    extra = ["--json", out_json] if command == "score" else ["--require-labels"]
    rc, stdout, stderr = cli(command, path, "--labels-dir", store.root, *args, *extra)
    if command == "validate" and code == "E503":
        status = 3
    assert rc == status, (rc, stdout, stderr)
    assert code in stderr, stderr
    assert stderr.startswith("Error: "), stderr
    assert "Traceback" not in stderr + stdout
    assert not out_json.exists() and not out_json.parent.exists()
    assert tree_digest(store.root) == before_store
    if before_input is not None:
        assert tree_digest(path) == before_input


def test_every_problem_reported_at_once(tmp_path, store, cli):
    """A file with several defects lists them all in one run, each with its code."""
    ids = np.array(store.ids(SPLIT))
    scores = store.scores[SPLIT].copy()
    scores[0, 0] = np.nan
    m = np.r_[MUSCLES[:19], ["wrist"]]
    path = _npz(tmp_path, store, sample_ids=np.r_[ids[1:], ids[1:2]], scores=scores, muscles=m)
    rc, _, err = cli("score", path, "--labels-dir", store.root)
    assert rc == 1
    for code in ("E302", "E310", "E311", "E402"):
        assert code in err
    assert "4 problems" in err


def test_permuted_columns_with_their_names_score_the_same(tmp_path, store, cli):
    """Invariance: permuting score columns together with their names changes nothing but a note."""
    from amge_eval.harness.scoring import score_file

    ids, scores = _good(store)
    perm = np.random.default_rng(0).permutation(20)
    plain = _npz(tmp_path, store, name="plain.npz")
    moved = _npz(tmp_path, store, name="moved.npz", scores=scores[:, perm], muscles=MUSCLES[perm])
    a = score_file(plain, labels_dir=store.root, resamples=200)
    b = score_file(moved, labels_dir=store.root, resamples=200)
    np.testing.assert_array_equal(a.splits[SPLIT].ap, b.splits[SPLIT].ap)
    assert a.splits[SPLIT].intervals == b.splits[SPLIT].intervals
    rc, out, _ = cli("validate", moved, "--labels-dir", store.root)
    assert rc == 0 and "realigned by their muscle names" in out
    csv = _csv(tmp_path, store, mutate=lambda ls: [
        ",".join([r.split(",")[0]] + [r.split(",")[1:][i] for i in perm]) for r in ls])
    c = score_file(csv, dataset="musclemap136", labels_dir=store.root, resamples=200)
    np.testing.assert_allclose(c.splits[SPLIT].ap, a.splits[SPLIT].ap, atol=1e-6)


def test_valid_files_pass_both_commands(tmp_path, store, cli):
    ids, scores = _good(store)
    path = tmp_path / "ok.npz"
    write_predictions(path, ids, scores, "musclemap136", SPLIT)
    assert cli("validate", path, "--labels-dir", store.root)[0] == 0
    assert cli("score", path, "--labels-dir", store.root, "--resamples", "200")[0] == 0
    csv = _csv(tmp_path, store)
    assert cli("score", csv, "--labels-dir", store.root, "--dataset", "musclemap136",
               "--resamples", "200")[0] == 0
