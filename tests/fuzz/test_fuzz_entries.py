"""A short, deterministic run of the entry-reader fuzzer (tests/fuzz/fuzz_entries.py); the long
campaign is `python tests/fuzz/fuzz_entries.py --cases 100000`."""

from __future__ import annotations

from .fuzz_entries import run


def test_entry_reader_fuzz_short(tmp_path):
    stats = run(300, seed=0, work=tmp_path)
    assert stats["failures"] == {}, stats["failures"]
    assert stats["cases"] == 300 and stats["accepted"] > 20  # the mutations do reach acceptance
    assert stats["slowest_s"] < 2.0
