"""Loader settings of a baseline that trains on video clips and skeletons of the same samples
(TransM3E's journal version: an RGB main branch distilled from a skeleton-GCN sender).

The [data] table is the video loader's (VideoSettings) with one more key, ``skeleton``: the
skeleton loader's table (SkeletonSettings), written ``[data.skeleton]`` in a config file. Both are
checked when the config loads. Numpy only; the dataset is ``datasets.PairedDataset``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.schema import collect

from .skeleton import SkeletonSettings
from .video import VideoSettings


@dataclass(frozen=True)
class VideoSkeletonSettings(VideoSettings):
    skeleton: dict[str, Any] = field(default_factory=dict)  # [data.skeleton]: SkeletonSettings keys

    @classmethod
    def check_field(cls, key: str, value: object) -> list[tuple[str, str]]:
        if key != "skeleton":
            return []
        try:
            _, issues = collect(SkeletonSettings, value, "[data.skeleton]")
        except AmgeError as exc:  # a value SkeletonSettings itself refuses (E730)
            return [(exc.message, exc.code)]
        return [(str(i), "E803") for i in issues]
