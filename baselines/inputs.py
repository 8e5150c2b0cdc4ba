"""Build the dataset a baseline reads, from its inputs and the config's [data] table.

"rgb+skeleton" pairs the video clips and skeletons of each sample (the [data] table is the video
loader's with a [data.skeleton] table for the skeleton loader; baselines/data/paired.py).

[data] keys are the loader settings of the baseline's inputs (baselines/data: SkeletonSettings,
VideoSettings; docs/data.md). A video loader's ``modality`` comes from the baseline's registered
inputs ("rgb", "rgb_diff" or "rgb+rgb_diff"), so a model registered for RGB and RGB-difference
always receives both; a [data] table that asks for other inputs is refused. The [eval] table's
view counts override the loader's at test time: for skeletons ``temporal_views`` becomes the
number of uniform resampling phases; for video, ``temporal_views`` > 1 returns that many uniform
clip positions (all of them) and ``spatial_views`` the crops per position.
"""

from __future__ import annotations

from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.labels import LabelSet
from amge_eval.harness.skeletons import read_skeletons, skeleton_path


def build_dataset(modality: str, labels: LabelSet, data_root: Path, data_cfg: dict, *,
                  train: bool, seed: int, skip_bad: bool = False, temporal_views: int = 1,
                  spatial_views: int = 1):
    """``modality`` is the baseline's inputs joined with "+" (BaselineSpec.modality)."""
    from amge_eval.baselines.data.datasets import PairedDataset, SkeletonDataset, VideoDataset
    from amge_eval.baselines.data.video import MODALITIES as VIDEO_INPUTS

    settings = dict(data_cfg)
    skeleton_table = settings.pop("skeleton", None)  # [data.skeleton] of a paired config
    if modality == "rgb+skeleton":
        kw = dict(train=train, seed=seed, skip_bad=skip_bad, temporal_views=temporal_views,
                  spatial_views=spatial_views)
        return PairedDataset(build_dataset("rgb", labels, data_root, settings, **kw),
                             build_dataset("skeleton", labels, data_root,
                                           skeleton_table or {}, **kw))
    if modality == "skeleton" and skeleton_table is not None:
        settings = dict(skeleton_table)
    settings.setdefault("seed", seed)
    if modality == "skeleton":
        if spatial_views != 1:
            raise AmgeError("eval.spatial_views applies to video only; skeleton baselines take "
                            "eval.temporal_views", code="E803")
        if not train:
            settings["views"] = temporal_views
        sk = read_skeletons(skeleton_path(data_root, labels.dataset, labels.split))
        return SkeletonDataset(labels, sk, settings, train=train, skip_missing=skip_bad)
    if modality == "optical_flow":
        from amge_eval.baselines.data.flow_dataset import FlowDataset

        if not train:
            if temporal_views > 1:
                settings.update(temporal_views=temporal_views, view_indices=None)
            settings["spatial_views"] = spatial_views
        settings["modality"] = modality
        return FlowDataset(labels, settings, train=train, data_root=data_root, skip_bad=skip_bad)
    if modality in VIDEO_INPUTS:
        if settings.get("modality", modality) != modality:
            raise AmgeError(f"[data].modality = {settings['modality']!r}, but this baseline is "
                            f"registered for {modality!r} inputs; remove the key (the loader "
                            f"takes the baseline's inputs)", code="E803")
        settings["modality"] = modality
        if not train:
            if temporal_views > 1:
                settings.update(temporal_views=temporal_views, view_indices=None)
            settings["spatial_views"] = spatial_views
        return VideoDataset(labels, settings, train=train, data_root=data_root,
                            skip_bad=skip_bad)
    raise AmgeError(f"No loader for the inputs {modality!r}", code="E815")
