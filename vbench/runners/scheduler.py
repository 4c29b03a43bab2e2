"""The synchronous entry point to the episode engine: ``Scheduler(...).run(episodes, on_record)``.

Tasks write episodes as plain generators and callers (eval, leaderboard verify, the ultimatum judge,
avatar verification, scripted viewers) call ``run`` and get records back; neither sees concurrency.
The work happens in ``vbench.runners.engine`` on the process-wide loop (``vbench.runners.loop``):
every episode advances as soon as its own answers arrive, API requests are kept in flight up to the
runner's concurrency, batch runners are fed micro-batches. ``run`` blocks until every episode finished;
Ctrl-C or a failing backend stops the in-flight work, joins the batch threads and re-raises.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

from vbench.runners.base import Runner
from vbench.runners.cache import ResponseCache, TallyKey
from vbench.runners.engine import Engine, EpisodeGen, EpisodeSpec, SchedulerStats, derive_seed
from vbench.runners.loop import shared_loop
from vbench.types import Record

__all__ = ["EpisodeGen", "EpisodeSpec", "Scheduler", "SchedulerStats", "derive_seed"]


class Scheduler:
    """Runs episodes against role runners. ``on_record`` receives finished episodes in the order the
    iterator gave them (``in_order=False``: as they finish; either way the records are the same)."""

    def __init__(self, runners: dict[str, Runner], cache: ResponseCache | None = None,
                 gen_overrides: dict[str, Any] | None = None, max_live: int = 100_000,
                 spec_hash: str = "", task_name: str = "", progress: Callable[[int], object] | None = None,
                 in_order: bool = True, tally_key: TallyKey | None = None):
        if not runners:
            raise ValueError("at least one runner is required")
        self.runners = runners
        self.cache = cache
        self.gen_overrides = dict(gen_overrides or {})
        self.max_live = max_live
        self.spec_hash = spec_hash
        self.task_name = task_name
        self.progress = progress
        self.in_order = in_order
        self.tally_key = tally_key  # calls and hits are committed with the cached answers
        self.stats = SchedulerStats()

    def _engine(self) -> Engine:
        return Engine(self.runners, self.cache, self.gen_overrides, self.max_live, self.spec_hash,
                      self.task_name, self.progress, self.in_order, self.stats, self.tally_key)

    def run(self, episodes: Iterable[EpisodeSpec], on_record: Callable[[Record], None]) -> SchedulerStats:
        engine = self._engine()
        try:
            return shared_loop().run(engine.run(episodes, on_record))
        finally:
            engine.close()
