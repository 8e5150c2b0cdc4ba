"""`amge-eval labels from-folder` (harness/folder.py): a dataset of one's own videos."""

from __future__ import annotations

import pytest

from amge_eval.harness.datasets import get_card
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.folder import folder_dataset, read_muscle_table
from amge_eval.harness.labels import read_labels
from amge_eval.harness.muscles import MUSCLE_IDS


def _layout(root, files):
    for f in files:
        p = root / f
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"")


def test_a_folder_becomes_a_dataset_with_a_card(tmp_path):
    videos = tmp_path / "v"
    _layout(videos, ["train/squat/a.mp4", "train/squat/b.MOV", "train/row/c.mp4",
                     "val_seen/row/d.mp4", "test_unseen/plank/e.webm", "test_unseen/plank/x.txt",
                     "other/readme.mp4"])
    (tmp_path / "m.csv").write_text("activity,muscles\nsquat,quadriceps;Gluteus\n"
                                    "row,upper back;latissimus; biceps\nplank,\n")
    res = folder_dataset(videos, "mine", tmp_path / "m.csv", tmp_path / "labels")
    assert res.counts == {"train": 3, "val_seen": 1, "test_unseen": 1}
    assert res.activities == ["plank", "row", "squat"] and res.unseen == ["plank"]
    train = read_labels(tmp_path / "labels", "mine", "train")
    assert train.sample_ids.tolist() == ["row/c", "squat/a", "squat/b"]
    assert train.activities.tolist() == ["row", "squat", "squat"]
    assert train.media[1] == str((videos / "train" / "squat" / "a.mp4").resolve())
    on = {MUSCLE_IDS[j] for j in train.labels[1].nonzero()[0]}
    assert on == {"quadriceps", "gluteus"}
    assert read_labels(tmp_path / "labels", "mine", "test_unseen").labels.sum() == 0
    card = get_card("mine", tmp_path / "labels")
    assert card.activities == 3 and card.unseen_activities == ("plank",)
    assert card.split_sizes == {"train": 3, "val_seen": 1, "test_unseen": 1}
    # the same folder again is fine; other labels need --replace
    folder_dataset(videos, "mine", tmp_path / "m.csv", tmp_path / "labels")
    (tmp_path / "m.csv").write_text("activity,muscles\nsquat,calves\nrow,chest\nplank,\n")
    with pytest.raises(AmgeError) as err:
        folder_dataset(videos, "mine", tmp_path / "m.csv", tmp_path / "labels")
    assert err.value.code == "E502"
    folder_dataset(videos, "mine", tmp_path / "m.csv", tmp_path / "labels", replace=True)


@pytest.mark.parametrize("table, message", [
    ("act,muscle\n", "expected the header 'activity,muscles'"),
    ("activity,muscles\nsquat,quads\n", "unknown muscle group 'quads'"),
    ("activity,muscles\nsquat,chest\nsquat,chest\n", "listed twice"),
    ("activity,muscles\nsquat,chest,extra\n", "line 2"),
])
def test_bad_muscle_tables_are_refused(tmp_path, table, message):
    (tmp_path / "m.csv").write_text(table)
    with pytest.raises(AmgeError, match=message) as err:
        read_muscle_table(tmp_path / "m.csv")
    assert err.value.code == "E515"


def test_bad_layouts_are_refused_before_anything_is_written(tmp_path):
    (tmp_path / "m.csv").write_text("activity,muscles\nsquat,chest\n")
    _layout(tmp_path / "flat", ["squat/a.mp4"])
    with pytest.raises(AmgeError) as err:
        folder_dataset(tmp_path / "flat", "mine", tmp_path / "m.csv", tmp_path / "labels")
    assert err.value.code == "E715" and "other folders there: squat" in err.value.message
    _layout(tmp_path / "deep", ["train/squat/a.mp4", "train/row/b.mp4", "train/squat/x/c.mp4"])
    with pytest.raises(AmgeError) as err:
        folder_dataset(tmp_path / "deep", "mine", tmp_path / "m.csv", tmp_path / "labels")
    assert err.value.code == "E515" and "row" in err.value.message
    assert "expected <split>/<activity>/<clip>" in err.value.message
    assert not (tmp_path / "labels").exists()
    for name in ("synth", "bad name", ""):
        with pytest.raises(AmgeError) as err:
            folder_dataset(tmp_path / "deep", name, tmp_path / "m.csv", tmp_path / "labels")
        assert err.value.code == "E515"


def test_cli_from_folder_reports_and_a_refusal_leaves_the_store_alone(cli, tmp_path):
    from .conftest import tree_digest

    videos, labels = tmp_path / "v", tmp_path / "labels"
    _layout(videos, ["train/squat/a.mp4", "test_unseen/row/b.mp4"])
    (tmp_path / "m.csv").write_text("activity,muscles\nsquat,quadriceps\nrow,biceps\n")
    code, out, err = cli("labels", "from-folder", videos, "--dataset", "mine", "--muscles",
                         tmp_path / "m.csv", "--labels-dir", labels)
    assert code == 0, err
    assert "Dataset mine: train 1, test_unseen 1 samples, 2 activities (1 unseen)" in out
    before = tree_digest(labels)
    (tmp_path / "m.csv").write_text("activity,muscles\nsquat,quads\nrow,biceps\n")
    code, out, err = cli("labels", "from-folder", videos, "--dataset", "mine", "--muscles",
                         tmp_path / "m.csv", "--labels-dir", labels, "--replace")
    assert code != 0 and "E515" in err and "unknown muscle group 'quads'" in err
    assert tree_digest(labels) == before
