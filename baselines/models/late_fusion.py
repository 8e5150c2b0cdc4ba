"""Late fusion of an RGB and an RGB-difference MViTv2 (the three-dataset paper's Table 6:
LateFusionSum, LateFusionConcat, LateFusionMul), the multi-modal baselines TransM3E is compared
with: two full networks, both run at test time.

Each branch is the project's MViTv2 (mvit.py) without its head: the mean of its class tokens
after the final LayerNorm (N, C). The two features are fused and one linear head maps them to the
muscles: ``fusion = "sum"`` f_rgb + f_diff, ``"mul"`` f_rgb * f_diff (element-wise), ``"concat"``
[f_rgb, f_diff] (the head then takes 2C). Dropout before the head as in MViTv2. Trained end to
end on (N, 6, T, H, W) clips (RGB, RGB difference) with the run's loss.

Parameters with 20 outputs at MViTv2-S size: 2 x 34,230,144 (two headless MViTv2-S) + 15,380 =
68,475,668 for sum and mul, the paper's 68.5M for LF Sum (Sec. 5.3); 68,491,028 for concat (its
head reads 1536 channels).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Literal

import torch
from torch import nn

from amge_eval.baselines.registry import register_baseline

from ._video import check_clip, variant_config
from .mvit import MViT, MViTConfig


@dataclass(frozen=True)
class LateFusionConfig(MViTConfig):
    """MViTConfig of each branch (3 channels each), plus how their features meet."""

    in_channels: int = 6  # RGB + RGB difference, split between the branches
    fusion: Literal["sum", "concat", "mul"] = "sum"


class LateFusion(nn.Module):
    """(N, 6, T, H, W) RGB + RGB-difference clips -> (N, num_muscles) logits."""

    def __init__(self, cfg: LateFusionConfig, num_muscles: int = 20, name: str = "late-fusion"):
        super().__init__()
        branch = MViTConfig(**{f.name: getattr(cfg, f.name) for f in fields(MViTConfig)
                               if f.name != "in_channels"}, in_channels=3)
        if cfg.in_channels != 6:
            from ._video import bad_value

            raise bad_value(name, f"in_channels must be 6 (RGB and the RGB difference), but got "
                                  f"{cfg.in_channels}")
        self.cfg, self.name = cfg, name
        self.rgb = MViT(branch, num_muscles, f"{name} rgb")
        self.diff = MViT(branch, num_muscles, f"{name} rgb_diff")
        for net in (self.rgb, self.diff):  # features, not logits, leave each branch
            net.head = nn.Identity()
            net.head_drop = nn.Identity()
        width = self.rgb.width
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(2 * width if cfg.fusion == "concat" else width, num_muscles)
        nn.init.trunc_normal_(self.head.weight, std=0.02)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.name, 6)
        a, b = self.rgb(x[:, :3]), self.diff(x[:, 3:])  # (N, C) each
        if self.cfg.fusion == "sum":
            f = a + b
        elif self.cfg.fusion == "mul":
            f = a * b
        else:
            f = torch.cat([a, b], dim=1)  # (N, 2C)
        return self.head(self.head_drop(f))


VARIANTS = {f: LateFusionConfig(fusion=f) for f in ("sum", "concat", "mul")}
PAPER = {"sum": ("LateFusionSum", 68.5), "concat": ("LateFusionConcat", None),
         "mul": ("LateFusionMul", None)}


def _builder(fusion: str, name: str):
    def build(num_muscles: int = 20, **model_cfg) -> LateFusion:
        cfg = variant_config(LateFusionConfig, VARIANTS[fusion], model_cfg, name)
        return LateFusion(cfg, num_muscles, name)

    build.__doc__ = (f"Late fusion ({fusion}) of an RGB and an RGB-difference MViTv2-S "
                     f"(Table 6: {PAPER[fusion][0]}); both branches run at test time.")
    return build


for _fusion in ("sum", "concat", "mul"):
    register_baseline(f"late-fusion-{_fusion}", family="video", modalities=("rgb", "rgb_diff"),
                      config=LateFusionConfig, paper_name=PAPER[_fusion][0],
                      paper_params_m=PAPER[_fusion][1])(_builder(_fusion, f"late-fusion-{_fusion}"))

register_baseline("late-fusion-tiny", family="video", modalities=("rgb", "rgb_diff"),
                  config=LateFusionConfig,
                  description="Late fusion of two mvitv2-s-tiny branches (RGB, RGB difference), "
                              "[model].fusion = sum, concat or mul, for CPU runs "
                              "(baselines/configs/late-fusion-tiny.toml)")(
                  _builder("sum", "late-fusion-tiny"))
