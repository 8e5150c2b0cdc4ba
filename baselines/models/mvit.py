"""MViTv2 (Li et al., CVPR 2022) for video, with k class tokens: MViTv2-S, MViTv2-B and their
tiny CPU variants on one class.

The network is PySlowFast's MVITv2_S_16x4 / MVITv2_B_32x3 (torchvision's ``mvit_v2_s`` is the
same network as S): a Conv3d patch embedding (kernel 3x7x7, stride 2x4x4), ``class_tokens``
learned tokens in front of the T'H'W' patch tokens, ``depth`` blocks, a final LayerNorm, the mean
of the class tokens, dropout and a linear head. At each block of ``stage_blocks`` the width and
the number of heads double and the query is pooled with ``q_stride``; keys and values are pooled
with ``kv_stride`` at the first block, divided by ``q_stride`` at each stage block (PySlowFast's
POOL_KV_STRIDE_ADAPTIVE), so attention always sees a few hundred key tokens.

A block (pre-norm): x_n = LN(x); attention(x_n) -> width_out; the skip path is x (or a linear
projection of x_n where the width changes) max-pooled like the query; x = skip + drop_path(attn);
x = x + drop_path(MLP(LN(x))). Attention: q, k, v from one linear layer; each is pooled per head
by a depthwise Conv3d and a LayerNorm; scores get MViTv2's decomposed relative-position bias
(separate tables along T, H and W, indexed by the scaled distance between query and key
positions); the pooled query is added back to the output ("residual pooling"); a linear
projection follows.

Class tokens take part in attention as queries and keys, but they are excluded from pooling
(they pass the Conv3d and the max-pool unchanged; the LayerNorm after the pool normalises them
with the patch tokens, as both references do), from the relative-position bias (only the
patch-to-patch block of the scores gets it) and from the residual-pooling add. With k = 1 this is
the reference; TransM3E uses k = 20.

Why the project's class serves MViTv2-S rather than torchvision's: torchvision hard-codes exactly
one class token in its pooling, relative-position and residual code, fixes the input size at
construction, has no video MViTv2-B, and names its tensors differently from PySlowFast (whose
checkpoints the MuscleMap release fine-tunes). One class with k tokens runs S, B, their tiny
variants and TransM3E; tests/test_models_video.py loads torchvision's ``mvit_v2_s`` state dict
through ``convert_state_dict`` and matches its outputs to 1e-4.

Parameter counts with 20 outputs: MViTv2-S 34,245,524 (REFERENCE.md; paper 34.2M); MViTv2-B at
16 frames (the release's 16x3) 50,901,044, at 32 frames 50,937,908, and with PySlowFast's
400-class head at 32 frames 51,230,128, the paper's 51.2M (docs/models-video.md).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from amge_eval.baselines.registry import register_baseline

from ._video import DropPath, bad_value, check_clip, variant_config

Triple = tuple[int, int, int]


@dataclass(frozen=True)
class MViTConfig:
    # input clip; these size the relative-position tables (other sizes interpolate them)
    frames: int = 16  # T of the clip ([data].frames)
    crop: int = 224  # H = W of the clip ([data].crop)
    in_channels: int = 3  # 3 for RGB, 6 for RGB + RGB-difference
    # architecture (defaults: MViTv2-S)
    depth: int = 16  # blocks
    embed_dim: int = 96  # width after the patch embedding
    num_heads: int = 1  # heads of the first block
    stage_blocks: tuple[int, ...] = (1, 3, 14)  # blocks (0-indexed) that double width and heads and pool q
    q_stride: Triple = (1, 2, 2)  # query pooling stride at the stage blocks (T, H, W)
    kv_stride: Triple = (1, 8, 8)  # key/value pooling stride of block 0, divided by q_stride at each stage block
    pool_kernel: Triple = (3, 3, 3)  # depthwise Conv3d kernel of the q, k, v pooling
    patch_kernel: Triple = (3, 7, 7)
    patch_stride: Triple = (2, 4, 4)
    patch_padding: Triple = (1, 3, 3)
    mlp_ratio: float = 4.0
    qkv_bias: bool = True
    class_tokens: int = 1  # k; TransM3E uses 20
    drop_path: float = 0.2  # stochastic depth of the last block, linear from 0 (B: 0.3)
    dropout: float = 0.5  # before the linear head


class BlockPlan(NamedTuple):
    dim_in: int
    dim_out: int
    heads: int
    q_stride: Triple
    kv_stride: Triple
    thw: Triple  # the block's input grid as the references size its tables (floor division)


def block_plan(cfg: MViTConfig) -> list[BlockPlan]:
    """Width, heads, strides and input grid of every block."""
    thw = (cfg.frames // cfg.patch_stride[0], cfg.crop // cfg.patch_stride[1],
           cfg.crop // cfg.patch_stride[2])
    dim, heads, kv = cfg.embed_dim, cfg.num_heads, tuple(cfg.kv_stride)
    plan = []
    for i in range(cfg.depth):
        stage = i in cfg.stage_blocks
        q = tuple(cfg.q_stride) if stage else (1, 1, 1)
        if stage:
            heads *= 2
            kv = tuple(max(a // b, 1) for a, b in zip(kv, q))
        dim_out = dim * 2 if stage else dim
        plan.append(BlockPlan(dim, dim_out, heads, q, kv, thw))
        thw = tuple(a // b for a, b in zip(thw, q))
        dim = dim_out
    return plan


def _layer_norm(dim: int) -> nn.LayerNorm:
    return nn.LayerNorm(dim, eps=1e-6)


def pool_patches(x: torch.Tensor, pool: nn.Module, thw: Triple, k: int) -> tuple[torch.Tensor, Triple]:
    """Apply a 3-D ``pool`` to the patch tokens of ``x``; its first ``k`` tokens pass unchanged.

    x: (B, heads, k + T*H*W, C) or (B, k + T*H*W, C) -> the same layout on the pooled grid."""
    flat = x.ndim == 3
    if flat:
        x = x.unsqueeze(1)  # (B, 1, N, C)
    b, h, _, c = x.shape
    tokens, patches = x[:, :, :k], x[:, :, k:]
    grid = patches.transpose(2, 3).reshape(b * h, c, *thw)  # (B*heads, C, T, H, W)
    grid = pool(grid)  # (B*heads, C, T', H', W')
    new_thw = tuple(grid.shape[2:])
    patches = grid.reshape(b, h, c, -1).transpose(2, 3)  # (B, heads, T'H'W', C)
    out = torch.cat([tokens, patches], dim=2)
    return (out.squeeze(1) if flat else out), new_thw


def rel_index(q_n: int, k_n: int, device=None) -> torch.Tensor:
    """(q_n, k_n) table rows for query position i and key position j: their distance with both
    grids scaled to the finer one, shifted to start at 0 (MViTv2's decomposed relative position)."""
    q_ratio, k_ratio = max(k_n / q_n, 1.0), max(q_n / k_n, 1.0)
    dist = (torch.arange(q_n, device=device)[:, None] * q_ratio
            - torch.arange(k_n, device=device)[None, :] * k_ratio + (k_n - 1) * k_ratio)
    return dist.long()


def rel_table(table: torch.Tensor, q_n: int, k_n: int) -> torch.Tensor:
    """(q_n, k_n, C) embeddings of ``table`` (L, C), resized linearly to 2 * max(q_n, k_n) - 1
    rows when the grid differs from the one the table was made for."""
    length = 2 * max(q_n, k_n) - 1
    if table.shape[0] != length:
        table = F.interpolate(table.t().unsqueeze(0), size=length, mode="linear").squeeze(0).t()
    return table[rel_index(q_n, k_n, table.device)]


class MultiscaleAttention(nn.Module):
    def __init__(self, plan: BlockPlan, cfg: MViTConfig):
        super().__init__()
        self.k = cfg.class_tokens
        self.heads = plan.heads
        self.dim_out = plan.dim_out
        head_dim = plan.dim_out // plan.heads
        self.scale = head_dim ** -0.5
        self.qkv = nn.Linear(plan.dim_in, 3 * plan.dim_out, bias=cfg.qkv_bias)
        self.proj = nn.Linear(plan.dim_out, plan.dim_out)
        kernel = tuple(cfg.pool_kernel)
        for name, stride in (("q", plan.q_stride), ("k", plan.kv_stride), ("v", plan.kv_stride)):
            pooled = math.prod(kernel) > 1 or math.prod(stride) > 1
            setattr(self, f"pool_{name}", nn.Conv3d(
                head_dim, head_dim, kernel, stride, [s // 2 for s in kernel], groups=head_dim,
                bias=False) if pooled else None)
            setattr(self, f"norm_{name}", _layer_norm(head_dim) if pooled else None)
        t, h, w = plan.thw
        side = max(h, w)
        spatial = 2 * max(side // plan.q_stride[1], side // plan.kv_stride[1]) - 1
        self.rel_pos_h = nn.Parameter(torch.zeros(spatial, head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(spatial, head_dim))
        self.rel_pos_t = nn.Parameter(torch.zeros(2 * t - 1, head_dim))
        for p in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
            nn.init.trunc_normal_(p, std=0.02)

    def _pool(self, x: torch.Tensor, name: str, thw: Triple, k: int) -> tuple[torch.Tensor, Triple]:
        pool = getattr(self, f"pool_{name}")
        if pool is None:
            return x, thw
        x, thw = pool_patches(x, pool, thw, k)
        return getattr(self, f"norm_{name}")(x), thw

    def rel_pos_bias(self, q: torch.Tensor, q_thw: Triple, k_thw: Triple,
                     k: int | None = None) -> torch.Tensor:
        """(B, heads, Nq, C) queries -> (B, heads, Pq, Pk) bias of the patch-to-patch scores."""
        k = self.k if k is None else k
        b, n, _, c = q.shape
        qt, qh, qw = q_thw
        kt, kh, kw = k_thw
        qp = q[:, :, k:].reshape(b, n, qt, qh, qw, c)
        rt = torch.einsum("bntyxc,tkc->bntyxk", qp, rel_table(self.rel_pos_t, qt, kt))
        rh = torch.einsum("bntyxc,ykc->bntyxk", qp, rel_table(self.rel_pos_h, qh, kh))
        rw = torch.einsum("bntyxc,xkc->bntyxk", qp, rel_table(self.rel_pos_w, qw, kw))
        bias = (rt[..., :, None, None] + rh[..., None, :, None]
                + rw[..., None, None, :])  # (B, heads, qt, qh, qw, kt, kh, kw)
        return bias.reshape(b, n, qt * qh * qw, kt * kh * kw)

    def forward(self, x: torch.Tensor, thw: Triple,
                tokens: int | None = None) -> tuple[torch.Tensor, Triple]:
        # x: (B, k + T*H*W, C_in) -> (B, k + T'*H'*W', C_out), with the query's grid T'H'W';
        # ``tokens`` overrides k for one call (TransM3E's first stage runs without its receivers)
        t = self.k if tokens is None else tokens
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)  # each (B, heads, N, head_dim)
        q, q_thw = self._pool(q, "q", thw, t)  # (B, heads, k + Pq, head_dim)
        k, k_thw = self._pool(k, "k", thw, t)  # (B, heads, k + Pk, head_dim)
        v, _ = self._pool(v, "v", thw, t)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B, heads, k + Pq, k + Pk)
        attn[:, :, t:, t:] += self.rel_pos_bias(q, q_thw, k_thw, t)
        out = attn.softmax(dim=-1) @ v  # (B, heads, k + Pq, head_dim)
        out[:, :, t:] += q[:, :, t:]  # residual pooling, patch tokens only
        out = out.transpose(1, 2).reshape(b, -1, self.dim_out)  # (B, k + Pq, C_out)
        return self.proj(out), q_thw


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class MultiscaleBlock(nn.Module):
    def __init__(self, plan: BlockPlan, cfg: MViTConfig, drop_path: float):
        super().__init__()
        self.k = cfg.class_tokens
        self.norm1 = _layer_norm(plan.dim_in)
        self.attn = MultiscaleAttention(plan, cfg)
        self.proj = nn.Linear(plan.dim_in, plan.dim_out) if plan.dim_in != plan.dim_out else None
        stride = plan.q_stride
        if math.prod(stride) > 1:
            kernel = [s + 1 if s > 1 else s for s in stride]
            self.pool_skip = nn.MaxPool3d(kernel, stride, [s // 2 for s in kernel])
        else:
            self.pool_skip = None
        self.norm2 = _layer_norm(plan.dim_out)
        self.mlp = Mlp(plan.dim_out, int(plan.dim_out * cfg.mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, thw: Triple,
                tokens: int | None = None) -> tuple[torch.Tensor, Triple]:
        # x: (B, k + T*H*W, C_in) -> (B, k + T'*H'*W', C_out); ``tokens`` overrides k
        t = self.k if tokens is None else tokens
        x_norm = self.norm1(x)
        attn, new_thw = self.attn(x_norm, thw, t)
        skip = x if self.proj is None else self.proj(x_norm)  # (B, k + THW, C_out)
        if self.pool_skip is not None:
            skip, _ = pool_patches(skip, self.pool_skip, thw, t)  # (B, k + T'H'W', C_out)
        x = skip + self.drop_path(attn)
        return x + self.drop_path(self.mlp(self.norm2(x))), new_thw


class MViT(nn.Module):
    """MViTv2 with ``cfg.class_tokens`` class tokens; (N, C, T, H, W) clips -> (N, num_muscles)."""

    def __init__(self, cfg: MViTConfig, num_muscles: int = 20, name: str = "mvit"):
        super().__init__()
        check_config(cfg, num_muscles, name)
        self.cfg = cfg
        self.name = name
        self.plan = block_plan(cfg)
        self.patch_embed = nn.Conv3d(cfg.in_channels, cfg.embed_dim, cfg.patch_kernel,
                                     cfg.patch_stride, cfg.patch_padding)
        self.cls_tokens = nn.Parameter(torch.zeros(cfg.class_tokens, cfg.embed_dim))
        rates = [cfg.drop_path * i / max(1, cfg.depth - 1) for i in range(cfg.depth)]
        self.blocks = nn.ModuleList(MultiscaleBlock(p, cfg, r) for p, r in zip(self.plan, rates))
        width = self.plan[-1].dim_out
        self.norm = _layer_norm(width)
        self.head_drop = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(width, num_muscles)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.cls_tokens, std=0.02)

    @property
    def width(self) -> int:
        return self.plan[-1].dim_out

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, Triple]:
        """(N, C, T, H, W) -> normalised tokens (N, k + T'H'W', width) and the final grid."""
        check_clip(x, self.name, self.cfg.in_channels)
        x = self.patch_embed(x)  # (N, embed, T/2, H/4, W/4)
        thw = tuple(x.shape[2:])
        x = x.flatten(2).transpose(1, 2)  # (N, THW, embed)
        tokens = self.cls_tokens.unsqueeze(0).expand(x.shape[0], -1, -1)  # (N, k, embed)
        x = torch.cat([tokens, x], dim=1)  # (N, k + THW, embed)
        for block in self.blocks:
            x, thw = block(x, thw)  # (N, k + T_iH_iW_i, C_i)
        return self.norm(x), thw

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: (N, C, T, H, W) -> logits (N, num_muscles)
        h, _ = self.forward_features(x)
        cls = h[:, :self.cfg.class_tokens].mean(dim=1)  # (N, width)
        return self.head(self.head_drop(cls))

    def convert_state_dict(self, state: dict) -> tuple[dict, str | None]:
        """A PySlowFast or torchvision MViTv2 state dict under this class's names, its
        relative-position tables resized to this model's input (a 32-frame checkpoint into a
        16-frame model: linear interpolation along the table, as the forward pass would do)."""
        state, key_map = convert_mvit_state(state)
        own = self.state_dict()
        resized = 0
        for key, value in list(state.items()):
            mine = own.get(key)
            if (re.search(r"\.attn\.rel_pos_[hwt]$", key) and mine is not None
                    and value.ndim == 2 and value.shape[1] == mine.shape[1]
                    and value.shape[0] != mine.shape[0]):
                state[key] = F.interpolate(value.float().t().unsqueeze(0), size=mine.shape[0],
                                           mode="linear").squeeze(0).t().to(value.dtype)
                resized += 1
        if resized:
            key_map = f"{key_map or 'native'}; {resized} relative-position tables resized"
        return state, key_map


def check_config(cfg: MViTConfig, num_muscles: int, name: str) -> None:
    if isinstance(num_muscles, bool) or not isinstance(num_muscles, int) or num_muscles < 1:
        raise bad_value(name, f"num_muscles must be a positive integer, but got {num_muscles!r}")
    positive = {k: getattr(cfg, k) for k in ("frames", "crop", "in_channels", "depth",
                                             "embed_dim", "num_heads", "class_tokens")}
    for key, value in positive.items():
        if value < 1:
            raise bad_value(name, f"{key} must be at least 1, but got {value}")
    for key in ("q_stride", "kv_stride", "pool_kernel", "patch_kernel", "patch_stride"):
        value = getattr(cfg, key)
        if len(value) != 3 or min(value) < 1:
            raise bad_value(name, f"{key} must be three positive integers (T, H, W), but got "
                                  f"{list(value)}")
    if len(cfg.patch_padding) != 3 or min(cfg.patch_padding) < 0:
        raise bad_value(name, f"patch_padding must be three integers >= 0, but got "
                              f"{list(cfg.patch_padding)}")
    if any(not 0 <= b < cfg.depth for b in cfg.stage_blocks) or \
            len(set(cfg.stage_blocks)) != len(cfg.stage_blocks):
        raise bad_value(name, f"stage_blocks must be distinct block indices in 0..{cfg.depth - 1},"
                              f" but got {list(cfg.stage_blocks)}")
    if not 0.0 <= cfg.drop_path < 1.0 or not 0.0 <= cfg.dropout < 1.0:
        raise bad_value(name, f"drop_path and dropout must be in [0, 1), but got "
                              f"{cfg.drop_path} and {cfg.dropout}")
    if cfg.mlp_ratio <= 0:
        raise bad_value(name, f"mlp_ratio must be positive, but got {cfg.mlp_ratio}")
    grid = (cfg.frames // cfg.patch_stride[0], cfg.crop // cfg.patch_stride[1])
    if min(grid) < 1:
        raise bad_value(name, f"frames {cfg.frames} and crop {cfg.crop} are smaller than the "
                              f"patch stride {list(cfg.patch_stride)}")
    for i, p in enumerate(block_plan(cfg)):
        if min(p.thw) < 1:
            raise bad_value(name, f"block {i} would see an empty grid {list(p.thw)}: the input "
                                  f"({cfg.frames} frames, {cfg.crop} px) is too small for "
                                  f"{len(cfg.stage_blocks)} q-pooling stages")


# --------------------------------------------------------------------------- weights

def _tv_name(key: str) -> str:
    """A torchvision ``mvit_v2_s`` key under this module's names."""
    key = re.sub(r"^conv_proj\.", "patch_embed.", key)
    key = re.sub(r"^head\.1\.", "head.", key)
    key = key.replace(".attn.project.0.", ".attn.proj.")
    key = key.replace(".mlp.0.", ".mlp.fc1.").replace(".mlp.3.", ".mlp.fc2.")
    key = re.sub(r"^(blocks\.\d+)\.project\.", r"\1.proj.", key)
    key = re.sub(r"\.attn\.pool_([qkv])\.pool\.", r".attn.pool_\1.", key)
    return re.sub(r"\.attn\.pool_([qkv])\.norm_act\.0\.", r".attn.norm_\1.", key)


def convert_mvit_state(state: dict) -> tuple[dict, str | None]:
    """Rename an MViTv2 state dict to this module's names; returns (state, key map applied).

    torchvision (``conv_proj``, ``pos_encoding.class_token``, ``attn.pool_q.pool``,
    ``attn.pool_q.norm_act.0``, ``attn.project.0``, ``mlp.0``/``mlp.3``, ``project``,
    ``head.1``) and PySlowFast (``patch_embed.proj``, ``cls_token`` of shape (1, 1, C),
    ``head.projection``) are recognised by their patch-embedding key; other dicts pass as they
    are. A class token of the reference (one) is kept as it is: with k > 1 its shape differs and
    ``load_weights`` reports it as skipped. Kinetics heads (400 outputs) are likewise skipped by
    shape."""
    if "conv_proj.weight" in state:
        out = {}
        for key, value in state.items():
            if key == "pos_encoding.class_token":
                out["cls_tokens"] = value.reshape(1, -1)
            else:
                out[_tv_name(key)] = value
        return out, "torchvision"
    if "patch_embed.proj.weight" in state:
        out = {}
        for key, value in state.items():
            if key == "cls_token":
                out["cls_tokens"] = value.reshape(-1, value.shape[-1])
            elif key.startswith("patch_embed.proj."):
                out[key.replace("patch_embed.proj.", "patch_embed.", 1)] = value
            elif key.startswith("head.projection."):
                out[key.replace("head.projection.", "head.", 1)] = value
            else:
                out[key] = value
        return out, "pyslowfast"
    return state, None


# --------------------------------------------------------------------------- variants

VARIANTS: dict[str, MViTConfig] = {
    # PySlowFast MVITv2_S_16x4 = torchvision mvit_v2_s
    "mvitv2-s": MViTConfig(),
    # PySlowFast MVITv2_B_32x3 at the release's 16 frames: depth 24, stages at blocks 2, 5, 21
    "mvitv2-b": MViTConfig(depth=24, stage_blocks=(2, 5, 21), drop_path=0.3),
}


def _build(variant: str, name: str, num_muscles: int, model_cfg: dict) -> MViT:
    cfg = variant_config(MViTConfig, VARIANTS[variant], model_cfg, name)
    return MViT(cfg, num_muscles, name)


@register_baseline("mvitv2-s-tiny", family="video", modalities=("rgb",), config=MViTConfig,
                   description="MViTv2-S's class, narrow and shallow, for CPU runs on the "
                               "embedded benchmark (baselines/configs/mvitv2-s-tiny.toml)")
@register_baseline("mvitv2-s", family="video", modalities=("rgb",), config=MViTConfig,
                   paper_name="MViTv2-S", paper_params_m=34.2)
def build_mvitv2_s(num_muscles: int = 20, **model_cfg) -> MViT:
    """MViTv2-S 16x4 (PySlowFast MVITv2_S_16x4 = torchvision mvit_v2_s), one class token."""
    return _build("mvitv2-s", "mvitv2-s", num_muscles, model_cfg)


@register_baseline("mvitv2-b-tiny", family="video", modalities=("rgb",), config=MViTConfig,
                   description="MViTv2-B's builder at depth 6 with three stages, narrow, for "
                               "CPU runs (baselines/configs/mvitv2-b-tiny.toml)")
@register_baseline("mvitv2-b", family="video", modalities=("rgb",), config=MViTConfig,
                   paper_name="MViTv2-B", paper_params_m=51.2,
                   params_note="the paper's 51.2M is PySlowFast's 32-frame Kinetics-400 model "
                               "(400 outputs, 32-frame tables: 51.23M)")
def build_mvitv2_b(num_muscles: int = 20, **model_cfg) -> MViT:
    """MViTv2-B (PySlowFast MVITv2_B_32x3 layout, 16 frames as in the release)."""
    return _build("mvitv2-b", "mvitv2-b", num_muscles, model_cfg)
