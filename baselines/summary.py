"""Facts about registered baselines that need the built model (parameter counts)."""

from __future__ import annotations

from .config import read_toml
from .registry import BaselineSpec


def count_parameters(spec: BaselineSpec) -> int | None:
    """Trainable parameters of the model built from the baseline's default config with 20
    outputs: the papers' count, which leaves a frozen sender (TransM3E) out."""
    if spec.family == "statistical":
        return 0
    model_cfg = read_toml(spec.config_path).get("model", {}) if spec.config_path.is_file() else {}
    model = spec.builder(num_muscles=20, **model_cfg)
    if hasattr(model, "fit_labels"):
        return None  # its size depends on the train split's activities (HAR + lookup)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
