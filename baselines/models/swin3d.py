"""Video Swin Transformer (Liu et al., CVPR 2022), small and base, as torchvision builds it.

``torchvision.models.video.swin_transformer.SwinTransformer3d`` with the settings of
torchvision's ``swin3d_s`` (embed 96, depths 2-2-18-2, heads 3-6-12-24) and ``swin3d_b``
(embed 128, heads 4-8-16-32): 3-D patch embedding 2x4x4, shifted 8x7x7 windows, patch merging
between stages, LayerNorm, global average and a linear head with 20 outputs. torchvision shrinks
a window to the feature map where the map is smaller, so the tiny variants need no other change.
torchvision's Kinetics-400 weights load unchanged (``net.`` prefix added; the 400-class head is
skipped by shape).

Parameters with 20 outputs: VideoSwin-S 49,524,458 (paper 50.0M), VideoSwin-B 87,659,484
(paper 88.0M), the counts of torchvision's ``swin3d_s`` and ``swin3d_b`` (REFERENCE.md: 49.52M,
87.66M).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from amge_eval.baselines.registry import register_baseline

from ._video import ExternalVideoModel, bad_value, variant_config

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class Swin3DConfig:
    in_channels: int = 3  # 3 for RGB, 6 for RGB + RGB-difference
    embed_dim: int = 96  # width of stage 1; doubled by each patch merging
    depths: tuple[int, ...] = (2, 2, 18, 2)  # blocks per stage
    num_heads: tuple[int, ...] = (3, 6, 12, 24)  # heads per stage
    window_size: Triple = (8, 7, 7)  # attention window (T, H, W) in patches
    patch_size: Triple = (2, 4, 4)  # 3-D patch embedding
    mlp_ratio: float = 4.0
    drop_path: float = 0.1  # stochastic depth of the last block, linear from 0


VARIANTS = {
    "videoswin-s": Swin3DConfig(),
    "videoswin-b": Swin3DConfig(embed_dim=128, num_heads=(4, 8, 16, 32)),
}


def _build(variant: str, num_muscles: int, model_cfg: dict) -> ExternalVideoModel:
    from torchvision.models.video.swin_transformer import PatchEmbed3d, SwinTransformer3d

    cfg = variant_config(Swin3DConfig, VARIANTS[variant], model_cfg, variant)
    if isinstance(num_muscles, bool) or not isinstance(num_muscles, int) or num_muscles < 1:
        raise bad_value(variant, f"num_muscles must be a positive integer, but got "
                                 f"{num_muscles!r}")
    if not cfg.depths or len(cfg.depths) != len(cfg.num_heads) or min(cfg.depths) < 1:
        raise bad_value(variant, f"depths and num_heads need one positive entry per stage, but "
                                 f"got {list(cfg.depths)} and {list(cfg.num_heads)}")
    widths = [cfg.embed_dim * 2 ** i for i in range(len(cfg.depths))]
    if any(h < 1 or w % h for w, h in zip(widths, cfg.num_heads)):
        raise bad_value(variant, f"each stage's width {widths} must be a multiple of its heads "
                                 f"{list(cfg.num_heads)}")
    for key in ("window_size", "patch_size"):
        value = getattr(cfg, key)
        if len(value) != 3 or min(value) < 1:
            raise bad_value(variant, f"{key} must be three positive integers (T, H, W), but got "
                                     f"{list(value)}")
    if cfg.in_channels < 1 or not 0.0 <= cfg.drop_path < 1.0 or cfg.mlp_ratio <= 0:
        raise bad_value(variant, f"in_channels must be at least 1, drop_path in [0, 1) and "
                                 f"mlp_ratio positive, but got {cfg.in_channels}, "
                                 f"{cfg.drop_path}, {cfg.mlp_ratio}")
    net = SwinTransformer3d(
        patch_size=list(cfg.patch_size), embed_dim=cfg.embed_dim, depths=list(cfg.depths),
        num_heads=list(cfg.num_heads), window_size=list(cfg.window_size),
        mlp_ratio=cfg.mlp_ratio, stochastic_depth_prob=cfg.drop_path, num_classes=num_muscles,
        patch_embed=partial(PatchEmbed3d, in_channels=cfg.in_channels))
    return ExternalVideoModel(variant, net, cfg.in_channels, source="torchvision")


@register_baseline("videoswin-s-tiny", family="video", modalities=("rgb",), config=Swin3DConfig,
                   description="VideoSwin's class, narrow and shallow, for CPU runs "
                               "(baselines/configs/videoswin-s-tiny.toml)")
@register_baseline("videoswin-s", family="video", modalities=("rgb",), config=Swin3DConfig,
                   paper_name="VideoSwin-S", paper_params_m=50.0,
                   params_note="the paper's 50.0M is the Video Swin paper's rounded Kinetics-400 "
                               "figure (400 outputs: 49.82M)")
def build_videoswin_s(num_muscles: int = 20, **model_cfg) -> ExternalVideoModel:
    """Video Swin-S 32x2 (torchvision swin3d_s)."""
    return _build("videoswin-s", num_muscles, model_cfg)


@register_baseline("videoswin-b-tiny", family="video", modalities=("rgb",), config=Swin3DConfig,
                   description="VideoSwin-B's class, narrow and shallow, for CPU runs "
                               "(baselines/configs/videoswin-b-tiny.toml)")
@register_baseline("videoswin-b", family="video", modalities=("rgb",), config=Swin3DConfig,
                   paper_name="VideoSwin-B", paper_params_m=88.0,
                   params_note="the paper's 88.0M is the Kinetics-400 model's count "
                               "(400 outputs: 88.05M)")
def build_videoswin_b(num_muscles: int = 20, **model_cfg) -> ExternalVideoModel:
    """Video Swin-B 32x2 (torchvision swin3d_b)."""
    return _build("videoswin-b", num_muscles, model_cfg)
