"""The papers' optical-flow row as a baseline: MViTv2-S with 20 MCTs on (dx, dy) flow, full size
(built, counted, one forward pass) and tiny (flow extracted from the embedded benchmark's
videos, trained, predicted and scored through `run-baseline`)."""

from __future__ import annotations

import json

import pytest

from amge_eval.baselines.config import load_config
from amge_eval.baselines.registry import get_baseline

from .conftest import needs_extra

torch = pytest.importorskip("torch")


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_full_size_flow_model_is_mvitv2_s_with_two_channels_and_twenty_tokens():
    flow_cfg = load_config(get_baseline("mvitv2-s-mct-flow"))
    assert flow_cfg.model["in_channels"] == 2 and flow_cfg.model["class_tokens"] == 20
    flow = get_baseline("mvitv2-s-mct-flow").builder(num_muscles=20, **flow_cfg.model).eval()
    rgb_cfg = load_config(get_baseline("mvitv2-s"))
    rgb = get_baseline("mvitv2-s").builder(num_muscles=20, **rgb_cfg.model)
    width = rgb.cfg.embed_dim
    kernel = 3 * 7 * 7  # the patch embedding's Conv3d kernel: one input channel less
    assert _count(flow) == _count(rgb) - width * kernel + 19 * width
    with torch.inference_mode():
        out = flow(torch.randn(1, 2, flow_cfg.data["frames"], 224, 224))
    assert out.shape == (1, 20) and torch.isfinite(out).all()


@pytest.mark.slow
@needs_extra("baselines,flow", "av", "cv2")
def test_tiny_flow_baseline_runs_end_to_end_after_data_flow(tmp_path, cli):
    from amge_eval.harness.synth.generate import generate_benchmark

    labels, data = tmp_path / "labels", tmp_path / "data"
    generate_benchmark(labels, data, clips_per_activity=3, video=True, size=128,
                       frames=(40, 56))
    common = ("--labels-dir", labels, "--data-root", data)
    # Without the flow store the run stops before training and names the command that makes it.
    code, _, err = cli("run-baseline", "mvitv2-s-mct-flow-tiny", "--epochs", "1", "--out",
                       tmp_path / "early", "--resamples", "200", "-q", *common)
    assert code != 0 and "data flow" in err
    assert not (tmp_path / "early" / "run.json").exists()
    code, _, err = cli("data", "flow", "all", "--dataset", "synth", "--method", "dis-ultrafast",
                       "-q", *common)
    assert code == 0, err
    code, out, err = cli("run-baseline", "mvitv2-s-mct-flow-tiny", "--epochs", "1", "--out",
                         tmp_path / "run", "--resamples", "200", "-q", *common)
    assert code == 0, err
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["modalities"] == ["optical_flow"] and run["baseline"] == "mvitv2-s-mct-flow-tiny"
    scores = json.loads((tmp_path / "run" / "scores.json").read_text())
    assert set(scores["splits"]) == {"val_seen", "val_unseen", "test_seen", "test_unseen"}
    code, _, err = cli("validate", tmp_path / "run" / "predictions" / "test_unseen.npz",
                       "--dataset", "synth", "--split", "test_unseen", "--labels-dir", labels)
    assert code == 0, err
