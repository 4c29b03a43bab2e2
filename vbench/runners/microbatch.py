"""Serves a batch-only runner (hf, dummy) to independently advancing episodes, in micro-batches.

Episodes submit their requests from the shared event loop; one worker thread per runner takes whatever
is pending (up to ``runner.batch_size``), waits a few milliseconds for more to arrive, calls
``runner.run(batch)`` and resolves the episodes' futures back on the loop. While a batch runs, the next
one accumulates, so a busy runner gets full batches and an idle one answers within milliseconds. The
requests one episode yields together travel together (a ``choose`` and a ``generate`` over the same
messages share one hf batch), unless they alone exceed the batch size.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

from vbench.runners.base import Runner
from vbench.types import Request, Response

GATHER_QUIET_S = 0.002  # a batch closes once no request arrived for this long…
GATHER_MAX_S = 0.02  # …or this long after its first request, whichever comes first


@dataclass
class _Group:
    """Requests one episode yielded together, with the futures its coroutine awaits."""

    requests: list[Request]
    futures: list[asyncio.Future[Response]]


class MicroBatcher:
    """A worker thread feeding one runner; ``close`` stops and joins it (never leaves it running)."""

    def __init__(self, runner: Runner, loop: asyncio.AbstractEventLoop,
                 on_batch: Callable[[int], None] | None = None,
                 quiet_s: float = GATHER_QUIET_S, max_wait_s: float = GATHER_MAX_S) -> None:
        self.runner = runner
        self.loop = loop
        self.on_batch = on_batch  # called on the loop with the batch size after each runner.run
        self.quiet_s = quiet_s
        self.max_wait_s = max_wait_s
        self._queue: deque[_Group] = deque()
        self._pending = 0
        self._last_arrival = 0.0
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"vbench-batch-{runner.backend}", daemon=True)
        self._thread.start()

    def submit(self, requests: list[Request]) -> list[asyncio.Future[Response]]:
        """Queue one episode's requests (call on the loop); await the returned futures."""
        futures = [self.loop.create_future() for _ in requests]
        with self._cond:
            if self._closed:
                raise RuntimeError("micro-batcher is closed")
            self._queue.append(_Group(list(requests), futures))
            self._pending += len(requests)
            self._last_arrival = time.monotonic()
            self._cond.notify()
        return futures

    # -- worker thread ---------------------------------------------------------------------------
    def _take(self, size: int) -> _Group:
        """Up to ``size`` requests, whole groups first; an oversized first group is split."""
        reqs: list[Request] = []
        futs: list[asyncio.Future[Response]] = []
        while self._queue and len(reqs) < size:
            group = self._queue[0]
            room = size - len(reqs)
            if len(group.requests) <= room:
                self._queue.popleft()
                reqs += group.requests
                futs += group.futures
            elif not reqs:  # alone larger than a batch: send a batch-sized part of it
                reqs, futs = group.requests[:room], group.futures[:room]
                group.requests, group.futures = group.requests[room:], group.futures[room:]
            else:
                break
        self._pending -= len(reqs)
        return _Group(reqs, futs)

    def _gather(self, size: int) -> _Group | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = time.monotonic()
            while self._pending < size and not self._closed:
                now = time.monotonic()
                wait = min(self._last_arrival + self.quiet_s, first + self.max_wait_s) - now
                if wait <= 0:
                    break
                self._cond.wait(wait)
            return None if self._closed else self._take(size)

    def _work(self) -> None:
        while True:
            batch = self._gather(max(1, self.runner.batch_size))
            if batch is None:
                return
            try:
                answers = self.runner.run(batch.requests)
                if len(answers) != len(batch.requests):
                    raise RuntimeError(f"{self.runner.backend} runner returned {len(answers)} responses "
                                       f"for {len(batch.requests)}")
            except BaseException as exc:  # the backend as a whole failed: every waiting episode hears it
                self._deliver(batch.futures, None, exc)
                continue
            self._deliver(batch.futures, answers, None)

    def _deliver(self, futures: list[asyncio.Future[Response]], answers: list[Response] | None,
                 exc: BaseException | None) -> None:
        def resolve() -> None:
            for i, fut in enumerate(futures):
                if fut.done():  # its episode was cancelled meanwhile
                    continue
                if answers is None:
                    fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                else:
                    fut.set_result(answers[i])
            if self.on_batch is not None and answers is not None:
                self.on_batch(len(futures))

        try:
            self.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def close(self) -> None:
        """Stop the worker after its current batch and join it; requests still queued are cancelled."""
        with self._cond:
            self._closed = True
            dropped = list(self._queue)
            self._queue.clear()
            self._cond.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join()
        for group in dropped:
            for fut in group.futures:
                try:
                    self.loop.call_soon_threadsafe(fut.cancel)
                except RuntimeError:
                    break
