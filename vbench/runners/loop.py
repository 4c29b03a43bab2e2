"""One process-wide asyncio loop on a daemon thread, shared by the episode engine and async runners.

Every coroutine that talks to a backend (an API SDK call, vLLM's ``AsyncLLM``) runs on this one loop, so
the engine can await answers from several runners at once and an SDK client or engine created on the loop
is always used from it. ``run`` blocks the calling thread until a coroutine finishes, which keeps
``Scheduler.run`` and ``Runner.run`` synchronous for their callers (and usable inside Jupyter's own loop).
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from typing import Awaitable, TypeVar

T = TypeVar("T")


class LoopThread:
    """A private asyncio loop on a daemon thread; ``run`` blocks the caller until a coroutine finishes."""

    def __init__(self, name: str = "vbench-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], unwind_timeout: float = 30.0) -> T:
        """Run ``coro`` on the loop and wait for it. If the caller is interrupted (Ctrl-C), the coroutine
        is cancelled and given up to ``unwind_timeout`` seconds to finish its ``finally`` blocks, so no
        callback of it runs after this returns. A loop that died underneath raises instead of hanging."""
        if self.in_loop():
            raise RuntimeError("LoopThread.run called from its own loop (await the coroutine instead)")
        if self.loop.is_closed() or not self.thread.is_alive():
            raise RuntimeError("the event loop thread is not running")
        holder: list[asyncio.Task[T]] = []

        async def tracked() -> T:
            task = asyncio.current_task()
            assert task is not None
            holder.append(task)
            return await coro

        fut = asyncio.run_coroutine_threadsafe(tracked(), self.loop)
        try:
            return self._wait(fut)
        except BaseException:  # Ctrl-C in the caller: stop the work still in flight, wait for it to unwind
            if not fut.done():
                self.loop.call_soon_threadsafe(lambda: holder[0].cancel() if holder else fut.cancel())
                try:
                    self._wait(fut, unwind_timeout)
                except BaseException:  # cancelled (expected), or its own error while unwinding
                    pass
            raise

    def _wait(self, fut: concurrent.futures.Future[T], timeout: float | None = None) -> T:
        """``fut.result()``, but polling the loop thread so a dead loop is an error, never a hang."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                return fut.result(timeout=0.25)
            except concurrent.futures.TimeoutError:
                if not self.thread.is_alive():
                    raise RuntimeError("the event loop thread stopped while a coroutine was running") from None
                if deadline is not None and time.monotonic() > deadline:
                    raise

    def in_loop(self) -> bool:
        return threading.current_thread() is self.thread

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        if not self.thread.is_alive():
            self.loop.close()


_shared: LoopThread | None = None
_lock = threading.Lock()


def shared_loop() -> LoopThread:
    """The process-wide loop (started on first use; a daemon thread, so it never keeps a process alive)."""
    global _shared
    with _lock:
        if _shared is None or _shared.loop.is_closed() or not _shared.thread.is_alive():
            _shared = LoopThread()
        return _shared
