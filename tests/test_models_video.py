"""The video baselines: every registered one builds at full size and runs, its parameter count
matches the maintained implementation it comes from (torchvision, pytorchvideo) and REFERENCE
facts, the project's MViTv2 computes what torchvision's ``mvit_v2_s`` computes (1e-4), k class
tokens stay out of pooling, relative-position bias and the residual add, checkpoints of other
codebases load through key maps, and every tiny variant takes a training step on real clips.

Independent references: torchvision's ``mvit_v2_s`` (outputs, parameter count, state dict),
torchvision's ``_add_rel_pos`` (the relative-position bias), ``swin3d_s``/``swin3d_b``, and
pytorchvideo's own model-zoo builders (``pytorchvideo.models.hub``).
"""

from __future__ import annotations

import functools
import tomllib
import warnings

import numpy as np
import pytest
import torch

from amge_eval.baselines.config import load_config
from amge_eval.baselines.models._video import pack_pathways
from amge_eval.baselines.registry import get_baseline, list_baselines
from amge_eval.harness.errors import AmgeError

torch.set_num_threads(2)
pytest.importorskip("pytorchvideo")
tvv = pytest.importorskip("torchvision.models.video")

# The papers' single-stream RGB baselines (TransM3E, late fusion and HAR + lookup on video have
# tests of their own: tests/test_transm3e.py)
VIDEO = [s.name for s in list_baselines() if s.family == "video"
         and s.module.rsplit(".", 1)[-1] in ("mvit", "resnet3d", "swin3d")]
FULL = [n for n in VIDEO if not n.endswith("-tiny")]
TINY = [n for n in VIDEO if n.endswith("-tiny")]

# Parameters with 20 outputs at the default configs: torchvision's and pytorchvideo's own builders
# give the same (tests below); REFERENCE.md: C2D ~23.55M, I3D ~27.3M, Slow ~31.7M, SlowFast ~33.7M,
# mvit_v2_s 34.25M, swin3d_s 49.52M, swin3d_b 87.66M.
COUNTS = {"c2d-r50": 23_549_012, "i3d-r50": 27_264_852, "slow-r50": 31_675_476,
          "slowfast-r50": 33_690_588, "mvitv2-s": 34_245_524, "mvitv2-b": 50_901_044,
          "videoswin-s": 49_524_458, "videoswin-b": 87_659_484}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


@functools.cache
def reference_count(builder: str, classes: int = 20) -> int:
    """Parameters of a torchvision (``tv:``) or pytorchvideo (``pv:``) builder's model."""
    lib, fn = builder.split(":")
    if lib == "tv":
        return n_params(getattr(tvv, fn)(num_classes=classes))
    return n_params(hub(fn, model_num_class=classes))


def config(name: str) -> dict:
    return tomllib.loads(get_baseline(name).config_path.read_text())


def build(name: str, **override):
    return get_baseline(name).builder(num_muscles=20, **{**config(name)["model"], **override})


def hub(name: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pytorchvideo.models import hub as pv_hub
    return getattr(pv_hub, name)(pretrained=False, **kw)


def test_every_paper_video_row_has_a_baseline_and_a_tiny_variant():
    assert sorted(FULL) == sorted(COUNTS)
    assert sorted(TINY) == sorted(f"{n}-tiny" for n in FULL)
    papers = {get_baseline(n).paper_name for n in FULL}
    assert papers == {"C2D (R50)", "I3D (R50)", "Slow (R50)", "SlowFast (R50)", "MViTv2-S",
                      "MViTv2-B", "VideoSwin-S", "VideoSwin-B"}
    for n in TINY:
        spec, full = get_baseline(n), get_baseline(n[:-5])
        assert spec.builder is full.builder and spec.config is full.config  # one builder
        assert spec.paper_name is None and spec.modalities == ("rgb",)


# ---------------------------------------------------------------------------------------------
# Parameter counts against the implementations the models come from

def test_full_size_parameter_counts():
    for name, count in COUNTS.items():
        assert n_params(build(name)) == count, name
    # the maintained builders, 20 classes
    for name, ref in (("mvitv2-s", "tv:mvit_v2_s"), ("videoswin-s", "tv:swin3d_s"),
                      ("videoswin-b", "tv:swin3d_b"), ("c2d-r50", "pv:c2d_r50"),
                      ("i3d-r50", "pv:i3d_r50"), ("slow-r50", "pv:slow_r50"),
                      ("slowfast-r50", "pv:slowfast_r50")):
        assert reference_count(ref) == COUNTS[name], name


def test_paper_counts_and_notes():
    # MViTv2-S and C2D match the papers' #PM; the R50s with temporal convolutions match no
    # known configuration; MViTv2-B and the Swins are the papers' Kinetics-400 (400-output)
    # counts, which the notes give.
    for name in ("c2d-r50", "mvitv2-s"):
        spec = get_baseline(name)
        assert round(COUNTS[name] / 1e6, 1) == spec.paper_params_m and spec.params_note is None
    for name in ("i3d-r50", "slow-r50", "slowfast-r50"):
        spec = get_baseline(name)
        assert abs(COUNTS[name] / 1e6 - spec.paper_params_m) > 5
        assert "no known R50 configuration" in spec.params_note
    b400 = build("mvitv2-b", frames=32)
    assert n_params(b400) == 50_937_908  # 32-frame temporal tables
    head = 768 * 380 + 380  # 400 instead of 20 outputs
    assert round((n_params(b400) + head) / 1e6, 2) == 51.23 == round(51_230_128 / 1e6, 2)
    swin_s, swin_b = reference_count("tv:swin3d_s", 400), reference_count("tv:swin3d_b", 400)
    assert swin_s == COUNTS["videoswin-s"] + head
    assert swin_b == COUNTS["videoswin-b"] + 1024 * 380 + 380
    assert round(swin_b / 1e6, 1) == get_baseline("videoswin-b").paper_params_m
    for name, text in (("mvitv2-b", "51.23M"), ("videoswin-s", "49.82M"),
                       ("videoswin-b", "88.05M")):
        assert text in get_baseline(name).params_note


# ---------------------------------------------------------------------------------------------
# Every model builds at full size and runs; the tiny variants take a training step

@pytest.mark.parametrize("name", FULL)
def test_full_size_forward_on_a_small_batch(name):
    """The full-size network (default config) on two short, small clips: every family takes
    other inputs than its reference 224 px (adaptive head pool, window clamping, resized
    relative-position tables), so a small clip exercises the whole full-size network."""
    torch.manual_seed(0)
    model = build(name).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 8, 64, 64))
    assert out.shape == (2, 20) and torch.isfinite(out).all()


def test_input_shape_errors_name_the_model():
    model = build("c2d-r50-tiny")
    with pytest.raises(AmgeError, match=r"c2d-r50 expects clips of shape \(N, 3, T, H, W\), "
                                        r"but got \(2, 6, 8, 64, 64\)") as ei:
        model(torch.zeros(2, 6, 8, 64, 64))
    assert ei.value.code == "E821"
    with pytest.raises(AmgeError, match="at least 4 frames") as ei:
        build("slowfast-r50-tiny")(torch.zeros(1, 3, 2, 64, 64))
    assert ei.value.code == "E821"
    with pytest.raises(AmgeError, match="expects clips") as ei:
        build("mvitv2-s-tiny")(torch.zeros(1, 3, 64, 64))
    assert ei.value.code == "E821"


@pytest.mark.parametrize("name,bad,match", [
    ("mvitv2-s", {"stage_blocks": [1, 16]}, "stage_blocks must be distinct block indices"),
    ("mvitv2-s", {"frames": 8, "crop": 32, "stage_blocks": [1, 2, 3, 4]}, "empty grid"),
    ("mvitv2-s", {"q_stride": [1, 2, 0]}, "q_stride must be three positive integers"),
    ("c2d-r50", {"depth": 18}, "depth must be 50, 101 or 152"),
    ("slowfast-r50", {"width": 60}, "width a multiple of beta_inv"),
    ("videoswin-s", {"num_heads": [5, 6, 12, 24]}, "multiple of its heads"),
])
def test_bad_model_settings(name, bad, match):
    with pytest.raises(AmgeError, match=match) as ei:
        get_baseline(name).builder(num_muscles=20, **bad)
    assert ei.value.code == "E820"
    with pytest.raises(AmgeError, match="unknown key 'widht'. Did you mean 'width'") as ei:
        get_baseline("c2d-r50").builder(widht=8)
    assert ei.value.code == "E803"


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """Four clips of the embedded benchmark (128 x 128 videos, landscape 2:1 one too)."""
    from amge_eval.harness.labels import read_labels
    from amge_eval.harness.synth.generate import generate_benchmark

    root = tmp_path_factory.mktemp("video-bench")
    generate_benchmark(root / "labels", root / "data", clips_per_activity=3, video=True,
                       size=128, frames=(40, 56))
    return read_labels(root / "labels", "synth", "train"), root / "data"


@pytest.mark.parametrize("name", TINY)
def test_tiny_variant_takes_a_training_step_on_real_clips(name, clips):
    from amge_eval.baselines.inputs import build_dataset
    from amge_eval.baselines.training import make_optimizer, multilabel_loss

    labels, data_root = clips
    cfg = load_config(get_baseline(name))
    ds = build_dataset("rgb", labels, data_root, cfg.data, train=True, seed=0)
    from amge_eval.baselines.data.datasets import collate

    batch = collate([ds[i] for i in range(4)])
    assert batch.x.shape == (4, 3, cfg.data["frames"], cfg.data["crop"], cfg.data["crop"])
    torch.manual_seed(0)
    model = get_baseline(name).builder(num_muscles=20, **cfg.model).train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(model, cfg.train)
    loss = multilabel_loss(model(batch.x), batch.y, cfg.train.loss).mean()
    loss.backward()
    assert torch.isfinite(loss)
    for pname, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    opt.step()
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_channels_last_trains_and_predicts_what_contiguous_memory_does(clips, tmp_path):
    """The training loop and prediction with [train].channels_last on and off: the same losses
    and scores up to floating-point rounding, the Conv3d weights stored NDHWC when on."""
    from dataclasses import replace

    from amge_eval.baselines import training
    from amge_eval.baselines.distributed import Dist
    from amge_eval.baselines.inputs import build_dataset
    from amge_eval.harness.labels import make_label_set

    labels, data_root = clips
    n = 16  # one batch
    labels = make_label_set(labels.dataset, labels.split, labels.sample_ids[:n],
                            labels.activities[:n], labels.media[:n], labels.labels[:n])
    cfg = load_config(get_baseline("c2d-r50-tiny"))
    ds = build_dataset("rgb", labels, data_root, cfg.data, train=True, seed=0)
    test = build_dataset("rgb", labels, data_root, cfg.data, train=False, seed=0)
    runs = {}
    for cl in (False, True):
        train_cfg = replace(cfg.train, epochs=1, batch_size=16, channels_last=cl)
        training.seed_everything(0)
        model = get_baseline("c2d-r50-tiny").builder(num_muscles=20, **cfg.model)
        state = training.train(model, ds, train_cfg, torch.device("cpu"), Dist(), 0,
                               tmp_path / f"cl{cl}" / "last.pt", "key", False)
        conv = model.net.blocks[0].conv.weight
        assert conv.is_contiguous(memory_format=torch.channels_last_3d) == cl
        runs[cl] = (state.losses, training.predict(model, test, cfg.eval, train_cfg.loss,
                                                   torch.device("cpu"), Dist(),
                                                   channels_last=cl))
    assert runs[True][0] == pytest.approx(runs[False][0], rel=1e-4)
    np.testing.assert_allclose(runs[True][1], runs[False][1], atol=1e-4)


def test_video_configs_are_complete_and_consistent():
    from dataclasses import fields

    from amge_eval.baselines.models import mvit, swin3d

    variants = {**mvit.VARIANTS, **swin3d.VARIANTS}
    for name in VIDEO:
        spec = get_baseline(name)
        table = config(name)
        assert set(table["model"]) == {f.name for f in fields(spec.config)}, name
        cfg = load_config(spec)  # every table valid
        if name in FULL:  # the full-size file states the variant's defaults
            base = variants.get(name, spec.config())
            for key, value in table["model"].items():
                want = getattr(base, key)
                assert (list(want) if isinstance(want, tuple) else want) == value, (name, key)
            assert cfg.data["crop"] == 224 and cfg.train.loss == "softmax-bce"
        else:  # small enough for the CPU
            assert 64 <= cfg.data["crop"] <= 112 and cfg.data["frames"] <= 16
        if "frames" in table["model"]:  # MViT sizes its tables from the clip
            assert table["model"]["frames"] == cfg.data["frames"]
            assert table["model"]["crop"] == cfg.data["crop"]
    recipes = {"c2d-r50": (8, 8), "i3d-r50": (8, 8), "slow-r50": (8, 8), "slowfast-r50": (32, 2),
               "mvitv2-s": (16, 4), "mvitv2-b": (16, 3), "videoswin-s": (32, 2),
               "videoswin-b": (32, 2)}
    for name, (frames, stride) in recipes.items():
        data = config(name)["data"]
        assert (data["frames"], data["stride"]) == (frames, stride), name


def test_slowfast_pathways_follow_pyslowfast():
    x = torch.arange(32.0).view(1, 1, 32, 1, 1).expand(2, 3, 32, 2, 2)
    slow, fast = pack_pathways(x, 4)
    assert slow[0, 0, :, 0, 0].tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    assert torch.equal(fast, x)
    # pytorchvideo's SlowFast with our head: a tiny model's output is the network's on the pair
    torch.manual_seed(0)
    model = build("slowfast-r50-tiny").eval()
    clip = torch.randn(1, 3, 16, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(clip), model.net(pack_pathways(clip, 4)))


# ---------------------------------------------------------------------------------------------
# MViTv2 against torchvision

def _torchvision_mvit(classes=20, frames=16, crop=224):
    """torchvision's mvit_v2_s (tables for 16 x 224) told to expect ``frames`` x ``crop`` clips:
    like the project's class, it then resizes its relative-position tables on the fly."""
    tv = tvv.mvit_v2_s(num_classes=classes)
    tv.pos_encoding.temporal_size = frames // 2
    tv.pos_encoding.spatial_size = (crop // 4, crop // 4)
    return tv


def test_mvitv2_s_matches_torchvision_at_the_release_input():
    """torchvision's mvit_v2_s state dict through the key map: same outputs to 1e-4 on the same
    16 x 224 x 224 clip (measured difference: about 1e-6)."""
    torch.manual_seed(0)
    tv = _torchvision_mvit().eval()
    ours = build("mvitv2-s").eval()
    state, key_map = ours.convert_state_dict(tv.state_dict())
    assert key_map == "torchvision"
    assert set(state) == set(ours.state_dict())
    ours.load_state_dict(state)
    x = torch.randn(1, 3, 16, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), tv(x), atol=1e-4, rtol=0)


def test_mvit_matches_torchvision_in_training_mode_gradients():
    """A small clip (8 x 64 x 64, tables resized on the fly by both), the same weights: equal
    logits and equal gradients."""
    torch.manual_seed(0)
    tv = _torchvision_mvit(20, 8, 64)
    tv.head[0].p = 0.0  # dropout off, so that both compute the same function in train mode
    ours = build("mvitv2-s", dropout=0.0, drop_path=0.0)
    for block in tv.blocks:
        block.stochastic_depth.p = 0.0
    ours.load_state_dict(ours.convert_state_dict(tv.state_dict())[0])
    x = torch.randn(2, 3, 8, 64, 64, generator=torch.Generator().manual_seed(2))
    a, b = tv(x), ours(x)
    torch.testing.assert_close(b, a, atol=1e-4, rtol=0)
    a.square().sum().backward()
    b.square().sum().backward()
    torch.testing.assert_close(ours.patch_embed.weight.grad, tv.conv_proj.weight.grad,
                               atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(ours.blocks[3].attn.rel_pos_t.grad,
                               tv.blocks[3].attn.rel_pos_t.grad, atol=1e-4, rtol=1e-3)


def test_weights_from_files_load_through_the_key_maps(tmp_path):
    from amge_eval.baselines.training import load_weights

    torch.manual_seed(0)
    tv = _torchvision_mvit(400, 8, 64).eval()  # a Kinetics-shaped head
    path = tmp_path / "mvit_v2_s.pth"
    torch.save(tv.state_dict(), path)
    ours = build("mvitv2-s").eval()
    info = load_weights(ours, path)
    assert info["key_map"] == "torchvision"
    assert info["skipped_shape"] == ["head.bias", "head.weight"]  # 400 outputs, dropped
    assert info["unexpected"] == [] and info["missing"] == []
    with torch.no_grad():
        x = torch.randn(1, 3, 8, 64, 64)
        feats = ours.forward_features(x)[0][:, 0]
        tv_feats = tv.norm(_tv_tokens(tv, x))[:, 0]
        torch.testing.assert_close(feats, tv_feats, atol=1e-4, rtol=0)

    # PySlowFast's names: the same tensors, renamed by hand from PySlowFast's modules
    # (patch_embed.proj, cls_token (1, 1, C), attn.pool_q / norm_q, mlp.fc1, proj, head.projection)
    pysf = {_pyslowfast_name(k): v for k, v in tv.state_dict().items()}
    pysf["cls_token"] = pysf.pop("cls_token").reshape(1, 1, -1)
    torch.save({"model_state": pysf}, tmp_path / "MVITv2_S.pyth")
    again = build("mvitv2-s").eval()
    info = load_weights(again, tmp_path / "MVITv2_S.pyth")
    assert info["key_map"] == "pyslowfast" and info["missing"] == []
    for k, v in ours.state_dict().items():
        if not k.startswith("head."):
            assert torch.equal(again.state_dict()[k], v), k

    # a checkpoint for 16 x 224 clips into a model for 8 x 64 ones (as a 32-frame MViTv2-B
    # checkpoint into the release's 16 frames): every table is resized
    smaller = build("mvitv2-s", frames=8, crop=64)
    info = load_weights(smaller, tmp_path / "MVITv2_S.pyth")
    assert info["key_map"] == "pyslowfast; 48 relative-position tables resized"
    assert info["skipped_shape"] == ["head.bias", "head.weight"]

    # pytorchvideo's model zoo layout ({"model_state": ...} of its own Net): loads entirely
    net = hub("c2d_r50", model_num_class=20).eval()
    torch.save({"model_state": net.state_dict()}, tmp_path / "C2D_8x8_R50.pyth")
    c2d = build("c2d-r50").eval()
    info = load_weights(c2d, tmp_path / "C2D_8x8_R50.pyth")
    assert info["key_map"] == "pytorchvideo" and info["loaded"] == len(net.state_dict())
    with torch.no_grad():  # at the reference input the adaptive head pool is pytorchvideo's
        x = torch.randn(1, 3, 8, 224, 224)
        torch.testing.assert_close(c2d(x), net(x), atol=1e-5, rtol=1e-5)

    # torchvision's Swin state dict
    sw = tvv.swin3d_s(num_classes=400)
    torch.save(sw.state_dict(), tmp_path / "swin3d_s.pth")
    info = load_weights(build("videoswin-s"), tmp_path / "swin3d_s.pth")
    assert info["key_map"] == "torchvision" and info["skipped_shape"] == ["net.head.bias",
                                                                         "net.head.weight"]


def _tv_tokens(tv, x):
    h = tv.conv_proj(x).flatten(2).transpose(1, 2)
    h = tv.pos_encoding(h)
    thw = (tv.pos_encoding.temporal_size,) + tv.pos_encoding.spatial_size
    for block in tv.blocks:
        h, thw = block(h, thw)
    return h


def _pyslowfast_name(tv_key: str) -> str:
    import re

    key = tv_key.replace("conv_proj.", "patch_embed.proj.")
    key = key.replace("pos_encoding.class_token", "cls_token")
    key = key.replace(".attn.project.0.", ".attn.proj.")
    key = re.sub(r"\.attn\.pool_(\w)\.pool\.", r".attn.pool_\1.", key)
    key = re.sub(r"\.attn\.pool_(\w)\.norm_act\.0\.", r".attn.norm_\1.", key)
    key = key.replace(".mlp.0.", ".mlp.fc1.").replace(".mlp.3.", ".mlp.fc2.")
    key = re.sub(r"^(blocks\.\d+)\.project\.", r"\1.proj.", key)
    return key.replace("head.1.", "head.projection.")


# ---------------------------------------------------------------------------------------------
# k class tokens

def _reference_attention(attn, x, thw, k):
    """MultiscaleAttention with k tokens, written from its definition: the tokens bypass the
    pooling convolutions, the relative-position bias is torchvision's ``_add_rel_pos`` on the
    patch block only, and the residual add skips the tokens."""
    from torchvision.models.video.mvit import _add_rel_pos

    b, n, _ = x.shape
    heads = attn.heads
    q, kk, v = attn.qkv(x).reshape(b, n, 3, heads, -1).permute(2, 0, 3, 1, 4)

    def pool(t, conv, norm):
        tok, pat = t[:, :, :k], t[:, :, k:]
        c = pat.shape[-1]
        grid = pat.permute(0, 1, 3, 2).reshape(b * heads, c, *thw)
        grid = conv(grid)
        out_thw = tuple(grid.shape[2:])
        pat = grid.reshape(b, heads, c, -1).permute(0, 1, 3, 2)
        return norm(torch.cat([tok, pat], 2)), out_thw

    q, q_thw = pool(q, attn.pool_q, attn.norm_q)
    kk, k_thw = pool(kk, attn.pool_k, attn.norm_k)
    v, _ = pool(v, attn.pool_v, attn.norm_v)
    scores = (q * attn.scale) @ kk.transpose(-2, -1)
    # torchvision adds the bias to [1:, 1:] after one token: give it the patch block with one
    # dummy token in front
    pq = torch.cat([q[:, :, :1], q[:, :, k:]], 2)
    block = torch.zeros(b, heads, pq.shape[2], 1 + kk.shape[2] - k)
    block = _add_rel_pos(block, pq, q_thw, k_thw, attn.rel_pos_h, attn.rel_pos_w,
                         attn.rel_pos_t)[:, :, 1:, 1:]
    scores = scores.clone()
    scores[:, :, k:, k:] += block
    out = scores.softmax(-1) @ v
    out = torch.cat([out[:, :, :k], out[:, :, k:] + q[:, :, k:]], 2)
    return attn.proj(out.transpose(1, 2).reshape(b, -1, attn.dim_out)), q_thw


@pytest.mark.parametrize("k", [1, 3, 20])
def test_attention_with_k_class_tokens_matches_its_definition(k):
    from amge_eval.baselines.models.mvit import MultiscaleAttention, block_plan

    torch.manual_seed(k)
    cfg = build("mvitv2-s-tiny", class_tokens=k).cfg
    plan = block_plan(cfg)[1]  # a stage block: q pooled 2x, k/v 2x
    attn = MultiscaleAttention(plan, cfg).eval()
    thw = (4, 16, 16)
    x = torch.randn(2, k + 4 * 16 * 16, plan.dim_in)
    with torch.no_grad():
        out, q_thw = attn(x, thw)
        ref, ref_thw = _reference_attention(attn, x, thw, k)
    assert q_thw == ref_thw == (4, 8, 8) and out.shape == (2, k + 4 * 8 * 8, plan.dim_out)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_class_tokens_are_not_pooled_and_the_model_runs_with_twenty():
    from amge_eval.baselines.models.mvit import pool_patches

    x = torch.randn(2, 5 + 2 * 4 * 4, 8)  # 5 tokens + a 2 x 4 x 4 grid
    out, thw = pool_patches(x, torch.nn.MaxPool3d(3, (1, 2, 2), 1), (2, 4, 4), 5)
    assert thw == (2, 2, 2) and torch.equal(out[:, :5], x[:, :5])
    model = build("mvitv2-s-tiny", class_tokens=20).eval()
    assert model.cls_tokens.shape == (20, 32)
    with torch.no_grad():
        tokens, grid = model.forward_features(torch.randn(2, 3, 8, 64, 64))
        logits = model(torch.randn(2, 3, 8, 64, 64))
    assert tokens.shape == (2, 20 + 4 * 4 * 4, 128) and grid == (4, 4, 4)
    assert logits.shape == (2, 20) and torch.isfinite(logits).all()
    # distinct tokens stay distinct through every block
    assert not torch.allclose(tokens[:, 0], tokens[:, 1])


def test_drop_path_and_determinism():
    from amge_eval.baselines.models._video import DropPath

    dp = DropPath(0.5).train()
    torch.manual_seed(0)
    y = dp(torch.ones(1000, 3))
    kept = (y[:, 0] > 0).float().mean().item()
    assert 0.4 < kept < 0.6 and set(np.unique(y.numpy())) <= {0.0, 2.0}
    assert torch.equal(dp.eval()(torch.ones(4, 3)), torch.ones(4, 3))
    outs = []
    for _ in range(2):
        torch.manual_seed(3)
        outs.append(build("mvitv2-b-tiny").eval()(torch.ones(1, 3, 8, 64, 64)))
    assert torch.equal(outs[0], outs[1])


# ---------------------------------------------------------------------------------------------
# End to end

@pytest.mark.slow
def test_tiny_variant_end_to_end_through_run_baseline(clips, tmp_path):
    """`amge-eval run-baseline mvitv2-s-tiny` on a small embedded benchmark: trains, predicts
    every evaluation split, the scorer accepts the predictions, the run record holds the loader
    settings and the test views."""
    import json
    import os
    import subprocess
    import sys

    labels, data_root = clips
    root = data_root.parent
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "amge_eval", "run-baseline", "mvitv2-s-tiny", "--labels-dir",
           str(root / "labels"), "--data-root", str(data_root), "--out", str(out),
           "--checkpoint-dir", str(tmp_path / "ckpt"), "--epochs", "1", "--batch-size", "8",
           "--resamples", "200", "--quiet", "--threads", "1"]
    env = {**os.environ, "AMGE_EVAL_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr
    rec = json.loads((out / "run.json").read_text())
    assert rec["baseline"] == "mvitv2-s-tiny" and rec["family"] == "video"
    assert rec["params"] == n_params(build("mvitv2-s-tiny")) and rec["epochs"] == 1
    train, test = rec["data_settings"]["train"], rec["data_settings"]["eval"]
    assert (train["frames"], train["stride"], train["crop"], train["mode"]) == (8, 4, 64, "train")
    assert test["output_shape"] == [3, 8, 64, 64] and test["view_indices"] == [0]
    assert rec["data_settings"]["eval_views"]["scores"] == "sigmoid"
    assert rec["config"]["train"]["channels_last"] is False and rec["params_note"] is None
    scores = json.loads((out / "scores.json").read_text())
    assert set(scores["splits"]) == {"val_seen", "val_unseen", "test_seen", "test_unseen"}
    v = subprocess.run([sys.executable, "-m", "amge_eval", "validate", str(out / "predictions"),
                        "--labels-dir", str(root / "labels")], capture_output=True, text=True,
                       env=env, timeout=300)
    assert v.returncode == 0, v.stdout + v.stderr


# ---------------------------------------------------------------------------------------------
# Commands

def test_bench_command_measures_a_tiny_variant(cli, tmp_path):
    import json

    out = tmp_path / "bench.json"
    code, stdout, stderr = cli("bench", "c2d-r50-tiny", "--steps", "1", "--warmup", "0",
                               "--video-size", "96x64", "--threads", "1", "--json", out, "-q")
    assert code == 0, stderr
    assert "Training speed on cpu" in stdout and "c2d-r50-tiny" in stdout
    (rec,) = json.loads(out.read_text())
    assert rec["name"] == "c2d-r50-tiny" and rec["params"] == n_params(build("c2d-r50-tiny"))
    assert rec["clip"] == [3, 8, 64, 64] and rec["batch_size"] == 2 and len(rec["step_s"]) == 1
    assert rec["train_clips_per_s"] > 0 and rec["loader_clips_per_s"] > 0
    assert rec["peak_memory_mib"] is not None and rec["memory_kind"] == "cpu rss growth"
    assert rec["loader_source"].startswith("96x64 h264")
    code, _, stderr = cli("bench", "stgcn", "-q")
    assert code == 1 and "bench measures video baselines" in stderr and "(E819)" in stderr
    code, _, stderr = cli("bench", "c2d-r50-tiny", "--video-size", "big", "-q")
    assert code == 1 and "--video-size expects WIDTHxHEIGHT" in stderr and "(E819)" in stderr


def test_reproduce_keeps_video_out_of_the_main_job_and_adds_it_with_a_flag(monkeypatch, cli):
    import amge_eval.reproduce as rep

    assert not any(get_baseline(n).family == "video" for n in rep.DEFAULT_BASELINES)
    assert sorted(rep.VIDEO_BASELINES) == sorted(TINY + ["transm3e-tiny", "transm3e-gcn-tiny"])
    seen = {}

    def fake(baselines, **kw):
        seen["names"] = baselines
        raise AmgeError("stop here", code="E800")

    monkeypatch.setattr(rep, "reproduce", fake)
    cli("reproduce", "--video", "-q")
    assert seen["names"] == rep.DEFAULT_BASELINES + rep.VIDEO_BASELINES
    cli("reproduce", "-b", "slow-r50-tiny", "-q")
    assert seen["names"] == ("slow-r50-tiny",)
