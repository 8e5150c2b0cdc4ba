"""Config presets (`--preset paper`): every trained baseline has one and it validates; the order
defaults < baseline file < preset < --config < --set; unknown names; the docs table is the
files' own; and a tiny run under the preset records it in the run, the entry and the site."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from amge_eval.baselines import config as config_mod
from amge_eval.baselines.config import (
    PRESETS_DOC_BEGIN,
    PRESETS_DOC_END,
    load_config,
    presets_markdown,
    presets_of,
    read_preset,
)
from amge_eval.baselines.registry import get_baseline, list_baselines
from amge_eval.harness.errors import AmgeError

ROOT = Path(__file__).resolve().parents[1]
TRAINED = [s.name for s in list_baselines() if s.family != "statistical"]
SKELETON = [s.name for s in list_baselines() if s.family == "skeleton"]
VIDEO = [s.name for s in list_baselines() if s.family == "video"]
# A few seconds on a CPU: the preset's recipe, with the network and the clips made tiny.
TINY = ("model.channels=[8,8,8,8,16,16,16,16,16,16]", "data.frames=8", "train.epochs=1")


def test_the_skeleton_baselines_are_all_covered():
    assert {"stgcn", "ctrgcn", "hdgcn"} <= set(TRAINED)


@pytest.mark.parametrize("name", SKELETON)
def test_every_skeleton_baseline_has_a_paper_preset_that_validates(name):
    spec = get_baseline(name)
    assert "paper" in presets_of(spec)
    overlay = read_preset(spec, "paper")  # structure, [sources] and versions checked
    assert overlay.sources
    for version in ("v1", "v2", "synthetic", None):
        cfg = load_config(spec, preset="paper", paper_version=version)  # all four tables checked
        assert cfg.train.lr == 1e-4 and cfg.train.weight_decay == 0.05
        own_loss = hasattr(spec.builder(), "fit_labels")  # HAR + lookup: its cross-entropy
        assert own_loss or cfg.train.loss == "softmax-bce"
        assert cfg.train.warmup_epochs == 30.0
        assert cfg.train.epochs == (80 if version == "v2" else 10)
        assert cfg.data["max_persons"] == 2
        if "persons" in cfg.model:
            assert cfg.model["persons"] == 2  # the official two person slots
    assert load_config(spec, preset="default").digest() == load_config(spec).digest()


@pytest.mark.parametrize("name", VIDEO)
def test_every_video_baseline_has_a_paper_preset_that_validates(name):
    """A full-size video baseline's default config already is the release's recipe, which its
    preset leaves as it is but for float32 training; a -tiny variant keeps its network and clip
    and takes the papers' recipe in place of its CPU one."""
    spec = get_baseline(name)
    assert "paper" in presets_of(spec)
    overlay = read_preset(spec, "paper")
    assert overlay.sources
    base = load_config(spec)
    for version in ("v1", "v2", "synthetic", None):
        cfg = load_config(spec, preset="paper", paper_version=version)
        assert cfg.train.lr == 1e-4 and cfg.train.weight_decay == 0.05
        assert cfg.train.warmup_epochs == 30.0 and cfg.train.amp is False
        assert name.startswith("har-lookup") or cfg.train.loss == "softmax-bce"
        assert cfg.model == base.model and cfg.data == base.data  # the network and clip stay
    if name.endswith("-tiny"):
        assert load_config(spec, preset="paper").train.epochs == 10
    assert load_config(spec, preset="default").digest() == base.digest()


def test_precedence_defaults_file_preset_config_set(tmp_path):
    spec = get_baseline("ctrgcn")
    base = load_config(spec)
    paper = load_config(spec, preset="paper")
    # defaults < baseline file: the file sets lr, TrainConfig's default (1e-3) is not used
    assert base.train.lr == 0.003 and base.train.workers == 0  # workers: the class default
    # baseline file < preset; what the preset leaves alone stays the file's
    assert paper.data["frames"] == 64 and paper.train.lr == 1e-4
    assert paper.data["train_window"] == base.data["train_window"]
    assert paper.model["layout"] == base.model["layout"] and paper.train.workers == 0
    # preset (with its paper-version table) < --config < --set < --epochs
    user = tmp_path / "user.toml"
    user.write_text("[data]\nframes = 48\n[train]\nepochs = 3\nlr = 0.5\n")
    cfg = load_config(spec, user, preset="paper", paper_version="v2")
    assert cfg.data["frames"] == 48 and cfg.train.epochs == 3 and cfg.train.lr == 0.5
    assert cfg.train.loss == "softmax-bce"
    cfg = load_config(spec, user, ["data.frames=40", "train.lr=0.25"], preset="paper",
                      paper_version="v2")
    assert cfg.data["frames"] == 40 and cfg.train.lr == 0.25 and cfg.train.epochs == 3
    cfg = load_config(spec, user, ["train.epochs=5"], epochs=7, preset="paper")
    assert cfg.train.epochs == 7
    assert load_config(spec, preset="paper", paper_version="v2").train.epochs == 80


def test_unknown_presets_are_refused_with_a_suggestion():
    with pytest.raises(AmgeError, match=r"Unknown preset 'papr'. Did you mean 'paper'\? "
                                        r"Presets: default, paper") as err:
        load_config(get_baseline("stgcn"), preset="papr")
    assert err.value.code == "E804"
    with pytest.raises(AmgeError, match="Baseline random has no 'paper' preset.*exists for: "
                                        "c2d-r50-tiny, c2d-r50, ctrgcn, .*stgcn, ") as err:
        load_config(get_baseline("random"), preset="paper")
    assert err.value.code == "E804"


@pytest.mark.parametrize("text, message", [
    ('[trian]\nlr = 1.0\n[sources]\n"trian.lr" = "x"\n', "unknown key 'trian'. Did you mean "
                                                         "'train'"),
    ("[train]\nlr = 1.0\n", "no source for 'train.lr'"),
    ('[train]\nlr = 1.0\n[sources]\n"train.lr" = "x"\n"train.epoch" = "y"\n',
     "'train.epoch' is not a setting of this file. Did you mean 'train.lr'"),
    ('[paper_version.v3.train]\nepochs = 1\n[sources]\n"paper_version.v3.train.epochs" = "x"\n',
     "'v3' is no dataset card's paper version"),
    ('[train]\nlrr = 1.0\n[sources]\n"train.lrr" = "x"\n', r"\[train\]: unknown key 'lrr'. Did "
                                                           r"you mean 'lr'"),
    ('[train]\nlr = "fast"\n[sources]\n"train.lr" = "x"\n',
     r'\[train\].lr: expected float, got "fast"'),
])
def test_a_malformed_preset_file_is_refused(tmp_path, monkeypatch, text, message):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "stgcn.toml").write_text(text)
    monkeypatch.setattr(config_mod, "PRESET_DIR", tmp_path)
    with pytest.raises(AmgeError, match=message) as err:
        load_config(get_baseline("stgcn"), preset="mine")
    assert err.value.code == "E803"


def test_docs_table_is_generated_from_the_config_files():
    text = (ROOT / "docs" / "presets.md").read_text()
    block = text.split(PRESETS_DOC_BEGIN + "\n")[1].split(PRESETS_DOC_END)[0]
    assert block == presets_markdown(), (
        "docs/presets.md is out of date; regenerate it with python -c \"from "
        "amge_eval.baselines.config import update_presets_doc as u; u('docs/presets.md')\"")
    # every trained baseline has its table, and every difference is a row with a source
    for name in TRAINED:
        spec = get_baseline(name)
        assert f"(`{name}`)" in block
        base, paper = load_config(spec).to_dict(), load_config(spec, preset="paper").to_dict()
        for table in ("model", "data", "train", "eval"):
            for key, value in paper[table].items():
                if base[table].get(key) != value:
                    section = block.split(f"(`{name}`)")[1].split("### ")[0]
                    row = re.search(rf"^\| `{table}\.{key}` \|.*\| (.+) \|$", section, re.M)
                    assert row and row.group(1).strip(), (name, table, key)
    assert "docs/presets.md" in (ROOT / "README.md").read_text()


# --------------------------------------------------------------------------- runs and entries

@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    from amge_eval.harness.synth.generate import generate_benchmark

    home = tmp_path_factory.mktemp("preset-bench")
    generate_benchmark(home / "labels", home / "data", clips_per_activity=3, video=False)
    return home


def _run(bench, out, name, preset, overrides=()):
    from amge_eval.baselines.runner import RunOptions, run_baseline

    return run_baseline(RunOptions(baseline=name, dataset="synth", out=out,
                                   labels_dir=bench / "labels", data_root=bench / "data",
                                   overrides=tuple(overrides), preset=preset, resamples=200,
                                   threads=1, checkpoint_dir=bench / "ckpt", resume=False))


def test_a_tiny_training_step_runs_under_the_preset_and_is_recorded(bench, tmp_path):
    pytest.importorskip("torch")
    from amge_eval.harness.records import RunRecord
    from amge_eval.leaderboard.site import build_site
    from amge_eval.leaderboard.store import load_store
    from amge_eval.leaderboard.submit import submit

    res = _run(bench, tmp_path / "paper", "ctrgcn", "paper", TINY)
    rec = RunRecord.read(tmp_path / "paper" / "run.json")
    assert rec.preset == "paper" and res.record.preset == "paper"
    assert rec.config["train"]["loss"] == "softmax-bce" and rec.config["train"]["lr"] == 1e-4
    assert rec.config["model"]["persons"] == 2 and rec.config["data"]["max_persons"] == 2
    assert rec.config["data"]["frames"] == 8 and rec.epochs == 1  # --set over the preset
    assert rec.data_settings.eval_views.scores == "softmax"
    plain = _run(bench, tmp_path / "default", "random", None)
    assert plain.record.preset is None
    assert json.loads((tmp_path / "default" / "run.json").read_text())["preset"] is None

    subs = tmp_path / "subs"
    for folder, name in ((tmp_path / "paper", "ctrgcn-paper"), (tmp_path / "default", "random")):
        submit(folder, "synth", name, submissions_dir=subs, labels_dir=bench / "labels",
               resamples=200)
    entries = {e.slug: e for e in load_store(subs)["synth"]}
    assert entries["ctrgcn-paper"].meta.preset == "paper"
    assert "--preset paper" in entries["ctrgcn-paper"].meta.notes
    assert entries["random"].meta.preset == "default"
    toml = (subs / "synth" / "ctrgcn-paper" / "entry.toml").read_text()
    assert 'preset = "paper"' in toml

    site = tmp_path / "site"
    build_site(subs, site)
    board = (site / "synth" / "index.html").read_text()
    rows = [r.split("</tr>")[0] for r in board.split("<tr ")]
    row = next(r for r in rows if 'data-name="ctrgcn-paper"' in r)
    assert 'class="badge preset"' in row and "paper preset" in row
    other = next(r for r in rows if 'data-name="random"' in r)
    assert 'class="badge preset"' not in other
    page = (site / "synth" / "ctrgcn-paper.html").read_text()
    assert "<dt>Config preset</dt><dd>paper" in page and "--preset paper" in page
    assert "<dt>Config preset</dt><dd>default" in (site / "synth" / "random.html").read_text()


def test_reproduce_refuses_an_unknown_preset_before_running(tmp_path):
    from amge_eval.reproduce import reproduce

    with pytest.raises(AmgeError, match="Did you mean 'paper'") as err:
        reproduce(("random", "stgcn"), runs_dir=tmp_path / "runs", preset="paperr",
                  committed=tmp_path / "none", site_dir=tmp_path / "site",
                  labels_dir=tmp_path / "labels", data_root=tmp_path / "data")
    assert err.value.code == "E804"
    assert not (tmp_path / "runs" / "synth").exists()


def test_cli_run_baseline_preset_flag(cli, tmp_path):
    code, _, err = cli("run-baseline", "random", "--preset", "paper", "--out", tmp_path / "o")
    assert code == 1 and "has no 'paper' preset" in err and err.rstrip().endswith("(E804)")
    assert not (tmp_path / "o").exists()
