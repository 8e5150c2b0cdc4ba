"""`--deterministic`: pin every numerical knob that can change a run's bits between machines.

What changes the bits of a CPU training run between two x86-64 machines, besides the seed:

- ATen's CPU dispatch picks AVX-512 kernels where the CPU has them and AVX2 ones otherwise
  (``ATEN_CPU_CAPABILITY`` pins it; read once, when torch is imported);
- oneDNN, behind convolutions, picks kernels and blocking by instruction set
  (``ONEDNN_MAX_CPU_ISA``), and its blocking also by cache sizes; deterministic mode turns oneDNN
  off, so convolutions go through ATen's own im2col and MKL's GEMM;
- MKL picks code paths by CPU (``MKL_CBWR=AVX2,STRICT``: conditional numerical reproducibility);
- the number of threads changes how reductions are split (pinned to one thread unless
  ``--threads`` says otherwise: the count is recorded and must match to match bits);
- non-deterministic algorithms (``torch.use_deterministic_algorithms(True)``, errors, not
  warnings, in this mode).

Pinned together they make a run's predictions bit-identical between runs on one machine (tested)
and are designed to make them identical on any x86-64 CPU with AVX2 running the same software
versions; that second claim was checked here on one CPU only (README, "Reproducibility").
Environment variables must be set before torch is imported: the CLI does that first thing;
library callers call ``pin_environment()`` before importing torch or any model.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from amge_eval.harness.errors import AmgeError

ENV: dict[str, str] = {
    "ATEN_CPU_CAPABILITY": "avx2",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_CBWR": "AVX2,STRICT",
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",  # deterministic cuBLAS, for runs on a GPU
}
DEFAULT_THREADS = 1


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("flags"):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def pin_environment() -> dict[str, str]:
    """Set ENV (before torch is imported); refuse where the pins cannot hold."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        raise AmgeError(f"--deterministic pins x86-64 (AVX2) code paths; this machine is "
                        f"{platform.machine()}", code="E818")
    flags = _cpu_flags()
    if flags and "avx2" not in flags:
        raise AmgeError("--deterministic pins AVX2 code paths, but this CPU has no AVX2",
                        code="E818")
    if "torch" in sys.modules:
        import torch

        if torch.backends.cpu.get_cpu_capability() != "AVX2":
            raise AmgeError("--deterministic must pin torch's CPU dispatch before torch is "
                            "imported, but torch is already loaded here; run it as a new "
                            "`amge-eval run-baseline --deterministic` process (or set "
                            + " ".join(f"{k}={v}" for k, v in ENV.items())
                            + " before starting Python)", code="E818")
    os.environ.update(ENV)
    return dict(ENV)


def apply_torch(threads: int | None) -> dict:
    """The torch side of the pins (after pin_environment); returns what to record."""
    import torch

    n = threads or DEFAULT_THREADS
    torch.set_num_threads(n)
    torch.use_deterministic_algorithms(True)
    torch.backends.mkldnn.enabled = False
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return {"env": {k: os.environ.get(k) for k in ENV},
            "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "threads": n, "onednn": False, "deterministic_algorithms": True}
