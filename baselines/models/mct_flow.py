"""The papers' optical-flow row: MViTv2-S with 20 multi-classification tokens (MCTs) trained and
tested on optical flow alone (three-dataset paper Table 7 "Experiments for different modalities",
journal Table VII: 69.8 / 48.8 / 63.5 / 44.0 val_s / val_u / test_s / test_u on MuscleMap136).

This is TransM3E's first-stage network (the project's MViT with ``class_tokens = 20``, the tokens
averaged, then one linear layer) with a two-channel patch embedding for the (dx, dy) field; no
sender, no distillation, no fusion. The clips come from the flow store that
``amge-eval data flow`` writes (baselines/data/flow.py; docs/raw-video.md), sampled and cropped
as RGB clips are. The flow must be computed before training:
``amge-eval data flow all --dataset DATASET``.
"""

from __future__ import annotations

from dataclasses import replace

from amge_eval.baselines.registry import register_baseline

from .mvit import VARIANTS, MViT, MViTConfig
from ._video import variant_config

# MViTv2-S's layout with the flow field's two channels in and the papers' 20 tokens.
FLOW_S = replace(VARIANTS["mvitv2-s"], in_channels=2, class_tokens=20)


@register_baseline("mvitv2-s-mct-flow-tiny", family="video", modalities=("optical_flow",),
                   config=MViTConfig,
                   description="The optical-flow row's network, narrow and shallow (mvitv2-s-"
                               "tiny's layout, 20 tokens, 2 channels), for CPU runs "
                               "(baselines/configs/mvitv2-s-mct-flow-tiny.toml)")
@register_baseline("mvitv2-s-mct-flow", family="video", modalities=("optical_flow",),
                   config=MViTConfig,
                   description="MViTv2-S with 20 MCTs on optical flow (the papers' modality "
                               "table); compute the flow first with `amge-eval data flow`")
def build_mvitv2_s_mct_flow(num_muscles: int = 20, **model_cfg) -> MViT:
    """MViTv2-S 16x4 with 20 class tokens on (dx, dy) optical flow."""
    cfg = variant_config(MViTConfig, FLOW_S, model_cfg, "mvitv2-s-mct-flow")
    return MViT(cfg, num_muscles, "mvitv2-s-mct-flow")
