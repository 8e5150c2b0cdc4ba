"""Where a `run-baseline` command runs: its command line rebuilt from ``RunOptions``, wrapped for
torchrun (several GPUs, several nodes) and for a container engine (docker, podman, apptainer).

One run, three places, the same command::

    amge-eval run-baseline stgcn --seed 1 ...                          on the host
    python -m torch.distributed.run --nproc_per_node 4 -m amge_eval run-baseline stgcn ...
    podman run ... IMAGE amge-eval run-baseline stgcn --labels-dir /labels --out /output ...

Inside a container the labels and media are mounted read-only and the output and checkpoint
folders read-write, at the fixed points below (the Dockerfile declares them as volumes); the
network is off for a single-node run (``--network none``; nothing is downloaded at run time),
GPUs are passed through when the run uses them, and the container runs as the calling user so
that the outputs are the caller's. The image's identity (reference, image id, registry digest)
goes into the run record through ``AMGE_EVAL_CONTAINER`` (``container_from_env``), so a record
names the image that made it. docs/tables.md ("Containers") has the recipe and the rules.

Library code: it never prints; a command it starts writes to the streams it is given.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from amge_eval.harness.errors import AmgeError
from amge_eval.harness.fileio import amge_home, default_data_root, make_dirs, sha256_file
from amge_eval.harness.labels import resolve_labels_dir
from amge_eval.harness.records.run import ContainerInfo

ENGINES: tuple[str, ...] = ("docker", "podman", "apptainer")
CONTAINER_ENV = "AMGE_EVAL_CONTAINER"  # the ContainerInfo of the image a run is in (JSON)

# Mount points inside the image (declared as VOLUMEs in baselines/containers/Dockerfile).
LABELS_MOUNT = "/labels"
DATA_MOUNT = "/data"
OUTPUT_MOUNT = "/output"
CHECKPOINT_MOUNT = "/checkpoints"
CONFIG_MOUNT = "/config"
WEIGHTS_MOUNT = "/weights"
# Passed through to the container when set on the host.
PASS_ENV = ("OMP_NUM_THREADS", "AMGE_EVAL_DEBUG", "NCCL_DEBUG", "NCCL_SOCKET_IFNAME",
            "TORCH_DISTRIBUTED_DEBUG")


@dataclass(frozen=True)
class TorchRun:
    """torchrun settings of one run: processes per node, nodes, and this node's place."""

    nproc: int = 1
    nnodes: int = 1
    node_rank: int = 0
    master_addr: str | None = None  # the first node's host name (multi-node only)
    master_port: int = 29500

    @property
    def distributed(self) -> bool:
        return self.nproc > 1 or self.nnodes > 1

    def args(self) -> list[str]:
        """``-m torch.distributed.run ...`` arguments for the python interpreter."""
        if self.nnodes == 1:
            return ["-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(self.nproc)]
        if not self.master_addr:
            raise AmgeError("A multi-node run needs the first node's address (master_addr)",
                            code="E867")
        return ["-m", "torch.distributed.run", "--nnodes", str(self.nnodes), "--node_rank",
                str(self.node_rank), "--nproc_per_node", str(self.nproc), "--master_addr",
                self.master_addr, "--master_port", str(self.master_port)]


def baseline_args(opts, *, quiet: bool = True) -> list[str]:
    """The `run-baseline` arguments that make exactly the run ``opts`` describes."""
    args = ["run-baseline", opts.baseline, "--dataset", opts.dataset]
    for flag, value in (("--out", opts.out), ("--labels-dir", opts.labels_dir),
                        ("--data-root", opts.data_root), ("--config", opts.config_file),
                        ("--weights", opts.weights), ("--checkpoint-dir", opts.checkpoint_dir),
                        ("--epochs", opts.epochs), ("--batch-size", opts.batch_size),
                        ("--threads", opts.threads)):
        if value is not None:
            args += [flag, str(value)]
    if opts.preset and opts.preset != "default":
        args += ["--preset", opts.preset]
    for text in opts.overrides:
        args += ["--set", text]
    args += ["--seed", str(opts.seed), "--device", opts.device, "--resamples",
             str(opts.resamples)]
    if not opts.resume:
        args.append("--no-resume")
    if opts.skip_bad:
        args.append("--skip-bad")
    if opts.deterministic:
        args.append("--deterministic")
    if quiet:
        args.append("--quiet")
    return args


def host_argv(opts, python: str, torchrun: TorchRun = TorchRun()) -> list[str]:
    """The command that runs ``opts`` on this machine (under torchrun when distributed)."""
    launcher = [python, *torchrun.args()] if torchrun.distributed else [python]
    return [*launcher, "-m", "amge_eval", *baseline_args(opts)]


# --------------------------------------------------------------------------- containers

@dataclass(frozen=True)
class Mount:
    source: Path  # on the host
    target: str  # inside the container
    read_only: bool


def check_engine(engine: str) -> str:
    """The engine's executable; AmgeError E860 for an unknown or missing engine."""
    if engine not in ENGINES:
        raise AmgeError(f"--container must be one of none, {', '.join(ENGINES)}, not "
                        f"{engine!r}", code="E860")
    exe = shutil.which(engine)
    if exe is None:
        raise AmgeError(f"--container {engine}: `{engine}` is not on PATH; install it, or run "
                        f"with --container none", code="E860")
    return exe


def _sha(text: str) -> str:
    return "sha256:" + text.removeprefix("sha256:")


def image_identity(engine: str, image: str) -> ContainerInfo:
    """The image's reference, id and registry digest (E861 when the engine does not have it).

    Images are never pulled here: build or pull them first, so that a run never depends on the
    network and always uses the image its record names."""
    check_engine(engine)
    if engine == "apptainer":
        path = Path(image).expanduser()
        if not path.is_file():
            raise AmgeError(f"--image {image}: no such SIF file; build it with `apptainer build` "
                            f"(docs/tables.md)", code="E861")
        return ContainerInfo(engine="apptainer", image=path.name,
                             image_id=_sha(sha256_file(path)), digest=None)
    res = subprocess.run([engine, "image", "inspect", image], capture_output=True, text=True,
                         timeout=120)
    if res.returncode != 0:
        why = (res.stderr.strip().splitlines() or ["not found"])[-1]
        raise AmgeError(f"--image {image}: {engine} has no such image ({why[:200]}); build it "
                        f"(docs/tables.md) or pull it first", code="E861")
    try:
        info = json.loads(res.stdout)[0]
    except (ValueError, IndexError, KeyError) as exc:
        raise AmgeError(f"--image {image}: `{engine} image inspect` printed no image",
                        code="E861") from exc
    repo = [d.split("@", 1)[1] for d in info.get("RepoDigests") or [] if "@" in d]
    wanted = image.split("@", 1)[1] if "@" in image else None
    digest = wanted if wanted in repo else (repo[0] if repo else None)
    image_id = info.get("Id") or info.get("ID")
    return ContainerInfo(engine=engine, image=image, image_id=_sha(image_id) if image_id else None,
                         digest=digest)


def container_from_env() -> ContainerInfo | None:
    """The ContainerInfo the launcher handed to a run inside an image (None on the host)."""
    text = os.environ.get(CONTAINER_ENV)
    if not text:
        return None
    import msgspec

    try:
        return msgspec.json.decode(text.encode(), type=ContainerInfo)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def gpu_request(device: str) -> list[str] | None:
    """The GPUs a run of ``--device`` gets: None (none), ["all"], or the indices in
    CUDA_VISIBLE_DEVICES (what Slurm gave the job)."""
    if device == "cpu":
        return None
    if device == "auto" and not Path("/dev/nvidiactl").exists():
        return None
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip()
    return [g for g in visible.split(",") if g] if visible else ["all"]


def container_name(out: Path) -> str:
    """A stable container name per output folder: a run restarted after a kill removes the
    container its killed predecessor may have left."""
    return "amge-eval-" + hashlib.sha256(str(out.absolute()).encode()).hexdigest()[:12]


def engine_argv(engine: str, image: str, inner: list[str], mounts: list[Mount], *,
                gpus: list[str] | None, env: dict[str, str], network: bool = False,
                name: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """The engine's command line that runs ``inner`` in ``image``."""
    if engine == "apptainer":
        cmd = ["apptainer", "exec", "--containall", "--no-home", "--pwd", "/tmp"]
        if gpus:
            cmd.append("--nv")
            if gpus != ["all"]:
                env = {**env, "CUDA_VISIBLE_DEVICES": ",".join(gpus)}
        for m in mounts:
            cmd += ["--bind", f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}"]
        for key, value in env.items():
            cmd += ["--env", f"{key}={value}"]
        return [*cmd, *extra, image, *inner]
    cmd = [engine, "run", "--rm", "--workdir", "/tmp", "--shm-size", "8g"]
    if name:
        cmd += ["--name", name]
    cmd += ["--network", "host" if network else "none"]
    if engine == "podman" and os.getuid() != 0:
        cmd.append("--userns=keep-id")  # rootless: the caller's uid inside, files stay theirs
    else:
        cmd += ["--user", f"{os.getuid()}:{os.getgid()}"]
    if gpus:
        if engine == "docker":
            cmd += ["--gpus", "all" if gpus == ["all"] else f'"device={",".join(gpus)}"']
        else:  # podman: the Container Device Interface (nvidia-ctk cdi generate)
            for g in gpus:
                cmd += ["--device", f"nvidia.com/gpu={g}"]
            cmd += ["--security-opt", "label=disable"]
    for m in mounts:
        cmd += ["--volume", f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}"]
    for key, value in env.items():
        cmd += ["--env", f"{key}={value}"]
    return [*cmd, *extra, image, *inner]


@dataclass
class ContainerRun:
    """A run prepared for a container: the command to start, and where its outputs land."""

    argv: list[str]
    out: Path  # the run folder on the host
    info: ContainerInfo
    name: str | None  # the container's name (docker, podman)
    engine: str

    def remove_leftover(self) -> None:
        """Remove a container of the same name a killed earlier run may have left."""
        if self.name and self.engine in ("docker", "podman"):
            subprocess.run([self.engine, "rm", "-f", self.name], capture_output=True,
                           timeout=120)


def prepare_container(opts, engine: str, image: str, *, torchrun: TorchRun = TorchRun(),
                      extra: tuple[str, ...] = (), info: ContainerInfo | None = None,
                      progress=None) -> ContainerRun:
    """Mounts, paths and the engine command for running ``opts`` inside ``image``.

    The host's label store and media root are mounted read-only, the output folder and the
    checkpoint folder read-write (both created here), a ``--config`` or ``--weights`` file
    read-only. The embedded benchmark is generated on the host first when it is missing (the
    container sees its folders read-only)."""
    from .runner import default_out

    info = info or image_identity(engine, image)
    labels = resolve_labels_dir(opts.labels_dir).absolute()
    data = (Path(opts.data_root).expanduser() if opts.data_root else default_data_root()).absolute()
    out = Path(opts.out) if opts.out else default_out(opts.dataset, opts.baseline, opts.seed)
    out = make_dirs(out).absolute()
    ckpt = make_dirs(Path(opts.checkpoint_dir) if opts.checkpoint_dir
                     else amge_home() / "checkpoints").absolute()
    if opts.dataset == "synth":
        ensure_synth(labels, data, opts.baseline, progress)
    make_dirs(data)
    mounts = [Mount(labels, LABELS_MOUNT, True), Mount(data, DATA_MOUNT, True),
              Mount(out, OUTPUT_MOUNT, False), Mount(ckpt, CHECKPOINT_MOUNT, False)]
    inner = replace(opts, labels_dir=Path(LABELS_MOUNT), data_root=Path(DATA_MOUNT),
                    out=Path(OUTPUT_MOUNT), checkpoint_dir=Path(CHECKPOINT_MOUNT))
    for field, point in (("config_file", CONFIG_MOUNT), ("weights", WEIGHTS_MOUNT)):
        value = getattr(opts, field)
        if value is not None:
            src = Path(value).expanduser().absolute()
            if not src.is_file():
                raise AmgeError(f"{src}: no such file", code="E801" if field == "config_file"
                                else "E811")
            mounts.append(Mount(src, f"{point}/{src.name}", True))
            inner = replace(inner, **{field: Path(f"{point}/{src.name}")})
    launcher = (["python", *torchrun.args(), "-m", "amge_eval"] if torchrun.distributed
                else ["amge-eval"])
    env = {"AMGE_EVAL_HOME": "/tmp/amge-eval", "HOME": "/tmp",
           CONTAINER_ENV: json.dumps({"engine": info.engine, "image": info.image,
                                      "image_id": info.image_id, "digest": info.digest})}
    env.update({k: os.environ[k] for k in PASS_ENV if k in os.environ})
    name = None if engine == "apptainer" else container_name(out)
    image_arg = str(Path(image).expanduser().absolute()) if engine == "apptainer" else image
    argv = engine_argv(engine, image_arg, [*launcher, *baseline_args(inner)], mounts,
                       gpus=gpu_request(opts.device), env=env, network=torchrun.nnodes > 1,
                       name=name, extra=tuple(extra))
    return ContainerRun(argv, out, info, name, engine)


def ensure_synth(labels: Path, data: Path, baseline: str, progress=None) -> None:
    """Generate the embedded benchmark on the host when it is missing (with videos when the
    baseline reads them; when the host cannot load the baseline, skeletons only, and the run
    in the container says if it needs videos)."""
    from amge_eval.harness.progress import NULL_PROGRESS
    from amge_eval.harness.synth.generate import generate_benchmark, read_manifest

    if read_manifest(data) is not None and (labels / "synth" / "train.csv").is_file():
        return
    video = False
    try:
        from .registry import get_baseline

        video = any(m in ("rgb", "rgb_diff", "optical_flow")
                    for m in get_baseline(baseline).modalities)
    except AmgeError:
        pass
    generate_benchmark(labels, data, video=video, progress=progress or NULL_PROGRESS)


def run_in_container(opts, engine: str, image: str, *, extra: tuple[str, ...] = (),
                     stdout=None, stderr=None, progress=None) -> ContainerRun:
    """`run-baseline` inside ``image``: the same run, with the image recorded in run.json.
    ``stdout``/``stderr`` go to the engine's process (None: inherited). Raises E862 when the
    run inside fails."""
    run = prepare_container(opts, engine, image, extra=extra, progress=progress)
    run.remove_leftover()
    res = subprocess.run(run.argv, stdout=stdout, stderr=stderr, text=True)
    if res.returncode != 0:
        tail = (res.stderr or "").strip().splitlines() if isinstance(res.stderr, str) else []
        why = next((t for t in reversed(tail) if t.startswith(("Error:", "Internal error:"))),
                   tail[-1] if tail else "")
        raise AmgeError(f"The run in {engine} image {image} failed (exit {res.returncode})"
                        + (f": {why}" if why else "; its messages are above"), code="E862")
    return run
