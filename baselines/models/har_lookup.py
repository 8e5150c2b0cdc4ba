"""HAR + lookup table (the papers' "HARL", three-dataset paper, supplementary Table 14).

An activity classifier over the seen (training) activities, then a lookup table from activity to
its training label vector: "Unseen actions are classified as one of the seen action classes and
the muscle activations of this known class is assigned to that unseen action." It is the
memoriser of the benchmark: on seen activities recognising the activity is enough, on unseen
ones it can only answer with some seen activity's muscles. The papers train it on MViTv2-S
("HARL is trained using MViTv2-S"): ``har-lookup-video`` does that (a video baseline as the
backbone, MViTv2-S by default); ``har-lookup`` uses one of the skeleton GCNs (HD-GCN by default).
Both train with cross-entropy over the train split's activities.

``lookup = "hard"`` (the papers') scores each muscle 1 if the most probable activity works it,
else 0; ``"soft"`` scores it by the classifier's probability that the activity works it
(probabilities times the table), a stronger ranking of the same memoriser.

The runner calls ``fit_labels(train labels)`` before training (it needs the activities), then
trains with ``training_loss`` and predicts with ``muscle_scores`` (baselines/training.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from amge_eval.baselines.registry import get_baseline, register_baseline
from amge_eval.harness.errors import AmgeError

from ._gcn import make_config

BACKBONES = ("stgcn", "ctrgcn", "hdgcn")


@dataclass(frozen=True)
class HARLookupConfig:
    backbone: Literal["stgcn", "ctrgcn", "hdgcn"] = "hdgcn"  # the skeleton GCN that classifies
    lookup: Literal["hard", "soft"] = "hard"  # hard: the papers' assignment; soft: expectation
    backbone_options: dict[str, Any] = field(default_factory=dict)  # its [model] keys


@dataclass(frozen=True)
class HARLookupVideoConfig:
    backbone: Literal["mvitv2-s", "mvitv2-b", "c2d-r50", "i3d-r50", "slow-r50", "slowfast-r50",
                      "videoswin-s", "videoswin-b"] = "mvitv2-s"  # the papers' HARL backbone
    lookup: Literal["hard", "soft"] = "hard"
    backbone_options: dict[str, Any] = field(default_factory=dict)  # its [model] keys


class HARLookup(nn.Module):
    def __init__(self, cfg: HARLookupConfig | HARLookupVideoConfig):
        super().__init__()
        self.cfg = cfg
        self.backbone: nn.Module | None = None  # built by fit_labels: its width is the activities
        self.activities: list[str] = []
        self.register_buffer("table", torch.zeros(0, 20))  # (K, 20) label vector per activity
        self.register_buffer("activity_of_row", torch.zeros(0, dtype=torch.long))

    def fit_labels(self, train) -> HARLookup:
        """Learn the lookup table of the train split (a harness LabelSet) and build the
        classifier with one output per training activity."""
        acts = train.activities.tolist()
        if not all(acts):
            raise AmgeError("har-lookup classifies activities, but the train labels name none "
                            "(import them with --activity-from)", code="E820")
        names, inv = np.unique(np.asarray(acts), return_inverse=True)
        table = np.zeros((len(names), train.labels.shape[1]), dtype=np.float32)
        table[inv] = train.labels  # labels are per activity: every row of one activity agrees
        self.activities = names.tolist()
        self.table = torch.from_numpy(table)
        self.activity_of_row = torch.from_numpy(inv.astype(np.int64))
        spec = get_baseline(self.cfg.backbone)
        self.backbone = spec.builder(num_muscles=len(names), **self.cfg.backbone_options)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # x: the backbone's input -> (N, K) activity logits
        if self.backbone is None:
            raise RuntimeError("har-lookup must be fitted to the train labels first")
        return self.backbone(x)

    def training_loss(self, logits: torch.Tensor, y: torch.Tensor, rows: torch.Tensor,
                      loss: str = "bce") -> torch.Tensor:
        """Per-sample cross-entropy against each sample's training activity (rows: the samples'
        rows in the train labels); ``loss`` ([train].loss, for multi-label models) does not
        apply."""
        return F.cross_entropy(logits.float(), self.activity_of_row[rows], reduction="none")

    def muscle_scores(self, logits: torch.Tensor) -> torch.Tensor:
        """(N, K) activity logits -> (N, 20) muscle scores through the lookup table."""
        probs = torch.softmax(logits.float(), dim=1)
        if self.cfg.lookup == "hard":
            probs = F.one_hot(probs.argmax(dim=1), probs.shape[1]).to(probs.dtype)
        return probs @ self.table


@register_baseline("har-lookup", family="skeleton", modalities=("skeleton",),
                   config=HARLookupConfig, paper_name="HAR Lookup")
def build_har_lookup(num_muscles: int = 20, **model_cfg) -> HARLookup:
    """An activity classifier on a skeleton GCN plus the seen activities' label table."""
    cfg = make_config(HARLookupConfig, model_cfg, "har-lookup")
    if cfg.backbone not in BACKBONES:
        raise AmgeError(f"har-lookup's backbone must be one of {', '.join(BACKBONES)}",
                        code="E820")
    if num_muscles != 20:
        raise AmgeError("har-lookup looks up the 20 muscle groups", code="E820")
    return HARLookup(cfg)


@register_baseline("har-lookup-video-tiny", family="video", modalities=("rgb",),
                   config=HARLookupVideoConfig,
                   description="HAR + lookup on mvitv2-s-tiny's network, for CPU runs "
                               "(baselines/configs/har-lookup-video-tiny.toml)")
@register_baseline("har-lookup-video", family="video", modalities=("rgb",),
                   config=HARLookupVideoConfig, paper_name="HAR Lookup")
def build_har_lookup_video(num_muscles: int = 20, **model_cfg) -> HARLookup:
    """An activity classifier on a video backbone (MViTv2-S, as the papers' HARL) plus the seen
    activities' label table."""
    cfg = make_config(HARLookupVideoConfig, model_cfg, "har-lookup-video")
    if num_muscles != 20:
        raise AmgeError("har-lookup-video looks up the 20 muscle groups", code="E820")
    return HARLookup(cfg)
