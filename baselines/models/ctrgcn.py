"""CTR-GCN (Chen et al., ICCV 2021) as in the official Uason-Chen/CTR-GCN code, with a muscle head.

Ten blocks of [channel-wise topology refinement graph conv (three subsets: identity, inward,
outward) -> multi-scale temporal conv (kernel 5 at dilations 1 and 2, a max-pool branch, a 1x1
branch)] plus residuals, global average pooling, dropout and a linear classifier. About 1.43M
parameters with 20 outputs and 17 joints (paper: 1.4M). Notes: docs/models-skeleton.md.
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
    conv_init,
    init_classifier,
    init_convs_and_bns,
    make_config,
    resolve_layout,
)


@dataclass(frozen=True)
class CTRGCNConfig:
    layout: str | Layout = "coco17"  # a key of harness.skeletons.LAYOUTS (or a Layout)
    in_channels: int = 3  # (x, y, confidence); 2 for (x, y)
    persons: int = 1  # person slots M (MuscleMap clips show one exerciser; official configs: 2)
    dropout: float = 0.0  # before the classifier; official configs 0
    channels: tuple[int, ...] = CHANNELS  # output width of each block (multiples of 4)
    strides: tuple[int, ...] = STRIDES  # temporal stride of each block


class CTRGC(nn.Module):
    """One subset's channel-wise topology refinement graph conv."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        # Official: 8 relation channels for 3- or 9-channel input, else c_in // 8; inputs narrower
        # than 8 channels (e.g. (x, y)) also get 8, where c_in // 8 would be 0.
        rel = 8 if c_in in (3, 9) or c_in < 8 else c_in // 8
        self.conv1 = nn.Conv2d(c_in, rel, 1)
        self.conv2 = nn.Conv2d(c_in, rel, 1)
        self.conv3 = nn.Conv2d(c_in, c_out, 1)
        self.conv4 = nn.Conv2d(rel, c_out, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor, alpha: torch.Tensor,
                x_mean: torch.Tensor | None = None) -> torch.Tensor:
        # x: (N, C_in, T, V), a: (V, V) shared topology [target, source]; x_mean: x.mean(2,
        # keepdim=True), passed in when the caller shares it between subsets
        # conv1 and conv2 are 1x1 convs, so pooling over T before them is the same function as
        # the official conv-then-mean, at 1/T of the cost
        x_mean = x.mean(2, keepdim=True) if x_mean is None else x_mean  # (N, C_in, 1, V)
        q, k = self.conv1(x_mean).squeeze(2), self.conv2(x_mean).squeeze(2)  # (N, R, V) each
        rel = torch.tanh(q.unsqueeze(-1) - k.unsqueeze(-2))  # (N, R, V, V)
        adj = self.conv4(rel) * alpha + a  # (N, C_out, V, V): a topology per channel
        # out[n, c, t, u] = sum_v adj[n, c, u, v] x3[n, c, t, v]: one batched matrix product
        return self.conv3(x) @ adj.transpose(-1, -2)  # (N, C_out, T, V)


class CTRGCUnit(nn.Module):
    def __init__(self, c_in: int, c_out: int, subsets: torch.Tensor):
        super().__init__()
        self.topology = nn.Parameter(subsets.clone())  # (3, V, V), learned from the graph
        self.alpha = nn.Parameter(torch.zeros(1))
        self.convs = nn.ModuleList(CTRGC(c_in, c_out) for _ in range(subsets.shape[0]))
        self.bn = nn.BatchNorm2d(c_out)
        self.down = (nn.Identity() if c_in == c_out else
                     nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out)))
        init_convs_and_bns(self)
        bn_init(self.bn, 1e-6)  # the block starts close to its residual

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C_in, T, V) -> (N, C_out, T, V)
        x_mean = x.mean(2, keepdim=True)
        y = self.convs[0](x, self.topology[0], self.alpha, x_mean)
        for conv, a in zip(self.convs[1:], self.topology[1:]):
            y += conv(x, a, self.alpha, x_mean)  # in place: the product's backward doesn't need y
        y = self.bn(y)
        y += self.down(x)
        return y.relu_()


class TemporalConv(nn.Module):
    """Conv (kernel x 1) along time at a dilation, then BN."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1, dilation: int = 1):
        super().__init__()
        pad = (kernel + (kernel - 1) * (dilation - 1) - 1) // 2
        self.conv = nn.Conv2d(c_in, c_out, (kernel, 1), (stride, 1), (pad, 0), (dilation, 1))
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))  # (N, C_out, T/stride, V)


class MultiScaleTCN(nn.Module):
    """Four branches of width C/4 (kernel 5 at dilation 1 and 2, 3x1 max-pool, 1x1), concatenated."""

    def __init__(self, channels: int, stride: int, kernel: int = 5, dilations=(1, 2)):
        super().__init__()
        b = channels // (len(dilations) + 2)

        def squeeze():
            return [nn.Conv2d(channels, b, 1), nn.BatchNorm2d(b), nn.ReLU(inplace=True)]

        self.branches = nn.ModuleList(
            [nn.Sequential(*squeeze(), TemporalConv(b, b, kernel, stride, d)) for d in dilations]
            + [nn.Sequential(*squeeze(), nn.MaxPool2d((3, 1), (stride, 1), (1, 0)),
                             nn.BatchNorm2d(b)),
               nn.Sequential(nn.Conv2d(channels, b, 1, (stride, 1)), nn.BatchNorm2d(b))])
        for m in self.modules():  # the official weights_init
            if isinstance(m, nn.Conv2d):
                conv_init(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, V) -> (N, C, T/stride, V)
        return torch.cat([branch(x) for branch in self.branches], dim=1)


def residual_path(c_in: int, c_out: int, stride: int, first: bool) -> nn.Module | None:
    """None for the first block, identity where shapes agree, else 1x1 conv (strided) + BN."""
    if first:
        return None
    if c_in == c_out and stride == 1:
        return nn.Identity()
    path = TemporalConv(c_in, c_out, 1, stride)
    conv_init(path.conv)
    bn_init(path.bn, 1.0)
    return path


class GCNBlock(nn.Module):
    """One block of CTR-GCN and HD-GCN: a graph conv ``gcn`` (c_in -> c_out), the multi-scale
    temporal conv, and the residual path."""

    def __init__(self, gcn: nn.Module, c_in: int, c_out: int, stride: int, first: bool):
        super().__init__()
        self.gcn = gcn
        self.tcn = MultiScaleTCN(c_out, stride)
        self.residual = residual_path(c_in, c_out, stride, first)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N*M, C_in, T, V) -> (N*M, C_out, T/stride, V)
        y = self.tcn(self.gcn(x))
        if self.residual is not None:
            y += self.residual(x)  # in place: y is a fresh concatenation
        return y.relu_()


class CTRGCN(SkeletonGCN):
    name = "ctrgcn"

    def __init__(self, cfg: CTRGCNConfig, num_muscles: int = 20):
        super().__init__()
        check_common(cfg, "ctrgcn", num_muscles, branches=4)
        self.cfg = cfg
        self.layout = resolve_layout(cfg.layout)
        subsets = torch.tensor(graph.ctrgcn_subsets(self.layout), dtype=torch.float32)
        self.data_norm = DataNorm(cfg.in_channels, self.layout.num_joints, cfg.persons)
        widths = (cfg.in_channels, *cfg.channels)
        self.blocks = nn.ModuleList(
            GCNBlock(CTRGCUnit(widths[i], widths[i + 1], subsets), widths[i], widths[i + 1], s,
                     first=i == 0)
            for i, s in enumerate(cfg.strides))
        self.drop = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(widths[-1], num_muscles)
        init_classifier(self.fc, num_muscles)



@register_baseline("ctrgcn", family="skeleton", modalities=("skeleton",),
                   config=CTRGCNConfig, paper_name="CTR-GCN",
                   paper_params_m=1.4)
def build_ctrgcn(num_muscles: int = 20, **model_cfg) -> CTRGCN:
    """CTR-GCN on 2-D skeletons (x, y, confidence), as the official code."""
    return CTRGCN(make_config(CTRGCNConfig, model_cfg, "ctrgcn"), num_muscles)
