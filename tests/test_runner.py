"""The runner's machinery: configs, registry, statistical baselines end to end, the training
recipe's pieces, and the distributed sampler."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.baselines.config import load_config, parse_override
from amge_eval.baselines.registry import get_baseline, list_baselines
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.records import RunRecord
from amge_eval.harness.scoring import score_file

from .conftest import EVAL, tree_digest


def test_registry_lists_every_family_and_suggests_names():
    specs = {s.name: s for s in list_baselines()}
    assert {"random", "all-ones", "all-zeros", "prior", "stgcn", "ctrgcn", "hdgcn"} <= set(specs)
    for spec in specs.values():
        assert spec.config_path.is_file(), f"{spec.name} has no config file"
    with pytest.raises(AmgeError, match="Did you mean 'stgcn'"):
        get_baseline("stgnc")


def test_config_precedence_and_overrides(tmp_path):
    spec = get_baseline("stgcn")
    user = tmp_path / "user.toml"
    user.write_text("[train]\nlr = 0.5\nepochs = 3\n")
    cfg = load_config(spec, user, ["train.lr=0.25", 'model.layout="coco17"'], epochs=7,
                      batch_size=4)
    assert cfg.train.lr == 0.25 and cfg.train.epochs == 7 and cfg.train.batch_size == 4
    assert cfg.model["layout"] == "coco17"
    assert parse_override("model.layout=halpe26") == ("model", "layout", "halpe26")
    assert parse_override("train.amp=false") == ("train", "amp", False)


@pytest.mark.parametrize("override, message", [
    ("train.lrr=1", "\\[train\\]: unknown key 'lrr'. Did you mean 'lr'"),
    ("train.epochs=abc", '\\[train\\].epochs: expected int, got "abc"'),
    ("train.loss=focal", "\\[train\\].loss: expected one of 'bce', 'softmax-bce', got \"focal\""),
    ("eval.aggregate=median", "\\[eval\\].aggregate: expected one of 'mean', 'max'"),
    ("optim.lr=1", "unknown table"),
    ("lr=1", "table.key=value"),
    ("train.batch_size=0", "\\[train\\].batch_size: expected int >= 1, got 0"),
    ('data.frames="16x4"', '\\[data\\].frames: expected int, got "16x4"'),
    ("data.framez=16", "\\[data\\]: unknown key 'framez'. Did you mean 'frames'"),
    ("model.chanels=[64]", "\\[model\\]: unknown key 'chanels'. Did you mean 'channels'"),
    ("model.dropout=true", "\\[model\\].dropout: expected float, got true"),
])
def test_bad_overrides_are_refused(override, message):
    with pytest.raises(AmgeError, match=message) as err:
        load_config(get_baseline("stgcn"), None, [override])
    assert err.value.code in ("E802", "E803")


def test_every_problem_of_a_config_is_listed_at_once():
    with pytest.raises(AmgeError) as err:
        load_config(get_baseline("stgcn"), None, ["train.lr=x", "data.frames=x", "model.bad=1",
                                                  "eval.batch_size=0"])
    for path in ("[train].lr", "[data].frames", "[model]: unknown key 'bad'",
                 "[eval].batch_size"):
        assert path in err.value.message


def test_statistical_baselines_take_no_data_or_model_settings():
    with pytest.raises(AmgeError, match="random takes no data settings"):
        load_config(get_baseline("random"), None, ["data.frames=16"])


def test_bad_config_file_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train\nlr = 1")
    spec = get_baseline("stgcn")
    with pytest.raises(AmgeError, match="not valid TOML"):
        load_config(spec, bad)
    with pytest.raises(AmgeError, match="not found"):
        load_config(spec, tmp_path / "missing.toml")


@pytest.mark.parametrize("name", ["random", "all-ones", "all-zeros", "prior"])
def test_statistical_baselines_end_to_end(tmp_path, store, cli, name):
    out = tmp_path / "run"
    before = tree_digest(store.root)
    rc, stdout, stderr = cli("run-baseline", name, "--dataset", "musclemap136", "--labels-dir",
                             store.root, "--out", out, "--quiet", "--resamples", "200")
    assert rc == 0, stderr
    assert tree_digest(store.root) == before
    record = json.loads((out / "run.json").read_text())
    for key in ("config", "seed", "git", "environment", "device", "timing", "epochs", "params",
                "data_settings", "label_fingerprints"):
        assert key in record
    assert RunRecord.read(out / "run.json").to_dict() == record  # round-trips through its class
    assert str(tmp_path) not in (out / "run.json").read_text()  # no absolute path of this machine
    assert record["params"] == 0
    rep = score_file(out / "predictions", labels_dir=store.root, resamples=200)
    scores = json.loads((out / "scores.json").read_text())
    for split in EVAL:
        assert scores["splits"][split]["map"] == pytest.approx(100 * rep.splits[split].map, abs=1e-4)
        if name != "random":  # constant per column: AP equals prevalence exactly
            y = store.labels[split].labels
            prevalence = y.mean(axis=0)[y.any(axis=0)].mean()
            assert rep.splits[split].map == pytest.approx(prevalence, abs=1e-12)


def test_random_baseline_is_seeded(tmp_path, store, cli):
    runs = []
    for seed, out in ((1, "a"), (1, "b"), (2, "c")):
        assert cli("run-baseline", "random", "-d", "musclemap136", "--labels-dir", store.root,
                   "--out", tmp_path / out, "-q", "--seed", seed, "--resamples", "200")[0] == 0
        with np.load(tmp_path / out / "predictions" / "test_unseen.npz") as z:
            runs.append(z["scores"])
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])


def test_out_folder_with_other_files_is_refused(tmp_path, store, cli):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    rc, _, err = cli("run-baseline", "random", "-d", "musclemap136", "--labels-dir", store.root,
                     "--out", out)
    assert rc == 1 and "holds other files" in err
    assert (out / "thesis.tex").read_text() == "precious" and len(list(out.iterdir())) == 1


def test_unknown_baseline_exit_1_with_suggestion(cli):
    rc, _, err = cli("run-baseline", "stgnc")
    assert rc == 1 and "Did you mean 'stgcn'" in err


def test_missing_labels_exit_3(tmp_path, cli):
    rc, _, err = cli("run-baseline", "random", "-d", "musclemap136", "--labels-dir", tmp_path)
    assert rc == 3 and "labels import" in err


# --------------------------------------------------------------------------- training pieces

def test_lr_schedule_warms_up_then_decays_to_zero():
    from amge_eval.baselines.training import lr_factor

    total, warm = 100, 10
    f = [lr_factor(s, total, warm) for s in range(total + 1)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:]))
    assert f[total] == pytest.approx(0.0, abs=1e-12)
    assert f[55] == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_losses_match_direct_formulas():
    import torch

    from amge_eval.baselines.training import multilabel_loss, to_scores

    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 20, generator=g, dtype=torch.float64)
    y = (torch.rand(5, 20, generator=g) < 0.3).double()
    p = 1 / (1 + np.exp(-logits.numpy()))
    bce = -(y.numpy() * np.log(p) + (1 - y.numpy()) * np.log(1 - p)).mean(axis=1)
    np.testing.assert_allclose(multilabel_loss(logits, y, "bce").numpy(), bce, rtol=1e-10)
    sm = np.exp(logits.numpy()) / np.exp(logits.numpy()).sum(axis=1, keepdims=True)
    ref = -(y.numpy() * np.log(sm) + (1 - y.numpy()) * np.log(1 - sm)).mean(axis=1)
    np.testing.assert_allclose(multilabel_loss(logits, y, "softmax-bce").numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(to_scores(logits, "softmax-bce").sum(dim=1).numpy(), 1, rtol=1e-6)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 200), st.integers(1, 32), st.integers(1, 4), st.integers(0, 5),
       st.booleans())
def test_rank_batches_partition_the_global_batches(n, batch, world, epoch, drop_last):
    from amge_eval.baselines.distributed import Dist, RankBatchSampler, global_batches

    batches = global_batches(n, batch, seed=3, epoch=epoch, shuffle=True, drop_last=drop_last)
    per_rank = []
    for r in range(world):
        s = RankBatchSampler(n, batch, Dist(r, world), seed=3, shuffle=True, drop_last=drop_last)
        s.set_epoch(epoch)
        per_rank.append(s.batches())
    for i, b in enumerate(batches):
        merged = sorted(x for r in range(world) for x in per_rank[r][i])
        assert merged == sorted(b)
    flat = sorted(x for b in batches for x in b)
    assert len(flat) == len(set(flat))
    if not drop_last:
        assert flat == list(range(n))


def test_weights_loading_refuses_urls_and_foreign_files(tmp_path):
    import torch

    from amge_eval.baselines.training import load_weights

    model = torch.nn.Linear(3, 2)
    with pytest.raises(AmgeError, match="never downloads"):
        load_weights(model, "https://example.org/w.pth")
    with pytest.raises(AmgeError, match="not found"):
        load_weights(model, tmp_path / "nope.pt")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(AmgeError, match="not a readable"):
        load_weights(model, junk)
    other = tmp_path / "other.pt"
    torch.save({"conv.weight": torch.zeros(4)}, other)
    with pytest.raises(AmgeError, match="shares no tensor"):
        load_weights(model, other)
    good = tmp_path / "good.pt"
    src = torch.nn.Linear(3, 2)
    torch.save({"state_dict": {"weight": src.weight.data, "bias": torch.zeros(5)}}, good)
    info = load_weights(model, good)
    assert torch.equal(model.weight, src.weight) and info["skipped_shape"] == ["bias"]
