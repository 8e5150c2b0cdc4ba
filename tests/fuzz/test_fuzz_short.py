"""A short, deterministic run of the reader fuzzer (tests/fuzz/fuzz_reader.py has the long one and
the oracle), and the files fuzzing found that broke the reader before, each kept as a regression
file in tests/fuzz/regressions/."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from amge_eval.harness.predictions import ReadLimits, read_predictions

from .fuzz_reader import Case, check_case, run

REGRESSIONS = Path(__file__).parent / "regressions"

# file -> the codes the reader gives it now (what the reader did before, in the comment)
EXPECTED = {
    "f1-encrypted-member.npz": {"E101"},  # RuntimeError: password required
    "f1-patched-data-flag.npz": {"E101", "E305", "E306"},  # NotImplementedError
    "f1-strong-encryption-flag.npz": {"E101", "E303"},  # NotImplementedError
    "f1-unknown-compression-method.npz": {"E101"},  # NotImplementedError
    "f1-zip-version-9.9.npz": {"E101"},  # NotImplementedError from ZipFile()
    "f2-tokenize-error-header.npz": {"E101"},  # tokenize.TokenError
    "f4-uint64-collapsed.npz": {"E306"},  # uint64 scores near 2**64 merged into ties
    "f6-duplicate-members.npz": {"E101"},  # accepted, the last member won
    "f6-negative-dimension.npz": {"E101"},  # accepted, -1 read as "the rest"
    "invalid-code-points-systemerror.npz": {"E306", "E313"},  # SystemError from .tolist()
    "bool-dimension-typeerror.npz": {"E101", "E200", "E306"},  # TypeError from reshape
    "csv-non-ascii-digits.csv": {"E300"},  # accepted Arabic-Indic digits as numbers
    "dataset-name-too-long.npz": {"E306"},  # accepted a 101-character dataset name
    "dataset-newline-big-endian-ids.npz": {"E306"},  # accepted a dataset name with a newline
}


def test_reader_fuzz_short():
    stats, failures = run(400, seed=0)
    assert failures == [], "\n".join(failures[:5])
    assert stats.cases == 400
    assert stats.accepted > 10  # the oracle's acceptance path ran
    assert len(stats.codes) > 15  # and many refusals did
    assert stats.slowest < 2.0


def test_every_regression_file_is_listed():
    assert sorted(p.name for p in REGRESSIONS.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_regression_file(tmp_path, name):
    path = REGRESSIONS / name
    check_case(Case(path.read_bytes(), path.suffix, ReadLimits(), name), tmp_path)
    pf, problems = read_predictions(path)
    assert {p.code for p in problems} == EXPECTED[name], problems
    if name.startswith("f4"):  # refused for its dataset name, but its scores kept their order
        with np.load(path) as z:
            raw = z["scores"]
        assert raw.dtype == np.uint64 and "rank" in pf.parts[0].note
        for j in range(20):
            np.testing.assert_array_equal(np.unique(raw[:, j], return_inverse=True)[1],
                                          np.unique(pf.parts[0].scores[:, j],
                                                    return_inverse=True)[1])
