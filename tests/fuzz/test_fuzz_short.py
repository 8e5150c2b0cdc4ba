"""A short, deterministic run of the reader fuzzer (tests/fuzz/fuzz_reader.py has the long one and
the oracle): every case must pass the oracle."""

from __future__ import annotations

from .fuzz_reader import run


def test_reader_fuzz_short():
    stats, failures = run(400, seed=0)
    assert failures == [], "\n".join(failures[:5])
    assert stats.cases == 400
    assert stats.accepted > 10  # the oracle's acceptance path ran
    assert len(stats.codes) > 15  # and many refusals did
    assert stats.slowest < 2.0
