"""TransM3E (both paper versions), its sender stage, late fusion and HAR + lookup on video.

Independent references: numpy for the KD loss and MCTF (written from the papers' equations, in
float64, from the modules' weights), torch's own ``KLDivLoss`` in the release's spelling, the
project's MViTv2 (itself pinned to torchvision's ``mvit_v2_s`` in test_models_video.py) for the
MCTs-only path, and the parameter count that gives the papers' 44.4M. Every switch of the
[model] table takes one training step on a tiny network.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

from amge_eval.baselines.config import TrainConfig, load_config  # noqa: E402
from amge_eval.baselines.registry import get_baseline, list_baselines  # noqa: E402
from amge_eval.baselines.training import make_optimizer  # noqa: E402
from amge_eval.harness.errors import AmgeError  # noqa: E402

torch.set_num_threads(2)

# a network small enough for many training steps: 4 frames of 32 x 32, 5 tokens
SMALL = {"frames": 4, "crop": 32, "kv_stride": [1, 2, 2], "class_tokens": 5}
MCTS_S = 34_245_524 + 19 * 96  # MViTv2-S (20 outputs) with 20 class tokens instead of one


def config(name: str, **over) -> dict:
    return {**load_config(get_baseline(name)).model, **over}


def build(name: str = "transm3e-tiny", **over):
    torch.manual_seed(0)
    return get_baseline(name).builder(num_muscles=20, **config(name, **over))


def small(name: str = "transm3e-tiny", **over):
    return build(name, **{**SMALL, **over})


def trainable(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def frozen(model) -> int:
    return sum(p.numel() for p in model.parameters() if not p.requires_grad)


def clips(n: int = 2, views: int = 0, channels: int = 6, frames: int = 4, crop: int = 32):
    g = torch.Generator().manual_seed(n * 7 + views)
    shape = (n, views, channels, frames, crop, crop) if views else (n, channels, frames, crop, crop)
    return torch.rand(shape, generator=g)


def labels(n: int = 2) -> torch.Tensor:
    return (torch.rand(n, 20, generator=torch.Generator().manual_seed(1)) < 0.3).float()


def train_step(model, x, y, epoch: int = 10):
    """One optimiser step as the training loop takes it; returns (loss, output, state before)."""
    model.train()
    model.set_epoch(epoch)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    opt = make_optimizer(model, TrainConfig(lr=1e-2))
    out = model(x)
    loss = model.training_loss(out, y, torch.arange(len(y)), loss="bce").mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss, out, before


def mctf_count(k: int, c: int) -> int:
    """MCTF's parameters from the release's layer list: three LayerNorm([k, C]), six q/k/v
    projections without bias, six output projections, Linear(2C, C) + Linear(C, C), and the
    MLP (ratio 1) C -> C -> C."""
    return 3 * 2 * k * c + 6 * c * c + 6 * (c * c + c) + (2 * c * c + c) + (c * c + c) \
        + 2 * (c * c + c)


# ---------------------------------------------------------------------------------------------
# Parameter counts


def test_transm3e_s_has_the_papers_44_4m_trainable_parameters():
    """Counted as the paper counts: the main branch (MViTv2-S with 20 MCTs), 20 receivers and
    MCTF are trainable; the frozen RGB-difference sender is left out."""
    model = build("transm3e-s")
    assert mctf_count(20, 768) == 10_126_848
    assert trainable(model) == MCTS_S + 20 * 96 + mctf_count(20, 768) == 44_376_116
    assert round(trainable(model) / 1e6, 1) == get_baseline("transm3e-s").paper_params_m == 44.4
    assert frozen(model) == MCTS_S  # the sender: an MViTv2-S with 20 tokens, head included
    assert {n.split(".")[0] for n, p in model.named_parameters() if not p.requires_grad} == \
        {"sender"}
    # the main branch is the project's MViTv2-S with 20 class tokens, parameter for parameter
    assert sum(p.numel() for p in model.main.parameters()) == trainable(
        build("mvitv2-s", class_tokens=20))


def test_transm3e_b_and_the_journal_version_counts_and_notes():
    b = build("transm3e-b")
    assert trainable(b) == 50_901_044 + 19 * 96 + 20 * 96 + mctf_count(20, 768) == 61_031_636
    spec = get_baseline("transm3e-b")
    assert spec.paper_params_m == 60.7 and "61.03M" in spec.params_note
    gcn = build("transm3e-gcn")
    adapters = sum(p.numel() for p in gcn.adapters.parameters())
    assert adapters == (192 * 64 + 64) + (384 * 64 + 64) + 2 * (768 * 256 + 256) == 430_720
    assert trainable(gcn) == 44_376_116 + adapters == 44_806_836
    assert "55.4M" in get_baseline("transm3e-gcn").params_note


def test_late_fusion_counts_match_table_6():
    headless = 34_245_524 - (768 * 20 + 20)
    for name, head_in in (("late-fusion-sum", 768), ("late-fusion-mul", 768),
                          ("late-fusion-concat", 1536)):
        assert trainable(build(name)) == 2 * headless + head_in * 20 + 20, name
    assert round(trainable(build("late-fusion-sum")) / 1e6, 1) == 68.5  # Sec. 5.3: "68.5M"


def test_baselines_list_shows_the_trainable_counts(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # rich: one line per row
    code, out, _ = cli("baselines", "list")
    assert code == 0
    rows = {cells[1].strip(): line for line in out.splitlines()
            if len(cells := line.split("\u2502")) > 3}
    for name, count in (("transm3e-s", "44.38"), ("transm3e-b", "61.03"),
                        ("transm3e-gcn", "44.81"), ("late-fusion-sum", "68.48")):
        assert count in rows[name], rows.get(name)
    assert "-0.02" in rows["transm3e-s"] and "+0.33 *" in rows["transm3e-b"]


# ---------------------------------------------------------------------------------------------
# MCTKD


def kd_numpy(r: np.ndarray, s: np.ndarray, t: float, alpha: float, axis: str) -> np.ndarray:
    """KL(softmax(s / T) || softmax(r / T)) per element, summed, over k * C, times alpha T^2."""
    n, k, c = r.shape
    r, s = r.astype(np.float64) / t, s.astype(np.float64) / t
    if axis == "full":
        r, s, ax = r.reshape(n, 1, -1), s.reshape(n, 1, -1), 2
    else:
        ax = {"token": 1, "channel": 2}[axis]

    def log_softmax(x):
        x = x - x.max(axis=ax, keepdims=True)
        return x - np.log(np.exp(x).sum(axis=ax, keepdims=True))

    lr, ls = log_softmax(r), log_softmax(s)
    return (np.exp(ls) * (ls - lr)).reshape(n, -1).sum(1) / (k * c) * alpha * t * t


@pytest.mark.parametrize("axis", ["token", "channel", "full"])
def test_kd_loss_matches_numpy_and_the_releases_kldivloss(axis):
    from amge_eval.baselines.models.transm3e import mctkd_loss

    g = torch.Generator().manual_seed(3)
    r, s = torch.randn(4, 20, 12, generator=g) * 5, torch.randn(4, 20, 12, generator=g) * 5
    ours = mctkd_loss(r, s, 10.0, 0.9, axis)
    np.testing.assert_allclose(ours.numpy(), kd_numpy(r.numpy(), s.numpy(), 10.0, 0.9, axis),
                               rtol=1e-4, atol=1e-9)
    # the release: nn.KLDivLoss()(log_softmax(r / T), softmax(s / T)) * alpha * T * T, with
    # torch's default element-wise mean over the whole batch
    flat = axis == "full"
    rr, ss = (r.reshape(4, -1), s.reshape(4, -1)) if flat else (r, s)
    dim = 1 if flat or axis == "token" else 2
    with pytest.warns(UserWarning, match="reduction: 'mean'"):
        release = torch.nn.KLDivLoss()(torch.log_softmax(rr / 10, dim=dim),
                                       torch.softmax(ss / 10, dim=dim)) * 0.9 * 100
    torch.testing.assert_close(ours.mean(), release, rtol=1e-5, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), temperature=st.floats(0.5, 20.0),
       scale=st.floats(0.25, 4.0), axis=st.sampled_from(["token", "channel", "full"]))
def test_kd_loss_properties(seed, temperature, scale, axis):
    from amge_eval.baselines.models.transm3e import mctkd_loss

    g = torch.Generator().manual_seed(seed)
    r, s = torch.randn(3, 6, 4, generator=g, dtype=torch.float64) * 3, \
        torch.randn(3, 6, 4, generator=g, dtype=torch.float64) * 3
    kd = mctkd_loss(r, s, temperature, 1.0, axis)
    assert (kd >= -1e-6).all()
    # zero when the receivers equal the sender's tokens
    assert mctkd_loss(s, s, temperature, 1.0, axis).abs().max() < 1e-6
    # temperature scaling: the KL depends on x / T only, and the loss carries T^2
    scaled = mctkd_loss(r * scale, s * scale, temperature * scale, 1.0, axis)
    torch.testing.assert_close(scaled / (temperature * scale) ** 2, kd / temperature ** 2,
                               rtol=1e-3, atol=1e-9)
    # alpha is a factor
    torch.testing.assert_close(mctkd_loss(r, s, temperature, 0.25, axis), 0.25 * kd)
    # the softmax axis: a shift constant along it changes nothing; token-wise, a per-channel
    # shift of both is constant along the tokens; channel-wise, a per-token shift
    per_channel = torch.randn(1, 1, 4, generator=g, dtype=torch.float64) * 5
    per_token = torch.randn(1, 6, 1, generator=g, dtype=torch.float64) * 5
    if axis in ("token", "full"):
        shift = per_channel if axis == "token" else per_channel.mean()
        torch.testing.assert_close(mctkd_loss(r + shift, s, temperature, 1.0, axis), kd)
    if axis == "channel":
        torch.testing.assert_close(mctkd_loss(r + per_token, s, temperature, 1.0, axis), kd)


def test_the_softmax_axis_changes_the_loss():
    from amge_eval.baselines.models.transm3e import mctkd_loss

    g = torch.Generator().manual_seed(5)
    r, s = torch.randn(2, 5, 7, generator=g), torch.randn(2, 5, 7, generator=g)
    values = {a: float(mctkd_loss(r, s, 1.0, 1.0, a).sum()) for a in ("token", "channel", "full")}
    assert len({round(v, 6) for v in values.values()}) == 3
    with pytest.raises(ValueError, match="one shape"):
        mctkd_loss(r, s[:, :4], 1.0, 1.0, "token")


def test_kd_positions():
    from amge_eval.baselines.models.mvit import MViTConfig
    from amge_eval.baselines.models.transm3e import kd_positions

    s = MViTConfig()
    assert kd_positions("dense", s) == list(range(16))
    assert kd_positions("sparse", s) == [1, 3, 14, 15]  # after each pooling block and the last
    assert kd_positions("final", s) == [15] and kd_positions("patch_embed", s) == [-1]
    assert kd_positions("none", s) == []
    model = build("transm3e-s")
    assert model.positions == list(range(16))
    assert [model.sender_position(p) for p in model.positions] == list(range(16))


def test_the_kd_loss_reaches_the_receivers_only_in_the_second_stage():
    model = small(mct_epochs=3, fusion="none")
    x = clips()
    model.train()
    model.set_epoch(2)
    first = model(x)
    assert first.kd.abs().max() == 0
    model.set_epoch(3)
    second = model(x)
    assert (second.kd > 0).all()
    second.kd.sum().backward()
    assert model.receivers.grad is not None and model.receivers.grad.abs().sum() > 0
    assert model.main.head.weight.grad is None  # the KD term does not reach the head


# ---------------------------------------------------------------------------------------------
# MCTF


def mctf_numpy(mod, r: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The three-dataset paper's Eqs. (2)-(7) in float64 from MCTF's weights, one head, all six
    terms: cls_a = (cls_m + cls_r) / 2, cls_f = cls_a + CLS_f(LN(cls_r), LN(cls_m)),
    cls_f := cls_a + M(LN(cls_f)), then the token mean."""
    w = {n: p.detach().double().numpy() for n, p in mod.named_parameters()}

    def lin(x, name, bias=True):
        return x @ w[f"{name}.weight"].T + (w[f"{name}.bias"] if bias else 0)

    def ln(x, name, eps):  # LayerNorm over (tokens, channels) jointly
        mu = x.mean(axis=(-2, -1), keepdims=True)
        var = x.var(axis=(-2, -1), keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[f"{name}.weight"] + w[f"{name}.bias"]

    def att(q, k, v):
        a = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
        a = np.exp(a - a.max(-1, keepdims=True))
        return (a / a.sum(-1, keepdims=True)) @ v

    from scipy.special import erf

    rn, mn = ln(r, "norm_r", mod.norm_r.eps), ln(m, "norm_m", mod.norm_m.eps)
    q_r, k_r, v_r = (lin(rn, f"attn.{p}_r", bias=False) for p in "qkv")
    q_m, k_m, v_m = (lin(mn, f"attn.{p}_m", bias=False) for p in "qkv")
    # Eq. (3), (4): each set sums its self term and the two cross terms, with its own values
    a_m = (lin(att(q_m, k_m, v_m), "attn.out.m_self") + lin(att(q_m, k_r, v_m), "attn.out.m_qm_kr")
           + lin(att(q_r, k_m, v_m), "attn.out.m_qr_km"))
    a_r = (lin(att(q_r, k_r, v_r), "attn.out.r_self") + lin(att(q_r, k_m, v_r), "attn.out.r_qr_km")
           + lin(att(q_m, k_r, v_r), "attn.out.r_qm_kr"))
    fused = lin(np.maximum(lin(np.concatenate([a_r, a_m], -1), "attn.fuse.0"), 0), "attn.fuse.2")
    cls_a = (r + m) / 2
    f = cls_a + fused
    h = lin(ln(f, "norm2", mod.norm2.eps), "mlp.fc1")
    h = 0.5 * h * (1 + erf(h / np.sqrt(2)))  # exact GELU
    return (cls_a + lin(h, "mlp.fc2")).mean(-2)


def test_mctf_computes_the_papers_equations():
    from amge_eval.baselines.models.transm3e import MCTF

    torch.manual_seed(0)
    mod = MCTF(tokens=6, dim=16, heads=1, terms=("self", "qm_kr", "qr_km"), mlp_ratio=1.0,
               drop_path=0.3).double().eval()
    for p in mod.parameters():  # away from the initial ones and zeros of the norms
        torch.nn.init.normal_(p, std=0.3)
    g = torch.Generator().manual_seed(1)
    r, m = torch.randn(3, 6, 16, generator=g, dtype=torch.float64), \
        torch.randn(3, 6, 16, generator=g, dtype=torch.float64)
    with torch.no_grad():
        out = mod(r, m)
    assert out.shape == (3, 16)
    np.testing.assert_allclose(out.numpy(), mctf_numpy(mod, r.numpy(), m.numpy()), atol=1e-10)
    # receivers and MCTs play different roles: swapping them changes the output
    with torch.no_grad():
        assert not torch.allclose(mod(m, r), out)


@pytest.mark.parametrize("fusion", ["mctf", "sum", "concat", "mul", "self_attention",
                                    "cross_attention"])
@pytest.mark.parametrize("heads", [1, 3, 5])
def test_fusion_output_shapes(fusion, heads):
    from amge_eval.baselines.models.transm3e import build_fusion

    cfg = get_baseline("transm3e-tiny").config(class_tokens=7, fusion=fusion,
                                               fusion_heads=heads)
    mod = build_fusion(cfg, 32)  # 32 channels: 5 heads of 6 (30 inner channels)
    out = mod(torch.randn(4, 7, 32), torch.randn(4, 7, 32))
    assert out.shape == (4, 32) and torch.isfinite(out).all()
    simple = {"sum": lambda r, m: (r + m).mean(1), "mul": lambda r, m: (r * m).mean(1)}
    if fusion in simple:
        r, m = torch.randn(2, 7, 32), torch.randn(2, 7, 32)
        torch.testing.assert_close(mod(r, m), simple[fusion](r, m))


# ---------------------------------------------------------------------------------------------
# Every switch takes a training step

CASES = {1: ["self"], 2: ["qm_kr"], 3: ["qr_km"], 4: ["self", "qm_kr"], 5: ["self", "qr_km"],
         6: ["qm_kr", "qr_km"], 7: ["self", "qm_kr", "qr_km"]}  # supplementary Table 11
SWITCHES = (
    [{"kd": v} for v in ("dense", "sparse", "final", "patch_embed", "none")]
    + [{"kd_axis": v} for v in ("token", "channel", "full")]
    + [{"kd_tokens": "classification", "fusion": "none"}]
    + [{"fusion": v} for v in ("mctf", "sum", "concat", "mul", "self_attention",
                               "cross_attention", "none")]
    + [{"fusion_heads": h} for h in (2, 3, 4, 5)]
    + [{"fusion": "self_attention", "fusion_heads": 5}]
    + [{"mctf_terms": terms} for terms in CASES.values()]
    + [{"class_tokens": k} for k in (1, 10, 30)] + [{"class_tokens": 1, "kd_axis": "channel"}]
    + [{"view_pairing": v} for v in ("own", "half", "zero")]
    + [{"kd_temperature": 2.0, "kd_alpha": 0.5, "kd_weight": 0.0},
       {"fusion_mlp_ratio": 2.0, "fusion_drop_path": 0.5}, {"kd": "none", "fusion": "none"}]
)


@pytest.mark.parametrize("switch", SWITCHES, ids=lambda s: ",".join(f"{k}={v}" for k, v in
                                                                     s.items()))
def test_every_switch_takes_a_training_step(switch):
    model = small(**switch)
    views = 2 if switch.get("view_pairing") in ("half", "own") else 0
    x, y = clips(2, views), labels()
    loss, out, before = train_step(model, x, y)
    assert torch.isfinite(loss)
    assert out.logits.shape == (2 * max(views, 1), 20)
    if model.sender is not None and model.k == 1 and model.cfg.kd_axis == "token":
        assert out.kd.abs().max() == 0  # a softmax over one token is 1: nothing to distil
    elif model.sender is not None:
        assert (out.kd > 0).all()
    else:
        assert out.kd.abs().max() == 0
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
        else:
            assert p.grad is None, name
    changed = {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}
    assert changed and not any(k.startswith("sender.") for k in changed)
    model.eval()
    with torch.no_grad():
        assert model(clips(3, channels=3)).shape == (3, 20)


def test_the_journal_version_takes_a_training_step():
    model = small("transm3e-gcn-tiny")
    video, skeleton = clips(2, channels=3), torch.randn(2, 3, 16, 17, 1)
    loss, out, before = train_step(model, (video, skeleton), labels())
    assert torch.isfinite(loss) and (out.kd > 0).all()
    assert model.settings()["sender_positions"] == [4, 9]  # blocks 1, 3 of 4 -> GCN 4, 9 of 10
    assert set(model.adapters) == {"1", "3"}  # 64 -> 128 and 128 -> 256 channels
    for name, p in model.named_parameters():
        assert (p.grad is not None) == p.requires_grad, name
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()
               if k.startswith("sender."))
    # two views share the clip's skeletons
    loss, out, _ = train_step(model, (clips(2, 2, channels=3), skeleton), labels())
    assert out.logits.shape == (4, 20)
    model.eval()
    with torch.no_grad():
        a = model((video, skeleton))
        b = model(video)
    torch.testing.assert_close(a, b)  # test time reads the clips only
    with pytest.raises(AmgeError, match="pairs") as ei:
        model.train()(video)
    assert ei.value.code == "E821"


def test_view_pairing_feeds_the_sender_what_table_13_says():
    seen = []
    for pairing in ("own", "half", "zero"):
        model = small(view_pairing=pairing)
        model.set_epoch(10)  # the second stage: the sender runs
        real = model.sender.tokens
        model.sender.tokens = lambda x, pos, real=real: seen.append(x.clone()) or real(x, pos)
        x = clips(3, 2)
        model.train()
        model(x)
        diff = x[:, :, 3:]
        got = seen[-1].view(3, 2, 3, 4, 32, 32)
        if pairing == "own":
            torch.testing.assert_close(got, diff)
        elif pairing == "half":  # view 1's RGB learns from view 2's difference, view 2 from zero
            torch.testing.assert_close(got[:, 0], diff[:, 1])
            assert got[:, 1].abs().max() == 0
        else:
            assert got.abs().max() == 0
    with pytest.raises(AmgeError, match="train_views = 1") as ei:
        small(view_pairing="half").check_data_settings({"train_views": 1})
    assert ei.value.code == "E803"


def test_the_first_stage_is_mvit_with_k_class_tokens():
    """Before mct_epochs the main branch is the project's MViTv2 with k class tokens (no
    receivers in the sequence, the head on the MCTs' mean): same weights, same logits."""
    model = small(mct_epochs=5, dropout=0.0).eval()
    mvit = build("mvitv2-s-tiny", **{**SMALL, "class_tokens": 5}).eval()
    mvit.load_state_dict({k[5:]: v for k, v in model.state_dict().items() if k.startswith("main.")})
    x = clips(2, channels=3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), mvit(x))
        model.set_epoch(5)
        assert not torch.allclose(model(x), mvit(x))  # receivers and MCTF from now on
    assert model.receivers.abs().max() == 0  # receivers start at zero, MCTs do not
    assert model.main.cls_tokens.abs().max() > 0


def test_explicit_token_count_in_a_block_is_the_default_one():
    from amge_eval.baselines.models.mvit import block_plan

    net = build("mvitv2-s-tiny", **{**SMALL, "class_tokens": 3}).eval()
    x = torch.randn(2, 3 + 2 * 8 * 8, 32)
    with torch.no_grad():
        a, thw = net.blocks[1](x, (2, 8, 8))
        b, _ = net.blocks[1](x, (2, 8, 8), 3)
        c, _ = net.blocks[1](torch.cat([torch.randn(2, 2, 32), x], 1), (2, 8, 8), 5)
    torch.testing.assert_close(a, b)
    assert thw == (2, 4, 4) and c.shape == (2, 5 + 2 * 4 * 4, block_plan(net.cfg)[1].dim_out)


# ---------------------------------------------------------------------------------------------
# The sender: frozen, never run at test time, handed on as a file


def test_the_sender_is_frozen_in_training():
    model = small()
    assert all(not p.requires_grad for p in model.sender.parameters())
    model.train()
    assert not model.sender.training  # no dropout or drop-path in the teacher
    assert all(p.requires_grad for n, p in model.named_parameters() if not n.startswith("sender"))
    opt_params = {id(p) for g in make_optimizer(model, TrainConfig()).param_groups
                  for p in g["params"]}
    assert not opt_params & {id(p) for p in model.sender.parameters()}


def test_the_sender_is_not_run_at_test_time():
    model = small()

    def boom(*_):
        raise AssertionError("the sender ran")

    model.sender.forward = boom
    model.sender.tokens = boom
    model.eval()
    x = clips(2, channels=6)
    with torch.no_grad():
        rgb_only = model(x[:, :3])
        torch.testing.assert_close(model(x), rgb_only)  # a difference given at test is unused
        x[:, 3:] = torch.rand_like(x[:, 3:])
        torch.testing.assert_close(model(x), rgb_only)
    assert model.settings()["test_inputs"].startswith("rgb")


def _sender_file(tmp_path, model_cfg: dict, name="transm3e-tiny"):
    from amge_eval.baselines.runner import _write_sender

    plan = get_baseline(name).sender(model_cfg)
    torch.manual_seed(5)
    sender = plan.build()
    path = tmp_path / "sender.pt"
    _write_sender(path, sender, get_baseline(name), plan, {"seed": 0})
    return path, sender


def test_a_sender_file_loads_and_a_wrong_one_is_refused(tmp_path):
    cfg = config("transm3e-tiny", **SMALL)
    path, sender = _sender_file(tmp_path, cfg)
    model = small()
    info = model.load_sender(path)
    for k, v in sender.state_dict().items():
        torch.testing.assert_close(model.sender.state_dict()[k], v)
    assert info.file == "sender.pt" and len(info.sha256) == 64 and info.run == {"seed": 0}
    assert not any(p.requires_grad for p in model.sender.parameters())
    # another architecture (one more token): named in the message
    with pytest.raises(AmgeError, match="class_tokens") as ei:
        small(class_tokens=6).load_sender(path)
    assert ei.value.code == "E822"
    for bad, match in ((tmp_path / "missing.pt", "not found"),
                       (tmp_path / "junk.pt", "not readable"),
                       (tmp_path / "other.pt", "not a sender file")):
        if bad.name == "junk.pt":
            bad.write_bytes(b"not a torch file")
        if bad.name == "other.pt":
            torch.save({"model": {}}, bad)
        with pytest.raises(AmgeError, match=match) as ei:
            small().load_sender(bad)
        assert ei.value.code == "E822"
    # the same architecture, a tensor missing
    obj = torch.load(path, weights_only=True)
    obj["model"].pop(next(iter(obj["model"])))
    torch.save(obj, tmp_path / "cut.pt")
    with pytest.raises(AmgeError, match="does not fit") as ei:
        small().load_sender(tmp_path / "cut.pt")
    assert ei.value.code == "E822"
    with pytest.raises(AmgeError, match="no sender") as ei:
        small(kd="none", fusion="none").load_sender(path)
    assert ei.value.code == "E823"


@pytest.mark.parametrize("opts, code, match", [
    ({"baseline": "mvitv2-s-tiny", "stage": "sender"}, "E823", "has no sender stage"),
    ({"baseline": "transm3e-tiny", "stage": "first"}, "E823", "--stage must be one of"),
    ({"baseline": "transm3e-tiny", "stage": "main"}, "E822", "pass --sender FILE"),
    ({"baseline": "transm3e-tiny", "sender": "nowhere/sender.pt"}, "E822", "not found"),
    ({"baseline": "transm3e-tiny", "overrides": ("model.kd=none", "model.fusion=none"),
      "sender": "x.pt"}, "E823", "distils from no sender"),
    ({"baseline": "transm3e-tiny", "stage": "sender", "sender": "x.pt"}, "E823", "one of them"),
])
def test_stage_options_are_checked_before_any_work(tmp_path, opts, code, match):
    from amge_eval.baselines.runner import RunOptions, run_baseline

    out = tmp_path / "out"
    with pytest.raises(AmgeError, match=match) as ei:
        run_baseline(RunOptions(out=out, **opts))
    assert ei.value.code == code and not out.exists()


def test_switch_values_are_checked_when_the_config_loads():
    spec = get_baseline("transm3e-tiny")
    with pytest.raises(AmgeError, match=r"\[model\]\.kd: expected one of 'dense', 'sparse', "
                                        r"'final', 'patch_embed', 'none', got \"densee\". Did "
                                        r"you mean 'dense'") as ei:
        load_config(spec, None, ['model.kd="densee"'])
    assert ei.value.code == "E803"
    for override, field in (('model.fusion="concatenate"', "[model].fusion"),
                            ('model.kd_axis="tw"', "[model].kd_axis"),
                            ('model.mctf_terms=["self", "qm_kq"]', "[model].mctf_terms"),
                            ("model.fusion_heads=0", "[model].fusion_heads"),
                            ("model.kd_temperature=0.0", "[model].kd_temperature"),
                            ('model.view_pairing="50%"', "[model].view_pairing")):
        with pytest.raises(AmgeError, match=field.replace("[", r"\[").replace("]", r"\]")) as ei:
            load_config(spec, None, [override])
        assert ei.value.code == "E803"
    # rules across switches: when the model is built (and by the sender plan, before any data)
    for bad, match in (({"kd_tokens": "classification"}, "builds no receivers"),
                       ({"mctf_terms": []}, "at least one"),
                       ({"in_channels": 6}, "in_channels must be 3")):
        with pytest.raises(AmgeError, match=match) as ei:
            spec.sender(config("transm3e-tiny", **bad))
        assert ei.value.code == "E820"
    with pytest.raises(AmgeError, match="skeleton sender has no views") as ei:
        small("transm3e-gcn-tiny", view_pairing="half")
    assert ei.value.code == "E820"
    with pytest.raises(AmgeError, match=r"\[data\].skeleton: \[data.skeleton\].frames") as ei:
        load_config(get_baseline("transm3e-gcn-tiny"), None, ['data.skeleton={frames = "x"}'])
    assert ei.value.code == "E803"


def test_configs_are_complete_and_consistent():
    from dataclasses import fields

    for spec in list_baselines():
        if spec.module.rsplit(".", 1)[-1] not in ("transm3e", "transm3e_gcn", "late_fusion"):
            continue
        table = load_config(spec)
        assert set(table.model) == {f.name for f in fields(spec.config)}, spec.name
        assert table.model["frames"] == table.data["frames"], spec.name
        assert table.model["crop"] == table.data["crop"], spec.name
    assert load_config(get_baseline("transm3e-s")).model["class_tokens"] == 20
    # the paper configs: two stages (40 + 10, v2: 80 + 80) and the release's view pairing
    s, g = load_config(get_baseline("transm3e-s")), load_config(get_baseline("transm3e-gcn"))
    assert (s.train.epochs, s.model["mct_epochs"], s.model["view_pairing"]) == (50, 40, "half")
    assert s.data["train_views"] == 2 and s.model["kd"] == "dense"
    assert (g.train.epochs, g.model["mct_epochs"], g.model["kd"]) == (160, 80, "sparse")


# ---------------------------------------------------------------------------------------------
# Late fusion and HAR + lookup on video


@pytest.mark.parametrize("fusion", ["sum", "concat", "mul"])
def test_late_fusion_runs_both_branches(fusion):
    model = small("late-fusion-tiny", fusion=fusion, class_tokens=1)
    x, y = clips(2, channels=6), labels()
    out = model(x)
    assert out.shape == (2, 20)
    torch.nn.functional.binary_cross_entropy_with_logits(out, y).backward()
    assert model.rgb.patch_embed.weight.grad is not None
    assert model.diff.patch_embed.weight.grad is not None
    model.eval()
    with torch.no_grad():  # both inputs matter at test time
        x2 = x.clone()
        x2[:, 3:] = 0
        assert not torch.allclose(model(x), model(x2))
    with pytest.raises(AmgeError) as ei:
        model(x[:, :3])
    assert ei.value.code == "E821"


def test_har_lookup_on_a_video_backbone():
    from amge_eval.harness.labels import make_label_set

    acts = ["curl", "curl", "squat", "press"]
    table = np.eye(3, 20, dtype=np.uint8)
    y = table[[0, 0, 1, 2]]
    train = make_label_set("synth", "train", [f"c{i}" for i in range(4)], acts, [""] * 4, y)
    spec = get_baseline("har-lookup-video-tiny")
    opts = {**load_config(spec).model["backbone_options"], **SMALL, "class_tokens": 1}
    model = spec.builder(backbone_options=opts).fit_labels(train)
    logits = model(clips(4, channels=3))
    assert logits.shape == (4, 3)  # one per training activity
    loss = model.training_loss(logits, None, torch.arange(4), loss="bce")
    assert loss.shape == (4,) and torch.isfinite(loss).all()
    scores = model.muscle_scores(logits)
    assert scores.shape == (4, 20) and set(scores.unique().tolist()) <= {0.0, 1.0}
    assert get_baseline("har-lookup-video").paper_name == "HAR Lookup"


# ---------------------------------------------------------------------------------------------
# End to end on the embedded benchmark


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    from amge_eval.harness.synth.generate import generate_benchmark

    root = tmp_path_factory.mktemp("transm3e-bench")
    generate_benchmark(root / "labels", root / "data", clips_per_activity=3, video=True,
                       size=64, frames=(40, 48))
    return root


QUICK = ("model.frames=4", "data.frames=4", "model.crop=32", "data.crop=32",
         "data.test_short_side=32", "model.kv_stride=[1, 2, 2]", "model.class_tokens=4",
         "model.mct_epochs=1")


def _run(bench, tmp_path, name, **kw):
    from amge_eval.baselines.runner import RunOptions, run_baseline

    opts = RunOptions(baseline=name, labels_dir=bench / "labels", data_root=bench / "data",
                      checkpoint_dir=tmp_path / "ckpt", epochs=2, batch_size=8, resamples=100,
                      threads=2, overrides=QUICK, **kw)
    return run_baseline(opts)


@pytest.mark.slow
def test_transm3e_end_to_end_with_its_sender_stage(bench, tmp_path):
    """`run-baseline transm3e-tiny` (stage all): the sender is trained into <out>/sender and
    handed on; both runs are scored; the main run's record names the sender's file, sha256,
    architecture and run, every switch, and counts the sender as frozen."""
    from amge_eval.harness.fileio import sha256_file

    res = _run(bench, tmp_path, "transm3e-tiny", out=tmp_path / "run")
    rec = json.loads((tmp_path / "run" / "run.json").read_text())
    sender_rec = json.loads((tmp_path / "run" / "sender" / "run.json").read_text())
    assert rec["stage"] == "main" and sender_rec["stage"] == "sender"
    assert sender_rec["modalities"] == ["rgb_diff"] and rec["modalities"] == ["rgb"]
    assert sender_rec["data_settings"]["train"]["modality"] == "rgb_diff"
    assert rec["data_settings"]["train"]["modality"] == "rgb+rgb_diff"
    assert rec["data_settings"]["eval"]["modality"] == "rgb"
    sender_file = tmp_path / "run" / "sender" / "sender.pt"
    assert rec["sender"]["sha256"] == sha256_file(sender_file)
    assert rec["sender"]["run"]["run_key"] == sender_rec["train"]["run_key"]
    assert rec["sender"]["architecture"]["modality"] == "rgb_diff"
    assert rec["method"]["kd"] == "dense" and rec["method"]["class_tokens"] == 4
    assert rec["params_frozen"] == sender_rec["params"]
    assert rec["params"] == trainable(small(class_tokens=4))
    assert set(res.summary) >= {"val_a", "test_a"} and (tmp_path / "run" / "scores.json").is_file()
    assert rec["train"]["run_key"] != sender_rec["train"]["run_key"]
    # the main stage again from the same file, explicitly: the same run key (resumes)
    again = _run(bench, tmp_path, "transm3e-tiny", out=tmp_path / "again", stage="main",
                 sender=sender_file)
    assert again.record.train.run_key == rec["train"]["run_key"]
    assert again.record.train.resumed_from_epoch == 2
    # entered on a board: RGB at test, RGB and its difference in training, trainable params
    from amge_eval.leaderboard.submit import submit

    entry = submit(tmp_path / "run", "synth", "transm3e-tiny", submissions_dir=tmp_path / "store",
                   labels_dir=bench / "labels", replace=True, resamples=100).entry
    assert list(entry.meta.modalities_train) == ["rgb", "rgb_diff"]
    assert list(entry.meta.modalities_test) == ["rgb"]
    assert entry.meta.params_m == round(rec["params"] / 1e6, 3)


@pytest.mark.slow
def test_the_journal_version_end_to_end(bench, tmp_path):
    """`run-baseline transm3e-gcn-tiny`: the HD-GCN sender trains on skeletons, the main stage on
    paired clips and skeletons, the predictions on clips only."""
    quick = ("model.sender_options={layout = \"coco17\", channels = [16, 16, 32, 32], "
             "strides = [1, 2, 1, 2]}",)
    from amge_eval.baselines.runner import RunOptions, run_baseline

    opts = RunOptions(baseline="transm3e-gcn-tiny", labels_dir=bench / "labels",
                      data_root=bench / "data", checkpoint_dir=tmp_path / "ckpt", epochs=1,
                      batch_size=8, resamples=100, threads=2, overrides=QUICK + quick,
                      out=tmp_path / "gcn")
    run_baseline(opts)
    rec = json.loads((tmp_path / "gcn" / "run.json").read_text())
    sender_rec = json.loads((tmp_path / "gcn" / "sender" / "run.json").read_text())
    assert sender_rec["family"] == "skeleton" and sender_rec["modalities"] == ["skeleton"]
    assert rec["data_settings"]["train"]["kind"] == "video+skeleton"
    assert rec["data_settings"]["train"]["modality"] == "rgb+skeleton"
    assert rec["data_settings"]["eval"]["kind"] == "video"
    assert rec["sender"]["architecture"]["backbone"] == "hdgcn"
    assert rec["method"]["kd"] == "sparse" and rec["method"]["sender_positions"] == [1, 3]


def test_the_paired_dataset(bench):
    from amge_eval.baselines.data.datasets import collate
    from amge_eval.baselines.inputs import build_dataset
    from amge_eval.harness.labels import read_labels

    train = read_labels(bench / "labels", "synth", "train")
    data = {**load_config(get_baseline("transm3e-gcn-tiny")).data, "crop": 32,
            "test_short_side": 32}
    ds = build_dataset("rgb+skeleton", train, bench / "data", data, train=True, seed=0)
    assert len(ds) == len(train) and ds.sample_ids == train.sample_ids.tolist()
    batch = collate([ds[i] for i in range(3)])
    video, skeleton = batch.x
    assert video.shape == (3, 3, 8, 32, 32) and skeleton.shape == (3, 3, 32, 17, 1)
    assert ds.settings()["skeleton"]["frames"] == 32
    assert ds.settings()["modality"] == "rgb+skeleton"  # a board entry's modalities_train
    test = build_dataset("rgb", read_labels(bench / "labels", "synth", "test_seen"),
                         bench / "data", data, train=False, seed=0)
    assert test[0][0].shape == (3, 8, 32, 32)  # the [data.skeleton] table is not the video's


def test_stage_options_on_the_command_line(cli, tmp_path):
    code, out, err = cli("run-baseline", "mvitv2-s-tiny", "--stage", "sender", "--out",
                         tmp_path / "o")
    assert code != 0 and "E823" in out + err and "has no sender stage" in out + err
