"""The project's skeleton GCNs side by side with the official implementations.

For each model (ST-GCN K=1 and K=3 on OpenPose-18, CTR-GCN on OpenPose-18, HD-GCN on NTU-25
with its six-layer hierarchy around joint 21) this script

1. builds the project's model and the official one and copies the project's weights into the
   official model through a key map (``*_to_official`` below);
2. checks in float64 that both compute the same outputs and the same gradients for every
   parameter (worst difference relative to the tensor's scale, default bound 1e-12);
3. times training steps (forward, BCE loss, backward, AdamW) in float32, alternating project
   and official steps in one process on one thread, and prints the median samples/s of each and
   the median over rounds of the ratio official step time / project step time in the same
   round (above 1 means the project is faster), with its quartiles, by this thread's CPU time
   (steady on a loaded machine: waiting for a core is left out) and by wall time. ``--mode infer``
   times eval-mode forward passes under ``torch.inference_mode`` instead.

``--ntu`` swaps the cases for the official NTU RGB+D sizes (25 joints, two persons, T = 64):
ST-GCN K=3 on the official "ntu-rgb+d" graph, CTR-GCN, HD-GCN with six layers.

``--compile`` adds the project's model under ``torch.compile`` (inductor) to the alternation and
reports its compile time (the first compiled step less a steady step) on its own;
``--compile-official`` compiles the official model as well.

The official code is never part of this project: pass each repository as a checkout or as a git
directory (a mirror; files are read from its HEAD with ``git show``). The model files are copied
to a temporary directory and imported from there. A model whose repository is not given, or
whose files cannot be read, is skipped with a message. The official HD-GCN needs ``einops``
(``pip install 'amge-eval[official-bench]'``).

    python tools/gcn_side_by_side.py --stgcn PATH --ctrgcn PATH --hdgcn PATH [--rounds 15]
        [--mode train|infer] [--ntu] [--compile] [--compile-official]
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from amge_eval.baselines.models.ctrgcn import build_ctrgcn
from amge_eval.baselines.models.hdgcn import build_hdgcn
from amge_eval.baselines.models.stgcn import build_stgcn
from amge_eval.harness.skeletons import Layout

# NTU RGB+D 25 joints (Kinect v2), 1-based pairs as the official graphs list them; joint 21
# (spine) is HD-GCN's default centre of mass.
NTU25 = Layout("ntu25", tuple(f"j{i}" for i in range(1, 26)), tuple(
    (a - 1, b - 1) for a, b in [(1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6),
                                (8, 7), (9, 21), (10, 9), (11, 10), (12, 11), (13, 1), (14, 13),
                                (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
                                (22, 8), (23, 8), (24, 12), (25, 12)]), 20)

FILES = {
    "stgcn": ["net/__init__.py", "net/st_gcn.py", "net/utils/__init__.py", "net/utils/tgcn.py",
              "net/utils/graph.py"],
    "ctrgcn": ["model/ctrgcn.py"],
    # graph/__init__.py is left out: it imports the NTU graphs, which need audioop
    "hdgcn": ["model/HDGCN.py", "graph/tools.py"],
}
# The official code is written for CUDA; on the CPU ``get_device()`` is -1, which torch refuses
# as a device. The only edit made to the copies: place the index tensor where the data is.
PATCHES = {"model/HDGCN.py": [("device = x.get_device()", "device = x.device")]}
MODEL_FILE = {"stgcn": "net/st_gcn.py", "ctrgcn": "model/ctrgcn.py", "hdgcn": "model/HDGCN.py"}


class Unavailable(Exception):
    """The official code of one model cannot be loaded; the model is skipped."""


# ---------------------------------------------------------------------------------------------
# Loading the official code from a checkout or a git directory

def is_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def copy_official(repo: Path, files: list[str], dest: Path) -> None:
    """Copy ``files`` of the repository at ``repo`` (a checkout or a git directory) to dest."""
    git_dir = repo if is_git_dir(repo) else None
    if git_dir is None and not all((repo / f).is_file() for f in files) and is_git_dir(repo / ".git"):
        git_dir = repo / ".git"
    for name in files:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if git_dir is None:
            if not (repo / name).is_file():
                raise Unavailable(f"{repo} has no {name} (not a checkout of the official "
                                  f"repository?)")
            shutil.copyfile(repo / name, target)
            continue
        got = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"HEAD:{name}"],
                             capture_output=True, check=False)
        if got.returncode != 0:
            raise Unavailable(f"{git_dir} has no {name} at HEAD: "
                              f"{got.stderr.decode(errors='replace').strip()}")
        target.write_bytes(got.stdout)
    for name in files:
        for old, new in PATCHES.get(name, []):
            text = (dest / name).read_text()
            if old not in text:
                raise Unavailable(f"{name} no longer contains {old!r}; update PATCHES")
            (dest / name).write_text(text.replace(old, new))


def load_official(model: str, repo: str | None, workdir: Path) -> types.ModuleType:
    if not repo:
        raise Unavailable(f"no path given (--{model})")
    path = Path(repo).expanduser()
    if not path.exists():
        raise Unavailable(f"{path} does not exist")
    if model == "hdgcn" and importlib.util.find_spec("einops") is None:
        raise Unavailable("the official HD-GCN imports einops: pip install einops "
                          "(or the project's official-bench extra)")
    dest = workdir / model
    copy_official(path, FILES[model], dest)
    sys.path.insert(0, str(dest))  # the files import their siblings (net.utils, graph.tools)
    try:
        spec = importlib.util.spec_from_file_location(f"official_{model}",
                                                      dest / MODEL_FILE[model])
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(dest))
    return module


# The official CTR-GCN and HD-GCN models take their graph as an import path; these stand-ins
# hand over the project's adjacency (the state dict copy overwrites it anyway).
class FixedGraph:
    def __init__(self, A):  # noqa: N803 - the official keyword
        self.A = A


class HierarchyGraph:
    def __init__(self, A, CoM):  # noqa: N803
        self.A = (A, CoM)


GRAPHS = types.ModuleType("amge_side_by_side_graphs")
GRAPHS.FixedGraph, GRAPHS.HierarchyGraph = FixedGraph, HierarchyGraph
sys.modules[GRAPHS.__name__] = GRAPHS


# ---------------------------------------------------------------------------------------------
# Key maps: project state-dict key -> (official key, project tensor -> official tensor)

Same = Callable[[torch.Tensor], torch.Tensor]


def keep(t: torch.Tensor) -> torch.Tensor:
    return t


def transpose_graph(t: torch.Tensor) -> torch.Tensor:
    return t.transpose(-1, -2)  # ours [.., target, source]; ST-GCN's [.., source, target]


def stgcn_to_official(key: str, tensor: torch.Tensor) -> tuple[str | None, Same]:
    head, _, rest = key.partition(".")
    if head == "data_norm":
        return "data_bn." + rest.removeprefix("bn."), keep
    if head == "fc":
        return "fcn." + rest, (lambda t: t.view(*t.shape, 1, 1)) if rest == "weight" else keep
    i, _, part = rest.partition(".")
    if part == "adjacency":  # one shared buffer "A" upstream
        return ("A" if i == "0" else None), transpose_graph
    if part == "importance":
        return f"edge_importance.{i}", transpose_graph
    if part.startswith("gcn."):
        return f"st_gcn_networks.{i}.gcn.conv.{part[4:]}", keep
    return f"st_gcn_networks.{i}.{part}", keep


def _gcn_block_prefix(key: str) -> tuple[str, str, str]:
    _, i, rest = key.split(".", 2)  # blocks.{i}.{rest}
    return f"l{int(i) + 1}", *rest.split(".", 1)


def ctrgcn_to_official(key: str, tensor: torch.Tensor) -> tuple[str | None, Same]:
    if key.startswith("data_norm.bn."):
        return "data_bn." + key.removeprefix("data_norm.bn."), keep
    if key.startswith("fc."):
        return key, keep
    layer, part, rest = _gcn_block_prefix(key)
    if part == "gcn":
        rest = "PA" if rest == "topology" else rest
        return f"{layer}.gcn1.{rest}", keep
    return f"{layer}.{'tcn1' if part == 'tcn' else part}.{rest}", keep


def hdgcn_to_official(key: str, tensor: torch.Tensor) -> tuple[str | None, Same]:
    if key.startswith("data_norm.bn."):
        return "data_bn." + key.removeprefix("data_norm.bn."), keep
    if key.startswith("fc."):
        return key, keep
    layer, part, rest = _gcn_block_prefix(key)
    if part == "residual":
        return f"{layer}.residual.{rest}", keep
    if part == "tcn":
        # the official dilated branches keep the temporal conv's bias as a (1, C, 1, 1) tensor
        if rest.endswith(".3.conv.bias"):
            return f"{layer}.tcn1.{rest.removesuffix('conv.bias')}bias", \
                (lambda t: t.view(1, -1, 1, 1))
        return f"{layer}.tcn1.{rest}", keep
    names = rest.split(".")
    if names[0] == "hierarchy":
        official = ["PA"]
    elif names[0] == "down_convs":
        official = ["conv_down", *names[1:]]
    elif names[0] == "subset_convs":
        official = ["conv", *names[1:]]
    elif names[0] == "edge_convs":
        official = ["conv", names[1], "3", *names[2:]]
    elif names[0] == "aha":
        sub = {"down": "conv_down", "edge": "edge_conv"}.get(names[1], names[1])
        official = ["aha", sub, *names[2:]]
    else:  # bn, down
        official = names
    return f"{layer}.gcn1.{'.'.join(official)}", keep


def copy_weights(project: torch.nn.Module, official: torch.nn.Module, key_map) -> dict:
    """Load the project's weights into ``official``; every official tensor must be covered.
    Returns {project parameter name: (official parameter, transform)} for the gradient check."""
    state, params = {}, {}
    off_params = dict(official.named_parameters())
    for key, tensor in project.state_dict().items():
        target, transform = key_map(key, tensor)
        if target is None:
            continue
        state[target] = transform(tensor)
        if target in off_params:
            params[key] = (off_params[target], transform)
    # The official HD-GCN also registers its last layer's convs a second time (``conv_d``):
    # a tensor reachable under several names gets the same values under each.
    aliases: dict[int, list[str]] = {}
    for name, tensor in official.state_dict(keep_vars=True).items():
        aliases.setdefault(id(tensor), []).append(name)
    for names in aliases.values():
        known = [n for n in names if n in state]
        for name in names:
            if known:
                state.setdefault(name, state[known[0]])
    official.load_state_dict(state, strict=True)
    return params


# ---------------------------------------------------------------------------------------------
# The four cases

@dataclass
class Case:
    name: str
    repo: str  # which official code: stgcn, ctrgcn, hdgcn
    frames: int
    build_project: Callable[[], torch.nn.Module]
    build_official: Callable[[types.ModuleType, torch.nn.Module], torch.nn.Module]
    key_map: Callable
    persons: int = 1


def official_stgcn(strategy: str, layout: str = "openpose"):
    def build(mod, project):
        model = mod.Model(in_channels=3, num_class=20, edge_importance_weighting=True,
                          graph_args={"layout": layout, "strategy": strategy})
        a = project.blocks[0].adjacency
        if model.A.shape != a.shape:
            raise Unavailable(f"official graph {tuple(model.A.shape)} vs ours {tuple(a.shape)}")
        assert all(torch.equal(b.adjacency, a) for b in project.blocks)
        return model
    return build


def official_ctrgcn(mod, project):
    subsets = project.blocks[0].gcn.topology.detach().numpy().astype(np.float64)
    return mod.Model(num_class=20, num_point=project.layout.num_joints,
                     num_person=project.cfg.persons,
                     graph=f"{GRAPHS.__name__}.FixedGraph", graph_args={"A": subsets},
                     in_channels=3)


def official_hdgcn(mod, project):
    hierarchy = project.blocks[0].gcn.hierarchy.detach().numpy().astype(np.float64)
    return mod.Model(num_class=20, num_point=25, num_person=project.cfg.persons,
                     graph=f"{GRAPHS.__name__}.HierarchyGraph",
                     graph_args={"A": hierarchy, "CoM": 21})


CASES = [
    Case("ST-GCN K=1 (OpenPose-18)", "stgcn", 64,
         lambda: build_stgcn(layout="openpose18"), official_stgcn("uniform"), stgcn_to_official),
    Case("ST-GCN K=3 (OpenPose-18)", "stgcn", 64,
         lambda: build_stgcn(layout="openpose18", strategy="spatial"),
         official_stgcn("spatial"), stgcn_to_official),
    Case("CTR-GCN (OpenPose-18)", "ctrgcn", 64,
         lambda: build_ctrgcn(layout="openpose18", persons=1), official_ctrgcn,
         ctrgcn_to_official),
    Case("HD-GCN (NTU-25, 6 layers)", "hdgcn", 32,
         lambda: build_hdgcn(layout=NTU25, center=("j21",), hierarchy_layers=6, persons=1),
         official_hdgcn, hdgcn_to_official),
]

# The official NTU RGB+D configurations: 25 joints, two person slots, 64-frame windows
# (CTR-GCN, HD-GCN; ST-GCN's NTU config pads to 300 frames, which is 64 here as well).
NTU_CASES = [
    Case("ST-GCN K=3 (NTU-25, M=2)", "stgcn", 64,
         lambda: build_stgcn(layout=NTU25, strategy="spatial"),
         official_stgcn("spatial", "ntu-rgb+d"), stgcn_to_official, persons=2),
    Case("CTR-GCN (NTU-25, M=2)", "ctrgcn", 64,
         lambda: build_ctrgcn(layout=NTU25, persons=2), official_ctrgcn, ctrgcn_to_official,
         persons=2),
    Case("HD-GCN (NTU-25, 6 layers, M=2)", "hdgcn", 64,
         lambda: build_hdgcn(layout=NTU25, center=("j21",), hierarchy_layers=6, persons=2),
         official_hdgcn, hdgcn_to_official, persons=2),
]


# ---------------------------------------------------------------------------------------------
# Equality in float64

def inputs(model, n: int, frames: int, seed: int, persons: int = 1
           ) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, frames, model.layout.num_joints, persons, generator=g)
    y = (torch.rand(n, 20, generator=g) < 0.3).float()
    return x, y


def worst(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| relative to the scale of b (at least 1)."""
    return float((a - b).abs().max() / max(1.0, float(b.abs().max())))


def check_equal(project, official, params, n=4, frames=20, persons=1) -> tuple[float, float]:
    """Worst relative difference of the outputs and of any parameter's gradient, float64."""
    project.double().train()
    official.double().train()
    x, y = inputs(project, n, frames, seed=1, persons=persons)
    x, y = x.double(), y.double()
    outs = []
    for model in (project, official):
        model.zero_grad(set_to_none=True)
        out = model(x)
        F.binary_cross_entropy_with_logits(out, y).backward()
        outs.append(out.detach())
    grad = 0.0
    for name, p in project.named_parameters():
        off, transform = params[name]
        grad = max(grad, worst(transform(p.grad), off.grad))
    project.float()
    official.float()
    return worst(outs[0], outs[1]), grad


# ---------------------------------------------------------------------------------------------
# Timing

class Stepper:
    """One training step of a model: forward, BCE, backward, AdamW."""

    def __init__(self, model, x, y, run=None):
        self.model, self.x, self.y = model.train(), x, y
        self.run = model if run is None else run
        self.opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)

    def __call__(self) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        loss = F.binary_cross_entropy_with_logits(self.run(self.x), self.y)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return time.perf_counter() - t0, time.thread_time() - c0


class Inferrer:
    """One inference pass: eval mode (running BatchNorm statistics), no autograd."""

    def __init__(self, model, x, y, run=None):
        self.model, self.x = model.eval(), x
        self.run = model if run is None else run

    def __call__(self) -> tuple[float, float]:
        t0, c0 = time.perf_counter(), time.thread_time()
        with torch.inference_mode():
            self.run(self.x)
        return time.perf_counter() - t0, time.thread_time() - c0


def fresh_copies(case: Case, mod):
    torch.manual_seed(0)
    project = case.build_project()
    official = case.build_official(mod, project)
    params = copy_weights(project, official, case.key_map)
    return project, official, params


def time_case(case: Case, mod, rounds: int, batch: int, compile_project: bool,
              compile_official: bool, mode: str = "train") -> dict:
    project, official, _ = fresh_copies(case, mod)
    x, y = inputs(project, batch, case.frames, seed=2, persons=case.persons)
    Stepper_ = Stepper if mode == "train" else Inferrer  # noqa: N806
    steppers = {"project": Stepper_(project, x, y), "official": Stepper_(official, x, y)}
    compile_s = {}
    for label, which, wanted in (("project compiled", 0, compile_project),
                                 ("official compiled", 1, compile_official)):
        if not wanted:
            continue
        twin = fresh_copies(case, mod)[which]  # the same starting weights
        stepper = Stepper_(twin, x, y, run=torch.compile(twin))
        first = stepper()[0]  # compiles forward and backward
        steady = statistics.median(stepper()[0] for _ in range(2))
        compile_s[label] = first - steady
        steppers[label] = stepper
    for stepper in steppers.values():  # warm-up: allocator, oneDNN primitives
        stepper()
    times = {label: [] for label in steppers}
    labels = list(steppers)
    for r in range(rounds):
        order = labels if r % 2 == 0 else labels[::-1]  # A B / B A: drift hits both alike
        for label in order:
            times[label].append(steppers[label]())
    return {"times": times, "compile_s": compile_s}


def quartiles(values: list[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def summarise(times: dict[str, list[tuple[float, float]]], batch: int) -> dict:
    """Per label: median samples/s by wall time and by this thread's CPU time, and the ratio
    to the official model's step in the same round (official time / this time), by CPU time
    and by wall time, as (first quartile, median, third quartile) over the rounds. The CPU
    time leaves out the time the thread waited for a core: on a loaded machine it is the
    steadier measure; wall and CPU time agree on an idle one."""
    base = times["official"]
    out = {}
    for label, t in times.items():
        wall, cpu = [w for w, _ in t], [c for _, c in t]
        out[label] = {
            "wall_rate": batch / statistics.median(wall),
            "cpu_rate": batch / statistics.median(cpu),
            "ratio_cpu": quartiles([b[1] / c for b, c in zip(base, cpu)]),
            "ratio_wall": quartiles([b[0] / w for b, w in zip(base, wall)]),
        }
    return out


# ---------------------------------------------------------------------------------------------

def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for model in ("stgcn", "ctrgcn", "hdgcn"):
        parser.add_argument(f"--{model}", metavar="PATH",
                            help=f"official {model} repository: checkout or git directory")
    parser.add_argument("--only", nargs="*", metavar="WORD",
                        help="run only the cases whose name contains one of these words")
    parser.add_argument("--ntu", action="store_true",
                        help="the official NTU RGB+D sizes instead: 25 joints, two persons, "
                             "T = 64 (ST-GCN K=3, CTR-GCN, HD-GCN)")
    parser.add_argument("--mode", choices=("train", "infer"), default="train",
                        help="train: forward, BCE, backward, AdamW; infer: eval-mode forward "
                             "under torch.inference_mode")
    parser.add_argument("--frames", type=int, help="override every case's clip length T")
    parser.add_argument("--rounds", type=int, default=15, help="timed steps per model")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--tolerance", type=float, default=1e-12)
    parser.add_argument("--compile", action="store_true",
                        help="also time the project's model under torch.compile")
    parser.add_argument("--compile-official", action="store_true",
                        help="also time the official model under torch.compile")
    parser.add_argument("--no-check", action="store_true", help="skip the float64 check")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"{time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; load average {load}")
    print(f"CPU: {cpu_model()}; torch {torch.__version__}; {torch.get_num_threads()} thread(s); "
          f"batch {args.batch}; mode {args.mode}; median of {args.rounds} alternating steps")
    failed = False
    with tempfile.TemporaryDirectory(prefix="gcn-official-") as tmp:
        modules: dict[str, types.ModuleType | str] = {}
        for case in NTU_CASES if args.ntu else CASES:
            if args.frames:
                case = dataclasses.replace(case, frames=args.frames)
            if args.only and not any(w.lower() in case.name.lower() for w in args.only):
                continue
            if case.repo not in modules:
                try:
                    modules[case.repo] = load_official(case.repo, getattr(args, case.repo),
                                                       Path(tmp))
                except Unavailable as exc:
                    modules[case.repo] = str(exc)
            mod = modules[case.repo]
            if isinstance(mod, str):
                print(f"{case.name}: skipped, official code unavailable: {mod}")
                continue
            if args.no_check:
                print(f"{case.name}: float64 check skipped")
            else:
                project, official, params = fresh_copies(case, mod)
                out_d, grad_d = check_equal(project, official, params, persons=case.persons)
                ok = out_d <= args.tolerance and grad_d <= args.tolerance
                failed |= not ok
                print(f"{case.name}: float64 outputs differ by {out_d:.1e}, gradients by "
                      f"{grad_d:.1e} (relative): {'equal' if ok else 'NOT EQUAL'}")
            result = time_case(case, mod, args.rounds, args.batch, args.compile,
                               args.compile_official, args.mode)
            for label, row in summarise(result["times"], args.batch).items():
                extra = (f", compile {result['compile_s'][label]:.0f} s"
                         if label in result["compile_s"] else "")
                q1, med, q3 = row["ratio_cpu"]
                w1, wmed, w3 = row["ratio_wall"]
                print(f"  T={case.frames} {label:>17}: {row['cpu_rate']:6.2f} samples/s by CPU "
                      f"time, {row['wall_rate']:6.2f} by wall time; {med:.2f}x official by CPU "
                      f"time (quartiles {q1:.2f}-{q3:.2f}), {wmed:.2f}x by wall time "
                      f"({w1:.2f}-{w3:.2f}){extra}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
