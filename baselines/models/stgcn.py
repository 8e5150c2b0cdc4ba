"""ST-GCN (Yan et al., AAAI 2018) as in the official yysijie/st-gcn code, with a muscle head.

Ten blocks of [spatial graph conv over K partitions -> BN, ReLU, temporal conv 9x1, BN, dropout]
plus a residual, a learnable edge-importance mask per block, global average pooling and a linear
classifier. The paper's 2.6M model is the "uniform" (K=1) graph; the official Kinetics config is
"spatial" (K=3, 3.08M). Architecture notes and parameter counts: docs/models-skeleton.md.
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
    bad_value,
    check_common,
    make_config,
    resolve_layout,
)


@dataclass(frozen=True)
class STGCNConfig:
    layout: str | Layout = "coco17"  # a key of harness.skeletons.LAYOUTS (or a Layout)
    in_channels: int = 3  # (x, y, confidence); 2 for (x, y)
    strategy: str = "uniform"  # graph partitions: "uniform" (K=1, paper), "distance", "spatial"
    max_hop: int = 1  # neighbourhood radius of the graph conv
    edge_importance: bool = True  # learnable (K, V, V) mask on the graph per block
    dropout: float = 0.0  # in blocks 2-10 after the temporal conv; official Kinetics 0, NTU 0.5
    channels: tuple[int, ...] = CHANNELS  # output width of each block
    strides: tuple[int, ...] = STRIDES  # temporal stride of each block


class STGCNBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, adjacency: torch.Tensor, stride: int,
                 dropout: float, residual: bool, edge_importance: bool):
        super().__init__()
        k = adjacency.shape[0]
        self.register_buffer("adjacency", adjacency)  # (K, V, V), [partition, target, source]
        self.importance = nn.Parameter(torch.ones_like(adjacency)) if edge_importance else None
        self.gcn = nn.Conv2d(c_in, c_out * k, 1)  # one 1x1 conv per partition, stacked
        self.tcn = nn.Sequential(
            nn.BatchNorm2d(c_out), nn.ReLU(inplace=True),
            nn.Conv2d(c_out, c_out, (9, 1), (stride, 1), (4, 0)),
            nn.BatchNorm2d(c_out), nn.Dropout(dropout))
        if not residual:
            self.residual = None
        elif c_in == c_out and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(c_in, c_out, 1, (stride, 1)),
                                          nn.BatchNorm2d(c_out))

    def graph_conv(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N*M, C_in, T, V) -> (N*M, C_out, T, V), summed over the K partitions
        a = self.adjacency if self.importance is None else self.adjacency * self.importance
        y = self.gcn(x)  # (N*M, K*C_out, T, V)
        nm, _, t, v = y.shape
        return torch.einsum("nkctv,kuv->nctu", y.reshape(nm, a.shape[0], -1, t, v), a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N*M, C_in, T, V) -> (N*M, C_out, T/stride, V)
        y = self.tcn(self.graph_conv(x))
        if self.residual is not None:
            y += self.residual(x)  # in place: the BatchNorm and dropout backward don't need y
        return y.relu_()


class STGCN(SkeletonGCN):
    name = "stgcn"

    def __init__(self, cfg: STGCNConfig, num_muscles: int = 20):
        super().__init__()
        check_common(cfg, "stgcn", num_muscles)
        self.cfg = cfg
        self.layout = resolve_layout(cfg.layout)
        a = torch.tensor(graph.stgcn_partitions(self.layout, cfg.strategy, cfg.max_hop),
                         dtype=torch.float32)
        self.data_norm = DataNorm(cfg.in_channels, self.layout.num_joints, persons=None)
        widths = (cfg.in_channels, *cfg.channels)
        self.blocks = nn.ModuleList(
            STGCNBlock(widths[i], widths[i + 1], a, s, 0.0 if i == 0 else cfg.dropout,
                       residual=i > 0, edge_importance=cfg.edge_importance)
            for i, s in enumerate(cfg.strides))
        self.drop = nn.Identity()  # ST-GCN's dropout sits inside the blocks
        self.fc = nn.Linear(widths[-1], num_muscles)  # the official 1x1 conv on pooled features
        self.apply(_init_official)

def _init_official(m: nn.Module) -> None:
    # The official training script re-initialises every conv and BN of the model this way.
    if isinstance(m, (nn.Conv2d, nn.Linear)):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


@register_baseline("stgcn", family="skeleton", modalities=("skeleton",),
                   config=STGCNConfig, paper_name="ST-GCN",
                   paper_params_m=2.6)
def build_stgcn(num_muscles: int = 20, **model_cfg) -> STGCN:
    """ST-GCN on 2-D skeletons (uniform graph by default, as the paper's 2.6M model)."""
    cfg = make_config(STGCNConfig, model_cfg, "stgcn")
    if cfg.strategy not in graph.STRATEGIES:
        raise bad_value("stgcn", f"strategy must be one of {', '.join(graph.STRATEGIES)}, "
                                 f"but got {cfg.strategy!r}")
    return STGCN(cfg, num_muscles)
