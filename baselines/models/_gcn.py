"""Pieces the three skeleton GCNs share: [model] config overrides, the input check, the data
BatchNorm, and the official repositories' weight initialisations."""

from __future__ import annotations

import math

import torch
from torch import nn

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.schema import convert
from amge_eval.harness.skeletons import Layout, get_layout

CHANNELS = (64, 64, 64, 64, 128, 128, 128, 256, 256, 256)
STRIDES = (1, 1, 1, 1, 2, 1, 1, 2, 1, 1)  # temporal stride 2 at blocks 5 and 8 (1-indexed)


def make_config(cls, overrides: dict, model: str):
    """``cls()`` with the [model] table's ``overrides`` applied, checked by the project's one
    config validator (unknown keys, types; harness.schema)."""
    return convert(cls, overrides, "[model]", code="E803", source=f"Config of {model}")


def bad_value(model: str, message: str) -> AmgeError:
    return AmgeError(f"[model] table for {model}: {message}", code="E820")


def resolve_layout(layout: str | Layout) -> Layout:
    # A Layout object is accepted for skeletons outside harness.skeletons.LAYOUTS (tests build
    # NTU-25 to compare with the official hierarchies).
    return layout if isinstance(layout, Layout) else get_layout(layout)


def check_common(cfg, model: str, num_muscles: int, branches: int = 1) -> None:
    """Value checks every GCN config shares; ``branches`` must divide each block's width."""
    if isinstance(num_muscles, bool) or not isinstance(num_muscles, int) or num_muscles < 1:
        raise bad_value(model, f"num_muscles must be a positive integer, but got {num_muscles!r}")
    if cfg.in_channels < 1:
        raise bad_value(model, f"in_channels must be at least 1, but got {cfg.in_channels}")
    if getattr(cfg, "persons", 1) < 1:
        raise bad_value(model, f"persons must be at least 1, but got {cfg.persons}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise bad_value(model, f"dropout must be in [0, 1), but got {cfg.dropout}")
    if not cfg.channels or len(cfg.channels) != len(cfg.strides):
        raise bad_value(model, f"channels and strides need one entry per block, but got "
                               f"{len(cfg.channels)} channels and {len(cfg.strides)} strides")
    if any(c < branches or c % branches for c in cfg.channels):
        raise bad_value(model, f"every block width must be a positive multiple of {branches}, "
                               f"but got channels {list(cfg.channels)}")
    if any(s < 1 for s in cfg.strides):
        raise bad_value(model, f"strides must be at least 1, but got {list(cfg.strides)}")


def check_input(x: torch.Tensor, model: str, layout: Layout, in_channels: int,
                persons: int | None) -> None:
    """Raise AmgeError unless ``x`` is (N, in_channels, T, V, persons) for this model."""
    m = "M" if persons is None else persons
    want = f"(N, {in_channels}, T, {layout.num_joints}, {m})"
    shape = tuple(x.shape)
    ok = (len(shape) == 5 and shape[0] >= 1 and shape[2] >= 1 and shape[1] == in_channels
          and shape[3] == layout.num_joints and (persons is None or shape[4] == persons))
    if not ok:
        raise AmgeError(f"{model} expects skeletons of shape {want} (layout {layout.name}, "
                        f"in_channels={in_channels}), but got {shape}; set the [model] keys "
                        f"layout/in_channels/persons to match the data.", code="E821")


class DataNorm(nn.Module):
    """BatchNorm1d over the flattened (person, joint, channel) features, per frame.

    ``persons=None`` shares the statistics across persons (ST-GCN: V*C features); otherwise
    each person slot has its own (CTR-GCN, HD-GCN: M*V*C features)."""

    def __init__(self, channels: int, joints: int, persons: int | None):
        super().__init__()
        self.shared = persons is None
        self.bn = nn.BatchNorm1d(channels * joints * (1 if self.shared else persons))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, t, v, m = x.shape
        x = x.permute(0, 4, 3, 1, 2)  # (N, M, V, C, T)
        x = self.bn(x.reshape(n * m, v * c, t) if self.shared else x.reshape(n, m * v * c, t))
        return x.reshape(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)


def propagate(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V) features, (V, V) adjacency [target, source] -> (N, C, T, V) messages."""
    return x @ a.t()  # a matrix product over the joint axis; 3x faster than the einsum here


def pool_persons(x: torch.Tensor, n: int) -> torch.Tensor:
    """(N*M, C, T, V) -> (N, C): mean over T and V, then over persons."""
    nm, c = x.shape[:2]
    return x.reshape(n, nm // n, c, -1).mean(3).mean(1)


# Weight initialisations of the official CTR-GCN / HD-GCN code (ST-GCN has its own in stgcn.py).
class SkeletonGCN(nn.Module):
    """The forward pass the three GCNs share; subclasses build ``data_norm``, ``blocks``,
    ``drop`` and ``fc`` and set ``name``, ``cfg`` and ``layout``."""

    name = ""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, V, M) -> logits (N, num_muscles)
        check_input(x, self.name, self.layout, self.cfg.in_channels,
                    getattr(self.cfg, "persons", None))  # ST-GCN takes any number of persons
        h = self.data_norm(x)  # (N*M, C, T, V)
        for block in self.blocks:
            h = block(h)  # (N*M, C_i, T_i, V)
        return self.fc(self.drop(pool_persons(h, x.shape[0])))  # (N, C_last) -> (N, num_muscles)


def conv_init(conv: nn.Module) -> None:
    nn.init.kaiming_normal_(conv.weight, mode="fan_out")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)


def bn_init(bn: nn.Module, scale: float) -> None:
    nn.init.constant_(bn.weight, scale)
    nn.init.zeros_(bn.bias)


def init_convs_and_bns(module: nn.Module) -> None:
    """Kaiming fan-out for every Conv2d, BatchNorm scale 1, as the official unit_gcn does."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            conv_init(m)
        elif isinstance(m, nn.BatchNorm2d):
            bn_init(m, 1.0)


def init_classifier(fc: nn.Linear, num_classes: int) -> None:
    nn.init.normal_(fc.weight, 0.0, math.sqrt(2.0 / num_classes))
