"""Entry folders that broke the entry reader under fuzzing (tests/fuzz/fuzz_entries.py): each now
ends in a coded error, never an internal one."""

from __future__ import annotations

import pytest

from amge_eval.leaderboard.entries import EntryInvalid, load_entry

from .leaderboard_helpers import RESAMPLES, copy_reported, write_pred_dir


@pytest.fixture
def entry(tmp_path, store):
    from amge_eval.leaderboard.submit import submit

    subs = copy_reported(tmp_path / "subs")
    return submit(write_pred_dir(tmp_path / "p", store, 0.5), "musclemap136", "Model",
                  submissions_dir=subs, labels_dir=store.root, resamples=RESAMPLES).entry.path


@pytest.mark.parametrize("name, content, code", [
    ("entry.toml", b"a = " + b"[" * 5000, "E900"),  # tomllib's recursion
    ("entry.toml", b"x" * (2 * 1024 * 1024), "E900"),  # over the size cap
    ("entry.toml", b"name = \"\xff\xfe\"", "E900"),  # not UTF-8
    ("scores.json", b'{"kind": "score", "schema_version": "2.1", "x": ' + b"[" * 200000,
     "E909"),  # msgspec's recursion
    ("scores.json", b'{"kind": "score", "schema_version": "2.1", "x": "\xff\xfe"}', "E909"),
    # a number msgspec cannot hold, inside a record that fails validation anyway
    ("run.json", b'{"kind": "run", "schema_version": "2.1", "config": {"a": {"b": 1e999}}}',
     "E910"),
])
def test_hostile_entry_files_are_user_errors(entry, name, content, code):
    path = entry / name
    path.write_bytes(content)
    with pytest.raises(EntryInvalid) as err:
        load_entry(entry, verify_hashes=True)
    assert code in {p.code for p in err.value.problems}, str(err.value)
