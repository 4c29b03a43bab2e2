"""Serves a batch-only runner (hf, dummy) to independently advancing episodes, in deterministic rounds.

Episodes submit their requests from the shared event loop. A *round* takes every request pending at one
moment, sorts it by the episodes' keys (their position in the run, then their own step) and sends it to
the runner in batches of up to ``runner.batch_size`` on one worker thread, resolving the episodes'
futures back on the loop batch by batch. Requests submitted while a round runs wait for the next round.

Why rounds and not a time window: a local model's numbers depend, in their last bits, on which requests
share its batch (padding changes the shapes of the matrix products). If batches were "whatever arrived
within a few milliseconds", two runs of the same command could batch differently and differ in the last
digits of a probability. The engine starts a round only when no episode can move without an answer
(every live episode waits for one) and no batcher is busy, so which requests meet in a round — and in
what order — follows from the run alone, never from thread timing. A busy runner still gets full
batches: a round holds everything every waiting episode asked.

The requests one episode yields together travel together (a ``choose`` and a ``generate`` over the same
messages share one hf batch), unless they alone exceed the batch size.
"""
from __future__ import annotations

import asyncio
import itertools
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from vbench.runners.base import Runner
from vbench.types import Request, Response


@dataclass
class _Group:
    """Requests one episode yielded together, with the futures its coroutine awaits."""

    requests: list[Request]
    futures: list[asyncio.Future[Response]]
    key: tuple[Any, ...] = ()
    on_resolved: Callable[[], None] | None = field(default=None, repr=False)  # once per future, on the loop


@dataclass
class _Batch:
    """One ``runner.run`` call's worth of a round, with each request's future and ``on_resolved`` hook."""

    requests: list[Request]
    futures: list[asyncio.Future[Response]]
    hooks: list[Callable[[], None] | None]


class MicroBatcher:
    """A worker thread feeding one runner; ``close`` stops and joins it (never leaves it running).

    With ``auto_rounds`` a round starts on the loop turn after a submit whenever the runner is idle (for
    use on its own); the engine turns it off and calls ``start_round`` when the run is quiescent.
    """

    def __init__(self, runner: Runner, loop: asyncio.AbstractEventLoop,
                 on_batch: Callable[[int], None] | None = None, on_idle: Callable[[], None] | None = None,
                 auto_rounds: bool = True) -> None:
        self.runner = runner
        self.loop = loop
        self.on_batch = on_batch  # called on the loop with the batch size after each runner.run
        self.on_idle = on_idle  # called on the loop when a round's last batch has been delivered
        self.auto_rounds = auto_rounds
        self.busy = False  # a round is running (read and written on the loop only)
        self._queue: list[_Group] = []  # submitted, waiting for the next round (loop only)
        self._round: deque[_Group] = deque()  # the running round's groups not yet sent (worker + close)
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._work, name=f"vbench-batch-{runner.backend}", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> bool:
        return bool(self._queue)

    def submit(self, requests: list[Request], key: tuple[Any, ...] | None = None,
               on_resolved: Callable[[], None] | None = None) -> list[asyncio.Future[Response]]:
        """Queue one episode's requests (call on the loop); await the returned futures. ``key`` orders the
        group within its round (default: submission order); ``on_resolved`` runs as each future resolves."""
        if self._closed:
            raise RuntimeError("micro-batcher is closed")
        futures = [self.loop.create_future() for _ in requests]
        self._queue.append(_Group(list(requests), futures, key if key is not None else (next(self._order),),
                                  on_resolved))
        if self.auto_rounds and len(self._queue) == 1:
            self.loop.call_soon(self._auto_round)
        return futures

    def _auto_round(self) -> None:
        if not self.busy:
            self.start_round()

    def start_round(self) -> None:
        """Send everything pending now as one round (call on the loop, while not ``busy``)."""
        if self.busy or not self._queue or self._closed:
            return
        groups = sorted(self._queue, key=lambda g: g.key)
        self._queue = []
        self.busy = True
        with self._cond:
            self._round.extend(groups)
            self._cond.notify()

    # -- worker thread ---------------------------------------------------------------------------
    def _take(self, size: int) -> _Batch:
        """Up to ``size`` requests of the round, whole groups first; an oversized first group is split."""
        reqs: list[Request] = []
        futs: list[asyncio.Future[Response]] = []
        hooks: list[Callable[[], None] | None] = []
        while self._round and len(reqs) < size:
            group = self._round[0]
            room = size - len(reqs)
            if len(group.requests) <= room:
                self._round.popleft()
                reqs += group.requests
                futs += group.futures
                hooks += [group.on_resolved] * len(group.requests)
            elif not reqs:  # alone larger than a batch: send a batch-sized part of it
                reqs, futs = group.requests[:room], group.futures[:room]
                hooks = [group.on_resolved] * room
                group.requests, group.futures = group.requests[room:], group.futures[room:]
            else:
                break
        return _Batch(reqs, futs, hooks)

    def _next_batch(self, size: int) -> tuple[_Batch, bool] | None:
        """The next batch of the running round and whether it is the round's last (None once closed)."""
        with self._cond:
            while not self._round and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            batch = self._take(size)
            return batch, not self._round

    def _work(self) -> None:
        while True:
            nxt = self._next_batch(max(1, self.runner.batch_size))
            if nxt is None:
                return
            batch, last = nxt
            try:
                answers = self.runner.run(batch.requests)
                if len(answers) != len(batch.requests):
                    raise RuntimeError(f"{self.runner.backend} runner returned {len(answers)} responses "
                                       f"for {len(batch.requests)}")
            except BaseException as exc:  # the backend as a whole failed: every waiting episode hears it
                self._deliver(batch, None, exc, last)
                continue
            self._deliver(batch, answers, None, last)

    def _deliver(self, batch: _Batch, answers: list[Response] | None, exc: BaseException | None,
                 last: bool) -> None:
        def resolve() -> None:
            for i, (fut, hook) in enumerate(zip(batch.futures, batch.hooks)):
                if not fut.done():  # else its episode was cancelled meanwhile
                    if answers is None:
                        fut.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
                    else:
                        fut.set_result(answers[i])
                if hook is not None:
                    hook()
            if self.on_batch is not None and answers is not None:
                self.on_batch(len(batch.futures))
            if last:
                self.busy = False
                if self.on_idle is not None:
                    self.on_idle()
                if self.auto_rounds and self._queue:
                    self.start_round()

        try:
            self.loop.call_soon_threadsafe(resolve)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def close(self) -> None:
        """Stop the worker after its current batch and join it; requests not yet sent are cancelled."""
        with self._cond:
            self._closed = True
            dropped = list(self._round) + list(self._queue)
            self._round.clear()
            self._cond.notify_all()
        self._queue = []
        if threading.current_thread() is not self._thread:
            self._thread.join()
        for group in dropped:
            for fut in group.futures:
                try:
                    self.loop.call_soon_threadsafe(fut.cancel)
                except RuntimeError:
                    break
