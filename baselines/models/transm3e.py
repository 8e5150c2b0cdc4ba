"""TransM3E (Peng et al., the MuscleMap papers' own method): MViTv2 with multi-classification
tokens (MCTs), MCT knowledge distillation (MCTKD) from a frozen sender branch, and MCT fusion
(MCTF); the three-dataset version, whose sender is an MViTv2 on the RGB difference. The journal
("in the wild") version with a skeleton-GCN sender lives in transm3e_gcn.py on the same class.

**Main branch.** The project's MViTv2 (mvit.py) with ``class_tokens`` = k MCTs, plus k receiver
tokens in front of them: the token layout is [k receivers, k MCTs, patches], as in the MuscleMap
release. Receivers start at zero, MCTs truncated-normal(0.02). All 2k tokens take part in
attention but stay out of pooling, relative-position bias and the residual-pooling add.

**Sender.** A network of the main branch's architecture (k tokens, RGB input) trained separately
on the RGB difference (``run-baseline transm3e-s --stage sender``), then loaded and frozen: no
gradients, always in eval mode, and never run at test time (prediction uses RGB only).

**MCTKD.** At each KD position p the receivers r_p (N, k, C) and the sender's tokens s_p give

    KD_p = alpha * T^2 * mean_{n, i, c} KL( softmax(s_p / T) || softmax(r_p / T) )

with the softmax over the token axis ("token", the papers' TW), the channel axis ("channel", CW)
or both at once ("full", FP), and the element-wise mean of torch's ``KLDivLoss()`` default (the
release's reduction). L_MCTKD = mean over positions, added to the task loss with ``kd_weight``
(1 in the papers). Positions (``kd``): "dense" after every block (the three-dataset choice),
"sparse" after each query-pooling block and the last one (the journal's), "final" after the last
block, "patch_embed" on the tokens entering block 0 (there they are still input-independent
parameters, so the term only pulls the initial receivers towards the sender's), "none".
``kd_tokens = "classification"`` distils into the MCTs themselves (the papers' "conventional"
KD, without receivers).

**MCTF** (after the final LayerNorm, receivers r and MCTs m, each (N, k, C)):

    a = (r + m) / 2
    f = a + Mixed(LN_[k,C](r), LN_[k,C](m))
    f = a + DropPath(MLP(LN_[k,C](f)))          -> mean over the k tokens -> dropout -> Linear

Mixed: q, k, v projections per token set (no bias); the attention maps A(r, r), A(m, m),
A(r, m) = softmax(Q_r K_m^T * scale) and A(m, r); each set's output sums three projected terms
with its own values: r' = P1 A(r,r) V_r + P2 A(r,m) V_r + P3 A(m,r) V_r, m' likewise with V_m
(six output projections, ``mctf_terms`` picks the supplementary Table 11 subsets); then
Linear(2C, C), ReLU, Linear(C, C) on [r', m']. ``fusion_heads`` heads of width C // heads.
``fusion`` also takes the papers' ablation alternatives: "sum", "concat" (Linear(2C, C) per
token), "mul", "self_attention" (a transformer block over all 2k tokens), "cross_attention" (the
MCTs query the receivers), and "none" (the mean of the MCTs, receivers unused by the head).

**Schedule.** For the first ``mct_epochs`` epochs the main branch runs with its MCTs only (no
receivers in the sequence, no KD, the head on the MCTs' mean); from then on with receivers, KD
and fusion. The training loop tells the model its epoch (``set_epoch``); the epoch is a buffer,
so a resumed run and the final prediction know the stage.

**Views.** With ``[data].train_views = 2`` the loader gives (N, 2, 6, T, H, W); ``view_pairing``
"own" distils each view's RGB from its own difference, "half" pairs view 1's RGB with view 2's
difference and view 2's RGB with an all-zero difference (the release's "50% MCTKD",
supplementary Table 13 case 3), "zero" zeroes every difference (case 4).

Trainable parameters (the count the papers print; the frozen sender is left out): TransM3E-S
34,245,524 (MViTv2-S, 20 outputs) + 19 x 96 (19 more MCTs) + 20 x 96 (receivers) + 10,126,848
(MCTF at width 768) = 44,376,116, the paper's 44.4M; TransM3E-B by the same count 61,031,636
against the paper's 60.7M (docs/models-transm3e.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Annotated, Literal, NamedTuple

import msgspec
import torch
import torch.nn.functional as F
from torch import nn

from amge_eval.baselines.registry import SenderPlan, register_baseline
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import sha256_file

from ._video import DropPath, bad_value, variant_config
from .mvit import MViT, MViTConfig

KDPlacement = Literal["dense", "sparse", "final", "patch_embed", "none"]
KDAxis = Literal["token", "channel", "full"]
Fusion = Literal["mctf", "sum", "concat", "mul", "self_attention", "cross_attention", "none"]
MCTFTerm = Literal["self", "qm_kr", "qr_km"]
SENDER_FILE_KIND = "amge-eval-sender"


@dataclass(frozen=True)
class TransM3EConfig(MViTConfig):
    """MViTConfig (the main branch and the sender share it) plus the method's switches."""

    class_tokens: int = 20  # k MCTs (and k receivers, k sender tokens); Table 9 ablates 1..30
    # MCTKD
    kd: KDPlacement = "dense"  # where receivers are distilled (Table 4); "none": no sender
    kd_axis: KDAxis = "token"  # the softmax axis: token (TW), channel (CW), full (FP)
    kd_tokens: Literal["receiver", "classification"] = "receiver"  # receivers, or the MCTs
    kd_temperature: Annotated[float, msgspec.Meta(gt=0.0)] = 10.0  # T
    kd_alpha: Annotated[float, msgspec.Meta(ge=0.0)] = 0.9  # alpha
    kd_weight: Annotated[float, msgspec.Meta(ge=0.0)] = 1.0  # weight of L_MCTKD in the loss
    # MCTF
    fusion: Fusion = "mctf"  # how receivers and MCTs become the head's input (Table 5)
    fusion_heads: Annotated[int, msgspec.Meta(ge=1)] = 1  # heads of the fusion (Table 10)
    mctf_terms: tuple[MCTFTerm, ...] = ("self", "qm_kr", "qr_km")  # Table 11: 7 = all
    fusion_mlp_ratio: Annotated[float, msgspec.Meta(gt=0.0)] = 1.0
    fusion_drop_path: Annotated[float, msgspec.Meta(ge=0.0, lt=1.0)] = 0.2
    # schedule and views
    mct_epochs: Annotated[int, msgspec.Meta(ge=0)] = 0  # first stage: MCTs only
    view_pairing: Literal["own", "half", "zero"] = "own"  # Table 13 cases 1, 3, 4


def mvit_part(cfg: TransM3EConfig, **changes) -> MViTConfig:
    """The MViTConfig fields of ``cfg`` (RGB input), with ``changes``."""
    values = {f.name: getattr(cfg, f.name) for f in fields(MViTConfig)}
    return MViTConfig(**{**values, "in_channels": 3, **changes})


def check_switches(cfg: TransM3EConfig, name: str) -> None:
    """Rules across the switches (each switch's own values are checked when the config loads)."""
    if cfg.fusion != "none" and cfg.kd_tokens != "receiver":
        raise bad_value(name, f"fusion = {cfg.fusion!r} fuses receivers with the MCTs, but "
                              f"kd_tokens = 'classification' builds no receivers; set fusion = "
                              f"'none' or kd_tokens = 'receiver'")
    if cfg.kd == "none" and cfg.kd_tokens != "receiver":
        raise bad_value(name, "kd_tokens = 'classification' needs a KD placement (kd), not 'none'")
    terms = list(cfg.mctf_terms)
    if not terms or len(set(terms)) != len(terms):
        raise bad_value(name, f"mctf_terms must name distinct terms of 'self', 'qm_kr', "
                              f"'qr_km' (at least one), but got {terms}")
    if cfg.in_channels != 3:
        raise bad_value(name, f"in_channels must be 3 (each branch takes 3 channels: RGB, the "
                              f"RGB difference), but got {cfg.in_channels}")


# --------------------------------------------------------------------------- MCTKD

def mctkd_loss(receiver: torch.Tensor, sender: torch.Tensor, temperature: float, alpha: float,
               axis: str) -> torch.Tensor:
    """(N, k, C) receiver and sender tokens -> (N,) KD loss per sample.

    KL(softmax(sender / T) || softmax(receiver / T)) element by element, summed over the token
    and channel axes and divided by k * C (so the mean over samples is torch's element-wise
    ``KLDivLoss()`` mean), times alpha * T^2. The softmax runs over the tokens ("token"), the
    channels ("channel") or the whole (k, C) matrix ("full")."""
    if receiver.shape != sender.shape or receiver.ndim != 3:
        raise ValueError(f"Expected receiver and sender tokens of one shape (N, k, C), but got "
                         f"{tuple(receiver.shape)} and {tuple(sender.shape)}")
    n, k, c = receiver.shape
    r, s = receiver.float() / temperature, sender.float() / temperature
    if axis == "full":
        r, s, dim = r.reshape(n, 1, k * c), s.reshape(n, 1, k * c), 2
    else:
        dim = {"token": 1, "channel": 2}[axis]
    log_r, log_s = F.log_softmax(r, dim=dim), F.log_softmax(s, dim=dim)
    kl = (log_s.exp() * (log_s - log_r)).reshape(n, -1).sum(1) / (k * c)
    return kl * (alpha * temperature ** 2)


def kd_positions(placement: str, cfg: MViTConfig) -> list[int]:
    """Block indices after which tokens are distilled; -1 = the tokens entering block 0."""
    last = cfg.depth - 1
    return {"dense": list(range(cfg.depth)),
            "sparse": sorted({*cfg.stage_blocks, last}),
            "final": [last], "patch_embed": [-1], "none": []}[placement]


# --------------------------------------------------------------------------- fusion

def _heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(N, k, heads * d) -> (N, heads, k, d)."""
    n, k, _ = x.shape
    return x.reshape(n, k, heads, -1).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    """(N, heads, k, d) -> (N, k, heads * d)."""
    n, h, k, d = x.shape
    return x.transpose(1, 2).reshape(n, k, h * d)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class MixedAttention(nn.Module):
    """MCTF's attention: receivers r and MCTs m, each (N, k, C) -> fused tokens (N, k, C)."""

    def __init__(self, dim: int, heads: int, terms: tuple[str, ...]):
        super().__init__()
        self.heads = heads
        self.terms = tuple(terms)
        inner = heads * (dim // heads)
        self.scale = (dim // heads) ** -0.5
        # only the query and key projections some term uses (values: both sets, always)
        used = {"v_r", "v_m"}
        used |= {"q_r", "k_r", "q_m", "k_m"} if "self" in self.terms else set()
        used |= {"q_m", "k_r"} if "qm_kr" in self.terms else set()
        used |= {"q_r", "k_m"} if "qr_km" in self.terms else set()
        for name in ("q_r", "k_r", "v_r", "q_m", "k_m", "v_m"):
            setattr(self, name, nn.Linear(dim, inner, bias=False) if name in used else None)
        # one output projection per (token set, term): "r_self", "r_qm_kr", ..., "m_qr_km"
        self.out = nn.ModuleDict({f"{s}_{t}": nn.Linear(inner, dim) for s in "rm"
                                  for t in self.terms})
        self.fuse = nn.Sequential(nn.Linear(2 * dim, dim), nn.ReLU(), nn.Linear(dim, dim))

    def forward(self, r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        h, x = self.heads, {"r": r, "m": m}

        def proj(kind: str, s: str) -> torch.Tensor:  # (N, heads, k, d)
            return _heads(getattr(self, f"{kind}_{s}")(x[s]), h)

        def att(qs: str, ks: str) -> torch.Tensor:  # (N, heads, k, k)
            return ((proj("q", qs) * self.scale) @ proj("k", ks).transpose(-2, -1)).softmax(-1)

        maps = {t: att(*t_sets) for t, t_sets in (("qm_kr", "mr"), ("qr_km", "rm"))
                if t in self.terms}
        outs = []
        for s in "rm":
            own = dict(maps, self=att(s, s)) if "self" in self.terms else maps
            v = proj("v", s)
            outs.append(sum(self.out[f"{s}_{t}"](_merge(own[t] @ v)) for t in self.terms))
        return self.fuse(torch.cat(outs, dim=-1))  # (N, k, C)


class MCTF(nn.Module):
    """Multi-classification tokens fusion: (receivers, MCTs) (N, k, C) each -> (N, C)."""

    def __init__(self, tokens: int, dim: int, heads: int, terms: tuple[str, ...],
                 mlp_ratio: float, drop_path: float):
        super().__init__()
        self.norm_r = nn.LayerNorm([tokens, dim])  # over tokens and channels jointly
        self.norm_m = nn.LayerNorm([tokens, dim])
        self.attn = MixedAttention(dim, heads, terms)
        self.norm2 = nn.LayerNorm([tokens, dim])
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        avg = (r + m) / 2  # (N, k, C)
        f = avg + self.attn(self.norm_r(r), self.norm_m(m))
        f = avg + self.drop_path(self.mlp(self.norm2(f)))
        return f.mean(1)  # (N, C)


class Attention(nn.Module):
    """Plain multi-head attention of queries x on keys/values y: (N, a, C), (N, b, C) -> (N, a, C)."""

    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        inner = heads * (dim // heads)
        self.scale = (dim // heads) ** -0.5
        self.q, self.k, self.v = (nn.Linear(dim, inner) for _ in range(3))
        self.proj = nn.Linear(inner, dim)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        q, k, v = _heads(self.q(x), self.heads), _heads(self.k(y), self.heads), \
            _heads(self.v(y), self.heads)
        a = ((q * self.scale) @ k.transpose(-2, -1)).softmax(-1)
        return self.proj(_merge(a @ v))


class AttentionFusion(nn.Module):
    """The papers' attention alternatives to MCTF (Table 5): "self_attention", a pre-norm
    transformer block over all 2k tokens, mean over them; "cross_attention", the MCTs query the
    receivers, then an MLP, mean over the MCTs."""

    def __init__(self, kind: str, dim: int, heads: int, mlp_ratio: float, drop_path: float):
        super().__init__()
        self.kind = kind
        self.norm_q = nn.LayerNorm(dim)
        self.norm_kv = nn.LayerNorm(dim) if kind == "cross_attention" else None
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.drop_path = DropPath(drop_path)

    def forward(self, r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        if self.kind == "self_attention":
            x = torch.cat([r, m], dim=1)  # (N, 2k, C)
            x = x + self.drop_path(self.attn(self.norm_q(x), self.norm_q(x)))
        else:
            x = m + self.drop_path(self.attn(self.norm_q(m), self.norm_kv(r)))  # (N, k, C)
        x = x + self.drop_path(self.mlp(self.norm2(x)))
        return x.mean(1)


class SimpleFusion(nn.Module):
    """"sum", "mul" or "concat" of receivers and MCTs, token by token, then the token mean."""

    def __init__(self, kind: str, dim: int):
        super().__init__()
        self.kind = kind
        self.proj = nn.Linear(2 * dim, dim) if kind == "concat" else None

    def forward(self, r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
        if self.kind == "sum":
            return (r + m).mean(1)
        if self.kind == "mul":
            return (r * m).mean(1)
        return self.proj(torch.cat([r, m], dim=-1)).mean(1)


def build_fusion(cfg: TransM3EConfig, dim: int) -> nn.Module | None:
    if cfg.fusion == "none":
        return None
    if cfg.fusion == "mctf":
        return MCTF(cfg.class_tokens, dim, cfg.fusion_heads, cfg.mctf_terms,
                    cfg.fusion_mlp_ratio, cfg.fusion_drop_path)
    if cfg.fusion in ("self_attention", "cross_attention"):
        return AttentionFusion(cfg.fusion, dim, cfg.fusion_heads, cfg.fusion_mlp_ratio,
                               cfg.fusion_drop_path)
    return SimpleFusion(cfg.fusion, dim)


# --------------------------------------------------------------------------- the sender

class MViTSender(nn.Module):
    """The three-dataset sender: an MViTv2 with k tokens on the RGB difference. As a classifier
    (``forward``) it is trained in the sender stage; inside TransM3E only ``tokens`` runs."""

    modality = "rgb_diff"

    def __init__(self, cfg: MViTConfig, num_muscles: int = 20, name: str = "transm3e sender"):
        super().__init__()
        self.net = MViT(cfg, num_muscles, name)
        self.depth = cfg.depth
        self.widths = {-1: cfg.embed_dim, **{i: p.dim_out for i, p in enumerate(self.net.plan)}}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (N, 3, T, H, W) -> (N, num_muscles)

    def tokens(self, x: torch.Tensor, positions: list[int]) -> dict[int, torch.Tensor]:
        """(N, 3, T, H, W) -> {position: (N, k, C_p) class tokens after that block}."""
        return mvit_tokens(self.net, x, self.net.cls_tokens, positions, self.net.cfg.class_tokens)[1]


def mvit_tokens(net: MViT, x: torch.Tensor, tokens: torch.Tensor, positions: list[int],
                collect: int) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
    """Run ``net`` on clips x with ``tokens`` (t, C) in front of the patches; returns the final
    normalised sequence (N, t + P, C_last) and the first ``collect`` tokens after each block of
    ``positions`` (-1: as they enter block 0)."""
    h = net.patch_embed(x)  # (N, embed, T', H', W')
    thw = tuple(h.shape[2:])
    h = h.flatten(2).transpose(1, 2)  # (N, P, embed)
    t = tokens.shape[0]
    h = torch.cat([tokens.unsqueeze(0).expand(h.shape[0], -1, -1), h], dim=1)  # (N, t + P, C)
    out = {}
    if -1 in positions:
        out[-1] = h[:, :collect]
    for i, block in enumerate(net.blocks):
        h, thw = block(h, thw, t)  # (N, t + P_i, C_i)
        if i in positions:
            out[i] = h[:, :collect]
    return net.norm(h), out


def freeze(module: nn.Module) -> nn.Module:
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


class LoadedSender(NamedTuple):
    file: str
    sha256: str
    baseline: str
    sender: dict
    run: dict | None


def read_sender_file(path: Path, describe: dict) -> tuple[dict, dict, dict | None, str]:
    """A sender file's state dict, architecture, run facts and baseline; E822 when it is missing,
    unreadable, not a sender file, or of another architecture than ``describe``."""
    text = str(path)
    if "://" in text:
        raise AmgeError(f"--sender takes a local file, not a URL ({text})", code="E822")
    p = Path(path).expanduser()
    if not p.is_file():
        raise AmgeError(f"Sender file {p} not found; train one with `amge-eval run-baseline NAME "
                        f"--stage sender` (it writes sender.pt into its run folder)", code="E822")
    try:
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise AmgeError(f"Sender file {p} is not readable: {exc}", code="E822") from exc
    if not isinstance(obj, dict) or obj.get("kind") != SENDER_FILE_KIND:
        raise AmgeError(f"{p} is not a sender file of `run-baseline --stage sender` (no kind = "
                        f"{SENDER_FILE_KIND!r})", code="E822")
    theirs = obj.get("sender") or {}
    if theirs != describe:
        diff = sorted(k for k in set(theirs) | set(describe) if theirs.get(k) != describe.get(k))
        detail = "; ".join(f"{k}: file {theirs.get(k)!r}, model {describe.get(k)!r}"
                           for k in diff[:4])
        raise AmgeError(f"Sender file {p} holds another sender than this config needs ({detail});"
                        f" train it with `--stage sender` and the same [model] table", code="E822")
    return obj["model"], theirs, obj.get("run"), str(obj.get("baseline", ""))


# --------------------------------------------------------------------------- the model

class KDOutput(NamedTuple):
    """What TransM3E returns in training: the logits and each sample's KD loss (0 without KD)."""

    logits: torch.Tensor  # (N * views, num_muscles)
    kd: torch.Tensor  # (N * views,)


class TransM3E(nn.Module):
    """(N, 3, T, H, W) RGB clips -> (N, num_muscles) logits at test time; in training the
    loader's (N, 6, T, H, W) RGB + RGB-difference clips (or (N, 2, 6, T, H, W) with two views)
    -> KDOutput."""

    may_leave_parameters_unused = True  # receivers and fusion idle in the first stage (DDP)

    def __init__(self, cfg: TransM3EConfig, num_muscles: int = 20, name: str = "transm3e"):
        super().__init__()
        check_switches(cfg, name)
        self.cfg = cfg
        self.name = name
        self.k = cfg.class_tokens
        self.main = MViT(mvit_part(cfg), num_muscles, name)  # its cls_tokens are the MCTs
        uses_receivers = cfg.kd_tokens == "receiver" and (cfg.kd != "none" or cfg.fusion != "none")
        self.receivers = nn.Parameter(torch.zeros(self.k, cfg.embed_dim)) if uses_receivers else None
        self.fusion = build_fusion(cfg, self.main.width)
        self.positions = kd_positions(cfg.kd, self.main.cfg)
        self.sender = freeze(self.build_sender()) if cfg.kd != "none" else None
        self.adapters = nn.ModuleDict()
        if self.sender is not None:
            widths = {-1: cfg.embed_dim, **{i: p.dim_out for i, p in enumerate(self.main.plan)}}
            for p in self.positions:
                w_send = self.sender.widths[self.sender_position(p)]
                if w_send != widths[p]:  # a sender of another architecture (the GCN)
                    self.adapters[str(p)] = nn.Linear(widths[p], w_send)
        self.register_buffer("epoch", torch.zeros((), dtype=torch.long))
        self.sender_info: LoadedSender | None = None

    # ---- the sender
    def build_sender(self) -> nn.Module:
        return MViTSender(mvit_part(self.cfg, drop_path=0.0, dropout=0.0), name=f"{self.name} sender")

    def sender_describe(self) -> dict:
        return sender_describe(self.cfg)

    def sender_position(self, p: int) -> int:
        """The sender block whose tokens receiver position ``p`` is distilled from: the same
        block for a sender of the same depth, else the one at the nearest relative depth,
        round-half-up((p + 1) * sender depth / main depth) - 1."""
        d_main, d_send = self.main.cfg.depth, self.sender.depth
        if p < 0:
            return p
        return min(d_send - 1, max(0, int((p + 1) * d_send / d_main + 0.5) - 1))

    def load_sender(self, path: Path) -> LoadedSender:
        """Load and freeze the sender from a file of `run-baseline --stage sender`."""
        if self.sender is None:
            raise AmgeError(f"{self.name} with kd = 'none' distils from no sender; drop --sender",
                            code="E823")
        state, describe, run, baseline = read_sender_file(path, self.sender_describe())
        try:
            self.sender.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            first = str(exc).splitlines()[0] if str(exc) else "keys differ"
            raise AmgeError(f"Sender file {path} does not fit the sender: {first}",
                            code="E822") from exc
        freeze(self.sender)
        self.sender_info = LoadedSender(Path(path).name, sha256_file(Path(path)), baseline,
                                      describe, run)
        return self.sender_info

    def train(self, mode: bool = True):
        super().train(mode)
        if self.sender is not None:
            self.sender.eval()  # a frozen teacher: no dropout, no drop-path
        return self

    # ---- schedule
    def set_epoch(self, epoch: int) -> None:
        self.epoch.fill_(int(epoch))

    @property
    def full_method(self) -> bool:
        """False in the first stage (MCTs only)."""
        return int(self.epoch) >= self.cfg.mct_epochs

    def settings(self) -> dict:
        """The method's switches as this model runs them (for the run record)."""
        c = self.cfg
        return {"class_tokens": c.class_tokens, "kd": c.kd, "kd_axis": c.kd_axis,
                "kd_tokens": c.kd_tokens, "kd_temperature": c.kd_temperature,
                "kd_alpha": c.kd_alpha, "kd_weight": c.kd_weight,
                "kd_positions": list(self.positions),
                "sender_positions": [self.sender_position(p) for p in self.positions]
                if self.sender is not None else [],
                "fusion": c.fusion, "fusion_heads": c.fusion_heads,
                "mctf_terms": list(c.mctf_terms), "mct_epochs": c.mct_epochs,
                "view_pairing": c.view_pairing, "receivers": self.receivers is not None,
                "sender": "none" if self.sender is None else type(self.sender).__name__,
                "test_inputs": "rgb (the sender is not run)"}

    def check_data_settings(self, data: dict) -> None:
        """Refuse a loader that cannot feed the switches (before any data is read)."""
        views = data.get("train_views", 1)
        if self.cfg.view_pairing == "half" and views != 2:
            raise AmgeError(f"[model].view_pairing = 'half' pairs two views, but [data]."
                            f"train_views = {views}; set data.train_views=2", code="E803")

    # ---- forward
    def split_input(self, x):
        """Training input -> (RGB clips (N*V, 3, T, H, W), the sender's input (N*V, ...))."""
        if not isinstance(x, torch.Tensor):
            raise AmgeError(f"{self.name} trains on RGB + RGB-difference clips, not "
                            f"{type(x).__name__}", code="E821")
        if x.ndim == 6:  # (N, V, 6, T, H, W)
            if self.cfg.view_pairing == "half":
                from amge_eval.baselines.data.transforms import mctkd_pairing

                x = mctkd_pairing(x)
            x = x.flatten(0, 1)
        if x.ndim != 5 or x.shape[1] != 6:
            raise AmgeError(f"{self.name} trains on RGB + RGB-difference clips (N, 6, T, H, W) or "
                            f"(N, views, 6, T, H, W), but got {tuple(x.shape)}", code="E821")
        aux = x[:, 3:]
        if self.cfg.view_pairing == "zero":
            aux = torch.zeros_like(aux)
        return x[:, :3], aux

    def test_input(self, x):
        """Test input -> RGB clips; 6-channel clips are cut to their RGB."""
        return x[:, :3] if x.ndim == 5 and x.shape[1] == 6 else x

    def forward(self, x):
        if not self.training:
            return self._main(self.test_input(x), kd=False)[0]
        rgb, aux = self.split_input(x)
        logits, received = self._main(rgb, kd=self.sender is not None and self.full_method)
        if not received:
            return KDOutput(logits, logits.new_zeros(logits.shape[0]))
        with torch.no_grad():
            sent = self.sender.tokens(aux, sorted({self.sender_position(p) for p in received}))
        kd = []
        for p, r in received.items():
            if str(p) in self.adapters:
                r = self.adapters[str(p)](r)
            kd.append(mctkd_loss(r, sent[self.sender_position(p)], self.cfg.kd_temperature,
                                 self.cfg.kd_alpha, self.cfg.kd_axis))
        return KDOutput(logits, torch.stack(kd, 1).mean(1))

    def _main(self, rgb: torch.Tensor, kd: bool):
        """RGB clips -> (logits (N, num_muscles), {KD position: (N, k, C) tokens})."""
        from ._video import check_clip

        check_clip(rgb, self.name, 3)
        k = self.k
        full = self.full_method
        mcts = self.main.cls_tokens
        with_receivers = self.receivers is not None and full
        tokens = torch.cat([self.receivers, mcts]) if with_receivers else mcts
        h, received = mvit_tokens(self.main, rgb, tokens, self.positions if kd else [], k)
        if with_receivers and self.fusion is not None:
            feat = self.fusion(h[:, :k], h[:, k:2 * k])  # (N, C)
        else:
            feat = h[:, tokens.shape[0] - k:tokens.shape[0]].mean(1)  # the MCTs' mean
        return self.main.head(self.main.head_drop(feat)), received

    def training_loss(self, out: KDOutput, y: torch.Tensor, rows: torch.Tensor,
                      loss: str = "bce") -> torch.Tensor:
        """Per-sample loss (N,): the multi-label loss of ``[train].loss`` plus kd_weight * KD,
        averaged over the sample's views."""
        from amge_eval.baselines.training import multilabel_loss

        n = y.shape[0]
        views = out.logits.shape[0] // n
        task = multilabel_loss(out.logits, y.repeat_interleave(views, 0), loss)
        return (task + self.cfg.kd_weight * out.kd).view(n, views).mean(1)

    def convert_state_dict(self, state: dict) -> tuple[dict, str | None]:
        """A TransM3E checkpoint as it is; an MViTv2 one (the project's, PySlowFast's or
        torchvision's names) into the main branch."""
        if any(k.startswith(("main.", "sender.", "fusion.")) for k in state):
            return state, None
        mvit, key_map = self.main.convert_state_dict(state)
        return {f"main.{k}": v for k, v in mvit.items()}, f"{key_map or 'native'} into main"


def sender_describe(cfg: TransM3EConfig) -> dict:
    """What a sender file must hold for ``cfg``: its inputs and architecture."""
    arch = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(mvit_part(cfg)).items()
            if k not in ("drop_path", "dropout")}  # regularisers: no part of the weights
    return {"kind": "mvit", "modality": "rgb_diff", "architecture": arch}


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- variants

VARIANTS: dict[str, TransM3EConfig] = {
    "transm3e-s": TransM3EConfig(),
    "transm3e-b": TransM3EConfig(depth=24, stage_blocks=(2, 5, 21), drop_path=0.3),
}


def _config(variant: str, name: str, model_cfg: dict) -> TransM3EConfig:
    cfg = variant_config(TransM3EConfig, VARIANTS[variant], model_cfg, name)
    check_switches(cfg, name)
    return cfg


def _sender_plan(variant: str, name: str):
    def plan(model_cfg: dict) -> SenderPlan | None:
        cfg = _config(variant, name, model_cfg)
        if cfg.kd == "none":
            return None
        sender_cfg = mvit_part(cfg, drop_path=cfg.drop_path, dropout=cfg.dropout)
        return SenderPlan(modality="rgb_diff", family="video",
                          build=lambda: MViTSender(sender_cfg, name=f"{name} sender"),
                          describe=sender_describe(cfg))
    return plan


def _build(variant: str, name: str, num_muscles: int, model_cfg: dict) -> TransM3E:
    return TransM3E(_config(variant, name, model_cfg), num_muscles, name)


B_NOTE = ("the same count as the paper's 44.4M for TransM3E-S (MViTv2-B at 16 frames with 39 "
          "more tokens + MCTF, frozen sender left out) gives 61.03M; the 0.3M gap to the "
          "paper's 60.7M is unexplained")


@register_baseline("transm3e-tiny", family="video", modalities=("rgb",),
                   train_modalities=("rgb", "rgb_diff"), config=TransM3EConfig,
                   sender=_sender_plan("transm3e-s", "transm3e-tiny"),
                   description="TransM3E-S's classes, narrow and shallow, for CPU runs on the "
                               "embedded benchmark (baselines/configs/transm3e-tiny.toml)")
@register_baseline("transm3e-s", family="video", modalities=("rgb",),
                   train_modalities=("rgb", "rgb_diff"), config=TransM3EConfig,
                   sender=_sender_plan("transm3e-s", "transm3e-s"),
                   paper_name="TransM3E-Small", paper_params_m=44.4)
def build_transm3e_s(num_muscles: int = 20, **model_cfg) -> TransM3E:
    """TransM3E-S: MViTv2-S with 20 MCTs and 20 receivers, dense token-wise MCTKD from a frozen
    RGB-difference MViTv2-S, MCTF; RGB only at test time."""
    return _build("transm3e-s", "transm3e-s", num_muscles, model_cfg)


@register_baseline("transm3e-b", family="video", modalities=("rgb",),
                   train_modalities=("rgb", "rgb_diff"), config=TransM3EConfig,
                   sender=_sender_plan("transm3e-b", "transm3e-b"),
                   paper_name="TransM3E-Base", paper_params_m=60.7, params_note=B_NOTE)
def build_transm3e_b(num_muscles: int = 20, **model_cfg) -> TransM3E:
    """TransM3E-B: the same method on MViTv2-B (depth 24, stages at blocks 2, 5, 21)."""
    return _build("transm3e-b", "transm3e-b", num_muscles, model_cfg)
