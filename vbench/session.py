"""`Session`: what a run opens — image store, response cache, runners — owned in one place.

Every path that asks models something (eval, ``leaderboard verify``, the ultimatum judge, avatar
verification, the scripted isq viewers) opens one, adds its runners and gets its Scheduler from it; on
the way out (success, an error, Ctrl-C) the cache and every runner it built are closed, each even when
another one's close fails. A Runner instance handed in is used, not owned: its caller closes it.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from vbench.images import ImageStore, default_store, default_store_dir
from vbench.runners.base import Runner
from vbench.runners.cache import ResponseCache
from vbench.runners.scheduler import Scheduler

log = logging.getLogger(__name__)


class Session:
    """Context manager owning a run's image store, response cache and runners.

    ``cache_dir`` holds ``images/`` and ``cache.sqlite`` (default: ``$VBENCH_CACHE``); ``store`` replaces
    the image store outright; ``use_cache=False`` asks every request of the models. The cache file is
    opened on first use, so a run refused before its first request creates nothing.
    """

    def __init__(self, cache_dir: str | Path | None = None, *, store: ImageStore | None = None,
                 use_cache: bool = True, batch_size: int | str = "auto", backend: str | None = None,
                 max_concurrency: int | None = None):
        root = Path(cache_dir) if cache_dir else default_store_dir().parent
        self.store = store or (ImageStore(root / "images") if cache_dir else default_store())
        self.cache_path = root / "cache.sqlite" if use_cache else None
        self.batch_size = batch_size
        self.backend = backend
        self.max_concurrency = max_concurrency
        self.runners: dict[str, Runner] = {}
        self._owned: list[Runner] = []
        self._cache: ResponseCache | None = None
        self.closed = False

    @classmethod
    def for_config(cls, config: Any) -> "Session":
        """The session an ``EvalConfig`` describes."""
        return cls(config.cache_dir, use_cache=config.use_cache, batch_size=config.batch_size,
                   backend=config.backend, max_concurrency=config.max_concurrency)

    # -- what it owns ----------------------------------------------------------------------
    def add_runner(self, role: str, model: str | Runner, model_args: str | dict | None = None, *,
                   strict_backend: bool = True, batch_size: int | str | None = None) -> Runner:
        """The runner for ``role``: built from a backend / zoo alias (owned), or a Runner instance (used as is,
        reading images from this session's store)."""
        if isinstance(model, Runner):
            runner = model
            if Path(runner.store.root) != Path(self.store.root):
                runner.store = self.store  # content-addressed: the same images under the run's folder
        else:
            from vbench.runners.factory import build_runner

            runner = build_runner(model, model_args, self.store, batch_size or self.batch_size, backend=self.backend,
                                  strict_backend=strict_backend, max_concurrency=self.max_concurrency)
            self._owned.append(runner)
        self.runners[role] = runner
        return runner

    @property
    def cache(self) -> ResponseCache | None:
        """The response cache (opened on first use), or None without one."""
        if self._cache is None and self.cache_path is not None:
            self._cache = ResponseCache(self.cache_path)
        return self._cache

    def scheduler(self, **options: Any) -> Scheduler:
        """A Scheduler over this session's runners and cache (``options``: Scheduler's keyword arguments)."""
        return Scheduler(self.runners, self.cache, **options)

    # -- shutdown --------------------------------------------------------------------------
    def close(self) -> None:
        """Close the cache, then every runner this session built (last built first). A failing close is
        logged and the others still run; a Ctrl-C during shutdown is raised once everything is closed."""
        if self.closed:
            return
        self.closed = True
        interrupted: BaseException | None = None
        closers = [self._cache.close] if self._cache is not None else []
        closers += [r.close for r in reversed(self._owned)]
        for close in closers:
            try:
                close()
            except Exception as exc:  # the run's outcome stands; shutdown goes on
                log.warning("closing %s failed: %s: %s", getattr(close, "__self__", close), type(exc).__name__, exc)
            except BaseException as exc:  # KeyboardInterrupt / SystemExit: finish closing first
                interrupted = interrupted or exc
        self._cache = None
        if interrupted is not None:
            raise interrupted

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
