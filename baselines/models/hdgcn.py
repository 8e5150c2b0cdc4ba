"""HD-GCN (Lee et al., ICCV 2023) as in the official Jho-Yonsei/HD-GCN code, with a muscle head.

Ten blocks of [hierarchically decomposed graph conv -> multi-scale temporal conv (as CTR-GCN)]
plus residuals. The graph conv runs, for each hierarchy layer (a pair of adjacent centre-of-mass
groups), three 1x1-conv branches over learnable identity / outward / inward edges and one
EdgeConv branch over a k-nearest-neighbour graph of joint features; attention-guided hierarchy
aggregation (AHA) weighs the layers. Upstream only defines groups for NTU-25; the 2-D groups
here are bands of graph distance from the hips (docs/models-skeleton.md). One hierarchy layer
gives 0.84M parameters, the paper's 0.8M; the default.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from amge_eval.baselines.registry import register_baseline
from amge_eval.harness.skeletons import Layout

from . import graph
from ._gcn import (
    CHANNELS,
    STRIDES,
    DataNorm,
    SkeletonGCN,
    bn_init,
    check_common,
    init_classifier,
    init_convs_and_bns,
    make_config,
    propagate,
    resolve_layout,
)
from .ctrgcn import GCNBlock


@dataclass(frozen=True)
class HDGCNConfig:
    layout: str | Layout = "coco17"  # a key of harness.skeletons.LAYOUTS (or a Layout)
    in_channels: int = 3  # (x, y, confidence); 2 for (x, y)
    persons: int = 1  # person slots M (MuscleMap clips show one exerciser; official configs: 2)
    hierarchy_layers: int = 1  # L: 1 matches the paper's 0.8M; up to the layout's depth
    center: tuple[str, ...] = ()  # centre-of-mass joints; () = graph.HIERARCHY_CENTERS
    attention: bool = True  # AHA in blocks 2-10 (block 1 sums the layers, as official)
    dropout: float = 0.0  # before the classifier; official configs 0
    channels: tuple[int, ...] = CHANNELS  # output width of each block (multiples of 4)
    strides: tuple[int, ...] = STRIDES  # temporal stride of each block


def knn_edge_features(x: torch.Tensor, k: int) -> torch.Tensor:
    """(N, C, P) points -> (N, 2C, P, k): [neighbour - point, point] for each point's k nearest
    points in feature space (itself included)."""
    sq = (x * x).sum(1)  # (N, P)
    neg_dist = 2 * torch.einsum("ncp,ncq->npq", x, x) - sq.unsqueeze(2) - sq.unsqueeze(1)
    idx = neg_dist.topk(k, dim=-1).indices  # (N, P, k)
    pts = x.transpose(1, 2)  # (N, P, C)
    nbr = pts[torch.arange(x.shape[0], device=x.device)[:, None, None], idx]  # (N, P, k, C)
    centre = pts.unsqueeze(2).expand_as(nbr)
    return torch.cat([nbr - centre, centre], dim=3).permute(0, 3, 1, 2)  # (N, 2C, P, k)


class EdgeConv(nn.Module):
    """Dynamic-graph EdgeConv: 1x1 conv on k-NN edge features, max over the neighbours."""

    def __init__(self, channels: int, k: int):
        super().__init__()
        self.k = k
        self.conv = nn.Sequential(nn.Conv2d(2 * channels, channels, 1, bias=False),
                                  nn.BatchNorm2d(channels), nn.LeakyReLU(0.2, inplace=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, P) -> (N, C, P)
        return self.conv(knn_edge_features(x, min(self.k, x.shape[-1]))).max(-1).values


class AHA(nn.Module):
    """Attention-guided hierarchy aggregation: one sigmoid weight per (channel, layer)."""

    def __init__(self, channels: int, layer_joints: list[list[int]]):
        super().__init__()
        inter = channels // 4
        self.layer_joints = layer_joints  # joints of groups i and i+1, per layer i
        self.down = nn.Sequential(nn.Conv2d(channels, inter, 1), nn.BatchNorm2d(inter),
                                  nn.ReLU(inplace=True))
        self.edge = EdgeConv(inter, k=3)
        self.aggregate = nn.Conv1d(inter, channels, 1)

    def forward(self, frames: list[torch.Tensor], clip: list[torch.Tensor]
                ) -> tuple[torch.Tensor, torch.Tensor]:
        # Per hierarchy layer, the first C_f channels vary over time, frames[i] (N, C_f, T, V),
        # and the other C - C_f are the same in every frame, clip[i] (N, C - C_f, V). The
        # official code expands them to (N, C, L, T, V); the function is the same.
        # -> the attention-weighted sums over the L layers, (N, C_f, T, V) and (N, C - C_f, V)
        peak = torch.cat([torch.stack([f.max(2).values for f in frames], 2),  # (N, C_f, L, V)
                          torch.stack(clip, 2)], 1)  # (N, C, L, V): strongest frame per joint
        s = self.down(peak)  # (N, C/4, L, V)
        s = torch.stack([s[:, :, i, j].mean(-1) for i, j in enumerate(self.layer_joints)], 2)
        att = torch.sigmoid(self.aggregate(self.edge(s)))  # (N, C, L): layers as k-NN points
        att_f, att_c = att.split([frames[0].shape[1], clip[0].shape[1]], 1)
        out = frames[0] * att_f[:, :, 0, None, None]
        for i in range(1, len(frames)):
            out += frames[i] * att_f[:, :, i, None, None]  # in place: the products stay
        return out, (torch.stack(clip, 2) * att_c.unsqueeze(3)).sum(2)


class HDGConv(nn.Module):
    def __init__(self, c_in: int, c_out: int, hierarchy: torch.Tensor,
                 layer_joints: list[list[int]], attention: bool):
        super().__init__()
        n_layers, n_subsets = hierarchy.shape[:2]
        inter = c_out // (n_subsets + 1)
        self.hierarchy = nn.Parameter(hierarchy.clone())  # (L, 3, V, V), [.., target, source]
        self.down_convs = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c_in, inter, 1), nn.BatchNorm2d(inter),
                          nn.ReLU(inplace=True))
            for _ in range(n_layers))
        self.subset_convs = nn.ModuleList(
            nn.ModuleList(nn.Sequential(nn.Conv2d(inter, inter, 1), nn.BatchNorm2d(inter))
                          for _ in range(n_subsets))
            for _ in range(n_layers))
        self.edge_convs = nn.ModuleList(EdgeConv(inter, k=5) for _ in range(n_layers))
        self.aha = AHA(c_out, layer_joints) if attention else None
        self.bn = nn.BatchNorm2d(c_out)
        self.down = (nn.Identity() if c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out)))
        init_convs_and_bns(self)
        bn_init(self.bn, 1e-6)  # the block starts close to its residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_in, T, V) -> (N, C_out, T, V)
        frames, clip = [], []  # per hierarchy layer
        for a, down, convs, edge in zip(self.hierarchy, self.down_convs, self.subset_convs,
                                        self.edge_convs):
            h = down(x)  # (N, C_out/4, T, V)
            # the three subsets, (N, 3 C_out/4, T, V), and the k-NN branch over joints, which
            # is the same for every frame, (N, C_out/4, V)
            frames.append(torch.cat([conv(propagate(h, a_j)) for conv, a_j in zip(convs, a)], 1))
            clip.append(edge(h.mean(2)))
        if self.aha is None:
            f, c = torch.stack(frames).sum(0), torch.stack(clip).sum(0)
        else:
            f, c = self.aha(frames, clip)
        out = torch.cat([f, c.unsqueeze(2).expand(-1, -1, f.shape[2], -1)], 1)  # (N, C_out, T, V)
        out = self.bn(out)
        out += self.down(x)
        return out.relu_()


class HDGCN(SkeletonGCN):
    name = "hdgcn"

    def __init__(self, cfg: HDGCNConfig, num_muscles: int = 20):
        super().__init__()
        check_common(cfg, "hdgcn", num_muscles, branches=4)
        self.cfg = cfg
        self.layout = resolve_layout(cfg.layout)
        center = graph.joint_indices(self.layout, cfg.center or graph.default_center(self.layout))
        self.groups = graph.hierarchy_groups(self.layout, center, cfg.hierarchy_layers)
        hierarchy = torch.tensor(graph.hdgcn_hierarchy(self.groups, self.layout.num_joints),
                                 dtype=torch.float32)
        layer_joints = [[*g, *h] for g, h in zip(self.groups[:-1], self.groups[1:])]
        self.data_norm = DataNorm(cfg.in_channels, self.layout.num_joints, cfg.persons)
        widths = (cfg.in_channels, *cfg.channels)
        self.blocks = nn.ModuleList(
            GCNBlock(HDGConv(widths[i], widths[i + 1], hierarchy, layer_joints,
                             cfg.attention and i > 0), widths[i], widths[i + 1], s, first=i == 0)
            for i, s in enumerate(cfg.strides))
        self.drop = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(widths[-1], num_muscles)
        init_classifier(self.fc, num_muscles)



@register_baseline("hdgcn", family="skeleton", modalities=("skeleton",),
                   config=HDGCNConfig, paper_name="HD-GCN",
                   paper_params_m=0.8)
def build_hdgcn(num_muscles: int = 20, **model_cfg) -> HDGCN:
    """HD-GCN on 2-D skeletons with a hip-centred hierarchy (one layer by default: 0.8M)."""
    return HDGCN(make_config(HDGCNConfig, model_cfg, "hdgcn"), num_muscles)
