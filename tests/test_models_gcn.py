"""The skeleton GCN baselines (ST-GCN, CTR-GCN, HD-GCN) and their graphs.

Independent references: parameter counts derived by hand from the official layer definitions
(yysijie/st-gcn, Uason-Chen/CTR-GCN, Jho-Yonsei/HD-GCN) and the counts in REFERENCE.md / the
papers; the official NTU-25 hierarchy groups of HD-GCN; hop distances by matrix powers (the
official ST-GCN algorithm); k-nearest neighbours by brute force. Graph properties are checked on
random trees.
"""

from __future__ import annotations

import tomllib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from amge_eval.baselines.models import graph
from amge_eval.baselines.models._gcn import CHANNELS, STRIDES, DataNorm, propagate
from amge_eval.baselines.models.ctrgcn import CTRGC, CTRGCNConfig
from amge_eval.baselines.models.hdgcn import AHA, HDGCNConfig, HDGConv, knn_edge_features
from amge_eval.baselines.models.stgcn import STGCNBlock, STGCNConfig
from amge_eval.baselines.registry import get_baseline, list_baselines
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.skeletons import LAYOUTS, Layout

torch.set_num_threads(1)

# Every registered skeleton model that maps a clip to 20 muscle logits (the HAR + lookup wrapper,
# whose outputs are activities, has tests/test_har_lookup.py).
SKELETON = [s.name for s in list_baselines()
            if s.family == "skeleton" and not hasattr(s.builder(), "fit_labels")]
CONFIGS = {"stgcn": STGCNConfig, "ctrgcn": CTRGCNConfig, "hdgcn": HDGCNConfig}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def build(name, **kw):
    return get_baseline(name).builder(**kw)


def persons_of(model) -> int:
    return getattr(model.cfg, "persons", None) or 2  # ST-GCN takes any number of persons


def batch(model, n=2, t=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, model.cfg.in_channels, t, model.layout.num_joints, persons_of(model),
                       generator=g)


# ---------------------------------------------------------------------------------------------
# Parameter counts from the official layer definitions (written out by hand, not from our modules)

def _bn(c):
    return 2 * c


def _conv(c_in, c_out, k=1, bias=True):
    return c_in * c_out * k + (c_out if bias else 0)


def _blocks(c_in):
    widths = (c_in, *CHANNELS)
    return [(i, widths[i], widths[i + 1], s) for i, s in enumerate(STRIDES)]


def _unit_residual(i, c_in, c_out, s):
    return _conv(c_in, c_out) + _bn(c_out) if i > 0 and (c_in != c_out or s != 1) else 0


def official_stgcn(v, k, c=3, n=20, importance=True):
    # net/st_gcn.py: data_bn(C*V); st_gcn = ConvTemporalGraphical(1x1, out*K) + tcn(BN, 9x1 conv,
    # BN) + residual; one (K, V, V) edge-importance mask per block; fcn 1x1 conv.
    total = _bn(c * v) + _conv(256, n)
    for i, ci, co, s in _blocks(c):
        total += _conv(ci, co * k) + _bn(co) + _conv(co, co, 9) + _bn(co)
        total += _unit_residual(i, ci, co, s) + (k * v * v if importance else 0)
    return total


def _mstcn(c):
    b = c // 4
    dilated = _conv(c, b) + _bn(b) + _conv(b, b, 5) + _bn(b)
    return 2 * dilated + (_conv(c, b) + _bn(b) + _bn(b)) + (_conv(c, b) + _bn(b))


def official_ctrgcn(v, c=3, m=2, n=20):
    # model/ctrgcn.py: data_bn(M*V*C); unit_gcn = 3 CTRGC + PA (3, V, V) + alpha + bn + down;
    # MultiScale_TemporalConv(kernel 5, dilations 1, 2); unit_tcn residual; fc.
    total = _bn(m * v * c) + _conv(256, n)
    for i, ci, co, s in _blocks(c):
        rel = 8 if ci in (3, 9) or ci < 8 else ci // 8  # ci < 8 (ci = 2): ours, official breaks
        ctrgc = 2 * _conv(ci, rel) + _conv(ci, co) + _conv(rel, co)
        down = _conv(ci, co) + _bn(co) if ci != co else 0
        total += 3 * ctrgc + 3 * v * v + 1 + _bn(co) + down
        total += _mstcn(co) + _unit_residual(i, ci, co, s)
    return total


def official_hdgcn(v, layers, c=3, m=2, n=20, attention=True):
    # model/HDGCN.py: per hierarchy layer conv_down + 3 subset convs + EdgeConv(k=5); PA
    # (L, 3, V, V); AHA (conv_down, EdgeConv(k=3), Conv1d) from block 2; bn + down; MS-TCN.
    total = _bn(m * v * c) + _conv(256, n)
    for i, ci, co, s in _blocks(c):
        q = co // 4
        edge = _conv(2 * q, q, bias=False) + _bn(q)
        layer = _conv(ci, q) + _bn(q) + 3 * (_conv(q, q) + _bn(q)) + edge
        aha = _conv(co, q) + _bn(q) + edge + _conv(q, co) if attention and i > 0 else 0
        down = _conv(ci, co) + _bn(co) if ci != co else 0
        total += layers * (3 * v * v + layer) + aha + _bn(co) + down
        total += _mstcn(co) + _unit_residual(i, ci, co, s)
    return total


def chain_layout(v: int) -> Layout:
    """A path of v joints centred at one end: deep enough for any number of hierarchy layers."""
    return Layout(f"chain{v}", tuple(f"j{i}" for i in range(v)),
                  tuple((i, i - 1) for i in range(1, v)), 0)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("strategy,k", [("uniform", 1), ("distance", 2), ("spatial", 3)])
def test_stgcn_count_matches_official(layout, strategy, k):
    v = LAYOUTS[layout].num_joints
    assert n_params(build("stgcn", layout=layout, strategy=strategy)) == official_stgcn(v, k)
    assert n_params(build("stgcn", layout=layout, in_channels=2, edge_importance=False)) == \
        official_stgcn(v, 1, c=2, importance=False)


@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("c,m", [(3, 2), (3, 1), (2, 2)])
def test_ctrgcn_count_matches_official(layout, c, m):
    v = LAYOUTS[layout].num_joints
    model = build("ctrgcn", layout=layout, in_channels=c, persons=m)
    assert n_params(model) == official_ctrgcn(v, c, m)


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_hdgcn_count_matches_official_every_depth(layout):
    lay = LAYOUTS[layout]
    center = graph.joint_indices(lay, graph.default_center(lay))
    for layers in range(1, graph.max_hierarchy_layers(lay, center) + 1):
        model = build("hdgcn", layout=layout, hierarchy_layers=layers, persons=2)
        assert n_params(model) == official_hdgcn(lay.num_joints, layers)
    assert n_params(build("hdgcn", layout=layout, attention=False, in_channels=2, persons=1)) \
        == official_hdgcn(lay.num_joints, 1, c=2, m=1, attention=False)


def test_counts_match_paper_and_reference():
    # REFERENCE.md (official code, 20 classes) and the papers' #PM column; exact integers from
    # the official layer definitions above, COCO-17, two person slots as the official configs.
    stgcn_k1, stgcn_k3 = n_params(build("stgcn")), n_params(build("stgcn", strategy="spatial"))
    ctrgcn, hdgcn = n_params(build("ctrgcn", persons=2)), n_params(build("hdgcn", persons=2))
    assert (stgcn_k1, stgcn_k3, ctrgcn, hdgcn) == (2_635_268, 3_078_424, 1_426_216, 839_934)
    # The defaults keep one person slot: the data BatchNorm loses 2 * V * C = 102 parameters.
    assert n_params(build("ctrgcn")) == 1_426_216 - 102
    assert n_params(build("hdgcn")) == 839_934 - 102
    assert round(stgcn_k1 / 1e6, 2) == 2.64 and round(stgcn_k3 / 1e6, 2) == 3.08
    assert round(ctrgcn / 1e6, 2) == 1.43 and round(hdgcn / 1e6, 2) == 0.84
    assert round(n_params(build("stgcn", layout="openpose18")) / 1e6, 2) == 2.64  # the 18-joint
    assert round(n_params(build("ctrgcn", layout="openpose18")) / 1e6, 2) == 1.43
    # six hierarchy layers at 17 joints (no 2-D layout is that deep: a 17-joint chain)
    six = n_params(build("hdgcn", layout=chain_layout(17), center=("j0",), hierarchy_layers=6,
                         persons=2))
    assert six == official_hdgcn(17, 6) == 1_589_124 and round(six / 1e6, 2) == 1.59
    for name, count in [("stgcn", stgcn_k1), ("ctrgcn", ctrgcn), ("hdgcn", hdgcn)]:
        assert round(count / 1e6, 1) == get_baseline(name).paper_params_m


# ---------------------------------------------------------------------------------------------
# Smoke runs of every registered skeleton baseline on every layout

@pytest.mark.parametrize("layout", list(LAYOUTS))
@pytest.mark.parametrize("name", SKELETON)
def test_forward_backward_step(name, layout):
    torch.manual_seed(0)
    model = build(name, layout=layout)
    x = batch(model)  # (2, 3, 16, V, 2)
    target = (torch.rand(2, 20) < 0.3).float()
    loss_fn = torch.nn.functional.binary_cross_entropy_with_logits
    out = model(x)
    assert out.shape == (2, 20) and torch.isfinite(out).all()
    loss = loss_fn(out, target)
    loss.backward()
    for pname, p in model.named_parameters():
        assert p.grad is not None, pname
        assert torch.isfinite(p.grad).all(), pname
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    opt.step()
    assert loss_fn(model(x), target).item() != pytest.approx(loss.item(), abs=1e-7)


@pytest.mark.parametrize("name", SKELETON)
def test_deterministic_on_cpu(name):
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = build(name)
        outs.append(model(batch(model, seed=5)))
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    other = build(name)
    assert not torch.equal(outs[0], other(batch(other, seed=5)))


@pytest.mark.parametrize("name", SKELETON)
def test_two_channels_and_person_counts(name):
    torch.manual_seed(0)
    model = build(name, in_channels=2)
    assert model(batch(model, t=12)).shape == (2, 20)
    one = build(name, **({} if name == "stgcn" else {"persons": 1}))
    x = torch.randn(3, 3, 9, one.layout.num_joints, 1)
    assert one(x).shape == (3, 20)
    if name == "stgcn":  # any number of persons, statistics shared across them
        assert one(torch.randn(2, 3, 9, 17, 3)).shape == (2, 20)


@pytest.mark.parametrize("name", SKELETON)
def test_second_person_matters_and_empty_slot_is_harmless(name):
    torch.manual_seed(0)
    model = build(name, **({} if name == "stgcn" else {"persons": 2})).eval()
    x = batch(model)
    y = x.clone()
    y[..., 1] += 1.0
    with torch.no_grad():
        assert not torch.allclose(model(x), model(y))
        assert torch.isfinite(model(torch.cat([x[..., :1], torch.zeros_like(x[..., :1])], 4))).all()


@pytest.mark.parametrize("name", SKELETON)
def test_short_clips_and_eval_mode(name):
    torch.manual_seed(0)
    model = build(name)
    model.eval()
    with torch.no_grad():
        for t in (1, 3, 5):
            assert model(batch(model, n=1, t=t)).shape == (1, 20)


@pytest.mark.parametrize("name", SKELETON)
def test_person_slots_are_pooled_per_sample(name):
    # At initialisation in eval mode the data BatchNorm is the same for every slot, so swapping
    # person slots must not change any sample's logits; a pooling that mixed up the (N, M)
    # order would.
    torch.manual_seed(0)
    model = build(name).eval()
    x = batch(model, n=3)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model(x.flip(4)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("persons", [None, 2])
def test_data_norm_normalises_each_feature(persons):
    n, c, t, v, m = 4, 3, 6, 5, 2
    x = torch.randn(n, c, t, v, m) * torch.rand(1, c, 1, v, m) * 5 + torch.randn(1, c, 1, v, m)
    out = DataNorm(c, v, persons).train()(x)  # (N*M, C, T, V)
    assert out.shape == (n * m, c, t, v)
    xs = x.permute(0, 4, 1, 2, 3).double()  # (N, M, C, T, V)
    dims = (0, 1, 3) if persons is None else (0, 3)  # shared across persons or not
    mean, var = xs.mean(dims, keepdim=True), xs.var(dims, unbiased=False, keepdim=True)
    want = ((xs - mean) / torch.sqrt(var + 1e-5)).reshape(n * m, c, t, v)
    torch.testing.assert_close(out.double(), want, rtol=1e-4, atol=1e-4)


def test_stgcn_graph_conv_averages_neighbours():
    layout = LAYOUTS["openpose18"]
    a = torch.tensor(graph.stgcn_partitions(layout), dtype=torch.float32)
    block = STGCNBlock(4, 4, a, 1, 0.0, residual=True, edge_importance=True)
    with torch.no_grad():
        block.gcn.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        block.gcn.bias.zero_()
        ones = torch.ones(2, 4, 3, 18)
        torch.testing.assert_close(block.graph_conv(ones), ones)  # a mean keeps constants
        spike = torch.zeros(1, 4, 1, 18)
        spike[..., 3] = 1.0  # right elbow
        out = block.graph_conv(spike)[0, 0, 0]
    # the elbow's neighbours (shoulder 2, wrist 4, itself) each average over their own
    # neighbourhood: shoulder {neck, itself, elbow, hip}, elbow {2, 3, 4}, wrist {3, 4}
    want = torch.zeros(18)
    want[[2, 3, 4]] = torch.tensor([1 / 4, 1 / 3, 1 / 2])
    torch.testing.assert_close(out, want)


def test_ctrgc_and_propagate_send_messages_source_to_target():
    layout = LAYOUTS["coco17"]
    _, inward, _ = torch.tensor(graph.ctrgcn_subsets(layout), dtype=torch.float32)
    x = torch.randn(2, 4, 5, 17)
    want = torch.zeros_like(x)
    for child, parent in layout.edges:
        want[..., parent] += x[..., child]  # every child reports to its parent
    torch.testing.assert_close(propagate(x, inward), want)
    conv = CTRGC(4, 4)
    with torch.no_grad():
        conv.conv3.weight.copy_(torch.eye(4).view(4, 4, 1, 1))
        conv.conv3.bias.zero_()
        torch.testing.assert_close(conv(x, inward, torch.zeros(1)), want)


def ctrgc_as_official(conv, x, a, alpha):
    """CTRGC as the official CTR-GCN writes it: conv1/conv2 over every frame, then the mean
    over T; the per-channel topology applied with an einsum."""
    q, k = conv.conv1(x).mean(-2), conv.conv2(x).mean(-2)
    adj = conv.conv4(torch.tanh(q.unsqueeze(-1) - k.unsqueeze(-2))) * alpha + a
    return torch.einsum("ncuv,nctv->nctu", adj, conv.conv3(x))


@pytest.mark.parametrize("c_in,c_out", [(3, 8), (16, 16), (24, 8)])
def test_ctrgc_equals_the_official_form_with_equal_gradients(c_in, c_out):
    # Ours pools over time before the 1x1 relation convs (the same linear map); in float64 the
    # output and every gradient must be those of the official conv-then-pool form.
    torch.manual_seed(0)
    conv = CTRGC(c_in, c_out).double()
    a = torch.rand(7, 7, dtype=torch.float64, requires_grad=True)
    alpha = torch.tensor([0.7], dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, c_in, 5, 7, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(3, c_out, 5, 7, dtype=torch.float64)
    grads = []
    for fn in (lambda: conv(x, a, alpha), lambda: ctrgc_as_official(conv, x, a, alpha)):
        out = fn()
        inputs = [x, a, alpha, *conv.parameters()]
        grads.append((out, torch.autograd.grad((out * weights).sum(), inputs)))
    (ours, ours_g), (official, official_g) = grads
    torch.testing.assert_close(ours, official, rtol=1e-12, atol=1e-12)
    for g, h in zip(ours_g, official_g):
        torch.testing.assert_close(g, h, rtol=1e-12, atol=1e-12)


def aha_inputs(n=2, c_frames=6, c_clip=2, layers=2, t=5, v=6, dtype=torch.float64, seed=0):
    """Per layer, features that vary over time (N, C_f, T, V) and per-clip ones (N, C_c, V)."""
    g = torch.Generator().manual_seed(seed)
    frames = [torch.randn(n, c_frames, t, v, generator=g, dtype=dtype, requires_grad=True)
              for _ in range(layers)]
    clip = [torch.randn(n, c_clip, v, generator=g, dtype=dtype, requires_grad=True)
            for _ in range(layers)]
    return frames, clip


def aha_as_official(aha, frames, clip):
    """AHA as the official HD-GCN writes it: every channel expanded over time into one
    (N, C, L, T, V) tensor, the strongest frame per joint by ``max(...).values``."""
    t = frames[0].shape[2]
    x = torch.stack([torch.cat([f, c.unsqueeze(2).expand(-1, -1, t, -1)], 1)
                     for f, c in zip(frames, clip)], 2)  # (N, C, L, T, V)
    s = aha.down(x.max(3).values)  # (N, C/4, L, V)
    s = torch.stack([s[:, :, i, j].mean(-1) for i, j in enumerate(aha.layer_joints)], 2)
    att = torch.sigmoid(aha.aggregate(aha.edge(s)))  # (N, C, L)
    return (x * att[..., None, None]).sum(2)  # (N, C, T, V)


def test_aha_equals_the_official_expanded_form_with_equal_gradients():
    # Ours never expands the per-clip (EdgeConv) channels over time; the function and, in
    # float64, every gradient must be those of the official form.
    torch.manual_seed(0)
    aha = AHA(8, [[0, 1, 2], [1, 2, 3, 4]]).double()
    frames, clip = aha_inputs()
    f, c = aha(frames, clip)
    got = torch.cat([f, c.unsqueeze(2).expand(-1, -1, f.shape[2], -1)], 1)
    want = aha_as_official(aha, frames, clip)
    torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)
    weights = torch.randn(want.shape, generator=torch.Generator().manual_seed(1),
                          dtype=torch.float64)
    leaves = [*frames, *clip, *aha.parameters()]
    ours = torch.autograd.grad((got * weights).sum(), leaves)
    theirs = torch.autograd.grad((want * weights).sum(), leaves)
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-13)


def test_aha_gradients_match_finite_differences():
    # An independent check of the hand-split forward (max over frames, layer weighting):
    # float64 gradcheck against finite differences, in eval mode so BatchNorm is fixed.
    torch.manual_seed(0)
    aha = AHA(8, [[0, 1, 2], [1, 2, 3, 4]]).double().eval()
    frames, clip = aha_inputs(n=1, t=4, v=5)

    def run(*tensors):
        return aha(list(tensors[:2]), list(tensors[2:]))

    assert torch.autograd.gradcheck(run, (*frames, *clip), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("groups", [[[0], [1, 2, 3, 4]], [[0], [1, 2], [3, 4]]])
def test_hdgconv_gradients_match_finite_differences(groups):
    # The whole hierarchical graph conv of a small block, attention included, in float64:
    # gradients with respect to its input and the non-zero entries of its learnable hierarchy.
    # (A joint that a subset gives no edges has the same feature in every frame; the max over
    # frames is a tie there, not differentiable in that joint's zero entries.)
    torch.manual_seed(0)
    hierarchy = torch.tensor(graph.hdgcn_hierarchy(groups, 5))
    layer_joints = [[*g, *h] for g, h in zip(groups, groups[1:])]
    conv = HDGConv(4, 8, hierarchy, layer_joints, attention=True).double().eval()
    with torch.no_grad():  # BatchNorm at scale 1, so that the branches are not 1e-6 small
        conv.bn.weight.fill_(1.0)
    x = torch.randn(1, 4, 3, 5, dtype=torch.float64, requires_grad=True)
    edges = hierarchy != 0
    weights = hierarchy[edges].clone().requires_grad_()

    def run(inp, w):
        hier = torch.zeros_like(hierarchy).index_put((edges,), w)
        return torch.func.functional_call(conv, {"hierarchy": hier}, (inp,))

    assert torch.autograd.gradcheck(run, (x, weights), eps=1e-6, atol=1e-7)


def test_aha_summarises_each_layer_by_its_two_groups():
    torch.manual_seed(0)
    layer_joints = [[0, 1, 2], [1, 2, 3, 4]]  # groups [0], [1, 2], [3, 4]
    aha = AHA(8, layer_joints).eval()
    seen = []
    aha.edge.register_forward_hook(lambda mod, inp, out: seen.append(inp[0]))
    frames, clip = aha_inputs(dtype=torch.float32)  # joint 5 belongs to no layer
    f, c = aha(frames, clip)
    assert f.shape == (2, 6, 5, 6) and c.shape == (2, 2, 6)
    x = torch.stack([torch.cat([f, c.unsqueeze(2).expand(-1, -1, 5, -1)], 1)
                     for f, c in zip(frames, clip)], 2)  # (N, C, L, T, V)
    with torch.no_grad():
        pooled = aha.down(x.amax(3))  # (N, C/4, L, V)
    want = torch.stack([pooled[:, :, 0, [0, 1, 2]].mean(-1),
                        pooled[:, :, 1, [1, 2, 3, 4]].mean(-1)], dim=2)  # (N, C/4, L)
    torch.testing.assert_close(seen[0], want)
    model = build("hdgcn", hierarchy_layers=3)
    groups = graph.hierarchy_groups(LAYOUTS["coco17"], (11, 12), 3)
    assert model.blocks[0].gcn.aha is None  # the first block sums the layers, as official
    assert model.blocks[1].gcn.aha.layer_joints == [[*g, *h] for g, h in zip(groups, groups[1:])]
    moved = [f.detach().clone() for f in frames]
    for m in moved:
        m[..., 5] += 3.0  # a joint outside every layer changes the features, not the attention
    seen.clear()
    aha(moved, clip)
    torch.testing.assert_close(seen[0], want)


# ---------------------------------------------------------------------------------------------
# Configs and user errors

@pytest.mark.parametrize("name", SKELETON)
def test_config_file_model_table_lists_every_default(name):
    spec = get_baseline(name)
    table = tomllib.loads(spec.config_path.read_text())["model"]
    defaults = CONFIGS[name]()
    fields = set(defaults.__dataclass_fields__)
    assert set(table) == fields
    for key, value in table.items():
        want = getattr(defaults, key)
        assert (tuple(value) if isinstance(value, list) else value) == want, key
    assert n_params(spec.builder(**table)) == n_params(spec.builder())


@pytest.mark.parametrize("name", SKELETON)
def test_unknown_and_mistyped_keys_are_rejected(name):
    with pytest.raises(AmgeError, match="\\[model\\]: unknown key 'layuot'. Did you mean 'layout'") as e:
        build(name, layuot="coco17")
    assert e.value.code == "E803"  # the one config validator's code, whatever the table
    with pytest.raises(AmgeError, match='\\[model\\].in_channels: expected int, got "3"'):
        build(name, in_channels="3")
    with pytest.raises(AmgeError, match="'dropout' must be in \\[0, 1\\)|dropout must be in"):
        build(name, dropout=1.5)
    with pytest.raises(AmgeError, match="Unknown skeleton layout 'coco18'"):
        build(name, layout="coco18")
    with pytest.raises(AmgeError, match="one entry per block"):
        build(name, channels=[64, 128], strides=[1])


@pytest.mark.parametrize("name", SKELETON)
def test_input_shape_mismatch_is_an_actionable_error(name):
    model = build(name)
    x = batch(model)
    for bad in (x[:, :2], x[:, :, :, :16], x[..., 0]):
        with pytest.raises(AmgeError, match="expects skeletons of shape") as e:
            model(bad)
        assert e.value.code == "E821"
    if name != "stgcn":
        with pytest.raises(AmgeError, match=r"\(N, 3, T, 17, 1\)"):
            model(torch.cat([x, x[..., :1]], 4))


def test_stgcn_and_hdgcn_value_errors():
    with pytest.raises(AmgeError, match="strategy must be one of uniform, distance, spatial"):
        build("stgcn", strategy="geodesic")
    with pytest.raises(AmgeError, match="between 1 and 4 for layout coco17"):
        build("hdgcn", hierarchy_layers=6)
    with pytest.raises(AmgeError, match="must name joints of layout coco17"):
        build("hdgcn", center=["mid_hip"])
    with pytest.raises(AmgeError, match="multiple of 4"):
        build("ctrgcn", channels=[64, 66], strides=[1, 2])


# ---------------------------------------------------------------------------------------------
# Graphs

@st.composite
def trees(draw, max_joints=26):
    v = draw(st.integers(2, max_joints))
    order = draw(st.permutations(list(range(v))))
    edges = tuple((order[i], order[draw(st.integers(0, i - 1))]) for i in range(1, v))
    return Layout("tree", tuple(f"j{i}" for i in range(v)), edges, draw(st.integers(0, v - 1)))


def layouts():
    return st.one_of(st.sampled_from(list(LAYOUTS.values())), trees())


def support(a):
    return a != 0


def hops_by_matrix_powers(layout: Layout) -> np.ndarray:
    # the official ST-GCN get_hop_distance: reachability of (A + I)^d
    v = layout.num_joints
    a = np.eye(v)
    for i, j in layout.edges:
        a[i, j] = a[j, i] = 1
    dist = np.full((v, v), np.inf)
    for d in range(v - 1, -1, -1):
        dist[np.linalg.matrix_power(a, d) > 0] = d
    return dist


@settings(max_examples=60, deadline=None)
@given(layouts())
def test_hop_distance_matches_matrix_powers(layout):
    np.testing.assert_array_equal(graph.hop_distance(layout), hops_by_matrix_powers(layout))


@settings(max_examples=60, deadline=None)
@given(layouts(), st.integers(1, 3))
def test_stgcn_partitions_sum_to_uniform(layout, max_hop):
    uniform = graph.stgcn_partitions(layout, "uniform", max_hop)
    assert uniform.shape == (1, layout.num_joints, layout.num_joints)
    u = uniform[0]
    np.testing.assert_array_equal(support(u), support(u).T)  # undirected neighbourhoods
    np.testing.assert_allclose(u.sum(1), 1.0)  # each joint averages its neighbourhood
    np.testing.assert_array_equal(support(u), graph.hop_distance(layout) <= max_hop)
    for strategy, k in (("distance", max_hop + 1), ("spatial", 2 * max_hop + 1)):
        parts = graph.stgcn_partitions(layout, strategy, max_hop)
        assert parts.shape[0] == k
        np.testing.assert_allclose(parts.sum(0), u, atol=1e-12)
        assert (support(parts).sum(0) <= 1).all()  # disjoint
    spatial = graph.stgcn_partitions(layout, "spatial", 1)
    np.testing.assert_array_equal(support(spatial[0]), np.eye(layout.num_joints, dtype=bool))
    # in a tree every neighbour is either farther from the centre or nearer: the two hop-1
    # partitions are the two directions of each bone
    np.testing.assert_array_equal(support(spatial[1]), support(spatial[2]).T)
    d = graph.distances_from(layout, [layout.center])
    rows, cols = np.nonzero(spatial[2])
    assert (d[cols] < d[rows]).all()  # partition 3: the neighbour nearer the centre


def test_stgcn_spatial_on_openpose18_example():
    a = graph.stgcn_partitions(LAYOUTS["openpose18"], "spatial")
    # right elbow (3): neighbours right shoulder (2, nearer the neck) and right wrist (4)
    assert a[0, 3, 3] == pytest.approx(1 / 3)
    assert a[1, 3, 4] == pytest.approx(1 / 3) and a[1, 3, 2] == 0
    assert a[2, 3, 2] == pytest.approx(1 / 3) and a[2, 3, 4] == 0


@settings(max_examples=60, deadline=None)
@given(layouts())
def test_ctrgcn_subsets(layout):
    v = layout.num_joints
    eye, inward, outward = graph.ctrgcn_subsets(layout)
    np.testing.assert_array_equal(eye, np.eye(v))
    np.testing.assert_array_equal(support(inward), support(outward).T)
    bones = support(graph.stgcn_partitions(layout)[0]) & ~np.eye(v, dtype=bool)
    np.testing.assert_array_equal(support(inward) | support(outward), bones)
    for a in (inward, outward):
        col = a.sum(0)
        assert np.allclose(col[col != 0], 1.0)  # each source spreads a unit of message
    parent = {c: p for c, p in layout.edges}
    for c, p in parent.items():
        assert inward[p, c] == 1.0  # child -> parent carries the child's whole message


# The official HD-GCN groups (graph/tools.py get_groups, 1-based NTU-25 joints) for each of its
# three centres; the Kinect v2 tree joins hand tips and thumbs to the hands.
NTU25 = Layout("ntu25", tuple(f"j{i}" for i in range(1, 26)), tuple(
    (a - 1, b - 1) for a, b in [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6),
                                (8, 7), (9, 21), (10, 9), (11, 10), (12, 11), (13, 1), (14, 13),
                                (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
                                (22, 8), (23, 8), (24, 12), (25, 12)]), 20)
OFFICIAL_GROUPS = {
    2: [[2], [1, 21], [13, 17, 3, 5, 9], [14, 18, 4, 6, 10], [15, 19, 7, 11], [16, 20, 8, 12],
        [22, 23, 24, 25]],
    21: [[21], [2, 3, 5, 9], [4, 6, 10, 1], [7, 11, 13, 17], [8, 12, 14, 18],
         [22, 23, 24, 25, 15, 19], [16, 20]],
    1: [[1], [2, 13, 17], [14, 18, 21], [3, 5, 9, 15, 19], [4, 6, 10, 16, 20], [7, 11],
        [8, 12, 22, 23, 24, 25]],
}


@pytest.mark.parametrize("com", sorted(OFFICIAL_GROUPS))
def test_hierarchy_reproduces_official_ntu_groups(com):
    groups = graph.hierarchy_groups(NTU25, [com - 1], num_layers=6)
    assert [sorted(j + 1 for j in g) for g in groups] == [sorted(g) for g in OFFICIAL_GROUPS[com]]


def test_hierarchy_depth_of_2d_layouts():
    depth = {}
    for name, lay in LAYOUTS.items():
        center = graph.joint_indices(lay, graph.default_center(lay))
        depth[name] = graph.max_hierarchy_layers(lay, center)
        groups = graph.hierarchy_groups(lay, center)
        assert [lay.joints[j] for j in groups[0]] == sorted(graph.default_center(lay),
                                                           key=lay.joints.index)
    assert depth == {"coco17": 4, "openpose18": 5, "halpe26": 5}
    coco = LAYOUTS["coco17"]
    names = [[coco.joints[j] for j in g] for g in graph.hierarchy_groups(coco, (11, 12))]
    assert names[1] == ["left_shoulder", "right_shoulder", "left_knee", "right_knee"]
    assert names[-1] == ["left_ear", "right_ear"]


@settings(max_examples=60, deadline=None)
@given(trees(), st.data())
def test_hierarchy_groups_and_adjacency(layout, data):
    v = layout.num_joints
    center = data.draw(st.lists(st.integers(0, v - 1), min_size=1, max_size=3, unique=True))
    depth = graph.max_hierarchy_layers(layout, center)
    if depth == 0:
        with pytest.raises(AmgeError):
            graph.hierarchy_groups(layout, center)
        return
    layers = data.draw(st.integers(1, depth))
    groups = graph.hierarchy_groups(layout, center, layers)
    assert len(groups) == layers + 1
    assert sorted(j for g in groups for j in g) == list(range(v))  # a partition of the joints
    assert sorted(groups[0]) == sorted(center)
    hops = graph.hop_distance(layout)
    for d, g in enumerate(groups[1:], start=1):
        for j in g:  # every joint hangs on the group before it (the last group may skip)
            assert min(hops[j, i] for i in center) >= d
            if d < layers:
                assert any(hops[j, i] == 1 for i in groups[d - 1])
    a = graph.hdgcn_hierarchy(groups, v)
    assert a.shape == (layers, 3, v, v)
    for i, (inner, outer) in enumerate(zip(groups[:-1], groups[1:])):
        both = np.zeros(v, bool)
        both[list(inner) + list(outer)] = True
        np.testing.assert_array_equal(a[i, 0], np.diag(both.astype(float)))
        mask = np.zeros((v, v), bool)
        mask[np.ix_(outer, inner)] = True  # [target, source]: inner -> outer
        np.testing.assert_array_equal(support(a[i, 1]), mask)
        np.testing.assert_array_equal(support(a[i, 2]), mask.T)
        np.testing.assert_allclose(a[i, 1][:, list(inner)].sum(0), 1.0)
        np.testing.assert_allclose(a[i, 2][:, list(outer)].sum(0), 1.0)


def test_hdgcn_hierarchy_small_example():
    a = graph.hdgcn_hierarchy([[0], [1, 2]], 3)
    np.testing.assert_array_equal(a[0, 0], np.eye(3))
    np.testing.assert_array_equal(a[0, 1], [[0, 0, 0], [0.5, 0, 0], [0.5, 0, 0]])
    np.testing.assert_array_equal(a[0, 2], [[0, 1, 1], [0, 0, 0], [0, 0, 0]])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 3), st.integers(1, 6), st.integers(1, 12), st.data())
def test_knn_edge_features_match_brute_force(n, c, p, data):
    k = data.draw(st.integers(1, p))
    x = torch.randn(n, c, p, generator=torch.Generator().manual_seed(data.draw(st.integers(0, 99))))
    f = knn_edge_features(x, k)  # (N, 2C, P, k)
    assert f.shape == (n, 2 * c, p, k)
    torch.testing.assert_close(f[:, c:], x.unsqueeze(-1).expand(n, c, p, k))
    dist = torch.cdist(x.transpose(1, 2).double(), x.transpose(1, 2).double())  # (N, P, P)
    for b in range(n):
        for i in range(p):
            got = f[b, :c, i].T + x[b, :, i]  # (k, C) neighbour coordinates
            d_got = torch.cdist(got.double()[None], x[b, :, i].double()[None, None])[0, :, 0]
            kth = dist[b, i].sort().values[k - 1]
            # exactly the k nearest, up to float32 rounding of the expanded squared distance
            # |a|^2 + |b|^2 - 2ab (the official formula): points closer than that are ties
            scale = 1.0 + float((x[b] ** 2).sum(0).max())
            assert (d_got ** 2 <= kth ** 2 + 1e-5 * scale).all()
