"""CPU throughput of the skeleton GCNs: training (one step = forward + backward + AdamW) and
inference (eval-mode forward).

Batch 16, one person, T = 64 and T = 32. Compare with the official code's figures in
/work/shared/notes/PERFORMANCE.md (2 threads, T = 64): ST-GCN K=1 (18 joints) 19.1 samples/s,
ST-GCN K=3 13.7, CTR-GCN (18 joints) 7.2, HD-GCN (NTU-25, CoM 21: 6 layers) 3.0.

Run with ``pytest -o addopts="" tests/benchmarks/test_bench_gcn.py`` (the default addopts skip
benchmarks, and ``--benchmark-enable`` does not override that); ``extra_info`` holds
samples per second. Threads: ``AMGE_BENCH_THREADS`` (default 2, as PERFORMANCE.md); on a machine
shared with other work, 1 thread avoids waiting on a descheduled second thread.
"""

from __future__ import annotations

import os

import pytest
import torch

from amge_eval.baselines.registry import get_baseline

BATCH = 16
CASES = {
    "stgcn-k1-openpose18": ("stgcn", {"layout": "openpose18"}),
    "stgcn-k3-openpose18": ("stgcn", {"layout": "openpose18", "strategy": "spatial"}),
    "ctrgcn-openpose18": ("ctrgcn", {"layout": "openpose18", "persons": 1}),
    "hdgcn-coco17-L1": ("hdgcn", {"persons": 1}),  # the default (paper's 0.8M)
    "hdgcn-halpe26-L5": ("hdgcn", {"persons": 1, "layout": "halpe26", "hierarchy_layers": 5}),
}


@pytest.mark.parametrize("frames", [64, 32])
@pytest.mark.parametrize("case", list(CASES))
def test_train_step_throughput(benchmark, case, frames):
    torch.set_num_threads(int(os.environ.get("AMGE_BENCH_THREADS", "2")))
    torch.manual_seed(0)
    name, cfg = CASES[case]
    model = get_baseline(name).builder(**cfg).train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    x = torch.randn(BATCH, 3, frames, model.layout.num_joints, 1)
    y = (torch.rand(BATCH, 20) < 0.3).float()

    def step():
        loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    benchmark.pedantic(step, rounds=5, iterations=1, warmup_rounds=1)
    benchmark.extra_info["samples_per_s"] = BATCH / benchmark.stats.stats.median
    benchmark.extra_info["threads"] = torch.get_num_threads()


@pytest.mark.parametrize("case", list(CASES))
def test_inference_throughput(benchmark, case):
    """Eval-mode forward under torch.inference_mode, batch 16, T = 64."""
    torch.set_num_threads(int(os.environ.get("AMGE_BENCH_THREADS", "2")))
    torch.manual_seed(0)
    name, cfg = CASES[case]
    model = get_baseline(name).builder(**cfg).eval()
    x = torch.randn(BATCH, 3, 64, model.layout.num_joints, 1)

    def forward():
        with torch.inference_mode():
            return model(x)

    out = benchmark.pedantic(forward, rounds=5, iterations=1, warmup_rounds=1)
    assert out.shape == (BATCH, 20) and torch.isfinite(out).all()
    benchmark.extra_info["samples_per_s"] = BATCH / benchmark.stats.stats.median
    benchmark.extra_info["threads"] = torch.get_num_threads()
