"""Shard specs: parsing ``I/N``, the shard folder name, and the digest tying the parts of one run together.

Which episodes a shard holds is decided by ``vbench.planning.shard_of`` alone (a hash of the episode
id), so any machine computes the same partition. The plan digest covers every episode id of the whole
run in order: shards of one run share it, and a merge checks that the union of its parts has it.
"""
from __future__ import annotations

import argparse
import hashlib
import re
from typing import Iterable, Sequence

from vbench.errors import UsageError
from vbench.planning import episode_id
from vbench.results import ShardSpec

_SPEC = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
SHARD_DIR = re.compile(r"^shard-(\d+)-of-(\d+)$")


def _problem(text: str) -> str | None:
    m = _SPEC.match(text)
    if not m:
        return f"expected I/N (e.g. 1/4), got {text!r}"
    index, count = int(m.group(1)), int(m.group(2))
    if count < 1 or not 1 <= index <= count:
        return f"{index}/{count}: I must be between 1 and N (and N >= 1)"
    return None


def parse_shard(text: str) -> tuple[int, int]:
    """``"2/8"`` -> ``(2, 8)``; anything else, or ``I`` outside 1..N, is a UsageError."""
    problem = _problem(text or "")
    if problem:
        raise UsageError(f"--shard {problem}")
    m = _SPEC.match(text)
    assert m is not None
    return int(m.group(1)), int(m.group(2))


def check_shard(shard: tuple[int, int] | None) -> None:
    if shard is not None:
        parse_shard(f"{shard[0]}/{shard[1]}")


def shard_arg(text: str) -> tuple[int, int]:
    """argparse type for ``--shard``: a bad spec is one line and exit 2."""
    problem = _problem(text or "")
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return parse_shard(text)


def shard_dir_name(shard: tuple[int, int]) -> str:
    return f"shard-{shard[0]}-of-{shard[1]}"


def plan_digest(episode_ids: Iterable[str]) -> str:
    h = hashlib.sha256()
    for eid in episode_ids:
        h.update(eid.encode())
        h.update(b"\n")
    return h.hexdigest()


def full_plan_digest(sample_ids: Sequence[str], repeats: int) -> str:
    """Digest of every episode id of the unsharded run, in sample then repeat order."""
    return plan_digest(episode_id(sid, rep, repeats) for sid in sample_ids for rep in range(repeats))


def shard_spec(shard: tuple[int, int] | None, sample_ids: Sequence[str], repeats: int) -> ShardSpec | None:
    """What results.json records about the shard a run is (None for a whole run)."""
    if shard is None:
        return None
    return ShardSpec(index=shard[0], count=shard[1], plan_digest=full_plan_digest(sample_ids, repeats))
