"""Map a pure function over many texts: duplicates computed once, big batches spread over processes.

Text measures (VADER, the outcome parser) are pure Python, so threads do not help; worker processes
do. Small inputs stay in-process (no start-up cost, easy debugging).
"""
from __future__ import annotations

import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Hashable, Sequence, TypeVar

T = TypeVar("T", bound=Hashable)
R = TypeVar("R")


def _context():
    # fork needs no importable __main__ (scripts, notebooks); the workers run pure Python only
    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")


def _apply(args: tuple[Callable, list]) -> list:
    fn, chunk = args
    return [fn(x) for x in chunk]


def map_unique(fn: Callable[[T], R], items: Sequence[T], *, workers: int | None = None,
               min_parallel: int = 4000) -> list[R]:
    """``[fn(x) for x in items]`` with each distinct item computed once; ``fn`` must be a module-level function."""
    unique = list(dict.fromkeys(items))
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if len(unique) >= min_parallel and workers > 1:
        size = max(250, len(unique) // (workers * 8) + 1)
        chunks = [(fn, unique[i:i + size]) for i in range(0, len(unique), size)]
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
            results = [r for part in pool.map(_apply, chunks) for r in part]
    else:
        results = [fn(x) for x in unique]
    table = dict(zip(unique, results))
    return [table[x] for x in items]
