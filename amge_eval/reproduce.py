"""The main job: the whole benchmark loop on the embedded synthetic benchmark.

generate the benchmark -> train/fit the statistical and skeleton baselines, once per seed ->
score every split -> enter each baseline's seed set as a ``reproduced`` entry (the mean over the
seeds, with each seed's value) in the user's store (default
``<runs>/submissions``) -> build the site from the committed store with the user's entries in
place of the committed ones of the same name, beside the papers' reported rows.

The committed store (``submissions/``) is only read, so running the main job in a fresh clone
leaves ``git status`` clean; ``update_committed`` (a maintainer's flag) writes the entries into
the committed store instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from amge_eval.harness.progress import NULL_PROGRESS, Progress

DEFAULT_BASELINES = ("random", "all-ones", "all-zeros", "prior", "stgcn", "ctrgcn", "hdgcn")
# `reproduce --video` adds the tiny CPU variants of the papers' video baselines (1.5-4 minutes
# each and seed on two cores; docs/models-video.md). They stay out of the default main job.
VIDEO_BASELINES = ("c2d-r50-tiny", "i3d-r50-tiny", "slow-r50-tiny", "slowfast-r50-tiny",
                   "mvitv2-s-tiny", "mvitv2-b-tiny", "videoswin-s-tiny", "videoswin-b-tiny",
                   # the papers' own method, both versions: each seed trains its sender first
                   # (into <seed folder>/sender), then the main branch (docs/models-transm3e.md)
                   "transm3e-tiny", "transm3e-gcn-tiny")


@dataclass
class ReproduceResult:
    runs: dict[str, Path] = field(default_factory=dict)  # entry name -> its seed set's folder
    summaries: dict[str, dict] = field(default_factory=dict)  # entry name -> val_s..test_gap (%)
    spreads: dict[str, dict] = field(default_factory=dict)  # entry name -> sd over seeds (%)
    params: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # step -> wall seconds
    store: Path | None = None  # where the entries were written
    site: Path | None = None


def reproduce(baselines=DEFAULT_BASELINES, *, runs_dir: Path = Path("runs"),
              store: Path | None = None, committed: Path = Path("submissions"),
              update_committed: bool = False, site_dir: Path = Path("site"),
              labels_dir=None, data_root=None, seeds: tuple[int, ...] = (0,),
              video: bool = False,
              resamples: int = 10_000, threads: int | None = None,
              deterministic: bool = False, preset: str | None = None,
              progress: Progress = NULL_PROGRESS) -> ReproduceResult:
    """Run the loop; every step is the library call behind one CLI command.

    ``preset`` (e.g. "paper") runs the trained baselines under that config preset, into run
    folders and entries named ``<baseline>-<preset>``; statistical baselines have no settings
    and run as they are."""
    from amge_eval.harness.bootstrap import check_resamples, check_seed
    from amge_eval.harness.errors import AmgeError

    # flags a user can get wrong fail before anything is generated, trained or written
    if not seeds:
        raise AmgeError("--seeds must be at least 1 (the seeds 0..N-1 each baseline trains "
                        "with)", code="E600")
    for seed in seeds:
        check_seed(seed)
    check_resamples(resamples, 0.95)
    if deterministic:  # before anything imports torch (the registry does)
        from amge_eval.baselines.determinism import pin_environment

        pin_environment()
    from amge_eval.baselines.config import DEFAULT_PRESET, read_preset
    from amge_eval.baselines.registry import get_baseline
    from amge_eval.baselines.runner import RunOptions, run_baseline
    from amge_eval.harness.fileio import make_dirs
    from amge_eval.harness.labels import resolve_labels_dir
    from amge_eval.harness.synth.generate import generate_benchmark, read_manifest, stale_reason
    from amge_eval.leaderboard.site import build_site
    from amge_eval.leaderboard.submit import submit

    out = ReproduceResult()
    labels_dir = resolve_labels_dir(labels_dir)
    target = Path(committed) if update_committed else Path(store or Path(runs_dir) / "submissions")
    out.store = make_dirs(target)
    t0 = time.perf_counter()
    video = video or any(get_baseline(n).family == "video" for n in baselines)
    manifest = read_manifest(data_root)
    if manifest is None or not (labels_dir / "synth" / "train.csv").is_file():
        progress.note("Generating the embedded benchmark")
        generate_benchmark(labels_dir, data_root, video=video, seed=0, progress=progress)
    elif (why := stale_reason(manifest)) is not None:  # the main job remakes its own data
        progress.note(f"Remaking the embedded benchmark ({why})")
        generate_benchmark(labels_dir, data_root, video=video, seed=0, overwrite=True,
                           progress=progress)
    elif video and not manifest.get("video"):  # the same seed: the same labels, now with videos
        progress.note("Rendering the embedded benchmark's videos for the video baselines")
        generate_benchmark(labels_dir, data_root, video=True, seed=0, overwrite=True,
                           progress=progress)
    out.seconds["generate"] = time.perf_counter() - t0
    if preset == DEFAULT_PRESET:
        preset = None
    if preset is not None:  # an unknown preset fails before anything runs
        for name in baselines:
            spec = get_baseline(name)
            if spec.family != "statistical":
                read_preset(spec, preset)
    for name in baselines:
        t0 = time.perf_counter()
        trained = get_baseline(name).family != "statistical"
        run_preset = preset if trained else None
        entry_name = f"{name}-{run_preset}" if run_preset else name
        folder = Path(runs_dir) / "synth" / entry_name
        params = 0
        for seed in seeds:
            progress.note(f"Baseline {entry_name}, seed {seed}")
            res = run_baseline(RunOptions(baseline=name, dataset="synth",
                                          out=folder / f"seed-{seed}", labels_dir=labels_dir,
                                          data_root=data_root, seed=seed, resamples=resamples,
                                          threads=threads, resume=True,
                                          deterministic=deterministic, preset=run_preset),
                               progress)
            params = res.record.params
        entry = submit(folder, "synth", entry_name, submissions_dir=target,
                       labels_dir=labels_dir, replace=True, resamples=resamples,
                       progress=progress).entry
        out.runs[entry_name] = folder
        out.summaries[entry_name] = entry.values()
        out.spreads[entry_name] = {k: c.spread() for k, c in entry.record.summary.items()}
        out.params[entry_name] = params
        out.seconds[entry_name] = time.perf_counter() - t0
    t0 = time.perf_counter()
    stores = [p for p in (Path(committed), target) if p.is_dir()]
    stores = list(dict.fromkeys(p.resolve() for p in stores))  # the same folder once
    out.site = build_site(stores, site_dir, progress=progress).out_dir
    out.seconds["site"] = time.perf_counter() - t0
    return out
