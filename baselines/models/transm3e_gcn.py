"""TransM3E, journal version ("in the wild"): the RGB main branch of transm3e.py distilled from a
frozen skeleton-GCN sender with classification tokens, sparse MCTKD by default.

**The sender** (``GCNSender``) is one of the project's skeleton GCNs (HD-GCN by default, the
journal's choice) with k classification tokens. The journal adds its tokens after the first GCN
block and merges node features into them (its Eqs. 1-2); here, after every block i,

    t_i = P_i(t_{i-1}) + R_i(z_i)^T,   z_i = mean over time and persons of block i's output (N, C_i, V)

with P_i a linear map of the token width (C_{i-1} -> C_i) and R_i a linear map from the V joints
to the k tokens, so each token reads a learned mix of joints; t_{-1} are k learned tokens. The
tokens read the graph and do not write back into it. As a classifier (the sender stage,
``run-baseline transm3e-gcn --stage sender``) it predicts from the tokens' mean (LayerNorm,
dropout, linear head), trained on the muscles like every baseline.

**Distillation.** As in transm3e.py, with two differences a GCN sender brings: the receiver
position p of the MViT (depth 16) takes the sender tokens of the block at the nearest relative
depth, round((p + 1) * 10 / 16) - 1 (sparse: MViT blocks 1, 3, 14, 15 -> GCN blocks 0, 2, 8, 9),
and where the widths differ a trainable linear adapter maps the receivers to the sender's width
before the KL term (the receivers' side, so the frozen sender's targets cannot move).

**What this leaves out of the journal.** The journal trains both branches with MCTs and distils
in both directions, fuses each branch's tokens with its own MCTF, and averages the two branches'
predictions at test time (so it needs skeletons at test time); its 55.4M parameters count both.
This baseline is the one-way, frozen-sender reading of the method the three-dataset version
describes, and predicts from RGB alone: its trainable count is TransM3E-S's 44,376,116 plus the
adapters (430,720 for sparse KD from HD-GCN) = 44,806,836 (docs/models-transm3e.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import nn

from amge_eval.baselines.registry import SenderPlan, get_baseline, register_baseline

from ._gcn import check_input
from ._video import bad_value, variant_config
from .transm3e import KDPlacement, TransM3E, TransM3EConfig, check_switches

SENDER_BACKBONES = ("stgcn", "ctrgcn", "hdgcn")


@dataclass(frozen=True)
class TransM3EGCNConfig(TransM3EConfig):
    kd: KDPlacement = "sparse"  # the journal's SP-MCTKD (its Table IV)
    sender_backbone: Literal["stgcn", "ctrgcn", "hdgcn"] = "hdgcn"  # the journal's HD-GCN
    sender_options: dict[str, Any] = field(default_factory=dict)  # the GCN's own [model] keys


class GCNSender(nn.Module):
    """A skeleton GCN with k classification tokens: (N, C, T, V, M) -> (N, num_muscles)."""

    modality = "skeleton"

    def __init__(self, backbone: str, options: dict, tokens: int, num_muscles: int = 20,
                 dropout: float = 0.0):
        super().__init__()
        gcn = get_baseline(backbone).builder(num_muscles=num_muscles, **options)
        gcn.fc = nn.Identity()  # the tokens' head replaces the GCN's pooled classifier
        self.gcn = gcn
        widths = list(gcn.cfg.channels)
        joints = gcn.layout.num_joints
        self.cls_tokens = nn.Parameter(nn.init.trunc_normal_(torch.zeros(tokens, widths[0]),
                                                             std=0.02))
        self.token_proj = nn.ModuleList(nn.Linear(a, b) for a, b in zip([widths[0], *widths],
                                                                         widths))
        self.node_proj = nn.ModuleList(nn.Linear(joints, tokens) for _ in widths)
        self.norm = nn.LayerNorm(widths[-1])
        self.head_drop = nn.Dropout(dropout)
        self.head = nn.Linear(widths[-1], num_muscles)
        self.depth = len(widths)
        self.widths = {-1: widths[0], **dict(enumerate(widths))}

    def _run(self, x: torch.Tensor, positions: list[int]):
        g = self.gcn
        check_input(x, g.name, g.layout, g.cfg.in_channels, getattr(g.cfg, "persons", None))
        n = x.shape[0]
        h = g.data_norm(x)  # (N*M, C, T, V)
        t = self.cls_tokens.unsqueeze(0).expand(n, -1, -1)  # (N, k, C_0)
        out = {-1: t} if -1 in positions else {}
        for i, block in enumerate(g.blocks):
            h = block(h)  # (N*M, C_i, T_i, V)
            z = h.reshape(n, -1, *h.shape[1:]).mean(dim=(1, 3))  # (N, C_i, V)
            t = self.token_proj[i](t) + self.node_proj[i](z).transpose(1, 2)  # (N, k, C_i)
            if i in positions:
                out[i] = t
        return t, out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, _ = self._run(x, [])
        return self.head(self.head_drop(self.norm(t).mean(1)))  # (N, num_muscles)

    def tokens(self, x: torch.Tensor, positions: list[int]) -> dict[int, torch.Tensor]:
        """(N, C, T, V, M) -> {block: (N, k, C_block) tokens after it}."""
        return self._run(x, positions)[1]


class TransM3EGCN(TransM3E):
    """RGB clips at test time; in training (RGB clips, skeletons) pairs from the loader, or
    (N, views, 3, T, H, W) clips with their skeletons."""

    def build_sender(self) -> nn.Module:
        c = self.cfg
        return GCNSender(c.sender_backbone, c.sender_options, c.class_tokens)

    def sender_describe(self) -> dict:
        return gcn_sender_describe(self.cfg)

    def settings(self) -> dict:
        return {**super().settings(), "sender_backbone": self.cfg.sender_backbone,
                "sender_options": dict(self.cfg.sender_options),
                "adapters": sorted(int(p) for p in self.adapters)}

    def split_input(self, x):
        if not isinstance(x, tuple) or len(x) != 2:
            raise self._shape_error(x)
        video, skeleton = x
        if video.ndim == 6:  # (N, V, 3, T, H, W): each view with the sample's skeleton
            views = video.shape[1]
            video = video.flatten(0, 1)
            skeleton = skeleton.repeat_interleave(views, 0)
        if video.ndim != 5 or video.shape[1] != 3:
            raise self._shape_error(x)
        if self.cfg.view_pairing == "zero":
            skeleton = torch.zeros_like(skeleton)
        return video, skeleton

    def _shape_error(self, x):
        from amge_eval.harness.errors import AmgeError

        got = tuple(tuple(p.shape) for p in x) if isinstance(x, tuple) else tuple(x.shape)
        return AmgeError(f"{self.name} trains on (RGB clips (N, 3, T, H, W), skeletons (N, C, T, "
                         f"V, M)) pairs from the rgb+skeleton loader, but got {got}", code="E821")

    def test_input(self, x):
        return x[0] if isinstance(x, tuple) else super().test_input(x)


def gcn_sender_describe(cfg: TransM3EGCNConfig) -> dict:
    options = {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.sender_options.items()}
    return {"kind": "gcn", "modality": "skeleton", "backbone": cfg.sender_backbone,
            "options": options, "tokens": cfg.class_tokens}


def _check(cfg: TransM3EGCNConfig, name: str) -> None:
    check_switches(cfg, name)
    if cfg.view_pairing == "half":
        raise bad_value(name, "view_pairing = 'half' pairs one view's RGB with another view's "
                              "RGB difference; a skeleton sender has no views: use 'own' or "
                              "'zero'")
    if not isinstance(cfg.sender_options, dict):
        raise bad_value(name, "sender_options must be a table of the GCN's [model] keys")


VARIANTS = {"transm3e-gcn": TransM3EGCNConfig()}


def _config(name: str, model_cfg: dict) -> TransM3EGCNConfig:
    cfg = variant_config(TransM3EGCNConfig, VARIANTS["transm3e-gcn"], model_cfg, name)
    _check(cfg, name)
    return cfg


def _sender_plan(name: str):
    def plan(model_cfg: dict) -> SenderPlan | None:
        cfg = _config(name, model_cfg)
        if cfg.kd == "none":
            return None
        return SenderPlan(modality="skeleton", family="skeleton",
                          build=lambda: GCNSender(cfg.sender_backbone, cfg.sender_options,
                                                  cfg.class_tokens, dropout=cfg.dropout),
                          describe=gcn_sender_describe(cfg))
    return plan


GCN_NOTE = ("the journal's 55.4M counts both branches (it trains and tests them together); this "
            "baseline tests on RGB alone and counts its trainable RGB branch: TransM3E-S's "
            "44.38M plus the receiver-to-GCN width adapters (44.81M); the frozen HD-GCN sender "
            "is left out")


@register_baseline("transm3e-gcn-tiny", family="video", modalities=("rgb",),
                   train_modalities=("rgb", "skeleton"), config=TransM3EGCNConfig,
                   sender=_sender_plan("transm3e-gcn-tiny"),
                   description="The journal version on transm3e-tiny's network with a full "
                               "HD-GCN sender, for CPU runs (baselines/configs/"
                               "transm3e-gcn-tiny.toml)")
@register_baseline("transm3e-gcn", family="video", modalities=("rgb",),
                   train_modalities=("rgb", "skeleton"), config=TransM3EGCNConfig,
                   sender=_sender_plan("transm3e-gcn"), paper_name="TransM3E",
                   paper_params_m=55.4, params_note=GCN_NOTE)
def build_transm3e_gcn(num_muscles: int = 20, **model_cfg) -> TransM3EGCN:
    """TransM3E, journal version: MViTv2-S with MCTs and receivers distilled (sparse MCTKD) from
    a frozen HD-GCN with classification tokens on 2-D skeletons; RGB only at test time."""
    return TransM3EGCN(_config("transm3e-gcn", model_cfg), num_muscles, "transm3e-gcn")
