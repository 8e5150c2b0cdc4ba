"""Multi-process training with torchrun (DistributedDataParallel), and its single-process case.

Batches are formed from one global, seeded order (identical to a single-process run's); rank r
of W takes every W-th sample of each global batch. Each rank's loss is scaled so that DDP's
gradient average equals the gradient of the mean loss over the whole global batch, so a run on
W processes follows the single-process run up to floating-point summation order (with
``train.batchnorm = "frozen"``; BatchNorm batch statistics are per process on CPU, where
SyncBatchNorm does not exist, and synchronised on CUDA).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def init_from_env(device_type: str) -> Dist:
    """Join the process group torchrun describes (WORLD_SIZE > 1), else a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def shutdown(d: Dist) -> None:
    if d.enabled and dist.is_initialized():
        dist.destroy_process_group()


def global_batches(n: int, batch_size: int, seed: int, epoch: int, shuffle: bool,
                   drop_last: bool) -> list[list[int]]:
    """The batches of one epoch, the same on every rank and in a single-process run."""
    if shuffle:
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        order = torch.randperm(n, generator=g).tolist()
    else:
        order = list(range(n))
    batches = [order[i:i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and batches and len(batches[-1]) < batch_size:
        batches.pop()
    return batches


class RankBatchSampler(torch.utils.data.Sampler):
    """Yields this rank's share (every world-th sample) of each global batch."""

    def __init__(self, n: int, batch_size: int, d: Dist, seed: int, shuffle: bool, drop_last: bool):
        self.n, self.batch_size, self.d = n, batch_size, d
        self.seed, self.shuffle, self.drop_last = seed, shuffle, drop_last
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        return [b[self.d.rank::self.d.world] for b in
                global_batches(self.n, self.batch_size, self.seed, self.epoch, self.shuffle,
                               self.drop_last)]

    def __iter__(self):
        return iter(self.batches())

    def __len__(self) -> int:
        return len(self.batches())


def all_gather_objects(obj, d: Dist) -> list:
    if not d.enabled:
        return [obj]
    out = [None] * d.world
    dist.all_gather_object(out, obj)
    return out


def barrier(d: Dist) -> None:
    if d.enabled:
        dist.barrier()
