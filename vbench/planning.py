"""Episode planning: which episodes a run has, their ids and their seeds — in one place.

Eval, resume, ``leaderboard verify`` and sharded runs must agree on this to the byte: an episode's id
is its sample id (``#repeat`` appended when a task repeats samples), its seed is derived from the run
seed, the task and that id alone (never from its position, the batch or the order of arrival), and a
shard ``I/N`` holds the episodes with ``1 + sha256(id) mod N == I``.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

from vbench.runners.scheduler import EpisodeSpec, derive_seed


@dataclass(frozen=True)
class PlannedEpisode:
    """An episode before its generator exists: identity, the sample it plays and its seed."""

    episode_id: str
    index: int
    repeat: int
    seed: int


def episode_id(sample_id: str, repeat: int, repeats: int) -> str:
    return f"{sample_id}#{repeat}" if repeats > 1 else sample_id


def episode_seed(run_seed: int, task_name: str, eid: str) -> int:
    return derive_seed(run_seed, task_name, eid)


def shard_of(eid: str, n_shards: int) -> int:
    """The part (1-based) of ``n_shards`` an episode belongs to: stable across machines and Python runs."""
    return 1 + int.from_bytes(hashlib.sha256(eid.encode()).digest()[:8], "big") % n_shards


def plan(sample_ids: Sequence[str], repeats: int, run_seed: int, task_name: str,
         shard: tuple[int, int] | None = None) -> list[PlannedEpisode]:
    """Every episode of a run (or of one shard ``(I, N)`` of it), in sample then repeat order."""
    out = []
    for index, sid in enumerate(sample_ids):
        for rep in range(repeats):
            eid = episode_id(sid, rep, repeats)
            if shard is not None and shard_of(eid, shard[1]) != shard[0]:
                continue
            out.append(PlannedEpisode(eid, index, rep, episode_seed(run_seed, task_name, eid)))
    return out


def episode_specs(task: Any, samples: Sequence[Any], planned: Iterable[PlannedEpisode],
                  skip: set[str] | frozenset[str] = frozenset()) -> Iterator[EpisodeSpec]:
    """Generators for the planned episodes not in ``skip`` (built lazily: only live episodes hold one)."""
    for p in planned:
        if p.episode_id in skip:
            continue
        sample = samples[p.index]
        yield EpisodeSpec(episode_id=p.episode_id, index=p.index, sample=sample.meta, repeat=p.repeat,
                          seed=p.seed, gen=task.episode(sample, p.repeat, p.seed))
