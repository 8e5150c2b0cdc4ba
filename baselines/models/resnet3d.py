"""The papers' 3-D ResNet-50 baselines, built by pytorchvideo 0.1.5: C2D, I3D, Slow and SlowFast.

Each builder calls ``pytorchvideo.models.resnet.create_resnet`` (or ``create_slowfast``) with the
settings of pytorchvideo's Kinetics model-zoo builders (``c2d_r50``, ``i3d_r50``, ``slow_r50``,
``slowfast_r50``, the 8x8 recipes of PySlowFast), 20 outputs, and one change: the head pools with
``AdaptiveAvgPool3d`` to a single value per channel instead of a fixed ``AvgPool3d`` kernel sized
for 8 (or 32) frames at 224 px. At the reference input the two are the same global average; at
any other input (the tiny variants, other crops) the adaptive pool still is, where the fixed
kernel would pool windows. Weights of pytorchvideo's model zoo load unchanged (the head pool has
no parameters).

- C2D: 2-D (1x3x3) convolutions in every block, 1x7x7 stem; a temporal max-pool of 2 after res2.
- I3D: 5x7x7 stem, 3x1x1 inflated first convolutions in alternating blocks, the same pool.
- Slow: the slow pathway of SlowFast alone: 1x7x7 stem, temporal 3x1x1 convolutions in res4, res5.
- SlowFast: the slow pathway (T / alpha frames) and a fast one (all T frames, 1/8 of the width),
  joined by lateral 7x1x1 convolutions of stride alpha after the stem and each stage.

Parameter counts with 20 outputs (tests/test_models_video.py; the same as pytorchvideo's own
builders): C2D 23,549,012 (paper 23.5M); I3D 27,264,852, Slow 31,675,476 and SlowFast 33,690,588,
where the papers print 20.4M, 24.3M and 25.3M. No configuration of these networks that we know of
has the papers' counts (docs/models-video.md); the counts above are what the code has, and
``amge-eval baselines list`` says so.
"""

from __future__ import annotations

import importlib.util
import warnings
from dataclasses import dataclass

from torch import nn

from amge_eval.baselines.registry import register_baseline

from ._video import ExternalVideoModel, bad_value, variant_config

if importlib.util.find_spec("pytorchvideo") is None:  # the registry records the module as skipped
    raise ModuleNotFoundError("No module named 'pytorchvideo'", name="pytorchvideo")

PARAMS_NOTE = ("no known R50 configuration of this network has the paper's #PM (docs/models-video.md);"
               " this is the count of the pytorchvideo and PySlowFast model")


@dataclass(frozen=True)
class ResNet3DConfig:
    in_channels: int = 3  # 3 for RGB, 6 for RGB + RGB-difference
    depth: int = 50  # ResNet depth: 50, 101 or 152 (pytorchvideo's bottleneck layouts)
    width: int = 64  # stem width; the stages are 4, 8, 16 and 32 times it (the tiny variants: 8)
    dropout: float = 0.5  # before the linear head


@dataclass(frozen=True)
class SlowFastConfig:
    in_channels: int = 3
    depth: int = 50
    width: int = 64  # slow stem width; the fast pathway has width / beta_inv
    beta_inv: int = 8  # slow-to-fast channel ratio (1 / beta)
    alpha: int = 4  # fast-to-slow frame ratio: the slow pathway sees T / alpha frames
    fusion_kernel: int = 7  # temporal kernel of the lateral fast-to-slow convolutions (R50: 7)
    dropout: float = 0.5


def _pytorchvideo():
    with warnings.catch_warnings():  # pytorchvideo scripts a few functions at import time
        warnings.simplefilter("ignore", FutureWarning)
        from pytorchvideo.models import resnet, slowfast
    return resnet, slowfast


def _check(cfg, name: str, num_muscles: int) -> None:
    if isinstance(num_muscles, bool) or not isinstance(num_muscles, int) or num_muscles < 1:
        raise bad_value(name, f"num_muscles must be a positive integer, but got {num_muscles!r}")
    if cfg.depth not in (50, 101, 152):
        raise bad_value(name, f"depth must be 50, 101 or 152, but got {cfg.depth}")
    if cfg.in_channels < 1 or cfg.width < 1:
        raise bad_value(name, f"in_channels and width must be at least 1, but got "
                              f"{cfg.in_channels} and {cfg.width}")
    if not 0.0 <= cfg.dropout < 1.0:
        raise bad_value(name, f"dropout must be in [0, 1), but got {cfg.dropout}")


# The architecture of each single-pathway network (pytorchvideo's model-zoo builders).
_ARCHS = {
    "c2d": dict(stem_conv_kernel_size=(1, 7, 7), stage1_pool=nn.MaxPool3d,
                stage_conv_a_kernel_size=((1, 1, 1),) * 4),
    "i3d": dict(stem_conv_kernel_size=(5, 7, 7), stage1_pool=nn.MaxPool3d,
                stage_conv_a_kernel_size=((3, 1, 1), [(3, 1, 1), (1, 1, 1)],
                                          [(3, 1, 1), (1, 1, 1)], [(1, 1, 1), (3, 1, 1)])),
    "slow": dict(stem_conv_kernel_size=(1, 7, 7),
                 stage_conv_a_kernel_size=((1, 1, 1), (1, 1, 1), (3, 1, 1), (3, 1, 1))),
}


def _resnet(arch: str, name: str, num_muscles: int, model_cfg: dict) -> ExternalVideoModel:
    cfg = variant_config(ResNet3DConfig, ResNet3DConfig(), model_cfg, name)
    _check(cfg, name, num_muscles)
    resnet, _ = _pytorchvideo()
    net = resnet.create_resnet(
        input_channel=cfg.in_channels, model_depth=cfg.depth, model_num_class=num_muscles,
        dropout_rate=cfg.dropout, stem_dim_out=cfg.width, head_pool=nn.AdaptiveAvgPool3d,
        head_output_size=(1, 1, 1), **_ARCHS[arch])
    return ExternalVideoModel(name, net, cfg.in_channels, source="pytorchvideo")


@register_baseline("c2d-r50-tiny", family="video", modalities=("rgb",), config=ResNet3DConfig,
                   description="C2D R50 at 1/8 width for CPU runs (baselines/configs/"
                               "c2d-r50-tiny.toml)")
@register_baseline("c2d-r50", family="video", modalities=("rgb",), config=ResNet3DConfig,
                   paper_name="C2D (R50)", paper_params_m=23.5)
def build_c2d(num_muscles: int = 20, **model_cfg) -> ExternalVideoModel:
    """C2D ResNet-50 8x8 (pytorchvideo c2d_r50)."""
    return _resnet("c2d", "c2d-r50", num_muscles, model_cfg)


@register_baseline("i3d-r50-tiny", family="video", modalities=("rgb",), config=ResNet3DConfig,
                   description="I3D R50 at 1/8 width for CPU runs (baselines/configs/"
                               "i3d-r50-tiny.toml)")
@register_baseline("i3d-r50", family="video", modalities=("rgb",), config=ResNet3DConfig,
                   paper_name="I3D (R50)", paper_params_m=20.4, params_note=PARAMS_NOTE)
def build_i3d(num_muscles: int = 20, **model_cfg) -> ExternalVideoModel:
    """I3D ResNet-50 8x8 (pytorchvideo i3d_r50)."""
    return _resnet("i3d", "i3d-r50", num_muscles, model_cfg)


@register_baseline("slow-r50-tiny", family="video", modalities=("rgb",), config=ResNet3DConfig,
                   description="Slow R50 at 1/8 width for CPU runs (baselines/configs/"
                               "slow-r50-tiny.toml)")
@register_baseline("slow-r50", family="video", modalities=("rgb",), config=ResNet3DConfig,
                   paper_name="Slow (R50)", paper_params_m=24.3, params_note=PARAMS_NOTE)
def build_slow(num_muscles: int = 20, **model_cfg) -> ExternalVideoModel:
    """Slow ResNet-50 8x8 (pytorchvideo slow_r50)."""
    return _resnet("slow", "slow-r50", num_muscles, model_cfg)


@register_baseline("slowfast-r50-tiny", family="video", modalities=("rgb",),
                   config=SlowFastConfig,
                   description="SlowFast R50 at 1/8 width for CPU runs (baselines/configs/"
                               "slowfast-r50-tiny.toml)")
@register_baseline("slowfast-r50", family="video", modalities=("rgb",), config=SlowFastConfig,
                   paper_name="SlowFast (R50)", paper_params_m=25.3, params_note=PARAMS_NOTE)
def build_slowfast(num_muscles: int = 20, **model_cfg) -> ExternalVideoModel:
    """SlowFast ResNet-50 8x8, alpha 4 (pytorchvideo slowfast_r50): 32 frames in, 8 slow."""
    name = "slowfast-r50"
    cfg = variant_config(SlowFastConfig, SlowFastConfig(), model_cfg, name)
    _check(cfg, name, num_muscles)
    if cfg.alpha < 1 or cfg.beta_inv < 1 or cfg.width % cfg.beta_inv or cfg.fusion_kernel < 1:
        raise bad_value(name, f"alpha, beta_inv and fusion_kernel must be at least 1 and width a "
                              f"multiple of beta_inv, but got alpha {cfg.alpha}, beta_inv "
                              f"{cfg.beta_inv}, width {cfg.width}, fusion_kernel "
                              f"{cfg.fusion_kernel}")
    _, slowfast = _pytorchvideo()
    net = slowfast.create_slowfast(
        slowfast_channel_reduction_ratio=(cfg.beta_inv,),
        slowfast_fusion_conv_kernel_size=(cfg.fusion_kernel, 1, 1),
        slowfast_fusion_conv_stride=(cfg.alpha, 1, 1),
        input_channels=(cfg.in_channels, cfg.in_channels), model_depth=cfg.depth,
        model_num_class=num_muscles, dropout_rate=cfg.dropout,
        stem_dim_outs=(cfg.width, cfg.width // cfg.beta_inv), head_pool=nn.AdaptiveAvgPool3d,
        head_output_size=((1, 1, 1), (1, 1, 1)))
    return ExternalVideoModel(name, net, cfg.in_channels, alpha=cfg.alpha, source="pytorchvideo")
