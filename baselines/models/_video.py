"""Pieces the video baselines share: variant configs as data, the input check, stochastic depth,
and the wrapper that gives a model from torchvision or pytorchvideo the project's interface.

A video model takes a clip batch (N, C, T, H, W) from the video loader (baselines/data) and
returns (N, num_muscles) logits; the head's activation and the loss follow the run's
``[train].loss`` (baselines/training.py), so no model applies a sigmoid or softmax itself.

Weights from another codebase load through ``convert_state_dict(state) -> (state, key_map)``,
which ``training.load_weights`` calls when a model defines it.
"""

from __future__ import annotations

from dataclasses import fields, replace

import torch
from torch import nn

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.schema import convert


def variant_config(cls, base, overrides: dict, model: str):
    """``base`` (a variant's config) with the [model] table's ``overrides``, each checked by the
    project's one config validator (unknown keys, types; harness.schema)."""
    checked = convert(cls, dict(overrides), "[model]", code="E803", source=f"Config of {model}")
    return replace(base, **{f.name: getattr(checked, f.name) for f in fields(cls)
                            if f.name in overrides})


def bad_value(model: str, message: str) -> AmgeError:
    return AmgeError(f"[model] table for {model}: {message}", code="E820")


def check_clip(x: torch.Tensor, model: str, channels: int) -> None:
    """Raise AmgeError(E821) unless ``x`` is a clip batch (N, channels, T, H, W)."""
    shape = tuple(x.shape)
    if len(shape) != 5 or shape[1] != channels or min(shape) < 1:
        raise AmgeError(f"{model} expects clips of shape (N, {channels}, T, H, W), but got "
                        f"{shape}; the video loader gives (N, C, T, H, W) with C set by the "
                        f"baseline's inputs ([data].modality)", code="E821")


class DropPath(nn.Module):
    """Stochastic depth: in training, zero a whole sample's residual branch with probability
    ``p`` and scale the kept ones by 1 / (1 - p)."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


def pack_pathways(x: torch.Tensor, alpha: int) -> list[torch.Tensor]:
    """(N, C, T, H, W) -> [slow (N, C, T // alpha, H, W), fast (N, C, T, H, W)].

    The slow pathway takes T // alpha frames at ``linspace(0, T - 1, T // alpha)`` rounded down,
    as PySlowFast's and pytorchvideo's PackPathway do (T = 32, alpha = 4: frames 0, 4, 8, 13,
    17, 22, 26, 31)."""
    t = x.shape[2]
    idx = torch.linspace(0, t - 1, max(1, t // alpha)).long().to(x.device)
    return [x.index_select(2, idx), x]


class ExternalVideoModel(nn.Module):
    """A torchvision or pytorchvideo network behind the project's video-model interface.

    ``net`` maps the clip batch (a list of pathways for SlowFast, ``alpha`` > 0) to logits.
    Its state-dict keys are the library's own under ``net.``, so the library's released
    checkpoints load through ``convert_state_dict``, which adds the prefix.
    """

    def __init__(self, name: str, net: nn.Module, in_channels: int = 3, alpha: int = 0,
                 source: str = ""):
        super().__init__()
        self.name = name
        self.net = net
        self.in_channels = in_channels
        self.alpha = alpha
        self.source = source  # "pytorchvideo" or "torchvision": the key layout of its checkpoints

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, H, W) -> logits (N, num_muscles)
        check_clip(x, self.name, self.in_channels)
        if self.alpha:
            if x.shape[2] < self.alpha:
                raise AmgeError(f"{self.name} needs at least {self.alpha} frames per clip (the "
                                f"slow pathway takes every {self.alpha}th), but got "
                                f"{x.shape[2]}", code="E821")
            return self.net(pack_pathways(x, self.alpha))
        return self.net(x)

    def convert_state_dict(self, state: dict) -> tuple[dict, str | None]:
        """A checkpoint of ``self.source``'s own model (keys without ``net.``) or of this
        wrapper; returns the state under this model's names and the key map applied."""
        if any(k.startswith("net.") for k in state):
            return state, None
        return {f"net.{k}": v for k, v in state.items()}, self.source or None
